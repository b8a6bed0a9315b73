package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/athenawatch/athenawatch/internal/store"
	"github.com/athenawatch/athenawatch/internal/usage"
)

// apiRoutes registers the JSON API under /api/v1/.
func (s *Server) apiRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /api/v1/report", s.apiReport)
	mux.HandleFunc("GET /api/v1/shapes", s.apiShapes)
	mux.HandleFunc("GET /api/v1/queries", s.apiQueries)
	mux.HandleFunc("GET /api/v1/queries/{id}", s.apiQueryByID)
	mux.HandleFunc("GET /api/v1/queries/{region}/{id}", s.apiQuery)
	mux.HandleFunc("GET /api/v1/budgets", s.apiBudgets)
	mux.HandleFunc("GET /api/v1/reconcile", s.apiReconcile)
	// GET only: other methods of an API path get the mux's 405.
	mux.HandleFunc("GET /api/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "no such API endpoint: "+r.Method+" "+r.URL.Path)
	})
}

// apiError is the body of every API error.
type apiError struct {
	Error string `json:"error"`
}

// writeJSON writes v as the response body. It encodes before writing, so
// that a value that cannot be encoded is a 500, not half a body.
func writeJSON(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		status = http.StatusInternalServerError
		buf.Reset()
		json.NewEncoder(&buf).Encode(apiError{"encode response: " + err.Error()})
	}
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, apiError{msg})
}

// paramError is a 400 that names the query parameter in error, as the
// command line's errors name the flag.
func paramError(w http.ResponseWriter, err error) {
	var fe *usage.FilterError
	if errors.As(err, &fe) {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("parameter %s=%q: %s", fe.Param, fe.Value, fe.Reason))
		return
	}
	writeError(w, http.StatusBadRequest, err.Error())
}

// internalError logs what failed (never query text: store errors name
// queries by id at most) and answers 500 without the details.
func (s *Server) internalError(w http.ResponseWriter, r *http.Request, err error) {
	s.opts.Logger.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	writeError(w, http.StatusInternalServerError, "internal error (see the server log)")
}

// reportContentTypes are the content types of report formats.
var reportContentTypes = map[string]string{
	"json":     "application/json; charset=utf-8",
	"csv":      "text/csv; charset=utf-8",
	"table":    "text/plain; charset=utf-8",
	"markdown": "text/markdown; charset=utf-8",
}

// apiReport answers GET /api/v1/report with exactly what
// `report --format json` prints for the same parameters (format defaults
// to json here; csv, table and markdown are also served).
func (s *Server) apiReport(w http.ResponseWriter, r *http.Request) {
	params := r.URL.Query()
	if _, ok := params["format"]; !ok {
		params.Set("format", "json")
	}
	req, err := usage.ParseReportRequest(params, s.opts.Now())
	if err != nil {
		paramError(w, err)
		return
	}
	s.writeReport(w, r, req)
}

// apiShapes answers GET /api/v1/shapes: the report by query shape
// (fingerprint), with the report's parameters but by.
func (s *Server) apiShapes(w http.ResponseWriter, r *http.Request) {
	params := r.URL.Query()
	if _, ok := params["by"]; ok {
		paramError(w, &usage.FilterError{Param: "by", Value: params.Get("by"), Reason: "shapes are always by fingerprint"})
		return
	}
	if _, ok := params["format"]; !ok {
		params.Set("format", "json")
	}
	req, err := usage.ParseReportRequest(params, s.opts.Now())
	if err != nil {
		paramError(w, err)
		return
	}
	req.By = "fingerprint"
	s.writeReport(w, r, req)
}

