package budget

import (
	"context"
	"fmt"
	"math"
	"path/filepath"
	"testing"
	"time"

	"github.com/athenawatch/athenawatch/internal/cloudtrail"
	"github.com/athenawatch/athenawatch/internal/config"
	"github.com/athenawatch/athenawatch/internal/store"
	"github.com/athenawatch/athenawatch/internal/usage"
)

func mustLoc(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func TestPeriodAt(t *testing.T) {
	berlin := mustLoc(t, "Europe/Berlin")
	utc := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	tests := []struct {
		kind       string
		at         string
		loc        *time.Location
		start, end string
		hours      float64
	}{
		// Month boundary: 23:30 UTC on Jan 31 is already February in Berlin.
		{"month", "2026-01-31T23:30:00Z", berlin, "2026-01-31T23:00:00Z", "2026-02-28T23:00:00Z", 0},
		{"month", "2026-01-31T22:30:00Z", berlin, "2025-12-31T23:00:00Z", "2026-01-31T23:00:00Z", 0},
		{"month", "2026-12-31T23:59:59Z", time.UTC, "2026-12-01T00:00:00Z", "2027-01-01T00:00:00Z", 0},
		// Weeks start on Monday: Sunday 2026-11-29 belongs to the week of the 23rd.
		{"week", "2026-11-29T12:00:00Z", time.UTC, "2026-11-23T00:00:00Z", "2026-11-30T00:00:00Z", 0},
		{"week", "2026-11-30T00:00:00Z", time.UTC, "2026-11-30T00:00:00Z", "2026-12-07T00:00:00Z", 0},
		// Daylight saving: the spring day lasts 23 hours, the autumn one 25.
		{"day", "2026-03-29T12:00:00Z", berlin, "2026-03-28T23:00:00Z", "2026-03-29T22:00:00Z", 23},
		{"day", "2026-10-25T12:00:00Z", berlin, "2026-10-24T22:00:00Z", "2026-10-25T23:00:00Z", 25},
	}
	for _, tt := range tests {
		p := PeriodAt(tt.kind, utc(tt.at), tt.loc)
		if !p.Start.Equal(utc(tt.start)) || !p.End.Equal(utc(tt.end)) {
			t.Errorf("PeriodAt(%s, %s, %s) = [%s, %s), want [%s, %s)", tt.kind, tt.at, tt.loc, p.Start.UTC().Format(time.RFC3339), p.End.UTC().Format(time.RFC3339), tt.start, tt.end)
		}
		if tt.hours != 0 && p.End.Sub(p.Start).Hours() != tt.hours {
			t.Errorf("day of %s lasts %v", tt.at, p.End.Sub(p.Start))
		}
	}
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-6 }

func TestForecast(t *testing.T) {
	berlin := mustLoc(t, "Europe/Berlin")
	at := time.Date(2026, 11, 18, 12, 0, 0, 0, time.UTC) // a Wednesday
	p := PeriodAt("month", at, time.UTC)
	today := PeriodAt("day", at, time.UTC)

	t.Run("no history", func(t *testing.T) {
		// 17.5 days into a 30-day month: the rate so far, extrapolated.
		f, note := Forecast(35, nil, p, today, at, time.UTC)
		if !near(f, 60) || note == "" {
			t.Fatalf("forecast %v (%q), want 60", f, note)
		}
		f, note = Forecast(1, nil, p, today, p.Start.Add(30*time.Minute), time.UTC)
		if f != 1 || note == "" {
			t.Fatalf("half an hour in: %v (%q)", f, note)
		}
	})
	t.Run("weekdays only", func(t *testing.T) {
		// Four weeks of $10 on weekdays, nothing at weekends.
		hist := map[string]float64{}
		for d := today.Start.AddDate(0, 0, -HistoryDays); d.Before(today.Start); d = d.AddDate(0, 0, 1) {
			if wd := d.Weekday(); wd != time.Saturday && wd != time.Sunday {
				hist[d.Format(dayLayout)] = 10
			}
		}
		// Half of Wednesday the 18th left ($5), then 19-30 November: 8
		// weekdays ($80) and 4 weekend days ($0).
		f, note := Forecast(100, hist, p, today, at, time.UTC)
		if !near(f, 185) || note != "" {
			t.Fatalf("forecast %v (%q), want 185", f, note)
		}
	})
	t.Run("daylight saving day", func(t *testing.T) {
		// 2026-10-25 in Berlin lasts 25 hours; at 12:00 UTC (13:00 local)
		// 11 of them are left, of a usual $25 day: $11.
		at := time.Date(2026, 10, 25, 12, 0, 0, 0, time.UTC)
		day := PeriodAt("day", at, berlin)
		hist := map[string]float64{}
		for d := day.Start.AddDate(0, 0, -7); d.Before(day.Start); d = d.AddDate(0, 0, 1) {
			hist[d.Format(dayLayout)] = 25
		}
		f, _ := Forecast(0, hist, day, day, at, berlin)
		if !near(f, 11) {
			t.Fatalf("forecast %v, want 11", f)
		}
	})
	if m := Median(map[string]float64{"a": 1, "b": 0, "c": 9, "d": 3}); m != 3 {
		t.Fatalf("median %v", m)
	}
	if m := Median(map[string]float64{"a": 2, "b": 4}); m != 3 {
		t.Fatalf("median %v", m)
	}
}

// store with queries of a known cost: each scans 1 TiB, $5 at the default
// price.
type fixture struct {
	t     *testing.T
	st    *store.Store
	rules *usage.Rules
	cfg   *config.Config
	qs    []store.Query
}

func newFixture(t *testing.T, yaml string) *fixture {
	t.Helper()
	cfg, err := config.Parse([]byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "b.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return &fixture{t: t, st: st, rules: usage.NewRules(cfg), cfg: cfg}
}

func (f *fixture) query(user string, at time.Time, tib float64, pending bool) {
	id := fmt.Sprintf("q%d", len(f.qs))
	q := store.Query{
		Region: "us-east-1", QueryID: id, EventID: "e-" + id, EventTime: at, OwnerAccount: "111111111111", StatsStatus: store.StatusFinal,
		Identity: cloudtrail.Identity{Type: "IAMUser", UserName: user, AccountID: "111111111111"},
		Stats:    store.Stats{State: "SUCCEEDED", StatementType: "DML", Workgroup: "primary", DataScannedBytes: int64(tib * (1 << 40)), QueryText: "SELECT 1"},
	}
	if pending {
		q.StatsStatus, q.Stats = store.StatusPending, store.Stats{}
	}
	f.rules.Query(&q)
	f.qs = append(f.qs, q)
}

func (f *fixture) evaluate(at time.Time) []Status {
	f.t.Helper()
	if len(f.qs) > 0 {
		if _, err := f.st.Commit(context.Background(), &store.Batch{Queries: f.qs}); err != nil {
			f.t.Fatal(err)
		}
		f.qs = nil
	}
	e := &Evaluator{Src: f.st, Rules: f.rules, Prices: usage.PricesOf(f.cfg)}
	out, err := e.Evaluate(context.Background(), f.cfg.Budgets, at)
	if err != nil {
		f.t.Fatal(err)
	}
	return out
}

func TestEvaluate(t *testing.T) {
	t.Parallel()
	f := newFixture(t, `
teams: [{name: data, users: [alice, bob]}]
budgets:
  - {name: user-month, scope: {user: "*"}, limit_usd: 20, period: month, thresholds: [0.5, 1.0]}
  - {name: data-week, scope: {team: data}, limit_bytes: 10995116277760, period: week}
  - {name: all-forecast, kind: forecast, limit_usd: 100, period: month}
  - {name: spikes, kind: anomaly, scope: {user: "*"}, period: day, time_zone: America/New_York}
`)
	at := time.Date(2026, 11, 18, 12, 0, 0, 0, time.UTC)
	// History: alice $5 a day for three weeks before the 18th.
	for d := 1; d <= 21; d++ {
		f.query("alice", at.AddDate(0, 0, -d), 1, false)
	}
	// The 18th: alice $20 (an anomaly: 4 × her $5 day), bob $5 and one
	// query still pending.
	for range 4 {
		f.query("alice", at.Add(-time.Hour), 1, false)
	}
	f.query("bob", at.Add(-2*time.Hour), 1, false)
	f.query("bob", at.Add(-time.Minute), 0, true)
	out := f.evaluate(at)
	got := map[string]Status{}
	for _, s := range out {
		got[s.Budget+" "+s.Scope] = s
	}
	check := func(key string, want func(s Status) bool) {
		t.Helper()
		s, ok := got[key]
		if !ok || !want(s) {
			t.Errorf("%s: %+v (present %v)", key, s, ok)
		}
	}
	// November so far: alice 17 days × $5 + $20 = $105; bob $5 + 1 pending.
	check("user-month user=alice", func(s Status) bool {
		return near(s.SpentUSD, 105) && s.State == StateOver && s.Crossed == 1 && near(s.Ratio, 5.25)
	})
	check("user-month user=bob", func(s Status) bool {
		return near(s.SpentUSD, 5) && s.State == StateOK && s.Pending == 1
	})
	// The week of Monday the 16th: alice 2 × $5 + $20, bob $5: 7 TiB of 10.
	check("data-week team=data", func(s Status) bool {
		return s.Unit == "bytes" && near(s.Spent, 7*(1<<40)) && near(s.Ratio, 0.7) && s.State == StateOK && s.SpentUSD == 0
	})
	check("all-forecast all", func(s Status) bool {
		return s.Kind == "forecast" && s.Forecast > s.Spent && s.State == StateOver
	})
	// In New York the 18th began at 05:00 UTC: alice's $20 at 11:00 UTC is
	// in it, her usual day is $5: 20 / (3 × 5).
	check("spikes user=alice", func(s Status) bool {
		return near(s.Today, 20) && near(s.UsualDay, 5) && near(s.Ratio, 20.0/15) && s.State == StateOver
	})
	check("spikes user=bob", func(s Status) bool {
		return s.State == StateOK && s.Note != ""
	})
}
