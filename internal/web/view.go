package web

import (
	"fmt"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/athenawatch/athenawatch/internal/store"
	"github.com/athenawatch/athenawatch/internal/usage"
)

// barKeys are the dimensions the filter bar of every page offers, in order.
var barKeys = []string{"account", "region", "workgroup", "team", "user", "database"}

// sincePresets are the time windows the filter bar offers in one click.
var sincePresets = []string{"24h", "7d", "30d", "90d"}

// filterState is a page's selection as the URL holds it: since, until and
// filter values per key, the very strings a person typed. It rebuilds the
// query string of every link, so links keep the selection.
type filterState struct {
	Since, Until string
	// Values are the filter values per key of usage.FilterKeys.
	Values map[string][]string
}

// readFilter reads the selection from the URL's query parameters. A key
// given twice matches either value (as --filter given twice does); empty
// values (an empty field of the filter bar) select nothing.
func readFilter(q url.Values) filterState {
	fs := filterState{Since: usage.DefaultSince, Values: map[string][]string{}}
	if q.Has("since") {
		fs.Since = strings.TrimSpace(q.Get("since"))
	}
	fs.Until = strings.TrimSpace(q.Get("until"))
	for _, k := range usage.FilterKeys {
		for _, v := range q[k] {
			if v = strings.TrimSpace(v); v != "" {
				fs.Values[k] = append(fs.Values[k], v)
			}
		}
	}
	return fs
}

// parse turns the selection into a store filter with the command line's
// parser, so a window or a glob means the same on a page as in a report.
func (fs filterState) parse(now time.Time) (store.Filter, error) {
	var kvs []string
	for _, k := range usage.FilterKeys {
		for _, v := range fs.Values[k] {
			kvs = append(kvs, k+"="+v)
		}
	}
	return usage.ParseFilter(fs.Since, fs.Until, kvs, now)
}

// query is the selection as a URL query string, without the default window.
func (fs filterState) query() url.Values {
	q := url.Values{}
	if fs.Since != usage.DefaultSince {
		q.Set("since", fs.Since)
	}
	if fs.Until != "" {
		q.Set("until", fs.Until)
	}
	for _, k := range usage.FilterKeys {
		for _, v := range fs.Values[k] {
			q.Add(k, v)
		}
	}
	return q
}

// Link is path with the selection as its query string. An empty path is
// the current page.
func (fs filterState) Link(path string) string {
	if q := fs.query().Encode(); q != "" || path == "" {
		return path + "?" + q
	}
	return path
}

// Cleared is the selection's window without its filters.
func (fs filterState) Cleared() filterState {
	return filterState{Since: fs.Since, Until: fs.Until}
}

// LinkWith is path with the selection and extra parameters (name, value
// pairs: sort orders, pages).
func (fs filterState) LinkWith(path string, kv ...string) string {
	q := fs.query()
	for i := 0; i+1 < len(kv); i += 2 {
		q.Set(kv[i], kv[i+1])
	}
	if s := q.Encode(); s != "" {
		return path + "?" + s
	}
	return path
}

// To is the page of one user, team, database, workgroup or shape, keeping
// the selection.
func (fs filterState) To(kind, key string) string {
	return fs.Link("/" + kind + "/" + url.PathEscape(key))
}

// With is the selection narrowed to the exact value of key: filter values
// are globs, so a name holding * ? or [ is written as a glob that matches
// only itself.
func (fs filterState) With(key, value string) filterState {
	out := filterState{Since: fs.Since, Until: fs.Until, Values: map[string][]string{}}
	for k, v := range fs.Values {
		out.Values[k] = v
	}
	out.Values[key] = []string{literal(value)}
	return out
}

// WithSince is the selection with another window.
func (fs filterState) WithSince(since string) filterState {
	out := fs
	out.Since, out.Until = since, ""
	return out
}

