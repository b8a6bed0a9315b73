package store

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
)

// Sorts are the orders a query listing can be read in, each newest or
// largest first, with the column it orders by.
var Sorts = map[string]string{
	"time":   "event_time",
	"cost":   "cost_usd",
	"bytes":  "data_scanned_bytes",
	"engine": "engine_ms",
}

// DefaultListLimit and MaxListLimit bound a page of a query listing.
const (
	DefaultListLimit = 50
	MaxListLimit     = 1000
)

// ListOptions select a page of the query listing.
type ListOptions struct {
	Filter Filter
	// Sort is a key of Sorts; empty means "time". Rows come largest first;
	// ties are broken by region and query id, so pages never overlap.
	Sort string
	// Cursor continues a listing where the page that returned it ended;
	// empty starts at the top. It is opaque to callers.
	Cursor string
	// Limit is the page size: 0 means DefaultListLimit; at most MaxListLimit.
	Limit int
}

// QueryPage is one page of a query listing.
type QueryPage struct {
	Queries []Query
	// Next is the cursor of the following page; empty on the last page.
	Next string
}

// ErrBadCursor is returned for a cursor that no listing returned.
var ErrBadCursor = errors.New("invalid cursor")

// cursor is where a page ended: the sort value and key of its last row.
type cursor struct {
	Sort   string  `json:"s"`
	Value  float64 `json:"v"`
	Region string  `json:"r"`
	ID     string  `json:"q"`
}

func (c cursor) encode() string {
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeCursor(s, sort string) (cursor, error) {
	var c cursor
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) > 4096 {
		return c, ErrBadCursor
	}
	if err := json.Unmarshal(b, &c); err != nil || c.Sort != sort || math.IsNaN(c.Value) || math.IsInf(c.Value, 0) {
		return c, ErrBadCursor
	}
	return c, nil
}

// ListQueries returns a page of the queries matching o.Filter in o.Sort
// order. Paging is by key (the last row's sort value, region and id), so a
// page costs the rows it returns, not those before it, and rows inserted
// meanwhile never shift a page.
//
// A sort by an amount (cost, bytes, engine time) lists the rows above 0
// first, largest first, then the rows at 0 (amounts are never negative; one
// that were would list as 0) in key order; a sort by time lists newest
// first. Each of these parts is read by the cheaper of two plans: walk the
// part's index in listing order and filter, or gather the rows of the most
// selective filter (one user, team, database, workgroup, state, shape, or
// the time window) from its index and sort them. Which one is decided by
// counting, within a bound, what each filter matches.
func (s *Store) ListQueries(ctx context.Context, o ListOptions) (QueryPage, error) {
	var page QueryPage
	if o.Sort == "" {
		o.Sort = "time"
	}
	col, ok := Sorts[o.Sort]
	if !ok {
		return page, fmt.Errorf("unknown sort %q", o.Sort)
	}
	limit := o.Limit
	switch {
	case limit == 0:
		limit = DefaultListLimit
	case limit < 0 || limit > MaxListLimit:
		return page, fmt.Errorf("page size %d out of range 1..%d", limit, MaxListLimit)
	}
	where, args, err := o.Filter.where()
	if err != nil {
		return page, err
	}
	var c *cursor
	if o.Cursor != "" {
		cur, err := decodeCursor(o.Cursor, o.Sort)
		if err != nil {
			return page, err
		}
		c = &cur
	}
	failures := s.version >= costlyFailuresVersion && onlyFailures(o.Filter)
	for _, part := range listParts(o.Sort, col, c, failures) {
		if len(page.Queries) > limit {
			break
		}
		qs, err := s.listPart(ctx, o.Filter, where, args, part, limit+1-len(page.Queries))
		if err != nil {
			return QueryPage{}, fmt.Errorf("list queries by %s: %w", o.Sort, err)
		}
		page.Queries = append(page.Queries, qs...)
	}
	if len(page.Queries) > limit {
		page.Queries = page.Queries[:limit]
		last := &page.Queries[limit-1]
		page.Next = cursor{Sort: o.Sort, Value: sortValue(last, o.Sort), Region: last.Region, ID: last.QueryID}.encode()
	}
	return page, nil
}

