package budget

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/athenawatch/athenawatch/internal/config"
	"github.com/athenawatch/athenawatch/internal/store"
	"github.com/athenawatch/athenawatch/internal/usage"
)

// Message is the JSON body of an alert, as every notifier receives it; the
// README documents it.
type Message struct {
	// IdempotencyKey is the same in every delivery of one alert, resends
	// after a crash included: receivers drop a key they have seen.
	IdempotencyKey string     `json:"idempotency_key"`
	Budget         string     `json:"budget"`
	Scope          string     `json:"scope"`
	Kind           string     `json:"kind"`
	Period         string     `json:"period"`
	PeriodStart    time.Time  `json:"period_start"`
	PeriodEnd      time.Time  `json:"period_end"`
	Threshold      float64    `json:"threshold"`
	Unit           string     `json:"unit"`
	Spent          float64    `json:"spent"`
	Limit          float64    `json:"limit"`
	Forecast       float64    `json:"forecast"`
	Ratio          float64    `json:"ratio"`
	State          string     `json:"state"`
	Pending        int64      `json:"pending"`
	Today          float64    `json:"today,omitempty"`
	UsualDay       float64    `json:"usual_day,omitempty"`
	FiredAt        time.Time  `json:"fired_at"`
	TopQueries     []TopQuery `json:"top_queries"`
	DashboardURL   string     `json:"dashboard_url,omitempty"`
	// A weekly digest (kind digest) also has the week's queries, the week
	// before's spend and the top users.
	Queries       int64     `json:"queries,omitempty"`
	PreviousSpent float64   `json:"previous_spent,omitempty"`
	TopUsers      []TopUser `json:"top_users,omitempty"`
}

// TopQuery is one of the costliest queries of an alert's scope and period.
type TopQuery struct {
	QueryID string  `json:"query_id"`
	Region  string  `json:"region"`
	User    string  `json:"user"`
	CostUSD float64 `json:"cost_usd"`
	Text    string  `json:"text"`
}

// subject is a one-line title of an alert, for e-mail and SNS.
func subject(m Message) string {
	if m.Kind == "digest" {
		return fmt.Sprintf("athenawatch: weekly digest, %s, week from %s", m.Scope, m.PeriodStart.Format("2006-01-02"))
	}
	return fmt.Sprintf("athenawatch: budget %s, %s past %.0f%%", m.Budget, m.Scope, 100*m.Threshold)
}

// alertKey is an alert's idempotency key: a hash of what makes it one.
func alertKey(budget, scope string, periodStart time.Time, threshold float64) string {
	sum := sha256.Sum256([]byte(budget + "\x00" + scope + "\x00" + periodStart.UTC().Format(time.RFC3339) + "\x00" + strconv.FormatFloat(threshold, 'g', -1, 64)))
	return hex.EncodeToString(sum[:16])
}

// Alerts are the alerts the statuses call for: one per threshold crossed
// (a scope past 0.5 and 1.0 at once has two), with its message.
func (e *Evaluator) Alerts(ctx context.Context, budgets []config.Budget, statuses []Status, at time.Time, dashboard string) ([]store.Alert, error) {
	byName := map[string]config.Budget{}
	for _, b := range budgets {
		byName[b.Name] = b
	}
	var out []store.Alert
	for _, s := range statuses {
		b := byName[s.Budget]
		var top []TopQuery
		for _, th := range b.Thresholds {
			if s.Ratio < th {
				break
			}
			if top == nil {
				var err error
				if top, err = e.topQueries(ctx, b, s, at); err != nil {
					return nil, err
				}
			}
			m := Message{
				IdempotencyKey: alertKey(s.Budget, s.Scope, s.PeriodStart, th),
				Budget:         s.Budget, Scope: s.Scope, Kind: s.Kind, Period: s.Period, PeriodStart: s.PeriodStart, PeriodEnd: s.PeriodEnd,
				Threshold: th, Unit: s.Unit, Spent: s.Spent, Limit: s.Limit, Forecast: s.Forecast, Ratio: s.Ratio, State: s.State,
				Pending: s.Pending, Today: s.Today, UsualDay: s.UsualDay, FiredAt: at.UTC(), TopQueries: top,
				DashboardURL: dashboardLink(dashboard, b, s, at),
			}
			payload, err := json.Marshal(m)
			if err != nil {
				return nil, err
			}
			out = append(out, store.Alert{Budget: s.Budget, Scope: s.Scope, PeriodStart: s.PeriodStart, Threshold: th,
				Key: m.IdempotencyKey, FiredAt: at.UTC(), Payload: string(payload)})
		}
	}
	return out, nil
}

// topQueries are the three costliest queries of a scope in its period.
func (e *Evaluator) topQueries(ctx context.Context, b config.Budget, s Status, at time.Time) ([]TopQuery, error) {
	each, match := scope(b)
	if each != "" {
		match[each] = []string{s.Key}
	}
	rep, err := usage.BuildReport(ctx, e.Src, e.Rules, e.Prices, usage.ReportOptions{
		By: "query", Top: 3, Filter: store.Filter{Since: s.PeriodStart, Until: at, Match: match}, Now: at,
	})
	if err != nil {
		return nil, fmt.Errorf("top queries of %s %s: %w", b.Name, s.Scope, err)
	}
	return topOf(rep), nil
}

// dashboardLink is the dashboard page of an alert's scope and period.
func dashboardLink(base string, b config.Budget, s Status, at time.Time) string {
	if base == "" {
		return ""
	}
	q := url.Values{}
	q.Set("since", s.PeriodStart.UTC().Format(time.RFC3339))
	q.Set("until", at.UTC().Format(time.RFC3339))
	each, match := scope(b)
	for k, v := range match {
		q.Set(k, v[0])
	}
	page := "/queries"
	if each != "" {
		q.Set(each, s.Key)
	}
	return strings.TrimSuffix(base, "/") + page + "?" + q.Encode()
}
