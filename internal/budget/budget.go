// Package budget evaluates budgets: how much of its limit each scope of a
// budget (a user, a team, a workgroup, an account, or everything) spent in
// the current calendar period, where the period's spend is heading, and
// whether a day's spend is out of the ordinary.
package budget

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/athenawatch/athenawatch/internal/config"
	"github.com/athenawatch/athenawatch/internal/store"
	"github.com/athenawatch/athenawatch/internal/usage"
)

// HistoryDays is how many days before the current one make a scope's usual
// daily spend (forecast) and its trailing median day (anomaly).
const HistoryDays = 28

// States of a Status.
const (
	StateOK      = "ok"      // below every threshold
	StateWarning = "warning" // a threshold below 1 crossed
	StateOver    = "over"    // the limit (threshold 1) or beyond crossed
)

// Status is where one scope of one budget stands.
type Status struct {
	Budget string `json:"budget"`
	// Scope names what the budget applies to: "all", or keys and values
	// such as "user=alice" or "team=data-science,user=alice".
	Scope       string    `json:"scope"`
	Kind        string    `json:"kind"`
	Period      string    `json:"period"`
	PeriodStart time.Time `json:"period_start"`
	PeriodEnd   time.Time `json:"period_end"`
	// Unit is usd or bytes: what Spent, Limit and Forecast count.
	Unit     string  `json:"unit"`
	Spent    float64 `json:"spent"`
	Limit    float64 `json:"limit"`
	Forecast float64 `json:"forecast"`
	// SpentUSD and LimitUSD repeat Spent and Limit for a USD budget (the
	// names DESIGN.md gives the JSON rows); ForecastUSD likewise.
	SpentUSD    float64 `json:"spent_usd"`
	LimitUSD    float64 `json:"limit_usd"`
	ForecastUSD float64 `json:"forecast_usd"`
	// Ratio is what the thresholds compare: spent / limit (actual),
	// forecast / limit (forecast), today / (factor × usual day) (anomaly).
	Ratio float64 `json:"ratio"`
	// Crossed is the highest threshold Ratio reached (0: none).
	Crossed float64 `json:"crossed"`
	State   string  `json:"state"`
	// Pending counts the scope's queries of the period whose statistics
	// are not known yet: their cost is not in Spent.
	Pending int64 `json:"pending"`
	// Today and UsualDay are the anomaly's day and the trailing median of
	// the scope's days with spend (anomaly budgets only).
	Today    float64 `json:"today,omitempty"`
	UsualDay float64 `json:"usual_day,omitempty"`
	// Note says what the figures cannot tell (no history to forecast from).
	Note string `json:"note,omitempty"`
	// Key is the scope's value of the "*" key ("" for a single scope).
	Key string `json:"-"`
}

// Evaluator evaluates budgets over the store.
type Evaluator struct {
	Src    usage.Source
	Rules  *usage.Rules
	Prices usage.Prices
}

// Evaluate gives the status of every scope of every budget at at, in
// budget order, then by scope.
func (e *Evaluator) Evaluate(ctx context.Context, budgets []config.Budget, at time.Time) ([]Status, error) {
	var out []Status
	for _, b := range budgets {
		st, err := e.evaluate(ctx, b, at)
		if err != nil {
			return nil, fmt.Errorf("budget %s: %w", b.Name, err)
		}
		out = append(out, st...)
	}
	return out, nil
}

// scope splits a budget's scope into the key whose value is "*" (each
// value separately; "" for none) and the filter of the other keys.
func scope(b config.Budget) (each string, match map[string][]string) {
	match = map[string][]string{}
	for k, v := range b.Scope {
		if v == "*" {
			each = k
			continue
		}
		match[k] = []string{v}
	}
	return each, match
}

// scopeName names one scope: the fixed keys and the "*" key's value.
func scopeName(b config.Budget, each, value string) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(b.Scope)) {
		v := b.Scope[k]
		if k == each {
			v = value
		}
		parts = append(parts, k+"="+v)
	}
	if len(parts) == 0 {
		return "all"
	}
	return strings.Join(parts, ",")
}

// figures are one scope's sums over a window.
type figures struct {
	usd     float64
	bytes   int64
	pending int64
}

func (f figures) of(unit string) float64 {
	if unit == "bytes" {
		return float64(f.bytes)
	}
	return f.usd
}

// sums reads each scope's figures over [since, until): by the "*" key, or
// one total.
func (e *Evaluator) sums(ctx context.Context, each string, match map[string][]string, since, until time.Time) (map[string]figures, error) {
	by := each
	if by == "" {
		by = "account" // any dimension: only the total is read
	}
	rep, err := usage.BuildReport(ctx, e.Src, e.Rules, e.Prices, usage.ReportOptions{
		By: by, Filter: store.Filter{Since: since, Until: until, Match: match}, Now: until,
	})
	if err != nil {
		return nil, err
	}
	fig := func(r usage.Row) figures {
		return figures{usd: r.Value("cost_usd").Float(), bytes: r.Value("billed_bytes").Int(), pending: r.Value("pending").Int()}
	}
	out := map[string]figures{}
	if each == "" {
		out[""] = fig(rep.Total)
		return out, nil
	}
	for _, r := range rep.Rows {
		out[r.Key] = fig(r)
	}
	return out, nil
}