func (s *Server) writeReport(w http.ResponseWriter, r *http.Request, req usage.ReportRequest) {
	rep, err := usage.BuildReport(r.Context(), s.opts.Store, s.rules, s.prices, req.Options())
	if err != nil {
		s.internalError(w, r, fmt.Errorf("report by %s: %w", req.By, err))
		return
	}
	var buf bytes.Buffer
	if err := rep.Write(&buf, req.Format); err != nil {
		s.internalError(w, r, fmt.Errorf("write report by %s: %w", req.By, err))
		return
	}
	h := w.Header()
	h.Set("Content-Type", reportContentTypes[req.Format])
	h.Set("Cache-Control", "no-store")
	w.Write(buf.Bytes())
}

// listParams are the parameters of /api/v1/queries besides since, until
// and filter.
var listParams = []string{"sort", "limit", "cursor"}

// apiQueries answers GET /api/v1/queries: a page of queries matching since,
// until and filter (as /api/v1/report reads them), in sort order, with the
// cursor of the next page.
func (s *Server) apiQueries(w http.ResponseWriter, r *http.Request) {
	params := r.URL.Query()
	opts, err := s.parseList(params)
	if err != nil {
		paramError(w, err)
		return
	}
	page, err := s.opts.Store.ListQueries(r.Context(), opts)
	if errors.Is(err, store.ErrBadCursor) {
		paramError(w, &usage.FilterError{Param: "cursor", Value: opts.Cursor, Reason: "not a cursor of this listing and sort"})
		return
	}
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	out := queryList{Queries: make([]apiQuery, 0, len(page.Queries)), Next: page.Next}
	for i := range page.Queries {
		out.Queries = append(out.Queries, newAPIQuery(&page.Queries[i]))
	}
	writeJSON(w, http.StatusOK, out)
}

// parseList reads the listing's parameters; since, until and filter are
// parsed as a report's are, so that a listing and a report of the same
// parameters cover the same queries.
func (s *Server) parseList(params url.Values) (store.ListOptions, error) {
	var o store.ListOptions
	filterParams := url.Values{}
	for name, vals := range params {
		switch {
		case name == "since" || name == "until" || name == "filter":
			filterParams[name] = vals
		case len(vals) > 1:
			return o, &usage.FilterError{Param: name, Value: strings.Join(vals, ","), Reason: "given more than once"}
		case name == "sort":
			o.Sort = vals[0]
			if _, ok := store.Sorts[o.Sort]; !ok {
				return o, &usage.FilterError{Param: "sort", Value: o.Sort, Reason: "one of cost, time, bytes, engine"}
			}
		case name == "limit":
			n, err := strconv.Atoi(vals[0])
			if err != nil || n < 1 || n > store.MaxListLimit {
				return o, &usage.FilterError{Param: "limit", Value: vals[0], Reason: fmt.Sprintf("a whole number from 1 to %d", store.MaxListLimit)}
			}
			o.Limit = n
		case name == "cursor":
			o.Cursor = vals[0]
		default:
			return o, &usage.FilterError{Param: name, Value: strings.Join(vals, ","),
				Reason: "unknown parameter (one of since, until, filter, " + strings.Join(listParams, ", ") + ")"}
		}
	}
	req, err := usage.ParseReportRequest(filterParams, s.opts.Now())
	if err != nil {
		return o, err
	}
	o.Filter = s.rules.AliasUsers(req.Filter)
	return o, nil
}

// apiQuery answers GET /api/v1/queries/{region}/{id}.
func (s *Server) apiQuery(w http.ResponseWriter, r *http.Request) {
	region, id := r.PathValue("region"), r.PathValue("id")
	q, ok, err := s.opts.Store.GetQuery(r.Context(), region, id)
	switch {
	case err != nil:
		s.internalError(w, r, err)
	case !ok:
		writeError(w, http.StatusNotFound, fmt.Sprintf("no query %q in region %q", id, region))
	default:
		writeJSON(w, http.StatusOK, newAPIQuery(&q))
	}
}

