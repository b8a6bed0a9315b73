package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"github.com/athenawatch/athenawatch/internal/awsemu"
	"github.com/athenawatch/athenawatch/internal/awsemu/orgsim"
)

// The end-to-end tests share one simulated organization: 50 days of Athena
// use (the oldest five beyond Athena's 45-day history) on the emulator,
// written as a CloudTrail trail with noise and duplicate deliveries. They
// run in order, not in parallel: they move the emulator clock.
var (
	simOnce sync.Once
	sim     *simulation
	simErr  error
)

type simulation struct {
	res        *orgsim.Result
	emu        *awsemu.Emulator
	srv        *awsemu.Server
	trailDir   string
	configPath string
	env        []string
	end        time.Time
	// settled is a clock after every query has finished.
	settled time.Time
}

func simulate(t *testing.T) *simulation {
	t.Helper()
	simOnce.Do(func() {
		dir, err := os.MkdirTemp("", "athenawatch-e2e-")
		if err != nil {
			simErr = err
			return
		}
		end := time.Date(2026, 10, 15, 12, 0, 0, 0, time.UTC)
		res, emu, srv, err := orgsim.RunLocal(context.Background(), orgsim.Config{
			Seed:          7,
			Start:         end.Add(-50 * 24 * time.Hour),
			End:           end,
			QueriesPerDay: 24,
			NoiseRatio:    0.97,
			DuplicateRate: 0.02,
		}, filepath.Join(dir, "trail"), "127.0.0.1:0")
		if err != nil {
			simErr = err
			return
		}
		s := &simulation{res: res, emu: emu, srv: srv, trailDir: filepath.Join(dir, "trail"), end: end,
			configPath: filepath.Join(dir, "athenawatch.yaml"), settled: end}
		for _, q := range res.Queries {
			if q.Completed.After(s.settled) {
				s.settled = q.Completed
			}
		}
		s.settled = s.settled.Add(time.Second)
		if err := os.WriteFile(s.configPath, res.ConfigYAML(), 0o644); err != nil {
			simErr = err
			return
		}
		s.env = []string{
			"AWS_ENDPOINT_URL=" + srv.URL,
			"AWS_ACCESS_KEY_ID=" + res.CollectorCredentials.AccessKeyID,
			"AWS_SECRET_ACCESS_KEY=" + res.CollectorCredentials.SecretAccessKey,
			"AWS_REGION=us-east-1",
		}
		sim = s
	})
	if simErr != nil {
		t.Fatalf("simulate organization: %v", simErr)
	}
	return sim
}

// run runs athenawatch against the simulation's emulator and config.
func (s *simulation) run(t *testing.T, db string, args ...string) result {
	t.Helper()
	return athenawatch(t, s.env, append([]string{"--db", db, "--config", s.configPath}, args...)...)
}

// reportRows runs report --format json over all time.
func (s *simulation) reportRows(t *testing.T, db, by string) map[string]map[string]json.Number {
	t.Helper()
	r := s.run(t, db, "report", "--by", by, "--since", "2000-01-01", "--format", "json")
	if r.code != 0 {
		t.Fatalf("report --by %s: exit %d\n%s", by, r.code, r.stderr)
	}
	return decodeRows(t, by, r.stdout)
}

func decodeRows(t *testing.T, by, out string) map[string]map[string]json.Number {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(out))
	dec.UseNumber()
	var rows []map[string]any
	if err := dec.Decode(&rows); err != nil {
		t.Fatalf("decode report: %v\n%s", err, out)
	}
	got := map[string]map[string]json.Number{}
	for _, row := range rows {
		key, ok := row[by].(string)
		if !ok {
			t.Fatalf("row without %q key: %v", by, row)
		}
		m := map[string]json.Number{}
		for k, v := range row {
			if n, ok := v.(json.Number); ok {
				m[k] = n
			}
		}
		got[key] = m
	}
	return got
}

// truthAgg is the ground truth of one report row, computed here from the
// simulation's own record of every query, independently of package usage.
type truthAgg struct {
	queries, succeeded, failed, cancelled, bytes, billed, engineMs, noStats int64
	dpuMillis                                                               int64 // DPU count × engine ms on provisioned capacity
	billedByRegion                                                          map[string]int64
}

