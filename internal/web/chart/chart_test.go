package chart

import (
	"flag"
	"fmt"
	"html/template"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func usd(v float64) string { return fmt.Sprintf("$%.2f", v) }

func ms(v int64) string { return fmt.Sprintf("%dms", v) }

// TestGolden pins the SVG of every chart kind, hostile names included: a
// name is drawn as text, never as markup.
func TestGolden(t *testing.T) {
	t.Parallel()
	hostile := `<script>alert(1)</script>`
	tests := []struct {
		name string
		svg  template.HTML
	}{
		{"bar", Bar(0.42, "alice: $4.20", Color(0))},
		{"bar_hostile", Bar(2, `"><img src=x onerror=alert(1)>`, `"red`)},
		{"sparkline", Sparkline([]float64{0, 1, 4, 2, 0, 8, 3}, "cost per day")},
		{"sparkline_empty", Sparkline(nil, "no data")},
		{"columns", Columns{
			Labels: []string{"2026-11-01", "2026-11-02", "2026-11-03"},
			Series: []Series{{Name: "data-science", Values: []float64{1.5, 2, 0}}, {Name: hostile, Values: []float64{0.5, 0, 3}}, {Name: "other", Color: Other, Values: []float64{0.1, 0.1, 0.1}}},
			Format: usd, Title: "daily spend by team",
		}.SVG()},
		{"columns_empty", Columns{Format: usd, Title: "nothing"}.SVG()},
		{"heatmap", Heatmap{Rows: []string{"Mon", "Tue"}, Cols: []string{"00", "01", "02"}, Values: [][]float64{{0, 1, 4}, {9, 0, 2}}, Title: "queries by hour"}.SVG()},
		{"timeline", Timeline([]Segment{{"queue", 120}, {"planning", 40}, {"engine", 2300}, {hostile, 0}}, ms)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := string(tt.svg)
			if strings.Contains(got, "<script") || strings.Contains(got, "<img") {
				t.Errorf("a name was drawn as markup:\n%s", got)
			}
			path := filepath.Join("testdata", tt.name+".svg")
			if *update {
				if err := os.WriteFile(path, []byte(got+"\n"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -update to write it)", err)
			}
			if got+"\n" != string(want) {
				t.Errorf("%s differs from %s:\n%s", tt.name, path, got)
			}
		})
	}
}

func TestNiceStep(t *testing.T) {
	t.Parallel()
	tests := []struct {
		max  float64
		want float64
	}{{0, 1}, {1, 0.25}, {9, 2.5}, {17.3, 5}, {1234, 500}, {0.003, 0.001}}
	for _, tt := range tests {
		if got := niceStep(tt.max, 4); fmt.Sprint(got) != fmt.Sprint(tt.want) {
			t.Errorf("niceStep(%v) = %v, want %v", tt.max, got, tt.want)
		}
	}
}
