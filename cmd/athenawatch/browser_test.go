package main

import (
	"context"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/athenawatch/athenawatch/internal/cloudtrail"
	"github.com/athenawatch/athenawatch/internal/config"
	"github.com/athenawatch/athenawatch/internal/store"
	"github.com/athenawatch/athenawatch/internal/usage"
	"github.com/athenawatch/athenawatch/internal/web"
)

// Hostile strings anyone can put into a stored string: a user name (from a
// SQL comment), a database name, a query's text.
const (
	xssScript = `<script>alert(1)</script>`
	xssAttr   = `"><img src=x onerror=alert(1)>`
)

// findChromium is the browser the test drives: Debian's chromium, or any
// Chrome on PATH. Under CI a missing browser fails the test.
func findChromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("no chromium on PATH: install it (make tools, or apt-get install chromium)")
	}
	t.Skip("no chromium on PATH: install it (apt-get install chromium) to run the browser test")
	return ""
}

// TestDashboardInBrowser is the dashboard's acceptance test: a real
// browser over the demo's data plus two queries whose user, database and
// text are hostile. It loads the overview, applies a filter, sorts a
// table, opens a user, one of its queries and that query's shape, takes
// wide and narrow screenshots, and fails on any JavaScript dialog: the
// hostile strings must show as text.
func TestDashboardInBrowser(t *testing.T) {
	chromium := findChromium(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()

	dir := t.TempDir()
	demo := exec.CommandContext(ctx, binary, "demo", "--no-serve", "--dir", dir, "--days", "7", "--queries-per-day", "60", "--emulator-addr", "127.0.0.1:0")
	demo.Env = scrubbedEnv()
	if out, err := demo.CombinedOutput(); err != nil {
		t.Fatalf("demo: %v\n%s", err, out)
	}
	cfg, err := config.Load(filepath.Join(dir, "athenawatch.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(ctx, filepath.Join(dir, "athenawatch.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	rules := usage.NewRules(cfg)
	hostile := []store.Query{
		hostileQuery(rules, "xss-script-0000-0000-000000000001", xssScript, xssAttr, xssScript),
		hostileQuery(rules, "xss-attr-0000-0000-0000-000000000002", xssAttr, xssScript, xssAttr),
	}
	if _, err := st.Commit(ctx, &store.Batch{Queries: hostile}); err != nil {
		t.Fatal(err)
	}
	byDB, err := usage.BuildReport(ctx, st, rules, usage.PricesOf(cfg), usage.ReportOptions{By: "database", Filter: store.Filter{Since: time.Now().Add(-30 * 24 * time.Hour)}})
	if err != nil || len(byDB.Rows) == 0 {
		t.Fatalf("the demo stored no queries: %v", err)
	}
	topDB := byDB.Rows[0].Key

	srv, err := web.New(web.Options{Store: st, Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	defer hs.Close()

	alloc, cancelAlloc := chromedp.NewExecAllocator(ctx, append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium), chromedp.NoSandbox, chromedp.WindowSize(1440, 1000))...)
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(alloc)
	defer cancelBrowser()

	var mu sync.Mutex
	var dialogs []string
	events := chromedp.Events(bctx, page.JavascriptDialogOpening)
	go func() {
		for ev, err := range events {
			if err != nil {
				return
			}
			mu.Lock()
			dialogs = append(dialogs, ev.Message)
			mu.Unlock()
			chromedp.Call(bctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: false})
		}
	}()

	shots := newShots(t)
	do := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(bctx, steps...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(bctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("read %s: %v", sel, err)
		}
		return s
	}

	// The overview.
	do("load the overview", chromedp.Navigate(hs.URL+"/"), chromedp.WaitVisible(chromedp.CSS(`.tiles`)))
	main := text("main")
	for _, want := range []string{"Daily spend by team", "Top users", "Avg MB scanned per user", "Queries per database"} {
		if !strings.Contains(main, want) {
			t.Errorf("the overview lacks %q", want)
		}
	}
	shots.take(bctx, "overview-wide")

	// A filter through the filter bar's form.
	do("apply a filter",
		chromedp.SetValue(chromedp.CSS(`input[name=database]`), topDB),
		chromedp.Click(chromedp.CSS(`.filters button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`a.clear`)))
	location, err := chromedp.Run(bctx, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	if u, err := url.Parse(location); err != nil || u.Query().Get("database") != topDB {
		t.Errorf("after the filter the URL is %s, want database=%s in it", location, topDB)
	}
	shots.take(bctx, "overview-filtered")

	// The users table, sorted by queries through its header.
	do("sort the users",
		chromedp.Navigate(hs.URL+"/users"),
		chromedp.Click(chromedp.CSS(`th.sortable a[href*="sort=queries"]`)),
		chromedp.WaitVisible(chromedp.CSS(`th.sortable.on a[href*="sort=queries"]`)))
	counts, err := chromedp.Run(bctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll("table.list tbody tr td:nth-child(4)")].map(td => td.textContent)`))
	if err != nil {
		t.Fatal(err)
	}
	if len(counts) < 2 {
		t.Fatalf("the users table has %d rows", len(counts))
	}
	for i := 1; i < len(counts); i++ {
		if number(counts[i]) > number(counts[i-1]) {
			t.Errorf("sorted by queries, row %d (%s) comes after %s", i, counts[i], counts[i-1])
		}
	}
	shots.take(bctx, "users-by-queries")

	// A user: the hostile one, whose name is shown as text.
	do("open a user",
		chromedp.Click(`//table//a[text()='`+xssScript+`']`),
		chromedp.WaitVisible(chromedp.CSS(`.key-title`)))
	if got := text(".key-title"); !strings.Contains(got, xssScript) {
		t.Errorf("the user page's title is %q, want the user name %q as text", got, xssScript)
	}
	shots.take(bctx, "user")

	// One of its queries, with its hostile text in the <pre>.
	do("open a query",
		chromedp.Click(chromedp.CSS(`table.queries tbody td.nowrap a`)),
		chromedp.WaitVisible(chromedp.CSS(`pre.sql`)))
	if got := text("pre.sql"); got != xssScript {
		t.Errorf("the query text shows as %q, want %q", got, xssScript)
	}
	if got := text("dl.facts"); !strings.Contains(got, xssAttr) {
		t.Errorf("the query page does not show the database %q as text:\n%s", xssAttr, got)
	}
	shots.take(bctx, "query")

	// Its shape.
	do("open the shape",
		chromedp.Click(chromedp.CSS(`dl.facts a[href^="/shapes/"]`)),
		chromedp.WaitVisible(chromedp.CSS(`.crumbs a[href^="/shapes"]`)))
	if got := text("main"); !strings.Contains(got, xssScript) || !strings.Contains(got, "Latest query") {
		t.Errorf("the shape page does not show its latest query:\n%s", got)
	}
	shots.take(bctx, "shape")

	// The same pages in a narrow window.
	do("narrow the window", chromedp.EmulateViewport(420, 900))
	for _, p := range []struct{ name, path, wait string }{
		{"overview-narrow", "/", ".tiles"},
		{"users-narrow", "/users", "table.list"},
		{"query-narrow", "/queries/" + hostile[1].QueryID, "pre.sql"},
	} {
		do("load "+p.path, chromedp.Navigate(hs.URL+p.path), chromedp.WaitVisible(chromedp.CSS(p.wait)))
		shots.take(bctx, p.name)
	}
	if got := text("pre.sql"); got != xssAttr {
		t.Errorf("the second hostile query's text shows as %q, want %q", got, xssAttr)
	}

	// A new user's first look: an empty database, wide and narrow.
	empty, err := store.Open(ctx, filepath.Join(t.TempDir(), "empty.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer empty.Close()
	esrv, err := web.New(web.Options{Store: empty, Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	ehs := httptest.NewServer(esrv.Handler())
	defer ehs.Close()
	for _, p := range []struct {
		name          string
		width, height int64
	}{{"empty-narrow", 420, 900}, {"empty-wide", 1440, 1000}} {
		do("load the empty overview", chromedp.EmulateViewport(p.width, p.height), chromedp.Navigate(ehs.URL+"/"), chromedp.WaitVisible(chromedp.CSS("main")))
		if got := text("main"); !strings.Contains(got, "No queries yet") {
			t.Errorf("the overview of an empty database says %q, want it to say there are no queries yet", got)
		}
		shots.take(bctx, p.name)
	}

	mu.Lock()
	defer mu.Unlock()
	if len(dialogs) > 0 {
		t.Errorf("JavaScript dialogs opened (a stored string ran as script): %q", dialogs)
	}
}

// hostileQuery is a finished query of a user, database and text that are
// markup, as rules derive it.
func hostileQuery(rules *usage.Rules, id, user, db, text string) store.Query {
	at := time.Now().Add(-time.Hour).UTC()
	q := store.Query{
		Region: "us-east-1", QueryID: id, EventID: "ev-" + id, EventTime: at, OwnerAccount: "111111111111",
		Identity:   cloudtrail.Identity{Type: "IAMUser", UserName: user, AccountID: "111111111111", ARN: "arn:aws:iam::111111111111:user/hostile"},
		CTDatabase: db, CTWorkgroup: "primary", StatsStatus: store.StatusFinal,
		Stats: store.Stats{State: "SUCCEEDED", StatementType: "DML", Database: db, Workgroup: "primary", QueryText: text,
			DataScannedBytes: 3 << 30, EngineMs: 2400, TotalMs: 2700, QueueMs: 150, PlanningMs: 300, ServicePreprocessingMs: 40,
			ServiceProcessingMs: 110, SubmittedAt: at, CompletedAt: at.Add(2700 * time.Millisecond)},
	}
	rules.Query(&q)
	if q.Fingerprint == "" {
		// Rules that derive no shape yet: the test gives each text its own.
		q.Fingerprint = "hostile" + strconv.Itoa(len(text))
	}
	return q
}

// number reads a table's count such as "1,234".
func number(s string) int {
	n, _ := strconv.Atoi(strings.ReplaceAll(strings.TrimSpace(s), ",", ""))
	return n
}

// shots saves full-page screenshots in the test's directory and, when
// ATHENAWATCH_SCREENSHOTS names one, there too.
type shots struct {
	t    *testing.T
	dirs []string
}

func newShots(t *testing.T) *shots {
	s := &shots{t: t, dirs: []string{t.TempDir()}}
	if d := os.Getenv("ATHENAWATCH_SCREENSHOTS"); d != "" {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		s.dirs = append(s.dirs, d)
	}
	return s
}

func (s *shots) take(ctx context.Context, name string) {
	s.t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		s.t.Fatalf("screenshot %s: %v", name, err)
	}
	for _, d := range s.dirs {
		if err := os.WriteFile(filepath.Join(d, name+".png"), png, 0o644); err != nil {
			s.t.Fatal(err)
		}
	}
}
