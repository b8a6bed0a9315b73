package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// binary is athenawatch built once for the tests that run it as a real
// process (kill -9, exit codes, environment-only AWS configuration).
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "athenawatch-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "athenawatch")
	build := exec.Command("go", "build", "-o", binary, ".")
	build.Stdout, build.Stderr = os.Stdout, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build athenawatch:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// result is what one run of the binary did.
type result struct {
	stdout, stderr string
	code           int
}

// athenawatch runs the binary with env (on top of a scrubbed environment)
// and args, and waits up to two minutes.
func athenawatch(t *testing.T, env []string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Env = append(scrubbedEnv(), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errb.String()}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	case err != nil:
		t.Fatalf("run athenawatch %v: %v", args, err)
	}
	return r
}

// scrubbedEnv is the test process environment without anything that could
// point the SDK at a real account.
func scrubbedEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "AWS_") || strings.HasPrefix(kv, "ATHENAWATCH_") {
			continue
		}
		env = append(env, kv)
	}
	return append(env, "AWS_CONFIG_FILE=/nonexistent", "AWS_SHARED_CREDENTIALS_FILE=/nonexistent", "AWS_EC2_METADATA_DISABLED=true")
}

func TestUsageErrors(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "u.db")
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no command", nil, exitUsage, "Usage"},
		{"unknown command", []string{"frobnicate"}, exitUsage, "unknown command"},
		{"bad dimension", []string{"--db", db, "report", "--by", "colour"}, exitUsage, "--by"},
		{"bad format", []string{"--db", db, "report", "--format", "xml"}, exitUsage, "--format"},
		{"bad filter", []string{"--db", db, "report", "--filter", "nope"}, exitUsage, "KEY=VALUE"},
		{"bad since", []string{"--db", db, "report", "--since", "yesterday"}, exitUsage, "--since"},
		{"until before since", []string{"--db", db, "report", "--since", "2026-11-02", "--until", "2026-11-01"}, exitUsage, `--until "2026-11-01": not after --since`},
		{"unknown state", []string{"--db", db, "report", "--filter", "state=DONE"}, exitUsage, `--filter "state=DONE"`},
		{"malformed glob", []string{"--db", db, "report", "--filter", "user=[abc"}, exitUsage, `--filter "user=[abc": malformed glob`},
		{"negative top", []string{"--db", db, "report", "--top", "-1"}, exitUsage, "--top"},
		{"no source", []string{"--db", db, "collect"}, exitUsage, "no --source"},
		{"later source", []string{"--db", db, "collect", "--source", "sqs:https://sqs.us-east-1.amazonaws.com/1/q"}, exitUsage, "not available"},
		{"bad region", []string{"--db", db, "collect", "--source", "lookup-events:mars"}, exitUsage, "not a region"},
		{"bad bucket", []string{"--db", db, "collect", "--source", "s3://Bad_Bucket/prefix"}, exitUsage, "bucket name"},
		{"missing dir", []string{"--db", db, "collect", "--no-enrich", "--source", "dir:/nonexistent/trail"}, exitError, "/nonexistent/trail"},
		{"help", []string{"report", "--help"}, exitOK, "--filter"},
		{"budgets no subcommand", []string{"--db", db, "budgets"}, exitUsage, "subcommand"},
		{"budgets format", []string{"--db", db, "budgets", "check", "--format", "xml"}, exitUsage, "table or json"},
		{"iam-policy bad account", []string{"iam-policy", "--collector-account", "12"}, exitUsage, "12-digit"},
		{"iam-policy bad key", []string{"iam-policy", "--kms-key", "alias/trail"}, exitUsage, "KMS key ARN"},
		{"iam-policy", []string{"iam-policy", "--source", "s3://org-trail/logs", "--collector-account", "111122223333"}, exitOK, `"arn:aws:s3:::org-trail/logs/*"`},
		{"bad config", []string{"--db", db, "--config", "/nonexistent.yaml", "report"}, exitError, "nonexistent.yaml"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := athenawatch(t, nil, tt.args...)
			if r.code != tt.code || !strings.Contains(r.stdout+r.stderr, tt.want) {
				t.Fatalf("exit %d (want %d), output lacks %q:\n%s%s", r.code, tt.code, tt.want, r.stdout, r.stderr)
			}
		})
	}
}

func TestEmptyReportIsAnEmptyJSONArray(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "e.db")
	if r := athenawatch(t, nil, "--db", db, "collect", "--no-enrich", "--source", "dir:"+t.TempDir()); r.code != 0 {
		t.Fatalf("collect of nothing: exit %d\n%s", r.code, r.stderr)
	}
	r := athenawatch(t, nil, "--db", db, "report", "--by", "user", "--format", "json")
	if r.code != 0 || strings.TrimSpace(r.stdout) != "[]" {
		t.Fatalf("exit %d, stdout %q, stderr %s", r.code, r.stdout, r.stderr)
	}
}
