package usage

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/athenawatch/athenawatch/internal/cloudtrail"
	"github.com/athenawatch/athenawatch/internal/store"
)

// fakeSource serves fixed groups, so report rendering is tested apart from
// SQL. Each group gives its sums by name; the fake answers them in the order
// asked.
type fakeSource struct {
	groups   []fakeGroup
	rejected int64
}

type fakeGroup struct {
	key, region string
	sums        map[store.Sum]int64
}

func (f fakeSource) Aggregate(_ context.Context, a store.Aggregation) (store.Aggregated, error) {
	out := store.Aggregated{Rejected: f.rejected}
	for _, g := range f.groups {
		sg := store.Group{Key: g.key, Region: g.region, Sums: make([]int64, len(a.Sums))}
		for i, s := range a.Sums {
			sg.Sums[i] = g.sums[s]
		}
		out.Groups = append(out.Groups, sg)
	}
	return out, nil
}

var testPrices = Prices{
	USDPerTiB: func(r string) float64 {
		if r == "eu-west-2" {
			return 6
		}
		return 5
	},
	USDPerDPUHour: 0.30,
}

// designKeys are the metric keys of a JSON report row, in DESIGN.md's order.
var designKeys = []string{"queries", "succeeded", "failed", "cancelled", "pending", "bytes_scanned", "billed_bytes",
	"cost_usd", "avg_mb_scanned", "engine_ms", "dpu_hours", "no_stats"}

func TestMetricKeysAreTheContract(t *testing.T) {
	t.Parallel()
	if got := MetricKeys(); !slices.Equal(got, designKeys) {
		t.Fatalf("metric keys %v, DESIGN.md says %v", got, designKeys)
	}
	for _, m := range Metrics {
		if m.Header == "" || m.value == nil || len(m.Sums) == 0 {
			t.Errorf("metric %s is incomplete: %+v", m.Key, m)
		}
	}
	if _, err := json.Marshal(Row{Dimension: "user", Key: "x"}); err == nil {
		t.Error("a row without values marshalled")
	}
}

func TestReportFormatsGolden(t *testing.T) {
	t.Parallel()
	type S = map[store.Sum]int64
	src := fakeSource{rejected: 3, groups: []fakeGroup{
		{"alice", "us-east-1", S{store.SumQueries: 3, store.SumSucceeded: 2, store.SumFailed: 1, store.SumBytesScanned: 5 * MiB, store.SumBilledBytes: 20 * MiB, store.SumEngineMs: 1500, store.SumWithStats: 3}},
		{"alice", "eu-west-2", S{store.SumQueries: 1, store.SumSucceeded: 1, store.SumBytesScanned: TiB, store.SumBilledBytes: TiB, store.SumEngineMs: 90_000, store.SumWithStats: 1}},
		{`<script>alert(1)</script>|*_[x]`, "us-east-1", S{store.SumQueries: 1, store.SumCancelled: 1, store.SumBytesScanned: 12 * MiB, store.SumBilledBytes: 12 * MiB, store.SumWithStats: 1}},
		{"evil\x1b[2Jterm", "us-east-1", S{store.SumQueries: 2, store.SumNoStats: 2}},
		{"", "us-east-1", S{store.SumQueries: 1, store.SumSucceeded: 1, store.SumBilledBytes: 10 * MiB, store.SumWithStats: 1}},
		// 24 DPUs for 4 s on provisioned capacity.
		{"=HYPERLINK(\"http://x\")", "us-east-1", S{store.SumQueries: 1, store.SumSucceeded: 1, store.SumProvisioned: 1, store.SumEngineMs: 4000, store.SumDPUMillis: 24 * 4000, store.SumWithStats: 1}},
		{"TOTAL", "us-east-1", S{store.SumQueries: 1, store.SumPending: 1}},
		{"spoof\u202egnp.exe\u200b\u2028x", "us-east-1", S{store.SumQueries: 1, store.SumPending: 1}},
		{"bob", "us-east-1", S{store.SumQueries: 2, store.SumPending: 2}},
		{"carol", "us-east-1", S{store.SumQueries: 1, store.SumSucceeded: 1, store.SumProvisioned: 1, store.SumProvisionedNoDPU: 1, store.SumEngineMs: 1000, store.SumWithStats: 1}},
		{strings.Repeat("long-name-", 10) + "é", "us-east-1", S{store.SumQueries: 1, store.SumSucceeded: 1, store.SumBilledBytes: 10 * MiB, store.SumWithStats: 1}},
	}}
	for _, top := range []int{0, 2} {
		rep, err := BuildReport(context.Background(), src, nil, testPrices, ReportOptions{By: "user", Top: top})
		if err != nil {
			t.Fatal(err)
		}
		for _, format := range Formats {
			var b bytes.Buffer
			if err := rep.Write(&b, format); err != nil {
				t.Fatal(err)
			}
			checkGolden(t, fmt.Sprintf("report_top%d.%s", top, format), b.Bytes())
		}
	}
}

