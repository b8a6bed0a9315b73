package web

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/athenawatch/athenawatch/internal/usage"
)

// TestAPIReportIsTheCLIReport checks /api/v1/report against the report the
// same parameters give through usage, as `report --format json` writes it.
func TestAPIReportIsTheCLIReport(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Options{})
	queries := []string{
		"", "since=", "since=2026-11-01&until=2026-11-30T06:00:00Z", "top=2", "filter=user=a*&filter=user=bob",
		"filter=state=succeeded", "filter=team=analysts&top=1",
	}
	for _, by := range usage.ReportDimensions {
		for _, q := range queries {
			params, _ := url.ParseQuery(q)
			params.Set("by", by)
			res, body := f.get(t, "/api/v1/report?"+params.Encode())
			if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "application/json; charset=utf-8" {
				t.Fatalf("by %s %s: %d %s\n%s", by, q, res.StatusCode, res.Header.Get("Content-Type"), body)
			}
			params.Set("format", "json")
			req, err := usage.ParseReportRequest(params, testNow)
			if err != nil {
				t.Fatal(err)
			}
			rep, err := usage.BuildReport(context.Background(), f.st, f.rules, usage.PricesOf(f.cfg), req.Options())
			if err != nil {
				t.Fatal(err)
			}
			var want bytes.Buffer
			if err := rep.Write(&want, "json"); err != nil {
				t.Fatal(err)
			}
			if body != want.String() {
				t.Errorf("by %s %s: API body differs from the report:\n%s\nwant:\n%s", by, q, body, want.String())
			}
		}
	}
}

func TestAPIErrors(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Options{})
	tests := []struct {
		target string
		status int
		want   string // in the error message
	}{
		{"/api/v1/report?by=colour", 400, `parameter by="colour"`},
		{"/api/v1/report?since=yesterday", 400, `parameter since="yesterday"`},
		{"/api/v1/report?top=-3", 400, `parameter top="-3"`},
		{"/api/v1/report?filter=colour=red", 400, `parameter filter="colour=red"`},
		{"/api/v1/report?bogus=1", 400, `parameter bogus="1": unknown parameter`},
		{"/api/v1/shapes?by=user", 400, `parameter by="user"`},
		{"/api/v1/queries?sort=colour", 400, `parameter sort="colour"`},
		{"/api/v1/queries?limit=0", 400, `parameter limit="0"`},
		{"/api/v1/queries?limit=1001", 400, `parameter limit="1001"`},
		{"/api/v1/queries?cursor=nonsense", 400, `parameter cursor="nonsense"`},
		{"/api/v1/queries?until=soon", 400, `parameter until="soon"`},
		{"/api/v1/queries?by=user", 400, `parameter by="user": unknown parameter`},
		{"/api/v1/queries/us-east-1/nope", 404, `no query \"nope\" in region \"us-east-1\"`},
		{"/api/v1/queries/nope", 404, `no query \"nope\"`},
		{"/api/v1/nothing", 404, "no such API endpoint"},
	}
	for _, tt := range tests {
		res, body := f.get(t, tt.target)
		if res.StatusCode != tt.status || res.Header.Get("Content-Type") != "application/json; charset=utf-8" {
			t.Errorf("%s: %d %s, want %d JSON", tt.target, res.StatusCode, res.Header.Get("Content-Type"), tt.status)
		}
		var e apiError
		if err := json.Unmarshal([]byte(body), &e); err != nil || !strings.Contains(e.Error, strings.ReplaceAll(tt.want, `\"`, `"`)) {
			t.Errorf("%s: body %s, want an error with %s", tt.target, body, tt.want)
		}
	}
}

// listedQuery is the part of an API query the tests read; pointers tell
// null from 0.
type listedQuery struct {
	Region      string   `json:"region"`
	QueryID     string   `json:"query_id"`
	User        string   `json:"user"`
	Team        string   `json:"team"`
	StatsStatus string   `json:"stats_status"`
	Bytes       *int64   `json:"bytes_scanned"`
	CostUSD     *float64 `json:"cost_usd"`
	QueryText   string   `json:"query_text"`
}

