package store

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// dirNames lists the names in dir.
func dirNames(t *testing.T, dir string) []string {
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

// rawDB makes an SQLite database at path with the given statements, without
// athenawatch's schema.
func rawDB(t *testing.T, path string, stmts ...string) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, s := range stmts {
		if _, err := db.Exec(s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

// migrateTo creates at path a database of schema version v, as the release
// that wrote that version left it: migrations 1..v and nothing after.
func migrateTo(t *testing.T, path string, v int) {
	t.Helper()
	names, err := migrationNames()
	if err != nil {
		t.Fatal(err)
	}
	stmts := []string{"PRAGMA journal_mode=WAL"}
	for _, name := range names[:v] {
		body, err := migrations.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		stmts = append(stmts, string(body))
	}
	rawDB(t, path, append(stmts, fmt.Sprintf("PRAGMA user_version = %d", v))...)
}

// openRaw opens the database at path as it is, without migrating it.
func openRaw(path string) (*Store, error) {
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		return nil, err
	}
	return &Store{db: db}, nil
}

func TestOpenReadOnlyRefusesWhatIsNoDatabase(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		setup func(t *testing.T, path string)
	}{
		{"missing", func(*testing.T, string) {}},
		{"empty file", func(t *testing.T, path string) { os.WriteFile(path, nil, 0o644) }},
		{"text file", func(t *testing.T, path string) {
			os.WriteFile(path, []byte(strings.Repeat("not a database\n", 20)), 0o644)
		}},
		{"directory", func(t *testing.T, path string) { os.Mkdir(path, 0o755) }},
		{"SQLite header then garbage", func(t *testing.T, path string) {
			os.WriteFile(path, append([]byte(sqliteMagic), bytes.Repeat([]byte{0xff}, 4000)...), 0o644)
		}},
		{"another application's database", func(t *testing.T, path string) { rawDB(t, path, "CREATE TABLE t (x)") }},
		{"another application's WAL database", func(t *testing.T, path string) {
			rawDB(t, path, "PRAGMA journal_mode=WAL", "CREATE TABLE t (x)")
		}},
		{"another application's database with a version", func(t *testing.T, path string) {
			rawDB(t, path, "CREATE TABLE t (x)", "PRAGMA user_version = 1")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			path := filepath.Join(dir, "x.db")
			tt.setup(t, path)
			before := dirNames(t, dir)
			st, err := OpenReadOnly(context.Background(), path)
			if err == nil {
				st.Close()
				t.Fatal("opened")
			}
			if !errors.Is(err, ErrNoDatabase) || !strings.Contains(err.Error(), path) {
				t.Fatalf("error %q: want ErrNoDatabase naming %s", err, path)
			}
			if after := dirNames(t, dir); !slices.Equal(before, after) {
				t.Fatalf("files before %v, after %v: a refused open created files", before, after)
			}
		})
	}
	if _, err := OpenReadOnly(context.Background(), ""); err == nil {
		t.Fatal("empty path opened")
	}
	if _, err := Open(context.Background(), ""); err == nil {
		t.Fatal("empty path opened for writing (SQLite makes it a temporary database)")
	}
}

func TestOpenRefusesAnotherApplicationsDatabase(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "other.db")
	rawDB(t, path, "CREATE TABLE t (x)")
	st, err := Open(context.Background(), path)
	if err == nil {
		st.Close()
		t.Fatal("opened and migrated another application's database")
	}
	if !errors.Is(err, ErrNoDatabase) {
		t.Fatalf("error %v, want ErrNoDatabase", err)
	}
}

// TestOpenConcurrentlyMigratesOnce opens one new database from several
// stores at once, as several processes starting together do: each migration
// must be applied exactly once, and no open may fail.
func TestOpenConcurrentlyMigratesOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for round := range 5 {
		path := filepath.Join(t.TempDir(), "new.db")
		const n = 8
		var wg sync.WaitGroup
		errs := make([]error, n)
		start := make(chan struct{})
		for i := range n {
			wg.Go(func() {
				<-start
				st, err := Open(ctx, path)
				if err == nil {
					err = st.Close()
				}
				errs[i] = err
			})
		}
		close(start)
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("round %d: open %d of %d: %v", round, i, n, err)
			}
		}
		st, err := OpenReadOnly(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := schemaVersion()
		if st.version != want {
			t.Fatalf("schema version %d, want %d", st.version, want)
		}
		var size int
		if err := st.db.QueryRow("PRAGMA page_size").Scan(&size); err != nil || size != pageSize {
			t.Fatalf("page_size = %d (%v), want %d", size, err, pageSize)
		}
		st.Close()
	}
}

