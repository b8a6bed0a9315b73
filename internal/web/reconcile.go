package web

import (
	"context"
	"html/template"
	"math"
	"net/http"
	"time"

	"github.com/athenawatch/athenawatch/internal/reconcile"
	"github.com/athenawatch/athenawatch/internal/web/chart"
)

// maxGapRows bounds the cells with a gap the page lists; the day totals
// cover the rest.
const maxGapRows = 500

// gapRow is a cell with a gap, as the page shows it.
type gapRow struct {
	reconcile.Cell
	WorkgroupName string
	CauseText     string
	Badge         string // warn: explained; bad: a collection gap or unexplained
}

// gapDay is a day's totals with how many of its cells have a gap.
type gapDay struct {
	reconcile.Total
	Gaps int
}

type reconcileData struct {
	base
	Result   *reconcile.Result
	Chart    template.HTML
	Days     []gapDay
	Gaps     []gapRow
	More     int // gap rows beyond maxGapRows
	Matched  int
	Causes   []causeCount
	Ran      bool
	WindowTo time.Time // the window's last day
}

type causeCount struct {
	Text  string
	Cells int
	USD   float64
}

// reconcilePage shows the last reconciliation of the bill with the
// attributed cost: the gap per day, and each cell with a gap and its
// likely cause.
func (s *Server) reconcilePage(ctx context.Context, r *http.Request, b base) (string, any, error) {
	b.Title = "Bill reconciliation"
	res, err := reconcile.Load(ctx, s.opts.Store)
	if err != nil {
		return "", nil, err
	}
	d := reconcileData{base: b, Result: res, Ran: res != nil}
	if res == nil {
		return "reconcile", d, nil
	}
	d.WindowTo = res.Until.Add(-24 * time.Hour)
	gapsByDay := map[string]int{}
	byCause := map[reconcile.Cause]*causeCount{}
	for _, c := range res.Cells {
		if c.Cause == reconcile.Match {
			d.Matched++
			continue
		}
		gapsByDay[c.Day]++
		cc := byCause[c.Cause]
		if cc == nil {
			cc = &causeCount{Text: c.Cause.Text()}
			byCause[c.Cause] = cc
		}
		cc.Cells++
		cc.USD += c.GapUSD
		if len(d.Gaps) == maxGapRows {
			d.More++
			continue
		}
		badge := "warn"
		switch c.Cause {
		case reconcile.AccountNotCollected, reconcile.RegionNotCollected, reconcile.Unexplained:
			badge = "bad"
		}
		d.Gaps = append(d.Gaps, gapRow{Cell: c, WorkgroupName: reconcile.WorkgroupName(c.Workgroup), CauseText: c.Cause.Text(), Badge: badge})
	}
	for _, x := range reconcile.Causes {
		if cc := byCause[x.Cause]; cc != nil {
			d.Causes = append(d.Causes, *cc)
		}
	}
	labels := make([]string, len(res.Days))
	matched, gap := make([]float64, len(res.Days)), make([]float64, len(res.Days))
	for i, day := range res.Days {
		d.Days = append(d.Days, gapDay{Total: day, Gaps: gapsByDay[day.Day]})
		labels[i] = day.Day
		matched[i] = math.Min(day.BilledUSD, day.AttributedUSD)
		gap[i] = math.Max(day.GapUSD, 0)
	}
	if len(res.Days) > 0 {
		d.Chart = chart.Columns{Labels: labels, Series: []chart.Series{
			{Name: "billed and attributed", Values: matched},
			{Name: "billed, not attributed (gap)", Color: "#c0392b", Values: gap},
		}, Format: usd, Axis: axisUSD, Title: "Daily Athena bill: the part athenawatch attributes, and the gap"}.SVG()
	}
	return "reconcile", d, nil
}

// apiReconcile answers GET /api/v1/reconcile: the last reconciliation, as
// reconcile --format json prints it, or {"ran": false}.
func (s *Server) apiReconcile(w http.ResponseWriter, r *http.Request) {
	res, err := reconcile.Load(r.Context(), s.opts.Store)
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	if res == nil {
		writeJSON(w, http.StatusOK, map[string]any{"ran": false})
		return
	}
	writeJSON(w, http.StatusOK, res)
}