// history reads each scope's spend per calendar day of loc, for the
// HistoryDays days before today (local days from UTC hours; in UTC from
// UTC days).
func (e *Evaluator) history(ctx context.Context, each string, match map[string][]string, today time.Time, unit string, loc *time.Location) (map[string]map[string]float64, error) {
	from := today.AddDate(0, 0, -HistoryDays)
	then := "hour"
	if loc == time.UTC {
		then = "day"
	}
	by := each
	if by == "" {
		by = then
		then = ""
	}
	opts := usage.ReportOptions{By: by, Filter: store.Filter{Since: from, Until: today, Match: match}, Now: today}
	out := map[string]map[string]float64{}
	add := func(key, bucket string, r usage.Row) error {
		t, err := bucketTime(bucket)
		if err != nil {
			return err
		}
		day := t.In(loc).Format(dayLayout)
		if out[key] == nil {
			out[key] = map[string]float64{}
		}
		f := figures{usd: r.Value("cost_usd").Float(), bytes: r.Value("billed_bytes").Int()}
		out[key][day] += f.of(unit)
		return nil
	}
	if then == "" {
		rep, err := usage.BuildReport(ctx, e.Src, e.Rules, e.Prices, opts)
		if err != nil {
			return nil, err
		}
		for _, r := range rep.Rows {
			if err := add("", r.Key, r); err != nil {
				return nil, err
			}
		}
		return out, nil
	}
	cells, err := usage.BuildBreakdown(ctx, e.Src, e.Rules, e.Prices, opts, then)
	if err != nil {
		return nil, err
	}
	for _, c := range cells {
		if err := add(c.Key, c.Key2, c.Row); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// bucketTime reads a report key of the day or hour dimension.
func bucketTime(key string) (time.Time, error) {
	for _, layout := range []string{"2006-01-02T15", "2006-01-02T15:04:05Z07:00", "2006-01-02 15:00", "2006-01-02T15:04Z", "2006-01-02"} {
		if t, err := time.Parse(layout, key); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("report key %q is not a day or an hour", key)
}

func (e *Evaluator) evaluate(ctx context.Context, b config.Budget, at time.Time) ([]Status, error) {
	loc, err := time.LoadLocation(b.TimeZone)
	if err != nil {
		return nil, err
	}
	at = at.UTC()
	unit, limit := "usd", b.LimitUSD
	if b.LimitBytes > 0 {
		unit, limit = "bytes", float64(b.LimitBytes)
	}
	p := PeriodAt(b.Period, at, loc)
	today := PeriodAt("day", at, loc)
	each, match := scope(b)
	spent, err := e.sums(ctx, each, match, p.Start, at)
	if err != nil {
		return nil, err
	}
	var hist map[string]map[string]float64
	if b.Kind != "actual" {
		if hist, err = e.history(ctx, each, match, today.Start, unit, loc); err != nil {
			return nil, err
		}
	}
	keys := slices.Collect(maps.Keys(spent))
	for k := range hist {
		if _, ok := spent[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var out []Status
	for _, k := range keys {
		f := spent[k]
		s := Status{
			Budget: b.Name, Scope: scopeName(b, each, k), Key: k, Kind: b.Kind, Period: b.Period,
			PeriodStart: p.Start, PeriodEnd: p.End, Unit: unit, Spent: f.of(unit), Limit: limit, Pending: f.pending,
		}
		switch b.Kind {
		case "actual":
			s.Forecast = s.Spent
			s.Ratio = ratio(s.Spent, limit)
		case "forecast":
			s.Forecast, s.Note = Forecast(s.Spent, hist[k], p, today, at, loc)
			s.Ratio = ratio(s.Forecast, limit)
		case "anomaly":
			s.Today = s.Spent // the period is the day
			s.UsualDay = Median(hist[k])
			s.Forecast = s.Spent
			switch {
			case s.UsualDay == 0:
				s.Note = "no day with spend in the last 28 days to compare with"
			case limit > 0 && s.Today < limit:
				// Below the floor the limit sets: not worth an alert.
			default:
				s.Ratio = s.Today / (b.AnomalyFactor * s.UsualDay)
			}
		}
		if unit == "usd" {
			s.SpentUSD, s.LimitUSD, s.ForecastUSD = s.Spent, s.Limit, s.Forecast
		}
		for _, th := range b.Thresholds {
			if s.Ratio >= th {
				s.Crossed = th
			}
		}
		switch {
		case s.Crossed >= 1:
			s.State = StateOver
		case s.Crossed > 0:
			s.State = StateWarning
		default:
			s.State = StateOK
		}
		out = append(out, s)
	}
	return out, nil
}

// ratio is v / limit; with a limit of 0 any spend is over it.
func ratio(v, limit float64) float64 {
	switch {
	case limit > 0:
		return v / limit
	case v > 0:
		return 1
	}
	return 0
}

// Match is the selection of one scope of b, key to value (a glob): the
// budget's scope with the "*" key's value set to value.
func Match(b config.Budget, value string) map[string]string {
	out := make(map[string]string, len(b.Scope))
	for k, v := range b.Scope {
		if v == "*" {
			v = value
		}
		out[k] = v
	}
	return out
}
