package web

import (
	"context"
	"html/template"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/athenawatch/athenawatch/internal/store"
	"github.com/athenawatch/athenawatch/internal/usage"
	"github.com/athenawatch/athenawatch/internal/web/chart"
)

// dimPage describes the pages of one report dimension: its list and the
// page of each of its values.
type dimPage struct {
	path     string // "users": /users and /users/{key}
	dim      string // the report dimension, "user"
	singular string // "user"
	// related are the dimensions a value's page breaks down by: the
	// databases a user touches, the users of a database.
	related []string
}

var dimPages = []dimPage{
	{path: "users", dim: "user", singular: "user", related: []string{"database", "workgroup", "team"}},
	{path: "teams", dim: "team", singular: "team", related: []string{"user", "database", "workgroup"}},
	{path: "databases", dim: "database", singular: "database", related: []string{"user", "workgroup"}},
	{path: "workgroups", dim: "workgroup", singular: "workgroup", related: []string{"user", "database"}},
}

// pathOf is the page path of a dimension, "" for dimensions without pages.
func pathOf(dim string) string {
	for _, d := range dimPages {
		if d.dim == dim {
			return d.path
		}
	}
	return ""
}

// listPageSize is how many rows a list page shows: with a sparkline each,
// this keeps a page far under 300 KB.
const listPageSize = 50

// sortKeys are the orders of list tables, each with the value it sorts by;
// "name" sorts by key.
var sortKeys = map[string]func(usage.Row) float64{
	"cost":    costOf,
	"queries": queriesOf,
	"bytes":   func(r usage.Row) float64 { return r.Value("bytes_scanned").Float() },
	"avg_mb":  avgMBOf,
	"failed":  func(r usage.Row) float64 { return r.Value("failed").Float() },
	"pending": func(r usage.Row) float64 { return r.Value("pending").Float() },
}

// listRow is a row of a list table.
type listRow struct {
	usage.Row
	Name, Href string
	Spark      template.HTML
	Share      template.HTML
}

// sortLink is a column header of a sortable table.
type sortLink struct {
	Key, Label, Href string
	Active, Num      bool
}

type dimListData struct {
	base
	Kind, Singular string
	Rows           []listRow
	Total          usage.Row
	Sorts          []sortLink
	Count          int
	Page           int
	PrevHref       string
	NextHref       string
	Empty          bool
}

