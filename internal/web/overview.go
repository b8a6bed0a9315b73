package web

import (
	"context"
	"fmt"
	"html/template"
	"net/http"
	"sort"
	"time"

	"github.com/athenawatch/athenawatch/internal/store"
	"github.com/athenawatch/athenawatch/internal/usage"
	"github.com/athenawatch/athenawatch/internal/web/chart"
)

// barRow is one line of a top-N list: a name, a bar and a figure.
type barRow struct {
	Key, Href, Value, Sub string
	Bar                   template.HTML
}

// topBars ranks rows by a metric and draws the first n as bars.
func topBars(rows []usage.Row, n int, value func(usage.Row) float64, format func(usage.Row) string, href func(key string) string, color string) []barRow {
	rows = append([]usage.Row(nil), rows...)
	sort.SliceStable(rows, func(i, j int) bool { return value(rows[i]) > value(rows[j]) })
	if len(rows) > n {
		rows = rows[:n]
	}
	max := 0.0
	for _, r := range rows {
		if v := value(r); v > max {
			max = v
		}
	}
	out := make([]barRow, 0, len(rows))
	for _, r := range rows {
		frac := 0.0
		if max > 0 {
			frac = value(r) / max
		}
		b := barRow{Key: display(r.Key), Value: format(r), Bar: chart.Bar(frac, display(r.Key)+": "+format(r), color)}
		if r.Key != "" && href != nil {
			b.Href = href(r.Key)
		}
		out = append(out, b)
	}
	return out
}

func costOf(r usage.Row) float64    { return r.Value("cost_usd").Float() }
func queriesOf(r usage.Row) float64 { return r.Value("queries").Float() }
func avgMBOf(r usage.Row) float64   { return r.Value("avg_mb_scanned").Float() }

type overviewData struct {
	base
	// Empty: the store holds no query at all; Quiet: none in the selection.
	Empty, Quiet bool
	Total        usage.Row
	Rejected     int64
	// Prev is the previous window of the same length; nil without a start.
	Prev                                         *usage.Row
	SpendDelta, BytesDelta, QueriesDelta         string
	Daily                                        template.HTML
	TopUsers, TopDatabases, TopWorkgroups        []barRow
	AvgMBUser, AvgMBDatabase                     []barRow
	QueriesUser, QueriesDatabase                 []barRow
	TopShapes                                    []shapeRow
	Heatmap                                      template.HTML
	HeatmapNote                                  string
	Costly                                       []store.Query
	FailedCost, CancelledCost                    string
	FailedCount, CancelledCount, Pending, NoStat int64
}

// overviewTop is how many rows each top list of the overview shows.
const overviewTop = 8

