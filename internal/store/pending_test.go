package store

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"
)

func BenchmarkUpdateQueries(b *testing.B) {
	ctx := context.Background()
	st, err := Open(ctx, filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	const n = 20000
	qs := make([]Query, n)
	for i := range qs {
		q := testQuery("us-east-1", fmt.Sprintf("q-%06d", i), "alice", 0)
		q.StatsStatus, q.Stats = StatusPending, Stats{}
		qs[i] = q
	}
	if _, err := st.Commit(ctx, &Batch{Queries: qs}); err != nil {
		b.Fatal(err)
	}
	for i := range qs {
		qs[i].StatsStatus = StatusFinal
		qs[i].Stats = Stats{State: "SUCCEEDED", StatementType: "DML", DataScannedBytes: int64(i) << 10, QueryText: "SELECT * FROM t WHERE id = 1",
			SubmittedAt: time.Now(), CompletedAt: time.Now()}
	}
	const batch = 50
	b.ResetTimer()
	rows := 0
	for i := 0; i < b.N; i++ {
		off := (i * batch) % n
		if err := st.UpdateQueries(ctx, qs[off:off+batch]); err != nil {
			b.Fatal(err)
		}
		rows += batch
	}
	b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "rows/s")
}

func TestPendingPlan(t *testing.T) {
	st := openTest(t)
	for _, q := range []string{
		"EXPLAIN QUERY PLAN SELECT " + queryColumns + " FROM queries WHERE region = ? AND query_id > ? AND stats_status = 'pending' AND owner_account = ? AND event_time >= ? ORDER BY region, query_id LIMIT ?",
		"EXPLAIN QUERY PLAN SELECT owner_account, region, count(*) FROM queries WHERE stats_status = 'pending' AND event_time >= ? GROUP BY owner_account, region ORDER BY owner_account, region",
	} {
		rows, err := st.db.Query(q, "r", "", "a", 0, 10)
		if err != nil {
			rows, err = st.db.Query(q, 0)
		}
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var id, parent, notused int
			var detail string
			rows.Scan(&id, &parent, &notused, &detail)
			t.Log(detail)
		}
		rows.Close()
	}
}
