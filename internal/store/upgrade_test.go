package store

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"testing"
	"time"
)

// TestUpgradeRelease opens databases earlier releases wrote and checks
// that each migrates in place: every row as it was, the rollups filled with
// exactly the sums of the rows, every report the same as before the
// upgrade, from the rollups and from the rows, and the listing's indexes
// rebuilt. testdata/release-v3.db holds final, pending and no_stats
// queries, provisioned ones with DPUs, rejected submissions and
// checkpoints; testdata/release-v7.db is the same database as the release
// of schema version 7 migrated and left it (wide and narrow rollups, the
// listing indexes of every row).
func TestUpgradeRelease(t *testing.T) {
	t.Parallel()
	for _, version := range []int{3, 7} {
		t.Run(fmt.Sprintf("v%d", version), func(t *testing.T) {
			t.Parallel()
			testUpgradeRelease(t, version)
		})
	}
}

func testUpgradeRelease(t *testing.T, version int) {
	ctx := context.Background()
	src, err := os.ReadFile(filepath.Join("testdata", fmt.Sprintf("release-v%d.db", version)))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "athenawatch.db")
	if err := os.WriteFile(path, src, 0o644); err != nil {
		t.Fatal(err)
	}

	// Before the upgrade: a read-only store reads the old schema as it is.
	ro, err := OpenReadOnly(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if ro.version != version {
		t.Fatalf("testdata schema version %d, want %d", ro.version, version)
	}
	before := reportsOf(t, ro)
	rowsBefore := allQueries(t, ro)
	rejectedBefore, err := ro.RejectedAfter(ctx, "", 1000)
	if err != nil {
		t.Fatal(err)
	}
	ro.Close()
	if len(rowsBefore) != 40 || len(rejectedBefore) != 2 {
		t.Fatalf("testdata holds %d queries and %d rejected submissions, want 40 and 2", len(rowsBefore), len(rejectedBefore))
	}

	st, err := Open(ctx, path)
	if err != nil {
		t.Fatalf("upgrade: %v", err)
	}
	defer st.Close()
	if want, _ := schemaVersion(); st.version != want {
		t.Fatalf("schema version %d after upgrade, want %d", st.version, want)
	}
	// A database keeps the page size it was created with (the release's
	// 4 KiB); only new databases get pageSize.
	var size int
	if err := st.db.QueryRow("PRAGMA page_size").Scan(&size); err != nil || size != 4096 {
		t.Errorf("page_size %d (%v) after upgrade, want the release's 4096", size, err)
	}
	if rows := allQueries(t, st); !reflect.DeepEqual(rows, rowsBefore) {
		t.Errorf("queries changed by the upgrade:\n got %+v\nwant %+v", rows, rowsBefore)
	}
	if rj, err := st.RejectedAfter(ctx, "", 1000); err != nil || !reflect.DeepEqual(rj, rejectedBefore) {
		t.Errorf("rejected submissions after upgrade %+v (%v), want %+v", rj, err, rejectedBefore)
	}
	cps, err := st.Checkpoints(ctx, "dir:/trail")
	if err != nil || len(cps) != 3 {
		t.Errorf("checkpoints after upgrade: %d (%v), want 3", len(cps), err)
	}
	checkRollupTables(t, st)
	checkListing(t, st, rowsBefore)
	after := reportsOf(t, st)
	raw := &Store{db: st.db, version: st.version, rawReports: true}
	if rawAfter := reportsOf(t, raw); !reflect.DeepEqual(rawAfter, after) {
		t.Errorf("reports from the rollups differ from the rows:\n rollups %+v\n rows    %+v", after, rawAfter)
	}
	if !reflect.DeepEqual(after, before) {
		t.Errorf("reports changed by the upgrade:\n after  %+v\n before %+v", after, before)
	}

	// The upgraded store keeps its rollups as it goes on.
	more := testQuery("us-east-1", "after-upgrade", "alice", 1<<30)
	more.EventTime = time.Date(2026, 10, 31, 5, 0, 0, 0, time.UTC)
	if _, err := st.Commit(ctx, &Batch{Queries: []Query{more, rowsBefore[0]}}); err != nil {
		t.Fatal(err)
	}
	pending, err := st.PendingQueries(ctx, time.Time{}, "111111111111", "eu-west-1", PendingKey{}, 100)
	if err != nil || len(pending) == 0 {
		t.Fatalf("pending after upgrade: %d (%v)", len(pending), err)
	}
	for i := range pending {
		pending[i].StatsStatus, pending[i].Stats.State, pending[i].Stats.DataScannedBytes = StatusFinal, "SUCCEEDED", 5<<20
		pending[i].BilledBytes = 10 << 20
	}
	if err := st.UpdateQueries(ctx, pending); err != nil {
		t.Fatal(err)
	}
	checkRollupTables(t, st)
	if got, want := reportsOf(t, st), reportsOf(t, raw); !reflect.DeepEqual(got, want) {
		t.Errorf("reports after writes to the upgraded store:\n rollups %+v\n rows    %+v", got, want)
	}
}

// reportsOf aggregates every dimension over the whole history and over a
// window with millisecond edges.
func reportsOf(t *testing.T, st *Store) map[string]Aggregated {
	t.Helper()
	out := map[string]Aggregated{}
	windows := map[string]Filter{
		"all":    {},
		"window": {Since: time.Date(2026, 10, 31, 3, 12, 0, 5_000_000, time.UTC), Until: time.Date(2026, 11, 2, 1, 0, 0, 1_000_000, time.UTC)},
	}
	for d := range Dimensions {
		for wn, f := range windows {
			a, err := st.Aggregate(context.Background(), Aggregation{By: d, Then: "day", Filter: f, Sums: allSums})
			if err != nil {
				t.Fatalf("aggregate by %s: %v", d, err)
			}
			sortGroups(a.Groups)
			out[d+" "+wn] = a
		}
	}
	return out
}

// allQueries reads every stored query, in key order.
func allQueries(t *testing.T, st *Store) []Query {
	t.Helper()
	qs, err := st.QueriesAfter(context.Background(), "", "", 100000)
	if err != nil {
		t.Fatal(err)
	}
	sort.Slice(qs, func(i, j int) bool { return qs[i].Region+qs[i].QueryID < qs[j].Region+qs[j].QueryID })
	return qs
}

// checkListing lists the queries of each user, newest first, and compares
// them with rows: the filter indexes and the backlog's index together find
// every one, pending or not.
func checkListing(t *testing.T, st *Store, rows []Query) {
	t.Helper()
	byUser := map[string][]Query{}
	for _, q := range rows {
		byUser[q.User] = append(byUser[q.User], q)
	}
	for user, want := range byUser {
		sort.Slice(want, func(i, j int) bool {
			a, b := want[i], want[j]
			if !a.EventTime.Equal(b.EventTime) {
				return a.EventTime.After(b.EventTime)
			}
			return a.Region+"/"+a.QueryID < b.Region+"/"+b.QueryID
		})
		page, err := st.ListQueries(context.Background(), ListOptions{Filter: Filter{Match: map[string][]string{"user": {user}}}, Limit: MaxListLimit})
		if err != nil {
			t.Fatalf("list queries of %s: %v", user, err)
		}
		var got, wantIDs []string
		for _, q := range page.Queries {
			got = append(got, q.Region+"/"+q.QueryID)
		}
		for _, q := range want {
			wantIDs = append(wantIDs, q.Region+"/"+q.QueryID)
		}
		if !reflect.DeepEqual(got, wantIDs) {
			t.Errorf("queries of %s listed: %v, want %v", user, got, wantIDs)
		}
	}
}
