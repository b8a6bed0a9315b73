-- Facts about the database as a whole, one row each: "prices" holds the
-- fingerprint of the prices the stored per-query costs were computed with,
-- so that a price change reprices them once (Store.Reprice). A database
-- without the row has never been priced: the costs migration 0004 added
-- are all 0 until a command that writes prices them.
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;

-- Indexes of the query listing (Store.ListQueries). Each sort by an amount
-- walks an index in listing order (largest first, ties by key) over the
-- rows where the amount is above 0; the rows at 0 come last, in key order.
-- None of them holds a query fresh from CloudTrail (pending: no bytes, no
-- engine time, no cost), so collect does not pay for them; enrich pays
-- once per query, when its statistics arrive. The cost index replaces
-- queries_cost, which could not break the ties of Athena's minimum charge
-- (many queries cost exactly the same) without sorting them.
DROP INDEX IF EXISTS queries_cost;
CREATE INDEX IF NOT EXISTS queries_by_cost ON queries (cost_usd DESC, region, query_id) WHERE cost_usd > 0;
CREATE INDEX IF NOT EXISTS queries_by_bytes ON queries (data_scanned_bytes DESC, region, query_id) WHERE data_scanned_bytes > 0;
CREATE INDEX IF NOT EXISTS queries_by_engine ON queries (engine_ms DESC, region, query_id) WHERE engine_ms > 0;
-- A filter on one user, team, database or workgroup reads only that one's
-- rows in the window: it may match a handful of queries among millions,
-- which no walk of a sort index finds fast. Fresh queries enter these (a
-- listing shows queries pending statistics too); within each value rows
-- arrive in time order, so an insert touches the last page of its value.
CREATE INDEX IF NOT EXISTS queries_user_time ON queries (user, event_time);
CREATE INDEX IF NOT EXISTS queries_team_time ON queries (team, event_time);
CREATE INDEX IF NOT EXISTS queries_database_time ON queries (database, event_time);
CREATE INDEX IF NOT EXISTS queries_workgroup_time ON queries (workgroup, event_time);
-- Athena's state is known once statistics are; the amounts beside it let a
-- listing of FAILED queries by cost (all 0) count without reading rows.
CREATE INDEX IF NOT EXISTS queries_state_time ON queries (state, event_time, cost_usd, data_scanned_bytes, engine_ms) WHERE state <> '';
