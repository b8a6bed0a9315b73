-- The window edges of a few query shapes. A report of the top shapes sums
-- whole days from rollup_shape and the hours of the window's first and
-- last days from rollup_dim_hour; without an index by shape, those hours
-- read the rows of every shape that ran in them (tens of thousands on a
-- busy day) to find a few. Only the fingerprint rows are indexed, and an
-- upsert of an existing row changes neither column, so ingest pays one
-- index entry per new shape-hour.
CREATE INDEX rollup_dim_hour_fingerprint ON rollup_dim_hour (value, t) WHERE dim = 'fingerprint';

-- The users of a few shapes within a window's edge: the shape index
-- carries each query's user and region, so counting a shape's users reads
-- the index alone rather than one table row per query.
DROP INDEX queries_fingerprint;
CREATE INDEX queries_fingerprint ON queries (fingerprint, event_time, user, region) WHERE fingerprint <> '';
