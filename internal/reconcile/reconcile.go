// Package reconcile compares what AWS billed for Athena (a CUR 2.0
// export, read by package bill) with what athenawatch attributes to the
// queries it collected, cell by cell: usage account (the account a query
// ran in), region, workgroup, UTC day and kind of charge. Each cell with
// a gap gets its likely cause, so that a missing account, a backlog of
// queries without statistics or a bill not yet refreshed is told apart
// from a real discrepancy.
package reconcile

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/athenawatch/athenawatch/internal/bill"
	"github.com/athenawatch/athenawatch/internal/store"
)

// Cause is the likely reason for a cell's gap.
type Cause string

// The causes, in the order they are tried: the first that applies is the
// cell's.
const (
	// Match: no gap (under MatchTolerance).
	Match Cause = "match"
	// AccountNotCollected: athenawatch holds no query of the account for
	// the window and read none of its trail: its usage is billed but was
	// never collected.
	AccountNotCollected Cause = "account_not_collected"
	// RegionNotCollected: likewise for the account's region.
	RegionNotCollected Cause = "region_not_collected"
	// BillNotRefreshed: athenawatch attributes more than the bill on or
	// after the newest day the bill has Athena usage for; the export has
	// not caught up (its newest day is partial until the next refresh).
	BillNotRefreshed Cause = "bill_not_refreshed"
	// Pending: queries of the cell have no statistics yet, so their cost
	// is not attributed yet (enrich asks again).
	Pending Cause = "pending"
	// NoStats: queries of the cell were older than Athena's 45-day
	// history when first asked: they ran and were billed, but their cost
	// cannot be known.
	NoStats Cause = "no_stats"
	// Provisioned: provisioned capacity is billed by the reservation's
	// DPU-hours (per minute, one hour at least), not by the DPU-hours of
	// its queries that athenawatch attributes.
	Provisioned Cause = "provisioned_capacity"
	// OtherUsage: Athena usage athenawatch does not model (neither bytes
	// scanned nor DPU-hours).
	OtherUsage Cause = "other_usage"
	// Rounding: a gap under a cent, from the bill's rounding of amounts.
	Rounding Cause = "rounding"
	// Unexplained: none of the above.
	Unexplained Cause = "unexplained"
)

// Causes describe each cause for people, in precedence order.
var Causes = []struct {
	Cause Cause
	Text  string
}{
	{Match, "matches"},
	{AccountNotCollected, "account not collected"},
	{RegionNotCollected, "region not collected"},
	{BillNotRefreshed, "bill not refreshed for this day yet (its newest day is partial)"},
	{Pending, "queries pending (no statistics yet)"},
	{NoStats, "queries Athena no longer knows"},
	{Provisioned, "provisioned capacity (reservation billing differs from per-query DPU-hours)"},
	{OtherUsage, "Athena usage athenawatch does not model"},
	{Rounding, "rounding (under $0.01)"},
	{Unexplained, "unexplained"},
}

// Text describes the cause.
func (c Cause) Text() string {
	for _, x := range Causes {
		if x.Cause == c {
			return x.Text
		}
	}
	return string(c)
}

// Tolerances of a gap: under MatchTolerance the cell matches (sums of the
// same amounts added in another order differ by far less); under
// RoundingTolerance a gap is rounding.
const (
	MatchTolerance    = 1e-6
	RoundingTolerance = 0.01
)

// NoResourceID names the workgroup of line items without a resource id.
const NoResourceID = "(no resource id)"

// Cell is one cell of a reconciliation.
type Cell struct {
	Day       string `json:"day"`
	Account   string `json:"account"`
	Region    string `json:"region"`
	Workgroup string `json:"workgroup"`
	// Kind is scan (bytes scanned), dpu (provisioned capacity) or other.
	Kind string `json:"kind"`
	// InBill tells whether the bill has the cell at all.
	InBill    bool    `json:"in_bill"`
	BilledUSD float64 `json:"billed_usd"`
	// BilledUsage is the bill's usage amount: terabytes (scan) or
	// DPU-hours (dpu).
	BilledUsage   float64 `json:"billed_usage"`
	AttributedUSD float64 `json:"attributed_usd"`
	// GapUSD is BilledUSD - AttributedUSD.
	GapUSD  float64 `json:"gap_usd"`
	Queries int64   `json:"queries"`
	Pending int64   `json:"pending"`
	NoStats int64   `json:"no_stats"`
	Cause   Cause   `json:"cause"`
}

