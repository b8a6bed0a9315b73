package store

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestPendingByAccountRegion(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := openTest(t)
	var qs []Query
	add := func(account, region, id string, status string, at time.Time) {
		q := testQuery(region, id, "alice", 0)
		q.OwnerAccount, q.StatsStatus, q.EventTime = account, status, at
		if status == StatusPending {
			q.Stats = Stats{}
		}
		qs = append(qs, q)
	}
	day := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	for i := range 5 {
		// Newer ids first: pages come oldest first, whatever the ids.
		add("111111111111", "us-east-1", fmt.Sprintf("a-%d", i), StatusPending, day.Add(-time.Duration(i)*time.Hour))
		add("222222222222", "us-east-1", fmt.Sprintf("b-%d", i), StatusPending, day)
		add("111111111111", "eu-west-1", fmt.Sprintf("c-%d", i), StatusPending, day.AddDate(0, 0, -10))
	}
	add("111111111111", "us-east-1", "a-final", StatusFinal, day)
	add("111111111111", "us-east-1", "a-gone", StatusNoStats, day)
	if _, err := st.Commit(ctx, &Batch{Queries: qs}); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name  string
		since time.Time
		want  []PendingCount
	}{
		{"all", time.Time{}, []PendingCount{{"111111111111", "eu-west-1", 5}, {"111111111111", "us-east-1", 5}, {"222222222222", "us-east-1", 5}}},
		{"since", day.AddDate(0, 0, -1), []PendingCount{{"111111111111", "us-east-1", 5}, {"222222222222", "us-east-1", 5}}},
	}
	for _, tt := range tests {
		got, err := st.PendingCounts(ctx, tt.since)
		if err != nil || fmt.Sprint(got) != fmt.Sprint(tt.want) {
			t.Errorf("%s: PendingCounts = %v, %v; want %v", tt.name, got, err, tt.want)
		}
	}

	// Paging one account-region returns its pending queries only, oldest
	// first, each once.
	var ids []string
	var after PendingKey
	for {
		page, err := st.PendingQueries(ctx, time.Time{}, "111111111111", "us-east-1", after, 2)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		for _, q := range page {
			ids = append(ids, q.QueryID)
		}
		after = PendingKey{Time: page[len(page)-1].EventTime, QueryID: page[len(page)-1].QueryID}
	}
	if want := "[a-4 a-3 a-2 a-1 a-0]"; fmt.Sprint(ids) != want {
		t.Errorf("paged ids = %v, want %s", ids, want)
	}

	// The page query is a range of the pending index, which holds only the
	// backlog, in page order: not a scan of every stored row of the region,
	// nor a sort of the backlog.
	var plan []string
	rows, err := st.db.QueryContext(ctx, "EXPLAIN QUERY PLAN SELECT "+queryColumns+
		" FROM queries WHERE owner_account = ? AND region = ? AND stats_status = 'pending' AND event_time >= ? AND (event_time, query_id) > (?, ?) ORDER BY event_time, query_id LIMIT ?",
		"111111111111", "us-east-1", 0, 0, "", 10)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id, parent, notUsed int
		var detail string
		if err := rows.Scan(&id, &parent, &notUsed, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	rows.Close()
	if p := strings.Join(plan, "; "); !strings.Contains(p, "USING INDEX queries_pending (owner_account=? AND region=? AND event_time>?)") || strings.Contains(p, "TEMP B-TREE") {
		t.Errorf("pending page plan = %q, want a range of the pending index without a sort", p)
	}
}

// TestUpdateQueriesOnlyPending: an answer written after another process
// already stored final statistics does not undo them.
func TestUpdateQueriesOnlyPending(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := openTest(t)
	final := testQuery("us-east-1", "q1", "alice", 42)
	if _, err := st.Commit(ctx, &Batch{Queries: []Query{final}}); err != nil {
		t.Fatal(err)
	}
	stale := final
	stale.StatsStatus, stale.Stats = StatusPending, Stats{State: "RUNNING"}
	if err := st.UpdateQueries(ctx, []Query{stale}); err != nil {
		t.Fatal(err)
	}
	got, _, err := st.GetQuery(ctx, "us-east-1", "q1")
	if err != nil || got.StatsStatus != StatusFinal || got.Stats != final.Stats {
		t.Errorf("after a stale update: %s %+v, %v; want the final statistics kept", got.StatsStatus, got.Stats, err)
	}
}

