package usage

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/athenawatch/athenawatch/internal/cloudtrail"
	"github.com/athenawatch/athenawatch/internal/store"
)

// shapeStore holds queries of three shapes (one run by two users with
// different literals), a query whose text is hostile to terminals and
// markdown, a pending one without text and one outside the window.
func shapeStore(t *testing.T, yaml string) (*store.Store, *Rules, time.Time) {
	t.Helper()
	ctx := context.Background()
	base := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	type spec struct {
		id, user, text string
		hour           int
		scanned        int64
		state          string
	}
	specs := []spec{
		{"q-sales-1", "alice", "SELECT * FROM sales WHERE region = 'eu' AND day IN (1, 2, 3)", 1, 3 * TiB, "SUCCEEDED"},
		{"q-sales-2", "bob", "select *\n  from SALES where region = 'us' and day in (4) -- nightly", 30, TiB, "SUCCEEDED"},
		{"q-sales-3", "alice", "SELECT * FROM sales WHERE region = 'ap' AND day IN (5, 6)", 50, 2 * TiB, "SUCCEEDED"},
		{"q-evil", "mallory", "SELECT '<script>alert(1)</script>' AS \"a|b\", x FROM t\x1b[2J WHERE y = '\"><img src=x onerror=alert(1)>' -- \u202e" +
			strings.Repeat(" AND pad_column_name = 1", 10), 2, 100 * MiB, "SUCCEEDED"},
		{"q-failed", "carol", "SELECT broken FROM nowhere", 3, 0, "FAILED"},
		{"q-pending", "dave", "", 4, 0, ""},
		{"q-old", "erin", "SELECT * FROM sales WHERE region = 'old' AND day IN (9)", -48, 5 * TiB, "SUCCEEDED"},
	}
	var evs []*cloudtrail.QueryEvent
	for _, s := range specs {
		ev := event(s.id, s.user, base.Add(time.Duration(s.hour)*time.Hour))
		evs = append(evs, ev)
	}
	st, rules := storeWith(t, yaml, evs...)
	var done []store.Query
	for _, s := range specs {
		if s.state == "" {
			continue
		}
		q, ok, err := st.GetQuery(ctx, "us-east-1", s.id)
		if err != nil || !ok {
			t.Fatal(ok, err)
		}
		q.StatsStatus = store.StatusFinal
		q.Stats = store.Stats{State: s.state, StatementType: "DML", Database: "sales_db", Workgroup: "primary", DataScannedBytes: s.scanned, EngineMs: 1000, QueryText: s.text}
		rules.Query(&q)
		q.CostUSD = float64(q.BilledBytes) / TiB * 5
		done = append(done, q)
	}
	if err := st.UpdateQueries(ctx, done); err != nil {
		t.Fatal(err)
	}
	return st, rules, base
}

func TestShapeAndQueryReportsGolden(t *testing.T) {
	t.Parallel()
	st, rules, base := shapeStore(t, "")
	window := store.Filter{Since: base, Until: base.Add(7 * 24 * time.Hour)}
	for _, tt := range []struct {
		name string
		opts ReportOptions
	}{
		{"report_fingerprint", ReportOptions{By: "fingerprint", Filter: window}},
		{"report_query", ReportOptions{By: "query", Filter: window}},
		{"report_query_top2", ReportOptions{By: "query", Filter: window, Top: 2}},
	} {
		rep, err := BuildReport(context.Background(), st, rules, testPrices, tt.opts)
		if err != nil {
			t.Fatal(err)
		}
		for _, format := range Formats {
			var b bytes.Buffer
			if err := rep.Write(&b, format); err != nil {
				t.Fatal(err)
			}
			out := b.String()
			checkGolden(t, tt.name+"."+format, b.Bytes())
			bad := map[string][]string{"table": {"\x1b", "\u202e"}, "markdown": {"\x1b", "\u202e", "<script>", "<img", "a|b"}}
			for _, bad := range bad[format] {
				if strings.Contains(out, bad) {
					t.Errorf("%s %s holds %q", tt.name, format, bad)
				}
			}
		}
	}
}