// Total sums cells: of one day, or of the whole window (Day "").
type Total struct {
	Day           string  `json:"day,omitempty"`
	BilledUSD     float64 `json:"billed_usd"`
	AttributedUSD float64 `json:"attributed_usd"`
	GapUSD        float64 `json:"gap_usd"`
}

// Result is a reconciliation.
type Result struct {
	RanAt time.Time `json:"ran_at"`
	Since time.Time `json:"since"`
	Until time.Time `json:"until"`
	// Source is the export read.
	Source string `json:"source"`
	// BillLastDay is the newest day the bill has Athena usage for.
	BillLastDay string  `json:"bill_last_day"`
	Files       int     `json:"files"`
	Cells       []Cell  `json:"cells"`
	Days        []Total `json:"days"`
	Total       Total   `json:"total"`
	// NotCollectedAccounts are the accounts the bill charges that collect
	// never read for the window; NotCollectedRegions the ACCOUNT/REGION
	// pairs likewise (of accounts that were read elsewhere).
	NotCollectedAccounts []string `json:"not_collected_accounts"`
	NotCollectedRegions  []string `json:"not_collected_regions"`
	// Skipped is the bad input of the export that was left out.
	Skipped []bill.Skipped `json:"skipped"`
}

// Window is the span reconciled: whole UTC days from Since to Until.
type Window struct{ Since, Until time.Time }

// Days is the window of whole UTC days that holds since to until: a
// cell is a day, and half a day of queries would not compare with a
// whole day of bill.
func Days(since, until time.Time) Window {
	s := since.UTC().Truncate(24 * time.Hour)
	u := until.UTC()
	if t := u.Truncate(24 * time.Hour); !t.Equal(u) {
		u = t.Add(24 * time.Hour)
	}
	return Window{Since: s, Until: u}
}

// DefaultWindow is how far back a reconciliation looks by default.
const DefaultWindow = 30 * 24 * time.Hour

// BillSource is where the bill comes from (*bill.Reader).
type BillSource interface {
	// Read returns the Athena usage billed from since to until.
	Read(ctx context.Context, since, until time.Time) (*bill.Bill, error)
	// String names the source (dir:PATH, s3://...).
	String() string
}

// Store is what a reconciliation reads and writes (*store.Store).
type Store interface {
	AttributedCells(ctx context.Context, since, until time.Time) ([]store.AttributedCell, error)
	CollectedScopes(ctx context.Context, since, until time.Time) ([]store.Scope, error)
	SaveReconcile(ctx context.Context, run store.ReconcileRun, cells []store.ReconcileCell) error
}

// Run reconciles the bill src reads with the cost attributed in st over
// w, and saves the result as the last reconciliation.
func Run(ctx context.Context, st Store, src BillSource, w Window) (*Result, error) {
	b, err := src.Read(ctx, w.Since, w.Until)
	if err != nil {
		return nil, err
	}
	attributed, err := st.AttributedCells(ctx, w.Since, w.Until)
	if err != nil {
		return nil, err
	}
	scopes, err := st.CollectedScopes(ctx, w.Since, w.Until)
	if err != nil {
		return nil, err
	}
	res := Compare(b, attributed, scopes)
	res.RanAt, res.Since, res.Until, res.Source = time.Now().UTC(), w.Since, w.Until, src.String()
	if err := st.SaveReconcile(ctx, res.run(), res.storeCells()); err != nil {
		return nil, err
	}
	return res, nil
}

type cellKey struct{ day, account, region, workgroup, kind string }

