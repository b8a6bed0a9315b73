package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	_ "modernc.org/sqlite"
)

// writeTrail writes one CloudTrail log file holding a query of each user.
func writeTrail(t *testing.T, dir, name string, users ...string) {
	t.Helper()
	var recs []string
	for i, u := range users {
		id := fmt.Sprintf("q-%s-%d", name, i)
		recs = append(recs, strings.ReplaceAll(athenaRecord(id), `user/alice","accountId":"111111111111","accessKeyId":"AKIAEXAMPLE","userName":"alice"`,
			`user/`+u+`","accountId":"111111111111","accessKeyId":"AKIAEXAMPLE","userName":"`+u+`"`))
	}
	p := filepath.Join(dir, "AWSLogs/111111111111/CloudTrail/us-east-1/2026/11/20", "111111111111_CloudTrail_us-east-1_20261120T1000Z_"+name+".json.gz")
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, gz(t, []byte(`{"Records":[`+strings.Join(recs, ",")+`]}`)), 0o644); err != nil {
		t.Fatal(err)
	}
}

func listDir(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func TestReportRefusesAPathWithoutDatabase(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		setup func(path string) error
	}{
		{"missing", func(string) error { return nil }},
		{"empty file", func(p string) error { return os.WriteFile(p, nil, 0o644) }},
		{"not a database", func(p string) error { return os.WriteFile(p, []byte("hello, this is not SQLite at all\n"), 0o644) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			db := filepath.Join(dir, "none.db")
			if err := tt.setup(db); err != nil {
				t.Fatal(err)
			}
			before := listDir(t, dir)
			for _, format := range []string{"table", "json"} {
				r := athenawatch(t, nil, "--db", db, "report", "--format", format)
				if r.code != exitError || !strings.Contains(r.stderr, db) || !strings.Contains(r.stderr, "no athenawatch database") || r.stdout != "" {
					t.Fatalf("exit %d (want 1 naming %s), stdout %q, stderr %s", r.code, db, r.stdout, r.stderr)
				}
			}
			if after := listDir(t, dir); !slices.Equal(before, after) {
				t.Fatalf("files before %v, after %v: report created files", before, after)
			}
		})
	}
}

func TestEmptyDBPathIsAUsageError(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"--db", "", "report"},
		{"--db", "", "collect", "--no-enrich", "--source", "dir:" + t.TempDir()},
		{"--db", "", "enrich"},
	} {
		r := athenawatch(t, nil, args...)
		if r.code != exitUsage || !strings.Contains(r.stderr, "--db") {
			t.Errorf("%v: exit %d (want 2 naming --db)\n%s", args, r.code, r.stderr)
		}
	}
}

// TestPendingInEveryFormat: collect without credentials that can read the
// account leaves its queries pending; every report format shows them.
func TestPendingInEveryFormat(t *testing.T) {
	t.Parallel()
	trail := t.TempDir()
	writeTrail(t, trail, "a", "alice", "alice", "bob")
	db := filepath.Join(t.TempDir(), "p.db")
	r := athenawatch(t, nil, "--db", db, "collect", "--source", "dir:"+trail)
	if r.code != 0 || !strings.Contains(r.stderr, "statistics are missing") {
		t.Fatalf("collect without credentials: exit %d\n%s", r.code, r.stderr)
	}
	for _, format := range []string{"json", "csv", "table", "markdown"} {
		r := athenawatch(t, nil, "--db", db, "report", "--since", "2000-01-01", "--format", format)
		if r.code != 0 {
			t.Fatalf("report --format %s: exit %d\n%s", format, r.code, r.stderr)
		}
		switch format {
		case "json":
			rows := decodeRows(t, "user", r.stdout)
			if n, _ := rows["alice"]["pending"].Int64(); n != 2 {
				t.Errorf("json: alice has %s pending, want 2:\n%s", rows["alice"]["pending"], r.stdout)
			}
		case "csv":
			if !strings.HasPrefix(r.stdout, "user,queries,succeeded,failed,cancelled,pending,") || !strings.Contains(r.stdout, "\nalice,2,0,0,0,2,") {
				t.Errorf("csv lacks alice's 2 pending queries:\n%s", r.stdout)
			}
		default:
			for _, want := range []string{"PENDING", "3 queries still lack statistics", "unknown, not $0", "athenawatch enrich"} {
				if !strings.Contains(r.stdout, want) {
					t.Errorf("%s lacks %q:\n%s", format, want, r.stdout)
				}
			}
		}
	}
}

// unprivileged returns how to run the binary as a user for whom file modes
// count: the tests' own user, or, when the tests run as root (which ignores
// modes), the user nobody, with a copy of the binary it can execute.
func unprivileged(t *testing.T, dir string) (bin string, cred *syscall.Credential) {
	t.Helper()
	if os.Geteuid() != 0 {
		return binary, nil
	}
	bin = filepath.Join(dir, "athenawatch")
	src, err := os.Open(binary)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst, err := os.OpenFile(bin, os.O_CREATE|os.O_WRONLY, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		t.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
	return bin, &syscall.Credential{Uid: 65534, Gid: 65534}
}

// openDir is a temporary directory any user can read (t.TempDir's parent
// is private to its owner), removed at the end even when made read-only.
func openDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "athenawatch-ro-")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				os.Chmod(p, 0o755)
			}
			return nil
		})
		os.RemoveAll(dir)
	})
	return dir
}

type fileState struct {
	data  []byte
	mtime time.Time
}

func stateOf(t *testing.T, path string) fileState {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return fileState{data, fi.ModTime()}
}

