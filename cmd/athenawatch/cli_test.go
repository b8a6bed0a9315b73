package main

import (
	"bytes"
	"context"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"syscall"
	"testing"
)

// runInProcess calls run as main does and returns what it wrote.
func runInProcess(ctx context.Context, args ...string) result {
	var out, errb bytes.Buffer
	code := run(ctx, args, &out, &errb)
	return result{stdout: out.String(), stderr: errb.String(), code: code}
}

// TestHelpGoesToStdout is the regression test of help that was asked for
// going to stderr: help asked for is printed on stdout with exit 0, usage
// errors on stderr with exit 2.
func TestHelpGoesToStdout(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "never-created.db")
	tests := []struct {
		name       string
		args       []string
		code       int
		stdoutHas  string // "" = stdout must be empty
		stderrHas  string // "" = stderr must be empty
		stderrAlso string
	}{
		{"help", []string{"help"}, exitOK, "Usage: athenawatch", "", ""},
		{"--help", []string{"--help"}, exitOK, "Commands:", "", ""},
		{"-h", []string{"-h"}, exitOK, "Run 'athenawatch help COMMAND'", "", ""},
		{"help lists every command", []string{"help"}, exitOK, "version ", "", ""},
		{"help help", []string{"help", "help"}, exitOK, "Usage: athenawatch", "", ""},
		{"help collect", []string{"help", "collect"}, exitOK, "--source SRC", "", ""},
		{"help report", []string{"--db", db, "help", "report"}, exitOK, "--filter KEY=VALUE", "", ""},
		{"help demo", []string{"help", "demo"}, exitOK, "--emulator-addr", "", ""},
		{"help version", []string{"help", "version"}, exitOK, "Usage: athenawatch version", "", ""},
		{"collect --help", []string{"collect", "--help"}, exitOK, "--no-enrich", "", ""},
		{"report -h", []string{"--db", db, "report", "-h"}, exitOK, "--by DIMENSION", "", ""},
		{"enrich --help", []string{"--db", db, "enrich", "--help"}, exitOK, "--since", "", ""},
		{"help wins over a later bad flag", []string{"collect", "--help", "--bogus"}, exitOK, "--source", "", ""},
		{"help of an unknown command", []string{"help", "frobnicate"}, exitUsage, "", `unknown command "frobnicate"`, ""},
		{"help of two commands", []string{"help", "collect", "report"}, exitUsage, "", "at most one command", ""},
		{"no command", nil, exitUsage, "", "Usage: athenawatch", ""},
		{"unknown command", []string{"frobnicate"}, exitUsage, "", `unknown command "frobnicate"`, "Commands:"},
		{"bad global flag", []string{"--bogus"}, exitUsage, "", "flag provided but not defined: -bogus", "Run 'athenawatch help' for usage."},
		{"bad command flag", []string{"--db", db, "report", "--bogus"}, exitUsage, "", "flag provided but not defined: -bogus", "Run 'athenawatch help report' for usage."},
		{"bad flag value", []string{"--db", db, "report", "--by", "colour"}, exitUsage, "", `--by "colour"`, "athenawatch help report"},
		{"stray argument", []string{"collect", "--no-enrich", "extra"}, exitUsage, "", `unexpected argument "extra"`, ""},
		{"bad workers", []string{"collect", "--workers", "-1", "--source", "dir:."}, exitUsage, "", "--workers -1: want 0 (one per CPU) to 1024", ""},
		// Regression: a bad --log-level did not say which levels exist.
		{"bad log level", []string{"--log-level", "verbose", "help"}, exitUsage, "", `--log-level "verbose": want debug, info, warn or error`, ""},
		{"log level any case", []string{"--log-level", "WARN", "help"}, exitOK, "Usage: athenawatch", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := runInProcess(context.Background(), tt.args...)
			if r.code != tt.code {
				t.Errorf("exit %d, want %d", r.code, tt.code)
			}
			expect := func(stream, got, want string) {
				t.Helper()
				switch {
				case want == "" && got != "":
					t.Errorf("%s should be empty, got:\n%s", stream, got)
				case !strings.Contains(got, want):
					t.Errorf("%s lacks %q:\n%s", stream, want, got)
				}
			}
			expect("stdout", r.stdout, tt.stdoutHas)
			expect("stderr", r.stderr, tt.stderrHas)
			if !strings.Contains(r.stderr, tt.stderrAlso) {
				t.Errorf("stderr lacks %q:\n%s", tt.stderrAlso, r.stderr)
			}
		})
	}
}

