package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/athenawatch/athenawatch/internal/budget"
)

// TestBudgetsCheck: on the simulated organization, each user's spend in a
// month budget equals the report by user over the same window, to the
// cent, and the states follow the limit.
func TestBudgetsCheck(t *testing.T) {
	s := simulate(t)
	s.emu.SetNow(s.settled)
	dir := t.TempDir()
	db := filepath.Join(dir, "b.db")
	if r := s.run(t, db, "collect", "--source", "dir:"+s.trailDir); r.code != 0 {
		t.Fatalf("collect: exit %d\n%s", r.code, r.stderr)
	}
	base, err := os.ReadFile(s.configPath)
	if err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "budgets.yaml")
	budgets := "\nbudgets:\n  - {name: user-month, scope: {user: \"*\"}, limit_usd: 0.5, period: month, thresholds: [0.5, 1.0]}\n"
	if err := os.WriteFile(cfg, append(base, budgets...), 0o644); err != nil {
		t.Fatal(err)
	}
	at := s.end.Format(time.RFC3339)
	r := athenawatch(t, s.env, "--db", db, "--config", cfg, "budgets", "check", "--at", at, "--format", "json")
	if r.code != 0 {
		t.Fatalf("budgets check: exit %d\n%s", r.code, r.stderr)
	}
	var rows []struct {
		Scope    string  `json:"scope"`
		SpentUSD float64 `json:"spent_usd"`
		Ratio    float64 `json:"ratio"`
		State    string  `json:"state"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &rows); err != nil {
		t.Fatalf("decode: %v\n%s", err, r.stdout)
	}
	month := time.Date(s.end.Year(), s.end.Month(), 1, 0, 0, 0, 0, time.UTC).Format("2006-01-02")
	rep := athenawatch(t, s.env, "--db", db, "--config", cfg, "report", "--by", "user", "--since", month, "--until", at, "--format", "json")
	want := decodeRows(t, "user", rep.stdout)
	if len(rows) == 0 || len(rows) != len(want) {
		t.Fatalf("%d budget scopes, %d users in the report", len(rows), len(want))
	}
	over := 0
	for _, row := range rows {
		user := strings.TrimPrefix(row.Scope, "user=")
		cost, _ := want[user]["cost_usd"].Float64()
		if math.Abs(cost-row.SpentUSD) > 0.005 {
			t.Errorf("%s: budget spent %.4f, report %.4f", user, row.SpentUSD, cost)
		}
		wantState := "ok"
		switch {
		case row.SpentUSD >= 0.5:
			wantState = "over"
			over++
		case row.SpentUSD >= 0.25:
			wantState = "warning"
		}
		if row.State != wantState || math.Abs(row.Ratio-row.SpentUSD/0.5) > 1e-9 {
			t.Errorf("%s: state %s ratio %v for %.4f of 0.50", user, row.State, row.Ratio, row.SpentUSD)
		}
	}
	if over == 0 {
		t.Fatal("no user over the limit: the test proves little")
	}
	r = athenawatch(t, s.env, "--db", db, "--config", cfg, "budgets", "check", "--at", at)
	if r.code != 0 || !strings.Contains(r.stdout, "user-month") || !strings.Contains(r.stdout, "over") {
		t.Fatalf("table: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	// Alerts: each user over a threshold, once per threshold, to a
	// webhook; a second run sends nothing.
	var mu sync.Mutex
	got := map[string]int{}
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		if budget.Sign([]byte("hook-secret-123"), r.Header.Get(budget.HeaderTimestamp), body) == r.Header.Get(budget.HeaderSignature) {
			got[r.Header.Get(budget.HeaderIdempotencyKey)]++
		}
	}))
	defer hook.Close()
	notify := fmt.Sprintf("\nnotifiers: [{name: ops, type: webhook, url: %q, secret_env: HOOK_SECRET}]\n", hook.URL)
	alerting := strings.Replace(budgets, "thresholds: [0.5, 1.0]}", "thresholds: [0.5, 1.0], notify: [ops]}", 1)
	if err := os.WriteFile(cfg, append(append(base, alerting...), notify...), 0o644); err != nil {
		t.Fatal(err)
	}
	env := append(slices.Clone(s.env), "HOOK_SECRET=hook-secret-123")
	wantAlerts := 0
	for _, row := range rows {
		if row.SpentUSD >= 0.5 {
			wantAlerts += 2
		} else if row.SpentUSD >= 0.25 {
			wantAlerts++
		}
	}
	for run := range 2 {
		args := []string{"--db", db, "--config", cfg, "budgets", "check", "--at", at, "--notify"}
		if run == 0 {
			args = append(args, "--format", "json")
		}
		r = athenawatch(t, env, args...)
		if r.code != 0 || strings.Contains(r.stdout+r.stderr, "hook-secret-123") {
			t.Fatalf("budgets check --notify (run %d): exit %d\n%s%s", run, r.code, r.stdout, r.stderr)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != wantAlerts {
		t.Fatalf("webhook got %d alerts, want %d", len(got), wantAlerts)
	}
	for k, n := range got {
		if n != 1 {
			t.Fatalf("alert %s delivered %d times", k, n)
		}
	}
}

// TestNotifyKilledBetweenSendingAndRecording kills budgets check --notify
// with SIGKILL while the webhook holds its first alert (sent, not yet
// recorded as delivered): the next run sends every alert, that one again
// with the same idempotency key, and no other twice.
func TestNotifyKilledBetweenSendingAndRecording(t *testing.T) {
	s := simulate(t)
	s.emu.SetNow(s.settled)
	dir := t.TempDir()
	db := filepath.Join(dir, "k.db")
	if r := s.run(t, db, "collect", "--source", "dir:"+s.trailDir); r.code != 0 {
		t.Fatalf("collect: exit %d\n%s", r.code, r.stderr)
	}
	var mu sync.Mutex
	got := map[string]int{}
	var victim *os.Process
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got[r.Header.Get(budget.HeaderIdempotencyKey)]++
		p := victim
		victim = nil
		mu.Unlock()
		if p != nil {
			p.Signal(syscall.SIGKILL) // the sender dies before it records the delivery
			time.Sleep(200 * time.Millisecond)
		}
	}))
	defer hook.Close()
	base, err := os.ReadFile(s.configPath)
	if err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "k.yaml")
	extra := fmt.Sprintf("\nbudgets:\n  - {name: user-month, scope: {user: \"*\"}, limit_usd: 0.5, period: month, thresholds: [0.5, 1.0], notify: [ops]}\n"+
		"notifiers: [{name: ops, type: webhook, url: %q}]\n", hook.URL)
	if err := os.WriteFile(cfg, append(base, extra...), 0o644); err != nil {
		t.Fatal(err)
	}
	at := s.end.Format(time.RFC3339)
	cmd := exec.Command(binary, "--db", db, "--config", cfg, "budgets", "check", "--at", at, "--notify")
	cmd.Env = append(scrubbedEnv(), s.env...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	victim = cmd.Process
	mu.Unlock()
	if err := cmd.Wait(); err == nil {
		t.Fatal("the first run was not killed")
	}
	if r := athenawatch(t, s.env, "--db", db, "--config", cfg, "budgets", "check", "--at", at, "--notify"); r.code != 0 {
		t.Fatalf("second run: exit %d\n%s", r.code, r.stderr)
	}
	mu.Lock()
	defer mu.Unlock()
	twice := 0
	for k, n := range got {
		switch n {
		case 1:
		case 2:
			twice++
		default:
			t.Errorf("alert %s delivered %d times", k, n)
		}
	}
	if twice != 1 || len(got) < 2 {
		t.Fatalf("deliveries %v: want every alert, exactly one of them twice", got)
	}
}