// First is the first value of key (what the filter bar's field shows).
func (fs filterState) First(key string) string {
	if v := fs.Values[key]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// Hidden are the selected keys the filter bar has no field for, as
// name/value pairs, kept through a form submission.
func (fs filterState) Hidden() [][2]string {
	var out [][2]string
	for _, k := range usage.FilterKeys {
		vals := fs.Values[k]
		if slices.Contains(barKeys, k) && len(vals) > 0 {
			vals = vals[1:] // the field holds the first
		}
		for _, v := range vals {
			out = append(out, [2]string{k, v})
		}
	}
	return out
}

// Active says whether anything narrows the selection beyond its window.
func (fs filterState) Active() bool { return len(fs.Values) > 0 }

// Presets are the one-click windows, for the filter bar.
func (fs filterState) Presets() []string { return sincePresets }

// literal is a glob that matches exactly s.
func literal(s string) string {
	if !strings.ContainsAny(s, "*?[") {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '*', '?', '[':
			b.WriteString("[" + string(r) + "]")
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// exact narrows f to the exact value of key.
func exact(f store.Filter, key, value string) store.Filter {
	out := store.Filter{Since: f.Since, Until: f.Until, Match: map[string][]string{}}
	for k, v := range f.Match {
		out.Match[k] = v
	}
	out.Match[key] = []string{literal(value)}
	return out
}

// window is the span a filter covers: since (or first, when unbounded)
// to until (or now).
func window(f store.Filter, now time.Time, first time.Time) (time.Time, time.Time) {
	from, to := f.Since, f.Until
	if from.IsZero() {
		from = first
	}
	if to.IsZero() || to.After(now) {
		to = now
	}
	return from, to
}

// days lists the UTC days from..to, inclusive, at most max (the latest).
func days(from, to time.Time, max int) []string {
	if from.IsZero() || to.Before(from) {
		return nil
	}
	start := from.UTC().Truncate(24 * time.Hour)
	end := to.UTC().Truncate(24 * time.Hour)
	if to.Equal(end) && end.After(start) {
		end = end.Add(-24 * time.Hour) // until is exclusive
	}
	n := int(end.Sub(start)/(24*time.Hour)) + 1
	if n > max {
		start = end.Add(-time.Duration(max-1) * 24 * time.Hour)
	}
	var out []string
	for d := start; !d.After(end); d = d.Add(24 * time.Hour) {
		out = append(out, d.Format("2006-01-02"))
	}
	return out
}

// Formatting for people. Figures align in tables through tabular digits
// (CSS), so these produce no padding.

func usd(v float64) string {
	switch {
	case math.IsNaN(v) || math.IsInf(v, 0):
		return "—"
	case v == 0:
		return "$0.00"
	case math.Abs(v) < 0.01:
		return fmt.Sprintf("$%.4f", v)
	case math.Abs(v) < 1000:
		return fmt.Sprintf("$%.2f", v)
	}
	return "$" + thousands(int64(math.Round(v)))
}

// axisUSD labels a money axis whose gridlines are step apart: as many
// decimals as the step needs, so no two labels read the same.
func axisUSD(v, step float64) string {
	d := 0
	for d < 6 {
		scaled := step * math.Pow(10, float64(d))
		if math.Abs(scaled-math.Round(scaled)) < 1e-9 {
			break
		}
		d++
	}
	if d == 0 {
		return "$" + thousands(int64(math.Round(v)))
	}
	return fmt.Sprintf("$%.*f", max(d, 2), v)
}

// thousands writes n with comma separators.
func thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

func mb(v float64) string {
	if v >= 1000 {
		return thousands(int64(math.Round(v)))
	}
	return strconv.FormatFloat(v, 'f', 1, 64)
}

// cost is a row's cost as a person should read it: "pending" when no query
// of the row has a known cost yet, a lower bound marked + when some lack
// one, never a silent $0.
func cost(r usage.Row) string {
	q, unknown := r.Value("queries").Int(), r.CostUnknown()
	switch {
	case q > 0 && unknown >= q:
		return "pending"
	case unknown > 0:
		return usd(r.Value("cost_usd").Float()) + "+"
	}
	return usd(r.Value("cost_usd").Float())
}

// queryCost is one query's cost, or why it has none.
func queryCost(q store.Query) string {
	switch q.StatsStatus {
	case store.StatusPending:
		return "pending"
	case store.StatusNoStats:
		return "unknown"
	}
	if q.Provisioned && !(q.Stats.DPUCount > 0) {
		return "unknown"
	}
	return usd(q.CostUSD)
}

// delta is the change from prev to cur as a person reads it.
func delta(cur, prev float64) string {
	if prev == 0 {
		if cur == 0 {
			return "no change"
		}
		return "new"
	}
	p := (cur - prev) / prev * 100
	if math.Abs(p) < 0.5 {
		return "no change"
	}
	return fmt.Sprintf("%+.0f%%", p)
}

// shorten cuts a text to n runes, on one line, for tables.
func shorten(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

// display names an empty key.
func display(k string) string {
	if k == "" {
		return "(none)"
	}
	return k
}

func timeText(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format("2006-01-02 15:04:05Z")
}

// statusError is an error with the HTTP status to answer it with.
type statusError struct {
	status int
	msg    string
}

func (e *statusError) Error() string { return e.msg }

func badRequest(format string, a ...any) error {
	return &statusError{http.StatusBadRequest, fmt.Sprintf(format, a...)}
}

func notFound(format string, a ...any) error {
	return &statusError{http.StatusNotFound, fmt.Sprintf(format, a...)}
}
