package store

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path"
	"slices"
	"testing"
	"time"
)

// randomStore fills a store with n queries whose values repeat a lot (ties
// in every sort key, amounts at 0, empty states and shapes, pending rows).
func randomStore(t *testing.T, rng *rand.Rand, n int) (*Store, []Query) {
	t.Helper()
	return randomStoreOf(t, rng, n, 4)
}

// randomStoreOf is randomStore with amounts of up to spread values each.
func randomStoreOf(t *testing.T, rng *rand.Rand, n, spread int) (*Store, []Query) {
	t.Helper()
	st := openTest(t)
	base := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	pick := func(vals ...string) string { return vals[rng.IntN(len(vals))] }
	qs := make([]Query, n)
	for i := range qs {
		q := testQuery(pick("us-east-1", "eu-west-1", "ap-south-1"), fmt.Sprintf("q%04d", rng.IntN(10*n)), pick("ann", "bob", "cy", "dee"), 0)
		q.EventTime = base.Add(time.Duration(rng.IntN(40)) * time.Hour)
		q.Team = pick("red", "blue", "green")
		q.Database = pick("sales", "events")
		q.Workgroup = pick("primary", "etl")
		q.Fingerprint = pick("", "fa", "fb")
		q.Stats.State = pick("SUCCEEDED", "SUCCEEDED", "FAILED", "CANCELLED", "")
		q.CostUSD = float64(rng.IntN(spread)) / 8
		q.Stats.DataScannedBytes = int64(rng.IntN(spread-1)) * 1000
		q.Stats.EngineMs = int64(rng.IntN(spread - 1))
		if rng.IntN(5) == 0 {
			q.StatsStatus, q.Stats, q.CostUSD, q.Fingerprint = StatusPending, Stats{}, 0, ""
		}
		qs[i] = q
	}
	if _, err := st.Commit(context.Background(), &Batch{Queries: qs}); err != nil {
		t.Fatal(err)
	}
	// What was stored: the first of duplicate keys.
	stored, err := st.QueriesAfter(context.Background(), "", "", 10*n)
	if err != nil {
		t.Fatal(err)
	}
	return st, stored
}

