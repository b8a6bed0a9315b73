package web

import (
	"context"
	"encoding/json"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/athenawatch/athenawatch/internal/store"
)

func TestReconcilePageAndMetrics(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Options{})

	// Before any reconciliation: an empty state, no series, and the API says so.
	res, body := f.get(t, "/reconcile")
	if res.StatusCode != http.StatusOK || !strings.Contains(body, "No reconciliation yet") || !strings.Contains(body, `href="/reconcile"`) {
		t.Fatalf("empty /reconcile: %d\n%s", res.StatusCode, body)
	}
	if body, _ := scrape(t, f); strings.Contains(body, "athenawatch_bill_usd{") || strings.Contains(body, "athenawatch_reconcile_timestamp_seconds ") {
		t.Fatalf("metrics before any reconciliation:\n%s", body)
	}
	if _, body := f.get(t, "/api/v1/reconcile"); !strings.Contains(body, `"ran": false`) {
		t.Fatalf("api before any reconciliation: %s", body)
	}

	ranAt := testNow.Add(-time.Hour)
	run := store.ReconcileRun{RanAt: ranAt, Since: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), Until: time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC),
		Source: "s3://org-billing/cur", BillLastDay: "2026-11-28", Files: 1}
	cells := []store.ReconcileCell{
		{Day: "2026-11-27", Account: "111111111111", Region: "us-east-1", Workgroup: "primary", Kind: "scan", InBill: true,
			BilledUSD: 2, BilledUsage: 0.4, AttributedUSD: 2, Queries: 4, Cause: "match"},
		{Day: "2026-11-27", Account: "111111111111", Region: "us-east-1", Workgroup: hostileTexts[0], Kind: "scan", InBill: true,
			BilledUSD: 1.5, BilledUsage: 0.3, AttributedUSD: 1, Queries: 2, Pending: 1, Cause: "pending"},
		{Day: "2026-11-28", Account: "333333333333", Region: "eu-west-1", Workgroup: "etl", Kind: "scan", InBill: true,
			BilledUSD: 3, BilledUsage: 0.6, Cause: "account_not_collected"},
		{Day: "2026-11-28", Account: "111111111111", Region: "us-east-1", Workgroup: "", Kind: "scan", InBill: true,
			BilledUSD: 0.25, BilledUsage: 0.05, Cause: "unexplained"},
	}
	if err := f.st.SaveReconcile(context.Background(), run, cells); err != nil {
		t.Fatal(err)
	}
	res, body = f.get(t, "/reconcile")
	if res.StatusCode != http.StatusOK {
		t.Fatalf("/reconcile: %d\n%s", res.StatusCode, body)
	}
	for _, want := range []string{"s3://org-billing/cur", "Account 333333333333 is in the bill", "account not collected",
		"queries pending", "(no resource id)", "2026-11-28", "$6.75", "$3.75", "1 of 4", "<svg", "Gaps by likely cause", "2026-11-29"} {
		if !strings.Contains(body, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	if strings.Contains(body, hostileTexts[0]) || !strings.Contains(body, "&lt;script&gt;") {
		t.Errorf("the hostile workgroup name is not escaped:\n%s", body)
	}

	// A new server: /metrics keeps what it read for usageTTL.
	srv, err := New(Options{Store: f.st, Config: f.cfg, Now: func() time.Time { return testNow }})
	if err != nil {
		t.Fatal(err)
	}
	text, fams := scrape(t, &fixture{st: f.st, cfg: f.cfg, rules: f.rules, srv: srv})
	for _, c := range []struct {
		family, workgroup string
		want              float64
	}{
		{"athenawatch_bill_usd", "primary", 2}, {"athenawatch_attributed_usd", "primary", 2}, {"athenawatch_reconcile_gap_usd", "primary", 0},
		{"athenawatch_bill_usd", "etl", 3}, {"athenawatch_reconcile_gap_usd", "etl", 3},
		{"athenawatch_reconcile_gap_usd", hostileTexts[0], 0.5}, {"athenawatch_bill_usd", "(no resource id)", 0.25},
	} {
		if fams[c.family] == nil {
			t.Fatalf("no %s:\n%s", c.family, text)
		}
		if got, ok := fams[c.family].values[c.workgroup]; !ok || math.Abs(got-c.want) > 1e-9 {
			t.Errorf("%s{workgroup=%q} = %v (%v), want %v", c.family, c.workgroup, got, ok, c.want)
		}
	}
	if got := fams["athenawatch_reconcile_timestamp_seconds"].values[""]; got != float64(ranAt.Unix()) {
		t.Errorf("reconcile timestamp %v, want %v", got, ranAt.Unix())
	}
	if got := fams["athenawatch_reconcile_window_end_timestamp_seconds"].values[""]; got != float64(run.Until.Unix()) {
		t.Errorf("window end %v, want %v", got, run.Until.Unix())
	}
	if !strings.Contains(text, `athenawatch_bill_usd{account="333333333333",workgroup="etl"} 3`) {
		t.Errorf("metrics lack the missing account's bill:\n%s", text)
	}
	promtoolCheck(t, text)

	_, body = f.get(t, "/api/v1/reconcile")
	var got struct {
		Cells []struct {
			Cause  string  `json:"cause"`
			GapUSD float64 `json:"gap_usd"`
		} `json:"cells"`
		NotCollected []string `json:"not_collected_accounts"`
		Total        struct {
			GapUSD float64 `json:"gap_usd"`
		} `json:"total"`
	}
	if err := json.Unmarshal([]byte(body), &got); err != nil || len(got.Cells) != 4 || len(got.NotCollected) != 1 || math.Abs(got.Total.GapUSD-3.75) > 1e-9 {
		t.Errorf("api: %+v (%v)\n%s", got, err, body)
	}
}