// fileState is what must not change when a database is only read.
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

// teamRules derive the team from the user name, under a fingerprint.
type teamRules struct{ fp, prefix string }

func (r teamRules) Fingerprint() string { return r.fp }
func (r teamRules) Query(q *Query) {
	q.Team = r.prefix + q.Identity.UserName
	q.RulesFingerprint = r.fp
}
func (r teamRules) Rejected(rj *Rejected) {
	rj.Team = r.prefix + rj.Identity.UserName
	rj.RulesFingerprint = r.fp
}

// TestAggregateRederivesOnRead: rows stored with other rules are counted as
// the current rules derive them, on a read-only store, with the write-ahead
// log present (a writer still open, its commits not checkpointed) or absent,
// and nothing is written.
func TestAggregateRederivesOnRead(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, walPresent := range []bool{false, true} {
		t.Run(map[bool]string{false: "WAL absent", true: "WAL present"}[walPresent], func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "r.db")
			w, err := Open(ctx, path)
			if err != nil {
				t.Fatal(err)
			}
			old := teamRules{fp: "old", prefix: "old-"}
			var qs []Query
			for i, user := range []string{"alice", "alice", "bob", "carol"} {
				q := testQuery("us-east-1", string(rune('a'+i)), user, 100)
				old.Query(&q)
				qs = append(qs, q)
			}
			// One row outside the window stays as stored.
			early := testQuery("us-east-1", "early", "dave", 100)
			early.EventTime = early.EventTime.Add(-30 * 24 * time.Hour)
			old.Query(&early)
			qs = append(qs, early)
			// A row already derived with the current rules is counted once.
			current := teamRules{fp: "new", prefix: "new-"}
			fresh := testQuery("eu-west-1", "fresh", "alice", 100)
			current.Query(&fresh)
			qs = append(qs, fresh)
			rj := Rejected{EventID: "rj1", EventTime: qs[0].EventTime, Region: "us-east-1", Identity: qs[0].Identity}
			old.Rejected(&rj)
			if walPresent {
				// Keep the commit in the write-ahead log: the writer stays
				// open and no checkpoint runs.
				if _, err := w.db.ExecContext(ctx, "PRAGMA wal_autocheckpoint = 0"); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := w.Commit(ctx, &Batch{Queries: qs, Rejected: []Rejected{rj}}); err != nil {
				t.Fatal(err)
			}
			if walPresent {
				defer w.Close()
			} else {
				w.Close()
			}
			_, errWAL := os.Stat(path + "-wal")
			if (errWAL == nil) != walPresent {
				t.Fatalf("-wal file present = %v, want %v", errWAL == nil, walPresent)
			}
			before := stateOf(t, path)

			st, err := OpenReadOnly(ctx, path)
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			window := Filter{Since: qs[0].EventTime.Add(-time.Hour)}
			res, err := st.Aggregate(ctx, Aggregation{By: "team", Filter: window, Sums: []Sum{SumQueries}, Rules: current})
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]int64{}
			for _, g := range res.Groups {
				got[g.Key] += g.Sums[0]
			}
			want := map[string]int64{"new-alice": 3, "new-bob": 1, "new-carol": 1}
			if len(got) != len(want) || got["new-alice"] != 3 || got["new-bob"] != 1 || got["new-carol"] != 1 {
				t.Fatalf("queries by team = %v, want %v", got, want)
			}
			if res.Rederived != 5 {
				t.Fatalf("re-derived %d rows, want 5 (4 queries and 1 rejected submission in the window)", res.Rederived)
			}
			res, err = st.Aggregate(ctx, Aggregation{By: "team", Filter: Filter{Since: window.Since, Match: map[string][]string{"team": {"new-alice"}}}, Rules: current})
			if err != nil || res.Rejected != 1 {
				t.Fatalf("rejected submissions of new-alice = %d, %v; want 1", res.Rejected, err)
			}
			// Without rules the stored derivation is read as it is.
			res, err = st.Aggregate(ctx, Aggregation{By: "team", Sums: []Sum{SumQueries}})
			if err != nil || len(res.Groups) != 5 || res.Rederived != 0 {
				t.Fatalf("stored teams = %+v, %v", res, err)
			}
			if after := stateOf(t, path); !bytes.Equal(after.data, before.data) || !after.mtime.Equal(before.mtime) {
				t.Fatal("reading changed the database file")
			}
		})
	}
}

