package store

import (
	"context"
	"path/filepath"
	"regexp"
	"slices"
	"testing"
	"time"
)

// TestLakeTriggerCoversLakeColumns holds the lake's update trigger to
// lakeColumns, both ways: a column the export writes that the trigger
// missed would leave the lake stale after a change to it alone.
func TestLakeTriggerCoversLakeColumns(t *testing.T) {
	s, err := Open(context.Background(), filepath.Join(t.TempDir(), "t.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var sql string
	if err := s.db.QueryRow("SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = 'queries_lake_update'").Scan(&sql); err != nil {
		t.Fatal(err)
	}
	var inTrigger []string
	for _, m := range regexp.MustCompile(`OLD\.(\w+) IS NOT NEW\.(\w+)`).FindAllStringSubmatch(sql, -1) {
		if m[1] != m[2] {
			t.Errorf("trigger compares OLD.%s with NEW.%s", m[1], m[2])
		}
		inTrigger = append(inTrigger, m[1])
	}
	for _, c := range lakeColumns {
		if !slices.Contains(inTrigger, c) {
			t.Errorf("the trigger misses %s", c)
		}
	}
	for _, c := range inTrigger {
		if !slices.Contains(lakeColumns, c) {
			t.Errorf("the trigger watches %s, which lakeColumns lacks", c)
		}
	}
}

// TestLakeDayVersions checks what moves a day's version: storing a query
// of the day, and a change to a column the export writes; not a change to
// another column (another ask of a query still running).
func TestLakeDayVersions(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "t.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	at := time.Date(2026, 11, 3, 10, 0, 0, 0, time.UTC)
	q := Query{Region: "us-east-1", QueryID: "q1", EventID: "e1", EventTime: at, OwnerAccount: "111111111111", StatsStatus: StatusPending}
	if _, err := s.Commit(ctx, &Batch{Queries: []Query{q}}); err != nil {
		t.Fatal(err)
	}
	version := func() int64 {
		t.Helper()
		days, err := s.LakeDays(ctx, "2026-11-03", "2026-11-03")
		if err != nil || len(days) != 1 {
			t.Fatalf("lake days: %v %v", days, err)
		}
		return days[0].Version
	}
	v := version()
	for _, c := range []struct {
		set   string
		moves bool
	}{
		{"last_asked = 5, ask_attempts = 2", false},
		{"error_category = 2", true},
		{"athena_database = 'sales'", true},
		{"state = 'SUCCEEDED'", true},
		{"query_text = 'SELECT 1'", false},
	} {
		if _, err := s.db.Exec("UPDATE queries SET " + c.set); err != nil {
			t.Fatal(err)
		}
		if now := version(); (now != v) != c.moves {
			t.Errorf("after SET %s the version went from %d to %d", c.set, v, now)
		} else {
			v = now
		}
	}
}
