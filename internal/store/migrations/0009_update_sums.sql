-- Enrichment and re-derivation move the rollup sums of the rows they
-- update themselves, summed per transaction (Store.UpdateQueries,
-- Store.UpdateDerived): a row's old and new sums go to each rollup table
-- once per key and transaction, where the triggers below cost every updated
-- row two upserts of every table. Those statements flip sums_moved; the
-- triggers now skip such updates and still move the sums of any other
-- statement that changes a row.
ALTER TABLE queries ADD COLUMN sums_moved INTEGER NOT NULL DEFAULT 0;

DROP TRIGGER queries_rollup_update;
CREATE TRIGGER queries_rollup_update AFTER UPDATE ON queries
    WHEN OLD.sums_moved IS NEW.sums_moved AND (OLD.event_time IS NOT NEW.event_time
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
      OR OLD.dpu_count IS NOT NEW.dpu_count)
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

DROP TRIGGER queries_rollup_dim_update;
CREATE TRIGGER queries_rollup_dim_update AFTER UPDATE ON queries
    WHEN OLD.sums_moved IS NEW.sums_moved AND (OLD.event_time IS NOT NEW.event_time
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
      OR OLD.dpu_count IS NOT NEW.dpu_count)
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
