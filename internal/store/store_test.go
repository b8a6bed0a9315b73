package store

import (
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/athenawatch/athenawatch/internal/cloudtrail"
)

func openTest(t *testing.T) *Store {
	t.Helper()
	st, err := Open(context.Background(), filepath.Join(t.TempDir(), "test.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func testQuery(region, id, user string, bytes int64) Query {
	return Query{
		Region: region, QueryID: id, EventID: "ev-" + id,
		EventTime:    time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC),
		OwnerAccount: "111111111111",
		Identity:     cloudtrail.Identity{Type: "IAMUser", UserName: user, ARN: "arn:aws:iam::111111111111:user/" + user},
		User:         user, Account: "111111111111", Team: "t", Database: "db", Workgroup: "primary",
		StatsStatus: StatusFinal, BilledBytes: bytes,
		Stats: Stats{State: "SUCCEEDED", StatementType: "DML", DataScannedBytes: bytes, QueryText: "SELECT 1",
			SubmittedAt: time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)},
	}
}

func TestCommitIsIdempotent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := openTest(t)
	b := &Batch{
		Queries:     []Query{testQuery("us-east-1", "q1", "alice", 100), testQuery("us-east-1", "q1", "alice", 100), testQuery("eu-west-1", "q1", "bob", 5)},
		Rejected:    []Rejected{{EventID: "e1", EventTime: time.Now(), Region: "us-east-1", ErrorCode: "InvalidRequestException"}},
		Checkpoints: []Checkpoint{{Source: "dir:x", Name: "a.json.gz", Size: 10, ModTime: time.UnixMilli(1000).UTC(), Status: CheckpointDone}},
	}
	res, err := st.Commit(ctx, b)
	if err != nil {
		t.Fatal(err)
	}
	if res.NewQueries != 2 || res.NewRejected != 1 {
		t.Fatalf("first commit: %+v, want 2 queries (same id in two regions) and 1 rejected", res)
	}
	res, err = st.Commit(ctx, b)
	if err != nil {
		t.Fatal(err)
	}
	if res.NewQueries != 0 || res.NewRejected != 0 {
		t.Fatalf("second commit inserted %+v, want nothing", res)
	}
	cps, err := st.Checkpoints(ctx, "dir:x")
	if err != nil {
		t.Fatal(err)
	}
	if cp := cps["a.json.gz"]; cp.Status != CheckpointDone || cp.Size != 10 || !cp.ModTime.Equal(time.UnixMilli(1000)) {
		t.Fatalf("checkpoint = %+v", cp)
	}
	q, ok, err := st.GetQuery(ctx, "us-east-1", "q1")
	if err != nil || !ok {
		t.Fatalf("GetQuery: %v %v", ok, err)
	}
	want := testQuery("us-east-1", "q1", "alice", 100)
	if q.Identity != want.Identity || q.Stats != want.Stats || q.User != "alice" || !q.EventTime.Equal(want.EventTime) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", q, want)
	}
}

func TestPendingAndUpdate(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := openTest(t)
	var qs []Query
	for _, id := range []string{"a", "b", "c", "d", "e"} {
		q := testQuery("us-east-1", id, "alice", 0)
		q.StatsStatus, q.Stats = StatusPending, Stats{}
		qs = append(qs, q)
	}
	if _, err := st.Commit(ctx, &Batch{Queries: qs}); err != nil {
		t.Fatal(err)
	}
	page, err := st.PendingQueries(ctx, time.Time{}, "111111111111", "us-east-1", PendingKey{}, 2)
	if err != nil || len(page) != 2 || page[0].QueryID != "a" || page[1].QueryID != "b" {
		t.Fatalf("first page = %v, %v", page, err)
	}
	page, err = st.PendingQueries(ctx, time.Time{}, "111111111111", "us-east-1", PendingKey{Time: page[1].EventTime, QueryID: "b"}, 10)
	if err != nil || len(page) != 3 {
		t.Fatalf("second page = %d, %v", len(page), err)
	}
	page[0].StatsStatus = StatusFinal
	page[0].Stats = Stats{State: "SUCCEEDED", StatementType: "DML", DataScannedBytes: 42}
	page[0].BilledBytes = 10 << 20
	page[1].StatsStatus = StatusNoStats
	if err := st.UpdateQueries(ctx, page[:2]); err != nil {
		t.Fatal(err)
	}
	page, err = st.PendingQueries(ctx, time.Time{}, "111111111111", "us-east-1", PendingKey{}, 10)
	if err != nil || len(page) != 3 {
		t.Fatalf("pending after update = %d, %v; want 3", len(page), err)
	}
	sums := []Sum{SumQueries, SumSucceeded, SumBytesScanned, SumBilledBytes, SumNoStats, SumWithStats, SumPending}
	res, err := st.Aggregate(ctx, Aggregation{By: "user", Sums: sums})
	if err != nil || len(res.Groups) != 1 {
		t.Fatalf("aggregate = %v, %v", res, err)
	}
	if got, want := res.Groups[0].Sums, []int64{5, 1, 42, 10 << 20, 1, 1, 3}; !slices.Equal(got, want) {
		t.Fatalf("sums %v = %v, want %v", sums, got, want)
	}
}

