-- The wide rollups' rows of one user, in time order: the pages of one user
-- break the user's queries down by a second dimension (databases,
-- workgroups, teams, shapes), which only the wide rollups keep, and a user
-- has few of their rows. Without these, every such breakdown read all of
-- the window's rows of every user.
CREATE INDEX rollup_day_user ON rollup_day (user, t);
CREATE INDEX rollup_hour_user ON rollup_hour (user, t);
CREATE INDEX rollup_shape_user ON rollup_shape (user, t);
