-- The periods of the two rollups a server keeps in memory that changed,
-- each with the count of rollup_changes (migration 0019) at its last
-- change: a server whose copy was loaded at count c reads again only the
-- periods changed after c (an hour of rollup_hour, a day of rollup_shape)
-- rather than every row. The same triggers keep both, in the transaction
-- that writes the rows; a period keeps one row, so the table grows with
-- the history's hours, not with its writes.
--
-- A later migration that rebuilds either rollup must recreate these
-- triggers.
CREATE TABLE rollup_periods (
    shape INTEGER NOT NULL, -- 0: rollup_hour, 1: rollup_shape
    t INTEGER NOT NULL,
    n INTEGER NOT NULL,
    PRIMARY KEY (shape, t)
) WITHOUT ROWID;

DROP TRIGGER rollup_hour_changes_insert;
DROP TRIGGER rollup_hour_changes_update;
DROP TRIGGER rollup_hour_changes_delete;
DROP TRIGGER rollup_shape_changes_insert;
DROP TRIGGER rollup_shape_changes_update;
DROP TRIGGER rollup_shape_changes_delete;

CREATE TRIGGER rollup_hour_changes_insert AFTER INSERT ON rollup_hour BEGIN
    UPDATE rollup_changes SET n = n + 1;
    INSERT INTO rollup_periods (shape, t, n) VALUES (0, NEW.t, (SELECT n FROM rollup_changes))
        ON CONFLICT (shape, t) DO UPDATE SET n = excluded.n;
END;

CREATE TRIGGER rollup_hour_changes_update AFTER UPDATE ON rollup_hour BEGIN
    UPDATE rollup_changes SET n = n + 1;
    INSERT INTO rollup_periods (shape, t, n) VALUES (0, OLD.t, (SELECT n FROM rollup_changes))
        ON CONFLICT (shape, t) DO UPDATE SET n = excluded.n;
    INSERT INTO rollup_periods (shape, t, n) VALUES (0, NEW.t, (SELECT n FROM rollup_changes))
        ON CONFLICT (shape, t) DO UPDATE SET n = excluded.n;
END;

CREATE TRIGGER rollup_hour_changes_delete AFTER DELETE ON rollup_hour BEGIN
    UPDATE rollup_changes SET n = n + 1;
    INSERT INTO rollup_periods (shape, t, n) VALUES (0, OLD.t, (SELECT n FROM rollup_changes))
        ON CONFLICT (shape, t) DO UPDATE SET n = excluded.n;
END;

CREATE TRIGGER rollup_shape_changes_insert AFTER INSERT ON rollup_shape BEGIN
    UPDATE rollup_changes SET n = n + 1;
    INSERT INTO rollup_periods (shape, t, n) VALUES (1, NEW.t, (SELECT n FROM rollup_changes))
        ON CONFLICT (shape, t) DO UPDATE SET n = excluded.n;
END;

CREATE TRIGGER rollup_shape_changes_update AFTER UPDATE ON rollup_shape BEGIN
    UPDATE rollup_changes SET n = n + 1;
    INSERT INTO rollup_periods (shape, t, n) VALUES (1, OLD.t, (SELECT n FROM rollup_changes))
        ON CONFLICT (shape, t) DO UPDATE SET n = excluded.n;
    INSERT INTO rollup_periods (shape, t, n) VALUES (1, NEW.t, (SELECT n FROM rollup_changes))
        ON CONFLICT (shape, t) DO UPDATE SET n = excluded.n;
END;

CREATE TRIGGER rollup_shape_changes_delete AFTER DELETE ON rollup_shape BEGIN
    UPDATE rollup_changes SET n = n + 1;
    INSERT INTO rollup_periods (shape, t, n) VALUES (1, OLD.t, (SELECT n FROM rollup_changes))
        ON CONFLICT (shape, t) DO UPDATE SET n = excluded.n;
END;
