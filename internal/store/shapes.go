package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"
)

// ShapeQuery asks for what a report of query shapes shows besides sums.
type ShapeQuery struct {
	Filter Filter
	// Rules, when set, are the rules the answer must reflect, as for
	// Aggregation.Rules: rows derived with other rules are re-derived on
	// read, never written back.
	Rules Deriver
	// Fingerprints are the shapes wanted; the empty one (text unknown) is
	// skipped.
	Fingerprints []string
}

// ShapeDetail is what the store knows of one shape in a window.
type ShapeDetail struct {
	// Users counts the distinct users that ran the shape.
	Users int64
	// Latest is the shape's latest query (by event time), derived with the
	// ShapeQuery's rules.
	Latest Query
}

// Shapes answers a ShapeQuery, from one snapshot of the database.
type Shapes struct {
	Details map[string]ShapeDetail
	// First and Last are the event times of the first and last query
	// matching the filter (of any shape); zero when none does.
	First, Last time.Time
}

// ShapeDetails returns, for each shape asked, its distinct users (from the
// rollups of shapes and users, as a report by shape and user reads them)
// and latest query (one read of the (fingerprint, event_time) index) in the
// filter's window; and the span of the window's queries. It never writes
// the database.
func (s *Store) ShapeDetails(ctx context.Context, sq ShapeQuery) (Shapes, error) {
	out := Shapes{Details: make(map[string]ShapeDetail, len(sq.Fingerprints))}
	where, args, err := sq.Filter.where()
	if err != nil {
		return out, err
	}
	users, err := s.shapeUsers(ctx, sq)
	if err != nil {
		return out, err
	}
	// When the filter keeps few rows, its own index finds them (see
	// gatherIndex): a lone MIN or MAX then reads an end of it, and the
	// latest query of each shape is among them; otherwise the time index
	// and each shape's own index are walked. A common shape's rows, or the
	// window's, can hold the filter's rare. The counts that choose take
	// connections of their own: they come before this method holds one,
	// so that pages reading shapes at once never all wait for another.
	gather := ""
	if !s.needsCompat() && s.listIndexed {
		if gather, err = s.gatherIndex(ctx, sq.Filter, listPart{phase: "1"}); err != nil {
			return out, err
		}
		if gather == "queries_fingerprint" {
			gather = ""
		}
	}
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return out, fmt.Errorf("read query shapes: %w", err)
	}
	defer conn.Close()
	tx, err := conn.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return out, fmt.Errorf("read query shapes: %w", err)
	}
	defer tx.Rollback()
	if err := s.readCompat(ctx, tx); err != nil {
		return out, err
	}
	src, srcArgs := "queries", []any(nil)
	if sq.Rules != nil {
		n, err := s.rederiveOnRead(ctx, tx, sq.Rules, sq.Filter)
		if err != nil {
			return out, err
		}
		if n > 0 {
			src = "(SELECT " + reportColumns + " FROM queries WHERE rules_fp = ? UNION ALL SELECT " + reportColumns + " FROM temp.rederived_queries)"
			srcArgs = []any{sq.Rules.Fingerprint()}
		}
	}
	with := func(extra ...any) []any {
		return append(append(append([]any{}, srcArgs...), extra...), args...)
	}

	if src != "queries" {
		gather = ""
	}

	// Two subqueries, not MIN and MAX in one: SQLite answers a lone MIN
	// or MAX from the end of an index, both together by a scan.
	var first, last sql.NullInt64
	span := "SELECT (SELECT MIN(event_time) FROM " + src + " WHERE " + where + "), (SELECT MAX(event_time) FROM " + src + " WHERE " + where + ")"
	spanArgs := append(with(), with()...)
	if gather != "" {
		minQ, minArgs := gathered(gather, "MIN(event_time) AS t", where, args)
		maxQ, maxArgs := gathered(gather, "MAX(event_time) AS t", where, args)
		span = "SELECT (SELECT MIN(t) FROM (" + minQ + ")), (SELECT MAX(t) FROM (" + maxQ + "))"
		spanArgs = append(minArgs, maxArgs...)
	}
	if err := tx.QueryRowContext(ctx, span, spanArgs...).Scan(&first, &last); err != nil {
		return out, fmt.Errorf("read the span of the window's queries: %w", err)
	}
	out.First, out.Last = fromMillis(first), fromMillis(last)

	bySrc := src
	var latest map[string][2]string
	if src == "queries" && !s.needsCompat() {
		bySrc = "queries INDEXED BY queries_fingerprint"
		if gather != "" {
			if latest, err = latestGathered(ctx, tx, gather, sq.Fingerprints, where, args); err != nil {
				return out, err
			}
		}
	}
	for _, fp := range sq.Fingerprints {
		if fp == "" {
			continue
		}
		d := ShapeDetail{Users: users[fp]}
		var region, id string
		if latest != nil {
			key, ok := latest[fp]
			if !ok {
				continue
			}
			region, id = key[0], key[1]
		} else {
			// The latest time from the end of the (fingerprint, event_time)
			// index, then the last key among the queries at that time: one
			// ORDER BY of the three would read every query of the shape.
			// Without statistics SQLite may prefer the time index for a
			// window and walk it back to the shape's last query, past those of
			// every other shape: the shape's index is named.
			err := tx.QueryRowContext(ctx, "SELECT region, query_id FROM "+bySrc+" WHERE fingerprint <> '' AND fingerprint = ? AND "+where+
				" AND event_time = (SELECT MAX(event_time) FROM "+bySrc+" WHERE fingerprint <> '' AND fingerprint = ? AND "+where+")"+
				" ORDER BY region DESC, query_id DESC LIMIT 1", append(with(fp), with(fp)...)...).Scan(&region, &id)
			if err == sql.ErrNoRows {
				continue
			}
			if err != nil {
				return out, fmt.Errorf("find the latest query of shape %s: %w", fp, err)
			}
		}
		qs, err := pageQueries(ctx, tx, "region = ? AND query_id = ?", []any{region, id})
		if err != nil || len(qs) == 0 {
			return out, fmt.Errorf("read the latest query %s/%s of shape %s: %w", region, id, fp, err)
		}
		d.Latest = qs[0]
		if sq.Rules != nil && d.Latest.RulesFingerprint != sq.Rules.Fingerprint() {
			sq.Rules.Query(&d.Latest)
		}
		out.Details[fp] = d
	}
	return out, nil
}