// BenchmarkUpdateQueries writes enrichment results the way a run does:
// transactions of several hundred rows whose order (query id) has nothing to
// do with the order the rows were stored in (event time).
func BenchmarkUpdateQueries(b *testing.B) {
	ctx := context.Background()
	st, err := Open(ctx, filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	const n = 50000
	qs := make([]Query, n)
	for i := range qs {
		q := testQuery("us-east-1", fmt.Sprintf("q-%06d", i), "alice", 0)
		q.StatsStatus, q.Stats = StatusPending, Stats{}
		q.CTQueryText = "SELECT * FROM events WHERE day = '2026-11-20' AND user = 'alice'"
		qs[i] = q
	}
	rand.New(rand.NewPCG(1, 2)).Shuffle(n, func(i, j int) { qs[i], qs[j] = qs[j], qs[i] })
	if _, err := st.Commit(ctx, &Batch{Queries: qs}); err != nil {
		b.Fatal(err)
	}
	rand.New(rand.NewPCG(3, 4)).Shuffle(n, func(i, j int) { qs[i], qs[j] = qs[j], qs[i] })
	now := time.Now()
	for i := range qs {
		qs[i].StatsStatus = StatusFinal
		qs[i].Stats = Stats{State: "SUCCEEDED", StatementType: "DML", DataScannedBytes: int64(i) << 10,
			QueryText: qs[i].CTQueryText, Database: "db", Workgroup: "primary", EngineMs: 1234, TotalMs: 1500,
			SubmittedAt: now, CompletedAt: now, OutputLocation: "s3://results/" + qs[i].QueryID + ".csv"}
	}
	const batch = 500
	cpu0 := cpuTime()
	b.ResetTimer()
	rows := 0
	for i := 0; i < b.N; i++ {
		off := (i * batch) % n
		// Each row is written once: UpdateQueries leaves rows that are no
		// longer pending alone.
		if off == 0 && i > 0 {
			b.StopTimer()
			if _, err := st.db.ExecContext(ctx, "UPDATE queries SET stats_status = 'pending'"); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
		}
		if err := st.UpdateQueries(ctx, qs[off:off+batch]); err != nil {
			b.Fatal(err)
		}
		rows += batch
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(rows), "µs/row")
	// CPU time is steadier than wall time on a shared machine.
	b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(rows), "cpu-µs/row")
}

// cpuTime is the CPU time (user and system) the process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// TestMigrationRepairsImpossibleStats: a database an earlier release wrote
// with an impossible statistic (every report then failed with an integer
// overflow) is repaired when opened: the query goes back to pending with the
// value zeroed, and reports work again.
func TestMigrationRepairsImpossibleStats(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "old.db")
	// As the earlier release left it: schema version 2.
	migrateTo(t, path, 2)
	st, err := openRaw(path)
	if err != nil {
		t.Fatal(err)
	}
	good := testQuery("us-east-1", "good", "alice", 100)
	huge := testQuery("us-east-1", "huge", "alice", 0)
	huge.Stats.DataScannedBytes = 1<<63 - 1
	skewed := testQuery("us-east-1", "skewed", "alice", 10)
	skewed.Stats.QueueMs, skewed.Stats.TotalMs = -5, 1<<62
	for _, q := range []Query{good, huge, skewed, testQuery("eu-west-1", "huge2", "alice", 0)} {
		if _, err := st.db.ExecContext(ctx, `INSERT INTO queries (region, query_id, event_id, event_time, day, owner_account, user, stats_status,
			state, statement_type, data_scanned_bytes, queue_ms, total_ms) VALUES (?, ?, ?, 0, '1970-01-01', '111111111111', ?, ?, ?, ?, ?, ?, ?)`,
			q.Region, q.QueryID, q.EventID, q.User, q.StatsStatus, q.Stats.State, q.Stats.StatementType, q.Stats.DataScannedBytes,
			q.Stats.QueueMs, q.Stats.TotalMs); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := st.db.ExecContext(ctx, "UPDATE queries SET data_scanned_bytes = 9223372036854775806 WHERE query_id = 'huge2'"); err != nil {
		t.Fatal(err)
	}
	byUser := Aggregation{By: "user", Sums: []Sum{SumQueries, SumBytesScanned}}
	var sum int64
	if err := st.db.QueryRowContext(ctx, "SELECT SUM(data_scanned_bytes) FROM queries").Scan(&sum); err == nil || !strings.Contains(err.Error(), "overflow") {
		t.Fatalf("sum over the old rows: err = %v, want the integer overflow this migration repairs", err)
	}
	st.Close()

	st, err = Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	groups, err := st.Aggregate(ctx, byUser)
	if err != nil {
		t.Fatalf("report after migration: %v", err)
	}
	var queries int64
	var bytes int64
	for _, g := range groups.Groups {
		queries += g.Sums[0]
		bytes += g.Sums[1]
	}
	if queries != 4 || bytes != 110 {
		t.Fatalf("report after migration = %+v; want 4 queries, 110 bytes", groups)
	}
	q, _, err := st.GetQuery(ctx, "us-east-1", "huge")
	if err != nil || q.StatsStatus != StatusPending || q.Stats.DataScannedBytes != 0 {
		t.Errorf("impossible query after migration: %s, %d bytes, %v; want pending with 0", q.StatsStatus, q.Stats.DataScannedBytes, err)
	}
	q, _, err = st.GetQuery(ctx, "us-east-1", "skewed")
	if err != nil || q.StatsStatus != StatusFinal || q.Stats.QueueMs != 0 || q.Stats.TotalMs != 7*24*3600*1000 {
		t.Errorf("skewed query after migration: %s %+v, %v; want final, times clamped", q.StatsStatus, q.Stats, err)
	}
}
