package usage

import (
	"context"

	"github.com/athenawatch/athenawatch/internal/store"
)

// Cell is one row of a two-dimensional report: the metrics of the queries
// sharing a key of the first dimension and one of the second (a user on a
// day, a team on a day), priced exactly as report rows are.
type Cell struct {
	Key, Key2 string
	Row
}

// BuildBreakdown computes the metrics of every (opts.By, then) pair in one
// store read: the daily series of every user at once, spend per day and
// team. Cells come in no particular order; opts.Top is ignored.
func BuildBreakdown(ctx context.Context, src Source, rules *Rules, prices Prices, opts ReportOptions, then string) ([]Cell, error) {
	if rules != nil {
		opts.Filter = rules.AliasUsers(opts.Filter)
	}
	sums := reportSums()
	a := store.Aggregation{By: opts.By, Then: then, Filter: opts.Filter, Sums: sums}
	if rules != nil {
		a.Rules = rules
	}
	res, err := src.Aggregate(ctx, a)
	if err != nil {
		return nil, err
	}
	type pair struct{ k, k2 string }
	byPair := map[pair]*tally{}
	var order []pair
	for _, g := range res.Groups {
		p := pair{g.Key, g.Key2}
		t := byPair[p]
		if t == nil {
			t = newTally()
			byPair[p] = t
			order = append(order, p)
		}
		t.add(g, sums)
	}
	cells := make([]Cell, 0, len(order))
	for _, p := range order {
		cells = append(cells, Cell{Key: p.k, Key2: p.k2, Row: newRow(opts.By, p.k, byPair[p], prices)})
	}
	return cells, nil
}

// CostUnknown counts the row's queries whose cost is not in its cost_usd
// (pending statistics, unknown to Athena, provisioned without a DPU count):
// a cost shown for such a row is a lower bound, never a silent $0.
func (r Row) CostUnknown() int64 { return r.costUnknown }
