package web

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/athenawatch/athenawatch/internal/cloudtrail"
	"github.com/athenawatch/athenawatch/internal/config"
	"github.com/athenawatch/athenawatch/internal/store"
	"github.com/athenawatch/athenawatch/internal/usage"
)

// testNow is the clock of every test server.
var testNow = time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)

// hostileTexts are query texts that would run script if a page or an API
// answer did not escape them.
var hostileTexts = []string{`<script>alert(1)</script>`, `"><img src=x onerror=alert(1)>`}

// fixtureQuery is one query of user in region, scanning bytes; pending
// queries have no statistics yet.
func fixtureQuery(rules *usage.Rules, region, id, user string, at time.Time, bytes int64, pending bool, text string) store.Query {
	q := store.Query{
		Region: region, QueryID: id, EventID: "ev-" + region + id, EventTime: at, OwnerAccount: "111111111111",
		Identity:    cloudtrail.Identity{Type: "IAMUser", UserName: user, ARN: "arn:aws:iam::111111111111:user/" + user, AccountID: "111111111111"},
		CTDatabase:  "sales",
		CTWorkgroup: "primary",
		CTQueryText: text,
		StatsStatus: store.StatusPending,
	}
	if !pending {
		q.StatsStatus = store.StatusFinal
		q.Stats = store.Stats{State: "SUCCEEDED", StatementType: "DML", DataScannedBytes: bytes, EngineMs: 1500, TotalMs: 1800,
			QueueMs: 100, PlanningMs: 200, QueryText: text, Database: "sales", Workgroup: "primary", SubmittedAt: at, CompletedAt: at.Add(2 * time.Second)}
	}
	rules.Query(&q)
	return q
}

// fixture is a store of a few users' queries, hostile texts among them, and
// a server over it.
type fixture struct {
	st    *store.Store
	cfg   *config.Config
	rules *usage.Rules
	srv   *Server
}

func newFixture(t *testing.T, opts Options) *fixture {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "web.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	cfg, err := config.Parse([]byte("teams:\n  - {name: analysts, users: [alice, bob]}\n" +
		"budgets:\n  - {name: user-week, scope: {user: \"*\"}, limit_usd: 0.02, period: week, thresholds: [0.5, 1]}\n"))
	if err != nil {
		t.Fatal(err)
	}
	rules := usage.NewRules(cfg)
	var b store.Batch
	users := []string{"alice", "bob", "carol", hostileTexts[0]}
	for i := range 40 {
		user := users[i%len(users)]
		text := fmt.Sprintf("SELECT %d FROM t", i)
		if i < len(hostileTexts) {
			text = hostileTexts[i]
		}
		region := "us-east-1"
		if i%5 == 0 {
			region = "eu-west-1"
		}
		at := testNow.Add(-time.Duration(i) * time.Hour)
		b.Queries = append(b.Queries, fixtureQuery(rules, region, fmt.Sprintf("q-%02d", i), user, at, int64(i+1)<<30, i%7 == 3, text))
	}
	if _, err := st.Commit(ctx, &b); err != nil {
		t.Fatal(err)
	}
	opts.Store, opts.Config = st, cfg
	if opts.Now == nil {
		opts.Now = func() time.Time { return testNow }
	}
	srv, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{st: st, cfg: cfg, rules: rules, srv: srv}
}

// get serves one request and returns the response and its body.
func (f *fixture) do(t *testing.T, r *http.Request) (*http.Response, string) {
	t.Helper()
	w := httptest.NewRecorder()
	f.srv.Handler().ServeHTTP(w, r)
	res := w.Result()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res, string(body)
}

func (f *fixture) get(t *testing.T, target string) (*http.Response, string) {
	t.Helper()
	return f.do(t, httptest.NewRequest(http.MethodGet, target, nil))
}