// Compare matches the bill's cells with the attributed ones and finds the
// cause of each gap. scopes are the accounts and regions collect read.
func Compare(b *bill.Bill, attributed []store.AttributedCell, scopes []store.Scope) *Result {
	cells := map[cellKey]*Cell{}
	get := func(k cellKey) *Cell {
		c := cells[k]
		if c == nil {
			c = &Cell{Day: k.day, Account: k.account, Region: k.region, Workgroup: k.workgroup, Kind: k.kind}
			cells[k] = c
		}
		return c
	}
	for _, bc := range b.Cells {
		c := get(cellKey{bc.Day.Format(time.DateOnly), bc.Account, bc.Region, bc.Workgroup, string(bc.Kind)})
		c.InBill = true
		c.BilledUSD += bc.USD
		c.BilledUsage += bc.Usage
	}
	for _, ac := range attributed {
		kind := bill.Scan
		if ac.Provisioned {
			kind = bill.DPU
		}
		c := get(cellKey{ac.Day, ac.Account, ac.Region, ac.Workgroup, string(kind)})
		c.AttributedUSD += ac.CostUSD
		c.Queries += ac.Queries
		c.Pending += ac.Pending
		c.NoStats += ac.NoStats
	}
	accounts, regions := map[string]bool{}, map[store.Scope]bool{}
	for _, s := range scopes {
		accounts[s.Account], regions[s] = true, true
	}
	for _, ac := range attributed {
		accounts[ac.Account], regions[store.Scope{Account: ac.Account, Region: ac.Region}] = true, true
	}
	lastDay := ""
	if !b.LastDay.IsZero() {
		lastDay = b.LastDay.Format(time.DateOnly)
	}
	res := &Result{BillLastDay: lastDay, Files: len(b.Files), Skipped: b.Skipped,
		NotCollectedAccounts: []string{}, NotCollectedRegions: []string{}, Cells: []Cell{}, Days: []Total{}}
	if res.Skipped == nil {
		res.Skipped = []bill.Skipped{}
	}
	missingAccounts, missingRegions := map[string]bool{}, map[string]bool{}
	for _, c := range cells {
		c.GapUSD = c.BilledUSD - c.AttributedUSD
		c.Cause = cause(c, accounts, regions, lastDay)
		switch c.Cause {
		case AccountNotCollected:
			missingAccounts[c.Account] = true
		case RegionNotCollected:
			missingRegions[c.Account+"/"+c.Region] = true
		}
		res.Cells = append(res.Cells, *c)
	}
	res.NotCollectedAccounts = slices.AppendSeq(res.NotCollectedAccounts, maps.Keys(missingAccounts))
	slices.Sort(res.NotCollectedAccounts)
	res.NotCollectedRegions = slices.AppendSeq(res.NotCollectedRegions, maps.Keys(missingRegions))
	slices.Sort(res.NotCollectedRegions)
	res.finish()
	return res
}

// cause finds the first cause that applies to c.
func cause(c *Cell, accounts map[string]bool, regions map[store.Scope]bool, billLastDay string) Cause {
	gap := math.Abs(c.GapUSD)
	switch {
	case gap < MatchTolerance:
		return Match
	case !accounts[c.Account]:
		return AccountNotCollected
	case !regions[store.Scope{Account: c.Account, Region: c.Region}]:
		return RegionNotCollected
	case c.GapUSD < 0 && (billLastDay == "" || c.Day >= billLastDay):
		// The export's newest day is partial until the next refresh: a
		// query that ended after it is attributed, not billed yet.
		return BillNotRefreshed
	case c.Pending > 0:
		return Pending
	case c.NoStats > 0:
		return NoStats
	case c.Kind == string(bill.DPU):
		return Provisioned
	case c.Kind == string(bill.Other):
		return OtherUsage
	case gap < RoundingTolerance:
		return Rounding
	}
	return Unexplained
}

// finish sorts the cells and sums them by day and over the window.
func (r *Result) finish() {
	slices.SortFunc(r.Cells, func(a, b Cell) int {
		return cmp.Or(strings.Compare(a.Day, b.Day), strings.Compare(a.Account, b.Account), strings.Compare(a.Region, b.Region),
			strings.Compare(a.Workgroup, b.Workgroup), strings.Compare(a.Kind, b.Kind))
	})
	r.Days = r.Days[:0]
	r.Total = Total{}
	for _, c := range r.Cells {
		if n := len(r.Days); n == 0 || r.Days[n-1].Day != c.Day {
			r.Days = append(r.Days, Total{Day: c.Day})
		}
		d := &r.Days[len(r.Days)-1]
		d.BilledUSD += c.BilledUSD
		d.AttributedUSD += c.AttributedUSD
	}
	for i := range r.Days {
		d := &r.Days[i]
		d.GapUSD = d.BilledUSD - d.AttributedUSD
		r.Total.BilledUSD += d.BilledUSD
		r.Total.AttributedUSD += d.AttributedUSD
	}
	r.Total.GapUSD = r.Total.BilledUSD - r.Total.AttributedUSD
}

