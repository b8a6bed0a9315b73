package store

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

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
