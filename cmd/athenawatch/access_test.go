package main

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// refusingEndpoint is the URL of a loopback listener that closes every
// connection at once: an endpoint that is unreachable for the SDK, and
// stays this test's own (a closed port could be taken by another server).
func refusingEndpoint(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	return "http://" + ln.Addr().String()
}

// TestNoWorkingCredentials is the regression test of the wrong hint: with
// no credentials, or with STS unreachable, enrich said to configure
// accounts.<id>.role_arn. Now it says what is wrong and exits 1 when it could
// ask nothing; collect keeps what it collected, says statistics are missing
// and how to get them, and exits 0 (1 under --strict).
func TestNoWorkingCredentials(t *testing.T) {
	t.Parallel()
	trail := t.TempDir()
	dir := filepath.Join(trail, "AWSLogs/111111111111/CloudTrail/us-east-1/2026/11/20")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	records := `{"Records":[` + athenaRecord("q-1") + "," + athenaRecord("q-2") + "," + athenaRecord("q-3") + `]}`
	if err := os.WriteFile(filepath.Join(dir, "111111111111_CloudTrail_us-east-1_20261120T1000Z_a.json.gz"), gz(t, []byte(records)), 0o644); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name string
		env  []string
		want string // what the messages must say is wrong
	}{
		{name: "no credentials", env: []string{"AWS_REGION=us-east-1"}, want: "no AWS credentials found"},
		{name: "STS unreachable", env: []string{
			"AWS_REGION=us-east-1", "AWS_ACCESS_KEY_ID=AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY=secret",
			"AWS_ENDPOINT_URL_STS=" + refusingEndpoint(t), "AWS_ENDPOINT_URL_ATHENA=" + refusingEndpoint(t),
		}, want: "AWS STS is unreachable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			db := filepath.Join(t.TempDir(), "creds.db")
			steps := []struct {
				args     []string
				code     int
				messages []string
			}{
				{[]string{"collect", "--source", "dir:" + trail}, exitOK,
					[]string{"3 query events (3 new)", "statistics are missing", tt.want, "3 queries are pending", "athenawatch enrich"}},
				{[]string{"collect", "--strict", "--source", "dir:" + trail}, exitError,
					[]string{"statistics are missing", "(--strict)"}},
				{[]string{"enrich"}, exitError, []string{tt.want, "3 queries stay pending"}},
			}
			for _, s := range steps {
				r := athenawatch(t, tt.env, append([]string{"--db", db}, s.args...)...)
				if r.code != s.code {
					t.Errorf("%v: exit %d, want %d:\n%s", s.args, r.code, s.code, r.stderr)
				}
				for _, m := range s.messages {
					if !strings.Contains(r.stderr, m) {
						t.Errorf("%v: stderr lacks %q:\n%s", s.args, m, r.stderr)
					}
				}
				if strings.Contains(r.stderr, "role_arn") {
					t.Errorf("%v: a credentials problem answered with the role_arn hint:\n%s", s.args, r.stderr)
				}
			}
			// What collect committed stands: the queries are stored, pending.
			r := athenawatch(t, nil, "--db", db, "report", "--by", "user", "--format", "json", "--since", "2000-01-01")
			if r.code != 0 || !strings.Contains(r.stdout, `"queries": 3`) {
				t.Errorf("report after collect without credentials: exit %d\n%s%s", r.code, r.stdout, r.stderr)
			}
		})
	}
}