// apiQueryByID answers GET /api/v1/queries/{id}: the query with that id in
// whichever region it ran. Ids are UUIDs, so one region holds it; should
// several, the answer is 300 with all of them.
func (s *Server) apiQueryByID(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	qs, err := s.opts.Store.QueriesByID(r.Context(), id)
	switch {
	case err != nil:
		s.internalError(w, r, err)
	case len(qs) == 0:
		writeError(w, http.StatusNotFound, fmt.Sprintf("no query %q", id))
	case len(qs) == 1:
		writeJSON(w, http.StatusOK, newAPIQuery(&qs[0]))
	default:
		out := queryList{Queries: make([]apiQuery, 0, len(qs))}
		for i := range qs {
			out.Queries = append(out.Queries, newAPIQuery(&qs[i]))
		}
		writeJSON(w, http.StatusMultipleChoices, out)
	}
}

// queryList is a page of queries.
type queryList struct {
	Queries []apiQuery `json:"queries"`
	// Next is the cursor of the following page, empty on the last.
	Next string `json:"next"`
}

// apiQuery is one query as the API shows it. Statistics Athena has not
// given (stats_status "pending", or "no_stats" for queries it forgot) are
// null, never 0: a pending query's cost is unknown, not free.
type apiQuery struct {
	Region        string   `json:"region"`
	QueryID       string   `json:"query_id"`
	EventTime     string   `json:"event_time"`
	User          string   `json:"user"`
	Role          string   `json:"role"`
	Account       string   `json:"account"`
	Team          string   `json:"team"`
	Database      string   `json:"database"`
	Workgroup     string   `json:"workgroup"`
	PrincipalARN  string   `json:"principal_arn"`
	StatsStatus   string   `json:"stats_status"`
	State         string   `json:"state"`
	StatementType string   `json:"statement_type"`
	Fingerprint   string   `json:"fingerprint"`
	BytesScanned  *int64   `json:"bytes_scanned"`
	BilledBytes   *int64   `json:"billed_bytes"`
	CostUSD       *float64 `json:"cost_usd"`
	EngineMs      *int64   `json:"engine_ms"`
	DPUHours      *float64 `json:"dpu_hours"`
	QueueMs       *int64   `json:"queue_ms"`
	PlanningMs    *int64   `json:"planning_ms"`
	TotalMs       *int64   `json:"total_ms"`
	SubmittedAt   string   `json:"submitted_at,omitempty"`
	CompletedAt   string   `json:"completed_at,omitempty"`
	ReusedResult  bool     `json:"reused_result"`
	ErrorMessage  string   `json:"error_message,omitempty"`
	QueryText     string   `json:"query_text"`
}

func newAPIQuery(q *store.Query) apiQuery {
	a := apiQuery{
		Region: q.Region, QueryID: q.QueryID, EventTime: jsonTime(q.EventTime),
		User: q.User, Role: q.Role, Account: q.Account, Team: q.Team, Database: q.Database, Workgroup: q.Workgroup,
		PrincipalARN: q.Identity.ARN, StatsStatus: q.StatsStatus, State: q.Stats.State, StatementType: q.Stats.StatementType,
		Fingerprint: q.Fingerprint, QueryText: q.QueryText(),
	}
	// A query still running has statistics so far; only final ones are
	// what Athena bills.
	if q.StatsStatus != store.StatusFinal {
		return a
	}
	st := &q.Stats
	dpuHours := st.DPUCount * float64(st.EngineMs) / 3_600_000
	a.BytesScanned, a.BilledBytes, a.CostUSD = &st.DataScannedBytes, &q.BilledBytes, &q.CostUSD
	a.EngineMs, a.DPUHours, a.QueueMs, a.PlanningMs, a.TotalMs = &st.EngineMs, &dpuHours, &st.QueueMs, &st.PlanningMs, &st.TotalMs
	a.SubmittedAt, a.CompletedAt = jsonTime(st.SubmittedAt), jsonTime(st.CompletedAt)
	a.ReusedResult, a.ErrorMessage = st.ReusedResult, st.ErrorMessage
	return a
}

// jsonTime is t in RFC 3339 UTC with milliseconds; empty when unknown.
func jsonTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02T15:04:05.000Z07:00")
}
