package web

import (
	"context"
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"time"

	"github.com/athenawatch/athenawatch/internal/budget"
	"github.com/athenawatch/athenawatch/internal/usage"
	"github.com/athenawatch/athenawatch/internal/web/chart"
)

// recentAlerts is how many alerts the budgets page and API show.
const recentAlerts = 50

// budgetStatuses evaluates every budget now.
func (s *Server) budgetStatuses(ctx context.Context) ([]budget.Status, time.Time, error) {
	at := s.opts.Now()
	e := &budget.Evaluator{Src: s.opts.Store, Rules: s.rules, Prices: s.prices}
	st, err := e.Evaluate(ctx, s.opts.Config.Budgets, at)
	return st, at, err
}

// alertView is an alert as the page and the API show it.
type alertView struct {
	Budget      string          `json:"budget"`
	Scope       string          `json:"scope"`
	PeriodStart time.Time       `json:"period_start"`
	Threshold   float64         `json:"threshold"`
	FiredAt     time.Time       `json:"fired_at"`
	Key         string          `json:"idempotency_key"`
	Deliveries  []deliveryView  `json:"deliveries"`
	Message     json.RawMessage `json:"message"`
}

type deliveryView struct {
	Notifier    string     `json:"notifier"`
	State       string     `json:"state"` // delivered, retrying, given_up
	Attempts    int        `json:"attempts"`
	DeliveredAt *time.Time `json:"delivered_at,omitempty"`
	NextAt      *time.Time `json:"next_at,omitempty"`
	LastError   string     `json:"last_error,omitempty"`
}

func (s *Server) alerts(ctx context.Context) ([]alertView, error) {
	as, err := s.opts.Store.RecentAlerts(ctx, recentAlerts)
	if err != nil {
		return nil, err
	}
	keys := make([]string, len(as))
	for i, a := range as {
		keys[i] = a.Key
	}
	ds, err := s.opts.Store.DeliveriesOf(ctx, keys)
	if err != nil {
		return nil, err
	}
	out := []alertView{}
	for _, a := range as {
		v := alertView{Budget: a.Budget, Scope: a.Scope, PeriodStart: a.PeriodStart, Threshold: a.Threshold, FiredAt: a.FiredAt,
			Key: a.Key, Message: json.RawMessage(a.Payload), Deliveries: []deliveryView{}}
		for _, d := range ds[a.Key] {
			dv := deliveryView{Notifier: d.Notifier, Attempts: d.Attempts, LastError: d.LastError}
			switch {
			case !d.DeliveredAt.IsZero():
				dv.State, dv.DeliveredAt = "delivered", &d.DeliveredAt
			case !d.GivenUpAt.IsZero():
				dv.State = "given_up"
			default:
				dv.State, dv.NextAt = "retrying", &d.NextAt
			}
			v.Deliveries = append(v.Deliveries, dv)
		}
		out = append(out, v)
	}
	return out, nil
}

// actionView is a budget action as the page and the API show it.
type actionView struct {
	At      time.Time `json:"at"`
	Budget  string    `json:"budget"`
	Scope   string    `json:"scope"`
	Action  string    `json:"action"`
	Target  string    `json:"target"`
	DryRun  bool      `json:"dry_run"`
	Outcome string    `json:"outcome"`
	Reason  string    `json:"reason"`
}

func (s *Server) actions(ctx context.Context) ([]actionView, error) {
	as, err := s.opts.Store.RecentActions(ctx, recentAlerts)
	if err != nil {
		return nil, err
	}
	out := []actionView{}
	for _, a := range as {
		out = append(out, actionView{At: a.At, Budget: a.Budget, Scope: a.Scope, Action: a.Action, Target: a.Target, DryRun: a.DryRun, Outcome: a.Outcome, Reason: a.Reason})
	}
	return out, nil
}

// apiBudgets answers GET /api/v1/budgets: every budget's scopes now, and
// the recent alerts with their deliveries.
func (s *Server) apiBudgets(w http.ResponseWriter, r *http.Request) {
	statuses, at, err := s.budgetStatuses(r.Context())
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	alerts, err := s.alerts(r.Context())
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	if statuses == nil {
		statuses = []budget.Status{}
	}
	actions, err := s.actions(r.Context())
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"as_of": at.UTC(), "budgets": statuses, "alerts": alerts, "actions": actions})
}

// budgetRow is one scope of a budget on the page.
type budgetRow struct {
	budget.Status
	Bar              template.HTML
	SpentText        string
	LimitText        string
	ForecastText     string
	Percent          string
	Badge            string // ok, warn, bad
	Href             string
	ForecastDiffers  bool
	AnomalyUsualText string
}

type budgetsData struct {
	base
	Rows    []budgetRow
	Alerts  []alertView
	Actions []actionView
	AsOf    time.Time
	None    bool // no budget configured
}

func (s *Server) budgetsPage(ctx context.Context, r *http.Request, b base) (string, any, error) {
	b.Title = "Budgets"
	statuses, at, err := s.budgetStatuses(ctx)
	if err != nil {
		return "", nil, err
	}
	alerts, err := s.alerts(ctx)
	if err != nil {
		return "", nil, err
	}
	actions, err := s.actions(ctx)
	if err != nil {
		return "", nil, err
	}
	d := budgetsData{base: b, Alerts: alerts, Actions: actions, AsOf: at, None: len(s.opts.Config.Budgets) == 0}
	for _, st := range statuses {
		amount := func(v float64) string {
			if st.Unit == "bytes" {
				return usage.HumanBytes(int64(v))
			}
			return usd(v)
		}
		row := budgetRow{Status: st, SpentText: amount(st.Spent), LimitText: amount(st.Limit), ForecastText: amount(st.Forecast),
			Percent: percent(st.Ratio), ForecastDiffers: st.Kind == "forecast"}
		color := chart.Color(0)
		switch st.State {
		case budget.StateOver:
			row.Badge, color = "bad", "#c0392b"
		case budget.StateWarning:
			row.Badge, color = "warn", "#d68910"
		default:
			row.Badge = "ok"
		}
		if st.Kind == "anomaly" {
			row.AnomalyUsualText = amount(st.UsualDay)
		}
		row.Bar = chart.Bar(st.Ratio, st.Scope+": "+row.Percent, color)
		row.Href = "/queries?" + s.budgetQuery(st, at)
		d.Rows = append(d.Rows, row)
	}
	return "budgets", d, nil
}

// percent is a ratio as a whole percentage.
func percent(r float64) string { return fmt.Sprintf("%.0f%%", 100*r) }

// budgetQuery selects a scope's queries of its period so far, for the
// queries page.
func (s *Server) budgetQuery(st budget.Status, at time.Time) string {
	q := url.Values{}
	q.Set("since", st.PeriodStart.UTC().Format(time.RFC3339))
	q.Set("until", at.UTC().Format(time.RFC3339))
	for _, b := range s.opts.Config.Budgets {
		if b.Name == st.Budget {
			for k, v := range budget.Match(b, st.Key) {
				q.Set(k, v)
			}
		}
	}
	return q.Encode()
}
