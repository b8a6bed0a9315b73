package web

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/athenawatch/athenawatch/internal/cloudtrail"
	"github.com/athenawatch/athenawatch/internal/config"
	"github.com/athenawatch/athenawatch/internal/store"
	"github.com/athenawatch/athenawatch/internal/usage"
)

// Hostile strings a user can put in a stored string: a user name from a SQL
// comment, a database name, a query's text.
const (
	xssScript = `<script>alert(1)</script>`
	xssAttr   = `"><img src=x onerror=alert(1)>`
)

const testConfig = `
teams:
  - {name: data-science, users: [alice, "bob*"]}
  - {name: finance, users: [carol]}
`

type spec struct {
	id, user, db, wg, state, status, text string
	bytes                                 int64
	age                                   time.Duration
	region                                string
}

// buildQuery makes a stored query as collect and enrich would, its derived
// columns set by the rules of the configuration.
func buildQuery(rules *usage.Rules, sp spec) store.Query {
	if sp.region == "" {
		sp.region = "us-east-1"
	}
	if sp.status == "" {
		sp.status = store.StatusFinal
	}
	if sp.state == "" && sp.status == store.StatusFinal {
		sp.state = "SUCCEEDED"
	}
	if sp.wg == "" {
		sp.wg = "primary"
	}
	at := testNow.Add(-sp.age)
	q := store.Query{
		Region: sp.region, QueryID: sp.id, EventID: "ev-" + sp.id, EventTime: at, OwnerAccount: "111111111111",
		Identity:   cloudtrail.Identity{Type: "IAMUser", UserName: sp.user, AccountID: "111111111111", ARN: "arn:aws:iam::111111111111:user/" + sp.user},
		CTDatabase: sp.db, CTWorkgroup: sp.wg, StatsStatus: sp.status,
	}
	if sp.status == store.StatusFinal {
		q.Stats = store.Stats{State: sp.state, StatementType: "DML", Database: sp.db, Workgroup: sp.wg, QueryText: sp.text,
			DataScannedBytes: sp.bytes, EngineMs: 1500, TotalMs: 1800, QueueMs: 120, PlanningMs: 200,
			ServicePreprocessingMs: 30, ServiceProcessingMs: 150, SubmittedAt: at, CompletedAt: at.Add(1800 * time.Millisecond)}
	} else {
		q.CTQueryText = sp.text
	}
	rules.Query(&q)
	return q
}

// newTestServer serves a store holding the given queries.
func newTestServer(t *testing.T, specs []spec) (*httptest.Server, *store.Store) {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "pages.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	cfg, err := config.Parse([]byte(testConfig))
	if err != nil {
		t.Fatal(err)
	}
	rules := usage.NewRules(cfg)
	var b store.Batch
	for _, sp := range specs {
		b.Queries = append(b.Queries, buildQuery(rules, sp))
	}
	if len(b.Queries) > 0 {
		if _, err := st.Commit(ctx, &b); err != nil {
			t.Fatal(err)
		}
	}
	s, err := New(Options{Store: st, Config: cfg, Now: func() time.Time { return testNow }})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	return srv, st
}

// sampleSpecs are a small organization, hostile names included.
func sampleSpecs() []spec {
	return []spec{
		{id: "q-alice-1", user: "alice", db: "sales", text: "SELECT * FROM orders WHERE day = '2026-11-01'", bytes: 50 << 30, age: 2 * time.Hour},
		{id: "q-alice-2", user: "alice", db: "sales", text: "SELECT * FROM orders WHERE day = '2026-11-02'", bytes: 20 << 30, age: 26 * time.Hour},
		{id: "q-bob-1", user: "bob.smith", db: "web", wg: "analysts", text: "SELECT count(*) FROM clicks", bytes: 3 << 30, age: 3 * 24 * time.Hour},
		{id: "q-carol-1", user: "carol", db: "ledger", state: "CANCELLED", text: "SELECT * FROM ledger_big", bytes: 80 << 30, age: 5 * 24 * time.Hour},
		{id: "q-carol-2", user: "carol", db: "ledger", state: "FAILED", text: "SELECT broken", bytes: 0, age: 5 * 24 * time.Hour},
		{id: "q-pending", user: "dave", db: "sales", status: store.StatusPending, text: "SELECT 1", age: time.Hour},
		{id: "q-xss-text", user: "mallory", db: "sales", text: xssScript, bytes: 1 << 20, age: 4 * time.Hour},
		{id: "q-xss-user", user: xssScript, db: xssAttr, wg: xssAttr, text: xssAttr, bytes: 2 << 20, age: 6 * time.Hour},
		{id: "q-old", user: "erin", db: "archive", text: "SELECT * FROM archive", bytes: 1 << 30, age: 60 * 24 * time.Hour},
		{id: "q-glob", user: "star*user", db: "sales", text: "SELECT 2", bytes: 1 << 20, age: 7 * time.Hour},
		{id: "q-multi", user: "frank", db: "sales", text: "SELECT 3", bytes: 1 << 20, age: 8 * time.Hour},
		{id: "q-multi", region: "eu-west-1", user: "frank", db: "sales", text: "SELECT 3", bytes: 1 << 20, age: 8 * time.Hour},
	}
}

