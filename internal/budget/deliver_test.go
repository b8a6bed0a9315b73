package budget

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/athenawatch/athenawatch/internal/store"
	"github.com/athenawatch/athenawatch/internal/usage"
)

// receiver is a webhook endpoint that refuses the first `down` requests.
type receiver struct {
	mu      sync.Mutex
	down    int
	status  int // answered while down
	got     []http.Header
	bodies  [][]byte
	srv     *httptest.Server
	secret  []byte
	badSigs int
}

func newReceiver(t *testing.T, down, status int, secret string) *receiver {
	r := &receiver{down: down, status: status, secret: []byte(secret)}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		defer r.mu.Unlock()
		if r.down > 0 {
			r.down--
			w.WriteHeader(r.status)
			return
		}
		if Sign(r.secret, req.Header.Get(HeaderTimestamp), body) != req.Header.Get(HeaderSignature) {
			r.badSigs++
		}
		r.got = append(r.got, req.Header.Clone())
		r.bodies = append(r.bodies, body)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) keys() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, h := range r.got {
		out = append(out, h.Get(HeaderIdempotencyKey))
	}
	return out
}

// alerting is a fixture with one user over a $10 limit (thresholds 0.5 and
// 1: two alerts), and a webhook notifier.
func alerting(t *testing.T, url string) (*fixture, time.Time) {
	f := newFixture(t, `
notifiers: [{name: ops, type: webhook, url: "`+url+`", secret_env: OPS_SECRET}]
budgets: [{name: user-month, scope: {user: "*"}, limit_usd: 10, thresholds: [0.5, 1], notify: [ops]}]
`)
	return f, alertingQueries(f)
}

// alertingQueries gives alice $15 and bob $1 of queries on 2026-11-18 and
// returns that day's noon.
func alertingQueries(f *fixture) time.Time {
	at := time.Date(2026, 11, 18, 12, 0, 0, 0, time.UTC)
	for i := range 3 {
		f.query("alice", at.Add(-time.Duration(i+1)*time.Hour), 1, false) // $15
	}
	f.query("bob", at.Add(-time.Hour), 0.2, false) // $1: no alert
	return at
}

func (f *fixture) fire(ctx context.Context, at time.Time) []store.Alert {
	f.t.Helper()
	e := &Evaluator{Src: f.st, Rules: f.rules, Prices: pricesOf(f)}
	statuses := f.evaluate(at)
	alerts, err := e.Alerts(ctx, f.cfg.Budgets, statuses, at, "https://athenawatch.example.com")
	if err != nil {
		f.t.Fatal(err)
	}
	fired, err := f.st.RecordAlerts(ctx, alerts, func(store.Alert) []string { return []string{"ops"} })
	if err != nil {
		f.t.Fatal(err)
	}
	return fired
}

func TestAlertsAreDeliveredExactlyOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rcv := newReceiver(t, 2, http.StatusServiceUnavailable, "s3cr3t-value")
	f, at := alerting(t, rcv.srv.URL)
	senders, err := Senders(f.cfg, Env{Getenv: func(k string) string { return map[string]string{"OPS_SECRET": "s3cr3t-value"}[k] }})
	if err != nil {
		t.Fatal(err)
	}
	if fired := f.fire(ctx, at); len(fired) != 2 {
		t.Fatalf("fired %d alerts, want 2 (alice past 50%% and 100%%)", len(fired))
	}
	now := at
	d := &Deliverer{Store: f.st, Senders: senders, Now: func() time.Time { return now }, RetryBase: time.Minute}
	// The endpoint is down for two requests: the first run fails both
	// alerts, nothing is due a moment later, after the backoff they go.
	if sum, err := d.Run(ctx); err != nil || sum.Failed != 2 || sum.Sent != 0 {
		t.Fatalf("endpoint down: %+v, %v", sum, err)
	}
	now = now.Add(time.Second)
	if sum, err := d.Run(ctx); err != nil || sum.Failed+sum.Sent != 0 {
		t.Fatalf("before the backoff: %+v, %v", sum, err)
	}
	now = now.Add(2 * time.Minute)
	if sum, err := d.Run(ctx); err != nil || sum.Sent != 2 {
		t.Fatalf("after the backoff: %+v, %v", sum, err)
	}
	// Again: nothing new fires, nothing is sent.
	if fired := f.fire(ctx, at.Add(time.Hour)); len(fired) != 0 {
		t.Fatalf("fired again: %+v", fired)
	}
	now = now.Add(time.Hour)
	if sum, err := d.Run(ctx); err != nil || sum.Sent != 0 {
		t.Fatalf("re-run: %+v, %v", sum, err)
	}
	keys := rcv.keys()
	if len(keys) != 2 || keys[0] == keys[1] || rcv.badSigs != 0 {
		t.Fatalf("received keys %v, %d bad signatures", keys, rcv.badSigs)
	}
	var m Message
	if err := json.Unmarshal(rcv.bodies[0], &m); err != nil {
		t.Fatal(err)
	}
	if m.IdempotencyKey != keys[0] || m.Scope != "user=alice" || !near(m.Spent, 15) || m.Limit != 10 || len(m.TopQueries) != 3 ||
		!strings.HasPrefix(m.DashboardURL, "https://athenawatch.example.com/queries?") {
		t.Fatalf("message %+v", m)
	}
	for _, b := range rcv.bodies {
		if strings.Contains(string(b), "s3cr3t") {
			t.Fatal("the secret is in the message")
		}
	}
}