func TestAggregateFilters(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := openTest(t)
	a := testQuery("us-east-1", "1", "alice", 100)
	b := testQuery("us-east-1", "2", "bob@example.com", 200)
	b.EventTime = b.EventTime.Add(48 * time.Hour)
	c := testQuery("eu-west-1", "3", "bob@example.com", 300)
	if _, err := st.Commit(ctx, &Batch{Queries: []Query{a, b, c}}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		by     string
		filter Filter
		want   map[string]int64 // key → bytes
	}{
		{"all by user", "user", Filter{}, map[string]int64{"alice": 100, "bob@example.com": 500}},
		{"glob", "user", Filter{Match: map[string][]string{"user": {"bob@*"}}}, map[string]int64{"bob@example.com": 500}},
		{"region", "region", Filter{}, map[string]int64{"us-east-1": 300, "eu-west-1": 300}},
		{"since", "user", Filter{Since: a.EventTime.Add(time.Hour)}, map[string]int64{"bob@example.com": 200}},
		{"until", "day", Filter{Until: a.EventTime.Add(time.Hour)}, map[string]int64{"2026-11-20": 400}},
		{"two values", "user", Filter{Match: map[string][]string{"user": {"alice", "nobody"}}}, map[string]int64{"alice": 100}},
		{"hostile value is bound", "user", Filter{Match: map[string][]string{"user": {"' OR 1=1 --"}}}, map[string]int64{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := st.Aggregate(ctx, Aggregation{By: tt.by, Filter: tt.filter, Sums: []Sum{SumBytesScanned}})
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]int64{}
			for _, g := range res.Groups {
				got[g.Key] += g.Sums[0]
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
			for k, v := range tt.want {
				if got[k] != v {
					t.Fatalf("got %v, want %v", got, tt.want)
				}
			}
		})
	}
	if _, err := st.Aggregate(ctx, Aggregation{By: "user; DROP TABLE queries"}); err == nil {
		t.Fatal("unknown dimension accepted")
	}
	if _, err := st.Aggregate(ctx, Aggregation{By: "user", Sums: []Sum{"COUNT(*)); DROP TABLE queries; --"}}); err == nil {
		t.Fatal("unknown sum accepted")
	}
}

func TestReopenKeepsData(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "x.db")
	st, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Commit(ctx, &Batch{Queries: []Query{testQuery("us-east-1", "q1", "alice", 1)}}); err != nil {
		t.Fatal(err)
	}
	st.Close()
	st, err = Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, ok, err := st.GetQuery(ctx, "us-east-1", "q1"); err != nil || !ok {
		t.Fatalf("query after reopen: %v, %v", ok, err)
	}
}

func TestCheckpointsIn(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := openTest(t)
	var cps []Checkpoint
	for _, name := range []string{"top.json", "a/1.json", "a/2.json", "a/b/3.json", "a0/4.json", "ab/5.json", "a.json", "é/6.json", "é/x/7.json"} {
		cps = append(cps, Checkpoint{Source: "s", Name: name, Status: CheckpointDone})
	}
	cps = append(cps, Checkpoint{Source: "other", Name: "a/9.json", Status: CheckpointDone})
	if _, err := st.Commit(ctx, &Batch{Checkpoints: cps}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		dir  string
		want []string
	}{
		{"", []string{"top.json", "a.json"}},
		{"a", []string{"a/1.json", "a/2.json"}},
		{"a/b", []string{"a/b/3.json"}},
		{"é", []string{"é/6.json"}},
		{"nope", nil},
	}
	for _, tt := range tests {
		got, err := st.CheckpointsIn(ctx, "s", tt.dir)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(tt.want) {
			t.Fatalf("CheckpointsIn(%q) = %v, want %v", tt.dir, got, tt.want)
		}
		for _, n := range tt.want {
			if _, ok := got[n]; !ok {
				t.Fatalf("CheckpointsIn(%q) lacks %s", tt.dir, n)
			}
		}
	}
}

