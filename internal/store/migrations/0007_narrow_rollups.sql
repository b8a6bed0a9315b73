-- Narrow rollups: the sums of the rollups of migration 0005 per period (a
-- week of 7 days from a Thursday, as weeks count from 1970-01-01; a day; an
-- hour) and per value of one dimension at a time (dim names it; '' sums every query,
-- with value ''), keyed also by what every sum needs (region for the
-- price, state, statistics status, capacity). A report grouped or filtered
-- by one dimension, the pages' usual question, reads a few thousand rows
-- of these where the wide rollups, keyed by every dimension at once, hold
-- about as many rows as there are queries. A report that filters on a
-- second dimension still reads the wide rollups.
--
-- They follow every change of a row as the wide rollups do: inserts from
-- the store's one insert path at commit, updates and deletes by the
-- triggers below. They are filled here from the rows already stored.

CREATE TABLE rollup_dim_week (
    dim TEXT NOT NULL,
    t INTEGER NOT NULL,
    value TEXT NOT NULL,
    region TEXT NOT NULL,
    state TEXT NOT NULL,
    stats_status TEXT NOT NULL,
    provisioned INTEGER NOT NULL,
    queries INTEGER NOT NULL DEFAULT 0,
    billed_bytes INTEGER NOT NULL DEFAULT 0,
    data_scanned_bytes INTEGER NOT NULL DEFAULT 0,
    engine_ms INTEGER NOT NULL DEFAULT 0,
    dpu_ms INTEGER NOT NULL DEFAULT 0,
    no_dpu INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (dim, t, value, region, state, stats_status, provisioned)
) WITHOUT ROWID;
-- One value's periods: a page of one user, team, database or workgroup.
CREATE INDEX rollup_dim_week_value ON rollup_dim_week (dim, value, t);

INSERT INTO rollup_dim_week (dim, t, value, region, state, stats_status, provisioned, queries, billed_bytes, data_scanned_bytes, engine_ms, dpu_ms, no_dpu)
    SELECT d.dim, (event_time / 604800000 - (event_time % 604800000 < 0)) * 604800000, CASE d.dim WHEN 'user' THEN user WHEN 'role' THEN role WHEN 'account' THEN account WHEN 'team' THEN team WHEN 'database' THEN database WHEN 'workgroup' THEN workgroup WHEN 'fingerprint' THEN fingerprint ELSE '' END, region, state, stats_status, provisioned,
        COUNT(*), SUM(billed_bytes), SUM(data_scanned_bytes), SUM(engine_ms), SUM(CASE WHEN dpu_count > 0 AND dpu_count <= 1e6 THEN CAST(round(dpu_count * MIN(MAX(engine_ms, 0), 1e12)) AS INTEGER) ELSE 0 END), SUM(NOT (dpu_count > 0 AND dpu_count <= 1e6))
    FROM queries, (SELECT column1 AS dim FROM (VALUES (''), ('user'), ('role'), ('account'), ('team'), ('database'), ('workgroup'), ('fingerprint'))) AS d
    GROUP BY 1, 2, 3, 4, 5, 6, 7;

CREATE TABLE rollup_dim_day (
    dim TEXT NOT NULL,
    t INTEGER NOT NULL,
    value TEXT NOT NULL,
    region TEXT NOT NULL,
    state TEXT NOT NULL,
    stats_status TEXT NOT NULL,
    provisioned INTEGER NOT NULL,
    queries INTEGER NOT NULL DEFAULT 0,
    billed_bytes INTEGER NOT NULL DEFAULT 0,
    data_scanned_bytes INTEGER NOT NULL DEFAULT 0,
    engine_ms INTEGER NOT NULL DEFAULT 0,
    dpu_ms INTEGER NOT NULL DEFAULT 0,
    no_dpu INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (dim, t, value, region, state, stats_status, provisioned)
) WITHOUT ROWID;
-- One value's periods: a page of one user, team, database or workgroup.
CREATE INDEX rollup_dim_day_value ON rollup_dim_day (dim, value, t);

