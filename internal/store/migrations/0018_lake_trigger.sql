-- The lake's update trigger of migration 0016 missed two columns the
-- export writes: error_category (the usage table) and athena_database
-- (the seed's athena_api_output). A change to only those now moves the
-- day's version too. lakeColumns (lake.go) lists every column the export
-- reads; a test holds this trigger to it.
DROP TRIGGER queries_lake_update;
CREATE TRIGGER queries_lake_update AFTER UPDATE ON queries
    WHEN OLD.day IS NOT NEW.day OR OLD.event_time IS NOT NEW.event_time OR OLD.owner_account IS NOT NEW.owner_account
      OR OLD.identity_type IS NOT NEW.identity_type OR OLD.principal_arn IS NOT NEW.principal_arn
      OR OLD.source_identity IS NOT NEW.source_identity
      OR OLD.user IS NOT NEW.user OR OLD.role IS NOT NEW.role OR OLD.account IS NOT NEW.account OR OLD.team IS NOT NEW.team
      OR OLD.database IS NOT NEW.database OR OLD.workgroup IS NOT NEW.workgroup OR OLD.athena_catalog IS NOT NEW.athena_catalog
      OR OLD.athena_database IS NOT NEW.athena_database
      OR OLD.provisioned IS NOT NEW.provisioned OR OLD.billed_bytes IS NOT NEW.billed_bytes OR OLD.cost_usd IS NOT NEW.cost_usd
      OR OLD.stats_status IS NOT NEW.stats_status OR OLD.state IS NOT NEW.state OR OLD.statement_type IS NOT NEW.statement_type
      OR OLD.data_scanned_bytes IS NOT NEW.data_scanned_bytes OR OLD.engine_ms IS NOT NEW.engine_ms OR OLD.total_ms IS NOT NEW.total_ms
      OR OLD.queue_ms IS NOT NEW.queue_ms OR OLD.planning_ms IS NOT NEW.planning_ms
      OR OLD.service_processing_ms IS NOT NEW.service_processing_ms
      OR OLD.submitted_at IS NOT NEW.submitted_at OR OLD.completed_at IS NOT NEW.completed_at
      OR OLD.reused_result IS NOT NEW.reused_result OR OLD.dpu_count IS NOT NEW.dpu_count
      OR OLD.fingerprint IS NOT NEW.fingerprint OR OLD.engine_version IS NOT NEW.engine_version
      OR OLD.error_category IS NOT NEW.error_category
BEGIN
    INSERT INTO lake_days (day, version) VALUES (NEW.day, 1)
        ON CONFLICT (day) DO UPDATE SET version = version + 1;
    INSERT INTO lake_days (day, version) SELECT OLD.day, 1 WHERE OLD.day IS NOT NEW.day
        ON CONFLICT (day) DO UPDATE SET version = version + 1;
END;
