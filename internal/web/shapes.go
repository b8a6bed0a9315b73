package web

import (
	"context"
	"html/template"
	"net/http"
	"strconv"
	"time"

	"github.com/athenawatch/athenawatch/internal/store"
	"github.com/athenawatch/athenawatch/internal/usage"
	"github.com/athenawatch/athenawatch/internal/web/chart"
)

// shapeRow is a query shape in a table: its figures, its latest query and
// its cost annualized from the window.
type shapeRow struct {
	usage.Row
	Fingerprint, Short, Href string
	Text                     string // the latest query's text, on one line
	Latest                   store.Query
	LatestHref               string
	Users                    int
	Annual                   string
	Share                    template.HTML
}

// annualized extrapolates a cost over the window to a year; "" when the
// window has no start.
func (s *Server) annualized(f store.Filter, usd float64) string {
	if f.Since.IsZero() {
		return ""
	}
	until := f.Until
	if until.IsZero() || until.After(s.opts.Now()) {
		until = s.opts.Now()
	}
	span := until.Sub(f.Since)
	if span < time.Hour {
		return ""
	}
	return usdText(usd * float64(365*24*time.Hour) / float64(span))
}

func usdText(v float64) string { return usd(v) }

// topShapes is the most expensive shapes of the selection, from start, n
// of them, each with its latest query (one indexed read per shape). Queries
// whose text is not known yet have no shape and are left out.
func (s *Server) topShapes(ctx context.Context, fs filterState, f store.Filter, n, start int) ([]shapeRow, error) {
	rep, err := s.reportTop(ctx, "fingerprint", f, start+n+1)
	if err != nil {
		return nil, err
	}
	return s.shapeRows(ctx, fs, f, rep.Rows, n, start)
}

// shapeRows is the rows from start, n of them, of a report by shape (the
// shape of queries whose text is unknown left out), which holds at least
// start+n+1 rows when there are that many.
func (s *Server) shapeRows(ctx context.Context, fs filterState, f store.Filter, all []usage.Row, n, start int) ([]shapeRow, error) {
	var known []usage.Row
	for _, r := range all {
		if r.Key != "" {
			known = append(known, r)
		}
	}
	if start > len(known) {
		start = len(known)
	}
	shown := known[start:min(start+n, len(known))]
	maxCost := 0.0
	for _, r := range known {
		maxCost = max(maxCost, costOf(r))
	}
	latest, err := s.latestOf(ctx, shown)
	if err != nil {
		return nil, err
	}
	out := make([]shapeRow, 0, len(shown))
	for _, r := range shown {
		sr := shapeRow{Row: r, Fingerprint: r.Key, Short: shortFingerprint(r.Key), Href: fs.To("shapes", r.Key), Users: shapeUsers(r),
			Annual: s.annualized(f, costOf(r))}
		q, ok := latest[r.Key]
		if !ok {
			page, err := s.opts.Store.ListQueries(ctx, store.ListOptions{Filter: exact(f, "fingerprint", r.Key), Limit: 1})
			if err != nil {
				return nil, err
			}
			q, ok = firstQuery(page.Queries)
		}
		if ok {
			sr.Latest = q
			sr.Text = shorten(sr.Latest.QueryText(), 160)
			sr.LatestHref = fs.Link(queryPath(sr.Latest))
		}
		if maxCost > 0 {
			sr.Share = chart.Bar(costOf(r)/maxCost, sr.Short+": "+cost(r), chart.Color(0))
		}
		out = append(out, sr)
	}
	return out, nil
}

// latestOf is the latest query of each row of a report by shape that names
// it (its details hold the query's id and region), by fingerprint, read in
// one statement. A row that names none (a report without details) is
// absent: its caller lists the filter's latest of the shape instead.
func (s *Server) latestOf(ctx context.Context, rows []usage.Row) (map[string]store.Query, error) {
	var keys []store.QueryKey
	shapeOf := map[store.QueryKey]string{}
	for _, r := range rows {
		if len(r.Details) <= 3 {
			continue
		}
		id, _ := r.Details[2].(string)
		region, _ := r.Details[3].(string)
		if id != "" {
			k := store.QueryKey{Region: region, QueryID: id}
			keys = append(keys, k)
			shapeOf[k] = r.Key
		}
	}
	if len(keys) == 0 {
		return nil, nil
	}
	qs, err := s.opts.Store.GetQueries(ctx, keys)
	if err != nil {
		return nil, err
	}
	out := make(map[string]store.Query, len(qs))
	for k, q := range qs {
		out[shapeOf[k]] = q
	}
	return out, nil
}

func firstQuery(qs []store.Query) (store.Query, bool) {
	if len(qs) == 0 {
		return store.Query{}, false
	}
	return qs[0], true
}