INSERT INTO rollup_dim_day (dim, t, value, region, state, stats_status, provisioned, queries, billed_bytes, data_scanned_bytes, engine_ms, dpu_ms, no_dpu)
    SELECT d.dim, (event_time / 86400000 - (event_time % 86400000 < 0)) * 86400000, CASE d.dim WHEN 'user' THEN user WHEN 'role' THEN role WHEN 'account' THEN account WHEN 'team' THEN team WHEN 'database' THEN database WHEN 'workgroup' THEN workgroup WHEN 'fingerprint' THEN fingerprint ELSE '' END, region, state, stats_status, provisioned,
        COUNT(*), SUM(billed_bytes), SUM(data_scanned_bytes), SUM(engine_ms), SUM(CASE WHEN dpu_count > 0 AND dpu_count <= 1e6 THEN CAST(round(dpu_count * MIN(MAX(engine_ms, 0), 1e12)) AS INTEGER) ELSE 0 END), SUM(NOT (dpu_count > 0 AND dpu_count <= 1e6))
    FROM queries, (SELECT column1 AS dim FROM (VALUES (''), ('user'), ('role'), ('account'), ('team'), ('database'), ('workgroup'), ('fingerprint'))) AS d
    GROUP BY 1, 2, 3, 4, 5, 6, 7;

CREATE TABLE rollup_dim_hour (
    dim TEXT NOT NULL,
    t INTEGER NOT NULL,
    value TEXT NOT NULL,
    region TEXT NOT NULL,
    state TEXT NOT NULL,
    stats_status TEXT NOT NULL,
    provisioned INTEGER NOT NULL,
    queries INTEGER NOT NULL DEFAULT 0,
    billed_bytes INTEGER NOT NULL DEFAULT 0,
    data_scanned_bytes INTEGER NOT NULL DEFAULT 0,
    engine_ms INTEGER NOT NULL DEFAULT 0,
    dpu_ms INTEGER NOT NULL DEFAULT 0,
    no_dpu INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (dim, t, value, region, state, stats_status, provisioned)
) WITHOUT ROWID;

INSERT INTO rollup_dim_hour (dim, t, value, region, state, stats_status, provisioned, queries, billed_bytes, data_scanned_bytes, engine_ms, dpu_ms, no_dpu)
    SELECT d.dim, (event_time / 3600000 - (event_time % 3600000 < 0)) * 3600000, CASE d.dim WHEN 'user' THEN user WHEN 'role' THEN role WHEN 'account' THEN account WHEN 'team' THEN team WHEN 'database' THEN database WHEN 'workgroup' THEN workgroup WHEN 'fingerprint' THEN fingerprint ELSE '' END, region, state, stats_status, provisioned,
        COUNT(*), SUM(billed_bytes), SUM(data_scanned_bytes), SUM(engine_ms), SUM(CASE WHEN dpu_count > 0 AND dpu_count <= 1e6 THEN CAST(round(dpu_count * MIN(MAX(engine_ms, 0), 1e12)) AS INTEGER) ELSE 0 END), SUM(NOT (dpu_count > 0 AND dpu_count <= 1e6))
    FROM queries, (SELECT column1 AS dim FROM (VALUES (''), ('user'), ('role'), ('account'), ('team'), ('database'), ('workgroup'), ('fingerprint'))) AS d
    GROUP BY 1, 2, 3, 4, 5, 6, 7;

-- The days of one query shape, with its users: the details of a report's
-- top shapes.
CREATE INDEX rollup_shape_fingerprint ON rollup_shape (fingerprint, t);

CREATE TRIGGER queries_rollup_dim_update AFTER UPDATE ON queries
    WHEN OLD.event_time IS NOT NEW.event_time
      OR OLD.region IS NOT NEW.region
      OR OLD.user IS NOT NEW.user
      OR OLD.role IS NOT NEW.role
      OR OLD.account IS NOT NEW.account
      OR OLD.team IS NOT NEW.team
      OR OLD.database IS NOT NEW.database
      OR OLD.workgroup IS NOT NEW.workgroup
      OR OLD.state IS NOT NEW.state
      OR OLD.stats_status IS NOT NEW.stats_status
      OR OLD.provisioned IS NOT NEW.provisioned
      OR OLD.fingerprint IS NOT NEW.fingerprint
      OR OLD.billed_bytes IS NOT NEW.billed_bytes
      OR OLD.data_scanned_bytes IS NOT NEW.data_scanned_bytes
      OR OLD.engine_ms IS NOT NEW.engine_ms
      OR OLD.dpu_count IS NOT NEW.dpu_count
