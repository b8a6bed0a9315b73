package budget

import (
	"slices"
	"time"
)

// Forecast projects a period's spend at its end from the spend so far
// (spent, at at) and the scope's usual day: for each day left (the rest of
// today pro rata, then whole days), the mean of the same weekday's spend in
// the history (days of loc, from its first day with spend on; a weekday
// with no day in the history counts as a day of the mean spend). With no
// history it extrapolates the period's own rate; note says so, or that
// nothing can be said yet.
func Forecast(spent float64, hist map[string]float64, p, today Period, at time.Time, loc *time.Location) (forecast float64, note string) {
	if !at.Before(p.End) {
		return spent, ""
	}
	usual, ok := weekdayMeans(hist, today.Start)
	if !ok {
		elapsed := at.Sub(p.Start)
		if elapsed < time.Hour {
			return spent, "no history and under an hour of the period: no forecast"
		}
		return spent + spent*float64(p.End.Sub(at))/float64(elapsed), "no history: the period's rate so far, extrapolated"
	}
	f := spent
	// The rest of today, as the share of today's length left (23 or 25
	// hours around a daylight saving change).
	left := float64(today.End.Sub(at)) / float64(today.End.Sub(today.Start))
	f += usual[today.Start.Weekday()] * left
	for _, d := range days(today.End, p.End) {
		f += usual[d.Weekday()]
	}
	return f, ""
}

// weekdayMeans is the mean spend of each weekday over the history's days
// before today, from the first day with spend. ok is false when no day had
// spend.
func weekdayMeans(hist map[string]float64, today time.Time) (means [7]float64, ok bool) {
	var first string
	var total float64
	for d, v := range hist {
		if v > 0 && (first == "" || d < first) {
			first = d
		}
		total += v
	}
	if first == "" {
		return means, false
	}
	start, err := time.ParseInLocation(dayLayout, first, today.Location())
	if err != nil {
		return means, false
	}
	var sum, n [7]float64
	all := days(start, today)
	for _, d := range all {
		sum[d.Weekday()] += hist[d.Format(dayLayout)]
		n[d.Weekday()]++
	}
	mean := total / float64(len(all))
	for w := range 7 {
		if n[w] > 0 {
			means[w] = sum[w] / n[w]
		} else {
			means[w] = mean
		}
	}
	return means, true
}

// Median is the median of the days with spend in hist (0 when none).
func Median(hist map[string]float64) float64 {
	var vs []float64
	for _, v := range hist {
		if v > 0 {
			vs = append(vs, v)
		}
	}
	if len(vs) == 0 {
		return 0
	}
	slices.Sort(vs)
	if len(vs)%2 == 1 {
		return vs[len(vs)/2]
	}
	return (vs[len(vs)/2-1] + vs[len(vs)/2]) / 2
}