// expected computes report rows from the ground truth; noStatsAt is the
// emulator clock at which the store first asked Athena about each query.
func (s *simulation) expected(by string, forgotten func(orgsim.Query) bool) map[string]*truthAgg {
	const mib = 1 << 20
	out := map[string]*truthAgg{}
	for _, q := range s.res.Queries {
		user, team := q.User, q.Team
		if forgotten(q) && q.Role == orgsim.BIRole {
			// The person is named only in the query text, which CloudTrail
			// omits and Athena has forgotten: the BI session is the user.
			user, team = orgsim.BISession, s.res.UserTeams[orgsim.BISession]
		}
		var key string
		switch by {
		case "user":
			key = user
		case "database":
			key = q.Database
		case "team":
			key = team
		case "region":
			key = q.Region
		default:
			panic("no ground truth for " + by)
		}
		a := out[key]
		if a == nil {
			a = &truthAgg{billedByRegion: map[string]int64{}}
			out[key] = a
		}
		a.queries++
		if forgotten(q) {
			a.noStats++
			continue
		}
		switch q.FinalState {
		case "SUCCEEDED":
			a.succeeded++
		case "FAILED":
			a.failed++
		case "CANCELLED":
			a.cancelled++
		}
		a.bytes += q.DataScannedBytes
		a.engineMs += q.EngineTime.Milliseconds()
		if q.Provisioned {
			a.dpuMillis += int64(math.Round(q.DPUCount * float64(q.EngineTime.Milliseconds())))
		}
		// Athena's pricing: DML that succeeded or was cancelled, not a
		// reused result, not on provisioned capacity; whole MiB, 10 MiB minimum.
		if q.StatementType == "DML" && (q.FinalState == "SUCCEEDED" || q.FinalState == "CANCELLED") && !q.Reused && !q.Provisioned {
			billed := (q.DataScannedBytes + mib - 1) / mib * mib
			billed = max(billed, 10*mib)
			a.billed += billed
			a.billedByRegion[q.Region] += billed
		}
	}
	return out
}

func (a *truthAgg) cost() float64 {
	regions := make([]string, 0, len(a.billedByRegion))
	for r := range a.billedByRegion {
		regions = append(regions, r)
	}
	sort.Strings(regions)
	var c float64
	for _, r := range regions {
		c += float64(a.billedByRegion[r]) * 5.0 / (1 << 40)
	}
	// Provisioned capacity: DPU-hours at the default 0.30 USD each.
	return c + a.dpuHours()*0.30
}

func (a *truthAgg) dpuHours() float64 {
	return float64(a.dpuMillis) / 3_600_000
}

func assertEqualTruth(t *testing.T, by string, got map[string]map[string]json.Number, want map[string]*truthAgg) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("report --by %s has %d rows, ground truth %d", by, len(got), len(want))
	}
	for key, w := range want {
		g, ok := got[key]
		if !ok {
			t.Errorf("report --by %s lacks %q", by, key)
			continue
		}
		for _, c := range []struct {
			name string
			want int64
		}{
			{"queries", w.queries}, {"succeeded", w.succeeded}, {"failed", w.failed}, {"cancelled", w.cancelled},
			{"bytes_scanned", w.bytes}, {"billed_bytes", w.billed}, {"no_stats", w.noStats}, {"engine_ms", w.engineMs},
		} {
			if v, err := g[c.name].Int64(); err != nil || v != c.want {
				t.Errorf("%s %q: %s = %s, ground truth %d", by, key, c.name, g[c.name], c.want)
			}
		}
		if v, err := g["dpu_hours"].Float64(); err != nil || v != w.dpuHours() {
			t.Errorf("%s %q: dpu_hours = %s, ground truth %v", by, key, g["dpu_hours"], w.dpuHours())
		}
		if v, err := g["cost_usd"].Float64(); err != nil || v != w.cost() {
			t.Errorf("%s %q: cost_usd = %s, ground truth %v", by, key, g["cost_usd"], w.cost())
		}
	}
}

func forgottenAt(now time.Time) func(orgsim.Query) bool {
	return func(q orgsim.Query) bool { return now.Sub(q.Submitted) >= 45*24*time.Hour }
}

