package store

import (
	"context"
	"math"
	"reflect"
	"testing"
	"time"
)

func TestAttributedCells(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := openTest(t)
	day := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	q := func(id, owner, region, wg string, at time.Time, usd float64, status string, provisioned bool) Query {
		x := testQuery(region, id, "alice", 10<<20)
		x.OwnerAccount, x.Workgroup, x.EventTime, x.CostUSD, x.StatsStatus, x.Provisioned = owner, wg, at, usd, status, provisioned
		return x
	}
	b := &Batch{Queries: []Query{
		q("a", "111111111111", "us-east-1", "primary", day.Add(time.Hour), 1.5, StatusFinal, false),
		q("b", "111111111111", "us-east-1", "primary", day.Add(2*time.Hour), 0.25, StatusFinal, false),
		q("c", "111111111111", "us-east-1", "primary", day.Add(3*time.Hour), 0, StatusPending, false),
		q("d", "111111111111", "us-east-1", "primary", day.Add(4*time.Hour), 0, StatusNoStats, false),
		q("e", "222222222222", "us-east-1", "bi", day.Add(5*time.Hour), 0.3, StatusFinal, true),
		q("f", "111111111111", "us-east-1", "primary", day.Add(24*time.Hour), 2, StatusFinal, false),
		// Outside the window on both sides.
		q("g", "111111111111", "us-east-1", "primary", day.Add(-time.Millisecond), 7, StatusFinal, false),
		q("h", "111111111111", "us-east-1", "primary", day.Add(48*time.Hour), 7, StatusFinal, false),
	}}
	if _, err := st.Commit(ctx, b); err != nil {
		t.Fatal(err)
	}
	got, err := st.AttributedCells(ctx, day, day.Add(48*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	want := []AttributedCell{
		{Account: "111111111111", Region: "us-east-1", Workgroup: "primary", Day: "2026-11-20", Queries: 4, CostUSD: 1.75, Pending: 1, NoStats: 1},
		{Account: "222222222222", Region: "us-east-1", Workgroup: "bi", Day: "2026-11-20", Provisioned: true, Queries: 1, CostUSD: 0.3},
		{Account: "111111111111", Region: "us-east-1", Workgroup: "primary", Day: "2026-11-21", Queries: 1, CostUSD: 2},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("cells\n got %+v\nwant %+v", got, want)
	}
}

func TestCollectedScopes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := openTest(t)
	since, until := time.Date(2026, 11, 10, 0, 0, 0, 0, time.UTC), time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	inWindow := testQuery("eu-west-1", "q1", "alice", 1)
	inWindow.OwnerAccount, inWindow.EventTime = "444444444444", since.Add(time.Hour)
	cp := func(name string) Checkpoint {
		return Checkpoint{Source: "s3://trail", Name: name, Size: 1, ModTime: since, Status: CheckpointDone}
	}
	b := &Batch{
		Queries: []Query{inWindow},
		Checkpoints: []Checkpoint{
			cp("AWSLogs/o-a1/111111111111/CloudTrail/us-east-1/2026/11/12/111111111111_CloudTrail_us-east-1_20261112T0005Z_abc.json.gz"),
			// The day after the window: events of its last minutes.
			cp("AWSLogs/222222222222/CloudTrail/eu-west-1/2026/11/20/222222222222_CloudTrail_eu-west-1_20261120T0005Z_abc.json.gz"),
			// Long before the window: that account is not read for it.
			cp("AWSLogs/333333333333/CloudTrail/us-east-1/2026/09/01/333333333333_CloudTrail_us-east-1_20260901T0005Z_abc.json.gz"),
			cp("AWSLogs/333333333333/CloudTrail-Digest/us-east-1/2026/11/12/333333333333_CloudTrail-Digest_us-east-1_x_20261112T0005Z.json.gz"),
			cp("not-a-trail-file.json"),
		},
		Cursors: []Cursor{{Source: "lookup-events:us-west-2", Key: "555555555555/us-west-2", Value: "2026-11-11T00:00:00Z"}},
	}
	if _, err := st.Commit(ctx, b); err != nil {
		t.Fatal(err)
	}
	got, err := st.CollectedScopes(ctx, since, until)
	if err != nil {
		t.Fatal(err)
	}
	want := map[Scope]bool{
		{"444444444444", "eu-west-1"}: true, {"111111111111", "us-east-1"}: true,
		{"222222222222", "eu-west-1"}: true, {"555555555555", "us-west-2"}: true,
	}
	if len(got) != len(want) {
		t.Errorf("scopes %v, want %v", got, want)
	}
	for _, s := range got {
		if !want[s] {
			t.Errorf("scope %v, want only %v", s, want)
		}
	}
}

func TestSaveReconcileReplacesTheLastRun(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := openTest(t)
	if run, cells, err := st.LastReconcile(ctx); run != nil || cells != nil || err != nil {
		t.Fatalf("before any run: %v %v %v", run, cells, err)
	}
	at := time.Date(2026, 11, 21, 3, 0, 0, 0, time.UTC)
	run := ReconcileRun{RanAt: at, Since: at.AddDate(0, 0, -30), Until: at, Source: "dir:/cur", BillLastDay: "2026-11-20", Files: 2, Skipped: 1}
	cells := []ReconcileCell{
		{Day: "2026-11-20", Account: "111111111111", Region: "us-east-1", Workgroup: "primary", Kind: "scan", InBill: true,
			BilledUSD: 2, BilledUsage: 0.4, AttributedUSD: 1.5, Queries: 3, Pending: 1, Cause: "pending"},
		{Day: "2026-11-21", Account: "111111111111", Region: "us-east-1", Workgroup: "etl", Kind: "scan", AttributedUSD: 0.5, Queries: 1, Cause: "bill_not_refreshed"},
	}
	if err := st.SaveReconcile(ctx, run, cells); err != nil {
		t.Fatal(err)
	}
	gotRun, gotCells, err := st.LastReconcile(ctx)
	if err != nil || !reflect.DeepEqual(*gotRun, run) || !reflect.DeepEqual(gotCells, cells) {
		t.Fatalf("read back %+v %+v (%v)", gotRun, gotCells, err)
	}
	run.RanAt = at.Add(time.Hour)
	if err := st.SaveReconcile(ctx, run, cells[1:]); err != nil {
		t.Fatal(err)
	}
	gotRun, gotCells, err = st.LastReconcile(ctx)
	if err != nil || !gotRun.RanAt.Equal(run.RanAt) || len(gotCells) != 1 || math.Abs(gotCells[0].AttributedUSD-0.5) > 0 {
		t.Fatalf("second run read back %+v %+v (%v)", gotRun, gotCells, err)
	}
}
