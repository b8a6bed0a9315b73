package main

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/athenawatch/athenawatch/internal/store"
)

// TestDemoPrintsCommandsThatWork runs the demo as a user would and runs
// what it prints: the athenawatch command line as printed (it used to say
// `athenawatch ...`, which is on no PATH), and the printed AWS settings
// (AWS_DEFAULT_REGION for AWS CLI v1, an --endpoint-url form for CLIs that
// ignore AWS_ENDPOINT_URL). Ctrl-C then stops it and removes its
// temporary directory, as it says.
func TestDemoPrintsCommandsThatWork(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, "demo", "--days", "1", "--queries-per-day", "30", "--emulator-addr", "127.0.0.1:0", "--addr", "127.0.0.1:0")
	// Settings that would send a careless demo to the wrong place.
	cmd.Env = append(scrubbedEnv(), "AWS_ENDPOINT_URL=http://127.0.0.1:9", "AWS_PROFILE=nonexistent")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var lines []string
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if strings.HasPrefix(sc.Text(), "Press Ctrl-C") {
			break
		}
	}
	out := strings.Join(lines, "\n")
	if !strings.Contains(out, "Press Ctrl-C") {
		cmd.Wait()
		t.Fatalf("demo did not get to its instructions:\n%s\n%s", out, stderr.String())
	}
	find := func(prefix string) string {
		t.Helper()
		for _, l := range lines {
			if strings.HasPrefix(strings.TrimSpace(l), prefix) {
				return strings.TrimSpace(l)
			}
		}
		t.Fatalf("no line starting with %q in:\n%s", prefix, out)
		return ""
	}
	endpoint := strings.TrimPrefix(find("export AWS_ENDPOINT_URL="), "export AWS_ENDPOINT_URL=")
	if find("export AWS_REGION=") != "export AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1" {
		t.Errorf("the region is not given as both AWS_REGION and AWS_DEFAULT_REGION:\n%s", out)
	}
	if find("aws --endpoint-url") != "aws --endpoint-url "+endpoint+" athena list-work-groups" {
		t.Errorf("no --endpoint-url form of the example:\n%s", out)
	}
	// The dashboard serves the demo's data.
	dashboard := strings.TrimPrefix(find("Dashboard: "), "Dashboard: ")
	if res, err := http.Get(dashboard + "api/v1/report?by=workgroup"); err != nil || res.StatusCode != 200 {
		t.Errorf("GET the printed dashboard %s: %v %v", dashboard, res, err)
	} else {
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if !strings.Contains(string(body), "reserved-bi") {
			t.Errorf("the dashboard's API lacks the demo's workgroups:\n%s", body)
		}
	}
	dbLine := find("Database: ")
	db := strings.Fields(strings.TrimPrefix(dbLine, "Database: "))[0]
	if !strings.Contains(dbLine, "deleted when the demo exits") || !strings.Contains(dbLine, "--dir DIR") {
		t.Errorf("the database line does not say it is temporary and how to keep it: %s", dbLine)
	}

	// The athenawatch command line, as printed, through a shell.
	report := find(binary)
	sh := func(script string, env ...string) (string, error) {
		c := exec.CommandContext(ctx, "sh", "-c", script)
		c.Env = append(scrubbedEnv(), env...)
		b, err := c.CombinedOutput()
		return string(b), err
	}
	if got, err := sh(report); err != nil || !strings.Contains(got, "reserved-bi") {
		t.Errorf("printed command %q: %v\n%s", report, err, got)
	}
	// The printed settings reach the emulator: the Go SDK (through
	// athenawatch enrich) with the exported variables.
	var exports []string
	for _, l := range lines {
		if l = strings.TrimSpace(l); strings.HasPrefix(l, "export ") || strings.HasPrefix(l, "unset ") {
			exports = append(exports, l)
		}
	}
	enrich := strings.Join(exports, "\n") + "\n" + shellQuote(binary) + " --db " + shellQuote(db) + " --config " + shellQuote(filepath.Join(filepath.Dir(db), "athenawatch.yaml")) + " enrich"
	if got, err := sh(enrich, "AWS_PROFILE=nonexistent"); err != nil || !strings.Contains(got, "asked Athena about") {
		t.Errorf("enrich with the printed settings: %v\n%s", err, got)
	}

	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	go io.Copy(io.Discard, stdout)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("demo after Ctrl-C: %v\n%s", err, stderr.String())
	}
	if _, err := os.Stat(db); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the temporary database %s is still there (%v)", db, err)
	}
}

