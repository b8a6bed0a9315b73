package web

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/athenawatch/athenawatch/internal/store"
	"github.com/athenawatch/athenawatch/internal/usage"
	"github.com/athenawatch/athenawatch/internal/web/chart"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed assets
var assetFS embed.FS

// pageNames are the templates of the pages; each is parsed with the layout.
var pageNames = []string{"overview", "dims", "dim", "queries", "query", "pick", "shapes", "shape", "budgets", "reconcile", "error"}

var templateFuncs = template.FuncMap{
	"usd":       usd,
	"cost":      cost,
	"queryCost": queryCost,
	"bytes":     usage.HumanBytes,
	"ms":        usage.HumanMillis,
	"mb":        mb,
	"count":     count,
	"display":   display,
	"shorten":   shorten,
	"time":      timeText,
	"bar":       chart.Bar,
	"urlpath":   url.PathEscape,
	"mulf":      func(a, b float64) float64 { return a * b },
	"color":     chart.Color,
	"metric":    func(r usage.Row, key string) usage.Value { return r.Value(key) },
	"int":       func(r usage.Row, key string) int64 { return r.Value(key).Int() },
	"float":     func(r usage.Row, key string) float64 { return r.Value(key).Float() },
	"title": func(s string) string {
		if s == "" {
			return s
		}
		return strings.ToUpper(s[:1]) + s[1:]
	},
}

// pages holds one parsed template set per page.
type pages map[string]*template.Template

func parsePages() (pages, error) {
	out := pages{}
	for _, name := range pageNames {
		t, err := template.New(name).Funcs(templateFuncs).ParseFS(templateFS, "templates/layout.html", "templates/"+name+".html")
		if err != nil {
			return nil, err
		}
		out[name] = t
	}
	return out, nil
}

var parsedPages = func() pages {
	p, err := parsePages()
	if err != nil {
		panic("parse page templates: " + err.Error()) // the embedded templates are part of the program
	}
	return p
}()

// nav is the site's navigation, in order.
var nav = []struct{ Path, Name string }{
	{"/", "Overview"}, {"/users", "Users"}, {"/teams", "Teams"}, {"/databases", "Databases"},
	{"/workgroups", "Workgroups"}, {"/queries", "Queries"}, {"/shapes", "Shapes"}, {"/budgets", "Budgets"},
	{"/reconcile", "Bill"},
}

// base is what the layout of every page shows.
type base struct {
	Title  string
	Active string // the path of the navigation entry to highlight
	F      filterState
	Nav    []struct{ Path, Name string }
	Health string
	// Window says what time span the selection covers.
	Window string
	// FilterError, on a 400 page, is what is wrong with the selection.
	FilterError string
}

// pageRoutes registers the dashboard pages and their assets.
func (s *Server) pageRoutes(mux *http.ServeMux) {
	sub, _ := fs.Sub(assetFS, "assets")
	files := http.FileServerFS(sub)
	mux.Handle("GET /assets/", http.StripPrefix("/assets/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Assets change only with the program; a day of caching spares
		// every page view a round trip.
		w.Header().Set("Cache-Control", "public, max-age=86400")
		files.ServeHTTP(w, r)
	})))
	mux.HandleFunc("GET /{$}", s.page(s.overview))
	for _, d := range dimPages {
		mux.HandleFunc("GET /"+d.path, s.page(s.dimList(d)))
		mux.HandleFunc("GET /"+d.path+"/{key}", s.page(s.dimDetail(d)))
	}
	mux.HandleFunc("GET /queries", s.page(s.queryList))
	mux.HandleFunc("GET /queries/{id}", s.page(s.queryByID))
	mux.HandleFunc("GET /queries/{region}/{id}", s.page(s.queryDetail))
	mux.HandleFunc("GET /shapes", s.page(s.shapeList))
	mux.HandleFunc("GET /shapes/{fingerprint}", s.page(s.shapeDetail))
	mux.HandleFunc("GET /budgets", s.page(s.budgetsPage))
	mux.HandleFunc("GET /reconcile", s.page(s.reconcilePage))
	mux.HandleFunc("GET /", s.page(func(ctx context.Context, r *http.Request, b base) (string, any, error) {
		return "", nil, notFound("There is no page at %s.", r.URL.Path)
	}))
}

// pageFunc computes a page: the template to render and its data, or an
// error (a *statusError for what the request got wrong).
type pageFunc func(ctx context.Context, r *http.Request, b base) (name string, data any, err error)

