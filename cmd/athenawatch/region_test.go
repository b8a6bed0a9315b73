package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/athenawatch/athenawatch/internal/awsemu"
	"github.com/athenawatch/athenawatch/internal/cloudtrail"
	"github.com/athenawatch/athenawatch/internal/config"
	"github.com/athenawatch/athenawatch/internal/store"
	"github.com/athenawatch/athenawatch/internal/usage"
)

// A query event in an impossible region used to be stored; every later
// collect then asked Athena about it, the SDK could not build an endpoint
// for the region, the query stayed pending and collect exited 1 on every
// run, for good. Such a record (and one without a readable event time,
// which used to be stored under day 0001-01-01) is a bad record: named,
// counted as skipped, not stored, and later runs are clean.
func TestImpossibleRegionOrTimeNeverBreaksALaterRun(t *testing.T) {
	t.Parallel()
	env := emulatorEnv(t)

	tests := []struct{ name, old, new, reason string }{
		{"path", `"awsRegion":"us-east-1"`, `"awsRegion":"../../etc"`, `is not an AWS region name`},
		{"trailing space", `"awsRegion":"us-east-1"`, `"awsRegion":"us-east-1 "`, `is not an AWS region name`},
		{"upper case", `"awsRegion":"us-east-1"`, `"awsRegion":"US-EAST-1"`, `is not an AWS region name`},
		{"empty", `"awsRegion":"us-east-1"`, `"awsRegion":""`, `has no awsRegion`},
		{"unreadable time", `"eventTime":"2026-11-20T10:00:00Z"`, `"eventTime":"20/11/2026"`, `unreadable eventTime`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			name := "AWSLogs/111111111111/CloudTrail/us-east-1/2026/11/20/a.json"
			p := filepath.Join(dir, filepath.FromSlash(name))
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			bad := strings.Replace(athenaRecord("q-bad"), tt.old, tt.new, 1)
			if err := os.WriteFile(p, []byte(`{"Records":[`+noiseRecord+`,`+bad+`,`+athenaRecord("q-good")+`]}`), 0o644); err != nil {
				t.Fatal(err)
			}
			db := filepath.Join(t.TempDir(), "r.db")
			r := athenawatch(t, env, "--db", db, "collect", "--source", "dir:"+dir)
			if r.code != 0 {
				t.Fatalf("first collect: exit %d\n%s", r.code, r.stderr)
			}
			if !strings.Contains(r.stderr, "skipped 1 bad inputs") || !strings.Contains(r.stderr, name+" record 1: ") || !strings.Contains(r.stderr, tt.reason) {
				t.Errorf("first collect does not name the bad record:\n%s", r.stderr)
			}
			for i := range 2 {
				if r := athenawatch(t, env, "--db", db, "collect", "--source", "dir:"+dir); r.code != 0 {
					t.Fatalf("later collect %d: exit %d\n%s", i+1, r.code, r.stderr)
				}
			}
			for _, by := range []string{"region", "day"} {
				rep := athenawatch(t, nil, "--db", db, "report", "--by", by, "--since", "2000-01-01", "--format", "json")
				rows := decodeRows(t, by, rep.stdout)
				if len(rows) != 1 {
					t.Errorf("report --by %s: %v, want one row (the good query only)", by, rows)
				}
				for key, row := range rows {
					if n, _ := row["queries"].Int64(); n != 1 || (key != "us-east-1" && key != "2026-11-20") {
						t.Errorf("report --by %s: %s has %d queries", by, key, n)
					}
				}
			}
		})
	}
}

// A database written by a release that stored queries in impossible regions
// must not keep breaking collect: such queries are never asked about and
// end as unknown to Athena (no_stats).
func TestStoredImpossibleRegionNeverBreaksALaterRun(t *testing.T) {
	t.Parallel()
	env := emulatorEnv(t)

	db := filepath.Join(t.TempDir(), "old.db")
	ctx := context.Background()
	st, err := store.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	cfg, _ := config.Load("")
	rules := usage.NewRules(cfg)
	var batch store.Batch
	for _, region := range []string{"../../etc", "us-east-1 ", "US-EAST-1"} {
		batch.Queries = append(batch.Queries, rules.NewQuery(&cloudtrail.QueryEvent{
			EventID: "e-" + region, EventTime: time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC), Region: region,
			RecipientAccount: "111111111111", QueryID: "q-old",
			Identity: cloudtrail.Identity{Type: "IAMUser", AccountID: "111111111111", UserName: "alice"},
		}))
	}
	if _, err := st.Commit(ctx, &batch); err != nil {
		t.Fatal(err)
	}
	st.Close()

	dir := t.TempDir()
	for i := range 2 {
		r := athenawatch(t, env, "--db", db, "collect", "--source", "dir:"+dir)
		if r.code != 0 {
			t.Fatalf("collect %d over a database with queries in impossible regions: exit %d\n%s", i+1, r.code, r.stderr)
		}
	}
	rep := athenawatch(t, nil, "--db", db, "report", "--by", "region", "--since", "2000-01-01", "--format", "json")
	rows := decodeRows(t, "region", rep.stdout)
	if len(rows) != 3 {
		t.Fatalf("report --by region: %v, want the three stored regions", rows)
	}
	for region, row := range rows {
		if n, _ := row["no_stats"].Int64(); n != 1 {
			t.Errorf("region %q: %d of its queries marked unknown to Athena, want 1", region, n)
		}
	}
}

// emulatorEnv starts an emulator for the test and returns the environment
// under which the SDK reaches it as IAM user collector of account
// 111111111111.
func emulatorEnv(t *testing.T) []string {
	t.Helper()
	emu := awsemu.New(awsemu.Options{})
	srv, err := emu.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	creds := emu.AddUser("111111111111", "collector")
	return []string{"AWS_ENDPOINT_URL=" + srv.URL, "AWS_ACCESS_KEY_ID=" + creds.AccessKeyID,
		"AWS_SECRET_ACCESS_KEY=" + creds.SecretAccessKey, "AWS_REGION=us-east-1"}
}
