package usage

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"github.com/athenawatch/athenawatch/internal/store"
)

// allShapes hides the shape totals of a store, so that a report by
// fingerprint sums every shape of the window.
type allShapes struct {
	Source
	ShapeSource
}

// TestTopShapesByBoundEqualsFullReport: on heavy-tailed shapes in regions
// of different prices, some on provisioned capacity, run by teams that
// share some, the top shapes found from the totals' bounds are the rows,
// values and order of a report that sums every shape, for random windows,
// team filters and tops; and the bounds answer most of them (they are not
// merely falling back).
func TestTopShapesByBoundEqualsFullReport(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "athenawatch.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	rng := rand.New(rand.NewPCG(7, 11))
	base := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
	regions := []string{"us-east-1", "eu-west-1", "ap-southeast-2"}
	prices := Prices{
		USDPerTiB: func(r string) float64 {
			return map[string]float64{"us-east-1": 5, "eu-west-1": 6, "ap-southeast-2": 7.5}[r]
		},
		USDPerDPUHour: 0.30,
	}
	const days, shapes = 40, 2000
	late := base.Add((days - 5) * 24 * time.Hour)
	var qs []store.Query
	for i := range 9000 {
		// Zipf-like: shape k runs about 1/(k+1) as often as the first.
		k := int(math.Floor(math.Pow(float64(shapes), rng.Float64()))) - 1
		fp := fmt.Sprintf("v1-%016x", k*7919)
		if rng.IntN(40) == 0 {
			fp = "" // text not known yet
		}
		at := base.Add(time.Duration(rng.Int64N(int64(days * 24 * time.Hour))))
		if rng.IntN(40) == 0 {
			// Shapes new in the last days: expensive in a late window,
			// far from the top of the whole history.
			k = shapes + rng.IntN(80)
			fp = fmt.Sprintf("v1-late-%03d", k)
			at = late.Add(time.Duration(rng.Int64N(int64(5 * 24 * time.Hour))))
		}
		q := store.Query{
			Region: regions[rng.IntN(len(regions))], QueryID: fmt.Sprintf("q-%05d", i), EventID: fmt.Sprintf("e-%05d", i),
			EventTime: at, OwnerAccount: "111111111111", User: fmt.Sprintf("u%d", rng.IntN(30)), Team: fmt.Sprintf("t%d", (k+rng.IntN(2))%4),
			Database: "db", Workgroup: "primary", Fingerprint: fp, StatsStatus: store.StatusFinal,
			Stats: store.Stats{State: "SUCCEEDED", StatementType: "DML", DataScannedBytes: rng.Int64N(1 << 38), EngineMs: rng.Int64N(600_000)},
		}
		// Some shapes change over time: early heavy, late light.
		if k%5 == 1 && at.After(base.Add(20*24*time.Hour)) {
			q.Stats.DataScannedBytes /= 100
		}
		switch {
		case k%3 == 0:
			q.Provisioned = true
			q.Stats.DPUCount = float64(4 + rng.IntN(60))
		case rng.IntN(10) == 0:
			q.StatsStatus, q.Stats = store.StatusPending, store.Stats{}
		}
		q.BilledBytes = BilledBytes(q.Stats.State, q.Stats.StatementType, q.Stats.DataScannedBytes, false, q.Provisioned)
		qs = append(qs, q)
	}
	if _, err := st.Commit(ctx, &store.Batch{Queries: qs}); err != nil {
		t.Fatal(err)
	}

	bounded := 0
	const rounds = 120
	for round := range rounds {
		var f store.Filter
		switch rng.IntN(6) {
		case 0: // all of it
		case 1, 2: // the last days
			f.Since = late.Add(time.Duration(rng.Int64N(int64(4 * 24 * time.Hour))))
		default:
			f.Since = base.Add(time.Duration(rng.Int64N(int64(days * 24 * time.Hour))))
		}
		if !f.Since.IsZero() && rng.IntN(2) == 0 {
			f.Until = f.Since.Add(time.Duration(1 + rng.Int64N(int64(20*24*time.Hour))))
		}
		if rng.IntN(3) == 0 {
			f.Match = map[string][]string{"team": {fmt.Sprintf("t%d", rng.IntN(4))}}
		}
		top := []int{1, 3, 10, 20, 60}[rng.IntN(5)]
		opts := ReportOptions{By: "fingerprint", Filter: f, Top: top, Now: base.Add(days * 24 * time.Hour)}
		got, err := BuildReport(ctx, st, nil, prices, opts)
		if err != nil {
			t.Fatal(err)
		}
		want, err := BuildReport(ctx, allShapes{st, st}, nil, prices, opts)
		if err != nil {
			t.Fatal(err)
		}
		if got.Keys() < 0 {
			bounded++
		}
		g, _ := json.Marshal(struct {
			Rows  []Row
			Total Row
		}{got.Rows, got.Total})
		w, _ := json.Marshal(struct {
			Rows  []Row
			Total Row
		}{want.Rows, want.Total})
		if string(g) != string(w) {
			t.Fatalf("round %d (since %v until %v top %d):\n got %s\nwant %s", round, f.Since, f.Until, top, g, w)
		}
	}
	if bounded < rounds/3 {
		t.Errorf("the bounds answered %d of %d reports; want most", bounded, rounds)
	}
}

// TestTopShapesByBoundDPU: a shape on provisioned capacity (billed by DPU
// time, no bytes) that is far down the history's DPU order but tops a late
// window is found: the bound of the shapes not summed yet counts their DPU
// time, not only their bytes.
func TestTopShapesByBoundDPU(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "athenawatch.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	base := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
	late := base.Add(20 * 24 * time.Hour)
	n := 0
	add := func(qs []store.Query, fp string, at time.Time, engineMs int64) []store.Query {
		n++
		return append(qs, store.Query{
			Region: "us-east-1", QueryID: fmt.Sprintf("q-%05d", n), EventID: fmt.Sprintf("e-%05d", n), EventTime: at,
			OwnerAccount: "111111111111", User: "u", Fingerprint: fp, StatsStatus: store.StatusFinal, Provisioned: true,
			Stats: store.Stats{State: "SUCCEEDED", StatementType: "DML", EngineMs: engineMs, DPUCount: 1},
		})
	}
	var qs []store.Query
	for i := range 3 * boundPage / 2 {
		fp := fmt.Sprintf("v1-a%04d", i)
		qs = add(qs, fp, base.Add(time.Hour), int64(1000-i)*1e6)
		qs = add(qs, fp, late.Add(time.Hour), 1000) // a little in the late window too
	}
	// Far down the history's DPU order (its total is below every other
	// shape's), and the most expensive shape of the late window; its
	// fingerprint sorts last, so the billed order (all 0) meets it last.
	qs = add(qs, "v1-zzzz", late.Add(2*time.Hour), 500e6)
	if _, err := st.Commit(ctx, &store.Batch{Queries: qs}); err != nil {
		t.Fatal(err)
	}
	prices := Prices{USDPerTiB: func(string) float64 { return 5 }, USDPerDPUHour: 0.30}
	rep, err := BuildReport(ctx, st, nil, prices, ReportOptions{By: "fingerprint", Filter: store.Filter{Since: late}, Top: 1, Now: late.Add(24 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Keys() >= 0 {
		t.Errorf("the report summed every shape; want the bounds to answer")
	}
	if len(rep.Rows) != 1 || rep.Rows[0].Key != "v1-zzzz" {
		t.Fatalf("top shape of the late window: %+v, want v1-zzzz", rep.Rows)
	}
}
