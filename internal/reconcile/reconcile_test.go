package reconcile

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/athenawatch/athenawatch/internal/bill"
	"github.com/athenawatch/athenawatch/internal/store"
)

var day = time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)

const (
	acctA = "111111111111"
	acctB = "222222222222"
	acctC = "333333333333"
)

func TestCompareCauses(t *testing.T) {
	t.Parallel()
	billed := func(account, region, wg string, d time.Time, kind bill.Kind, usd float64) bill.Cell {
		return bill.Cell{Account: account, Region: region, Workgroup: wg, Day: d, Kind: kind, USD: usd, Usage: usd / 5, LineItems: 1}
	}
	attr := func(account, region, wg string, d time.Time, usd float64, pending, noStats int64, provisioned bool) store.AttributedCell {
		return store.AttributedCell{Account: account, Region: region, Workgroup: wg, Day: d.Format(time.DateOnly), Provisioned: provisioned,
			Queries: 3, CostUSD: usd, Pending: pending, NoStats: noStats}
	}
	next := day.AddDate(0, 0, 1)
	b := &bill.Bill{LastDay: day, Files: []string{"f"}, Cells: []bill.Cell{
		billed(acctA, "us-east-1", "primary", day, bill.Scan, 1.5),
		billed(acctA, "us-east-1", "etl", day, bill.Scan, 2),
		billed(acctA, "us-east-1", "bi", day, bill.DPU, 0.9),
		billed(acctA, "us-east-1", "analysts", day, bill.Scan, 1),
		billed(acctA, "us-east-1", "old", day, bill.Scan, 1),
		billed(acctA, "us-east-1", "spark", day, bill.Other, 0.4),
		billed(acctA, "us-east-1", "tiny", day, bill.Scan, 0.0051),
		billed(acctA, "us-east-1", "", day, bill.Scan, 0.2),
		billed(acctA, "ap-southeast-2", "primary", day, bill.Scan, 4),
		billed(acctC, "us-east-1", "primary", day, bill.Scan, 5),
	}}
	attributed := []store.AttributedCell{
		attr(acctA, "us-east-1", "primary", day, 1.5, 0, 0, false),
		attr(acctA, "us-east-1", "etl", day, 1.2, 2, 1, false),
		attr(acctA, "us-east-1", "bi", day, 0.7, 0, 0, true),
		attr(acctA, "us-east-1", "analysts", day, 0.4, 0, 0, false),
		attr(acctA, "us-east-1", "old", day, 0.5, 0, 2, false),
		attr(acctA, "us-east-1", "tiny", day, 0.0001, 0, 0, false),
		attr(acctA, "us-east-1", "primary", next, 0.8, 1, 0, false),
		attr(acctB, "eu-west-1", "primary", next, 0.3, 0, 0, false),
	}
	scopes := []store.Scope{{Account: acctA, Region: "us-east-1"}, {Account: acctB, Region: "eu-west-1"}}
	res := Compare(b, attributed, scopes)
	want := map[string]Cause{
		"2026-11-20 " + acctA + " us-east-1 primary scan":      Match,
		"2026-11-20 " + acctA + " us-east-1 etl scan":          Pending, // pending comes before no_stats
		"2026-11-20 " + acctA + " us-east-1 bi dpu":            Provisioned,
		"2026-11-20 " + acctA + " us-east-1 analysts scan":     Unexplained,
		"2026-11-20 " + acctA + " us-east-1 old scan":          NoStats,
		"2026-11-20 " + acctA + " us-east-1 spark other":       OtherUsage,
		"2026-11-20 " + acctA + " us-east-1 tiny scan":         Rounding,
		"2026-11-20 " + acctA + " us-east-1  scan":             Unexplained,
		"2026-11-20 " + acctA + " ap-southeast-2 primary scan": RegionNotCollected,
		"2026-11-20 " + acctC + " us-east-1 primary scan":      AccountNotCollected,
		"2026-11-21 " + acctA + " us-east-1 primary scan":      BillNotRefreshed, // before pending: the bill lacks the day
		"2026-11-21 " + acctB + " eu-west-1 primary scan":      BillNotRefreshed,
	}
	if len(res.Cells) != len(want) {
		t.Errorf("%d cells, want %d: %+v", len(res.Cells), len(want), res.Cells)
	}
	for _, c := range res.Cells {
		k := strings.Join([]string{c.Day, c.Account, c.Region, c.Workgroup, c.Kind}, " ")
		if w, ok := want[k]; !ok || c.Cause != w {
			t.Errorf("cell %s: cause %s, want %s", k, c.Cause, w)
		}
		if math.Abs(c.GapUSD-(c.BilledUSD-c.AttributedUSD)) > 1e-12 {
			t.Errorf("cell %s: gap %v", k, c.GapUSD)
		}
	}
	if len(res.NotCollectedAccounts) != 1 || res.NotCollectedAccounts[0] != acctC ||
		len(res.NotCollectedRegions) != 1 || res.NotCollectedRegions[0] != acctA+"/ap-southeast-2" {
		t.Errorf("not collected: %v %v", res.NotCollectedAccounts, res.NotCollectedRegions)
	}
	var billedSum, attrSum float64
	for _, c := range b.Cells {
		billedSum += c.USD
	}
	for _, c := range attributed {
		attrSum += c.CostUSD
	}
	if len(res.Days) != 2 || res.Days[1].BilledUSD != 0 || math.Abs(res.Days[1].AttributedUSD-1.1) > 1e-9 ||
		math.Abs(res.Total.BilledUSD-billedSum) > 1e-9 || math.Abs(res.Total.AttributedUSD-attrSum) > 1e-9 ||
		math.Abs(res.Total.GapUSD-(billedSum-attrSum)) > 1e-9 {
		t.Errorf("days %+v, total %+v; want billed %v, attributed %v", res.Days, res.Total, billedSum, attrSum)
	}

	var table bytes.Buffer
	if err := res.Write(&table, "table"); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"account " + acctC + " was not collected", "region " + acctA + "/ap-southeast-2 was not collected",
		"1 of 12 cells", NoResourceID, "TOTAL", "queries pending"} {
		if !strings.Contains(table.String(), s) {
			t.Errorf("table lacks %q:\n%s", s, table.String())
		}
	}
}