func (r *Result) run() store.ReconcileRun {
	return store.ReconcileRun{RanAt: r.RanAt, Since: r.Since, Until: r.Until, Source: r.Source, BillLastDay: r.BillLastDay,
		Files: r.Files, Skipped: len(r.Skipped)}
}

func (r *Result) storeCells() []store.ReconcileCell {
	out := make([]store.ReconcileCell, len(r.Cells))
	for i, c := range r.Cells {
		out[i] = store.ReconcileCell{Day: c.Day, Account: c.Account, Region: c.Region, Workgroup: c.Workgroup, Kind: c.Kind, InBill: c.InBill,
			BilledUSD: c.BilledUSD, BilledUsage: c.BilledUsage, AttributedUSD: c.AttributedUSD,
			Queries: c.Queries, Pending: c.Pending, NoStats: c.NoStats, Cause: string(c.Cause)}
	}
	return out
}

// LastRun reads what Load needs of the store (*store.Store).
type LastRun interface {
	LastReconcile(ctx context.Context) (*store.ReconcileRun, []store.ReconcileCell, error)
}

// Load returns the last reconciliation saved, or nil when none ran.
func Load(ctx context.Context, st LastRun) (*Result, error) {
	run, cells, err := st.LastReconcile(ctx)
	if err != nil || run == nil {
		return nil, err
	}
	res := &Result{RanAt: run.RanAt, Since: run.Since, Until: run.Until, Source: run.Source, BillLastDay: run.BillLastDay, Files: run.Files,
		Cells: []Cell{}, Days: []Total{}, NotCollectedAccounts: []string{}, NotCollectedRegions: []string{}, Skipped: []bill.Skipped{}}
	accounts, regions := map[string]bool{}, map[string]bool{}
	for _, c := range cells {
		res.Cells = append(res.Cells, Cell{Day: c.Day, Account: c.Account, Region: c.Region, Workgroup: c.Workgroup, Kind: c.Kind, InBill: c.InBill,
			BilledUSD: c.BilledUSD, BilledUsage: c.BilledUsage, AttributedUSD: c.AttributedUSD, GapUSD: c.BilledUSD - c.AttributedUSD,
			Queries: c.Queries, Pending: c.Pending, NoStats: c.NoStats, Cause: Cause(c.Cause)})
		switch Cause(c.Cause) {
		case AccountNotCollected:
			if !accounts[c.Account] {
				accounts[c.Account] = true
				res.NotCollectedAccounts = append(res.NotCollectedAccounts, c.Account)
			}
		case RegionNotCollected:
			if k := c.Account + "/" + c.Region; !regions[k] {
				regions[k] = true
				res.NotCollectedRegions = append(res.NotCollectedRegions, k)
			}
		}
	}
	slices.Sort(res.NotCollectedAccounts)
	slices.Sort(res.NotCollectedRegions)
	res.finish()
	return res, nil
}

// WorkgroupName is how a cell's workgroup is shown.
func WorkgroupName(wg string) string {
	if wg == "" {
		return NoResourceID
	}
	return wg
}

// Summary is one line that says how the bill and the attribution compare.
func (r *Result) Summary() string {
	gaps := 0
	for _, c := range r.Cells {
		if c.Cause != Match {
			gaps++
		}
	}
	return fmt.Sprintf("reconcile: %s to %s: billed $%s, attributed $%s, gap $%s; %d of %d cells with a gap",
		r.Since.Format(time.DateOnly), r.Until.Add(-time.Nanosecond).Format(time.DateOnly), money(r.Total.BilledUSD), money(r.Total.AttributedUSD),
		money(r.Total.GapUSD), gaps, len(r.Cells))
}
