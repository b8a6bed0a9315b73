package usage

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/athenawatch/athenawatch/internal/store"
)

// ShapeSource is the part of the store a report by fingerprint reads
// besides sums.
type ShapeSource interface {
	ShapeDetails(ctx context.Context, sq store.ShapeQuery) (store.Shapes, error)
}

// QuerySource is the part of the store a report by query reads besides
// sums.
type QuerySource interface {
	ListQueries(ctx context.Context, o store.ListOptions) (store.QueryPage, error)
}

// year is what annualized costs scale a window's cost to.
const year = 365 * 24 * time.Hour

// addShapeDetails fills the details of shape rows: the cost per year at the
// window's pace, the distinct users, the latest query and the shape's
// normalized text (from its latest query).
func addShapeDetails(ctx context.Context, src Source, rules *Rules, opts ReportOptions, rows []Row) error {
	ss, ok := src.(ShapeSource)
	if !ok {
		return fmt.Errorf("report by fingerprint: the source has no shape details")
	}
	sq := store.ShapeQuery{Filter: opts.Filter}
	if rules != nil {
		sq.Rules = rules
	}
	for _, r := range rows {
		sq.Fingerprints = append(sq.Fingerprints, r.Key)
	}
	shapes, err := ss.ShapeDetails(ctx, sq)
	if err != nil {
		return fmt.Errorf("report by fingerprint: %w", err)
	}
	window := annualWindow(opts, shapes.First, shapes.Last)
	cost := metricIndex["cost_usd"]
	for i := range rows {
		r := &rows[i]
		var annualized any
		if window > 0 {
			annualized = r.Values[cost].Float() * float64(year) / float64(window)
		}
		r.Details = []any{annualized, nil, nil, nil, nil, nil}
		d, ok := shapes.Details[r.Key]
		if !ok {
			continue
		}
		q := &d.Latest
		r.Details = []any{annualized, d.Users, q.QueryID, q.Region, q.EventTime, NormalizeSQL(q.QueryText())}
	}
	return nil
}

// annualWindow is the length of time a report's cost was spent in: from
// --since to --until (default now); without --since, the span of the
// queries found. Zero when it cannot be told (one query, or none).
func annualWindow(opts ReportOptions, first, last time.Time) time.Duration {
	since, until := opts.Filter.Since, opts.Filter.Until
	if since.IsZero() {
		since, until = first, last
	} else if until.IsZero() {
		until = opts.Now
		if until.IsZero() {
			until = time.Now()
		}
	}
	if since.IsZero() || !until.After(since) {
		return 0
	}
	return until.Sub(since)
}

// buildQueryReport is the report by query: the most expensive queries of
// the filter, one row each (opts.Top of them, DefaultQueryTop when 0), and
// the total of every query of the filter.
func buildQueryReport(ctx context.Context, src Source, rules *Rules, prices Prices, opts ReportOptions) (*Report, error) {
	qs, ok := src.(QuerySource)
	if !ok {
		return nil, fmt.Errorf("report by query: the source cannot list queries")
	}
	top := opts.Top
	if top == 0 {
		top = DefaultQueryTop
	}
	// The total and the rejected submissions of the whole window, as any
	// other report has them.
	sums := reportSums()
	a := store.Aggregation{By: "day", Filter: opts.Filter, Sums: sums}
	if rules != nil {
		a.Rules = rules
	}
	res, err := src.Aggregate(ctx, a)
	if err != nil {
		return nil, err
	}
	rep := &Report{By: "query", Rejected: res.Rejected, Rederived: res.Rederived, total: newTally(), prices: prices}
	for _, g := range res.Groups {
		rep.total.add(g, sums)
	}
	rep.keys = int(rep.total.sum(store.SumQueries))

	var listed []store.Query
	cursor := ""
	for len(listed) < top {
		page, err := qs.ListQueries(ctx, store.ListOptions{Filter: opts.Filter, Sort: "cost", Cursor: cursor, Limit: min(top-len(listed), store.MaxListLimit)})
		if err != nil {
			return nil, fmt.Errorf("report by query: %w", err)
		}
		listed = append(listed, page.Queries...)
		if cursor = page.Next; cursor == "" {
			break
		}
	}
	for i := range listed {
		q := &listed[i]
		if rules != nil && q.RulesFingerprint != rules.Fingerprint() {
			rules.Query(q)
		}
		vals, err := store.QuerySums(q, sums)
		if err != nil {
			return nil, err
		}
		t := newTally()
		t.add(store.Group{Region: q.Region, Sums: vals}, sums)
		r := newRow("query", q.QueryID, t, prices)
		r.Details = []any{q.Region, q.User, q.Team, q.Database, q.Workgroup, q.Stats.State, q.EventTime, q.QueryText()}
		rep.Rows = append(rep.Rows, r)
	}
	// The listing ranks by the cost stored with each query; the rows show
	// the cost at today's prices, and are sorted by it.
	cost := metricIndex["cost_usd"]
	sort.SliceStable(rep.Rows, func(i, j int) bool {
		a, b := rep.Rows[i], rep.Rows[j]
		if ca, cb := a.Values[cost].Float(), b.Values[cost].Float(); ca != cb {
			return ca > cb
		}
		return a.Key < b.Key
	})
	rep.Total = newRow("query", "TOTAL", rep.total, prices)
	return rep, nil
}
