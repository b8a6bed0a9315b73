package web

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/athenawatch/athenawatch/internal/store"
	"github.com/athenawatch/athenawatch/internal/store/storegen"
)

// benchServer serves a generated store (storegen: heavy-tailed users who
// each touch a few databases and workgroups) of ATHENAWATCH_BENCH_QUERIES
// queries (default 1,000,000) kept in ATHENAWATCH_BENCH_DIR, built there
// once; without ATHENAWATCH_BENCH_DIR, 100,000 queries in a temporary
// directory. The server's clock is a few hours past the end of the
// generated history, at no whole hour, so that every window has partial
// days and hours at its edges, as a user's windows do.
func benchServer(b *testing.B) (*Server, storegen.Stats) {
	b.Helper()
	ctx := context.Background()
	path, stats, err := storegen.CachedFromEnv(ctx, b.TempDir)
	if err != nil {
		b.Fatal(err)
	}
	st, err := store.OpenReadOnly(ctx, path)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	cfg := (&storegen.Options{Queries: stats.Queries}).Config()
	srv, err := New(Options{Store: st, Config: cfg, Now: func() time.Time { return stats.Until.Add(5*time.Hour + 47*time.Minute + 13*time.Second) }})
	if err != nil {
		b.Fatal(err)
	}
	return srv, stats
}

// BenchmarkServe times every page and API call server-side (the handler,
// no network) on the generated store and reports each one's p50 and p95.
// bench/serve.sh prints them as a table.
func BenchmarkServe(b *testing.B) {
	srv, stats := benchServer(b)
	ctx := context.Background()
	top, err := srv.opts.Store.ListQueries(ctx, store.ListOptions{Sort: "cost", Limit: 1})
	if err != nil || len(top.Queries) != 1 {
		b.Fatalf("find the most expensive query: %v", err)
	}
	q := top.Queries[0]
	esc := url.PathEscape
	targets := []string{
		"/",
		"/?since=7d",
		"/?since=90d",
		"/?team=" + url.QueryEscape(stats.Top["team"]),
		"/?user=" + url.QueryEscape(stats.Top["user"]),
		"/users",
		"/teams",
		"/databases",
		"/workgroups",
		"/users/" + esc(stats.Top["user"]),
		"/users/" + esc(stats.Tail["user"]),
		"/teams/" + esc(stats.Top["team"]),
		"/databases/" + esc(stats.Top["database"]),
		"/workgroups/" + esc(stats.Top["workgroup"]),
		"/queries",
		"/queries?sort=cost",
		"/queries?sort=bytes&database=" + url.QueryEscape(stats.Top["database"]),
		"/queries/" + esc(q.Region) + "/" + esc(q.QueryID),
		"/shapes",
		"/shapes/" + esc(q.Fingerprint),
		"/api/v1/report?by=user",
		"/api/v1/report?by=team",
		"/api/v1/report?by=database",
		"/api/v1/report?by=workgroup",
		"/api/v1/report?by=day",
		"/api/v1/report?by=hour&since=7d",
		"/api/v1/report?by=fingerprint",
		"/api/v1/report?by=query",
		"/api/v1/report?by=database&filter=user=" + url.QueryEscape(stats.Top["user"]),
		"/api/v1/shapes",
		"/api/v1/queries?sort=cost",
		"/api/v1/queries?sort=time&filter=user=" + url.QueryEscape(stats.Tail["user"]),
		"/api/v1/queries/" + esc(q.QueryID),
		"/api/v1/queries/" + esc(q.Region) + "/" + esc(q.QueryID),
		"/metrics",
	}
	h := srv.Handler()
	for _, target := range targets {
		b.Run(target, func(b *testing.B) {
			var took []time.Duration
			for b.Loop() {
				h := h
				if target == "/metrics" {
					// A new collector reads the store, as a scrape after
					// the cache expired does.
					h = srv.metricsHandler()
				}
				start := time.Now()
				w := httptest.NewRecorder()
				h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, target, nil))
				took = append(took, time.Since(start))
				if w.Code != http.StatusOK {
					b.Fatalf("%s: %d %.500s", target, w.Code, w.Body.String())
				}
			}
			reportLatency(b, took)
		})
	}
}

// reportLatency reports the p50 and p95 of took in milliseconds.
func reportLatency(b *testing.B, took []time.Duration) {
	slices.Sort(took)
	if len(took) == 0 {
		return
	}
	ms := func(p int) float64 { return float64(took[(len(took)-1)*p/100].Microseconds()) / 1000 }
	b.ReportMetric(ms(50), "p50-ms")
	b.ReportMetric(ms(95), "p95-ms")
}
