-- The last reconciliation of the AWS bill (a CUR 2.0 export) with the
-- cost athenawatch attributes: the run, and one row per cell (usage
-- account, region, workgroup, UTC day, kind of charge) of its window. A
-- run replaces the previous one whole; the dashboard and /metrics read it.
CREATE TABLE reconcile_runs (
    id            INTEGER PRIMARY KEY CHECK (id = 1),
    ran_at        INTEGER NOT NULL,
    since         INTEGER NOT NULL,
    until         INTEGER NOT NULL,
    source        TEXT    NOT NULL,
    bill_last_day TEXT    NOT NULL DEFAULT '',
    files         INTEGER NOT NULL DEFAULT 0,
    skipped       INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE reconcile_cells (
    day            TEXT    NOT NULL,
    account        TEXT    NOT NULL,
    region         TEXT    NOT NULL,
    workgroup      TEXT    NOT NULL,
    kind           TEXT    NOT NULL,
    in_bill        INTEGER NOT NULL,
    billed_usd     REAL    NOT NULL,
    billed_usage   REAL    NOT NULL,
    attributed_usd REAL    NOT NULL,
    queries        INTEGER NOT NULL,
    pending        INTEGER NOT NULL,
    no_stats       INTEGER NOT NULL,
    cause          TEXT    NOT NULL,
    PRIMARY KEY (day, account, region, workgroup, kind)
) WITHOUT ROWID;
