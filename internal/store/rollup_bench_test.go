package store

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// BenchmarkAggregate reports by user over a month with ragged edges, from
// the rollups and from the rows, on a store of ATHENAWATCH_BENCH_ROWS
// queries (default 200,000) with final statistics spread over 31 days,
// users drawn from a heavy tail of 2,000. ATHENAWATCH_BENCH_DB keeps the
// database at that path and reuses it.
func BenchmarkAggregate(b *testing.B) {
	total := 200000
	if n, err := strconv.Atoi(os.Getenv("ATHENAWATCH_BENCH_ROWS")); err == nil && n > 0 {
		total = n
	}
	ctx := context.Background()
	path := os.Getenv("ATHENAWATCH_BENCH_DB")
	if path == "" {
		path = filepath.Join(b.TempDir(), "bench.db")
	}
	_, statErr := os.Stat(path)
	st, err := Open(ctx, path)
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	if statErr != nil {
		fillAggregateBench(b, st, total, start)
	}
	a := Aggregation{By: "user", Sums: allSums, Filter: Filter{Since: start.Add(3*time.Hour + 1234*time.Millisecond), Until: start.Add(30*24*time.Hour + 5*time.Hour + 17*time.Millisecond)}}
	for _, tc := range []struct {
		name string
		st   *Store
	}{
		{"rollups", st},
		{"rows", &Store{db: st.db, version: st.version, rawReports: true}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := tc.st.Aggregate(ctx, a); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func fillAggregateBench(b *testing.B, st *Store, total int, start time.Time) {
	b.Helper()
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(3, 4))
	qs := benchQueries(rng, total, start, 0) // times set below
	span := int64(31 * 24 * time.Hour)
	zipf := rand.NewZipf(rand.New(rand.NewPCG(5, 6)), 1.2, 1, 1999)
	for i := range qs {
		q := &qs[i]
		q.EventTime = start.Add(time.Duration(int64(i) * (span / int64(total))))
		u := zipf.Uint64()
		q.User = fmt.Sprintf("user%04d@example.com", u)
		q.Team = fmt.Sprintf("team%02d", u%40)
		q.Database = fmt.Sprintf("db%02d", (u+uint64(rng.IntN(3)))%60)
		q.Workgroup = fmt.Sprintf("wg%d", u%12)
		q.StatsStatus = StatusFinal
		q.Stats = Stats{State: "SUCCEEDED", StatementType: "DML", DataScannedBytes: rng.Int64N(1 << 34), EngineMs: rng.Int64N(60000)}
		q.BilledBytes = q.Stats.DataScannedBytes
	}
	w, err := st.Writer(ctx)
	if err != nil {
		b.Fatal(err)
	}
	defer w.Close()
	for len(qs) > 0 {
		n := min(len(qs), 100000)
		tx, err := w.Begin(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := tx.Add(ctx, &Batch{Queries: qs[:n]}); err != nil {
			b.Fatal(err)
		}
		if err := tx.Commit(); err != nil {
			b.Fatal(err)
		}
		qs = qs[n:]
	}
}