// listPart is one part of a listing: the rows of cond (with args), in the
// order of orderBy, read by walking index when no filter is more
// selective.
type listPart struct {
	cond    string
	args    []any
	orderBy string
	index   string
	// phase is cond without the cursor: what a filter's count must also
	// satisfy, when the filter's index holds the columns to tell.
	phase string
	// amount is the column the part lists in descending order, "" for
	// one in time or key order.
	amount string
}

// listParts are the parts of a listing by sort (column col) after cursor c
// (nil: from the top). failures tells that the filter keeps failed and
// cancelled queries only, and the store indexes those that cost money.
func listParts(sort, col string, c *cursor, failures bool) []listPart {
	if sort == "time" {
		p := listPart{cond: "1", orderBy: "event_time DESC, region, query_id", index: "queries_event_time", phase: "1"}
		if c != nil {
			p.cond = "event_time <= ? AND (event_time < ? OR (region, query_id) > (?, ?))"
			p.args = []any{int64(c.Value), int64(c.Value), c.Region, c.ID}
		}
		return []listPart{p}
	}
	above := listPart{cond: col + " > 0", orderBy: col + " DESC, region, query_id", index: sortIndexes[sort], phase: col + " > 0", amount: col}
	if sort == "cost" && failures {
		// The index of costly failures, whose condition is repeated for
		// SQLite to see that it holds.
		above.cond += " AND " + costlyFailure
		above.phase += " AND " + costlyFailure
		above.index = "queries_costly_failures"
	}
	zero := listPart{cond: "NOT (" + col + " > 0)", orderBy: "region, query_id", index: "sqlite_autoindex_queries_1", phase: "NOT (" + col + " > 0)"}
	switch {
	case c == nil:
		return []listPart{above, zero}
	case c.Value > 0:
		above.cond += " AND " + col + " <= ? AND (" + col + " < ? OR (region, query_id) > (?, ?))"
		above.args = []any{c.Value, c.Value, c.Region, c.ID}
		return []listPart{above, zero}
	default:
		zero.cond += " AND (region, query_id) > (?, ?)"
		zero.args = []any{c.Region, c.ID}
		return []listPart{zero}
	}
}

// costlyFailuresVersion is the version that indexes the failed and
// cancelled queries that cost money (migration 0020).
const costlyFailuresVersion = 20

// costlyFailure is the condition of queries_costly_failures beside the
// cost: it holds for every row of a filter that onlyFailures accepts.
const costlyFailure = "state IN ('FAILED', 'CANCELLED')"

// onlyFailures reports whether f keeps failed and cancelled queries only.
func onlyFailures(f Filter) bool {
	states := f.Match["state"]
	if len(states) == 0 {
		return false
	}
	for _, v := range states {
		if v != "FAILED" && v != "CANCELLED" {
			return false
		}
	}
	return true
}

// sortIndexes are the indexes (migration 0006) that hold the rows above 0
// of each amount in listing order.
var sortIndexes = map[string]string{
	"cost":   "queries_by_cost",
	"bytes":  "queries_by_bytes",
	"engine": "queries_by_engine",
}

// filterIndexes are the indexes that hold the rows of one value of a
// dimension in time order, with the condition a partial one needs
// repeated in the query, whether it holds the amounts (so a count can
// tell a part's rows without reading them), and whether it leaves out the
// backlog (migration 0008): the pending rows of its dimension are then
// found in queries_pending, which holds the dimensions too.
var filterIndexes = map[string]filterIndex{
	"user":        {"queries_user_time", notPending, false, true},
	"team":        {"queries_team_time", notPending, false, true},
	"database":    {"queries_database_time", notPending, false, true},
	"workgroup":   {"queries_workgroup_time", notPending, false, true},
	"state":       {"queries_state_time", "state <> ''", true, false},
	"fingerprint": {"queries_fingerprint", "fingerprint <> ''", false, false},
}

