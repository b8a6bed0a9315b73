-- Statistics an earlier release stored as Athena sent them, however
-- impossible: one query with bytes scanned near 2^63 made the sums of every
-- later report overflow. The bounds are those enrich applies to every answer
-- now (package enrich: MaxDataScannedBytes 2^50, MaxDurationMs 7 days,
-- MaxDPUCount 100000). A query whose cost basis is impossible goes back to
-- pending with that value zeroed, so the next enrich asks Athena again;
-- other times are clamped into 0..7 days.
UPDATE queries SET data_scanned_bytes = 0, billed_bytes = 0, stats_status = 'pending'
    WHERE data_scanned_bytes < 0 OR data_scanned_bytes > 1125899906842624;
UPDATE queries SET engine_ms = 0, billed_bytes = 0, stats_status = 'pending'
    WHERE engine_ms > 604800000;
UPDATE queries SET dpu_count = 0, billed_bytes = 0, stats_status = 'pending'
    WHERE dpu_count < 0 OR dpu_count > 100000;
UPDATE queries SET
    engine_ms                = max(0, engine_ms),
    total_ms                 = max(0, min(total_ms, 604800000)),
    queue_ms                 = max(0, min(queue_ms, 604800000)),
    planning_ms              = max(0, min(planning_ms, 604800000)),
    service_preprocessing_ms = max(0, min(service_preprocessing_ms, 604800000)),
    service_processing_ms    = max(0, min(service_processing_ms, 604800000))
    WHERE engine_ms < 0
       OR total_ms NOT BETWEEN 0 AND 604800000
       OR queue_ms NOT BETWEEN 0 AND 604800000
       OR planning_ms NOT BETWEEN 0 AND 604800000
       OR service_preprocessing_ms NOT BETWEEN 0 AND 604800000
       OR service_processing_ms NOT BETWEEN 0 AND 604800000;
