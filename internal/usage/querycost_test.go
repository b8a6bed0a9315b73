package usage

import (
	"context"
	"math"
	"path/filepath"
	"testing"
	"time"

	"github.com/athenawatch/athenawatch/internal/cloudtrail"
	"github.com/athenawatch/athenawatch/internal/store"
)

const pricedYAML = `
pricing: {usd_per_tib: 5.0, regions: {eu-west-2: 6.25, ap-south-1: 0}, provisioned_workgroups: [capacity-*], usd_per_dpu_hour: 0.30}
`

// finalQuery is a query with final statistics, derived by rules.
func finalQuery(rules *Rules, region, id, workgroup, state, stmt string, scanned, engineMs int64, dpu float64) store.Query {
	q := store.Query{
		Region: region, QueryID: id, EventID: "e-" + id, EventTime: time.Date(2026, 11, 3, 10, 0, 0, 0, time.UTC),
		OwnerAccount: "111111111111", StatsStatus: store.StatusFinal,
		Identity: cloudtrail.Identity{Type: "IAMUser", UserName: id, AccountID: "111111111111"},
		Stats: store.Stats{State: state, StatementType: stmt, Workgroup: workgroup, DataScannedBytes: scanned,
			EngineMs: engineMs, DPUCount: dpu, QueryText: "SELECT 1"},
	}
	rules.Query(&q)
	return q
}

// costCases are queries whose cost the tests below check, one per way a
// cost arises.
func costCases(rules *Rules) []store.Query {
	return []store.Query{
		finalQuery(rules, "us-east-1", "small", "primary", "SUCCEEDED", "DML", 1, 300, 0),
		finalQuery(rules, "us-east-1", "large", "primary", "SUCCEEDED", "DML", 3*TiB+12345, 600000, 0),
		finalQuery(rules, "eu-west-2", "regional", "primary", "CANCELLED", "DML", 700*MiB+1, 9000, 0),
		finalQuery(rules, "ap-south-1", "free-region", "primary", "SUCCEEDED", "DML", 5*TiB, 9000, 0),
		finalQuery(rules, "us-east-1", "failed", "primary", "FAILED", "DML", 5*TiB, 9000, 0),
		finalQuery(rules, "eu-west-2", "ddl", "primary", "SUCCEEDED", "DDL", 0, 100, 0),
		finalQuery(rules, "eu-west-2", "provisioned", "capacity-etl", "SUCCEEDED", "DML", 2*TiB, 3_723_457, 24),
		finalQuery(rules, "us-east-1", "provisioned-fraction", "capacity-bi", "SUCCEEDED", "DML", 0, 1, 1.5),
		finalQuery(rules, "us-east-1", "provisioned-no-dpu", "capacity-bi", "SUCCEEDED", "DML", 0, 5000, 0),
		finalQuery(rules, "us-east-1", "provisioned-absurd-dpu", "capacity-bi", "SUCCEEDED", "DML", 0, 5000, 2e6),
	}
}

// TestQueryCostIsTheReportCost: a query's own cost equals the cost a
// report of that query alone shows, on demand and on provisioned capacity,
// in regions of different prices.
func TestQueryCostIsTheReportCost(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cfg := mustConfig(t, pricedYAML)
	rules := NewRules(cfg)
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "c.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	qs := costCases(rules)
	if _, err := st.Commit(ctx, &store.Batch{Queries: qs}); err != nil {
		t.Fatal(err)
	}
	want := map[string]float64{
		"small":                  10 * MiB * 5.0 / TiB,
		"large":                  (3*TiB + MiB) * 5.0 / TiB,
		"regional":               701 * MiB * 6.25 / TiB,
		"free-region":            0,
		"failed":                 0,
		"ddl":                    0,
		"provisioned":            24 * 3_723_457 / 3_600_000.0 * 0.30,
		"provisioned-fraction":   2 / 3_600_000.0 * 0.30, // 1.5 DPU-ms rounds as the report rounds it
		"provisioned-no-dpu":     0,
		"provisioned-absurd-dpu": 0,
	}
	for _, q := range qs {
		t.Run(q.QueryID, func(t *testing.T) {
			w, ok := want[q.QueryID]
			if !ok {
				t.Fatalf("no expected cost for %s", q.QueryID)
			}
			if math.Abs(q.CostUSD-w) > 1e-12*math.Max(1, w) {
				t.Errorf("CostUSD = %v, want %v", q.CostUSD, w)
			}
			rep, err := BuildReport(ctx, st, rules, PricesOf(cfg), ReportOptions{By: "user",
				Filter: store.Filter{Match: map[string][]string{"user": {q.User}}}})
			if err != nil {
				t.Fatal(err)
			}
			if len(rep.Rows) != 1 || rep.Rows[0].Value("queries").Int() != 1 {
				t.Fatalf("report of user %s: %+v, want one row of one query", q.User, rep.Rows)
			}
			rc := rep.Rows[0].Value("cost_usd").Float()
			if math.Abs(rc-q.CostUSD) > 1e-12*math.Max(1, rc) {
				t.Errorf("report cost %v, query cost %v", rc, q.CostUSD)
			}
		})
	}
}

// TestReprice: a price change reprices every stored query once, to exactly
// the cost the rules give under the new prices; unchanged prices write
// nothing; a database never priced (written before per-query costs) is
// priced.
func TestReprice(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "p.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	old := NewRules(mustConfig(t, pricedYAML))
	qs := costCases(old)
	// As an earlier release stored them: no cost at all.
	unpriced := make([]store.Query, len(qs))
	for i, q := range qs {
		q.CostUSD = 0
		unpriced[i] = q
	}
	if _, err := st.Commit(ctx, &store.Batch{Queries: unpriced}); err != nil {
		t.Fatal(err)
	}
	newer := NewRules(mustConfig(t, `
pricing: {usd_per_tib: 5.5, regions: {eu-west-2: 7.0}, provisioned_workgroups: [capacity-*], usd_per_dpu_hour: 0.25}
`))
	if old.Fingerprint() != newer.Fingerprint() {
		t.Fatal("prices are in the rules fingerprint: a price change would re-derive every row")
	}
	if old.PricesFingerprint() == newer.PricesFingerprint() {
		t.Fatal("different prices, same prices fingerprint")
	}
	steps := []struct {
		name        string
		rules       *Rules
		wantChanged int64
	}{
		{"never priced", old, 5}, // the queries that cost something
		{"same prices", old, 0},
		{"new prices", newer, 6}, // ap-south-1 is no longer free
		{"back", old, 6},
	}
	for _, step := range steps {
		stale, err := StalePrices(ctx, st, step.rules)
		if err != nil {
			t.Fatal(err)
		}
		n, err := Reprice(ctx, st, step.rules)
		if err != nil {
			t.Fatal(err)
		}
		if n != step.wantChanged || stale != (step.name != "same prices") {
			t.Errorf("%s: repriced %d, stale before %v; want %d", step.name, n, stale, step.wantChanged)
		}
		for _, q := range qs {
			got, ok, err := st.GetQuery(ctx, q.Region, q.QueryID)
			if err != nil || !ok {
				t.Fatalf("get %s: %v %v", q.QueryID, ok, err)
			}
			want := got
			step.rules.Query(&want)
			if got.CostUSD != want.CostUSD {
				t.Errorf("%s: %s/%s stored cost %v, rules give %v", step.name, q.Region, q.QueryID, got.CostUSD, want.CostUSD)
			}
		}
		if stale, err := StalePrices(ctx, st, step.rules); err != nil || stale {
			t.Errorf("%s: prices still stale after repricing (%v)", step.name, err)
		}
	}
}