// gathered selects cols from the rows matching where (with args) by the
// filter index named index: its own rows, and, when it leaves out the
// backlog, the backlog's rows from queries_pending (cols of an aggregate
// then give one row for each).
func gathered(index, cols, where string, args []any) (string, []any) {
	fi := filterIndexNamed(index)
	q := "SELECT " + cols + " FROM queries INDEXED BY " + index + " WHERE " + where
	if fi.cond != "" {
		q += " AND " + fi.cond
	}
	all := append([]any(nil), args...)
	if fi.backlog {
		q += " UNION ALL SELECT " + cols + " FROM queries INDEXED BY queries_pending WHERE " + where + " AND " + isPending
		all = append(all, args...)
	}
	return q, all
}

// latestGathered finds the latest query (region and id) of each of the
// shapes fps among the rows matching where, gathered by index.
func latestGathered(ctx context.Context, tx *sql.Tx, index string, fps []string, where string, args []any) (map[string][2]string, error) {
	var in []any
	for _, fp := range fps {
		if fp != "" {
			in = append(in, fp)
		}
	}
	out := make(map[string][2]string, len(in))
	if len(in) == 0 {
		return out, nil
	}
	q, all := gathered(index, "fingerprint, event_time, region, query_id",
		where+" AND fingerprint IN (?"+strings.Repeat(", ?", len(in)-1)+")", append(append([]any(nil), args...), in...))
	rows, err := tx.QueryContext(ctx, "SELECT fingerprint, region, query_id FROM (SELECT fingerprint, region, query_id, "+
		"row_number() OVER (PARTITION BY fingerprint ORDER BY event_time DESC, region DESC, query_id DESC) AS r FROM ("+q+")) WHERE r = 1", all...)
	if err != nil {
		return nil, fmt.Errorf("find the latest queries of query shapes: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var fp, region, id string
		if err := rows.Scan(&fp, &region, &id); err != nil {
			return nil, fmt.Errorf("find the latest queries of query shapes: %w", err)
		}
		out[fp] = [2]string{region, id}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("find the latest queries of query shapes: %w", err)
	}
	return out, nil
}

// shapeUsers counts the distinct users of each shape of sq in its filter:
// the groups of a report by shape and then user, restricted to those
// shapes.
func (s *Store) shapeUsers(ctx context.Context, sq ShapeQuery) (map[string]int64, error) {
	var fps []string
	for _, fp := range sq.Fingerprints {
		if fp != "" {
			fps = append(fps, fp)
		}
	}
	out := make(map[string]int64, len(fps))
	if len(fps) == 0 {
		return out, nil
	}
	// The shapes come from a report under this filter, so each matches
	// the filter's own fingerprint patterns, if any: the list replaces them.
	f := sq.Filter
	f.Match = make(map[string][]string, len(sq.Filter.Match)+1)
	for k, v := range sq.Filter.Match {
		f.Match[k] = v
	}
	f.Match["fingerprint"] = fps
	a := Aggregation{By: "fingerprint", Then: "user", Filter: f, Sums: []Sum{SumQueries}}
	if sq.Rules != nil {
		a.Rules = sq.Rules
	}
	res, err := s.Aggregate(ctx, a)
	if err != nil {
		return nil, fmt.Errorf("count the users of query shapes: %w", err)
	}
	seen := make(map[[2]string]bool, len(res.Groups))
	for _, g := range res.Groups {
		// A user's queries in several regions are one user.
		if k := [2]string{g.Key, g.Key2}; !seen[k] && g.Sums[0] > 0 {
			seen[k] = true
			out[g.Key]++
		}
	}
	return out, nil
}

// QuerySums computes sums over one query, as Aggregate's SQL (sumSQL)
// computes them over many: the metrics of a report row that is one query.
func QuerySums(q *Query, sums []Sum) ([]int64, error) {
	out := make([]int64, len(sums))
	final := q.StatsStatus == StatusFinal
	validDPU := q.Stats.DPUCount > 0 && q.Stats.DPUCount <= 1e6
	b := func(ok bool) int64 {
		if ok {
			return 1
		}
		return 0
	}
	for i, sum := range sums {
		var v int64
		switch sum {
		case SumQueries:
			v = 1
		case SumSucceeded:
			v = b(q.Stats.State == "SUCCEEDED")
		case SumFailed:
			v = b(q.Stats.State == "FAILED")
		case SumCancelled:
			v = b(q.Stats.State == "CANCELLED")
		case SumPending:
			v = b(q.StatsStatus == StatusPending)
		case SumNoStats:
			v = b(q.StatsStatus == StatusNoStats)
		case SumWithStats:
			v = b(final)
		case SumBytesScanned:
			if final {
				v = q.Stats.DataScannedBytes
			}
		case SumBilledBytes:
			v = q.BilledBytes
		case SumEngineMs:
			if final {
				v = q.Stats.EngineMs
			}
		case SumProvisioned:
			v = b(q.Provisioned)
		case SumDPUMillis:
			if q.Provisioned && final && validDPU {
				v = dpuMillis(q.Stats.DPUCount, q.Stats.EngineMs)
			}
		case SumProvisionedNoDPU:
			v = b(q.Provisioned && final && !validDPU)
		default:
			return nil, fmt.Errorf("unknown report sum %q", sum)
		}
		out[i] = v
	}
	return out, nil
}

// dpuMillis is DPU count × engine milliseconds, rounded, with the engine
// time clamped as sumSQL clamps it.
func dpuMillis(dpu float64, engineMs int64) int64 {
	ms := float64(min(max(engineMs, 0), 1_000_000_000_000))
	v := dpu * ms
	// SQLite's round() rounds half away from zero; v is never negative.
	return int64(v + 0.5)
}

// UpdateTexts rewrites the stored query texts (CloudTrail's and Athena's)
// of queries whose texts the caller changed, as redaction does when it is
// turned on after the rows were stored; only where the statistics are
// still those the caller read, as UpdateDerived. It returns how many rows
// it changed.
func (s *Store) UpdateTexts(ctx context.Context, qs []Query) (int, error) {
	if len(qs) == 0 {
		return 0, nil
	}
	tx, done, err := s.beginUpdate(ctx)
	if err != nil {
		return 0, fmt.Errorf("begin text update: %w", err)
	}
	defer done()
	stmt, err := tx.PrepareContext(ctx, `UPDATE queries SET ct_query_text = ?, query_text = ?
		WHERE region = ? AND query_id = ? AND stats_status = ? AND ask_attempts = ? AND (ct_query_text <> ? OR query_text <> ?)`)
	if err != nil {
		return 0, fmt.Errorf("prepare text update: %w", err)
	}
	defer stmt.Close()
	changed := 0
	for i := range qs {
		q := &qs[i]
		r, err := stmt.ExecContext(ctx, q.CTQueryText, q.Stats.QueryText, q.Region, q.QueryID, q.StatsStatus, q.AskAttempts, q.CTQueryText, q.Stats.QueryText)
		if err != nil {
			return 0, fmt.Errorf("update the text of query %s/%s: %w", q.Region, q.QueryID, err)
		}
		n, _ := r.RowsAffected()
		changed += int(n)
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("commit text update: %w", err)
	}
	return changed, nil
}

// ShapeTotal is one query shape's sums over the whole stored history: no
// window holds more of them.
type ShapeTotal struct {
	Fingerprint string
	BilledBytes int64
	DPUMillis   int64
}

// shapeTotalsVersion is the schema version that added shape_totals.
const shapeTotalsVersion = 10

// HasShapeTotals reports whether the store keeps every shape's totals
// (ShapeTotals).
func (s *Store) HasShapeTotals() bool { return s.version >= shapeTotalsVersion }

// ShapeTotals returns up to limit shapes in descending order of their
// total billed bytes (by "billed") or DPU time (by "dpu", only shapes with
// some), ties in fingerprint order, after the shape after (nil: from the
// top). Each page is a range of the order's index.
func (s *Store) ShapeTotals(ctx context.Context, by string, after *ShapeTotal, limit int) ([]ShapeTotal, error) {
	if !s.HasShapeTotals() {
		return nil, fmt.Errorf("shape totals: the database's schema (version %d) has none", s.version)
	}
	var col, index, cond string
	switch by {
	case "billed":
		col, index, cond = "billed_bytes", "shape_totals_billed", "1"
	case "dpu":
		col, index, cond = "dpu_ms", "shape_totals_dpu", "dpu_ms > 0"
	default:
		return nil, fmt.Errorf("shape totals: unknown order %q", by)
	}
	args := []any{}
	if after != nil {
		v := after.BilledBytes
		if by == "dpu" {
			v = after.DPUMillis
		}
		cond += " AND (" + col + " < ? OR (" + col + " = ? AND fingerprint > ?))"
		args = append(args, v, v, after.Fingerprint)
	}
	rows, err := s.db.QueryContext(ctx, "SELECT fingerprint, billed_bytes, dpu_ms FROM shape_totals INDEXED BY "+index+
		" WHERE "+cond+" ORDER BY "+col+" DESC, fingerprint LIMIT ?", append(args, limit)...)
	if err != nil {
		return nil, fmt.Errorf("shape totals: %w", err)
	}
	defer rows.Close()
	var out []ShapeTotal
	for rows.Next() {
		var t ShapeTotal
		if err := rows.Scan(&t.Fingerprint, &t.BilledBytes, &t.DPUMillis); err != nil {
			return nil, fmt.Errorf("shape totals: %w", err)
		}
		out = append(out, t)
	}
	return out, rows.Err()
}
