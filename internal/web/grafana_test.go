package web

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// metricName finds the metric names in a PromQL expression.
var metricName = regexp.MustCompile(`\bathenawatch_[a-z0-9_]+`)

// TestGrafanaDashboardsUseServedMetrics parses every dashboard under
// deploy/grafana and checks that each metric its panels query is one
// /metrics serves.
func TestGrafanaDashboardsUseServedMetrics(t *testing.T) {
	t.Parallel()
	h := &Health{}
	f := newFixture(t, Options{Health: h})
	h.RoundDone(Round{Started: testNow, Ended: testNow.Add(time.Second)})
	_, fams := scrape(t, f)

	files, err := filepath.Glob(filepath.Join("..", "..", "deploy", "grafana", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no dashboards under deploy/grafana (%v)", err)
	}
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		var dash struct {
			Title  string `json:"title"`
			Panels []struct {
				Title   string `json:"title"`
				Targets []struct {
					Expr string `json:"expr"`
				} `json:"targets"`
			} `json:"panels"`
		}
		if err := json.Unmarshal(data, &dash); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		if dash.Title == "" || len(dash.Panels) == 0 {
			t.Fatalf("%s: no title or no panels", file)
		}
		for _, p := range dash.Panels {
			if len(p.Targets) == 0 {
				t.Errorf("%s: panel %q queries nothing", file, p.Title)
			}
			for _, tg := range p.Targets {
				names := metricName.FindAllString(tg.Expr, -1)
				if len(names) == 0 {
					t.Errorf("%s: panel %q: %q names no athenawatch metric", file, p.Title, tg.Expr)
				}
				for _, n := range names {
					family := n
					if _, ok := fams[family]; !ok {
						for _, suffix := range []string{"_bucket", "_sum", "_count"} {
							family = strings.TrimSuffix(family, suffix)
						}
					}
					if _, ok := fams[family]; !ok {
						t.Errorf("%s: panel %q uses %s, which /metrics does not serve", file, p.Title, n)
					}
				}
			}
		}
	}
}
