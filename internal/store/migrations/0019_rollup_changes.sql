-- A count of the changes to the two rollups a server keeps in memory
-- (rollup_hour and rollup_shape, which between them answer every report the
-- rollups answer). Every row written to or deleted from either table moves
-- it, in the transaction that writes the row, whichever statement or
-- trigger does. A server reads the count in the read transaction of a
-- report: its copy answers only when it was loaded at that same count, so
-- a report never mixes a copy with a database that has moved on.
--
-- A later migration that rebuilds either table must recreate these
-- triggers.
CREATE TABLE rollup_changes (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    n INTEGER NOT NULL
);
INSERT INTO rollup_changes (id, n) VALUES (1, 0);

CREATE TRIGGER rollup_hour_changes_insert AFTER INSERT ON rollup_hour BEGIN
    UPDATE rollup_changes SET n = n + 1;
END;

CREATE TRIGGER rollup_hour_changes_update AFTER UPDATE ON rollup_hour BEGIN
    UPDATE rollup_changes SET n = n + 1;
END;

CREATE TRIGGER rollup_hour_changes_delete AFTER DELETE ON rollup_hour BEGIN
    UPDATE rollup_changes SET n = n + 1;
END;

CREATE TRIGGER rollup_shape_changes_insert AFTER INSERT ON rollup_shape BEGIN
    UPDATE rollup_changes SET n = n + 1;
END;

CREATE TRIGGER rollup_shape_changes_update AFTER UPDATE ON rollup_shape BEGIN
    UPDATE rollup_changes SET n = n + 1;
END;

CREATE TRIGGER rollup_shape_changes_delete AFTER DELETE ON rollup_shape BEGIN
    UPDATE rollup_changes SET n = n + 1;
END;