// memoryBill is a BillSource over a fixed bill.
type memoryBill struct{ b *bill.Bill }

func (m memoryBill) Read(context.Context, time.Time, time.Time) (*bill.Bill, error) { return m.b, nil }
func (m memoryBill) String() string                                                 { return "dir:/cur" }

// TestRunSavesWhatLoadReads runs a reconciliation on a store and loads it
// back as the dashboard does.
func TestRunSavesWhatLoadReads(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "r.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if res, err := Load(ctx, st); res != nil || err != nil {
		t.Fatalf("before any run: %v, %v", res, err)
	}
	b := &bill.Bill{LastDay: day, Cells: []bill.Cell{
		{Account: acctA, Region: "us-east-1", Workgroup: "primary", Day: day, Kind: bill.Scan, USD: 2, Usage: 0.4},
		{Account: acctC, Region: "us-east-1", Workgroup: "etl", Day: day, Kind: bill.Scan, USD: 3, Usage: 0.6},
	}}
	w := Days(day.Add(3*time.Hour), day.Add(25*time.Hour))
	if !w.Since.Equal(day) || !w.Until.Equal(day.AddDate(0, 0, 2)) {
		t.Fatalf("window %v, want whole days", w)
	}
	ran, err := Run(ctx, st, memoryBill{b}, w)
	if err != nil {
		t.Fatal(err)
	}
	loaded, err := Load(ctx, st)
	if err != nil || loaded == nil {
		t.Fatalf("load: %v, %v", loaded, err)
	}
	a, _ := json.Marshal(ran.Cells)
	l, _ := json.Marshal(loaded.Cells)
	if string(a) != string(l) || loaded.Total != ran.Total || loaded.Source != "dir:/cur" || !loaded.Since.Equal(w.Since) ||
		len(loaded.NotCollectedAccounts) != 2 {
		t.Errorf("loaded %+v\n   ran %+v", loaded, ran)
	}
}