func get(t *testing.T, srv *httptest.Server, path string) (int, string, http.Header) {
	t.Helper()
	c := srv.Client()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := c.Get(srv.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(body), resp.Header
}

func esc(s string) string { return url.PathEscape(s) }

// TestPages renders every page over data and over an empty store: each
// answers 200 with its own content, or 404 for what is not stored.
func TestPages(t *testing.T) {
	t.Parallel()
	srv, st := newTestServer(t, sampleSpecs())
	empty, _ := newTestServer(t, nil)
	alice, ok, err := st.GetQuery(context.Background(), "us-east-1", "q-alice-1")
	if err != nil || !ok {
		t.Fatalf("the test query is not stored: %v", err)
	}
	shape := "/shapes/" + esc(alice.Fingerprint)
	tests := []struct {
		name, path string
		want       int
		contains   []string // on the page with data
		emptyWant  int      // status over the empty store
		emptyHas   string
	}{
		{"overview", "/", 200, []string{"Daily spend by team", "Top users", "alice", "data-science", "Pending statistics", "Avg MB scanned per user", "Queries per database", "When queries run", "cancelled"}, 200, "No queries yet"},
		{"overview 7d", "/?since=7d&team=data-science", 200, []string{"alice", "vs"}, 200, "No queries yet"},
		{"users", "/users", 200, []string{"alice", "bob.smith", `class="spark"`}, 200, "No users in this selection"},
		{"users by name", "/users?sort=name", 200, []string{"alice"}, 200, "No users"},
		{"user", "/users/alice", 200, []string{"alice", "sales", "Daily cost", "q-alice-1"}, 404, "No user named"},
		{"glob user is literal", "/users/" + esc("star*user"), 200, []string{"star*user", "q-glob"}, 404, ""},
		{"teams", "/teams", 200, []string{"data-science", "finance", "unassigned"}, 200, "No teams"},
		{"team", "/teams/data-science", 200, []string{"alice", "bob.smith"}, 404, ""},
		{"databases", "/databases", 200, []string{"sales", "ledger"}, 200, "No databases"},
		{"database", "/databases/ledger", 200, []string{"carol"}, 404, ""},
		{"workgroups", "/workgroups", 200, []string{"analysts", "primary"}, 200, "No workgroups"},
		{"workgroup", "/workgroups/analysts", 200, []string{"bob.smith"}, 404, ""},
		{"queries", "/queries", 200, []string{"q-alice-1", "pending"}, 200, "No queries"},
		{"queries by cost", "/queries?sort=cost&user=alice", 200, []string{"q-alice-1"}, 200, "No queries"},
		{"query", "/queries/us-east-1/q-alice-1", 200, []string{"orders", "Timeline", "Queued", "data-science", "/users/alice", "/teams/data-science", "/workgroups/primary", "/shapes/"}, 404, "No stored query"},
		{"pending query", "/queries/us-east-1/q-pending", 200, []string{"pending", "statistics not known yet"}, 404, ""},
		{"query by id in two regions", "/queries/q-multi", 200, []string{"eu-west-1", "us-east-1"}, 404, ""},
		{"shapes", "/shapes", 200, []string{"orders", "Annualized"}, 200, "No shapes"},
		{"shape", shape, 200, []string{"orders", "alice", "a year"}, 404, "No stored query has the shape"},
		{"old user outside window", "/users/erin", 200, []string{"See all time"}, 404, ""},
		{"unknown user", "/users/nobody", 404, []string{"No user named"}, 404, ""},
		{"unknown query", "/queries/us-east-1/nope", 404, []string{"No stored query"}, 404, ""},
		{"unknown id", "/queries/nope", 404, []string{"No stored query"}, 404, ""},
		{"unknown page", "/nothing/here", 404, []string{"There is no page"}, 404, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			code, body, h := get(t, srv, tt.path)
			if code != tt.want {
				t.Fatalf("GET %s = %d, want %d:\n%s", tt.path, code, tt.want, body)
			}
			if ct := h.Get("Content-Type"); ct != "text/html; charset=utf-8" {
				t.Errorf("Content-Type %q", ct)
			}
			for _, s := range tt.contains {
				if !strings.Contains(body, s) {
					t.Errorf("GET %s lacks %q", tt.path, s)
				}
			}
			if !strings.Contains(body, `<form class="filters`) {
				t.Errorf("GET %s has no filter bar", tt.path)
			}
			code, body, _ = get(t, empty, tt.path)
			if code != tt.emptyWant {
				t.Fatalf("GET %s on an empty store = %d, want %d:\n%s", tt.path, code, tt.emptyWant, body)
			}
			if !strings.Contains(body, tt.emptyHas) {
				t.Errorf("GET %s on an empty store lacks %q", tt.path, tt.emptyHas)
			}
		})
	}
}