type filterIndex struct {
	index, cond      string
	amounts, backlog bool
}

// notPending and isPending split the rows between a filter index that
// leaves out the backlog and the backlog's own index, queries_pending. (On
// a database older than migration 0008 the filter indexes hold every row;
// the split is then merely redundant.)
const (
	notPending = "stats_status <> 'pending'"
	isPending  = "stats_status = 'pending'"
)

// defaultGatherBound is how many rows a filter may match for its rows to
// be gathered and sorted rather than found by walking a sort index. Past
// it, the filter keeps at least that many rows of the store, so a walk
// finds a page among few rows per row listed, unless filter and order are
// at odds. (Store.gatherBound holds it; tests lower it to exercise walks.)
const defaultGatherBound = 20_000

// listPart reads up to n rows of part matching the filter (where, args).
func (s *Store) listPart(ctx context.Context, f Filter, where string, args []any, part listPart, n int) ([]Query, error) {
	q := "SELECT " + queryColumns + " FROM queries WHERE " + where + " AND " + part.cond
	armArgs := append(append([]any(nil), args...), part.args...)
	all := armArgs
	if s.listIndexed {
		index, err := s.gatherIndex(ctx, f, part)
		if err != nil {
			return nil, err
		}
		if index == "" {
			index = part.index
		}
		fi := filterIndexNamed(index)
		q = "SELECT " + queryColumns + " FROM queries INDEXED BY " + index + " WHERE " + where + " AND " + part.cond
		if fi.cond != "" {
			q += " AND " + fi.cond
		}
		if fi.amounts && part.amount != "" && onlyIndexed(f, fi) {
			// The index holds every column of the filter and the amount:
			// the n-th largest amount of its rows, read from the index
			// alone, bounds the page, so that only the page's rows (and
			// ties) are read from the table rather than every row the
			// filter keeps (the overview's costly failures of a week: a
			// few thousand).
			tq := "SELECT " + part.amount + " FROM queries INDEXED BY " + index + " WHERE " + where + " AND " + part.cond + " AND " + fi.cond +
				" ORDER BY " + part.amount + " DESC LIMIT 1 OFFSET ?"
			var bound any // as stored: an integer past 2^53 stays exact
			switch err := s.db.QueryRowContext(ctx, tq, append(append([]any(nil), armArgs...), n-1)...).Scan(&bound); {
			case err == nil:
				q += " AND " + part.amount + " >= ?"
				armArgs = append(armArgs, bound)
				all = armArgs
			case !errors.Is(err, sql.ErrNoRows):
				return nil, err
			}
		}
		if fi.backlog {
			// The filter's rows out of the backlog, and those in it.
			q += " UNION ALL SELECT " + queryColumns + " FROM queries INDEXED BY queries_pending WHERE " + where + " AND " + part.cond + " AND " + isPending
			all = append(append([]any(nil), armArgs...), armArgs...)
		}
	}
	all = append(all, n)
	q += " ORDER BY " + part.orderBy + " LIMIT ?"
	rows, err := s.db.QueryContext(ctx, q, all...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Query
	for rows.Next() {
		q, err := scanQuery(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, q)
	}
	return out, rows.Err()
}

// onlyIndexed reports whether fi's index holds every column f filters on:
// the time, and its own dimension only.
func onlyIndexed(f Filter, fi filterIndex) bool {
	for dim, vals := range f.Match {
		if len(vals) > 0 && filterIndexes[dim].index != fi.index {
			return false
		}
	}
	return true
}

// filterIndexNamed is the filter index called index; for any other index
// the zero filterIndex (no condition, every row).
func filterIndexNamed(index string) filterIndex {
	for _, fi := range filterIndexes {
		if fi.index == index {
			return fi
		}
	}
	return filterIndex{}
}

// gatherIndex returns the index of the filter that matches fewest rows,
// when that is under gatherBound, else "" (walk the part's own index).
// Only exact values count as filters here: a glob may match a value a
// partial index leaves out.
func (s *Store) gatherIndex(ctx context.Context, f Filter, part listPart) (string, error) {
	best, bestCount := "", s.gatherBound
	window := Filter{Since: f.Since, Until: f.Until}
	for _, dim := range sortedDims(f.Match) {
		fi, ok := filterIndexes[dim]
		vals := f.Match[dim]
		if !ok || len(vals) == 0 || !allExact(vals) {
			continue
		}
		one := window
		one.Match = map[string][]string{dim: vals}
		base, args, err := one.where()
		if err != nil {
			return "", err
		}
		cond := base
		if fi.cond != "" {
			cond += " AND " + fi.cond
		}
		if fi.amounts {
			cond += " AND " + part.phase
		}
		n, err := s.countUpTo(ctx, fi.index, cond, args, bestCount)
		if err != nil {
			return "", err
		}
		if fi.backlog && n < bestCount {
			// The filter's rows in the backlog count too.
			k, err := s.countUpTo(ctx, "queries_pending", base+" AND "+isPending, args, bestCount-n)
			if err != nil {
				return "", err
			}
			n += k
		}
		if n < bestCount {
			best, bestCount = fi.index, n
		}
	}
	if (!f.Since.IsZero() || !f.Until.IsZero()) && part.index != "queries_event_time" {
		cond, args, err := window.where()
		if err != nil {
			return "", err
		}
		n, err := s.countUpTo(ctx, "queries_event_time", cond, args, bestCount)
		if err != nil {
			return "", err
		}
		if n < bestCount {
			best = "queries_event_time"
		}
	}
	return best, nil
}

// countUpTo counts the rows of index matching cond, stopping at bound.
func (s *Store) countUpTo(ctx context.Context, index, cond string, args []any, bound int) (int, error) {
	var n int
	err := s.db.QueryRowContext(ctx, "SELECT count(*) FROM (SELECT 1 FROM queries INDEXED BY "+index+" WHERE "+cond+" LIMIT ?)",
		append(append([]any(nil), args...), bound)...).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count rows of %s: %w", index, err)
	}
	return n, nil
}