// shapeUsers is the distinct users of a row of a report by shape.
func shapeUsers(r usage.Row) int {
	if len(r.Details) > 1 {
		if n, ok := r.Details[1].(int64); ok {
			return int(n)
		}
	}
	return 0
}

type shapeListData struct {
	base
	Shapes             []shapeRow
	Count, Page        int
	PrevHref, NextHref string
	Unshaped           int64
	Empty              bool
}

func (s *Server) shapeList(ctx context.Context, r *http.Request, b base) (string, any, error) {
	f, err := s.filter(b)
	if err != nil {
		return "", nil, err
	}
	b.Title = "Query shapes"
	pageNo := 1
	if p := r.URL.Query().Get("page"); p != "" {
		if pageNo, err = strconv.Atoi(p); err != nil || pageNo < 1 || pageNo > 1_000_000 {
			return "", nil, badRequest("Page %s is not a page number.", quote(p))
		}
	}
	start := (pageNo - 1) * listPageSize
	// One row more than the page, and one for queries without a shape: is
	// there a next page?
	rep, err := s.reportTop(ctx, "fingerprint", f, start+listPageSize+2)
	if err != nil {
		return "", nil, err
	}
	rows, err := s.shapeRows(ctx, b.F, f, rep.Rows, listPageSize, start)
	if err != nil {
		return "", nil, err
	}
	known := 0
	for _, r := range rep.Rows {
		if r.Key != "" {
			known++
		}
	}
	// Queries whose text is not known yet have no shape: counted apart,
	// unless the selection names shapes. The report counts the window's
	// shapes only when it summed them all (Count is -1 otherwise).
	total := rep.Keys()
	d := shapeListData{base: b, Shapes: rows, Page: pageNo}
	if len(f.Match["fingerprint"]) == 0 {
		unshaped, err := s.reportTop(ctx, "fingerprint", exact(f, "fingerprint", ""), 1)
		if err != nil {
			return "", nil, err
		}
		if len(unshaped.Rows) > 0 {
			d.Unshaped = unshaped.Rows[0].Value("queries").Int()
			if total > 0 {
				total--
			}
		}
	}
	d.Count, d.Empty = total, total == 0 || (total < 0 && known == 0)
	if pageNo > 1 {
		d.PrevHref = b.F.LinkWith("/shapes", "page", strconv.Itoa(pageNo-1))
	}
	if known > start+listPageSize {
		d.NextHref = b.F.LinkWith("/shapes", "page", strconv.Itoa(pageNo+1))
	}
	return "shapes", d, nil
}

type shapeDetailData struct {
	base
	Fingerprint string
	Total       usage.Row
	Annual      string
	Latest      store.Query
	LatestText  string
	LatestHref  string
	Trend       template.HTML
	Users       []barRow
	Queries     []store.Query
	QueriesHref string
	Quiet       bool
}

func (s *Server) shapeDetail(ctx context.Context, r *http.Request, b base) (string, any, error) {
	fp := r.PathValue("fingerprint")
	f, err := s.filter(b)
	if err != nil {
		return "", nil, err
	}
	b.Title = "Shape " + shortFingerprint(fp)
	f = exact(f, "fingerprint", fp)
	d := shapeDetailData{base: b, Fingerprint: fp}
	latest, err := s.opts.Store.ListQueries(ctx, store.ListOptions{Filter: store.Filter{Match: f.Match}, Limit: 1})
	if err != nil {
		return "", nil, err
	}
	if fp == "" || len(latest.Queries) == 0 {
		return "", nil, notFound("No stored query has the shape %s.", quote(fp))
	}
	d.Latest = latest.Queries[0]
	d.LatestText = d.Latest.QueryText()
	d.LatestHref = b.F.Link(queryPath(d.Latest))
	byDay, err := s.report(ctx, "day", f)
	if err != nil {
		return "", nil, err
	}
	d.Total = byDay.Total
	if d.Total.Value("queries").Int() == 0 {
		d.Quiet = true
		return "shape", d, nil
	}
	d.Annual = s.annualized(f, costOf(d.Total))
	d.Trend, _ = s.trendCharts(f, byDay.Rows)
	users, err := s.report(ctx, "user", f)
	if err != nil {
		return "", nil, err
	}
	d.Users = topBars(users.Rows, 10, costOf, func(r usage.Row) string {
		return cost(r) + " · " + thousands(r.Value("queries").Int()) + " q"
	}, func(k string) string { return b.F.To("users", k) }, chart.Color(0))
	page, err := s.opts.Store.ListQueries(ctx, store.ListOptions{Filter: f, Sort: "cost", Limit: 15})
	if err != nil {
		return "", nil, err
	}
	d.Queries = page.Queries
	d.QueriesHref = b.F.With("fingerprint", fp).LinkWith("/queries", "sort", "cost")
	return "shape", d, nil
}
