package usage

import (
	"context"
	"fmt"

	"github.com/athenawatch/athenawatch/internal/store"
)

// shapeTotalSource is the part of the store that ranks shapes without
// summing every one of them: each shape's totals over the whole history, in
// descending order of billed bytes and of DPU time.
type shapeTotalSource interface {
	HasShapeTotals() bool
	ShapeTotals(ctx context.Context, by string, after *store.ShapeTotal, limit int) ([]store.ShapeTotal, error)
	HasStale(ctx context.Context, fingerprint string) (bool, error)
}

// coarseFilters are the filters under which the search for the top shapes
// runs.
var coarseFilters = map[string]bool{"team": true, "database": true, "workgroup": true, "account": true, "role": true, "region": true}

// Bounds of the search for a window's most expensive shapes.
const (
	// boundPage is how many shapes of each order one round sums at most:
	// the first round sums twice the top asked for and a few more, each round
	// twice as many as the one before.
	boundPage = 100
	// maxBoundShapes is how many shapes the search sums before it gives up
	// and sums them all: a window whose top shapes are not among the
	// history's biggest (a quiet day long ago), or which holds fewer shapes
	// with a cost than the top asked for.
	maxBoundShapes = 3000
)

// topShapesByBound computes the report by fingerprint of a window, filtered
// or not (coarseFilters), without summing every shape of it. A shape's cost
// in any window, under any filter, is at most its totals over the whole
// history priced at the window's highest prices. The search sums the window's rows of the shapes in descending
// order of their total billed bytes and, in turn, of their total DPU time,
// and stops when the top shapes found so far each cost more than that bound
// of any shape not summed yet: the next shape of each order bounds all that
// follow it. The rows are those the full report would have, in the same
// order; the report does not know how many shapes the window holds (Keys is
// -1). ok is false when the search does not apply or gave up: the caller
// sums every shape.
func topShapesByBound(ctx context.Context, src Source, rules *Rules, prices Prices, opts ReportOptions, top int) (rep *Report, ok bool, err error) {
	ts, isTS := src.(shapeTotalSource)
	if !isTS || !ts.HasShapeTotals() || top <= 0 {
		return nil, false, nil
	}
	for k := range opts.Filter.Match {
		// A filter only takes rows away, so the bounds hold under any;
		// the search pays off where the filter keeps a large share of
		// the shapes' cost: a team, database, workgroup, account, role or
		// region, not one user (few shapes, summed quickly) nor shapes.
		if !coarseFilters[k] {
			return nil, false, nil
		}
	}
	if rules != nil {
		// Rows derived under other rules may bill otherwise than the
		// totals say.
		stale, err := ts.HasStale(ctx, rules.Fingerprint())
		if err != nil || stale {
			return nil, false, err
		}
	}
	sums := reportSums()
	a := store.Aggregation{By: "region", Filter: opts.Filter, Sums: sums}
	if rules != nil {
		a.Rules = rules
	}
	res, err := src.Aggregate(ctx, a)
	if err != nil {
		return nil, false, err
	}
	if res.Rederived > 0 {
		return nil, false, nil
	}
	rep = &Report{By: "fingerprint", Rejected: res.Rejected, total: newTally(), prices: prices, keys: -1}
	maxPrice := 0.0
	for _, g := range res.Groups {
		rep.total.add(g, sums)
		maxPrice = max(maxPrice, prices.USDPerTiB(g.Region))
	}
	rep.Total = newRow("fingerprint", "TOTAL", rep.total, prices)
	if rep.total.sum(store.SumQueries) == 0 {
		rep.keys = 0
		return rep, true, nil
	}
	bound := func(billed, dpuMs int64) float64 {
		return float64(max(billed, 0))*maxPrice/TiB + float64(max(dpuMs, 0))/msPerHour*prices.USDPerDPUHour
	}

	cost := metricIndex["cost_usd"]
	var found []Row
	seen := map[string]bool{}
	var afterBilled, afterDPU *store.ShapeTotal
	billedDone, dpuDone := false, prices.USDPerDPUHour <= 0
	page := min(boundPage, 2*top+8)
	for ; ; page = min(boundPage, 2*page) {
		var shapes []string
		next := func(by string, after **store.ShapeTotal, done *bool) error {
			totals, err := ts.ShapeTotals(ctx, by, *after, page)
			if err != nil {
				return err
			}
			if len(totals) < page {
				*done = true
			}
			if len(totals) > 0 {
				*after = &totals[len(totals)-1]
			}
			for _, t := range totals {
				if !seen[t.Fingerprint] {
					seen[t.Fingerprint] = true
					shapes = append(shapes, t.Fingerprint)
				}
			}
			return nil
		}
		if !billedDone {
			if err := next("billed", &afterBilled, &billedDone); err != nil {
				return nil, false, err
			}
		}
		if !dpuDone {
			if err := next("dpu", &afterDPU, &dpuDone); err != nil {
				return nil, false, err
			}
		}
		if len(shapes) > 0 {
			rows, err := shapeReportRows(ctx, src, rules, prices, opts, shapes)
			if err != nil {
				return nil, false, err
			}
			found = append(found, rows...)
			sortRows(found, "fingerprint")
			if len(found) > top {
				found = found[:top]
			}
		}
		if billedDone {
			break // every shape is summed: the billed order holds them all
		}
		if len(seen) > maxBoundShapes {
			return nil, false, nil
		}
		// A shape not summed yet has billed no more than the last one
		// of the billed order, and DPU time no more than the last one of
		// the DPU order (none once that order is done).
		var lastBilled, lastDPU int64
		if afterBilled != nil {
			lastBilled = afterBilled.BilledBytes
		}
		if !dpuDone && afterDPU != nil {
			lastDPU = afterDPU.DPUMillis
		}
		// Strictly above, with room for rounding: an unsummed shape of
		// equal cost could come first by key.
		if len(found) == top && found[top-1].Values[cost].Float() > bound(lastBilled, lastDPU)*(1+1e-9) {
			break
		}
	}
	rep.Rows = found
	return rep, true, nil
}

// shapeReportRows are the report rows of the window's queries of shapes,
// one per shape with queries in it.
func shapeReportRows(ctx context.Context, src Source, rules *Rules, prices Prices, opts ReportOptions, shapes []string) ([]Row, error) {
	sums := reportSums()
	f := opts.Filter
	f.Match = map[string][]string{"fingerprint": shapes}
	for k, v := range opts.Filter.Match {
		f.Match[k] = v
	}
	a := store.Aggregation{By: "fingerprint", Filter: f, Sums: sums}
	if rules != nil {
		a.Rules = rules
	}
	res, err := src.Aggregate(ctx, a)
	if err != nil {
		return nil, fmt.Errorf("report by fingerprint: %w", err)
	}
	return groupRows("fingerprint", res.Groups, sums, prices, nil), nil
}
