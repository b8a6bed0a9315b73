-- The count of rollup changes (migration 0019) and the changed periods
-- (migration 0021) are kept by the one writer of the two rollups a server
-- copies, the flush at commit (rollupDelta.flush): once per transaction
-- for the periods it wrote, rather than by triggers that ran two or
-- three statements for every row written. A collect of a month of
-- history writes a few hundred thousand rollup rows, and the triggers
-- were a large part of its commits.
--
-- The other writers of the two rollups are the triggers on the queries
-- table that move the sums of an update no Store method made, and of a
-- delete (migrations 0005 to 0010): the two triggers below move the count
-- and mark the periods for those, the hour and day a row left and the ones
-- it joined. No write path deletes rollup rows; the triggers on deletes
-- stay, for any statement that does. A later migration that inserts or
-- updates rows of either table itself must move the count and mark the
-- periods it writes.
DROP TRIGGER rollup_hour_changes_insert;
DROP TRIGGER rollup_hour_changes_update;
DROP TRIGGER rollup_shape_changes_insert;
DROP TRIGGER rollup_shape_changes_update;

CREATE TRIGGER queries_rollup_changes_update AFTER UPDATE ON queries
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
    UPDATE rollup_changes SET n = n + 1;
    INSERT INTO rollup_periods (shape, t, n) VALUES
        (0, (OLD.event_time / 3600000 - (OLD.event_time % 3600000 < 0)) * 3600000, (SELECT n FROM rollup_changes)),
        (0, (NEW.event_time / 3600000 - (NEW.event_time % 3600000 < 0)) * 3600000, (SELECT n FROM rollup_changes)),
        (1, (OLD.event_time / 86400000 - (OLD.event_time % 86400000 < 0)) * 86400000, (SELECT n FROM rollup_changes)),
        (1, (NEW.event_time / 86400000 - (NEW.event_time % 86400000 < 0)) * 86400000, (SELECT n FROM rollup_changes))
        ON CONFLICT (shape, t) DO UPDATE SET n = excluded.n;
END;

CREATE TRIGGER queries_rollup_changes_delete AFTER DELETE ON queries BEGIN
    UPDATE rollup_changes SET n = n + 1;
    INSERT INTO rollup_periods (shape, t, n) VALUES
        (0, (OLD.event_time / 3600000 - (OLD.event_time % 3600000 < 0)) * 3600000, (SELECT n FROM rollup_changes)),
        (1, (OLD.event_time / 86400000 - (OLD.event_time % 86400000 < 0)) * 86400000, (SELECT n FROM rollup_changes))
        ON CONFLICT (shape, t) DO UPDATE SET n = excluded.n;
END;
