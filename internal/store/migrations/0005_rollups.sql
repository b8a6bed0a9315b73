-- Rollups for serving: the sums reports read, per UTC hour and per UTC day
-- (t is the period's start in Unix milliseconds) and per day and query
-- shape, keyed by every dimension a report groups or filters by. A report
-- over a long window reads days, the partial days at its edges read hours
-- and the partial hours read rows, so its answer is exactly that of a scan
-- of the rows. rules_fps counts the queries derived with each rules
-- fingerprint, so that finding rows derived with other rules needs no
-- index every insert pays for.
--
-- Every change of a row reaches the rollups in the transaction that makes
-- it. Inserts add their sums from the store's one insert path, summed per
-- key for the whole transaction and written when it commits (a trigger per
-- inserted row would cost collect a third of its speed); the triggers below
-- move an updated row's sums from its old key to its new one and take a
-- deleted row's away, whatever statement changes it. The tables are filled
-- here from the rows already stored, before the triggers exist.
CREATE TABLE rollup_hour (
    t INTEGER NOT NULL,
    region TEXT NOT NULL,
    user TEXT NOT NULL,
    role TEXT NOT NULL,
    account TEXT NOT NULL,
    team TEXT NOT NULL,
    database TEXT NOT NULL,
    workgroup TEXT NOT NULL,
    state TEXT NOT NULL,
    statement_type TEXT NOT NULL,
    stats_status TEXT NOT NULL,
    provisioned INTEGER NOT NULL,
    queries INTEGER NOT NULL DEFAULT 0,
    billed_bytes INTEGER NOT NULL DEFAULT 0,
    data_scanned_bytes INTEGER NOT NULL DEFAULT 0,
    engine_ms INTEGER NOT NULL DEFAULT 0,
    dpu_ms INTEGER NOT NULL DEFAULT 0,
    no_dpu INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (t, region, user, role, account, team, database, workgroup, state, statement_type, stats_status, provisioned)
) WITHOUT ROWID;
INSERT INTO rollup_hour (t, region, user, role, account, team, database, workgroup, state, statement_type, stats_status, provisioned, queries, billed_bytes, data_scanned_bytes, engine_ms, dpu_ms, no_dpu)
    SELECT (event_time / 3600000 - (event_time % 3600000 < 0)) * 3600000,
        region,
        user,
        role,
        account,
        team,
        database,
        workgroup,
        state,
        statement_type,
        stats_status,
        provisioned,
        COUNT(*),
        SUM(billed_bytes),
        SUM(data_scanned_bytes),
        SUM(engine_ms),
        SUM(CASE WHEN dpu_count > 0 AND dpu_count <= 1e6 THEN CAST(round(dpu_count * MIN(MAX(engine_ms, 0), 1e12)) AS INTEGER) ELSE 0 END),
        SUM(NOT (dpu_count > 0 AND dpu_count <= 1e6))
    FROM queries GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12;

CREATE TABLE rollup_day (
    t INTEGER NOT NULL,
    region TEXT NOT NULL,
    user TEXT NOT NULL,
    role TEXT NOT NULL,
    account TEXT NOT NULL,
    team TEXT NOT NULL,
    database TEXT NOT NULL,
    workgroup TEXT NOT NULL,
    state TEXT NOT NULL,
    statement_type TEXT NOT NULL,
    stats_status TEXT NOT NULL,
    provisioned INTEGER NOT NULL,
    queries INTEGER NOT NULL DEFAULT 0,
    billed_bytes INTEGER NOT NULL DEFAULT 0,
    data_scanned_bytes INTEGER NOT NULL DEFAULT 0,
    engine_ms INTEGER NOT NULL DEFAULT 0,
    dpu_ms INTEGER NOT NULL DEFAULT 0,
    no_dpu INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (t, region, user, role, account, team, database, workgroup, state, statement_type, stats_status, provisioned)
) WITHOUT ROWID;
INSERT INTO rollup_day (t, region, user, role, account, team, database, workgroup, state, statement_type, stats_status, provisioned, queries, billed_bytes, data_scanned_bytes, engine_ms, dpu_ms, no_dpu)
    SELECT (event_time / 86400000 - (event_time % 86400000 < 0)) * 86400000,
        region,
        user,
        role,
        account,
        team,
        database,
        workgroup,
        state,
        statement_type,
        stats_status,
        provisioned,
        COUNT(*),
        SUM(billed_bytes),
        SUM(data_scanned_bytes),
        SUM(engine_ms),
        SUM(CASE WHEN dpu_count > 0 AND dpu_count <= 1e6 THEN CAST(round(dpu_count * MIN(MAX(engine_ms, 0), 1e12)) AS INTEGER) ELSE 0 END),
        SUM(NOT (dpu_count > 0 AND dpu_count <= 1e6))
    FROM queries GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12;

CREATE TABLE rollup_shape (
    t INTEGER NOT NULL,
    region TEXT NOT NULL,
    user TEXT NOT NULL,
    role TEXT NOT NULL,
    account TEXT NOT NULL,
    team TEXT NOT NULL,
    database TEXT NOT NULL,
    workgroup TEXT NOT NULL,
    state TEXT NOT NULL,
    statement_type TEXT NOT NULL,
    stats_status TEXT NOT NULL,
    provisioned INTEGER NOT NULL,
    fingerprint TEXT NOT NULL,
    queries INTEGER NOT NULL DEFAULT 0,
    billed_bytes INTEGER NOT NULL DEFAULT 0,
    data_scanned_bytes INTEGER NOT NULL DEFAULT 0,
    engine_ms INTEGER NOT NULL DEFAULT 0,
    dpu_ms INTEGER NOT NULL DEFAULT 0,
    no_dpu INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (t, region, user, role, account, team, database, workgroup, state, statement_type, stats_status, provisioned, fingerprint)
) WITHOUT ROWID;
INSERT INTO rollup_shape (t, region, user, role, account, team, database, workgroup, state, statement_type, stats_status, provisioned, fingerprint, queries, billed_bytes, data_scanned_bytes, engine_ms, dpu_ms, no_dpu)
    SELECT (event_time / 86400000 - (event_time % 86400000 < 0)) * 86400000,
        region,
        user,
        role,
        account,
        team,
        database,
        workgroup,
        state,
        statement_type,
        stats_status,
        provisioned,
        fingerprint,
        COUNT(*),
        SUM(billed_bytes),
        SUM(data_scanned_bytes),
        SUM(engine_ms),
        SUM(CASE WHEN dpu_count > 0 AND dpu_count <= 1e6 THEN CAST(round(dpu_count * MIN(MAX(engine_ms, 0), 1e12)) AS INTEGER) ELSE 0 END),
        SUM(NOT (dpu_count > 0 AND dpu_count <= 1e6))
    FROM queries GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13;

CREATE TABLE rules_fps (
    rules_fp TEXT NOT NULL,
    queries INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (rules_fp)
) WITHOUT ROWID;
INSERT INTO rules_fps (rules_fp, queries)
    SELECT rules_fp,
        COUNT(*)
    FROM queries GROUP BY 1;

CREATE TRIGGER queries_rollup_update AFTER UPDATE ON queries
    WHEN OLD.event_time IS NOT NEW.event_time
      OR OLD.region IS NOT NEW.region
      OR OLD.user IS NOT NEW.user
      OR OLD.role IS NOT NEW.role
      OR OLD.account IS NOT NEW.account
      OR OLD.team IS NOT NEW.team
      OR OLD.database IS NOT NEW.database
      OR OLD.workgroup IS NOT NEW.workgroup
      OR OLD.state IS NOT NEW.state
      OR OLD.statement_type IS NOT NEW.statement_type
      OR OLD.stats_status IS NOT NEW.stats_status
      OR OLD.provisioned IS NOT NEW.provisioned
      OR OLD.fingerprint IS NOT NEW.fingerprint
      OR OLD.rules_fp IS NOT NEW.rules_fp
      OR OLD.billed_bytes IS NOT NEW.billed_bytes
      OR OLD.data_scanned_bytes IS NOT NEW.data_scanned_bytes
      OR OLD.engine_ms IS NOT NEW.engine_ms
      OR OLD.dpu_count IS NOT NEW.dpu_count
BEGIN
    INSERT INTO rollup_hour (t, region, user, role, account, team, database, workgroup, state, statement_type, stats_status, provisioned, queries, billed_bytes, data_scanned_bytes, engine_ms, dpu_ms, no_dpu)
        VALUES ((OLD.event_time / 3600000 - (OLD.event_time % 3600000 < 0)) * 3600000, OLD.region, OLD.user, OLD.role, OLD.account, OLD.team, OLD.database, OLD.workgroup, OLD.state, OLD.statement_type, OLD.stats_status, OLD.provisioned, -(1), -(OLD.billed_bytes), -(OLD.data_scanned_bytes), -(OLD.engine_ms), -(CASE WHEN OLD.dpu_count > 0 AND OLD.dpu_count <= 1e6 THEN CAST(round(OLD.dpu_count * MIN(MAX(OLD.engine_ms, 0), 1e12)) AS INTEGER) ELSE 0 END), -(NOT (OLD.dpu_count > 0 AND OLD.dpu_count <= 1e6)))
        ON CONFLICT (t, region, user, role, account, team, database, workgroup, state, statement_type, stats_status, provisioned) DO UPDATE SET queries = queries + excluded.queries, billed_bytes = billed_bytes + excluded.billed_bytes, data_scanned_bytes = data_scanned_bytes + excluded.data_scanned_bytes, engine_ms = engine_ms + excluded.engine_ms, dpu_ms = dpu_ms + excluded.dpu_ms, no_dpu = no_dpu + excluded.no_dpu;
    INSERT INTO rollup_hour (t, region, user, role, account, team, database, workgroup, state, statement_type, stats_status, provisioned, queries, billed_bytes, data_scanned_bytes, engine_ms, dpu_ms, no_dpu)
        VALUES ((NEW.event_time / 3600000 - (NEW.event_time % 3600000 < 0)) * 3600000, NEW.region, NEW.user, NEW.role, NEW.account, NEW.team, NEW.database, NEW.workgroup, NEW.state, NEW.statement_type, NEW.stats_status, NEW.provisioned, 1, NEW.billed_bytes, NEW.data_scanned_bytes, NEW.engine_ms, CASE WHEN NEW.dpu_count > 0 AND NEW.dpu_count <= 1e6 THEN CAST(round(NEW.dpu_count * MIN(MAX(NEW.engine_ms, 0), 1e12)) AS INTEGER) ELSE 0 END, NOT (NEW.dpu_count > 0 AND NEW.dpu_count <= 1e6))
        ON CONFLICT (t, region, user, role, account, team, database, workgroup, state, statement_type, stats_status, provisioned) DO UPDATE SET queries = queries + excluded.queries, billed_bytes = billed_bytes + excluded.billed_bytes, data_scanned_bytes = data_scanned_bytes + excluded.data_scanned_bytes, engine_ms = engine_ms + excluded.engine_ms, dpu_ms = dpu_ms + excluded.dpu_ms, no_dpu = no_dpu + excluded.no_dpu;
    INSERT INTO rollup_day (t, region, user, role, account, team, database, workgroup, state, statement_type, stats_status, provisioned, queries, billed_bytes, data_scanned_bytes, engine_ms, dpu_ms, no_dpu)
        VALUES ((OLD.event_time / 86400000 - (OLD.event_time % 86400000 < 0)) * 86400000, OLD.region, OLD.user, OLD.role, OLD.account, OLD.team, OLD.database, OLD.workgroup, OLD.state, OLD.statement_type, OLD.stats_status, OLD.provisioned, -(1), -(OLD.billed_bytes), -(OLD.data_scanned_bytes), -(OLD.engine_ms), -(CASE WHEN OLD.dpu_count > 0 AND OLD.dpu_count <= 1e6 THEN CAST(round(OLD.dpu_count * MIN(MAX(OLD.engine_ms, 0), 1e12)) AS INTEGER) ELSE 0 END), -(NOT (OLD.dpu_count > 0 AND OLD.dpu_count <= 1e6)))
        ON CONFLICT (t, region, user, role, account, team, database, workgroup, state, statement_type, stats_status, provisioned) DO UPDATE SET queries = queries + excluded.queries, billed_bytes = billed_bytes + excluded.billed_bytes, data_scanned_bytes = data_scanned_bytes + excluded.data_scanned_bytes, engine_ms = engine_ms + excluded.engine_ms, dpu_ms = dpu_ms + excluded.dpu_ms, no_dpu = no_dpu + excluded.no_dpu;
    INSERT INTO rollup_day (t, region, user, role, account, team, database, workgroup, state, statement_type, stats_status, provisioned, queries, billed_bytes, data_scanned_bytes, engine_ms, dpu_ms, no_dpu)
        VALUES ((NEW.event_time / 86400000 - (NEW.event_time % 86400000 < 0)) * 86400000, NEW.region, NEW.user, NEW.role, NEW.account, NEW.team, NEW.database, NEW.workgroup, NEW.state, NEW.statement_type, NEW.stats_status, NEW.provisioned, 1, NEW.billed_bytes, NEW.data_scanned_bytes, NEW.engine_ms, CASE WHEN NEW.dpu_count > 0 AND NEW.dpu_count <= 1e6 THEN CAST(round(NEW.dpu_count * MIN(MAX(NEW.engine_ms, 0), 1e12)) AS INTEGER) ELSE 0 END, NOT (NEW.dpu_count > 0 AND NEW.dpu_count <= 1e6))
        ON CONFLICT (t, region, user, role, account, team, database, workgroup, state, statement_type, stats_status, provisioned) DO UPDATE SET queries = queries + excluded.queries, billed_bytes = billed_bytes + excluded.billed_bytes, data_scanned_bytes = data_scanned_bytes + excluded.data_scanned_bytes, engine_ms = engine_ms + excluded.engine_ms, dpu_ms = dpu_ms + excluded.dpu_ms, no_dpu = no_dpu + excluded.no_dpu;
    INSERT INTO rollup_shape (t, region, user, role, account, team, database, workgroup, state, statement_type, stats_status, provisioned, fingerprint, queries, billed_bytes, data_scanned_bytes, engine_ms, dpu_ms, no_dpu)
        VALUES ((OLD.event_time / 86400000 - (OLD.event_time % 86400000 < 0)) * 86400000, OLD.region, OLD.user, OLD.role, OLD.account, OLD.team, OLD.database, OLD.workgroup, OLD.state, OLD.statement_type, OLD.stats_status, OLD.provisioned, OLD.fingerprint, -(1), -(OLD.billed_bytes), -(OLD.data_scanned_bytes), -(OLD.engine_ms), -(CASE WHEN OLD.dpu_count > 0 AND OLD.dpu_count <= 1e6 THEN CAST(round(OLD.dpu_count * MIN(MAX(OLD.engine_ms, 0), 1e12)) AS INTEGER) ELSE 0 END), -(NOT (OLD.dpu_count > 0 AND OLD.dpu_count <= 1e6)))
        ON CONFLICT (t, region, user, role, account, team, database, workgroup, state, statement_type, stats_status, provisioned, fingerprint) DO UPDATE SET queries = queries + excluded.queries, billed_bytes = billed_bytes + excluded.billed_bytes, data_scanned_bytes = data_scanned_bytes + excluded.data_scanned_bytes, engine_ms = engine_ms + excluded.engine_ms, dpu_ms = dpu_ms + excluded.dpu_ms, no_dpu = no_dpu + excluded.no_dpu;
    INSERT INTO rollup_shape (t, region, user, role, account, team, database, workgroup, state, statement_type, stats_status, provisioned, fingerprint, queries, billed_bytes, data_scanned_bytes, engine_ms, dpu_ms, no_dpu)
        VALUES ((NEW.event_time / 86400000 - (NEW.event_time % 86400000 < 0)) * 86400000, NEW.region, NEW.user, NEW.role, NEW.account, NEW.team, NEW.database, NEW.workgroup, NEW.state, NEW.statement_type, NEW.stats_status, NEW.provisioned, NEW.fingerprint, 1, NEW.billed_bytes, NEW.data_scanned_bytes, NEW.engine_ms, CASE WHEN NEW.dpu_count > 0 AND NEW.dpu_count <= 1e6 THEN CAST(round(NEW.dpu_count * MIN(MAX(NEW.engine_ms, 0), 1e12)) AS INTEGER) ELSE 0 END, NOT (NEW.dpu_count > 0 AND NEW.dpu_count <= 1e6))
        ON CONFLICT (t, region, user, role, account, team, database, workgroup, state, statement_type, stats_status, provisioned, fingerprint) DO UPDATE SET queries = queries + excluded.queries, billed_bytes = billed_bytes + excluded.billed_bytes, data_scanned_bytes = data_scanned_bytes + excluded.data_scanned_bytes, engine_ms = engine_ms + excluded.engine_ms, dpu_ms = dpu_ms + excluded.dpu_ms, no_dpu = no_dpu + excluded.no_dpu;
    INSERT INTO rules_fps (rules_fp, queries)
        VALUES (OLD.rules_fp, -(1))
        ON CONFLICT (rules_fp) DO UPDATE SET queries = queries + excluded.queries;
    INSERT INTO rules_fps (rules_fp, queries)
        VALUES (NEW.rules_fp, 1)
        ON CONFLICT (rules_fp) DO UPDATE SET queries = queries + excluded.queries;
END;

CREATE TRIGGER queries_rollup_delete AFTER DELETE ON queries BEGIN
    INSERT INTO rollup_hour (t, region, user, role, account, team, database, workgroup, state, statement_type, stats_status, provisioned, queries, billed_bytes, data_scanned_bytes, engine_ms, dpu_ms, no_dpu)
        VALUES ((OLD.event_time / 3600000 - (OLD.event_time % 3600000 < 0)) * 3600000, OLD.region, OLD.user, OLD.role, OLD.account, OLD.team, OLD.database, OLD.workgroup, OLD.state, OLD.statement_type, OLD.stats_status, OLD.provisioned, -(1), -(OLD.billed_bytes), -(OLD.data_scanned_bytes), -(OLD.engine_ms), -(CASE WHEN OLD.dpu_count > 0 AND OLD.dpu_count <= 1e6 THEN CAST(round(OLD.dpu_count * MIN(MAX(OLD.engine_ms, 0), 1e12)) AS INTEGER) ELSE 0 END), -(NOT (OLD.dpu_count > 0 AND OLD.dpu_count <= 1e6)))
        ON CONFLICT (t, region, user, role, account, team, database, workgroup, state, statement_type, stats_status, provisioned) DO UPDATE SET queries = queries + excluded.queries, billed_bytes = billed_bytes + excluded.billed_bytes, data_scanned_bytes = data_scanned_bytes + excluded.data_scanned_bytes, engine_ms = engine_ms + excluded.engine_ms, dpu_ms = dpu_ms + excluded.dpu_ms, no_dpu = no_dpu + excluded.no_dpu;
    INSERT INTO rollup_day (t, region, user, role, account, team, database, workgroup, state, statement_type, stats_status, provisioned, queries, billed_bytes, data_scanned_bytes, engine_ms, dpu_ms, no_dpu)
        VALUES ((OLD.event_time / 86400000 - (OLD.event_time % 86400000 < 0)) * 86400000, OLD.region, OLD.user, OLD.role, OLD.account, OLD.team, OLD.database, OLD.workgroup, OLD.state, OLD.statement_type, OLD.stats_status, OLD.provisioned, -(1), -(OLD.billed_bytes), -(OLD.data_scanned_bytes), -(OLD.engine_ms), -(CASE WHEN OLD.dpu_count > 0 AND OLD.dpu_count <= 1e6 THEN CAST(round(OLD.dpu_count * MIN(MAX(OLD.engine_ms, 0), 1e12)) AS INTEGER) ELSE 0 END), -(NOT (OLD.dpu_count > 0 AND OLD.dpu_count <= 1e6)))
        ON CONFLICT (t, region, user, role, account, team, database, workgroup, state, statement_type, stats_status, provisioned) DO UPDATE SET queries = queries + excluded.queries, billed_bytes = billed_bytes + excluded.billed_bytes, data_scanned_bytes = data_scanned_bytes + excluded.data_scanned_bytes, engine_ms = engine_ms + excluded.engine_ms, dpu_ms = dpu_ms + excluded.dpu_ms, no_dpu = no_dpu + excluded.no_dpu;
    INSERT INTO rollup_shape (t, region, user, role, account, team, database, workgroup, state, statement_type, stats_status, provisioned, fingerprint, queries, billed_bytes, data_scanned_bytes, engine_ms, dpu_ms, no_dpu)
        VALUES ((OLD.event_time / 86400000 - (OLD.event_time % 86400000 < 0)) * 86400000, OLD.region, OLD.user, OLD.role, OLD.account, OLD.team, OLD.database, OLD.workgroup, OLD.state, OLD.statement_type, OLD.stats_status, OLD.provisioned, OLD.fingerprint, -(1), -(OLD.billed_bytes), -(OLD.data_scanned_bytes), -(OLD.engine_ms), -(CASE WHEN OLD.dpu_count > 0 AND OLD.dpu_count <= 1e6 THEN CAST(round(OLD.dpu_count * MIN(MAX(OLD.engine_ms, 0), 1e12)) AS INTEGER) ELSE 0 END), -(NOT (OLD.dpu_count > 0 AND OLD.dpu_count <= 1e6)))
        ON CONFLICT (t, region, user, role, account, team, database, workgroup, state, statement_type, stats_status, provisioned, fingerprint) DO UPDATE SET queries = queries + excluded.queries, billed_bytes = billed_bytes + excluded.billed_bytes, data_scanned_bytes = data_scanned_bytes + excluded.data_scanned_bytes, engine_ms = engine_ms + excluded.engine_ms, dpu_ms = dpu_ms + excluded.dpu_ms, no_dpu = no_dpu + excluded.no_dpu;
    INSERT INTO rules_fps (rules_fp, queries)
        VALUES (OLD.rules_fp, -(1))
        ON CONFLICT (rules_fp) DO UPDATE SET queries = queries + excluded.queries;
END;

-- Rows derived with other rules are found through rules_fps now.
DROP INDEX queries_rules_fp;

-- Enrichment pages through the pending queries of one account-region in
-- query id order: a range of this index, not a sort of the whole backlog.
-- PendingCounts reads it alone (event_time rides along).
DROP INDEX queries_pending;
CREATE INDEX queries_pending ON queries (owner_account, region, query_id, event_time) WHERE stats_status = 'pending';
