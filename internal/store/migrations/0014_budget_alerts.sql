-- Budget alerts, exactly once: an alert is one (budget, scope, period,
-- threshold) and is recorded once, in the same transaction as its
-- deliveries, one per notifier, in an outbox. Deliveries are sent and
-- retried with backoff until delivered or given up, so a crash or a dead
-- endpoint neither loses nor repeats an alert (a crash between sending and
-- recording sends it again with the same idempotency key).
CREATE TABLE budget_alerts (
    budget       TEXT    NOT NULL,
    scope        TEXT    NOT NULL,
    period_start INTEGER NOT NULL,
    threshold    REAL    NOT NULL,
    alert_key    TEXT    NOT NULL,
    fired_at     INTEGER NOT NULL,
    payload      TEXT    NOT NULL,
    PRIMARY KEY (budget, scope, period_start, threshold)
) WITHOUT ROWID;

CREATE TABLE alert_outbox (
    id           INTEGER PRIMARY KEY,
    alert_key    TEXT    NOT NULL,
    notifier     TEXT    NOT NULL,
    payload      TEXT    NOT NULL,
    attempts     INTEGER NOT NULL DEFAULT 0,
    next_at      INTEGER NOT NULL,
    delivered_at INTEGER,
    given_up_at  INTEGER,
    last_error   TEXT    NOT NULL DEFAULT '',
    created_at   INTEGER NOT NULL,
    UNIQUE (alert_key, notifier)
);
-- What is due: not delivered, not given up, by time.
CREATE INDEX alert_outbox_due ON alert_outbox (next_at) WHERE delivered_at IS NULL AND given_up_at IS NULL;
