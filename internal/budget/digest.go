package budget

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/athenawatch/athenawatch/internal/config"
	"github.com/athenawatch/athenawatch/internal/store"
	"github.com/athenawatch/athenawatch/internal/usage"
)

// DigestName is the name digests are recorded under among the alerts (a
// budget may not take it): each team's digest of a week is sent once.
const DigestName = "weekly-digest"

// TopUser is one of the users who spent most in a digest's team and week.
type TopUser struct {
	User    string  `json:"user"`
	CostUSD float64 `json:"cost_usd"`
	Queries int64   `json:"queries"`
}

// Digests are the weekly digests due at at: for each team with queries in
// the last complete week (Monday to Monday in the digest's time zone),
// its spend, the week before's, its top users and top queries.
func (e *Evaluator) Digests(ctx context.Context, d config.Digest, at time.Time, dashboard string) ([]store.Alert, error) {
	loc, err := time.LoadLocation(d.TimeZone)
	if err != nil {
		return nil, err
	}
	this := PeriodAt("week", at, loc)
	last := Period{Start: this.Start.AddDate(0, 0, -7), End: this.Start}
	prev := Period{Start: last.Start.AddDate(0, 0, -7), End: last.Start}
	report := func(by string, p Period, match map[string][]string, top int) (*usage.Report, error) {
		return usage.BuildReport(ctx, e.Src, e.Rules, e.Prices, usage.ReportOptions{
			By: by, Top: top, Filter: store.Filter{Since: p.Start, Until: p.End, Match: match}, Now: p.End,
		})
	}
	teams, err := report("team", last, nil, 0)
	if err != nil {
		return nil, err
	}
	before, err := report("team", prev, nil, 0)
	if err != nil {
		return nil, err
	}
	previous := map[string]float64{}
	for _, r := range before.Rows {
		previous[r.Key] = r.Value("cost_usd").Float()
	}
	var out []store.Alert
	for _, t := range teams.Rows {
		if t.Value("queries").Int() == 0 {
			continue
		}
		match := map[string][]string{"team": {t.Key}}
		users, err := report("user", last, match, 3)
		if err != nil {
			return nil, err
		}
		queries, err := report("query", last, match, 3)
		if err != nil {
			return nil, err
		}
		scope := "team=" + t.Key
		m := Message{
			IdempotencyKey: alertKey(DigestName, scope, last.Start, 0), Budget: DigestName, Scope: scope, Kind: "digest", Period: "week",
			PeriodStart: last.Start, PeriodEnd: last.End, Unit: "usd", Spent: t.Value("cost_usd").Float(), Pending: t.Value("pending").Int(),
			Queries: t.Value("queries").Int(), PreviousSpent: previous[t.Key], FiredAt: at.UTC(), TopUsers: []TopUser{}, TopQueries: topOf(queries),
		}
		for _, u := range users.Rows {
			m.TopUsers = append(m.TopUsers, TopUser{User: u.Key, CostUSD: u.Value("cost_usd").Float(), Queries: u.Value("queries").Int()})
		}
		if dashboard != "" {
			q := url.Values{}
			q.Set("since", last.Start.UTC().Format(time.RFC3339))
			q.Set("until", last.End.UTC().Format(time.RFC3339))
			m.DashboardURL = strings.TrimSuffix(dashboard, "/") + "/teams/" + url.PathEscape(t.Key) + "?" + q.Encode()
		}
		payload, err := json.Marshal(m)
		if err != nil {
			return nil, err
		}
		out = append(out, store.Alert{Budget: DigestName, Scope: scope, PeriodStart: last.Start, Key: m.IdempotencyKey, FiredAt: at.UTC(), Payload: string(payload)})
	}
	return out, nil
}

// topOf turns a report by query into top queries.
func topOf(rep *usage.Report) []TopQuery {
	out := []TopQuery{}
	for _, r := range rep.Rows {
		q := TopQuery{QueryID: r.Key, CostUSD: r.Value("cost_usd").Float()}
		q.Region, _ = r.Detail("region").(string)
		q.User, _ = r.Detail("user").(string)
		q.Text, _ = r.Detail("text").(string)
		if len(q.Text) > 500 {
			q.Text = strings.ToValidUTF8(q.Text[:500], "") + "…"
		}
		out = append(out, q)
	}
	return out
}

// digestText writes a digest's summary line.
func digestText(m Message, esc func(string) string) string {
	change := ""
	if m.PreviousSpent > 0 {
		change = fmt.Sprintf(" (the week before: $%.2f, %+.0f%%)", m.PreviousSpent, 100*(m.Spent/m.PreviousSpent-1))
	}
	s := fmt.Sprintf("Athena weekly digest, %s, week from %s: $%.2f over %d queries%s.", esc(m.Scope), m.PeriodStart.Format("2006-01-02"), m.Spent, m.Queries, change)
	if len(m.TopUsers) > 0 {
		var us []string
		for _, u := range m.TopUsers {
			us = append(us, fmt.Sprintf("%s $%.2f", esc(u.User), u.CostUSD))
		}
		s += " Top users: " + strings.Join(us, ", ") + "."
	}
	return s
}
