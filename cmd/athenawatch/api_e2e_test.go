package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"testing"
	"time"

	"github.com/athenawatch/athenawatch/internal/config"
	"github.com/athenawatch/athenawatch/internal/store"
	"github.com/athenawatch/athenawatch/internal/usage"
	"github.com/athenawatch/athenawatch/internal/web"
)

// TestAPIReportEqualsCLI checks, on the end-to-end ground truth, that
// /api/v1/report answers byte for byte what `report --format json` prints
// for the same parameters, for every --by.
func TestAPIReportEqualsCLI(t *testing.T) {
	s := simulate(t)
	db := filepath.Join(t.TempDir(), "api.db")
	s.emu.SetNow(s.settled)
	if r := s.run(t, db, "collect", "--source", "dir:"+s.trailDir); r.code != 0 {
		t.Fatalf("collect: exit %d\n%s", r.code, r.stderr)
	}
	ctx := context.Background()
	st, err := store.OpenReadOnly(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	cfg, err := config.Load(s.configPath)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := web.New(web.Options{Store: st, Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	defer hs.Close()

	// Absolute windows: the CLI and the server read the clock at different
	// instants, so relative ones (30d) would differ by that much, and so
	// would a window open at now (a shape's annualized cost divides by it).
	until := s.end.Add(24 * time.Hour).Format(time.RFC3339)
	paramSets := []url.Values{
		{"since": {"2000-01-01"}, "until": {until}},
		{"since": {s.end.Add(-20 * 24 * time.Hour).Format(time.RFC3339)}, "until": {s.end.Add(-5 * 24 * time.Hour).Format(time.RFC3339)}},
		{"since": {""}, "top": {"3"}},
		{"since": {"2000-01-01"}, "until": {until}, "filter": {"state=succeeded", "state=cancelled"}},
		{"since": {"2000-01-01"}, "until": {until}, "filter": {"region=us-*"}},
	}
	for _, by := range usage.ReportDimensions {
		for _, p := range paramSets {
			args := []string{"report", "--by", by, "--format", "json"}
			for _, name := range []string{"since", "until", "top"} {
				if v, ok := p[name]; ok {
					args = append(args, "--"+name, v[0])
				}
			}
			for _, f := range p["filter"] {
				args = append(args, "--filter", f)
			}
			cli := s.run(t, db, args...)
			if cli.code != 0 {
				t.Fatalf("%v: exit %d\n%s", args, cli.code, cli.stderr)
			}
			q := url.Values{"by": {by}}
			for k, v := range p {
				q[k] = v
			}
			res, err := http.Get(hs.URL + "/api/v1/report?" + q.Encode())
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != http.StatusOK {
				t.Fatalf("GET /api/v1/report?%s: %d\n%s", q.Encode(), res.StatusCode, body)
			}
			if string(body) != cli.stdout {
				t.Errorf("by %s %v: the API differs from the CLI\nAPI:\n%.2000s\nCLI:\n%.2000s", by, p, body, cli.stdout)
			}
			if len(cli.stdout) < 10 {
				t.Errorf("by %s %v: empty report %q: the comparison proves little", by, p, cli.stdout)
			}
		}
	}
}
