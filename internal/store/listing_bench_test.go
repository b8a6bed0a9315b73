package store_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/athenawatch/athenawatch/internal/store"
	"github.com/athenawatch/athenawatch/internal/store/storegen"
)

// benchStore opens a generated store of ATHENAWATCH_BENCH_QUERIES queries
// (default 1,000,000) kept in ATHENAWATCH_BENCH_DIR (storegen.Cached),
// building it first when it is not there. Without ATHENAWATCH_BENCH_DIR it
// builds a store of 100,000 queries in a temporary directory.
func benchStore(b *testing.B) (*store.Store, storegen.Stats) {
	b.Helper()
	ctx := context.Background()
	path, stats, err := storegen.CachedFromEnv(ctx, b.TempDir)
	if err != nil {
		b.Fatal(err)
	}
	st, err := store.Open(ctx, path)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	return st, stats
}

// BenchmarkListQueries times one listing page (50 rows) per case, the cases
// a dashboard and the JSON API ask for, and reports p50 and p95 latency.
// Deep cases follow the cursor 20 pages and time the 21st.
func BenchmarkListQueries(b *testing.B) {
	st, stats := benchStore(b)
	ctx := context.Background()
	end := stats.Until
	windows := []struct {
		name string
		days int
	}{{"all", 0}, {"30d", 30}, {"7d", 7}, {"1d", 1}}
	filters := []struct {
		name, key, value string
	}{
		{"none", "", ""},
		{"user=top", "user", stats.Top["user"]},
		{"user=tail", "user", stats.Tail["user"]},
		{"team=top", "team", stats.Top["team"]},
		{"database=top", "database", stats.Top["database"]},
		{"workgroup=top", "workgroup", stats.Top["workgroup"]},
		{"state=FAILED", "state", "FAILED"},
		{"fingerprint=top", "fingerprint", stats.Top["fingerprint"]},
	}
	for _, sortKey := range []string{"time", "cost", "bytes", "engine"} {
		for _, w := range windows {
			for _, f := range filters {
				if f.key != "" && f.value == "" {
					continue // e.g. no shapes in a store generated without fingerprints
				}
				if w.name != "30d" && w.name != "all" && f.key != "" && f.key != "user" {
					continue // bound the run: every filter in the 30-day window, users in all
				}
				var filter store.Filter
				if w.days > 0 {
					filter.Since = end.AddDate(0, 0, -w.days)
				}
				if f.key != "" {
					filter.Match = map[string][]string{f.key: {f.value}}
				}
				for _, deep := range []bool{false, true} {
					if deep && f.key != "" && f.key != "state" {
						continue
					}
					name := fmt.Sprintf("sort=%s/since=%s/%s", sortKey, w.name, f.name)
					if deep {
						name += "/page=21"
					}
					b.Run(name, func(b *testing.B) {
						o := store.ListOptions{Filter: filter, Sort: sortKey}
						if deep {
							for range 20 {
								p, err := st.ListQueries(ctx, o)
								if err != nil {
									b.Fatal(err)
								}
								if p.Next == "" {
									b.Skip("fewer than 21 pages")
								}
								o.Cursor = p.Next
							}
						}
						var lat []time.Duration
						for b.Loop() {
							t0 := time.Now()
							if _, err := st.ListQueries(ctx, o); err != nil {
								b.Fatal(err)
							}
							lat = append(lat, time.Since(t0))
						}
						slices.Sort(lat)
						b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
						b.ReportMetric(float64(lat[(len(lat)*95+99)/100-1].Microseconds())/1000, "p95-ms")
					})
				}
			}
		}
	}
}

// BenchmarkQueriesByID times a lookup by execution id alone.
func BenchmarkQueriesByID(b *testing.B) {
	st, _ := benchStore(b)
	ctx := context.Background()
	p, err := st.ListQueries(ctx, store.ListOptions{Sort: "cost", Limit: 100})
	if err != nil || len(p.Queries) == 0 {
		b.Fatal(err)
	}
	i := 0
	for b.Loop() {
		qs, err := st.QueriesByID(ctx, p.Queries[i%len(p.Queries)].QueryID)
		if err != nil || len(qs) != 1 {
			b.Fatalf("%d queries, %v", len(qs), err)
		}
		i++
	}
}
