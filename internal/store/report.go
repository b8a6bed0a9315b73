package store

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"
)

// Dimensions are the columns reports group and filter by, mapped to SQL.
// Only these names ever reach a query string; values are always bound.
var Dimensions = map[string]string{
	"user":           "user",
	"role":           "role",
	"team":           "team",
	"database":       "database",
	"workgroup":      "workgroup",
	"account":        "account",
	"region":         "region",
	"day":            "day",
	"state":          "state",
	"statement_type": "statement_type",
	"principal_arn":  "principal_arn",
}

// Filter narrows a report: a half-open time window on the CloudTrail event
// time, and per-dimension values (globs with * and ?; several values of one
// dimension are alternatives, different dimensions must all match).
type Filter struct {
	Since, Until time.Time
	Match        map[string][]string
}

func (f *Filter) where() (string, []any, error) {
	var conds []string
	var args []any
	if !f.Since.IsZero() {
		conds = append(conds, "event_time >= ?")
		args = append(args, millis(f.Since))
	}
	if !f.Until.IsZero() {
		conds = append(conds, "event_time < ?")
		args = append(args, millis(f.Until))
	}
	keys := make([]string, 0, len(f.Match))
	for k := range f.Match {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		col, ok := Dimensions[k]
		if !ok {
			return "", nil, fmt.Errorf("unknown filter key %q", k)
		}
		var alts []string
		for _, v := range f.Match[k] {
			if strings.ContainsAny(v, "*?[") {
				alts = append(alts, col+" GLOB ?")
			} else {
				alts = append(alts, col+" = ?")
			}
			args = append(args, v)
		}
		if len(alts) > 0 {
			conds = append(conds, "("+strings.Join(alts, " OR ")+")")
		}
	}
	if len(conds) == 0 {
		return "1", nil, nil
	}
	return strings.Join(conds, " AND "), args, nil
}

// Group is one report cell: the sums of the queries sharing a key, split by
// region because the price per byte differs by region. Bytes and engine time
// count only queries with final statistics: a running query's partial
// figures would change under the reader's feet.
type Group struct {
	Key          string
	Region       string
	Queries      int64
	Succeeded    int64
	Failed       int64
	Cancelled    int64
	BytesScanned int64
	BilledBytes  int64
	EngineMs     int64
	NoStats      int64
	WithStats    int64 // queries whose final statistics are known
	Provisioned  int64 // queries on provisioned-capacity workgroups
	ProvEngineMs int64 // engine time of those
}

// Aggregate sums queries matching f, grouped by the dimension by and region.
func (s *Store) Aggregate(ctx context.Context, by string, f Filter) ([]Group, error) {
	col, ok := Dimensions[by]
	if !ok {
		return nil, fmt.Errorf("unknown report dimension %q", by)
	}
	where, args, err := f.where()
	if err != nil {
		return nil, err
	}
	q := `SELECT ` + col + `, region, COUNT(*),
		SUM(state = 'SUCCEEDED'), SUM(state = 'FAILED'), SUM(state = 'CANCELLED'),
		SUM(CASE WHEN stats_status = 'final' THEN data_scanned_bytes ELSE 0 END), SUM(billed_bytes),
		SUM(CASE WHEN stats_status = 'final' THEN engine_ms ELSE 0 END),
		SUM(stats_status = 'no_stats'), SUM(stats_status = 'final'),
		SUM(provisioned), SUM(CASE WHEN provisioned AND stats_status = 'final' THEN engine_ms ELSE 0 END)
		FROM queries WHERE ` + where + ` GROUP BY 1, 2`
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("aggregate by %s: %w", by, err)
	}
	defer rows.Close()
	var out []Group
	for rows.Next() {
		var g Group
		if err := rows.Scan(&g.Key, &g.Region, &g.Queries, &g.Succeeded, &g.Failed, &g.Cancelled,
			&g.BytesScanned, &g.BilledBytes, &g.EngineMs, &g.NoStats, &g.WithStats, &g.Provisioned, &g.ProvEngineMs); err != nil {
			return nil, fmt.Errorf("aggregate by %s: %w", by, err)
		}
		out = append(out, g)
	}
	return out, rows.Err()
}

// RejectedCount counts rejected submissions in the window of f (dimension
// filters that rejected submissions have: user, role, team, account, region,
// database, workgroup, day).
func (s *Store) RejectedCount(ctx context.Context, f Filter) (int64, error) {
	g := Filter{Since: f.Since, Until: f.Until, Match: map[string][]string{}}
	for k, v := range f.Match {
		switch k {
		case "user", "role", "team", "account", "region", "database", "workgroup", "day", "principal_arn":
			g.Match[k] = v
		default:
			// A filter on query statistics (state, statement type) matches no
			// rejected submission.
			return 0, nil
		}
	}
	where, args, err := g.where()
	if err != nil {
		return 0, err
	}
	var n int64
	if err := s.db.QueryRowContext(ctx, "SELECT COUNT(*) FROM rejected WHERE "+where, args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("count rejected submissions: %w", err)
	}
	return n, nil
}
