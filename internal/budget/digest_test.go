package budget

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/athenawatch/athenawatch/internal/store"
)

func TestWeeklyDigest(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t, `
teams: [{name: data, users: [alice, bob]}, {name: web, users: [carol]}]
notifiers: [{name: ops, type: webhook, url: "https://hooks.example.com/x"}]
digest: {notify: [ops], time_zone: Europe/Berlin}
`)
	// The week of Monday 2026-11-16 (Berlin): alice $10, bob $5, carol
	// $5; the week before: data $5. Nothing for web the week before.
	wk := time.Date(2026, 11, 16, 10, 0, 0, 0, time.UTC)
	f.query("alice", wk, 1, false)
	f.query("alice", wk.Add(24*time.Hour), 1, false)
	f.query("bob", wk.Add(48*time.Hour), 1, false)
	f.query("carol", wk.Add(72*time.Hour), 1, false)
	f.query("alice", wk.AddDate(0, 0, -7), 1, false)
	f.query("carol", wk.AddDate(0, 0, 7), 1, false) // this week: not in the digest
	at := wk.AddDate(0, 0, 8)                       // Tuesday of the week after
	f.evaluate(at)                                  // commits the queries
	e := &Evaluator{Src: f.st, Rules: f.rules, Prices: pricesOf(f)}
	ds, err := e.Digests(ctx, f.cfg.Digest, at, "https://athenawatch.example.com")
	if err != nil || len(ds) != 2 {
		t.Fatalf("digests %d, %v", len(ds), err)
	}
	byTeam := map[string]Message{}
	for _, d := range ds {
		var m Message
		if err := json.Unmarshal([]byte(d.Payload), &m); err != nil {
			t.Fatal(err)
		}
		byTeam[m.Scope] = m
	}
	data := byTeam["team=data"]
	if !near(data.Spent, 15) || !near(data.PreviousSpent, 5) || data.Queries != 3 || len(data.TopUsers) != 2 || data.TopUsers[0].User != "alice" ||
		data.PeriodStart.Format(time.RFC3339) != "2026-11-16T00:00:00+01:00" || !strings.Contains(data.DashboardURL, "/teams/data?") {
		t.Fatalf("data digest %+v", data)
	}
	if web := byTeam["team=web"]; !near(web.Spent, 5) || web.PreviousSpent != 0 {
		t.Fatalf("web digest %+v", web)
	}
	text := SlackText(data)
	if !strings.Contains(text, "weekly digest, team=data, week from 2026-11-16: $15.00 over 3 queries (the week before: $5.00, +200%)") {
		t.Fatalf("slack text:\n%s", text)
	}
	// Once per team and week.
	for range 2 {
		fired, err := f.st.RecordAlerts(ctx, ds, func(store.Alert) []string { return []string{"ops"} })
		if err != nil {
			t.Fatal(err)
		}
		if len(fired) != 2 && len(fired) != 0 {
			t.Fatalf("fired %d", len(fired))
		}
	}
	due, err := f.st.DueDeliveries(ctx, at.Add(time.Hour), 10)
	if err != nil || len(due) != 2 {
		t.Fatalf("deliveries %d, %v", len(due), err)
	}
}