// TestShapeReportRows checks the contract of rows by fingerprint and by
// query: the dimension key, the metric keys, then the detail keys.
func TestShapeReportRows(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, rules, base := shapeStore(t, "")
	window := store.Filter{Since: base, Until: base.Add(7 * 24 * time.Hour)}
	rows := func(opts ReportOptions) []map[string]any {
		rep, err := BuildReport(ctx, st, rules, testPrices, opts)
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		if err := rep.Write(&b, "json"); err != nil {
			t.Fatal(err)
		}
		var out []map[string]any
		if err := json.Unmarshal(b.Bytes(), &out); err != nil {
			t.Fatal(err)
		}
		return out
	}
	shapes := rows(ReportOptions{By: "fingerprint", Filter: window})
	sales := Fingerprint("SELECT * FROM sales WHERE region = 'x' AND day IN (1)")
	if len(shapes) != 4 || shapes[0]["fingerprint"] != sales {
		t.Fatalf("shapes %v: want 4, sales first", shapes)
	}
	s := shapes[0]
	// 6 TiB at $5 over 7 days: $30 a week, 365/7 weeks a year.
	if s["queries"] != 3.0 || s["users"] != 2.0 || s["latest_query_id"] != "q-sales-3" || s["latest_region"] != "us-east-1" ||
		s["latest_event_time"] != "2026-11-03T02:00:00Z" || s["text"] != "select * from sales where region = ? and day in (?)" ||
		fmt.Sprintf("%.2f", s["annualized_cost_usd"]) != fmt.Sprintf("%.2f", 30.0*365/7) {
		t.Errorf("sales shape row %v", s)
	}
	var none map[string]any
	for _, r := range shapes {
		if r["fingerprint"] == "" {
			none = r
		}
	}
	if none == nil || none["pending"] != 1.0 || none["text"] != nil || none["users"] != nil {
		t.Errorf("the row of queries without text: %v", none)
	}
	// Without --since, the window is the span of the queries found: from
	// q-old (-48h) to q-sales-3 (+50h).
	open := rows(ReportOptions{By: "fingerprint", Filter: store.Filter{}})
	if fmt.Sprintf("%.2f", open[0]["annualized_cost_usd"]) != fmt.Sprintf("%.2f", 55.0*365*24/98) {
		t.Errorf("open window: annualized %v", open[0]["annualized_cost_usd"])
	}

	queries := rows(ReportOptions{By: "query", Filter: window})
	if len(queries) != 6 || queries[0]["query"] != "q-sales-1" || queries[0]["queries"] != 1.0 || queries[0]["user"] != "alice" ||
		queries[0]["event_time"] != "2026-11-01T01:00:00Z" || !strings.HasPrefix(queries[0]["text"].(string), "SELECT * FROM sales") {
		t.Errorf("query rows %v", queries)
	}
	if n := len(rows(ReportOptions{By: "query", Filter: window, Top: 1})); n != 1 {
		t.Errorf("top 1: %d rows", n)
	}
	// A filter on the shape narrows every report.
	only := window
	only.Match = map[string][]string{"fingerprint": {sales}}
	if q := rows(ReportOptions{By: "query", Filter: only}); len(q) != 3 {
		t.Errorf("queries of the sales shape: %v", q)
	}
}

// TestShapeReportAfterUpgrade: rows stored by a release without shapes are
// re-derived on read, so a read-only report by fingerprint already groups
// them by shape, with their details.
func TestShapeReportAfterUpgrade(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, rules, base := shapeStore(t, "")
	old := NewRules(mustConfig(t, "teams: [{name: x, users: [nobody]}]"))
	var all []store.Query
	page, err := st.QueriesAfter(ctx, "", "", 100)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range page {
		old.Query(&q)
		q.Fingerprint = ""
		all = append(all, q)
	}
	if _, err := st.UpdateDerived(ctx, all); err != nil {
		t.Fatal(err)
	}
	rep, err := BuildReport(ctx, st, rules, testPrices, ReportOptions{By: "fingerprint", Filter: store.Filter{Since: base}, Now: base.Add(7 * 24 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Rederived == 0 || len(rep.Rows) != 4 || rep.Rows[0].Value("queries").Int() != 3 || rep.Rows[0].Details[1] != int64(2) {
		t.Fatalf("after upgrade: rederived %d, rows %+v", rep.Rederived, rep.Rows)
	}
}
