-- The failed and cancelled queries that cost money, most expensive first:
-- the overview lists them for any filter, and a busy user's or team's
-- costly failures are too rare among their queries, and their queries too
-- many among all, for either of the listing's other plans (walk the cost
-- index and filter, or gather the filter's rows and sort) to find a page
-- quickly. A few percent of the rows.
CREATE INDEX queries_costly_failures ON queries (cost_usd DESC, region, query_id)
    WHERE cost_usd > 0 AND state IN ('FAILED', 'CANCELLED');
