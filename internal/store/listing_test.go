package store

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"testing"
	"time"
)

// TestListQueriesPagesEveryRowOnce: whatever the sort and page size, paging
// to the end returns every matching query exactly once, in sort order, with
// ties (many equal values) broken by key.
func TestListQueriesPagesEveryRowOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := openTest(t)
	var qs []Query
	for i := range 137 {
		q := testQuery([]string{"us-east-1", "eu-west-1"}[i%2], fmt.Sprintf("q%03d", i), []string{"alice", "bob", "carol"}[i%3], int64(i%7)*1000)
		q.EventTime = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i%11) * time.Hour)
		q.CostUSD = float64(i%5) / 3
		q.Stats.EngineMs = int64(i % 4)
		qs = append(qs, q)
	}
	if _, err := st.Commit(ctx, &Batch{Queries: qs}); err != nil {
		t.Fatal(err)
	}
	for sortKey := range Sorts {
		for _, limit := range []int{1, 7, 50, 1000} {
			for _, user := range []string{"", "bob"} {
				var f Filter
				want := 0
				for _, q := range qs {
					if user == "" || q.User == user {
						want++
					}
				}
				if user != "" {
					f.Match = map[string][]string{"user": {user}}
				}
				seen := map[string]bool{}
				var got []Query
				cur := ""
				for pages := 0; ; pages++ {
					if pages > len(qs)+1 {
						t.Fatalf("sort %s limit %d: paging does not end", sortKey, limit)
					}
					p, err := st.ListQueries(ctx, ListOptions{Filter: f, Sort: sortKey, Limit: limit, Cursor: cur})
					if err != nil {
						t.Fatal(err)
					}
					if len(p.Queries) > limit {
						t.Fatalf("page of %d rows, limit %d", len(p.Queries), limit)
					}
					for _, q := range p.Queries {
						k := q.Region + "/" + q.QueryID
						if seen[k] {
							t.Fatalf("sort %s limit %d: %s listed twice", sortKey, limit, k)
						}
						seen[k] = true
						got = append(got, q)
					}
					if p.Next == "" {
						break
					}
					cur = p.Next
				}
				if len(got) != want {
					t.Fatalf("sort %s limit %d user %q: %d rows, want %d", sortKey, limit, user, len(got), want)
				}
				if !sort.SliceIsSorted(got, func(i, j int) bool {
					a, b := sortValue(&got[i], sortKey), sortValue(&got[j], sortKey)
					if a != b {
						return a > b
					}
					if got[i].Region != got[j].Region {
						return got[i].Region < got[j].Region
					}
					return got[i].QueryID < got[j].QueryID
				}) {
					t.Fatalf("sort %s: rows out of order", sortKey)
				}
			}
		}
	}
}

func TestListQueriesRejectsBadInput(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := openTest(t)
	p, err := st.ListQueries(ctx, ListOptions{Sort: "cost", Limit: 1})
	if err != nil || len(p.Queries) != 0 || p.Next != "" {
		t.Fatalf("empty store: %+v, %v", p, err)
	}
	for _, o := range []ListOptions{
		{Sort: "name"},
		{Limit: -1},
		{Limit: MaxListLimit + 1},
		{Cursor: "not base64!"},
		{Cursor: cursor{Sort: "cost"}.encode()}, // a cursor of another sort
	} {
		if _, err := st.ListQueries(ctx, o); err == nil {
			t.Errorf("ListQueries(%+v) = nil error", o)
		}
	}
	if _, err := st.ListQueries(ctx, ListOptions{Cursor: "e30"}); !errors.Is(err, ErrBadCursor) {
		t.Errorf("cursor {}: %v, want ErrBadCursor", err)
	}
}

func TestQueriesByID(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := openTest(t)
	if _, err := st.Commit(ctx, &Batch{Queries: []Query{
		testQuery("us-east-1", "a", "alice", 1), testQuery("eu-west-1", "b", "bob", 2),
		testQuery("ap-south-1", "c", "carol", 3), testQuery("us-east-1", "c", "carol", 3),
	}}); err != nil {
		t.Fatal(err)
	}
	for id, want := range map[string][]string{"a": {"us-east-1"}, "b": {"eu-west-1"}, "c": {"ap-south-1", "us-east-1"}, "zzz": nil} {
		qs, err := st.QueriesByID(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, q := range qs {
			got = append(got, q.Region)
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("QueriesByID(%s) regions %v, want %v", id, got, want)
		}
	}
}

// TestFingerprintDimensionWithStaleRules: a report by or filtered on the
// shape works when rows are re-derived on read (stored under other rules).
func TestFingerprintDimensionWithStaleRules(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := openTest(t)
	a, b := testQuery("us-east-1", "a", "alice", 1), testQuery("us-east-1", "b", "bob", 2)
	a.Fingerprint, b.Fingerprint = "v1-aaaa", "v1-bbbb"
	a.RulesFingerprint, b.RulesFingerprint = "old", "old"
	if _, err := st.Commit(ctx, &Batch{Queries: []Query{a, b}}); err != nil {
		t.Fatal(err)
	}
	res, err := st.Aggregate(ctx, Aggregation{By: "fingerprint", Sums: []Sum{SumQueries},
		Filter: Filter{Match: map[string][]string{"fingerprint": {"v1-a*"}}}, Rules: teamRules{fp: "new", prefix: "new-"}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Rederived != 2 || len(res.Groups) != 1 || res.Groups[0].Key != "v1-aaaa" || res.Groups[0].Sums[0] != 1 {
		t.Fatalf("by fingerprint with stale rows: %+v, want one group v1-aaaa of 1 query, 2 rows re-derived", res)
	}
}

// TestListQueriesWithoutListingIndexes: a read-only store of a schema
// before the listing's indexes (which it must not migrate) still lists.
func TestListQueriesWithoutListingIndexes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "old.db")
	st, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	q := testQuery("us-east-1", "a", "alice", 100)
	q.CostUSD = 1
	if _, err := st.Commit(ctx, &Batch{Queries: []Query{q, testQuery("us-east-1", "b", "bob", 0)}}); err != nil {
		t.Fatal(err)
	}
	for _, idx := range []string{"queries_by_cost", "queries_by_bytes", "queries_by_engine", "queries_user_time", "queries_team_time",
		"queries_database_time", "queries_workgroup_time", "queries_state_time"} {
		if _, err := st.db.ExecContext(ctx, "DROP INDEX "+idx); err != nil {
			t.Fatal(err)
		}
	}
	st.Close()
	ro, err := OpenReadOnly(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	for sortKey := range Sorts {
		p, err := ro.ListQueries(ctx, ListOptions{Sort: sortKey, Filter: Filter{Match: map[string][]string{"user": {"alice", "bob"}}}})
		if err != nil || len(p.Queries) != 2 {
			t.Fatalf("sort %s: %d rows, %v", sortKey, len(p.Queries), err)
		}
	}
}