// TestDemoLeavesTheEnvironmentAlone is the regression test of demo setting
// AWS_* environment variables with os.Setenv: it hands the SDK a
// configuration of its own and changes nothing of the process environment,
// and the user's AWS settings do not lead it astray.
func TestDemoLeavesTheEnvironmentAlone(t *testing.T) {
	for _, kv := range [][2]string{
		{"AWS_ENDPOINT_URL", "http://127.0.0.1:9"}, {"AWS_ENDPOINT_URL_ATHENA", "http://127.0.0.1:9"},
		{"AWS_PROFILE", "nonexistent"}, {"AWS_CONFIG_FILE", "/nonexistent"}, {"AWS_SHARED_CREDENTIALS_FILE", "/nonexistent"},
		{"AWS_REGION", "ap-south-1"}, {"AWS_ACCESS_KEY_ID", "AKIAUSERSOWNKEY00000"}, {"AWS_SECRET_ACCESS_KEY", "users-own-secret"},
	} {
		t.Setenv(kv[0], kv[1])
	}
	before := os.Environ()
	dir := t.TempDir()
	r := runInProcess(context.Background(), "demo", "--no-serve", "--days", "1", "--queries-per-day", "20", "--emulator-addr", "127.0.0.1:0", "--dir", dir)
	if r.code != exitOK {
		t.Fatalf("demo: exit %d\n%s", r.code, r.stderr)
	}
	if after := os.Environ(); strings.Join(after, "\n") != strings.Join(before, "\n") {
		t.Errorf("demo changed the environment:\nbefore %v\nafter  %v", before, after)
	}
	for _, want := range []string{"== Athena usage by team", "Database: " + filepath.Join(dir, "athenawatch.db") + " (kept)", "Report again with:"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, r.stdout)
		}
	}
	if !strings.Contains(r.stderr, "0 unknown to Athena") || strings.Contains(r.stderr, "cannot tell which account") {
		t.Errorf("enrichment did not reach the emulator with the demo's credentials:\n%s", r.stderr)
	}
	// The bill delivered to the emulated bucket matches what was collected.
	if !regexp.MustCompile(`demo: reconcile: .* gap \$0\.0000; 0 of [1-9][0-9]* cells with a gap \(bill: the CUR 2.0 export in s3://org-billing/cur\)`).MatchString(r.stderr) {
		t.Errorf("the demo did not reconcile the bill to no gap:\n%s", r.stderr)
	}
	// The usage lake is written next to the database, one file for each
	// day that holds queries. (Which days those are depends on the hour the
	// test runs: a simulated day ending in the evening may put no query on
	// the day before.)
	st, err := store.OpenReadOnly(context.Background(), filepath.Join(dir, "athenawatch.db"))
	if err != nil {
		t.Fatal(err)
	}
	days, err := st.LakeDays(context.Background(), "", "")
	st.Close()
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, d := range days {
		want = append(want, filepath.Join(dir, "lake", "usage", "dt="+d.Day, "usage.parquet"))
	}
	parts, _ := filepath.Glob(filepath.Join(dir, "lake", "usage", "dt=*", "usage.parquet"))
	if len(parts) == 0 || strings.Join(parts, "\n") != strings.Join(want, "\n") || !strings.Contains(r.stderr, "demo: usage lake: ") {
		t.Errorf("the demo's usage lake: %v, want one file for each day with queries %v\n%s", parts, want, r.stderr)
	}
}

// TestDemoAddressTaken checks that a taken emulator address is answered
// with the flag that avoids it.
func TestDemoAddressTaken(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	r := runInProcess(context.Background(), "demo", "--no-serve", "--days", "1", "--emulator-addr", ln.Addr().String())
	if r.code != exitError || !strings.Contains(r.stderr, "--emulator-addr 127.0.0.1:0") || !strings.Contains(r.stderr, "address already in use") {
		t.Fatalf("exit %d, want 1 and a hint at --emulator-addr 127.0.0.1:0:\n%s", r.code, r.stderr)
	}
}

func TestCommandFor(t *testing.T) {
	t.Parallel()
	repo := t.TempDir()
	for _, f := range []struct{ path, content string }{
		{"go.mod", "module github.com/athenawatch/athenawatch\n\ngo 1.26\n"},
		{"cmd/athenawatch/main.go", "package main\n"},
		{"other/go.mod", "module example.com/other\n"},
	} {
		p := filepath.Join(repo, filepath.FromSlash(f.path))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(f.content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	outside := t.TempDir()
	goRunExe := filepath.Join(os.TempDir(), "go-build1234567", "b001", "exe", "athenawatch")
	installed := filepath.Join(t.TempDir(), "bin", "athenawatch")
	if err := os.MkdirAll(filepath.Dir(installed), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(installed, nil, 0o755); err != nil {
		t.Fatal(err)
	}
	spaced := filepath.Join(t.TempDir(), "my tools", "athenawatch")
	devel := &debug.BuildInfo{Path: "github.com/athenawatch/athenawatch/cmd/athenawatch", Main: debug.Module{Path: "github.com/athenawatch/athenawatch", Version: "(devel)"}}
	tagged := &debug.BuildInfo{Path: devel.Path, Main: debug.Module{Path: devel.Main.Path, Version: "v1.2.3"}}
	onPath := func(p string) func(string) (string, error) {
		return func(string) (string, error) { return p, nil }
	}
	notOnPath := func(string) (string, error) { return "", exec.ErrNotFound }
	tests := []struct {
		name, exe, cwd string
		bi             *debug.BuildInfo
		look           func(string) (string, error)
		want           string
	}{
		{"go run at the repository root", goRunExe, repo, devel, notOnPath, "go run ./cmd/athenawatch"},
		{"go run in a subdirectory", goRunExe, filepath.Join(repo, "cmd"), devel, notOnPath, "go run github.com/athenawatch/athenawatch/cmd/athenawatch"},
		{"go run pkg@version elsewhere", goRunExe, outside, tagged, notOnPath, "go run github.com/athenawatch/athenawatch/cmd/athenawatch@v1.2.3"},
		{"go run in another module", goRunExe, filepath.Join(repo, "other"), tagged, notOnPath, "go run github.com/athenawatch/athenawatch/cmd/athenawatch@v1.2.3"},
		{"go run, version unknown", goRunExe, outside, devel, notOnPath, "go run github.com/athenawatch/athenawatch/cmd/athenawatch@latest"},
		{"installed on PATH", installed, outside, tagged, onPath(installed), "athenawatch"},
		{"another athenawatch on PATH", installed, outside, tagged, onPath(goRunExe), installed},
		{"not on PATH", installed, outside, tagged, notOnPath, installed},
		{"path with a space", spaced, outside, tagged, notOnPath, "'" + spaced + "'"},
	}
	for _, tt := range tests {
		if got := commandFor(tt.exe, tt.cwd, tt.bi, tt.look); got != tt.want {
			t.Errorf("%s: %q, want %q", tt.name, got, tt.want)
		}
	}
}
