package usage

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// ParseTime reads a --since/--until value: a duration back from now ("30d",
// "12h", "90m", "2w"), a date ("2026-11-01", UTC midnight) or an RFC 3339
// instant. An empty value is the zero time (unbounded).
func ParseTime(s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, nil
	}
	if n := len(s); n > 1 {
		unit := s[n-1]
		if v, err := strconv.ParseFloat(s[:n-1], 64); err == nil && v >= 0 {
			var d time.Duration
			switch unit {
			case 'm':
				d = time.Minute
			case 'h':
				d = time.Hour
			case 'd':
				d = 24 * time.Hour
			case 'w':
				d = 7 * 24 * time.Hour
			}
			if d != 0 {
				back := v * float64(d)
				if back > float64(now.Sub(time.Time{})) || math.IsInf(back, 0) {
					return time.Time{}, fmt.Errorf("%q reaches back before year 1", s)
				}
				return now.Add(-time.Duration(back)).UTC(), nil
			}
		}
	}
	if t, err := time.Parse("2006-01-02", s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.UTC(), nil
	}
	return time.Time{}, fmt.Errorf("%q is not a time: use 30d, 12h, 2026-11-01 or 2026-11-01T00:00:00Z", s)
}