func (s *Server) overview(ctx context.Context, r *http.Request, b base) (string, any, error) {
	f, err := s.filter(b)
	if err != nil {
		return "", nil, err
	}
	b.Title = "Overview"
	d := overviewData{base: b}
	// The parts of the page read the store at once, each on its own
	// connection: the page takes about as long as its slowest part rather
	// than their sum.
	var users, dbs, wgs, prev *usage.Report
	err = parallel(ctx,
		func(ctx context.Context) (err error) { users, err = s.report(ctx, "user", f); return err },
		func(ctx context.Context) (err error) { dbs, err = s.report(ctx, "database", f); return err },
		func(ctx context.Context) (err error) { wgs, err = s.report(ctx, "workgroup", f); return err },
		func(ctx context.Context) (err error) {
			if !f.Since.IsZero() {
				prev, err = s.report(ctx, "region", s.previous(f))
			}
			return err
		},
		func(ctx context.Context) (err error) { d.Daily, err = s.dailyByTeam(ctx, f); return err },
		func(ctx context.Context) (err error) { d.TopShapes, err = s.topShapes(ctx, b.F, f, 5, 0); return err },
		func(ctx context.Context) (err error) {
			d.Heatmap, d.HeatmapNote, err = s.hourOfWeek(ctx, f)
			return err
		},
		func(ctx context.Context) error { return s.costlyFailures(ctx, f, &d) },
	)
	if err != nil {
		return "", nil, err
	}
	d.Total, d.Rejected = users.Total, users.Rejected
	if d.Total.Value("queries").Int() == 0 {
		any, err := s.anyQuery(ctx, store.Filter{})
		if err != nil {
			return "", nil, err
		}
		return "overview", overviewData{base: b, Total: d.Total, Rejected: d.Rejected, Empty: !any, Quiet: true}, nil
	}
	fcost := func(r usage.Row) string { return cost(r) }
	d.TopUsers = topBars(users.Rows, overviewTop, costOf, fcost, func(k string) string { return b.F.To("users", k) }, chart.Color(0))
	d.TopDatabases = topBars(dbs.Rows, overviewTop, costOf, fcost, func(k string) string { return b.F.To("databases", k) }, chart.Color(0))
	d.TopWorkgroups = topBars(wgs.Rows, overviewTop, costOf, fcost, func(k string) string { return b.F.To("workgroups", k) }, chart.Color(0))
	fmb := func(r usage.Row) string { return mb(avgMBOf(r)) + " MB" }
	fq := func(r usage.Row) string { return thousands(r.Value("queries").Int()) }
	d.AvgMBUser = topBars(users.Rows, overviewTop, avgMBOf, fmb, func(k string) string { return b.F.To("users", k) }, chart.Color(2))
	d.AvgMBDatabase = topBars(dbs.Rows, overviewTop, avgMBOf, fmb, func(k string) string { return b.F.To("databases", k) }, chart.Color(2))
	d.QueriesUser = topBars(users.Rows, overviewTop, queriesOf, fq, func(k string) string { return b.F.To("users", k) }, chart.Color(4))
	d.QueriesDatabase = topBars(dbs.Rows, overviewTop, queriesOf, fq, func(k string) string { return b.F.To("databases", k) }, chart.Color(4))
	if prev != nil {
		d.Prev = &prev.Total
		d.SpendDelta = delta(costOf(d.Total), costOf(prev.Total))
		d.BytesDelta = delta(d.Total.Value("bytes_scanned").Float(), prev.Total.Value("bytes_scanned").Float())
		d.QueriesDelta = delta(queriesOf(d.Total), queriesOf(prev.Total))
	}
	d.Pending, d.NoStat = d.Total.Value("pending").Int(), d.Total.Value("no_stats").Int()
	return "overview", d, nil
}

// previous is the window of the same length just before f's, for
// comparison.
func (s *Server) previous(f store.Filter) store.Filter {
	until := f.Until
	if until.IsZero() || until.After(s.opts.Now()) {
		until = s.opts.Now()
	}
	prev := f
	prev.Until, prev.Since = f.Since, f.Since.Add(-until.Sub(f.Since))
	return prev
}

// maxSeries is how many series a stacked chart draws before it gathers
// the rest as "other".
const maxSeries = 6

// dailyByTeam is the chart of daily spend stacked by team: the biggest
// teams of the window each get a colour, the rest is "other".
func (s *Server) dailyByTeam(ctx context.Context, f store.Filter) (template.HTML, error) {
	cells, err := s.breakdown(ctx, "day", "team", f)
	if err != nil {
		return "", err
	}
	teamCost := map[string]float64{}
	first := ""
	for _, c := range cells {
		teamCost[c.Key2] += costOf(c.Row)
		if first == "" || c.Key < first {
			first = c.Key
		}
	}
	teams := make([]string, 0, len(teamCost))
	for t := range teamCost {
		teams = append(teams, t)
	}
	sort.Slice(teams, func(i, j int) bool {
		if teamCost[teams[i]] != teamCost[teams[j]] {
			return teamCost[teams[i]] > teamCost[teams[j]]
		}
		return teams[i] < teams[j]
	})
	firstT, _ := time.Parse("2006-01-02", first)
	from, to := window(f, s.opts.Now(), firstT)
	labels := days(from, to, 120)
	index := map[string]int{}
	for i, l := range labels {
		index[l] = i
	}
	series := map[string]int{}
	var out []chart.Series
	for i, t := range teams {
		if i == maxSeries && len(teams) > maxSeries+1 {
			series[t] = len(out)
			out = append(out, chart.Series{Name: "other teams", Color: chart.Other, Values: make([]float64, len(labels))})
			continue
		}
		if i > maxSeries && len(teams) > maxSeries+1 {
			series[t] = maxSeries
			continue
		}
		series[t] = len(out)
		out = append(out, chart.Series{Name: display(t), Values: make([]float64, len(labels))})
	}
	for _, c := range cells {
		if i, ok := index[c.Key]; ok {
			out[series[c.Key2]].Values[i] += costOf(c.Row)
		}
	}
	return chart.Columns{Labels: labels, Series: out, Format: usd, Axis: axisUSD, Title: "Daily spend by team"}.SVG(), nil
}

