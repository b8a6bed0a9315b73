-- Facts about the database as a whole, one row each: "prices" holds the
-- fingerprint of the prices the stored per-query costs were computed with,
-- so that a price change reprices them once (Store.Reprice). A database
-- without the row has never been priced: the costs migration 0004 added
-- are all 0 until a command that writes prices them.
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;
