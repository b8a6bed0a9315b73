package storegen

import (
	"context"
	"crypto/sha256"
	"fmt"
	"math"
	"path/filepath"
	"testing"
	"time"

	"github.com/athenawatch/athenawatch/internal/store"
	"github.com/athenawatch/athenawatch/internal/usage"
)

func generate(t testing.TB, o Options) (*store.Store, Stats) {
	t.Helper()
	st, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "gen.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	s, err := Generate(context.Background(), st, o)
	if err != nil {
		t.Fatal(err)
	}
	return st, s
}

// digest hashes every stored row in key order.
func digest(t *testing.T, st *store.Store) (string, []store.Query) {
	t.Helper()
	h := sha256.New()
	var all []store.Query
	region, id := "", ""
	for {
		page, err := st.QueriesAfter(context.Background(), region, id, 5000)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			return fmt.Sprintf("%x", h.Sum(nil)), all
		}
		for _, q := range page {
			fmt.Fprintf(h, "%+v\n", q)
		}
		all = append(all, page...)
		region, id = page[len(page)-1].Region, page[len(page)-1].QueryID
	}
}

// TestGenerateIsRealistic: the same options give the same store; the
// history has the properties benchmarks rely on (heavy-tailed users, a mix
// of states and statements, costs and teams as the rules derive them).
func TestGenerateIsRealistic(t *testing.T) {
	t.Parallel()
	o := Options{Queries: 20_000, Days: 14, Users: 300, Seed: 7, TxQueries: 3000,
		Fingerprint: func(text string) string {
			return fmt.Sprintf("%x", sha256.Sum256([]byte(text[:min(len(text), 30)])))[:16]
		}}
	st, s := generate(t, o)
	st2, s2 := generate(t, o)
	d1, qs := digest(t, st)
	d2, _ := digest(t, st2)
	if d1 != d2 {
		t.Fatal("the same options gave different stores")
	}
	s.Elapsed, s2.Elapsed = 0, 0
	if fmt.Sprint(s) != fmt.Sprint(s2) {
		t.Fatalf("the same options gave different stats:\n%+v\n%+v", s, s2)
	}
	if len(qs) != o.Queries || s.Queries != o.Queries {
		t.Fatalf("stored %d queries, stats say %d, want %d", len(qs), s.Queries, o.Queries)
	}
	if s.Succeeded+s.Failed+s.Cancelled+s.Pending+s.NoStats != s.Queries {
		t.Errorf("states do not add up: %+v", s)
	}

	rules := usage.NewRules(o.Config())
	perUser := map[string]int{}
	states := map[string]int{}
	stmts := map[string]int{}
	shapes := map[string]int{}
	var weekday, weekend, tb, provisionedCost int
	for _, q := range qs {
		perUser[q.User]++
		states[q.StatsStatus+"/"+q.Stats.State]++
		stmts[q.Stats.StatementType]++
		if q.EventTime.Before(s.Since) || !q.EventTime.Before(s.Until) {
			t.Fatalf("%s at %v: outside the window %v..%v", q.QueryID, q.EventTime, s.Since, s.Until)
		}
		if wd := q.EventTime.Weekday(); wd == time.Saturday || wd == time.Sunday {
			weekend++
		} else {
			weekday++
		}
		if q.Stats.DataScannedBytes >= 1<<40 {
			tb++
		}
		if q.Fingerprint != "" {
			shapes[q.Fingerprint]++
		}
		if q.Provisioned && q.CostUSD > 0 {
			provisionedCost++
		}
		want := q
		rules.Query(&want)
		if q.StatsStatus == store.StatusPending {
			if q.Stats != (store.Stats{}) || q.CostUSD != 0 || q.Fingerprint != "" {
				t.Fatalf("pending query %s has statistics or derived values: %+v", q.QueryID, q)
			}
		}
		if want.User != q.User || want.Team != q.Team || want.CostUSD != q.CostUSD || want.BilledBytes != q.BilledBytes || want.Provisioned != q.Provisioned {
			t.Fatalf("query %s is not derived as the rules derive it:\nstored %+v\nrules  %+v", q.QueryID, q, want)
		}
	}
	if len(perUser) != s.Users || perUser[s.Top["user"]] < 20*max(1, perUser[s.Tail["user"]]) {
		t.Errorf("users: %d distinct (stats %d), top %s ran %d, tail %s ran %d: not heavy-tailed",
			len(perUser), s.Users, s.Top["user"], perUser[s.Top["user"]], s.Tail["user"], perUser[s.Tail["user"]])
	}
	// The top tenth of users run most queries.
	counts := make([]int, 0, len(perUser))
	for _, c := range perUser {
		counts = append(counts, c)
	}
	top10 := 0
	for range len(counts) / 10 {
		best := 0
		for i, c := range counts {
			if c > counts[best] {
				best = i
			}
		}
		top10 += counts[best]
		counts[best] = -1
	}
	if top10 < o.Queries/2 {
		t.Errorf("the top tenth of users ran %d of %d queries, want most", top10, o.Queries)
	}
	perDay := float64(weekday) / 10 / (float64(weekend) / 4) // 14 days: 10 weekdays, 4 weekend days
	if perDay < 2 {
		t.Errorf("a weekday has %.1f times the queries of a weekend day, want at least 2", perDay)
	}
	for _, k := range []string{"final/SUCCEEDED", "final/FAILED", "final/CANCELLED", "pending/", "no_stats/"} {
		if states[k] == 0 {
			t.Errorf("no query in state %s: %v", k, states)
		}
	}
	if states["final/SUCCEEDED"] < o.Queries*8/10 {
		t.Errorf("states %v: want most SUCCEEDED", states)
	}
	if stmts["DML"] < o.Queries*8/10 || stmts["DDL"] == 0 || stmts["UTILITY"] == 0 {
		t.Errorf("statement types %v", stmts)
	}
	if tb == 0 || tb > o.Queries/100 {
		t.Errorf("%d queries scanned a TiB or more: want a few", tb)
	}
	if provisionedCost == 0 || s.Provisioned == 0 {
		t.Errorf("%d provisioned queries, %d with a DPU cost", s.Provisioned, provisionedCost)
	}
	if len(shapes) < 100 || len(shapes) > o.Queries/4 || shapes[s.Top["fingerprint"]] < 20 {
		t.Errorf("%d shapes, the top one %d queries: want clusters", len(shapes), shapes[s.Top["fingerprint"]])
	}
	if math.Abs(s.CostUSD) == 0 || s.Top["team"] == "" || s.Top["database"] == "" || s.Top["workgroup"] == "" {
		t.Errorf("stats: %+v", s)
	}
}

// TestGenerateTinyOrganization: one of everything still works.
func TestGenerateTinyOrganization(t *testing.T) {
	t.Parallel()
	_, s := generate(t, Options{Queries: 50, Days: 1, Users: 1, Teams: 1, Databases: 1, Workgroups: 1, Accounts: 1, Regions: 1})
	if s.Queries != 50 || s.Users != 1 {
		t.Fatalf("stats %+v", s)
	}
	if _, err := Generate(context.Background(), nil, Options{}); err == nil {
		t.Fatal("0 queries: no error")
	}
}

// BenchmarkGenerate measures generation and storing together, in queries
// a second.
func BenchmarkGenerate(b *testing.B) {
	n := 50_000
	for b.Loop() {
		generate(b, Options{Queries: n})
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "queries/s")
}
