package dir

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"

	"github.com/athenawatch/athenawatch/internal/awsemu/orgsim"
	"github.com/athenawatch/athenawatch/internal/config"
	"github.com/athenawatch/athenawatch/internal/source"
	"github.com/athenawatch/athenawatch/internal/store"
	"github.com/athenawatch/athenawatch/internal/usage"
)

// benchQueries is the size of the queries-only trail BenchmarkCollectQueries
// reads; ATHENAWATCH_BENCH_QUERIES overrides it.
func benchQueries() int64 {
	if n, err := strconv.ParseInt(os.Getenv("ATHENAWATCH_BENCH_QUERIES"), 10, 64); err == nil && n > 0 {
		return n
	}
	return 50000
}

var (
	benchTrailOnce sync.Once
	benchTrailDir  string
	benchTrailErr  error
)

// BenchmarkCollectQueries collects a trail of nothing but
// StartQueryExecution records into a fresh database: the store-bound case
// (query events/s). ATHENAWATCH_BENCH_TRAIL names a trail to read instead
// of generating one (bench/queries.sh keeps its trail).
func BenchmarkCollectQueries(b *testing.B) {
	benchTrailOnce.Do(func() {
		if dir := os.Getenv("ATHENAWATCH_BENCH_TRAIL"); dir != "" {
			benchTrailDir = dir
			return
		}
		benchTrailDir, benchTrailErr = os.MkdirTemp("", "athenawatch-bench-trail")
		if benchTrailErr == nil {
			_, benchTrailErr = orgsim.GenerateQueryTrail(context.Background(), benchTrailDir, orgsim.QueryTrailOptions{Queries: benchQueries(), Seed: 1})
		}
	})
	if benchTrailErr != nil {
		b.Fatal(benchTrailErr)
	}
	if os.Getenv("ATHENAWATCH_BENCH_TRAIL") == "" {
		b.Cleanup(func() { os.RemoveAll(benchTrailDir) })
	}
	cfg, err := config.Load("")
	if err != nil {
		b.Fatal(err)
	}
	rules := usage.NewRules(cfg)
	ctx := context.Background()
	var events int
	for b.Loop() {
		b.StopTimer()
		dbDir := b.TempDir()
		st, err := store.Open(ctx, filepath.Join(dbDir, "bench.db"))
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		col := &source.Collector{Store: st, Rules: rules}
		sum, err := col.Collect(ctx, &Source{Root: benchTrailDir})
		if err != nil {
			b.Fatal(err)
		}
		events += sum.QueryEvents
		b.StopTimer()
		st.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(events)/b.Elapsed().Seconds(), "events/s")
}
