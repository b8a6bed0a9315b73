-- Each query shape's sums over the whole history, in order of billed bytes
-- and of DPU time: a shape costs at most its totals at the highest prices in
-- any window, so the most expensive shapes of a window are found by asking
-- for the window's sums of the shapes in this order, stopping once no shape
-- not yet asked about can outrank those found (Store.ShapeTotals). A window
-- of a month holds about a tenth as many shapes as queries, too many to sum
-- each for a page.
CREATE TABLE shape_totals (
    fingerprint  TEXT    PRIMARY KEY,
    queries      INTEGER NOT NULL DEFAULT 0,
    billed_bytes INTEGER NOT NULL DEFAULT 0,
    dpu_ms       INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;

INSERT INTO shape_totals (fingerprint, queries, billed_bytes, dpu_ms)
    SELECT value, SUM(queries), SUM(billed_bytes), SUM(dpu_ms)
    FROM rollup_dim_week WHERE dim = 'fingerprint' GROUP BY value;

CREATE INDEX shape_totals_billed ON shape_totals (billed_bytes DESC, fingerprint);
CREATE INDEX shape_totals_dpu ON shape_totals (dpu_ms DESC, fingerprint) WHERE dpu_ms > 0;

-- Inserts, and the updates of Store.UpdateQueries and Store.UpdateDerived,
-- reach the table with the other rollups (rollupDelta); any other update
-- and every delete through these triggers.
CREATE TRIGGER queries_shape_totals_update AFTER UPDATE ON queries
    WHEN OLD.sums_moved IS NEW.sums_moved AND (OLD.fingerprint IS NOT NEW.fingerprint
      OR OLD.billed_bytes IS NOT NEW.billed_bytes
      OR OLD.engine_ms IS NOT NEW.engine_ms
      OR OLD.dpu_count IS NOT NEW.dpu_count)
BEGIN
    INSERT INTO shape_totals (fingerprint, queries, billed_bytes, dpu_ms)
        VALUES (OLD.fingerprint, -1, -(OLD.billed_bytes), -(CASE WHEN OLD.dpu_count > 0 AND OLD.dpu_count <= 1e6 THEN CAST(round(OLD.dpu_count * MIN(MAX(OLD.engine_ms, 0), 1e12)) AS INTEGER) ELSE 0 END))
        ON CONFLICT (fingerprint) DO UPDATE SET queries = queries + excluded.queries, billed_bytes = billed_bytes + excluded.billed_bytes, dpu_ms = dpu_ms + excluded.dpu_ms;
    INSERT INTO shape_totals (fingerprint, queries, billed_bytes, dpu_ms)
        VALUES (NEW.fingerprint, 1, NEW.billed_bytes, CASE WHEN NEW.dpu_count > 0 AND NEW.dpu_count <= 1e6 THEN CAST(round(NEW.dpu_count * MIN(MAX(NEW.engine_ms, 0), 1e12)) AS INTEGER) ELSE 0 END)
        ON CONFLICT (fingerprint) DO UPDATE SET queries = queries + excluded.queries, billed_bytes = billed_bytes + excluded.billed_bytes, dpu_ms = dpu_ms + excluded.dpu_ms;
END;

CREATE TRIGGER queries_shape_totals_delete AFTER DELETE ON queries BEGIN
    INSERT INTO shape_totals (fingerprint, queries, billed_bytes, dpu_ms)
        VALUES (OLD.fingerprint, -1, -(OLD.billed_bytes), -(CASE WHEN OLD.dpu_count > 0 AND OLD.dpu_count <= 1e6 THEN CAST(round(OLD.dpu_count * MIN(MAX(OLD.engine_ms, 0), 1e12)) AS INTEGER) ELSE 0 END))
        ON CONFLICT (fingerprint) DO UPDATE SET queries = queries + excluded.queries, billed_bytes = billed_bytes + excluded.billed_bytes, dpu_ms = dpu_ms + excluded.dpu_ms;
END;