BEGIN
    INSERT INTO rollup_dim_week (dim, t, value, region, state, stats_status, provisioned, queries, billed_bytes, data_scanned_bytes, engine_ms, dpu_ms, no_dpu)
        SELECT column1, (OLD.event_time / 604800000 - (OLD.event_time % 604800000 < 0)) * 604800000, column2, OLD.region, OLD.state, OLD.stats_status, OLD.provisioned, -(1), -(OLD.billed_bytes), -(OLD.data_scanned_bytes), -(OLD.engine_ms), -(CASE WHEN OLD.dpu_count > 0 AND OLD.dpu_count <= 1e6 THEN CAST(round(OLD.dpu_count * MIN(MAX(OLD.engine_ms, 0), 1e12)) AS INTEGER) ELSE 0 END), -(NOT (OLD.dpu_count > 0 AND OLD.dpu_count <= 1e6))
        FROM (VALUES ('', ''), ('user', OLD.user), ('role', OLD.role), ('account', OLD.account), ('team', OLD.team), ('database', OLD.database), ('workgroup', OLD.workgroup), ('fingerprint', OLD.fingerprint)) WHERE 1
        ON CONFLICT (dim, t, value, region, state, stats_status, provisioned) DO UPDATE SET queries = queries + excluded.queries, billed_bytes = billed_bytes + excluded.billed_bytes, data_scanned_bytes = data_scanned_bytes + excluded.data_scanned_bytes, engine_ms = engine_ms + excluded.engine_ms, dpu_ms = dpu_ms + excluded.dpu_ms, no_dpu = no_dpu + excluded.no_dpu;
    INSERT INTO rollup_dim_week (dim, t, value, region, state, stats_status, provisioned, queries, billed_bytes, data_scanned_bytes, engine_ms, dpu_ms, no_dpu)
        SELECT column1, (NEW.event_time / 604800000 - (NEW.event_time % 604800000 < 0)) * 604800000, column2, NEW.region, NEW.state, NEW.stats_status, NEW.provisioned, 1, NEW.billed_bytes, NEW.data_scanned_bytes, NEW.engine_ms, CASE WHEN NEW.dpu_count > 0 AND NEW.dpu_count <= 1e6 THEN CAST(round(NEW.dpu_count * MIN(MAX(NEW.engine_ms, 0), 1e12)) AS INTEGER) ELSE 0 END, NOT (NEW.dpu_count > 0 AND NEW.dpu_count <= 1e6)
        FROM (VALUES ('', ''), ('user', NEW.user), ('role', NEW.role), ('account', NEW.account), ('team', NEW.team), ('database', NEW.database), ('workgroup', NEW.workgroup), ('fingerprint', NEW.fingerprint)) WHERE 1
        ON CONFLICT (dim, t, value, region, state, stats_status, provisioned) DO UPDATE SET queries = queries + excluded.queries, billed_bytes = billed_bytes + excluded.billed_bytes, data_scanned_bytes = data_scanned_bytes + excluded.data_scanned_bytes, engine_ms = engine_ms + excluded.engine_ms, dpu_ms = dpu_ms + excluded.dpu_ms, no_dpu = no_dpu + excluded.no_dpu;
    INSERT INTO rollup_dim_day (dim, t, value, region, state, stats_status, provisioned, queries, billed_bytes, data_scanned_bytes, engine_ms, dpu_ms, no_dpu)
        SELECT column1, (OLD.event_time / 86400000 - (OLD.event_time % 86400000 < 0)) * 86400000, column2, OLD.region, OLD.state, OLD.stats_status, OLD.provisioned, -(1), -(OLD.billed_bytes), -(OLD.data_scanned_bytes), -(OLD.engine_ms), -(CASE WHEN OLD.dpu_count > 0 AND OLD.dpu_count <= 1e6 THEN CAST(round(OLD.dpu_count * MIN(MAX(OLD.engine_ms, 0), 1e12)) AS INTEGER) ELSE 0 END), -(NOT (OLD.dpu_count > 0 AND OLD.dpu_count <= 1e6))
        FROM (VALUES ('', ''), ('user', OLD.user), ('role', OLD.role), ('account', OLD.account), ('team', OLD.team), ('database', OLD.database), ('workgroup', OLD.workgroup), ('fingerprint', OLD.fingerprint)) WHERE 1
        ON CONFLICT (dim, t, value, region, state, stats_status, provisioned) DO UPDATE SET queries = queries + excluded.queries, billed_bytes = billed_bytes + excluded.billed_bytes, data_scanned_bytes = data_scanned_bytes + excluded.data_scanned_bytes, engine_ms = engine_ms + excluded.engine_ms, dpu_ms = dpu_ms + excluded.dpu_ms, no_dpu = no_dpu + excluded.no_dpu;
    INSERT INTO rollup_dim_day (dim, t, value, region, state, stats_status, provisioned, queries, billed_bytes, data_scanned_bytes, engine_ms, dpu_ms, no_dpu)
        SELECT column1, (NEW.event_time / 86400000 - (NEW.event_time % 86400000 < 0)) * 86400000, column2, NEW.region, NEW.state, NEW.stats_status, NEW.provisioned, 1, NEW.billed_bytes, NEW.data_scanned_bytes, NEW.engine_ms, CASE WHEN NEW.dpu_count > 0 AND NEW.dpu_count <= 1e6 THEN CAST(round(NEW.dpu_count * MIN(MAX(NEW.engine_ms, 0), 1e12)) AS INTEGER) ELSE 0 END, NOT (NEW.dpu_count > 0 AND NEW.dpu_count <= 1e6)
        FROM (VALUES ('', ''), ('user', NEW.user), ('role', NEW.role), ('account', NEW.account), ('team', NEW.team), ('database', NEW.database), ('workgroup', NEW.workgroup), ('fingerprint', NEW.fingerprint)) WHERE 1
        ON CONFLICT (dim, t, value, region, state, stats_status, provisioned) DO UPDATE SET queries = queries + excluded.queries, billed_bytes = billed_bytes + excluded.billed_bytes, data_scanned_bytes = data_scanned_bytes + excluded.data_scanned_bytes, engine_ms = engine_ms + excluded.engine_ms, dpu_ms = dpu_ms + excluded.dpu_ms, no_dpu = no_dpu + excluded.no_dpu;
    INSERT INTO rollup_dim_hour (dim, t, value, region, state, stats_status, provisioned, queries, billed_bytes, data_scanned_bytes, engine_ms, dpu_ms, no_dpu)
        SELECT column1, (OLD.event_time / 3600000 - (OLD.event_time % 3600000 < 0)) * 3600000, column2, OLD.region, OLD.state, OLD.stats_status, OLD.provisioned, -(1), -(OLD.billed_bytes), -(OLD.data_scanned_bytes), -(OLD.engine_ms), -(CASE WHEN OLD.dpu_count > 0 AND OLD.dpu_count <= 1e6 THEN CAST(round(OLD.dpu_count * MIN(MAX(OLD.engine_ms, 0), 1e12)) AS INTEGER) ELSE 0 END), -(NOT (OLD.dpu_count > 0 AND OLD.dpu_count <= 1e6))
        FROM (VALUES ('', ''), ('user', OLD.user), ('role', OLD.role), ('account', OLD.account), ('team', OLD.team), ('database', OLD.database), ('workgroup', OLD.workgroup), ('fingerprint', OLD.fingerprint)) WHERE 1
        ON CONFLICT (dim, t, value, region, state, stats_status, provisioned) DO UPDATE SET queries = queries + excluded.queries, billed_bytes = billed_bytes + excluded.billed_bytes, data_scanned_bytes = data_scanned_bytes + excluded.data_scanned_bytes, engine_ms = engine_ms + excluded.engine_ms, dpu_ms = dpu_ms + excluded.dpu_ms, no_dpu = no_dpu + excluded.no_dpu;
    INSERT INTO rollup_dim_hour (dim, t, value, region, state, stats_status, provisioned, queries, billed_bytes, data_scanned_bytes, engine_ms, dpu_ms, no_dpu)
        SELECT column1, (NEW.event_time / 3600000 - (NEW.event_time % 3600000 < 0)) * 3600000, column2, NEW.region, NEW.state, NEW.stats_status, NEW.provisioned, 1, NEW.billed_bytes, NEW.data_scanned_bytes, NEW.engine_ms, CASE WHEN NEW.dpu_count > 0 AND NEW.dpu_count <= 1e6 THEN CAST(round(NEW.dpu_count * MIN(MAX(NEW.engine_ms, 0), 1e12)) AS INTEGER) ELSE 0 END, NOT (NEW.dpu_count > 0 AND NEW.dpu_count <= 1e6)
        FROM (VALUES ('', ''), ('user', NEW.user), ('role', NEW.role), ('account', NEW.account), ('team', NEW.team), ('database', NEW.database), ('workgroup', NEW.workgroup), ('fingerprint', NEW.fingerprint)) WHERE 1
        ON CONFLICT (dim, t, value, region, state, stats_status, provisioned) DO UPDATE SET queries = queries + excluded.queries, billed_bytes = billed_bytes + excluded.billed_bytes, data_scanned_bytes = data_scanned_bytes + excluded.data_scanned_bytes, engine_ms = engine_ms + excluded.engine_ms, dpu_ms = dpu_ms + excluded.dpu_ms, no_dpu = no_dpu + excluded.no_dpu;