func TestAPIQueriesPagesThroughEveryQuery(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Options{})
	for _, sort := range []string{"time", "cost", "bytes", "engine"} {
		seen := map[string]bool{}
		cursor, pages := "", 0
		for {
			res, body := f.get(t, "/api/v1/queries?since=&limit=7&sort="+sort+"&cursor="+url.QueryEscape(cursor))
			if res.StatusCode != 200 {
				t.Fatalf("sort %s page %d: %d %s", sort, pages, res.StatusCode, body)
			}
			var page struct {
				Queries []listedQuery `json:"queries"`
				Next    string        `json:"next"`
			}
			if err := json.Unmarshal([]byte(body), &page); err != nil {
				t.Fatal(err)
			}
			for _, q := range page.Queries {
				key := q.Region + "/" + q.QueryID
				if seen[key] {
					t.Errorf("sort %s: %s listed twice", sort, key)
				}
				seen[key] = true
				switch q.StatsStatus {
				case "pending":
					if q.Bytes != nil || q.CostUSD != nil {
						t.Errorf("pending query %s shows bytes %v cost %v, want null", key, q.Bytes, q.CostUSD)
					}
				case "final":
					if q.Bytes == nil || *q.Bytes == 0 || q.CostUSD == nil {
						t.Errorf("final query %s shows bytes %v cost %v", key, q.Bytes, q.CostUSD)
					}
				default:
					t.Errorf("query %s: stats_status %q", key, q.StatsStatus)
				}
			}
			pages++
			if page.Next == "" {
				break
			}
			cursor = page.Next
		}
		if len(seen) != 40 || pages != 6 {
			t.Errorf("sort %s: %d queries in %d pages, want 40 in 6", sort, len(seen), pages)
		}
	}
	// Filters are the report's.
	_, body := f.get(t, "/api/v1/queries?since=&filter=user=carol&limit=1000")
	var page struct{ Queries []listedQuery }
	json.Unmarshal([]byte(body), &page)
	if len(page.Queries) != 10 {
		t.Errorf("filter user=carol: %d queries, want 10", len(page.Queries))
	}
	for _, q := range page.Queries {
		if q.User != "carol" {
			t.Errorf("filter user=carol listed %s's query", q.User)
		}
	}
}

func TestAPIQueryLookup(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Options{})
	for _, target := range []string{"/api/v1/queries/eu-west-1/q-00", "/api/v1/queries/q-00"} {
		res, body := f.get(t, target)
		var q listedQuery
		if err := json.Unmarshal([]byte(body), &q); err != nil || res.StatusCode != 200 {
			t.Fatalf("%s: %d %s", target, res.StatusCode, body)
		}
		if q.Region != "eu-west-1" || q.QueryID != "q-00" || q.QueryText != hostileTexts[0] || q.User != "alice" || q.Team != "analysts" {
			t.Errorf("%s: %+v", target, q)
		}
		// Hostile strings are escaped in the JSON text itself, so that a
		// client pasting it into HTML does not run it.
		if strings.Contains(body, "<script>") {
			t.Errorf("%s: unescaped markup in JSON:\n%s", target, body)
		}
	}
}

func TestAPIShapes(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Options{})
	res, body := f.get(t, "/api/v1/shapes?since=")
	if res.StatusCode != 200 {
		t.Fatalf("shapes: %d %s", res.StatusCode, body)
	}
	var rows []map[string]any
	if err := json.Unmarshal([]byte(body), &rows); err != nil {
		t.Fatalf("shapes: %v\n%s", err, body)
	}
	for _, r := range rows {
		if _, ok := r["fingerprint"]; !ok {
			t.Errorf("shape row without fingerprint: %v", r)
		}
	}
}
