package usage

import (
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/athenawatch/athenawatch/internal/store"
)

// ReportParams are the parameters of a report, as `report` takes them as
// flags and /api/v1/report as URL query parameters, with the same names.
// "filter" may be given more than once; every other parameter at most once.
var ReportParams = []string{"by", "since", "until", "top", "format", "filter"}

// Report parameter defaults, for a parameter that is not given at all. A
// parameter given empty means no bound for since and until.
const (
	DefaultBy     = "user"
	DefaultFormat = "table"
	// MaxTop bounds top: more rows than any report has.
	MaxTop = 1_000_000
)

// ReportRequest is a parsed report request: what to group by, which
// queries, how many rows, in what format.
type ReportRequest struct {
	By     string       // one of ReportDimensions
	Filter store.Filter // from since, until and filter
	Top    int          // 0 = all rows
	Format string       // one of Formats
	// Now is the clock the request was read at: it ends a window without
	// an until (annualized costs), as it anchored relative times.
	Now time.Time
}

// Options are the request's ReportOptions for BuildReport.
func (r ReportRequest) Options() ReportOptions {
	return ReportOptions{By: r.By, Filter: r.Filter, Top: r.Top, Now: r.Now}
}

// ParseReportRequest reads a report request from its parameters: the flags
// of `report` and the query parameters of /api/v1/report both come here, so
// that one request means the same report on the command line and over HTTP.
// A parameter absent from params takes its default (by user, since 30d,
// until now, all rows, table format); since and until given empty are
// unbounded. now anchors relative times such as 30d. Every error is a
// *FilterError naming the parameter.
func ParseReportRequest(params url.Values, now time.Time) (ReportRequest, error) {
	for name, vals := range params {
		if !slices.Contains(ReportParams, name) {
			return ReportRequest{}, &FilterError{name, strings.Join(vals, ","), "unknown parameter (one of " + strings.Join(ReportParams, ", ") + ")"}
		}
		if name != "filter" && len(vals) > 1 {
			return ReportRequest{}, &FilterError{name, strings.Join(vals, ","), "given more than once"}
		}
	}
	get := func(name, def string) string {
		if vals, ok := params[name]; ok && len(vals) > 0 {
			return vals[0]
		}
		return def
	}
	req := ReportRequest{By: get("by", DefaultBy), Format: get("format", DefaultFormat), Now: now}
	if !slices.Contains(ReportDimensions, req.By) {
		return req, &FilterError{"by", req.By, "one of " + strings.Join(ReportDimensions, ", ")}
	}
	if !slices.Contains(Formats, req.Format) {
		return req, &FilterError{"format", req.Format, "one of " + strings.Join(Formats, ", ")}
	}
	if top := get("top", ""); top != "" {
		n, err := strconv.Atoi(strings.TrimSpace(top))
		switch {
		case err != nil:
			return req, &FilterError{"top", top, "not a whole number"}
		case n < 0:
			return req, &FilterError{"top", top, "must not be negative"}
		case n > MaxTop:
			return req, &FilterError{"top", top, fmt.Sprintf("at most %d", MaxTop)}
		}
		req.Top = n
	}
	f, err := ParseFilter(get("since", DefaultSince), get("until", ""), params["filter"], now)
	if err != nil {
		return req, err
	}
	req.Filter = f
	return req, nil
}