END;

CREATE TRIGGER queries_rollup_dim_delete AFTER DELETE ON queries BEGIN
    INSERT INTO rollup_dim_week (dim, t, value, region, state, stats_status, provisioned, queries, billed_bytes, data_scanned_bytes, engine_ms, dpu_ms, no_dpu)
        SELECT column1, (OLD.event_time / 604800000 - (OLD.event_time % 604800000 < 0)) * 604800000, column2, OLD.region, OLD.state, OLD.stats_status, OLD.provisioned, -(1), -(OLD.billed_bytes), -(OLD.data_scanned_bytes), -(OLD.engine_ms), -(CASE WHEN OLD.dpu_count > 0 AND OLD.dpu_count <= 1e6 THEN CAST(round(OLD.dpu_count * MIN(MAX(OLD.engine_ms, 0), 1e12)) AS INTEGER) ELSE 0 END), -(NOT (OLD.dpu_count > 0 AND OLD.dpu_count <= 1e6))
        FROM (VALUES ('', ''), ('user', OLD.user), ('role', OLD.role), ('account', OLD.account), ('team', OLD.team), ('database', OLD.database), ('workgroup', OLD.workgroup), ('fingerprint', OLD.fingerprint)) WHERE 1
        ON CONFLICT (dim, t, value, region, state, stats_status, provisioned) DO UPDATE SET queries = queries + excluded.queries, billed_bytes = billed_bytes + excluded.billed_bytes, data_scanned_bytes = data_scanned_bytes + excluded.data_scanned_bytes, engine_ms = engine_ms + excluded.engine_ms, dpu_ms = dpu_ms + excluded.dpu_ms, no_dpu = no_dpu + excluded.no_dpu;
    INSERT INTO rollup_dim_day (dim, t, value, region, state, stats_status, provisioned, queries, billed_bytes, data_scanned_bytes, engine_ms, dpu_ms, no_dpu)
        SELECT column1, (OLD.event_time / 86400000 - (OLD.event_time % 86400000 < 0)) * 86400000, column2, OLD.region, OLD.state, OLD.stats_status, OLD.provisioned, -(1), -(OLD.billed_bytes), -(OLD.data_scanned_bytes), -(OLD.engine_ms), -(CASE WHEN OLD.dpu_count > 0 AND OLD.dpu_count <= 1e6 THEN CAST(round(OLD.dpu_count * MIN(MAX(OLD.engine_ms, 0), 1e12)) AS INTEGER) ELSE 0 END), -(NOT (OLD.dpu_count > 0 AND OLD.dpu_count <= 1e6))
        FROM (VALUES ('', ''), ('user', OLD.user), ('role', OLD.role), ('account', OLD.account), ('team', OLD.team), ('database', OLD.database), ('workgroup', OLD.workgroup), ('fingerprint', OLD.fingerprint)) WHERE 1
        ON CONFLICT (dim, t, value, region, state, stats_status, provisioned) DO UPDATE SET queries = queries + excluded.queries, billed_bytes = billed_bytes + excluded.billed_bytes, data_scanned_bytes = data_scanned_bytes + excluded.data_scanned_bytes, engine_ms = engine_ms + excluded.engine_ms, dpu_ms = dpu_ms + excluded.dpu_ms, no_dpu = no_dpu + excluded.no_dpu;
    INSERT INTO rollup_dim_hour (dim, t, value, region, state, stats_status, provisioned, queries, billed_bytes, data_scanned_bytes, engine_ms, dpu_ms, no_dpu)
        SELECT column1, (OLD.event_time / 3600000 - (OLD.event_time % 3600000 < 0)) * 3600000, column2, OLD.region, OLD.state, OLD.stats_status, OLD.provisioned, -(1), -(OLD.billed_bytes), -(OLD.data_scanned_bytes), -(OLD.engine_ms), -(CASE WHEN OLD.dpu_count > 0 AND OLD.dpu_count <= 1e6 THEN CAST(round(OLD.dpu_count * MIN(MAX(OLD.engine_ms, 0), 1e12)) AS INTEGER) ELSE 0 END), -(NOT (OLD.dpu_count > 0 AND OLD.dpu_count <= 1e6))
        FROM (VALUES ('', ''), ('user', OLD.user), ('role', OLD.role), ('account', OLD.account), ('team', OLD.team), ('database', OLD.database), ('workgroup', OLD.workgroup), ('fingerprint', OLD.fingerprint)) WHERE 1
        ON CONFLICT (dim, t, value, region, state, stats_status, provisioned) DO UPDATE SET queries = queries + excluded.queries, billed_bytes = billed_bytes + excluded.billed_bytes, data_scanned_bytes = data_scanned_bytes + excluded.data_scanned_bytes, engine_ms = engine_ms + excluded.engine_ms, dpu_ms = dpu_ms + excluded.dpu_ms, no_dpu = no_dpu + excluded.no_dpu;
END;
