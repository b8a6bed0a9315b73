-- Indexes that a fresh query enters only where it appends. Query ids are
-- random, so an index led by them takes each new query at a random page:
-- once the index outgrows the page cache, nearly every insert reads a page
-- and writes one. Collect paid that for the pending index and, although
-- their keys append, four more index entries per query for the listing's
-- filter indexes, while most queries leave the backlog within minutes.
--
-- The backlog's index is in event time order within each account-region:
-- enrich pages through it oldest first (Store.PendingQueries). The
-- dimensions and the status after the key let a listing filtered on one of
-- them count the pending queries without reading their rows.
DROP INDEX IF EXISTS queries_pending;
CREATE INDEX queries_pending ON queries (owner_account, region, event_time, query_id, user, team, database, workgroup, stats_status)
    WHERE stats_status = 'pending';

-- The listing's filter indexes hold the queries that left the backlog; the
-- listing reads the backlog's from queries_pending (Store.ListQueries).
DROP INDEX IF EXISTS queries_user_time;
DROP INDEX IF EXISTS queries_team_time;
DROP INDEX IF EXISTS queries_database_time;
DROP INDEX IF EXISTS queries_workgroup_time;
CREATE INDEX queries_user_time ON queries (user, event_time) WHERE stats_status <> 'pending';
CREATE INDEX queries_team_time ON queries (team, event_time) WHERE stats_status <> 'pending';
CREATE INDEX queries_database_time ON queries (database, event_time) WHERE stats_status <> 'pending';
CREATE INDEX queries_workgroup_time ON queries (workgroup, event_time) WHERE stats_status <> 'pending';
