package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	neturl "net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/athenawatch/athenawatch/internal/awsemu"
	"github.com/athenawatch/athenawatch/internal/awsemu/orgsim"
)

// serveProcess is a running `athenawatch serve` and its stderr, line by line.
type serveProcess struct {
	cmd   *exec.Cmd
	lines chan string
	seen  []string
	url   string
}

// startServe starts serve with args and waits for the URL it prints.
func startServe(t *testing.T, ctx context.Context, env []string, args ...string) *serveProcess {
	t.Helper()
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Env = append(scrubbedEnv(), env...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &serveProcess{cmd: cmd, lines: make(chan string, 1024)}
	go func() {
		defer close(p.lines)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			p.lines <- sc.Text()
		}
	}()
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	line := p.waitFor(t, "serve: dashboard at ")
	p.url = strings.Fields(strings.TrimPrefix(line, "serve: dashboard at "))[0]
	return p
}

// waitFor returns the first line of stderr that contains want, reading on
// when no line read so far does.
func (p *serveProcess) waitFor(t *testing.T, want string) string {
	t.Helper()
	for _, line := range p.seen {
		if strings.Contains(line, want) {
			return line
		}
	}
	for line := range p.lines {
		p.seen = append(p.seen, line)
		if strings.Contains(line, want) {
			return line
		}
	}
	t.Fatalf("serve ended without printing %q:\n%s", want, strings.Join(p.seen, "\n"))
	return ""
}

// stop sends sig and returns the exit code and the rest of stderr.
func (p *serveProcess) stop(t *testing.T, sig os.Signal) (int, string) {
	t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	for line := range p.lines {
		p.seen = append(p.seen, line)
	}
	err := p.cmd.Wait()
	var ee *exec.ExitError
	code := 0
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return code, strings.Join(p.seen, "\n")
}

func getWith(t *testing.T, url, token string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(body)
}