func (s *Server) dimList(d dimPage) pageFunc {
	return func(ctx context.Context, r *http.Request, b base) (string, any, error) {
		f, err := s.filter(b)
		if err != nil {
			return "", nil, err
		}
		b.Title = title(d.path)
		sortBy := r.URL.Query().Get("sort")
		if sortBy == "" {
			sortBy = "cost"
		}
		if _, ok := sortKeys[sortBy]; !ok && sortBy != "name" {
			return "", nil, badRequest("Unknown sort %s: use one of cost, queries, bytes, avg_mb, failed, pending, name.", quote(sortBy))
		}
		pageNo := 1
		if p := r.URL.Query().Get("page"); p != "" {
			if pageNo, err = strconv.Atoi(p); err != nil || pageNo < 1 || pageNo > 1_000_000 {
				return "", nil, badRequest("Page %s is not a page number.", quote(p))
			}
		}
		rep, err := s.report(ctx, d.dim, f)
		if err != nil {
			return "", nil, err
		}
		rows := rep.Rows
		if sortBy == "name" {
			sort.SliceStable(rows, func(i, j int) bool { return rows[i].Key < rows[j].Key })
		} else {
			v := sortKeys[sortBy]
			sort.SliceStable(rows, func(i, j int) bool { return v(rows[i]) > v(rows[j]) })
		}
		data := dimListData{base: b, Kind: d.path, Singular: d.singular, Total: rep.Total, Count: len(rows), Page: pageNo, Empty: len(rows) == 0}
		start := (pageNo - 1) * listPageSize
		if start > len(rows) {
			start = len(rows)
		}
		end := min(start+listPageSize, len(rows))
		if pageNo > 1 {
			data.PrevHref = b.F.LinkWith("/"+d.path, "sort", sortBy, "page", strconv.Itoa(pageNo-1))
		}
		if end < len(rows) {
			data.NextHref = b.F.LinkWith("/"+d.path, "sort", sortBy, "page", strconv.Itoa(pageNo+1))
		}
		shown := rows[start:end]
		sparks, err := s.sparklines(ctx, d.dim, f, shown)
		if err != nil {
			return "", nil, err
		}
		maxCost := 0.0
		for _, r := range rows {
			maxCost = max(maxCost, costOf(r))
		}
		for _, r := range shown {
			lr := listRow{Row: r, Name: display(r.Key), Spark: sparks[r.Key]}
			if r.Key != "" {
				lr.Href = b.F.To(d.path, r.Key)
			}
			if maxCost > 0 {
				lr.Share = chart.Bar(costOf(r)/maxCost, display(r.Key)+": "+cost(r), chart.Color(0))
			}
			data.Rows = append(data.Rows, lr)
		}
		for _, c := range []struct{ key, label string }{{"name", title(d.singular)}, {"cost", "Cost"}, {"queries", "Queries"}, {"failed", "Failed"}, {"bytes", "Scanned"}, {"avg_mb", "Avg MB"}, {"pending", "Pending"}} {
			data.Sorts = append(data.Sorts, sortLink{Key: c.key, Label: c.label, Active: c.key == sortBy, Num: c.key != "name",
				Href: b.F.LinkWith("/"+d.path, "sort", c.key)})
		}
		return "dims", data, nil
	}
}

// sparklines draws the daily cost of each shown row, from one read of the
// whole dimension by day.
func (s *Server) sparklines(ctx context.Context, dim string, f store.Filter, shown []usage.Row) (map[string]template.HTML, error) {
	out := map[string]template.HTML{}
	if len(shown) == 0 {
		return out, nil
	}
	want := map[string]bool{}
	keys := make([]string, 0, len(shown))
	literal := true
	for _, r := range shown {
		want[r.Key] = true
		keys = append(keys, r.Key)
		literal = literal && !strings.ContainsAny(r.Key, "*?[")
	}
	// Only the rows shown: their days from the rollups of their values, not
	// every value's. The keys come from a report under f, so they match
	// its own patterns for dim; a key that reads as a glob could match
	// others or not itself, so then every value's days are read.
	sf := f
	if literal {
		sf.Match = make(map[string][]string, len(f.Match)+1)
		for k, v := range f.Match {
			sf.Match[k] = v
		}
		sf.Match[dim] = keys
	}
	cells, err := s.breakdown(ctx, dim, "day", sf)
	if err != nil {
		return nil, err
	}
	first := ""
	for _, c := range cells {
		if first == "" || c.Key2 < first {
			first = c.Key2
		}
	}
	firstT, _ := time.Parse("2006-01-02", first)
	from, to := window(f, s.opts.Now(), firstT)
	labels := days(from, to, 90)
	index := map[string]int{}
	for i, l := range labels {
		index[l] = i
	}
	series := map[string][]float64{}
	for _, c := range cells {
		i, ok := index[c.Key2]
		if !ok || !want[c.Key] {
			continue
		}
		if series[c.Key] == nil {
			series[c.Key] = make([]float64, len(labels))
		}
		series[c.Key][i] += costOf(c.Row)
	}
	for k := range want {
		v := series[k]
		if v == nil {
			v = make([]float64, len(labels))
		}
		out[k] = chart.Sparkline(v, "daily cost of "+display(k))
	}
	return out, nil
}

type relatedTable struct {
	Title, Kind string
	Rows        []barRow
	MoreHref    string
}

type dimDetailData struct {
	base
	Kind, Singular, Key string
	Total               usage.Row
	Trend               template.HTML
	QueriesTrend        template.HTML
	Related             []relatedTable
	Shapes              []shapeRow
	Queries             []store.Query
	QueriesHref         string
	// Quiet: the value exists but has no query in the selection.
	Quiet bool
}