var weekdays = []string{"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"}

// hourOfWeek is the heatmap of queries by weekday and hour (UTC). It
// reads the store's hourly dimension when the store has one, and falls
// back to weekdays alone otherwise.
func (s *Server) hourOfWeek(ctx context.Context, f store.Filter) (template.HTML, string, error) {
	values := make([][]float64, 7)
	for i := range values {
		values[i] = make([]float64, 24)
	}
	format := func(v float64) string { return thousands(int64(v)) + " queries" }
	if _, ok := store.Dimensions["hour"]; ok {
		rep, err := s.report(ctx, "hour", f)
		if err != nil {
			return "", "", err
		}
		for _, r := range rep.Rows {
			t, err := time.Parse("2006-01-02T15:04Z", r.Key)
			if err != nil {
				continue
			}
			values[(int(t.Weekday())+6)%7][t.Hour()] += queriesOf(r)
		}
		cols := make([]string, 24)
		for h := range cols {
			cols[h] = fmt.Sprintf("%02d", h)
		}
		return chart.Heatmap{Rows: weekdays, Cols: cols, Values: values, Format: format, Title: "Queries by weekday and hour (UTC)", ColEvery: 3}.SVG(), "", nil
	}
	rep, err := s.report(ctx, "day", f)
	if err != nil {
		return "", "", err
	}
	week := [][]float64{make([]float64, 7)}
	for _, r := range rep.Rows {
		if t, err := time.Parse("2006-01-02", r.Key); err == nil {
			week[0][(int(t.Weekday())+6)%7] += queriesOf(r)
		}
	}
	return chart.Heatmap{Rows: []string{"UTC"}, Cols: weekdays, Values: week, Format: format, Title: "Queries by weekday (UTC)"}.SVG(),
		"By weekday only: this store has no hourly dimension.", nil
}

// costlyFailures finds the failed and cancelled queries that still cost
// money (cancelled queries are billed for what they scanned; failed ones
// on provisioned capacity for their DPU time).
func (s *Server) costlyFailures(ctx context.Context, f store.Filter, d *overviewData) error {
	ff := f
	ff.Match = map[string][]string{}
	for k, v := range f.Match {
		ff.Match[k] = v
	}
	if _, narrowed := f.Match["state"]; !narrowed {
		ff.Match["state"] = []string{"FAILED", "CANCELLED"}
	}
	states, err := s.report(ctx, "state", ff)
	if err != nil {
		return err
	}
	for _, r := range states.Rows {
		switch r.Key {
		case "FAILED":
			d.FailedCount, d.FailedCost = r.Value("queries").Int(), cost(r)
		case "CANCELLED":
			d.CancelledCount, d.CancelledCost = r.Value("queries").Int(), cost(r)
		}
	}
	page, err := s.opts.Store.ListQueries(ctx, store.ListOptions{Filter: ff, Sort: "cost", Limit: 8})
	if err != nil {
		return err
	}
	for _, q := range page.Queries {
		if q.CostUSD > 0 {
			d.Costly = append(d.Costly, q)
		}
	}
	return nil
}
