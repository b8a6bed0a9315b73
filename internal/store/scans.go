package store

import (
	"context"
	"fmt"
	"time"
)

// WorkgroupScans are the bytes scanned by the queries of one workgroup
// (of one account and region) that ran to the end or were cancelled: DML
// with final statistics, sorted ascending.
type WorkgroupScans struct {
	Account, Region, Workgroup string
	Bytes                      []int64
}

// ScansByWorkgroup returns the bytes scanned by each workgroup's DML
// queries since since, for choosing per-query cutoffs.
func (s *Store) ScansByWorkgroup(ctx context.Context, since time.Time) ([]WorkgroupScans, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT owner_account, region, workgroup, data_scanned_bytes FROM queries
		WHERE stats_status = 'final' AND statement_type = 'DML' AND state IN ('SUCCEEDED', 'CANCELLED') AND event_time >= ?
		ORDER BY owner_account, region, workgroup, data_scanned_bytes`, millis(since))
	if err != nil {
		return nil, fmt.Errorf("read bytes scanned by workgroup: %w", err)
	}
	defer rows.Close()
	var out []WorkgroupScans
	for rows.Next() {
		var a, r, w string
		var b int64
		if err := rows.Scan(&a, &r, &w, &b); err != nil {
			return nil, fmt.Errorf("read bytes scanned by workgroup: %w", err)
		}
		if n := len(out); n == 0 || out[n-1].Account != a || out[n-1].Region != r || out[n-1].Workgroup != w {
			out = append(out, WorkgroupScans{Account: a, Region: r, Workgroup: w})
		}
		out[len(out)-1].Bytes = append(out[len(out)-1].Bytes, b)
	}
	return out, rows.Err()
}

// LargestScans returns up to limit queries of a workgroup since since that
// scanned more than over bytes, largest first.
func (s *Store) LargestScans(ctx context.Context, account, region, workgroup string, since time.Time, over int64, limit int) ([]Query, error) {
	return s.selectQueriesIn(ctx, `owner_account = ? AND region = ? AND workgroup = ? AND stats_status = 'final' AND statement_type = 'DML'
		AND event_time >= ? AND data_scanned_bytes > ?`, []any{account, region, workgroup, millis(since), over}, "data_scanned_bytes DESC", limit)
}