func (s *Server) dimDetail(d dimPage) pageFunc {
	return func(ctx context.Context, r *http.Request, b base) (string, any, error) {
		key := r.PathValue("key")
		f, err := s.filter(b)
		if err != nil {
			return "", nil, err
		}
		b.Title = key + " · " + d.singular
		f = exact(f, d.dim, key)
		data := dimDetailData{base: b, Kind: d.path, Singular: d.singular, Key: key}
		fs := b.F.With(d.dim, key)
		var byDay *usage.Report
		related := make([]*usage.Report, len(d.related))
		parts := []func(context.Context) error{
			func(ctx context.Context) (err error) { byDay, err = s.report(ctx, "day", f); return err },
			func(ctx context.Context) (err error) { data.Shapes, err = s.topShapes(ctx, fs, f, 5, 0); return err },
			func(ctx context.Context) error {
				page, err := s.opts.Store.ListQueries(ctx, store.ListOptions{Filter: f, Sort: "cost", Limit: 15})
				data.Queries = page.Queries
				return err
			},
		}
		for i, rel := range d.related {
			parts = append(parts, func(ctx context.Context) (err error) { related[i], err = s.report(ctx, rel, f); return err })
		}
		if err := parallel(ctx, parts...); err != nil {
			return "", nil, err
		}
		data.Total = byDay.Total
		if data.Total.Value("queries").Int() == 0 {
			known, err := s.anyQuery(ctx, store.Filter{Match: map[string][]string{d.dim: {literal(key)}}})
			if err != nil {
				return "", nil, err
			}
			if !known {
				return "", nil, notFound("No %s named %s has run a query.", d.singular, quote(key))
			}
			return "dim", dimDetailData{base: b, Kind: d.path, Singular: d.singular, Key: key, Total: data.Total, Quiet: true}, nil
		}
		data.Trend, data.QueriesTrend = s.trendCharts(f, byDay.Rows)
		for i, rel := range d.related {
			rep := related[i]
			var href func(string) string
			if p := pathOf(rel); p != "" {
				href = func(k string) string { return b.F.To(p, k) }
			}
			t := relatedTable{Title: title(pathOf(rel)), Kind: rel,
				Rows: topBars(rep.Rows, 10, costOf, func(r usage.Row) string {
					return cost(r) + " · " + thousands(r.Value("queries").Int()) + " q · " + mb(avgMBOf(r)) + " MB avg"
				}, href, chart.Color(0))}
			if len(rep.Rows) > 10 {
				t.MoreHref = b.F.With(d.dim, key).Link("/" + pathOf(rel))
			}
			data.Related = append(data.Related, t)
		}
		data.QueriesHref = fs.LinkWith("/queries", "sort", "cost")
		return "dim", data, nil
	}
}

// trendCharts draws a day report as daily cost and daily queries.
func (s *Server) trendCharts(f store.Filter, rows []usage.Row) (template.HTML, template.HTML) {
	from, to := window(f, s.opts.Now(), firstDay(rows))
	labels := days(from, to, 120)
	index := map[string]int{}
	for i, l := range labels {
		index[l] = i
	}
	costs, counts := make([]float64, len(labels)), make([]float64, len(labels))
	for _, r := range rows {
		if i, ok := index[r.Key]; ok {
			costs[i], counts[i] = costOf(r), queriesOf(r)
		}
	}
	return chart.Columns{Labels: labels, Series: []chart.Series{{Name: "cost", Values: costs}}, Format: usd, Axis: axisUSD, Title: "Daily cost"}.SVG(),
		chart.Columns{Labels: labels, Series: []chart.Series{{Name: "queries", Color: chart.Color(4), Values: counts}}, Whole: true,
			Format: func(v float64) string { return thousands(int64(v)) }, Title: "Daily queries"}.SVG()
}

func title(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
