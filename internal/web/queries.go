package web

import (
	"context"
	"html/template"
	"net/http"
	"net/url"
	"sort"
	"strings"

	"github.com/athenawatch/athenawatch/internal/store"
	"github.com/athenawatch/athenawatch/internal/usage"
	"github.com/athenawatch/athenawatch/internal/web/chart"
)

type queryListData struct {
	base
	Queries   []store.Query
	Sorts     []sortLink
	Sort      string
	NextHref  string
	FirstHref string
	Paged     bool
	Empty     bool
}

// queryListSorts are the listing's orders, in header order, with labels.
var queryListSorts = []struct{ key, label string }{{"time", "Time"}, {"cost", "Cost"}, {"bytes", "Scanned"}, {"engine", "Engine time"}}

func (s *Server) queryList(ctx context.Context, r *http.Request, b base) (string, any, error) {
	f, err := s.filter(b)
	if err != nil {
		return "", nil, err
	}
	b.Title = "Queries"
	q := r.URL.Query()
	sortBy := q.Get("sort")
	if sortBy == "" {
		sortBy = "time"
	}
	if _, ok := store.Sorts[sortBy]; !ok {
		keys := make([]string, 0, len(store.Sorts))
		for k := range store.Sorts {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		return "", nil, badRequest("Unknown sort %s: use one of %s.", quote(sortBy), strings.Join(keys, ", "))
	}
	page, err := s.opts.Store.ListQueries(ctx, store.ListOptions{Filter: f, Sort: sortBy, Cursor: q.Get("cursor"), Limit: store.DefaultListLimit})
	if err != nil {
		return "", nil, err
	}
	data := queryListData{base: b, Queries: page.Queries, Sort: sortBy, Paged: q.Get("cursor") != "", Empty: len(page.Queries) == 0}
	if page.Next != "" {
		data.NextHref = b.F.LinkWith("/queries", "sort", sortBy, "cursor", page.Next)
	}
	data.FirstHref = b.F.LinkWith("/queries", "sort", sortBy)
	for _, c := range queryListSorts {
		data.Sorts = append(data.Sorts, sortLink{Key: c.key, Label: c.label, Active: c.key == sortBy, Num: c.key != "time", Href: b.F.LinkWith("/queries", "sort", c.key)})
	}
	return "queries", data, nil
}

// queryByID finds a query by its id alone: ids are unique in practice, so
// the page of the one region that holds it; a choice when several do.
func (s *Server) queryByID(ctx context.Context, r *http.Request, b base) (string, any, error) {
	id := r.PathValue("id")
	qs, err := s.opts.Store.QueriesByID(ctx, id)
	if err != nil {
		return "", nil, err
	}
	switch len(qs) {
	case 0:
		return "", nil, notFound("No stored query has the id %s.", quote(id))
	case 1:
		return "", nil, redirectTo(b.F.Link(queryPath(qs[0])))
	}
	b.Title = "Query " + id
	return "pick", struct {
		base
		ID      string
		Queries []store.Query
	}{b, id, qs}, nil
}

// queryPath is the page of one query.
func queryPath(q store.Query) string {
	return "/queries/" + url.PathEscape(q.Region) + "/" + url.PathEscape(q.QueryID)
}

type queryDetailData struct {
	base
	Q        store.Query
	Text     string
	Cost     string
	Timeline template.HTML
	Links    []struct{ Label, Value, Href string }
	Pending  bool
}

func (s *Server) queryDetail(ctx context.Context, r *http.Request, b base) (string, any, error) {
	region, id := r.PathValue("region"), r.PathValue("id")
	q, ok, err := s.opts.Store.GetQuery(ctx, region, id)
	if err != nil {
		return "", nil, err
	}
	if !ok {
		return "", nil, notFound("No stored query has the id %s in region %s.", quote(id), quote(region))
	}
	b.Title = "Query " + id
	d := queryDetailData{base: b, Q: q, Text: q.QueryText(), Cost: queryCost(q), Pending: q.StatsStatus == store.StatusPending}
	st := q.Stats
	// Athena's phases in order: waiting in the queue, the service's
	// preparation, planning and execution in the engine (planning is part of
	// engine time), then the service writing results.
	exec := st.EngineMs - st.PlanningMs
	if exec < 0 {
		exec = 0
	}
	if q.StatsStatus == store.StatusFinal {
		d.Timeline = chart.Timeline([]chart.Segment{
			{Name: "Queued", Ms: st.QueueMs},
			{Name: "Preprocessing", Ms: st.ServicePreprocessingMs},
			{Name: "Planning", Ms: st.PlanningMs},
			{Name: "Executing", Ms: exec},
			{Name: "Writing results", Ms: st.ServiceProcessingMs},
		}, usage.HumanMillis)
	}
	add := func(label, value, href string) {
		d.Links = append(d.Links, struct{ Label, Value, Href string }{label, display(value), href})
	}
	link := func(kind, v string) string {
		if v == "" {
			return ""
		}
		return b.F.To(kind, v)
	}
	add("User", q.User, link("users", q.User))
	add("Team", q.Team, link("teams", q.Team))
	add("Workgroup", q.Workgroup, link("workgroups", q.Workgroup))
	add("Database", q.Database, link("databases", q.Database))
	if q.Fingerprint != "" {
		add("Shape", shortFingerprint(q.Fingerprint), link("shapes", q.Fingerprint))
	}
	add("Account", q.Account, "")
	add("Region", q.Region, "")
	if q.Role != "" {
		add("Role", q.Role, "")
	}
	return "query", d, nil
}

// shortFingerprint is the first characters of a shape's fingerprint, enough
// to tell shapes apart on a page.
func shortFingerprint(fp string) string {
	if len(fp) > 12 {
		return fp[:12]
	}
	return fp
}