func sortedDims(m map[string][]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func allExact(vals []string) bool {
	for _, v := range vals {
		if v == "" || strings.ContainsAny(v, "*?[") {
			return false
		}
	}
	return true
}

// sortValue is q's value of the column sort orders by; amounts below 0
// (never stored) list as 0.
func sortValue(q *Query, sort string) float64 {
	switch sort {
	case "cost":
		return max(q.CostUSD, 0)
	case "bytes":
		return float64(max(q.Stats.DataScannedBytes, 0))
	case "engine":
		return float64(max(q.Stats.EngineMs, 0))
	default:
		return float64(millis(q.EventTime))
	}
}

// QueriesByID returns the stored queries with the given execution id in any
// region: one, normally (ids are UUIDs), none when it is not stored. It
// probes the primary key once per stored region, stepping from region to
// region through the key itself, so it needs no index of its own.
func (s *Store) QueriesByID(ctx context.Context, queryID string) ([]Query, error) {
	var out []Query
	region := ""
	for {
		var next sql.NullString
		if err := s.db.QueryRowContext(ctx, "SELECT MIN(region) FROM queries WHERE region > ?", region).Scan(&next); err != nil {
			return nil, fmt.Errorf("look up query %s: %w", queryID, err)
		}
		if !next.Valid {
			return out, nil
		}
		region = next.String
		q, ok, err := s.GetQuery(ctx, region, queryID)
		if err != nil {
			return nil, fmt.Errorf("look up query %s: %w", queryID, err)
		}
		if ok {
			out = append(out, q)
		}
	}
}
