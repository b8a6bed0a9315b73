package web

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/athenawatch/athenawatch/internal/budget"
	"github.com/athenawatch/athenawatch/internal/store"
)

func TestBudgetsPageAndAPI(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Options{})
	ctx := context.Background()
	// An alert, as budgets check --notify records it.
	e := &budget.Evaluator{Src: f.st, Rules: f.rules, Prices: f.srv.prices}
	statuses, err := e.Evaluate(ctx, f.cfg.Budgets, testNow)
	if err != nil {
		t.Fatal(err)
	}
	alerts, err := e.Alerts(ctx, f.cfg.Budgets, statuses, testNow, "")
	if err != nil || len(alerts) == 0 {
		t.Fatalf("alerts: %d, %v", len(alerts), err)
	}
	if _, err := f.st.RecordAlerts(ctx, alerts, func(store.Alert) []string { return []string{"ops"} }); err != nil {
		t.Fatal(err)
	}

	if _, err := f.st.RecordAction(ctx, store.Action{At: testNow, Budget: "user-week", Scope: "user=alice", PeriodStart: statuses[0].PeriodStart,
		Action: "stop", Target: "us-east-1/q-01", DryRun: true, Outcome: "would stop (dry run)", Reason: "user-week: user=alice is at 500%"}); err != nil {
		t.Fatal(err)
	}
	res, body := f.get(t, "/budgets")
	if !strings.Contains(body, "would stop (dry run)") || !strings.Contains(body, `href="/queries/us-east-1/q-01"`) {
		t.Fatalf("the page lacks the action:\n%s", body)
	}
	if res.StatusCode != http.StatusOK || !strings.Contains(body, "user-week") || !strings.Contains(body, "Recent alerts") ||
		!strings.Contains(body, "ops: retrying") || !strings.Contains(body, `class="badge bad"`) {
		t.Fatalf("budgets page: %d\n%s", res.StatusCode, body)
	}
	// A user name that is markup is shown as text.
	if strings.Contains(body, hostileTexts[0]) || !strings.Contains(body, "user=&lt;script&gt;") {
		t.Fatalf("the hostile user name is not escaped:\n%s", body)
	}

	res, body = f.get(t, "/api/v1/budgets")
	var got struct {
		Budgets []budget.Status `json:"budgets"`
		Actions []struct {
			Target string `json:"target"`
			DryRun bool   `json:"dry_run"`
		} `json:"actions"`
		Alerts []struct {
			Budget     string `json:"budget"`
			Deliveries []struct {
				Notifier, State string
			} `json:"deliveries"`
		} `json:"alerts"`
	}
	if err := json.Unmarshal([]byte(body), &got); err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("api: %d %v\n%s", res.StatusCode, err, body)
	}
	if len(got.Budgets) != len(statuses) || len(got.Alerts) != len(alerts) || got.Alerts[0].Deliveries[0].State != "retrying" ||
		len(got.Actions) != 1 || !got.Actions[0].DryRun {
		t.Fatalf("api: %+v", got)
	}

	_, body = f.get(t, "/metrics")
	if !strings.Contains(body, `athenawatch_budget_ratio{budget="user-week",scope="user=alice"}`) || !strings.Contains(body, `athenawatch_budget_scopes{budget="user-week"}`) {
		t.Fatalf("metrics lack the budget ratio:\n%s", body)
	}
}