// TestQueryByIDRedirects sends an id stored in one region to its page,
// keeping the selection.
func TestQueryByIDRedirects(t *testing.T) {
	t.Parallel()
	srv, _ := newTestServer(t, sampleSpecs())
	code, _, h := get(t, srv, "/queries/q-alice-1?since=7d")
	if code != http.StatusFound || h.Get("Location") != "/queries/us-east-1/q-alice-1?since=7d" {
		t.Fatalf("GET /queries/q-alice-1 = %d to %q, want 302 to its region's page", code, h.Get("Location"))
	}
}

// TestBadRequests answers a wrong selection with 400 and a page that says
// what is wrong, never a server error.
func TestBadRequests(t *testing.T) {
	t.Parallel()
	srv, _ := newTestServer(t, sampleSpecs())
	tests := []struct{ path, want string }{
		{"/?since=yesterday", "since value “yesterday” is not valid"},
		{"/users?until=2026-01-01&since=2026-02-01", "until value"},
		{"/queries?user=a[b", "The filter “user=a[b” is not valid"},
		{"/queries?state=EXPLODED", "none of"},
		{"/queries?sort=random", "Unknown sort"},
		{"/queries?cursor=garbage", "bad cursor"},
		{"/users?sort=random", "Unknown sort"},
		{"/users?page=0", "not a page number"},
		{"/shapes?page=x", "not a page number"},
		{"/users/alice?since=" + url.QueryEscape(xssScript), "&lt;script&gt;"},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			t.Parallel()
			code, body, _ := get(t, srv, tt.path)
			if code != http.StatusBadRequest {
				t.Fatalf("GET %s = %d, want 400:\n%s", tt.path, code, body)
			}
			if !strings.Contains(body, tt.want) {
				t.Errorf("GET %s does not say %q:\n%s", tt.path, tt.want, body)
			}
			if strings.Contains(body, "<script>alert") {
				t.Errorf("GET %s echoes a script:\n%s", tt.path, body)
			}
		})
	}
}

