-- One row per Athena query, keyed by region + query execution id: the
-- exactly-once key of DESIGN.md. Times are Unix milliseconds, UTC.
CREATE TABLE queries (
    region             TEXT    NOT NULL,
    query_id           TEXT    NOT NULL,
    event_id           TEXT    NOT NULL,
    event_time         INTEGER NOT NULL,
    day                TEXT    NOT NULL,          -- YYYY-MM-DD of event_time
    owner_account      TEXT    NOT NULL,          -- account whose credentials read it back

    -- userIdentity as CloudTrail recorded it, kept raw so rules can be re-applied.
    identity_type       TEXT NOT NULL DEFAULT '',
    principal_id        TEXT NOT NULL DEFAULT '',
    principal_arn       TEXT NOT NULL DEFAULT '',
    identity_account    TEXT NOT NULL DEFAULT '',
    identity_user_name  TEXT NOT NULL DEFAULT '',
    invoked_by          TEXT NOT NULL DEFAULT '',
    issuer_type         TEXT NOT NULL DEFAULT '',
    issuer_user_name    TEXT NOT NULL DEFAULT '',
    issuer_arn          TEXT NOT NULL DEFAULT '',
    source_identity     TEXT NOT NULL DEFAULT '',
    on_behalf_of_user   TEXT NOT NULL DEFAULT '',
    on_behalf_of_store  TEXT NOT NULL DEFAULT '',

    -- requestParameters as CloudTrail recorded them.
    ct_database          TEXT NOT NULL DEFAULT '',
    ct_catalog           TEXT NOT NULL DEFAULT '',
    ct_workgroup         TEXT NOT NULL DEFAULT '',
    ct_query_text        TEXT NOT NULL DEFAULT '',
    client_request_token TEXT NOT NULL DEFAULT '',
    source_ip            TEXT NOT NULL DEFAULT '',
    user_agent           TEXT NOT NULL DEFAULT '',

    -- Derived by the identity, team and cost rules; recomputed when they change.
    user          TEXT    NOT NULL DEFAULT '',
    role          TEXT    NOT NULL DEFAULT '',
    account       TEXT    NOT NULL DEFAULT '',
    team          TEXT    NOT NULL DEFAULT '',
    database      TEXT    NOT NULL DEFAULT '',
    workgroup     TEXT    NOT NULL DEFAULT '',
    provisioned   INTEGER NOT NULL DEFAULT 0,
    billed_bytes  INTEGER NOT NULL DEFAULT 0,
    rules_fp      TEXT    NOT NULL DEFAULT '',    -- fingerprint of the rules that derived the columns above

    -- Enrichment: pending until Athena gave a final state, or no_stats when
    -- Athena no longer knows the query (never asked again).
    stats_status   TEXT    NOT NULL DEFAULT 'pending' CHECK (stats_status IN ('pending', 'final', 'no_stats')),
    ask_attempts   INTEGER NOT NULL DEFAULT 0,
    last_asked     INTEGER,
    state                    TEXT    NOT NULL DEFAULT '',
    state_change_reason      TEXT    NOT NULL DEFAULT '',
    statement_type           TEXT    NOT NULL DEFAULT '',
    substatement_type        TEXT    NOT NULL DEFAULT '',
    athena_database          TEXT    NOT NULL DEFAULT '',
    athena_catalog           TEXT    NOT NULL DEFAULT '',
    athena_workgroup         TEXT    NOT NULL DEFAULT '',
    query_text               TEXT    NOT NULL DEFAULT '',
    data_scanned_bytes       INTEGER NOT NULL DEFAULT 0,
    engine_ms                INTEGER NOT NULL DEFAULT 0,
    total_ms                 INTEGER NOT NULL DEFAULT 0,
    queue_ms                 INTEGER NOT NULL DEFAULT 0,
    planning_ms              INTEGER NOT NULL DEFAULT 0,
    service_preprocessing_ms INTEGER NOT NULL DEFAULT 0,
    service_processing_ms    INTEGER NOT NULL DEFAULT 0,
    submitted_at             INTEGER,
    completed_at             INTEGER,
    reused_result            INTEGER NOT NULL DEFAULT 0,
    error_category           INTEGER NOT NULL DEFAULT 0,
    error_type               INTEGER NOT NULL DEFAULT 0,
    error_message            TEXT    NOT NULL DEFAULT '',
    output_location          TEXT    NOT NULL DEFAULT '',
    engine_version           TEXT    NOT NULL DEFAULT '',

    PRIMARY KEY (region, query_id)
);
CREATE INDEX queries_event_time ON queries (event_time);
CREATE INDEX queries_pending ON queries (stats_status) WHERE stats_status = 'pending';
CREATE INDEX queries_rules_fp ON queries (rules_fp);

-- Rejected submissions: StartQueryExecution calls Athena refused. Keyed by
-- CloudTrail eventID; never counted as queries.
CREATE TABLE rejected (
    event_id      TEXT    PRIMARY KEY,
    event_time    INTEGER NOT NULL,
    day           TEXT    NOT NULL,
    region        TEXT    NOT NULL,
    owner_account TEXT    NOT NULL DEFAULT '',  -- recipientAccountId
    principal_arn TEXT    NOT NULL DEFAULT '',
    identity_json TEXT    NOT NULL DEFAULT '{}',  -- cloudtrail.Identity, for re-deriving the user
    user          TEXT    NOT NULL DEFAULT '',
    role          TEXT    NOT NULL DEFAULT '',
    account       TEXT    NOT NULL DEFAULT '',
    team          TEXT    NOT NULL DEFAULT '',
    rules_fp      TEXT    NOT NULL DEFAULT '',
    database      TEXT    NOT NULL DEFAULT '',
    workgroup     TEXT    NOT NULL DEFAULT '',
    error_code    TEXT    NOT NULL DEFAULT '',
    error_message TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX rejected_event_time ON rejected (event_time);
CREATE INDEX rejected_rules_fp ON rejected (rules_fp);

-- Checkpoints: one row per input object a source has finished, committed in
-- the same transaction as the rows read from it.
CREATE TABLE checkpoints (
    source     TEXT    NOT NULL,
    name       TEXT    NOT NULL,
    size       INTEGER NOT NULL,
    mtime      INTEGER NOT NULL,
    status     TEXT    NOT NULL CHECK (status IN ('done', 'bad', 'ignored')),
    queries    INTEGER NOT NULL DEFAULT 0,
    detail     TEXT    NOT NULL DEFAULT '',
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (source, name)
);
