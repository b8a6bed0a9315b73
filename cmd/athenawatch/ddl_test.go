package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestDDLFromTheStore runs ddl over the simulated organization's
// database: the trail table projects exactly the accounts and regions
// collected, from the first day collected, and the tables sit under the
// location given.
func TestDDLFromTheStore(t *testing.T) {
	s := simulate(t)
	s.emu.SetNow(s.settled)
	db := filepath.Join(t.TempDir(), "ddl.db")
	if r := s.run(t, db, "collect", "--no-enrich", "--source", "dir:"+s.trailDir); r.code != 0 {
		t.Fatalf("collect: exit %d\n%s", r.code, r.stderr)
	}
	r := s.run(t, db, "ddl", "--location", "s3://usage-lake/athenawatch/", "--trail", "s3://org-trail/AWSLogs/o-a1b2c3d4e5")
	if r.code != 0 {
		t.Fatalf("ddl: exit %d\n%s", r.code, r.stderr)
	}
	accounts, regions := map[string]bool{}, map[string]bool{}
	first := ""
	for _, q := range s.res.Queries {
		accounts[q.Account], regions[q.Region] = true, true
		if d := q.Submitted.UTC().Format("2006/01/02"); first == "" || d < first {
			first = d
		}
	}
	want := func(key string, set map[string]bool) string {
		var vs []string
		for v := range set {
			vs = append(vs, v)
		}
		slices.Sort(vs)
		return "'" + key + "' = '" + strings.Join(vs, ",") + "'"
	}
	for _, w := range []string{
		want("projection.account.values", accounts),
		want("projection.region.values", regions),
		"'projection.timestamp.range' = '" + first + ",NOW'",
		"LOCATION 's3://org-trail/AWSLogs/o-a1b2c3d4e5/'",
		"'storage.location.template' = 's3://org-trail/AWSLogs/o-a1b2c3d4e5/${account}/CloudTrail/${region}/${timestamp}'",
		"LOCATION 's3://usage-lake/athenawatch/usage/'",
		"LOCATION 's3://usage-lake/athenawatch/athena_api_output/'",
		"CREATE OR REPLACE VIEW athena_queries AS",
	} {
		if !strings.Contains(r.stdout, w) {
			t.Errorf("ddl lacks %s:\n%s", w, r.stdout)
		}
	}
	if strings.Contains(r.stdout, "Before running") {
		t.Errorf("ddl asks for edits it should not need:\n%s", r.stdout)
	}
}

// TestExportUsageErrors: a bad target, format or window exits 2 and
// writes nothing.
func TestExportUsageErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	db := filepath.Join(dir, "a.db")
	for _, args := range [][]string{
		{"export"},
		{"export", "--to", "/no/scheme"},
		{"export", "--to", "s3://bucket?x=1"},
		{"export", "--to", "dir:" + dir, "--format", "orc"},
		{"export", "--to", "dir:" + dir, "--compression", "lz4"},
		{"export", "--to", "dir:" + dir, "--since", "yesterday"},
		{"export", "--to", "dir:" + dir, "--output", "yaml"},
		{"ddl", "--location", "s3://bucket/it's"},
	} {
		r := athenawatch(t, nil, append([]string{"--db", db}, args...)...)
		if r.code != exitUsage {
			t.Errorf("%v: exit %d, want %d\n%s", args, r.code, exitUsage, r.stderr)
		}
	}
	if _, err := os.Stat(db); err == nil {
		t.Errorf("a usage error created the database")
	}
}
