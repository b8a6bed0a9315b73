package budget

import "time"

// Period is one calendar period of a budget: [Start, End) in its time zone.
type Period struct {
	Start, End time.Time
}

// PeriodAt is the period of kind (day, week from Monday, month) that holds
// at, in loc. Days are calendar days: one around a daylight saving change
// lasts 23 or 25 hours.
func PeriodAt(kind string, at time.Time, loc *time.Location) Period {
	t := at.In(loc)
	day := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, loc)
	switch kind {
	case "day":
		return Period{day, day.AddDate(0, 0, 1)}
	case "week":
		back := (int(t.Weekday()) + 6) % 7 // days since Monday
		start := day.AddDate(0, 0, -back)
		return Period{start, start.AddDate(0, 0, 7)}
	}
	start := time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, loc)
	return Period{start, start.AddDate(0, 1, 0)}
}

// dayLayout keys a calendar day of a budget's time zone.
const dayLayout = "2006-01-02"

// days are the calendar days in loc from `from` (a day's start) to `to`.
func days(from, to time.Time) []time.Time {
	var out []time.Time
	for d := from; d.Before(to); d = d.AddDate(0, 0, 1) {
		out = append(out, d)
	}
	return out
}