func TestOpenPathWithURISyntax(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "a#b?c%41.db")
	st, err := Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	var mode string
	var size int
	st.db.QueryRow("PRAGMA journal_mode").Scan(&mode)
	st.db.QueryRow("PRAGMA page_size").Scan(&size)
	st.Close()
	if mode != "wal" {
		t.Fatalf("journal_mode = %q, want wal", mode)
	}
	if size != pageSize {
		t.Fatalf("page_size = %d, want %d", size, pageSize)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("database not at the path given: %v", err)
	}
}

func TestCursorsIn(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := openTest(t)
	var cs []Cursor
	for _, key := range []string{"top", "a/1", "a/2", "a/b/3", "a0/4", "é/6", "é/x/7"} {
		cs = append(cs, Cursor{Source: "s", Key: key, Value: "v:" + key})
	}
	cs = append(cs, Cursor{Source: "other", Key: "a/9", Value: "x"})
	if _, err := st.Commit(ctx, &Batch{Cursors: cs}); err != nil {
		t.Fatal(err)
	}
	// A later batch replaces a value.
	if _, err := st.Commit(ctx, &Batch{Cursors: []Cursor{{Source: "s", Key: "a/1", Value: "new"}}}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		dir  string
		want map[string]string
	}{
		{"", map[string]string{"top": "v:top"}},
		{"a", map[string]string{"a/1": "new", "a/2": "v:a/2"}},
		{"a/b", map[string]string{"a/b/3": "v:a/b/3"}},
		{"é", map[string]string{"é/6": "v:é/6"}},
		{"nope", map[string]string{}},
	}
	for _, tt := range tests {
		got, err := st.CursorsIn(ctx, "s", tt.dir)
		if err != nil {
			t.Fatal(err)
		}
		if !maps.Equal(got, tt.want) {
			t.Errorf("CursorsIn(%q) = %v, want %v", tt.dir, got, tt.want)
		}
	}
}

// TestGetQueriesByKey: the queries of many keys, in pages of statements,
// are those GetQuery reads one at a time; keys not stored, repeated or in
// another region have no or one entry.
func TestGetQueriesByKey(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := openTest(t)
	var qs []Query
	for i := range 2*getQueriesPage + 7 {
		qs = append(qs, testQuery([]string{"us-east-1", "eu-west-1"}[i%2], fmt.Sprintf("q%03d", i), "alice", int64(i)))
	}
	if _, err := st.Commit(ctx, &Batch{Queries: qs}); err != nil {
		t.Fatal(err)
	}
	var keys []QueryKey
	for _, q := range qs {
		keys = append(keys, QueryKey{q.Region, q.QueryID})
	}
	keys = append(keys, QueryKey{"us-east-1", "q001"}, QueryKey{"us-east-1", "missing"}, keys[3])
	got, err := st.GetQueries(ctx, keys)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(qs) {
		t.Errorf("GetQueries = %d queries, want %d", len(got), len(qs))
	}
	for _, q := range qs {
		want, ok, err := st.GetQuery(ctx, q.Region, q.QueryID)
		if err != nil || !ok {
			t.Fatalf("GetQuery(%s, %s) = %v, %v", q.Region, q.QueryID, ok, err)
		}
		if g, ok := got[QueryKey{q.Region, q.QueryID}]; !ok || !reflect.DeepEqual(g, want) {
			t.Errorf("GetQueries[%s %s] = %+v, %v; want %+v", q.Region, q.QueryID, g, ok, want)
		}
	}
	if none, err := st.GetQueries(ctx, nil); err != nil || len(none) != 0 {
		t.Errorf("GetQueries(nil) = %v, %v; want none", none, err)
	}
}