// TestReadOnlyReadsTheFirstSchema: a database of schema version 1 (before
// dpu_count) is reported on read-only without migrating it, and migrated by
// a store that writes.
func TestReadOnlyReadsTheFirstSchema(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "v1.db")
	first, err := migrations.ReadFile("migrations/0001_init.sql")
	if err != nil {
		t.Fatal(err)
	}
	rawDB(t, path, "PRAGMA journal_mode=WAL", string(first), "PRAGMA user_version = 1",
		`INSERT INTO queries (region, query_id, event_id, event_time, day, owner_account, user, team, provisioned, stats_status, state, statement_type, engine_ms, rules_fp)
		 VALUES ('us-east-1', 'q1', 'e1', 0, '1970-01-01', '111111111111', 'alice', 't', 1, 'final', 'SUCCEEDED', 'DML', 1000, 'old')`)
	before := stateOf(t, path)
	st, err := OpenReadOnly(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	for _, rules := range []Deriver{nil, teamRules{fp: "new", prefix: "new-"}} {
		res, err := st.Aggregate(ctx, Aggregation{By: "user", Sums: []Sum{SumQueries, SumDPUMillis, SumProvisionedNoDPU}, Rules: rules})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Groups) != 1 || !slices.Equal(res.Groups[0].Sums, []int64{1, 0, 1}) {
			t.Fatalf("rules %v: groups = %+v", rules, res.Groups)
		}
	}
	st.Close()
	if after := stateOf(t, path); !bytes.Equal(after.data, before.data) {
		t.Fatal("read-only open changed a version 1 database")
	}
	w, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if want, _ := schemaVersion(); w.version != want {
		t.Fatalf("migrated to version %d, want %d", w.version, want)
	}
}

func TestAggregateDPUHours(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := openTest(t)
	q := func(id string, provisioned bool, dpu float64, engineMs int64) Query {
		q := testQuery("us-east-1", id, "alice", 0)
		q.Provisioned, q.Stats.DPUCount, q.Stats.EngineMs = provisioned, dpu, engineMs
		return q
	}
	running := q("running", true, 24, 60_000)
	running.StatsStatus = StatusPending
	qs := []Query{
		q("one-dpu-hour", true, 24, 150_000), // 24 DPU × 2.5 min = 1 DPU-hour
		q("fraction", true, 4.5, 1000),
		q("on-demand", false, 24, 150_000),
		q("no-dpu", true, 0, 1000),
		q("negative", true, -5, 1000),
		q("infinite", true, math.Inf(1), 1000),
		q("absurd", true, 1e300, 1000),
		q("huge-engine-time", true, 1, math.MaxInt64),
		running,
	}
	if _, err := st.Commit(ctx, &Batch{Queries: qs}); err != nil {
		t.Fatal(err)
	}
	res, err := st.Aggregate(ctx, Aggregation{By: "user", Sums: []Sum{SumDPUMillis, SumProvisionedNoDPU, SumProvisioned, SumPending}})
	if err != nil {
		t.Fatal(err)
	}
	want := []int64{3_600_000 + 4500 + 1e12, 4, 8, 1}
	if len(res.Groups) != 1 || !slices.Equal(res.Groups[0].Sums, want) {
		t.Fatalf("groups = %+v, want sums %v", res.Groups, want)
	}
}