// TestServeCollectsInTheBackground runs serve over a trail on the emulator:
// its first round collects and enriches every query, the API then lists
// them all with statistics, and SIGTERM stops it with exit 143.
func TestServeCollectsInTheBackground(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir := t.TempDir()
	trailDir := filepath.Join(dir, "trail")
	// The day before now: serve reconciles the last 30 days of the clock.
	end := time.Now().UTC().Truncate(time.Hour)
	res, emu, srv, err := orgsim.RunLocal(ctx, orgsim.Config{Seed: 9, Start: end.Add(-24 * time.Hour), End: end, QueriesPerDay: 40}, trailDir, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	emu.SetNow(end.Add(24 * time.Hour)) // every query has finished
	configPath := filepath.Join(dir, "athenawatch.yaml")
	lakeDir := filepath.Join(dir, "lake")
	billDir := filepath.Join(dir, "bill")
	if _, err := (orgsim.CURExport{}).WriteDir(res, billDir); err != nil {
		t.Fatal(err)
	}
	config := append(res.ConfigYAML(), fmt.Sprintf("export:\n  to: dir:%s\n  every: 1h\nreconcile:\n  cur: dir:%s\n", lakeDir, billDir)...)
	if err := os.WriteFile(configPath, config, 0o644); err != nil {
		t.Fatal(err)
	}
	env := []string{"AWS_ENDPOINT_URL=" + srv.URL, "AWS_ACCESS_KEY_ID=" + res.CollectorCredentials.AccessKeyID,
		"AWS_SECRET_ACCESS_KEY=" + res.CollectorCredentials.SecretAccessKey, "AWS_REGION=us-east-1"}
	db := filepath.Join(dir, "serve.db")
	p := startServe(t, ctx, env, "--db", db, "--config", configPath, "serve", "--addr", "127.0.0.1:0",
		"--source", "dir:"+trailDir, "--collect-every", "1h")
	p.waitFor(t, "collect round done")
	// The configured export follows the first round: every day collected
	// is in the lake.
	line := p.waitFor(t, "export done")
	parts, _ := filepath.Glob(filepath.Join(lakeDir, "usage", "dt=*", "usage.parquet"))
	if len(parts) == 0 || !strings.Contains(line, fmt.Sprintf("written=%d ", len(parts))) {
		t.Errorf("serve's export: %s; partitions %v", line, parts)
	}
	// The configured reconciliation follows it too, and the Bill page's
	// API shows the bill matched, but for queries that ended after the
	// bill was cut (the emulator's clock is a day later): those are on
	// the bill's newest day, explained as the bill not refreshed yet.
	p.waitFor(t, "reconcile done")
	code, body := getWith(t, p.url+"api/v1/reconcile", "")
	var rec struct {
		BillLastDay string `json:"bill_last_day"`
		Cells       []struct {
			Day    string  `json:"day"`
			GapUSD float64 `json:"gap_usd"`
			Cause  string  `json:"cause"`
		} `json:"cells"`
		Total struct {
			BilledUSD float64 `json:"billed_usd"`
		} `json:"total"`
	}
	if err := json.Unmarshal([]byte(body), &rec); code != 200 || err != nil || rec.Total.BilledUSD <= 0 || len(rec.Cells) == 0 {
		t.Fatalf("reconcile after the first round: %d %v %s", code, err, body)
	}
	for _, c := range rec.Cells {
		if c.Cause != "match" && !(c.Cause == "bill_not_refreshed" && c.Day == rec.BillLastDay && c.GapUSD < 0) {
			t.Errorf("cell %+v (bill's last day %s)", c, rec.BillLastDay)
		}
	}

	listed := map[string]bool{}
	cursor := ""
	for {
		code, body := getWith(t, p.url+"api/v1/queries?since=&limit=100&cursor="+cursor, "")
		if code != 200 {
			t.Fatalf("list queries: %d %s", code, body)
		}
		var page struct {
			Queries []struct {
				Region      string `json:"region"`
				QueryID     string `json:"query_id"`
				StatsStatus string `json:"stats_status"`
			} `json:"queries"`
			Next string `json:"next"`
		}
		if err := json.Unmarshal([]byte(body), &page); err != nil {
			t.Fatal(err)
		}
		for _, q := range page.Queries {
			listed[q.Region+"/"+q.QueryID] = true
			if q.StatsStatus != "final" {
				t.Errorf("query %s is %s after the round", q.QueryID, q.StatsStatus)
			}
		}
		if page.Next == "" {
			break
		}
		cursor = page.Next
	}
	if len(listed) != len(res.Queries) {
		t.Errorf("the API lists %d queries, the organization ran %d", len(listed), len(res.Queries))
	}
	code, stderr := p.stop(t, syscall.SIGTERM)
	if code != 143 || !strings.Contains(stderr, "serve: stopped") {
		t.Errorf("serve after SIGTERM: exit %d, want 143 after saying it stopped:\n%s", code, stderr)
	}
	if _, err := os.Stat(db); err != nil {
		t.Error(err)
	}
}

// TestServeNeedsATokenBeyondLoopback checks that serve refuses a
// non-loopback address without ATHENAWATCH_TOKEN, and with one asks every
// request for it.
func TestServeNeedsATokenBeyondLoopback(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "s.db")
	for _, addr := range []string{"0.0.0.0:0", ":0", "[::]:0"} {
		r := athenawatch(t, nil, "--db", db, "serve", "--addr", addr)
		if r.code != exitError || !strings.Contains(r.stderr, "ATHENAWATCH_TOKEN") || !strings.Contains(r.stderr, addr) {
			t.Errorf("serve --addr %s without a token: exit %d, want 1 naming ATHENAWATCH_TOKEN:\n%s", addr, r.code, r.stderr)
		}
	}
	r := athenawatch(t, []string{"ATHENAWATCH_TOKEN=short"}, "--db", db, "serve", "--addr", "0.0.0.0:0")
	if r.code != exitError || !strings.Contains(r.stderr, "at least") {
		t.Errorf("serve with a short token: exit %d\n%s", r.code, r.stderr)
	}

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	token := "serve-test-token-0123456789"
	p := startServe(t, ctx, []string{"ATHENAWATCH_TOKEN=" + token}, "--db", db, "serve", "--addr", "0.0.0.0:0")
	p.waitFor(t, "no sources")
	// The wildcard address the server listens on is reached on loopback.
	u, err := neturl.Parse(p.url)
	if err != nil {
		t.Fatal(err)
	}
	url := "http://127.0.0.1:" + u.Port() + "/"
	if code, _ := getWith(t, url+"api/v1/report", ""); code != 401 {
		t.Errorf("without the token: %d, want 401", code)
	}
	if code, body := getWith(t, url+"api/v1/report", token); code != 200 || body != "[]\n" {
		t.Errorf("with the token: %d %q", code, body)
	}
	if code, _ := getWith(t, url+"healthz", ""); code != 200 {
		t.Errorf("healthz without the token: %d, want 200", code)
	}
	code, stderr := p.stop(t, os.Interrupt)
	if code != 130 || strings.Contains(stderr, token) {
		t.Errorf("serve after SIGINT: exit %d, want 130, and the token never in the log:\n%s", code, stderr)
	}
}

