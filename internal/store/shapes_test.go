package store

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"
)

// shapeRules is a Deriver whose shape is the text after "shape:", and
// whose users are upper case: what it derived is told apart from what was
// stored.
type shapeRules struct{ fp string }

func (r shapeRules) Fingerprint() string { return r.fp }
func (r shapeRules) Query(q *Query) {
	q.Fingerprint = strings.TrimPrefix(q.Stats.QueryText, "shape:")
	q.User = strings.ToUpper(q.Identity.UserName)
	q.RulesFingerprint = r.fp
}
func (r shapeRules) Rejected(rj *Rejected) { rj.RulesFingerprint = r.fp }

func TestShapeDetails(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := openTest(t)
	base := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	rules := shapeRules{fp: "rules-2"}
	var qs []Query
	add := func(id, user, shape string, hour int, current bool) {
		q := testQuery("us-east-1", id, user, 100)
		q.EventTime = base.Add(time.Duration(hour) * time.Hour)
		q.Stats.QueryText = "shape:" + shape
		if current {
			rules.Query(&q)
		} else {
			// Stored by an older release: no shape yet, other rules.
			q.RulesFingerprint = "rules-1"
		}
		qs = append(qs, q)
	}
	add("a1", "alice", "A", 1, true)
	add("a2", "bob", "A", 5, true)
	add("a3", "alice", "A", 3, false)
	add("a4", "carol", "A", 48, true) // outside the window below
	add("b1", "dave", "B", 2, false)
	add("b2", "dave", "B", 4, false)
	add("c1", "erin", "C", 0, true)
	if _, err := st.Commit(ctx, &Batch{Queries: qs}); err != nil {
		t.Fatal(err)
	}
	f := Filter{Since: base, Until: base.Add(24 * time.Hour)}
	got, err := st.ShapeDetails(ctx, ShapeQuery{Filter: f, Rules: rules, Fingerprints: []string{"A", "B", "", "missing"}})
	if err != nil {
		t.Fatal(err)
	}
	type want struct {
		users  int64
		latest string
		user   string
	}
	for fp, w := range map[string]want{"A": {2, "a2", "BOB"}, "B": {1, "b2", "DAVE"}} {
		d, ok := got.Details[fp]
		if !ok {
			t.Errorf("shape %s: no details", fp)
			continue
		}
		if d.Users != w.users || d.Latest.QueryID != w.latest || d.Latest.User != w.user || d.Latest.Fingerprint != fp {
			t.Errorf("shape %s: users %d, latest %s by %s (shape %q); want %d, %s by %s", fp, d.Users, d.Latest.QueryID, d.Latest.User,
				d.Latest.Fingerprint, w.users, w.latest, w.user)
		}
	}
	if len(got.Details) != 2 {
		t.Errorf("details of %d shapes, want A and B only: %v", len(got.Details), got.Details)
	}
	if !got.First.Equal(base) || !got.Last.Equal(base.Add(5*time.Hour)) {
		t.Errorf("span %v .. %v, want the window's first and last query", got.First, got.Last)
	}

	// Without rules, the stored (older) rows have no shape.
	got, err = st.ShapeDetails(ctx, ShapeQuery{Filter: f, Fingerprints: []string{"A", "B"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := got.Details["B"]; ok || got.Details["A"].Users != 2 {
		t.Errorf("as stored: %+v", got.Details)
	}
	// A filter narrows the users and the latest query.
	f.Match = map[string][]string{"user": {"ALICE"}}
	got, err = st.ShapeDetails(ctx, ShapeQuery{Filter: f, Fingerprints: []string{"A"}})
	if err != nil {
		t.Fatal(err)
	}
	if d := got.Details["A"]; d.Users != 1 || d.Latest.QueryID != "a1" {
		t.Errorf("filtered by user: %+v", d)
	}
}

// TestQuerySumsMatchAggregate: the sums of one query computed in Go are
// those Aggregate's SQL computes for it alone, for every sum.
func TestQuerySumsMatchAggregate(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := openTest(t)
	sums := []Sum{SumQueries, SumSucceeded, SumFailed, SumCancelled, SumPending, SumNoStats, SumWithStats, SumBytesScanned,
		SumBilledBytes, SumEngineMs, SumProvisioned, SumDPUMillis, SumProvisionedNoDPU}
	tests := []struct {
		name string
		edit func(q *Query)
	}{
		{"succeeded", func(q *Query) {}},
		{"failed", func(q *Query) { q.Stats.State = "FAILED"; q.BilledBytes = 0 }},
		{"cancelled", func(q *Query) { q.Stats.State = "CANCELLED" }},
		{"pending", func(q *Query) { q.StatsStatus = StatusPending; q.Stats.State = "RUNNING"; q.BilledBytes = 0 }},
		{"no stats", func(q *Query) { q.StatsStatus = StatusNoStats; q.Stats = Stats{}; q.BilledBytes = 0 }},
		{"provisioned", func(q *Query) {
			q.Provisioned = true
			q.Stats.DPUCount = 24
			q.Stats.EngineMs = 12_345
			q.BilledBytes = 0
		}},
		{"provisioned half DPU", func(q *Query) { q.Provisioned = true; q.Stats.DPUCount = 0.5; q.Stats.EngineMs = 3; q.BilledBytes = 0 }},
		{"provisioned no DPU", func(q *Query) { q.Provisioned = true; q.Stats.DPUCount = 0; q.BilledBytes = 0 }},
		{"provisioned absurd DPU", func(q *Query) { q.Provisioned = true; q.Stats.DPUCount = 1e9 }},
		{"provisioned huge engine time", func(q *Query) { q.Provisioned = true; q.Stats.DPUCount = 4; q.Stats.EngineMs = math.MaxInt64 / 2 }},
		{"pending provisioned", func(q *Query) { q.Provisioned = true; q.StatsStatus = StatusPending; q.Stats.DPUCount = 4 }},
	}
	var qs []Query
	for i, tt := range tests {
		q := testQuery("us-east-1", fmt.Sprintf("q%02d", i), "alice", 10<<20)
		q.Stats.EngineMs = 1500
		tt.edit(&q)
		q.Fingerprint = tt.name
		qs = append(qs, q)
	}
	if _, err := st.Commit(ctx, &Batch{Queries: qs}); err != nil {
		t.Fatal(err)
	}
	res, err := st.Aggregate(ctx, Aggregation{By: "fingerprint", Sums: sums})
	if err != nil {
		t.Fatal(err)
	}
	bySQL := map[string][]int64{}
	for _, g := range res.Groups {
		bySQL[g.Key] = g.Sums
	}
	for i, tt := range tests {
		got, err := QuerySums(&qs[i], sums)
		if err != nil {
			t.Fatal(err)
		}
		if want := bySQL[tt.name]; !slices.Equal(got, want) {
			t.Errorf("%s: QuerySums %v, SQL %v (sums %v)", tt.name, got, want, sums)
		}
	}
	if _, err := QuerySums(&qs[0], []Sum{"bogus"}); err == nil {
		t.Error("an unknown sum was computed")
	}
}

func TestUpdateTexts(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := openTest(t)
	q := testQuery("us-east-1", "q1", "alice", 1)
	q.CTQueryText = "SELECT 'secret'"
	q.Stats.QueryText = "SELECT 'secret'"
	if _, err := st.Commit(ctx, &Batch{Queries: []Query{q}}); err != nil {
		t.Fatal(err)
	}
	stale := q
	stale.AskAttempts = 7 // an enrich rewrote the row meanwhile
	q.CTQueryText, q.Stats.QueryText = "select ?", "select ?"
	stale.CTQueryText, stale.Stats.QueryText = "stale", "stale"
	for _, step := range []struct {
		name string
		q    Query
		want int
	}{{"changed", q, 1}, {"same again", q, 0}, {"other statistics", stale, 0}} {
		n, err := st.UpdateTexts(ctx, []Query{step.q})
		if err != nil || n != step.want {
			t.Errorf("%s: UpdateTexts = %d, %v; want %d", step.name, n, err, step.want)
		}
	}
	got, _, err := st.GetQuery(ctx, "us-east-1", "q1")
	if err != nil || got.CTQueryText != "select ?" || got.Stats.QueryText != "select ?" {
		t.Errorf("stored texts %q, %q (%v)", got.CTQueryText, got.Stats.QueryText, err)
	}
}
