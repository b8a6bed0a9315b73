package web

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/athenawatch/athenawatch/internal/config"
	"github.com/athenawatch/athenawatch/internal/store"
	"github.com/athenawatch/athenawatch/internal/usage"
)

// scrape reads /metrics and parses it.
func scrape(t *testing.T, f *fixture) (string, map[string]*familyOf) {
	t.Helper()
	res, body := f.get(t, "/metrics")
	if res.StatusCode != 200 {
		t.Fatalf("/metrics: %d\n%s", res.StatusCode, body)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	out := map[string]*familyOf{}
	for name, fam := range fams {
		fo := &familyOf{values: map[string]float64{}}
		for _, m := range fam.GetMetric() {
			fo.series++
			key := ""
			for _, l := range m.GetLabel() {
				key = l.GetValue()
			}
			switch {
			case m.Counter != nil:
				fo.values[key] = m.GetCounter().GetValue()
			case m.Gauge != nil:
				fo.values[key] = m.GetGauge().GetValue()
			}
		}
		out[name] = fo
	}
	return body, out
}

type familyOf struct {
	series int
	values map[string]float64 // by the value of the (last) label
}

func TestMetricsUsageAndHealth(t *testing.T) {
	t.Parallel()
	h := &Health{}
	f := newFixture(t, Options{Health: h})
	started := testNow.Add(-time.Minute)
	h.RoundDone(Round{Started: started, Ended: started.Add(30 * time.Second), NewQueries: 40, Skipped: 2})
	h.ObserveCall(80*time.Millisecond, false, false)
	h.ObserveCall(2*time.Second, true, false)
	_, fams := scrape(t, f)

	rep, err := usage.BuildReport(context.Background(), f.st, f.rules, usage.PricesOf(f.cfg), usage.ReportOptions{By: "user"})
	if err != nil {
		t.Fatal(err)
	}
	for _, row := range rep.Rows {
		for _, c := range []struct{ family, key string }{
			{"athenawatch_user_queries_total", "queries"}, {"athenawatch_user_cost_usd_total", "cost_usd"},
			{"athenawatch_user_scanned_bytes_total", "bytes_scanned"}, {"athenawatch_user_billed_bytes_total", "billed_bytes"},
		} {
			if got := fams[c.family].values[row.Key]; got != row.Value(c.key).Float() {
				t.Errorf("%s{user=%q} = %v, report %s %v", c.family, row.Key, got, c.key, row.Value(c.key))
			}
		}
	}
	for name, want := range map[string]float64{
		"athenawatch_pending_queries":                    rep.Total.Value("pending").Float(),
		"athenawatch_collect_last_success":               1,
		"athenawatch_collect_rounds_total":               1,
		"athenawatch_collected_queries_total":            40,
		"athenawatch_skipped_inputs_total":               2,
		"athenawatch_athena_throttles_total":             1,
		"athenawatch_collect_last_duration_seconds":      30,
		"athenawatch_collect_last_end_timestamp_seconds": float64(started.Add(30 * time.Second).Unix()),
		"athenawatch_usage_read_error":                   0,
		"athenawatch_team_queries_total":                 40,
		"athenawatch_database_queries_total":             40,
		"athenawatch_workgroup_cost_usd_total":           rep.Total.Value("cost_usd").Float(),
	} {
		fam, ok := fams[name]
		if !ok {
			t.Errorf("no %s", name)
			continue
		}
		var got float64
		for _, v := range fam.values {
			got += v
		}
		if d := got - want; d > 1e-9 || d < -1e-9 {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	if fams["athenawatch_pending_queries"].values[""] == 0 {
		t.Error("the fixture's pending queries are not in the backlog")
	}
	if fams["athenawatch_team_queries_total"].values["analysts"] != 20 {
		t.Errorf("team analysts: %v queries, want 20", fams["athenawatch_team_queries_total"].values["analysts"])
	}
}

// TestMetricsCardinality stores 10,000 users' queries and checks that
// /metrics stays under 2,000 series, the users beyond the top summed as
// other with nothing lost.
func TestMetricsCardinality(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "many.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	cfg := &config.Config{}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	rules := usage.NewRules(cfg)
	const users = 10_000
	var b store.Batch
	for i := range users * 2 {
		q := fixtureQuery(rules, "us-east-1", fmt.Sprintf("q-%05d", i), fmt.Sprintf("user-%05d", i%users),
			testNow.Add(-time.Duration(i)*time.Minute), int64(i%users+1)<<20, false, "SELECT 1")
		q.CTDatabase, q.Stats.Database = fmt.Sprintf("db-%d", i%300), fmt.Sprintf("db-%d", i%300)
		rules.Query(&q)
		b.Queries = append(b.Queries, q)
	}
	if _, err := st.Commit(ctx, &b); err != nil {
		t.Fatal(err)
	}
	srv, err := New(Options{Store: st, Config: cfg, Now: func() time.Time { return testNow }})
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{st: st, cfg: cfg, rules: rules, srv: srv}
	body, fams := scrape(t, f)
	series := 0
	for _, fam := range fams {
		series += fam.series
	}
	if series >= 2000 || series < 100 {
		t.Errorf("/metrics has %d series with %d users, want under 2,000", series, users)
	}
	byUser := fams["athenawatch_user_queries_total"]
	if byUser.series != config.DefaultMetricsTop+1 || byUser.values[OtherLabel] == 0 {
		t.Errorf("user series: %d with other = %v, want the top %d and other", byUser.series, byUser.values[OtherLabel], config.DefaultMetricsTop)
	}
	var total float64
	for _, v := range byUser.values {
		total += v
	}
	if total != users*2 {
		t.Errorf("user series sum to %v queries, want %d", total, users*2)
	}
	if dbs := fams["athenawatch_database_queries_total"]; dbs.series != config.DefaultMetricsTop+1 {
		t.Errorf("database series: %d, want %d", dbs.series, config.DefaultMetricsTop+1)
	}
	promtoolCheck(t, body)
}

// promtoolCheck runs `promtool check metrics` (Debian package prometheus;
// make tools installs it) on an exposition. Under CI a missing promtool
// fails the test.
func promtoolCheck(t *testing.T, exposition string) {
	t.Helper()
	path, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("promtool is not installed (make tools installs Debian's prometheus package)")
		}
		t.Skip("promtool is not installed (make tools installs it)")
	}
	cmd := exec.Command(path, "check", "metrics")
	cmd.Stdin = strings.NewReader(exposition)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Errorf("promtool check metrics: %v\n%s", err, out.String())
	}
}

func TestMetricsPassPromtool(t *testing.T) {
	t.Parallel()
	h := &Health{}
	f := newFixture(t, Options{Health: h})
	h.RoundDone(Round{Started: testNow, Ended: testNow.Add(time.Second), Err: fmt.Errorf("no trail")})
	h.ObserveCall(time.Second, false, true)
	body, _ := scrape(t, f)
	promtoolCheck(t, body)
}

// TestMetricsConcurrentScrapes scrapes while rounds and Athena calls are
// recorded, for the race detector.
func TestMetricsConcurrentScrapes(t *testing.T) {
	t.Parallel()
	h := &Health{}
	f := newFixture(t, Options{Health: h})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 200 {
			h.ObserveCall(time.Duration(i)*time.Millisecond, i%7 == 0, i%11 == 0)
			h.RoundDone(Round{Started: testNow, Ended: testNow.Add(time.Second), NewQueries: 1})
		}
	}()
	for range 5 {
		scrape(t, f)
	}
	<-done
	_, fams := scrape(t, f)
	if got := fams["athenawatch_collect_rounds_total"].values[""]; got != 200 {
		t.Errorf("rounds = %v, want 200", got)
	}
}