// matches is Filter's meaning, written out plainly.
func matches(q *Query, f Filter) bool {
	if !f.Since.IsZero() && q.EventTime.Before(f.Since) || !f.Until.IsZero() && !q.EventTime.Before(f.Until) {
		return false
	}
	for k, vals := range f.Match {
		v := map[string]string{"user": q.User, "team": q.Team, "database": q.Database, "workgroup": q.Workgroup,
			"state": q.Stats.State, "fingerprint": q.Fingerprint, "region": q.Region}[k]
		ok := false
		for _, want := range vals {
			if m, _ := path.Match(want, v); m {
				ok = true
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

// TestListQueriesEqualsBruteForce: over random stores, filters, sorts and
// page sizes, and whichever plan the listing picks (gathering a filter's
// rows, or walking a sort index), paging to the end gives exactly the
// matching rows in the order a plain sort gives.
func TestListQueriesEqualsBruteForce(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(11, 12))
	base := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	for round := range 6 {
		st, all := randomStore(t, rng, 150+rng.IntN(250))
		for range 40 {
			f := Filter{Match: map[string][]string{}}
			if rng.IntN(2) == 0 {
				f.Since = base.Add(time.Duration(rng.IntN(30)) * time.Hour)
			}
			if rng.IntN(3) == 0 {
				f.Until = base.Add(time.Duration(10+rng.IntN(40)) * time.Hour)
			}
			for _, dim := range []struct {
				key  string
				vals []string
			}{
				{"user", []string{"ann", "bob", "b*", "zed"}}, {"team", []string{"red", "blue"}}, {"database", []string{"sales"}},
				{"workgroup", []string{"etl"}}, {"state", []string{"FAILED", "SUCCEEDED", "CANCELLED", "*"}},
				{"fingerprint", []string{"fa", "fb"}}, {"region", []string{"eu-west-1"}},
			} {
				if rng.IntN(4) == 0 {
					f.Match[dim.key] = []string{dim.vals[rng.IntN(len(dim.vals))]}
					if rng.IntN(4) == 0 {
						f.Match[dim.key] = append(f.Match[dim.key], dim.vals[rng.IntN(len(dim.vals))])
					}
				}
			}
			sortKey := []string{"time", "cost", "bytes", "engine"}[rng.IntN(4)]
			limit := []int{1, 3, 10, 1000}[rng.IntN(4)]
			st.gatherBound = []int{1, 5, 50, defaultGatherBound}[rng.IntN(4)]

			checkListingOf(t, st, all, f, sortKey, limit, fmt.Sprintf("round %d sort %s limit %d bound %d filter %+v", round, sortKey, limit, st.gatherBound, f))
		}
	}
}

// checkListingOf pages through the listing of f by sortKey, limit rows a
// page, and compares it with the rows of all that match f, sorted plainly.
func checkListingOf(t *testing.T, st *Store, all []Query, f Filter, sortKey string, limit int, what string) {
	t.Helper()
	ctx := context.Background()
	var want []Query
	for i := range all {
		if matches(&all[i], f) {
			want = append(want, all[i])
		}
	}
	slices.SortFunc(want, func(a, b Query) int {
		av, bv := sortValue(&a, sortKey), sortValue(&b, sortKey)
		switch {
		case av > bv:
			return -1
		case av < bv:
			return 1
		case a.Region != b.Region:
			return cmpStr(a.Region, b.Region)
		}
		return cmpStr(a.QueryID, b.QueryID)
	})
	var got []Query
	cur := ""
	for pages := 0; ; pages++ {
		if pages > len(all)+1 {
			t.Fatalf("%s: paging does not end", what)
		}
		p, err := st.ListQueries(ctx, ListOptions{Filter: f, Sort: sortKey, Limit: limit, Cursor: cur})
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		got = append(got, p.Queries...)
		if p.Next == "" {
			break
		}
		cur = p.Next
	}
	if len(got) != len(want) {
		t.Fatalf("%s: %d rows, want %d", what, len(got), len(want))
	}
	for i := range got {
		if got[i].Region != want[i].Region || got[i].QueryID != want[i].QueryID {
			t.Fatalf("%s: row %d is %s/%s, want %s/%s", what, i, got[i].Region, got[i].QueryID, want[i].Region, want[i].QueryID)
		}
	}
}

// TestListingBoundsPagesOfIndexedAmounts: a filter by state alone, whose
// index holds the amounts, lists by cost, bytes and engine time through
// the page's bound read from the index; with few ties among the amounts,
// a bound one row too high would lose rows.
func TestListingBoundsPagesOfIndexedAmounts(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(21, 22))
	base := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	st, all := randomStoreOf(t, rng, 300, 500)
	st.gatherBound = defaultGatherBound
	for _, states := range [][]string{{"FAILED"}, {"FAILED", "CANCELLED"}, {"SUCCEEDED"}} {
		for _, since := range []time.Time{{}, base.Add(17 * time.Hour)} {
			for _, sortKey := range []string{"cost", "bytes", "engine"} {
				for _, limit := range []int{1, 2, 3, 7} {
					f := Filter{Since: since, Match: map[string][]string{"state": states}}
					checkListingOf(t, st, all, f, sortKey, limit, fmt.Sprintf("sort %s limit %d filter %+v", sortKey, limit, f))
				}
			}
		}
	}
}

func cmpStr(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// TestShapeLatestProperty: the span of a filter's queries and the latest
// query of each shape under it (latest time, then the greatest region and
// id among ties) are the same whether the rows are gathered from the
// filter's index or found by walking the time and shape indexes.
func TestShapeLatestProperty(t *testing.T) {
	ctx := context.Background()
	for round := range 3 {
		rng := rand.New(rand.NewPCG(uint64(round), 11))
		st, all := randomStore(t, rng, 400)
		base := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
		for range 40 {
			f := Filter{Match: map[string][]string{}}
			if rng.IntN(2) == 0 {
				f.Since = base.Add(time.Duration(rng.IntN(30)) * time.Hour)
			}
			for _, dim := range []struct {
				key  string
				vals []string
			}{{"user", []string{"ann", "bob"}}, {"team", []string{"red", "blue"}}, {"state", []string{"FAILED", "CANCELLED"}}} {
				if rng.IntN(2) == 0 {
					f.Match[dim.key] = []string{dim.vals[rng.IntN(len(dim.vals))]}
				}
			}
			st.gatherBound = []int{1, 5, 50, defaultGatherBound}[rng.IntN(4)]
			want := map[string]*Query{}
			var first, last time.Time
			for i := range all {
				q := &all[i]
				if !matches(q, f) {
					continue
				}
				if first.IsZero() || q.EventTime.Before(first) {
					first = q.EventTime
				}
				if last.IsZero() || q.EventTime.After(last) {
					last = q.EventTime
				}
				if q.Fingerprint == "" {
					continue
				}
				w := want[q.Fingerprint]
				if w == nil || q.EventTime.After(w.EventTime) || q.EventTime.Equal(w.EventTime) &&
					(q.Region > w.Region || q.Region == w.Region && q.QueryID > w.QueryID) {
					want[q.Fingerprint] = q
				}
			}
			got, err := st.ShapeDetails(ctx, ShapeQuery{Filter: f, Fingerprints: []string{"fa", "fb"}})
			if err != nil {
				t.Fatal(err)
			}
			if !got.First.Equal(first) || !got.Last.Equal(last) {
				t.Fatalf("filter %+v bound %d: span %v to %v, want %v to %v", f, st.gatherBound, got.First, got.Last, first, last)
			}
			for _, fp := range []string{"fa", "fb"} {
				d, ok := got.Details[fp]
				switch w := want[fp]; {
				case w == nil && ok:
					t.Fatalf("filter %+v bound %d: shape %s has a latest query %s, want none", f, st.gatherBound, fp, d.Latest.QueryID)
				case w != nil && (!ok || d.Latest.Region != w.Region || d.Latest.QueryID != w.QueryID):
					t.Fatalf("filter %+v bound %d: shape %s latest %s/%s, want %s/%s", f, st.gatherBound, fp, d.Latest.Region, d.Latest.QueryID, w.Region, w.QueryID)
				}
			}
		}
	}
}

// TestShapeDetailsConcurrently: many pages reading shapes at once, more
// than the pool has connections, never all hold one while they wait for
// another.
func TestShapeDetailsConcurrently(t *testing.T) {
	st, _ := randomStore(t, rand.New(rand.NewPCG(3, 11)), 300)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	errs := make(chan error, 16)
	for range cap(errs) {
		go func() {
			var err error
			for range 20 {
				if _, err = st.ShapeDetails(ctx, ShapeQuery{Filter: Filter{Match: map[string][]string{"user": {"ann"}}}, Fingerprints: []string{"fa", "fb"}}); err != nil {
					break
				}
			}
			errs <- err
		}()
	}
	for range cap(errs) {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}