// page wraps a pageFunc: it reads the selection, renders into a buffer (a
// failing page never sends half its HTML) and answers errors with a page.
func (s *Server) page(fn pageFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		b := base{F: readFilter(r.URL.Query()), Nav: nav, Active: activeNav(r.URL.Path), Health: s.healthText()}
		if f, err := b.F.parse(s.opts.Now()); err == nil {
			b.Window = windowText(f)
		}
		name, data, err := fn(r.Context(), r, b)
		if redirect, ok := err.(redirectTo); ok {
			http.Redirect(w, r, string(redirect), http.StatusFound)
			return
		}
		status := http.StatusOK
		if err != nil {
			status = http.StatusInternalServerError
			msg := "The page could not be computed; the server's log says why."
			var se *statusError
			var fe *usage.FilterError
			switch {
			case errors.As(err, &fe):
				status, msg = http.StatusBadRequest, filterMessage(fe)
			case errors.As(err, &se):
				status, msg = se.status, se.msg
			case errors.Is(err, store.ErrBadCursor):
				status, msg = http.StatusBadRequest, "This page link is stale or damaged (bad cursor): start again from the first page."
			case errors.Is(err, context.Canceled):
				return
			default:
				// Request paths and errors only: never query text or tokens.
				s.opts.Logger.Error("render page", slog.String("path", r.URL.Path), slog.Any("err", err))
			}
			b.Title = http.StatusText(status)
			b.FilterError = msg
			name, data = "error", b
		}
		var buf bytes.Buffer
		if err := parsedPages[name].ExecuteTemplate(&buf, "layout", data); err != nil {
			s.opts.Logger.Error("render page", slog.String("path", r.URL.Path), slog.Any("err", err))
			http.Error(w, "the page could not be rendered", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(status)
		w.Write(buf.Bytes())
	}
}

// redirectTo is a pageFunc's answer that the page lives elsewhere.
type redirectTo string

func (r redirectTo) Error() string { return "redirect to " + string(r) }

// filterMessage says what is wrong with a selection in the words of the
// page: the URL parameter, not the command line's flag.
func filterMessage(fe *usage.FilterError) string {
	if fe.Param == "filter" {
		return "The filter " + quote(fe.Value) + " is not valid: " + fe.Reason + "."
	}
	return "The " + fe.Param + " value " + quote(fe.Value) + " is not valid: " + fe.Reason + "."
}

func quote(s string) string { return "“" + s + "”" }

func activeNav(path string) string {
	for _, n := range nav[1:] {
		if path == n.Path || strings.HasPrefix(path, n.Path+"/") {
			return n.Path
		}
	}
	return "/"
}

func (s *Server) healthText() string {
	if s.opts.Health == nil {
		return ""
	}
	at, err := s.opts.Health.Last()
	switch {
	case at.IsZero():
		return "no collect has finished yet"
	case err != nil:
		return "last collect failed at " + at.UTC().Format("2006-01-02 15:04Z")
	}
	return "last collect " + at.UTC().Format("2006-01-02 15:04Z")
}

// filter parses the page's selection.
func (s *Server) filter(b base) (store.Filter, error) {
	f, err := b.F.parse(s.opts.Now())
	return s.rules.AliasUsers(f), err
}

// report is a report over the store, priced and derived as the CLI's.
func (s *Server) report(ctx context.Context, by string, f store.Filter) (*usage.Report, error) {
	return s.reportTop(ctx, by, f, 0)
}

// reportTop is a report of its first top rows (0: the report's default).
func (s *Server) reportTop(ctx context.Context, by string, f store.Filter, top int) (*usage.Report, error) {
	return usage.BuildReport(ctx, s.opts.Store, s.rules, s.prices, usage.ReportOptions{By: by, Filter: f, Top: top})
}

// breakdown is a two-dimensional report.
func (s *Server) breakdown(ctx context.Context, by, then string, f store.Filter) ([]usage.Cell, error) {
	return usage.BuildBreakdown(ctx, s.opts.Store, s.rules, s.prices, usage.ReportOptions{By: by, Filter: f}, then)
}

// anyQuery reports whether the store holds a query matching f at all.
func (s *Server) anyQuery(ctx context.Context, f store.Filter) (bool, error) {
	page, err := s.opts.Store.ListQueries(ctx, store.ListOptions{Filter: f, Limit: 1})
	return len(page.Queries) > 0, err
}

// firstDay is the day of the earliest row of a day report, for windows
// without a start.
func firstDay(rows []usage.Row) time.Time {
	for _, r := range rows {
		if t, err := time.Parse("2006-01-02", r.Key); err == nil {
			return t
		}
	}
	return time.Time{}
}

// count writes a count of any integer type with thousands separators.
func count(v any) string {
	switch n := v.(type) {
	case int:
		return thousands(int64(n))
	case int64:
		return thousands(n)
	}
	return fmt.Sprint(v)
}

// windowText describes a selection's time span, in UTC.
func windowText(f store.Filter) string {
	const layout = "Jan 2, 2006 15:04"
	from, to := "the first query", "now"
	if !f.Since.IsZero() {
		from = f.Since.UTC().Format(layout)
	}
	if !f.Until.IsZero() {
		to = f.Until.UTC().Format(layout)
	}
	return from + " → " + to + " UTC"
}

// parallel runs the parts of a page at once and returns the first error.
// Each part reads the store on a connection of its own, so a page takes
// about as long as its slowest part rather than the sum of them. Parts
// write to fields of their own.
func parallel(ctx context.Context, parts ...func(context.Context) error) error {
	g, ctx := errgroup.WithContext(ctx)
	for _, part := range parts {
		g.Go(func() error { return part(ctx) })
	}
	return g.Wait()
}
