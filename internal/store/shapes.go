package store

import (
	"context"
	"database/sql"
	"fmt"
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

// ShapeDetails returns, for each shape asked, its distinct users and latest
// query in the filter's window, reading the (fingerprint, event_time) index
// of each; and the span of the window's queries. It never writes the
// database.
func (s *Store) ShapeDetails(ctx context.Context, sq ShapeQuery) (Shapes, error) {
	out := Shapes{Details: make(map[string]ShapeDetail, len(sq.Fingerprints))}
	where, args, err := sq.Filter.where()
	if err != nil {
		return out, err
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

	var first, last sql.NullInt64
	if err := tx.QueryRowContext(ctx, "SELECT MIN(event_time), MAX(event_time) FROM "+src+" WHERE "+where, with()...).Scan(&first, &last); err != nil {
		return out, fmt.Errorf("read the span of the window's queries: %w", err)
	}
	out.First, out.Last = fromMillis(first), fromMillis(last)

	for _, fp := range sq.Fingerprints {
		if fp == "" {
			continue
		}
		var d ShapeDetail
		if err := tx.QueryRowContext(ctx, "SELECT COUNT(DISTINCT user) FROM "+src+" WHERE fingerprint = ? AND "+where,
			with(fp)...).Scan(&d.Users); err != nil {
			return out, fmt.Errorf("count the users of shape %s: %w", fp, err)
		}
		var region, id string
		err := tx.QueryRowContext(ctx, "SELECT region, query_id FROM "+src+" WHERE fingerprint = ? AND "+where+
			" ORDER BY event_time DESC, region DESC, query_id DESC LIMIT 1", with(fp)...).Scan(&region, &id)
		if err == sql.ErrNoRows {
			continue
		}
		if err != nil {
			return out, fmt.Errorf("find the latest query of shape %s: %w", fp, err)
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
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("begin text update: %w", err)
	}
	defer tx.Rollback()
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