func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	golden := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("output differs from %s:\n%s", golden, got)
	}
}

// storeWith opens a store holding qs, derived with the rules of yaml.
func storeWith(t *testing.T, yaml string, evs ...*cloudtrail.QueryEvent) (*store.Store, *Rules) {
	t.Helper()
	st, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "r.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	rules := NewRules(mustConfig(t, yaml))
	var qs []store.Query
	for _, ev := range evs {
		qs = append(qs, rules.NewQuery(ev))
	}
	if _, err := st.Commit(context.Background(), &store.Batch{Queries: qs}); err != nil {
		t.Fatal(err)
	}
	return st, rules
}

func event(id, user string, at time.Time) *cloudtrail.QueryEvent {
	return &cloudtrail.QueryEvent{EventID: "e-" + id, EventTime: at, Region: "us-east-1", QueryID: id, RecipientAccount: "111111111111",
		Workgroup: "primary", Identity: cloudtrail.Identity{Type: "IAMUser", UserName: user, AccountID: "111111111111"}}
}

// TestPendingShownInEveryFormat: queries stored without statistics yet (as
// collect leaves them when no credentials can read their account) are
// counted as pending in every format, and table and markdown say their cost
// is unknown and what to run.
func TestPendingShownInEveryFormat(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	st, rules := storeWith(t, "", event("q1", "alice", at), event("q2", "alice", at), event("q3", "bob", at))
	rep, err := BuildReport(context.Background(), st, rules, testPrices, ReportOptions{By: "user"})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, format := range Formats {
		var b bytes.Buffer
		if err := rep.Write(&b, format); err != nil {
			t.Fatal(err)
		}
		out[format] = b.String()
	}
	var rows []map[string]any
	if err := json.Unmarshal([]byte(out["json"]), &rows); err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 || rows[0]["user"] != "alice" || rows[0]["pending"] != 2.0 || rows[1]["pending"] != 1.0 {
		t.Fatalf("json rows %v: want alice with 2 pending, bob with 1", rows)
	}
	if !strings.Contains(out["csv"], "pending") || !strings.Contains(out["csv"], "\nalice,2,0,0,0,2,") {
		t.Fatalf("csv lacks the pending column:\n%s", out["csv"])
	}
	for _, format := range []string{"table", "markdown"} {
		for _, want := range []string{"PENDING", "3 queries still lack statistics", "cost are unknown, not $0", "athenawatch enrich", "0.0000+"} {
			if !strings.Contains(out[format], want) {
				t.Errorf("%s lacks %q:\n%s", format, want, out[format])
			}
		}
	}
}

// TestReportFromStore checks one report through the real store: the JSON
// keys in contract order, the DPU-hours and their cost, and the footer.
func TestReportFromStore(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	at := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	st, rules := storeWith(t, "pricing: {provisioned_workgroups: [reserved]}", event("q1", "alice", at), event("q2", "alice", at))
	final := func(id string, wg string, dpu float64, engineMs int64) store.Query {
		q, ok, err := st.GetQuery(ctx, "us-east-1", id)
		if err != nil || !ok {
			t.Fatal(ok, err)
		}
		q.StatsStatus = store.StatusFinal
		q.Stats = store.Stats{State: "SUCCEEDED", StatementType: "DML", Workgroup: wg, DataScannedBytes: 100 * MiB, EngineMs: engineMs, DPUCount: dpu}
		rules.Query(&q)
		return q
	}
	// On demand: 100 MiB billed. Provisioned: 24 DPUs for 5 minutes = 2 DPU-hours.
	if err := st.UpdateQueries(ctx, []store.Query{final("q1", "primary", 0, 1000), final("q2", "reserved", 24, 300_000)}); err != nil {
		t.Fatal(err)
	}
	rep, err := BuildReport(ctx, st, rules, testPrices, ReportOptions{By: "user"})
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := rep.Write(&b, "json"); err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(&b)
	var keys []string
	for {
		tok, err := dec.Token()
		if err != nil {
			break
		}
		if s, ok := tok.(string); ok && dec.More() && s != "alice" {
			keys = append(keys, s)
		}
	}
	if want := append([]string{"user"}, designKeys...); !slices.Equal(keys, want) {
		t.Fatalf("JSON keys %v, want %v", keys, want)
	}
	row := rep.Rows[0]
	wantCost := float64(100*MiB)*5/TiB + 2*0.30
	if got := row.Value("dpu_hours").Float(); got != 2 {
		t.Errorf("dpu_hours = %v, want 2", got)
	}
	if got := row.Value("cost_usd").Float(); got != wantCost {
		t.Errorf("cost_usd = %v, want %v (bytes of the on-demand query plus 2 DPU-hours at 0.30)", got, wantCost)
	}
	if got := row.Value("billed_bytes").Int(); got != 100*MiB {
		t.Errorf("billed_bytes = %d, want only the on-demand query's", got)
	}
	b.Reset()
	rep.Write(&b, "table")
	if want := "1 queries on provisioned capacity, billed by DPU-hours, not bytes: 2.00 DPU-hours at 0.30 USD each = 0.6000 USD"; !strings.Contains(b.String(), want) {
		t.Errorf("table lacks %q:\n%s", want, b.String())
	}
}

