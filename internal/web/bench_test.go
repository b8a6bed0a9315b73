package web

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/athenawatch/athenawatch/internal/config"
	"github.com/athenawatch/athenawatch/internal/store"
	"github.com/athenawatch/athenawatch/internal/usage"
)

// benchStore is a store of ATHENAWATCH_BENCH_QUERIES queries (default
// 100,000) over 60 days: heavy-tailed users (Zipf), each touching a few
// databases and workgroups.
func benchStore(b *testing.B) *Server {
	b.Helper()
	n := 100_000
	if v, err := strconv.Atoi(os.Getenv("ATHENAWATCH_BENCH_QUERIES")); err == nil && v > 0 {
		n = v
	}
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	cfg := &config.Config{}
	if err := cfg.Validate(); err != nil {
		b.Fatal(err)
	}
	rules := usage.NewRules(cfg)
	rng := rand.New(rand.NewPCG(1, 2))
	zipf := rand.NewZipf(rand.New(rand.NewPCG(3, 4)), 1.2, 1, 1999)
	var batch store.Batch
	for i := range n {
		u := int(zipf.Uint64())
		q := fixtureQuery(rules, []string{"us-east-1", "eu-west-1", "ap-southeast-2"}[u%3], fmt.Sprintf("q-%08d", i), fmt.Sprintf("user-%04d", u),
			testNow.Add(-time.Duration(rng.Int64N(int64(60*24*time.Hour)))), rng.Int64N(50<<30), i%50 == 0, "SELECT 1")
		db := fmt.Sprintf("db-%d", (u+rng.IntN(3))%120)
		q.CTDatabase, q.Stats.Database = db, db
		q.Stats.Workgroup = fmt.Sprintf("wg-%d", (u+rng.IntN(2))%30)
		rules.Query(&q)
		batch.Queries = append(batch.Queries, q)
		if len(batch.Queries) == 5000 || i == n-1 {
			if _, err := st.Commit(ctx, &batch); err != nil {
				b.Fatal(err)
			}
			batch = store.Batch{}
		}
	}
	srv, err := New(Options{Store: st, Config: cfg, Now: func() time.Time { return testNow }})
	if err != nil {
		b.Fatal(err)
	}
	return srv
}

// BenchmarkAPI measures API calls server-side (handler time, no network)
// and reports their p95.
func BenchmarkAPI(b *testing.B) {
	srv := benchStore(b)
	h := srv.Handler()
	one, err := srv.opts.Store.QueriesByID(context.Background(), "q-00000042")
	if err != nil || len(one) != 1 {
		b.Fatalf("look up q-00000042: %v %d", err, len(one))
	}
	for _, target := range []string{
		"/api/v1/report?by=user&since=30d",
		"/api/v1/report?by=day&since=30d",
		"/api/v1/report?by=team&since=30d&filter=user=user-0001",
		"/api/v1/queries?since=30d&sort=cost&limit=50",
		"/api/v1/queries?since=30d&sort=time&limit=50&filter=user=user-0042",
		"/api/v1/queries/q-00000042",
		"/api/v1/queries/" + one[0].Region + "/q-00000042",
	} {
		b.Run(target, func(b *testing.B) {
			var took []time.Duration
			for b.Loop() {
				start := time.Now()
				w := httptest.NewRecorder()
				h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, target, nil))
				took = append(took, time.Since(start))
				if w.Code != 200 {
					b.Fatalf("%s: %d %s", target, w.Code, w.Body.String())
				}
			}
			reportP95(b, took)
		})
	}
	b.Run("/metrics uncached", func(b *testing.B) {
		var took []time.Duration
		for b.Loop() {
			h := srv.metricsHandler() // a new collector: the store is read
			start := time.Now()
			w := httptest.NewRecorder()
			h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/metrics", nil))
			took = append(took, time.Since(start))
			if w.Code != 200 {
				b.Fatalf("/metrics: %d", w.Code)
			}
		}
		reportP95(b, took)
	})
}

func reportP95(b *testing.B, took []time.Duration) {
	slices.Sort(took)
	if len(took) > 0 {
		b.ReportMetric(float64(took[len(took)*95/100].Microseconds())/1000, "p95-ms")
	}
}