func TestVersion(t *testing.T) {
	t.Parallel()
	r := runInProcess(context.Background(), "version")
	if r.code != exitOK || !strings.HasPrefix(r.stdout, "athenawatch ") || !strings.Contains(r.stdout, runtime.Version()) || r.stderr != "" {
		t.Fatalf("version: exit %d\nstdout %q\nstderr %q", r.code, r.stdout, r.stderr)
	}

	settings := func(kv ...string) []debug.BuildSetting {
		var s []debug.BuildSetting
		for i := 0; i+1 < len(kv); i += 2 {
			s = append(s, debug.BuildSetting{Key: kv[i], Value: kv[i+1]})
		}
		return s
	}
	platform := " " + runtime.GOOS + "/" + runtime.GOARCH
	tests := []struct {
		name string
		bi   *debug.BuildInfo
		want string
	}{
		{"go install of a tag", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v1.4.0"}},
			"athenawatch v1.4.0 go1.26.8" + platform},
		{"checkout with local changes", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"},
			Settings: settings("vcs.revision", "3d99ee5c4b1a", "vcs.time", "2026-11-20T10:00:00Z", "vcs.modified", "true")},
			"athenawatch devel (revision 3d99ee5c4b1a, committed 2026-11-20T10:00:00Z, with local changes) go1.26.8" + platform},
		{"pseudo-version, clean", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v0.0.0-20261120100000-3d99ee5c4b1a"},
			Settings: settings("vcs.revision", "3d99ee5c4b1a", "vcs.time", "2026-11-20T10:00:00Z", "vcs.modified", "false")},
			"athenawatch v0.0.0-20261120100000-3d99ee5c4b1a (revision 3d99ee5c4b1a, committed 2026-11-20T10:00:00Z) go1.26.8" + platform},
		{"no build information", nil, "athenawatch devel " + runtime.Version() + platform},
	}
	for _, tt := range tests {
		if got := versionLine(tt.bi); got != tt.want {
			t.Errorf("%s:\n got %q\nwant %q", tt.name, got, tt.want)
		}
	}
}

// TestVersionLinkerOverride builds athenawatch with -ldflags -X, as a
// packager would, and checks that the values given win.
func TestVersionLinkerOverride(t *testing.T) {
	t.Parallel()
	bin := filepath.Join(t.TempDir(), "athenawatch")
	build := exec.Command("go", "build", "-o", bin, "-ldflags",
		"-X main.version=v9.8.7 -X main.revision=feedface -X main.commitTime=2026-12-01T00:00:00Z", ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build -ldflags: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "version").Output()
	want := "athenawatch v9.8.7 (revision feedface, committed 2026-12-01T00:00:00Z) go"
	if err != nil || !strings.HasPrefix(string(out), want) {
		t.Fatalf("version = %q, %v; want it to start with %q", out, err, want)
	}
}

// TestInterruptedExitCode checks the exit status of a command a signal
// stopped: 128 + the signal number, as shells report it.
func TestInterruptedExitCode(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		sig  syscall.Signal
		code int
	}{{syscall.SIGINT, 130}, {syscall.SIGTERM, 143}} {
		ctx, cancel := context.WithCancelCause(context.Background())
		cancel(interruption{tt.sig})
		db := filepath.Join(t.TempDir(), "i.db")
		r := runInProcess(ctx, "--db", db, "collect", "--no-enrich", "--source", "dir:"+t.TempDir())
		if r.code != tt.code || !strings.Contains(r.stderr, "interrupted by "+signalName(tt.sig)) {
			t.Errorf("%v: exit %d (want %d)\n%s", tt.sig, r.code, tt.code, r.stderr)
		}
	}
}