func TestReportSortOrder(t *testing.T) {
	t.Parallel()
	type S = map[store.Sum]int64
	groups := func(keys ...string) []fakeGroup {
		var out []fakeGroup
		for i, k := range keys {
			// Billed bytes grow with the position: the last key costs most.
			out = append(out, fakeGroup{k, "us-east-1", S{store.SumQueries: 1, store.SumBilledBytes: int64(i+1) * 10 * MiB}})
		}
		return out
	}
	tests := []struct {
		by   string
		keys []string
		want []string
	}{
		{"user", []string{"b", "a", "c"}, []string{"c", "a", "b"}},
		{"day", []string{"2026-11-02", "2026-11-01", "2026-11-03"}, []string{"2026-11-01", "2026-11-02", "2026-11-03"}},
	}
	for _, tt := range tests {
		rep, err := BuildReport(context.Background(), fakeSource{groups: groups(tt.keys...)}, nil, testPrices, ReportOptions{By: tt.by})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, r := range rep.Rows {
			got = append(got, r.Key)
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("--by %s: rows %v, want %v", tt.by, got, tt.want)
		}
	}
	// Equal costs sort by key.
	rep, _ := BuildReport(context.Background(), fakeSource{groups: []fakeGroup{
		{"b", "us-east-1", S{store.SumQueries: 1}}, {"a", "us-east-1", S{store.SumQueries: 1}},
	}}, nil, testPrices, ReportOptions{By: "user"})
	if rep.Rows[0].Key != "a" {
		t.Errorf("equal costs: first row %q, want a", rep.Rows[0].Key)
	}
}

// TestHugeKeyIsCappedInTables: a 1 MB user name does not pad every line of
// a table; JSON and CSV keep it whole.
func TestHugeKeyIsCappedInTables(t *testing.T) {
	t.Parallel()
	huge := strings.Repeat("x", 1<<20)
	src := fakeSource{groups: []fakeGroup{
		{huge, "us-east-1", map[store.Sum]int64{store.SumQueries: 1}},
		{"alice", "us-east-1", map[store.Sum]int64{store.SumQueries: 1}},
		{strings.Repeat("é", 200), "us-east-1", map[store.Sum]int64{store.SumQueries: 1}},
	}}
	rep, err := BuildReport(context.Background(), src, nil, testPrices, ReportOptions{By: "user"})
	if err != nil {
		t.Fatal(err)
	}
	for _, format := range Formats {
		var b bytes.Buffer
		if err := rep.Write(&b, format); err != nil {
			t.Fatal(err)
		}
		switch format {
		case "json", "csv":
			if !strings.Contains(b.String(), huge) {
				t.Errorf("%s lost the full user name", format)
			}
		default:
			for _, line := range strings.Split(b.String(), "\n") {
				if n := len([]rune(line)); n > 400 {
					t.Errorf("%s line of %d characters: %.80s...", format, n, line)
				}
			}
			if want := strings.Repeat("x", maxCellRunes-1) + "…"; !strings.Contains(b.String(), want) {
				t.Errorf("%s does not show the name cut with an ellipsis", format)
			}
			if want := strings.Repeat("é", maxCellRunes-1) + "…"; !strings.Contains(b.String(), want) {
				t.Errorf("%s does not cut a name of multibyte characters at %d runes", format, maxCellRunes)
			}
		}
	}
}

func TestDisplayCell(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"", "(none)"},
		{"alice", "alice"},
		{strings.Repeat("a", maxCellRunes), strings.Repeat("a", maxCellRunes)},
		{strings.Repeat("a", maxCellRunes+1), strings.Repeat("a", maxCellRunes-1) + "…"},
		{"\x1b" + strings.Repeat("界", maxCellRunes), "?" + strings.Repeat("界", maxCellRunes-2) + "…"},
	}
	for _, tt := range tests {
		if got := displayCell(tt.in); got != tt.want {
			t.Errorf("displayCell(%.20q) = %.20q, want %.20q", tt.in, got, tt.want)
		}
	}
}