// TestReportOnReadOnlyDatabase: a database written under one team
// configuration, then made read-only, is reported under another one: the
// report shows the new teams and writes nothing. With the write-ahead log
// present (a writer still has the database open and its last commit is not
// checkpointed) and absent, in a writable and in a read-only directory.
func TestReportOnReadOnlyDatabase(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name                    string
		walPresent, dirReadOnly bool
	}{
		{"file read-only, WAL absent", false, false},
		{"file read-only, WAL present", true, false},
		{"directory read-only, WAL absent", false, true},
		{"directory read-only, WAL present", true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := openDir(t)
			bin, cred := unprivileged(t, dir)
			trail := filepath.Join(dir, "trail")
			writeTrail(t, trail, "a", "alice", "bob")
			configA := filepath.Join(dir, "a.yaml")
			configB := filepath.Join(dir, "b.yaml")
			os.WriteFile(configA, []byte("teams: [{name: team-a, users: [alice, bob, carol]}]\n"), 0o644)
			os.WriteFile(configB, []byte("teams: [{name: team-b, users: [alice]}, {name: team-c, users: [bob, carol]}]\n"), 0o644)
			dbDir := filepath.Join(dir, "db")
			if err := os.Mkdir(dbDir, 0o777); err != nil {
				t.Fatal(err)
			}
			os.Chmod(dbDir, 0o777) // whatever the umask: writable by the unprivileged user
			db := filepath.Join(dbDir, "ro.db")
			if r := athenawatch(t, nil, "--db", db, "--config", configA, "collect", "--no-enrich", "--source", "dir:"+trail); r.code != 0 {
				t.Fatalf("collect: exit %d\n%s", r.code, r.stderr)
			}
			if tt.walPresent {
				// A writer keeps the database open, so the next collect's
				// commit stays in the write-ahead log.
				held, err := sql.Open("sqlite", "file:"+db+"?_pragma=busy_timeout(10000)")
				if err != nil {
					t.Fatal(err)
				}
				defer held.Close()
				if err := held.QueryRow("SELECT COUNT(*) FROM queries").Scan(new(int)); err != nil {
					t.Fatal(err)
				}
				writeTrail(t, trail, "b", "carol")
				if r := athenawatch(t, nil, "--db", db, "--config", configA, "collect", "--no-enrich", "--source", "dir:"+trail); r.code != 0 {
					t.Fatalf("second collect: exit %d\n%s", r.code, r.stderr)
				}
				if fi, err := os.Stat(db + "-wal"); err != nil || fi.Size() == 0 {
					t.Fatalf("want a write-ahead log with the second collect's commit: %v", err)
				}
			} else if _, err := os.Stat(db + "-wal"); err == nil {
				t.Fatal("collect left a -wal file; the case without one tests nothing")
			}
			for _, suffix := range []string{"", "-wal", "-shm"} {
				if _, err := os.Stat(db + suffix); err == nil {
					os.Chmod(db+suffix, 0o444)
				}
			}
			if tt.dirReadOnly {
				os.Chmod(dbDir, 0o555)
			}
			before := stateOf(t, db)
			filesBefore := listDir(t, dbDir)

			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, bin, "--db", db, "--config", configB, "report", "--by", "team", "--since", "2000-01-01", "--format", "json")
			cmd.Env = scrubbedEnv()
			if cred != nil {
				cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
			}
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if err := cmd.Run(); err != nil {
				t.Fatalf("report on a read-only database: %v\n%s", err, stderr.String())
			}
			rows := decodeRows(t, "team", stdout.String())
			want := map[string]int64{"team-b": 1, "team-c": 1}
			if tt.walPresent {
				want["team-c"] = 2 // carol's query is only in the write-ahead log
			}
			for team, n := range want {
				if got, _ := rows[team]["queries"].Int64(); got != n {
					t.Errorf("team %s: %d queries, want %d:\n%s", team, got, n, stdout.String())
				}
			}
			if len(rows) != len(want) {
				t.Errorf("teams %v, want %v", rows, want)
			}
			if after := stateOf(t, db); !bytes.Equal(after.data, before.data) || !after.mtime.Equal(before.mtime) {
				t.Error("report changed the database file")
			}
			if tt.dirReadOnly {
				if after := listDir(t, dbDir); !slices.Equal(filesBefore, after) {
					t.Errorf("files %v became %v", filesBefore, after)
				}
			}
		})
	}
}

// TestConcurrentFirstCollects: several processes creating one new database
// at once all succeed (each migration is applied once, under the lock).
func TestConcurrentFirstCollects(t *testing.T) {
	t.Parallel()
	empty := t.TempDir()
	for round := range 3 {
		db := filepath.Join(t.TempDir(), fmt.Sprintf("new%d.db", round))
		const n = 6
		results := make([]result, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				results[i] = athenawatch(t, nil, "--db", db, "collect", "--no-enrich", "--source", "dir:"+empty)
			})
		}
		wg.Wait()
		for i, r := range results {
			if r.code != 0 {
				t.Fatalf("round %d, process %d of %d: exit %d\n%s", round, i, n, r.code, r.stderr)
			}
		}
		r := athenawatch(t, nil, "--db", db, "report", "--format", "json")
		var rows []json.RawMessage
		if r.code != 0 || json.Unmarshal([]byte(r.stdout), &rows) != nil || len(rows) != 0 {
			t.Fatalf("report on the new database: exit %d, %s\n%s", r.code, r.stdout, r.stderr)
		}
	}
}