// TestServeStopsARoundOnSIGTERM signals serve while its round waits on
// Athena: the API meanwhile shows the collected queries as pending (cost
// null, not 0); serve then exits 143 having kept what the round committed,
// and a collect afterwards reads no file again.
func TestServeStopsARoundOnSIGTERM(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir := t.TempDir()
	trailDir := filepath.Join(dir, "trail")
	end := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	sim := orgsim.New(orgsim.Config{Seed: 11, Start: end.Add(-24 * time.Hour), End: end, QueriesPerDay: 30})
	emu := awsemu.New(sim.EmulatorOptions(nil))
	g := &gate{next: emu, arrived: make(chan struct{}, 1), release: make(chan struct{})}
	srv := httptest.NewServer(g)
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(g.release) })
	res, err := sim.Run(ctx, emu, srv.URL, trailDir)
	if err != nil {
		t.Fatal(err)
	}
	configPath := filepath.Join(dir, "athenawatch.yaml")
	if err := os.WriteFile(configPath, res.ConfigYAML(), 0o644); err != nil {
		t.Fatal(err)
	}
	env := []string{"AWS_ENDPOINT_URL=" + srv.URL, "AWS_ACCESS_KEY_ID=" + res.CollectorCredentials.AccessKeyID,
		"AWS_SECRET_ACCESS_KEY=" + res.CollectorCredentials.SecretAccessKey, "AWS_REGION=us-east-1"}
	db := filepath.Join(dir, "serve.db")
	g.setClosed(true)
	p := startServe(t, ctx, env, "--db", db, "--config", configPath, "serve", "--addr", "127.0.0.1:0", "--source", "dir:"+trailDir)
	select {
	case <-g.arrived:
	case <-ctx.Done():
		t.Fatal("serve's round never asked Athena")
	}
	code, body := getWith(t, p.url+"api/v1/queries?since=&limit=1", "")
	var page struct {
		Queries []map[string]any `json:"queries"`
	}
	if err := json.Unmarshal([]byte(body), &page); code != 200 || err != nil || len(page.Queries) != 1 {
		t.Fatalf("list while enriching: %d %v %s", code, err, body)
	}
	if q := page.Queries[0]; q["stats_status"] != "pending" || q["cost_usd"] != nil {
		t.Errorf("a query waiting for statistics is listed as %v with cost %v, want pending and null", q["stats_status"], q["cost_usd"])
	}
	code, stderr := p.stop(t, syscall.SIGTERM)
	if code != 143 || !strings.Contains(stderr, "collect round stopped") || !strings.Contains(stderr, "serve: stopped") {
		t.Fatalf("serve after SIGTERM mid-round: exit %d, want 143\n%s", code, stderr)
	}
	g.setClosed(false)
	r := athenawatch(t, env, "--db", db, "--config", configPath, "collect", "--source", "dir:"+trailDir)
	if r.code != 0 || !strings.Contains(r.stderr, "0 files read") || !strings.Contains(r.stderr, fmt.Sprintf("asked Athena about %d queries", len(res.Queries))) {
		t.Fatalf("collect after serve: exit %d\n%s", r.code, r.stderr)
	}
}
