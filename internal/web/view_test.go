package web

import (
	"testing"
	"time"
)

func TestAxisUSD(t *testing.T) {
	t.Parallel()
	tests := []struct {
		v, step float64
		want    string
	}{
		{0.0075, 0.0025, "$0.0075"}, {0.005, 0.0025, "$0.0050"}, {0.4, 0.2, "$0.40"}, {5, 2.5, "$5.00"}, {1500, 500, "$1,500"}, {0, 1, "$0"},
	}
	for _, tt := range tests {
		if got := axisUSD(tt.v, tt.step); got != tt.want {
			t.Errorf("axisUSD(%v, %v) = %q, want %q", tt.v, tt.step, got, tt.want)
		}
	}
}

func TestLiteral(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"alice", "alice"}, {"a*b", "a[*]b"}, {"what?", "what[?]"}, {"x[1]", "x[[]1]"},
	}
	for _, tt := range tests {
		if got := literal(tt.in); got != tt.want {
			t.Errorf("literal(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestDays(t *testing.T) {
	t.Parallel()
	day := func(s string) time.Time { d, _ := time.Parse("2006-01-02", s); return d }
	tests := []struct {
		name     string
		from, to time.Time
		max      int
		want     []string
	}{
		{"until exclusive at midnight", day("2026-11-01"), day("2026-11-04"), 90, []string{"2026-11-01", "2026-11-02", "2026-11-03"}},
		{"partial days", day("2026-11-01").Add(5 * time.Hour), day("2026-11-02").Add(time.Hour), 90, []string{"2026-11-01", "2026-11-02"}},
		{"capped to the latest", day("2026-11-01"), day("2026-11-10"), 2, []string{"2026-11-08", "2026-11-09"}},
		{"no start", time.Time{}, day("2026-11-10"), 90, nil},
	}
	for _, tt := range tests {
		got := days(tt.from, tt.to, tt.max)
		if len(got) != len(tt.want) {
			t.Errorf("%s: days = %v, want %v", tt.name, got, tt.want)
			continue
		}
		for i := range got {
			if got[i] != tt.want[i] {
				t.Errorf("%s: days = %v, want %v", tt.name, got, tt.want)
				break
			}
		}
	}
}