// TestHostileStringsAreEscaped looks for the raw hostile strings on every
// page where they show (user names, database and workgroup names, query
// text, the filter bar): each must be text, never markup.
func TestHostileStringsAreEscaped(t *testing.T) {
	t.Parallel()
	srv, st := newTestServer(t, sampleSpecs())
	q, _, err := st.GetQuery(context.Background(), "us-east-1", "q-xss-user")
	if err != nil {
		t.Fatal(err)
	}
	paths := []string{
		"/", "/users", "/databases", "/workgroups", "/teams/unassigned", "/queries", "/shapes",
		"/users/" + esc(xssScript), "/databases/" + esc(xssAttr), "/workgroups/" + esc(xssAttr),
		"/queries/us-east-1/q-xss-user", "/queries/us-east-1/q-xss-text", "/shapes/" + esc(q.Fingerprint),
		"/queries?user=" + url.QueryEscape(xssScript) + "&database=" + url.QueryEscape(xssAttr),
		"/users?team=" + url.QueryEscape(xssAttr),
	}
	for _, p := range paths {
		t.Run(p, func(t *testing.T) {
			t.Parallel()
			code, body, _ := get(t, srv, p)
			if code != 200 {
				t.Fatalf("GET %s = %d:\n%s", p, code, body)
			}
			for _, bad := range []string{"<script>alert", "<img src=x", `"><img`} {
				if strings.Contains(body, bad) {
					t.Errorf("GET %s holds %q unescaped", p, bad)
				}
			}
		})
	}
	// The escaped forms do show: the strings are displayed, not dropped.
	_, body, _ := get(t, srv, "/queries/us-east-1/q-xss-user")
	for _, want := range []string{"&lt;script&gt;alert(1)&lt;/script&gt;", "&#34;&gt;&lt;img src=x onerror=alert(1)&gt;"} {
		if !strings.Contains(body, want) {
			t.Errorf("the query page does not show %q as text", want)
		}
	}
}

// TestSecurityHeadersAndAssets checks the CSP every page is written for
// (no inline script or style), and the cached assets.
func TestSecurityHeadersAndAssets(t *testing.T) {
	t.Parallel()
	srv, _ := newTestServer(t, sampleSpecs())
	for _, p := range []string{"/", "/users", "/users/alice", "/queries", "/queries/us-east-1/q-alice-1", "/shapes"} {
		_, body, h := get(t, srv, p)
		if !strings.Contains(h.Get("Content-Security-Policy"), "script-src 'self'") {
			t.Errorf("GET %s: no strict CSP", p)
		}
		for _, inline := range []string{"<script", "style=", "<style", " onclick=", " onload="} {
			if strings.Contains(body, inline) {
				t.Errorf("GET %s holds %q, which the CSP forbids", p, inline)
			}
		}
	}
	for _, a := range []string{"/assets/style.css", "/assets/favicon.svg"} {
		code, body, h := get(t, srv, a)
		if code != 200 || len(body) == 0 || !strings.Contains(h.Get("Cache-Control"), "max-age") {
			t.Errorf("GET %s = %d, %d bytes, Cache-Control %q", a, code, len(body), h.Get("Cache-Control"))
		}
	}
}

// TestLinksKeepTheSelection: navigation, table and detail links carry the
// window and filters of the page they are on.
func TestLinksKeepTheSelection(t *testing.T) {
	t.Parallel()
	srv, _ := newTestServer(t, sampleSpecs())
	_, body, _ := get(t, srv, "/users?since=7d&database=sales")
	for _, want := range []string{`href="/users/alice?database=sales&amp;since=7d"`, `href="/queries?database=sales&amp;since=7d"`, `value="sales"`, `value="7d"`} {
		if !strings.Contains(body, want) {
			t.Errorf("the users page lacks %s", want)
		}
	}
	_, body, _ = get(t, srv, "/users/"+esc("star*user"))
	if !strings.Contains(body, `href="/queries?sort=cost&amp;user=star%5B%2A%5Duser"`) {
		t.Errorf("the queries link of a user named with a glob character does not match only that user")
	}
}

// TestPageSize keeps every list page under 300 KB with thousands of users.
func TestPageSize(t *testing.T) {
	t.Parallel()
	var specs []spec
	for i := range 3000 {
		specs = append(specs, spec{id: fmt.Sprintf("q%05d", i), user: fmt.Sprintf("user-%04d-%s", i, strings.Repeat("x", 40)),
			db: fmt.Sprintf("db%03d", i%300), text: fmt.Sprintf("SELECT %d FROM t%d", i, i%500), bytes: int64(i+1) << 20, age: time.Duration(i%700) * time.Hour})
	}
	srv, _ := newTestServer(t, specs)
	for _, p := range []string{"/", "/users", "/users?page=3", "/databases", "/queries", "/shapes", "/teams/unassigned"} {
		code, body, _ := get(t, srv, p)
		if code != 200 {
			t.Fatalf("GET %s = %d", p, code)
		}
		if len(body) > 300<<10 {
			t.Errorf("GET %s is %d KB, over 300 KB", p, len(body)>>10)
		}
	}
	_, body, _ := get(t, srv, "/users")
	if !strings.Contains(body, "next →") {
		t.Errorf("the users page of 3000 users has no next page link")
	}
}
