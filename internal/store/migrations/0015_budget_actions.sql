-- What budgets did, or would have done in a dry run: every action with
-- its reason, once per target (a query stopped, a principal blocked) and
-- mode, for the dashboard and the audit trail.
CREATE TABLE budget_actions (
    id           INTEGER PRIMARY KEY,
    at           INTEGER NOT NULL,
    budget       TEXT    NOT NULL,
    scope        TEXT    NOT NULL,
    period_start INTEGER NOT NULL,
    action       TEXT    NOT NULL,
    target       TEXT    NOT NULL,
    dry_run      INTEGER NOT NULL,
    outcome      TEXT    NOT NULL,
    reason       TEXT    NOT NULL,
    UNIQUE (budget, period_start, action, target, dry_run)
);
