package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/athenawatch/athenawatch/internal/store"
	"github.com/athenawatch/athenawatch/internal/usage"
)

// TestRedactEndToEnd: with redact.literals, collect and enrich against the
// emulator store no literal of any query text, yet users (also those named
// by a BI comment) match the ground truth, every query with a text has a
// shape, and reports by fingerprint and by query read the store.
func TestRedactEndToEnd(t *testing.T) {
	s := simulate(t)
	dir := t.TempDir()
	db := filepath.Join(dir, "redact.db")
	cfg := filepath.Join(dir, "redact.yaml")
	if err := os.WriteFile(cfg, append(s.res.ConfigYAML(), "\nredact: {literals: true}\n"...), 0o644); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) result {
		t.Helper()
		r := athenawatch(t, s.env, append([]string{"--db", db, "--config", cfg}, args...)...)
		if r.code != 0 {
			t.Fatalf("%v: exit %d\n%s", args, r.code, r.stderr)
		}
		return r
	}
	s.emu.SetNow(s.settled)
	run("collect", "--source", "dir:"+s.trailDir)

	st, err := store.OpenReadOnly(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var withText int
	after := [2]string{}
	for {
		page, err := st.QueriesAfter(context.Background(), after[0], after[1], 1000)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		for _, q := range page {
			for _, text := range []string{q.Stats.QueryText, q.CTQueryText} {
				if text == "" || text == usage.OmittedText {
					continue
				}
				// What is stored is the normalized text, after at most the
				// comment that named the user.
				body := text
				if strings.HasPrefix(body, "--") {
					_, body, _ = strings.Cut(body, "\n")
				}
				if strings.Contains(body, "'") || body != usage.NormalizeSQL(body) {
					t.Fatalf("query %s/%s stored text %q is not redacted", q.Region, q.QueryID, text)
				}
			}
			if q.QueryText() != "" && q.QueryText() != usage.OmittedText {
				withText++
				if q.Fingerprint == "" {
					t.Errorf("query %s/%s has text but no shape", q.Region, q.QueryID)
				}
			}
		}
		last := page[len(page)-1]
		after = [2]string{last.Region, last.QueryID}
	}
	if withText == 0 {
		t.Fatal("no query text stored: the test checks nothing")
	}
	assertEqualTruth(t, "user", s.reportRows(t, db, "user"), s.expected("user", forgottenAt(s.settled)))

	r := run("report", "--by", "fingerprint", "--since", "2000-01-01", "--format", "json")
	var shapes []map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &shapes); err != nil || len(shapes) < 2 {
		t.Fatalf("report --by fingerprint: %v\n%s", err, r.stdout)
	}
	r = run("report", "--by", "query", "--since", "2000-01-01", "--format", "json")
	var top []map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &top); err != nil || len(top) != usage.DefaultQueryTop {
		t.Fatalf("report --by query: %d rows, want %d (%v)", len(top), usage.DefaultQueryTop, err)
	}
}
