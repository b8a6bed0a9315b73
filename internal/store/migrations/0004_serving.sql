-- What serving needs of every query: its shape (fingerprint of the
-- normalized query text, set once the text is known) and its own cost in
-- dollars, so that "most expensive" is an ORDER BY. Both are derived
-- columns: the rules that set user and team set them too.
ALTER TABLE queries ADD COLUMN fingerprint TEXT NOT NULL DEFAULT '';
ALTER TABLE queries ADD COLUMN cost_usd REAL NOT NULL DEFAULT 0;
-- Only queries that cost something are ranked by cost, and only queries
-- whose text is known have a shape: partial indexes that a query fresh from
-- CloudTrail (pending, no text yet) does not enter, so collect does not pay
-- for them.
CREATE INDEX queries_cost ON queries (cost_usd) WHERE cost_usd > 0;
CREATE INDEX queries_fingerprint ON queries (fingerprint, event_time) WHERE fingerprint <> '';