func TestEndToEnd(t *testing.T) {
	s := simulate(t)
	var stillRunning, noStats int
	for _, q := range s.res.Queries {
		if q.State != q.FinalState {
			stillRunning++
		}
		if q.NoStats {
			noStats++
		}
	}
	if stillRunning == 0 || noStats == 0 || len(s.res.Rejected) == 0 || s.res.Trail.AthenaDuplicates == 0 {
		t.Fatalf("the simulation must exercise running queries (%d), forgotten ones (%d), rejected submissions (%d) and duplicate deliveries (%d)",
			stillRunning, noStats, len(s.res.Rejected), s.res.Trail.AthenaDuplicates)
	}
	db := filepath.Join(t.TempDir(), "e2e.db")
	s.emu.SetNow(s.end)

	r := s.run(t, db, "collect", "--source", "dir:"+s.trailDir)
	if r.code != 0 {
		t.Fatalf("collect: exit %d\n%s", r.code, r.stderr)
	}
	if want := fmt.Sprintf("%d left pending", stillRunning); !strings.Contains(r.stderr, want) {
		t.Fatalf("collect at the end of the period should leave the %d running queries pending:\n%s", stillRunning, r.stderr)
	}
	// Later the running queries have finished: enrich asks again for
	// exactly those, and the store then equals the ground truth.
	s.emu.SetNow(s.settled)
	r = s.run(t, db, "enrich")
	if r.code != 0 || !strings.Contains(r.stderr, fmt.Sprintf("asked Athena about %d queries", stillRunning)) {
		t.Fatalf("enrich: exit %d, want %d queries asked again:\n%s", r.code, stillRunning, r.stderr)
	}
	for _, by := range []string{"user", "database", "team", "region"} {
		assertEqualTruth(t, by, s.reportRows(t, db, by), s.expected(by, forgottenAt(s.end)))
	}

	// Re-running collect over the same trail changes nothing.
	r = s.run(t, db, "collect", "--source", "dir:"+s.trailDir)
	if r.code != 0 || !strings.Contains(r.stderr, "0 files read") || !strings.Contains(r.stderr, "asked Athena about 0 queries") {
		t.Fatalf("second collect: exit %d\n%s", r.code, r.stderr)
	}
	assertEqualTruth(t, "user", s.reportRows(t, db, "user"), s.expected("user", forgottenAt(s.end)))

	// Rejected submissions are counted apart from queries.
	r = s.run(t, db, "report", "--by", "user", "--since", "2000-01-01")
	if want := fmt.Sprintf("%d rejected submissions", len(s.res.Rejected)); r.code != 0 || !strings.Contains(r.stdout, want) {
		t.Fatalf("table report lacks %q:\n%s", want, r.stdout)
	}
}

// TestKillMidCollect kills collect subprocesses with SIGKILL at growing
// delays, then lets one finish: the store must equal the ground truth, with
// nothing lost and nothing counted twice.
func TestKillMidCollect(t *testing.T) {
	s := simulate(t)
	s.emu.SetNow(s.settled)
	db := filepath.Join(t.TempDir(), "kill.db")
	var total int
	filepath.WalkDir(s.trailDir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && !strings.Contains(p, "Digest") {
			total++
		}
		return nil
	})
	s.killCollects(t, db, total, 100*time.Millisecond, 60*time.Millisecond, "--workers", "1", "--source", "dir:"+s.trailDir)
	r := s.run(t, db, "collect", "--source", "dir:"+s.trailDir)
	if r.code != 0 {
		t.Fatalf("collect after kills: exit %d\n%s", r.code, r.stderr)
	}
	for _, by := range []string{"user", "database"} {
		assertEqualTruth(t, by, s.reportRows(t, db, by), s.expected(by, forgottenAt(s.settled)))
	}
}

// killCollects runs `collect --no-enrich ARGS` and kills it with SIGKILL
// after delay, then after growing delays (by step), until three kills
// landed in the middle of a collect (some of total objects committed, not
// all) or every object is committed. A run where no kill landed midway
// proves nothing and fails.
func (s *simulation) killCollects(t *testing.T, db string, total int, delay, step time.Duration, args ...string) {
	t.Helper()
	partial := 0
	for i := 0; i < 20 && partial < 3; i, delay = i+1, delay+step {
		cmd := exec.Command(binary, append([]string{"--db", db, "--config", s.configPath, "collect", "--no-enrich"}, args...)...)
		cmd.Env = append(scrubbedEnv(), s.env...)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(delay)
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		done := countCheckpoints(t, db)
		t.Logf("kill after %v: %d of %d objects committed", delay, done, total)
		if done > 0 && done < total {
			partial++
		}
		if done >= total {
			break
		}
	}
	if partial == 0 {
		t.Fatal("no kill landed in the middle of a collect; the test proves nothing")
	}
}

func countCheckpoints(t *testing.T, path string) int {
	t.Helper()
	if _, err := os.Stat(path); err != nil {
		return 0
	}
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro&_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow("SELECT COUNT(*) FROM checkpoints WHERE status = 'done'").Scan(&n); err != nil {
		if strings.Contains(err.Error(), "no such table") {
			return 0
		}
		t.Fatalf("count checkpoints: %v", err)
	}
	return n
}
