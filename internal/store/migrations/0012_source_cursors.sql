-- A source's own progress beyond one checkpoint per object: the last key
-- listed under an S3 prefix, an event-time watermark of LookupEvents, a
-- queue's receipts. Each source keys and encodes its values as it needs;
-- a value is written in the same transaction as the rows it covers, so a
-- crash never leaves progress ahead of the rows. Keys are slash-separated
-- paths, so that a source reads the cursors under one prefix at a time.
CREATE TABLE source_cursors (
    source     TEXT    NOT NULL,
    key        TEXT    NOT NULL,
    value      TEXT    NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (source, key)
) WITHOUT ROWID;