func TestCrashBetweenSendingAndRecordingResendsTheSameKey(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rcv := newReceiver(t, 0, 0, "k")
	f, at := alerting(t, rcv.srv.URL)
	senders, _ := Senders(f.cfg, Env{Getenv: func(string) string { return "k" }})
	f.fire(ctx, at)
	crashed := false
	d := &Deliverer{Store: f.st, Senders: senders, sent: func(store.Delivery) error {
		if !crashed {
			crashed = true
			return context.Canceled // the process dies here
		}
		return nil
	}}
	if _, err := d.Run(ctx); err == nil {
		t.Fatal("the crash did not stop the run")
	}
	if sum, err := d.Run(ctx); err != nil || sum.Sent != 2 {
		t.Fatalf("after the crash: %+v, %v", sum, err)
	}
	keys := rcv.keys()
	// Three requests for two alerts: the one sent before the crash came
	// again, with the same key.
	if len(keys) != 3 || keys[0] != keys[1] {
		t.Fatalf("keys %v", keys)
	}
}

func TestRefusedAlertIsGivenUpAndMissingSecretWaits(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rcv := newReceiver(t, 100, http.StatusNotFound, "")
	f, at := alerting(t, rcv.srv.URL)
	f.fire(ctx, at)
	_, err := Senders(f.cfg, Env{Getenv: func(string) string { return "" }})
	if err == nil || !strings.Contains(err.Error(), "OPS_SECRET") {
		t.Fatalf("missing secret: %v", err)
	}
	d := &Deliverer{Store: f.st, Senders: map[string]Sender{}, Broken: map[string]error{"ops": err}}
	if sum, err := d.Run(ctx); err != nil || sum.Waiting != 2 || sum.Sent+sum.Failed+sum.GivenUp != 0 {
		t.Fatalf("broken notifier: %+v, %v", sum, err)
	}
	senders, _ := Senders(f.cfg, Env{Getenv: func(string) string { return "k" }})
	d = &Deliverer{Store: f.st, Senders: senders}
	if sum, err := d.Run(ctx); err != nil || sum.GivenUp != 2 || !strings.Contains(sum.Why, "HTTP 404") || strings.Contains(sum.Why, rcv.srv.URL) {
		t.Fatalf("refused: %+v, %v", sum, err)
	}
	if sum, _ := d.Run(ctx); sum.GivenUp+sum.Sent+sum.Failed != 0 {
		t.Fatalf("given up deliveries came back: %+v", sum)
	}
}

func TestSlackText(t *testing.T) {
	m := Message{Budget: "b", Scope: "user=<!channel>&x", Kind: "actual", Period: "week", Unit: "usd", Spent: 12.3, Limit: 15, Ratio: 0.82, Threshold: 0.8,
		TopQueries:   []TopQuery{{User: "<@U123>", CostUSD: 1.5, Text: "SELECT `x` FROM t -- <b>"}},
		DashboardURL: "https://a.example.com/queries?user=a|b"}
	got := SlackText(m)
	for _, bad := range []string{"<!channel>", "<@U123>", "<b>", "`x`", "a|b"} {
		if strings.Contains(got, bad) {
			t.Errorf("message keeps %q:\n%s", bad, got)
		}
	}
	if !strings.Contains(got, "spent $12.30 of $15.00 this week (82%), past the 80% threshold") || !strings.Contains(got, "|Open in athenawatch>") {
		t.Errorf("message:\n%s", got)
	}
}

func pricesOf(f *fixture) usage.Prices { return usage.PricesOf(f.cfg) }
