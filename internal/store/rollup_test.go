package store

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/athenawatch/athenawatch/internal/cloudtrail"
)

// rollupWorld draws queries from a small world, so that random stores
// share keys, duplicates and periods.
type rollupWorld struct {
	rng   *rand.Rand
	start time.Time
	span  time.Duration
}

var (
	// Keys with commas, digits, a NUL and multi-byte letters: the copy in
	// memory reads each row as one text of numbers and keys.
	worldUsers    = []string{"alice", "bob", "carol", "etl", "dora", "o'brien,12,"}
	worldRegions  = []string{"us-east-1", "eu-west-1"}
	worldDBs      = []string{"sales", "logs", "", "lo\x00g,s"}
	worldWGs      = []string{"primary", "analysts", "etl-capacity", "café,3"}
	worldStates   = []string{"SUCCEEDED", "FAILED", "CANCELLED", "RUNNING"}
	worldStmts    = []string{"DML", "DDL", "UTILITY"}
	worldPrints   = []string{"", "fp-a", "fp-b", "fp-c"}
	worldRulesFPs = []string{"rules-1", "rules-2"}
)

func pick[T any](rng *rand.Rand, xs []T) T { return xs[rng.IntN(len(xs))] }

// query returns a query with id number id: fresh (pending, no statistics)
// or whole, with statistics.
func (w *rollupWorld) query(id int) Query {
	rng := w.rng
	user := pick(rng, worldUsers)
	t := w.start.Add(time.Duration(rng.Int64N(int64(w.span))))
	t = t.Truncate(time.Millisecond)
	q := Query{
		Region: pick(rng, worldRegions), QueryID: fmt.Sprintf("q%05d", id), EventID: fmt.Sprintf("e%05d", id), EventTime: t,
		OwnerAccount: "111111111111",
		Identity:     cloudtrail.Identity{Type: "IAMUser", UserName: user, ARN: "arn:aws:iam::111111111111:user/" + user, AccountID: "111111111111"},
		User:         user, Account: pick(rng, []string{"111111111111", "222222222222"}), Team: pick(rng, []string{"t1", "t2", "unassigned"}),
		Database: pick(rng, worldDBs), Workgroup: pick(rng, worldWGs), RulesFingerprint: pick(rng, worldRulesFPs),
		StatsStatus: StatusPending,
	}
	if rng.IntN(2) == 0 {
		w.enrich(&q)
	}
	return q
}

// enrich gives q statistics, as an enrich answer would.
func (w *rollupWorld) enrich(q *Query) {
	rng := w.rng
	q.StatsStatus = pick(rng, []string{StatusFinal, StatusFinal, StatusNoStats, StatusPending})
	q.AskAttempts++
	q.LastAsked = w.start
	q.Provisioned = rng.IntN(3) == 0
	q.BilledBytes = rng.Int64N(1 << 40)
	q.Fingerprint = pick(rng, worldPrints)
	q.CostUSD = rng.Float64()
	q.Stats = Stats{
		State: pick(rng, worldStates), StatementType: pick(rng, worldStmts), QueryText: "SELECT 1",
		DataScannedBytes: rng.Int64N(1 << 40), EngineMs: rng.Int64N(1e6) - 10, DPUCount: pick(rng, []float64{0, 4, 24.5, -1, 2e6}),
	}
}

// TestRollupsFollowEveryWrite: after a random mix of inserts (fresh and
// whole, in batches and transactions, with duplicates), enrich updates,
// re-derivations and deletions, every rollup table holds exactly the sums
// a scan of the rows gives, and Aggregate answers from the rollups exactly
// what it answers from the rows, for every dimension, second dimension,
// sum, filter and window.
func TestRollupsFollowEveryWrite(t *testing.T) {
	t.Parallel()
	for seed := uint64(1); seed <= 5; seed++ {
		if raceDetector && (seed == 2 || seed == 3) {
			// The race detector looks for the copy's concurrency, which one
			// ordinary world and the two special ones exercise; the plain
			// run (make unit) walks all five, in a twentieth of the time.
			continue
		}
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			st := openTest(t)
			w := &rollupWorld{rng: rand.New(rand.NewPCG(seed, 7)), start: time.Date(2026, 3, 1, 22, 30, 0, 0, time.UTC), span: 80 * time.Hour}
			if seed == 4 {
				// Around 1970, where periods of negative times start.
				w.start, w.span = time.UnixMilli(-3*dayMillis-1234).UTC(), 6*24*time.Hour
			}
			if seed == 5 {
				// Long enough for windows of whole weeks.
				w.span = 24 * 24 * time.Hour
			}
			nextID := 0
			var stored []Query     // what was offered, duplicates included
			var copied *memRollups // a copy in memory, loaded again every few steps
			for step := 0; step < 40; step++ {
				if step%4 == 1 {
					copied = checkIncrementalCopy(t, st, copied)
				}
				switch op := w.rng.IntN(10); {
				case op < 5: // a transaction of batches, with duplicates
					tx, err := st.Begin(ctx)
					if err != nil {
						t.Fatal(err)
					}
					for b := 0; b < 1+w.rng.IntN(3); b++ {
						var qs []Query
						for i := 0; i < w.rng.IntN(150); i++ {
							if len(stored) > 0 && w.rng.IntN(5) == 0 {
								dup := pick(w.rng, stored)
								if w.rng.IntN(2) == 0 {
									w.enrich(&dup) // a later delivery with other values loses
								}
								qs = append(qs, dup)
								continue
							}
							q := w.query(nextID)
							nextID++
							qs = append(qs, q)
							if w.rng.IntN(10) == 0 {
								qs = append(qs, q) // twice in one batch
							}
						}
						if _, err := tx.Add(ctx, &Batch{Queries: qs}); err != nil {
							t.Fatal(err)
						}
						stored = append(stored, qs...)
					}
					if w.rng.IntN(6) == 0 {
						if err := tx.Rollback(); err != nil {
							t.Fatal(err)
						}
					} else if err := tx.Commit(); err != nil {
						t.Fatal(err)
					}
				case op < 7: // enrich answers for pending queries
					page, err := st.PendingQueries(ctx, time.Time{}, "111111111111", pick(w.rng, worldRegions), PendingKey{}, 100)
					if err != nil {
						t.Fatal(err)
					}
					for i := range page {
						w.enrich(&page[i])
						page[i].RulesFingerprint = pick(w.rng, worldRulesFPs)
					}
					if err := st.UpdateQueries(ctx, page); err != nil {
						t.Fatal(err)
					}
				case op < 9: // re-derive with other rules
					page, err := st.StaleQueries(ctx, pick(w.rng, worldRulesFPs), "", "", 200)
					if err != nil {
						t.Fatal(err)
					}
					for i := range page {
						q := &page[i]
						q.User, q.Team, q.Database = pick(w.rng, worldUsers), pick(w.rng, []string{"t1", "t3"}), pick(w.rng, worldDBs)
						q.Provisioned, q.BilledBytes, q.RulesFingerprint = !q.Provisioned, q.BilledBytes/2, pick(w.rng, worldRulesFPs)
						q.Fingerprint = pick(w.rng, worldPrints)
					}
					if _, err := st.UpdateDerived(ctx, page); err != nil {
						t.Fatal(err)
					}
				default: // any other statement that changes rows
					if _, err := st.db.ExecContext(ctx, "DELETE FROM queries WHERE rowid IN (SELECT rowid FROM queries ORDER BY random() LIMIT 5)"); err != nil {
						t.Fatal(err)
					}
					if _, err := st.db.ExecContext(ctx, "UPDATE queries SET event_time = event_time + 3599999, day = strftime('%Y-%m-%d', (event_time + 3599999) / 1000, 'unixepoch'), state = 'FAILED', billed_bytes = billed_bytes + 7 WHERE rowid IN (SELECT rowid FROM queries ORDER BY random() LIMIT 5)"); err != nil {
						t.Fatal(err)
					}
				}
			}
			checkRollupTables(t, st)
			checkRollupAnswers(t, st, w)
			checkMemoryAnswers(t, st, w)
			// Rows of a rollup deleted (no write path does so today): their
			// periods are read again too.
			copied = checkIncrementalCopy(t, st, copied)
			for _, table := range []string{"rollup_hour", "rollup_shape"} {
				if _, err := st.db.ExecContext(ctx, "DELETE FROM "+table+" WHERE t = (SELECT MIN(t) FROM "+table+")"); err != nil {
					t.Fatal(err)
				}
			}
			checkIncrementalCopy(t, st, copied)
		})
	}
}

// checkIncrementalCopy loads a copy of the rollups in memory from prev,
// reading again only the periods changed since, and compares it with a
// copy loaded whole; it returns the new copy.
func checkIncrementalCopy(t *testing.T, st *Store, prev *memRollups) *memRollups {
	t.Helper()
	ctx := context.Background()
	inc, err := loadMem(ctx, st.db, prev, st.version)
	if err != nil {
		t.Fatal(err)
	}
	whole, err := loadMem(ctx, st.db, nil, st.version)
	if err != nil {
		t.Fatal(err)
	}
	rows := func(m *memRollups, table []memRow) []string {
		var out []string
		for _, r := range table {
			var keys []string
			for c, k := range r.key {
				keys = append(keys, m.dicts[c].values[k])
			}
			out = append(out, fmt.Sprintf("%d %q %d %+v", r.t, keys, r.flags, r.sums))
		}
		slices.Sort(out)
		return out
	}
	for _, tc := range []struct {
		name      string
		inc, full []memRow
	}{{"hour", inc.hour, whole.hour}, {"day", inc.day, whole.day}, {"shape", inc.shape, whole.shape}} {
		if a, b := rows(inc, tc.inc), rows(whole, tc.full); !slices.Equal(a, b) {
			t.Fatalf("the %s rows loaded again from the changed periods differ from a whole load:\n%s\nwant\n%s", tc.name, strings.Join(a, "\n"), strings.Join(b, "\n"))
		}
		if !slices.IsSortedFunc(tc.inc, byTime) {
			t.Fatalf("the %s rows loaded again are not in order of time", tc.name)
		}
	}
	if inc.changes != whole.changes {
		t.Fatalf("changes %d, whole load %d", inc.changes, whole.changes)
	}
	// The days of queries carried over from prev are those a read now
	// gives; then every day is read into the new copy, for the next call
	// to carry over what did not change.
	tx, err := st.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	var n int64
	if err := tx.QueryRowContext(ctx, "SELECT n FROM rollup_changes").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != inc.changes {
		t.Fatalf("the database moved on while the copy was checked: %d, copy %d", n, inc.changes)
	}
	for day, d := range inc.edges.days {
		fresh, keep, err := whole.readEdgeDay(ctx, tx, day)
		if err != nil || !keep {
			t.Fatalf("read day %d: keep %v, %v", day, keep, err)
		}
		if a, b := rows(inc, d.rows), rows(whole, fresh); !slices.Equal(a, b) {
			t.Fatalf("the queries of day %d carried over differ from a read now:\n%s\nwant\n%s", day, strings.Join(a, "\n"), strings.Join(b, "\n"))
		}
	}
	var lo, hi int64
	if err := tx.QueryRowContext(ctx, "SELECT COALESCE(MIN(event_time), 0), COALESCE(MAX(event_time), -1) FROM queries").Scan(&lo, &hi); err != nil {
		t.Fatal(err)
	}
	for day := floorDiv(lo, dayMillis) * dayMillis; day <= hi; day += dayMillis {
		if _, ok, err := inc.edgeRows(ctx, tx, day, day+dayMillis); err != nil || !ok {
			t.Fatalf("day %d not kept: %v", day, err)
		}
	}
	return inc
}

// checkRollupTables compares every rollup table with the sums of the rows.
func checkRollupTables(t *testing.T, st *Store) {
	t.Helper()
	ctx := context.Background()
	tx, err := st.db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	all := rollupDelta{}
	if _, err := all.addStored(ctx, tx, -1<<62, 1<<62); err != nil {
		t.Fatal(err)
	}
	for _, rt := range rollupTables {
		want := map[string]rollupSums{}
		for k, s := range all {
			b := boxKey(&k)
			id := fmt.Sprintf("%#v", rt.keyOf(nil, &b))
			sum := want[id]
			sum.add(*s)
			want[id] = sum
		}
		got := map[string]rollupSums{}
		keys := rt.keyColumns()
		kept := map[string]bool{}
		var cols []string
		for _, c := range rt.sumColumns() {
			kept[c] = true
		}
		for _, c := range allRollupSums {
			if kept[c] {
				cols = append(cols, c)
			} else {
				cols = append(cols, "0")
			}
		}
		sums := strings.Join(cols, ", ")
		where := "1"
		if rt.where != "" {
			where = rt.where
		}
		rows, err := tx.QueryContext(ctx, "SELECT "+strings.Join(keys, ", ")+", "+sums+" FROM "+rt.name+" WHERE "+where)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			key := make([]any, len(keys))
			vals := make([]any, len(keys))
			for i := range key {
				vals[i] = &key[i]
			}
			var s rollupSums
			if err := rows.Scan(append(vals, &s.queries, &s.billedBytes, &s.dataScannedBytes, &s.engineMs, &s.dpuMs, &s.noDPU)...); err != nil {
				t.Fatal(err)
			}
			if s == (rollupSums{}) {
				continue // a key all of whose rows moved away
			}
			for i, v := range key {
				if b, ok := v.([]byte); ok {
					key[i] = string(b)
				}
			}
			got[fmt.Sprintf("%#v", key)] = s
		}
		rows.Close()
		for id, s := range want {
			var only rollupSums
			for i, c := range allRollupSums {
				if kept[c] {
					*only.field(i) = s.column(c)
				}
			}
			if only == (rollupSums{}) {
				delete(want, id)
				continue
			}
			want[id] = only
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: %d rows, want %d", rt.name, len(got), len(want))
			for id, s := range want {
				if got[id] != s {
					t.Errorf("%s %s = %+v, want %+v", rt.name, id, got[id], s)
				}
			}
			for id, s := range got {
				if _, ok := want[id]; !ok {
					t.Errorf("%s %s = %+v, want no row", rt.name, id, s)
				}
			}
		}
	}
}

var allSums = []Sum{SumQueries, SumSucceeded, SumFailed, SumCancelled, SumPending, SumNoStats, SumWithStats, SumBytesScanned,
	SumBilledBytes, SumEngineMs, SumProvisioned, SumDPUMillis, SumProvisionedNoDPU}

// checkRollupAnswers compares Aggregate on the rollups with Aggregate on
// the rows for random aggregations.
func checkRollupAnswers(t *testing.T, st *Store, w *rollupWorld) {
	t.Helper()
	raw := &Store{db: st.db, version: st.version, rawReports: true}
	dims := make([]string, 0, len(Dimensions))
	for d := range Dimensions {
		dims = append(dims, d)
	}
	sort.Strings(dims)
	filterValues := map[string][]string{
		"user": worldUsers, "team": {"t1", "t?", "unassigned"}, "database": {"sales", "", "*s*"}, "region": worldRegions,
		"state": {"SUCCEEDED", "FAILED"}, "fingerprint": {"fp-a", "", "fp-*"}, "workgroup": {"analysts", "etl-*"},
		"statement_type": {"DML"}, "account": {"2*"}, "role": {""}, "principal_arn": {"arn:aws:iam::111111111111:user/alice"},
	}
	for i := 0; i < 150; i++ {
		a := Aggregation{By: pick(w.rng, dims), Sums: allSums}
		if w.rng.IntN(2) == 0 {
			a.Then = pick(w.rng, dims)
		}
		if w.rng.IntN(4) > 0 {
			a.Filter.Since = w.start.Add(time.Duration(w.rng.Int64N(int64(w.span)))).Truncate(time.Millisecond)
		}
		if w.rng.IntN(4) > 0 {
			a.Filter.Until = w.start.Add(time.Duration(w.rng.Int64N(int64(w.span + time.Hour)))).Truncate(time.Millisecond)
		}
		if w.rng.IntN(3) == 0 {
			if w.rng.IntN(2) == 0 {
				a.Filter.Since = a.Filter.Since.Truncate(time.Hour) // a period's edge exactly
			}
			a.Filter.Until = a.Filter.Since.Add(time.Duration(w.rng.IntN(50)) * time.Hour)
		}
		for n := w.rng.IntN(3); n > 0; n-- {
			k := pick(w.rng, []string{"user", "team", "database", "region", "state", "fingerprint", "workgroup", "statement_type", "account", "role", "principal_arn"})
			if a.Filter.Match == nil {
				a.Filter.Match = map[string][]string{}
			}
			a.Filter.Match[k] = append(a.Filter.Match[k], pick(w.rng, filterValues[k]))
		}
		if w.rng.IntN(4) == 0 {
			a.Rules = teamRules{fp: pick(w.rng, worldRulesFPs), prefix: "t9-"}
		}
		compareAggregate(t, st, raw, a)
	}
}

// checkShapeAnswers compares reports of a few exact shapes, which read the
// shapes' index where the copy answers, with the rows'.
func checkShapeAnswers(t *testing.T, st *Store, w *rollupWorld) {
	t.Helper()
	raw := &Store{db: st.db, version: st.version, rawReports: true}
	for _, shapes := range [][]string{{"fp-a"}, {"fp-b", "fp-c"}, {""}, {"fp-none"}} {
		for _, by := range []string{"user", "day"} {
			compareAggregate(t, st, raw, Aggregation{By: by, Then: "region", Sums: allSums, Filter: Filter{
				Since: w.start.Add(w.span / 3).Truncate(time.Millisecond), Match: map[string][]string{"fingerprint": shapes, "team": {"t1", "t2"}}}})
			for _, until := range []time.Duration{w.span / 2, w.span * 2 / 3} {
				compareAggregate(t, st, raw, Aggregation{By: by, Sums: allSums, Filter: Filter{
					Since: w.start.Add(w.span / 5), Until: w.start.Add(until).Truncate(24 * time.Hour), Match: map[string][]string{"fingerprint": shapes}}})
			}
		}
	}
}

// checkUserAnswers compares reports of a few exact users, which read the
// levels' user indexes where the copy answers, with the rows': alone, with
// a pattern (which no index reads), and with shapes (where the shape
// table's two indexes compete).
func checkUserAnswers(t *testing.T, st *Store, w *rollupWorld) {
	t.Helper()
	raw := &Store{db: st.db, version: st.version, rawReports: true}
	// A window that begins half an hour before an hour the hourly rollup
	// holds rows of, so that the hours' level is read whatever rows the
	// world's random deletes and moves left.
	var hour int64
	if err := st.db.QueryRow("SELECT t FROM rollup_hour WHERE queries > 0 ORDER BY t LIMIT 1 OFFSET (SELECT COUNT(*) / 2 FROM rollup_hour WHERE queries > 0)").Scan(&hour); err != nil {
		t.Fatal(err)
	}
	for _, users := range [][]string{{"alice"}, {"o'brien,12,", "bob"}, {"nobody"}, {"carol", "d*"}} {
		for _, by := range []string{"database", "day", "fingerprint"} {
			compareAggregate(t, st, raw, Aggregation{By: by, Then: "region", Sums: allSums, Filter: Filter{
				Since: w.start.Add(w.span / 3).Truncate(time.Millisecond), Match: map[string][]string{"user": users}}})
			compareAggregate(t, st, raw, Aggregation{By: by, Sums: allSums, Filter: Filter{
				Since: time.UnixMilli(hour).Add(-30 * time.Minute).UTC(), Match: map[string][]string{"user": users}}})
			compareAggregate(t, st, raw, Aggregation{By: by, Sums: allSums, Filter: Filter{
				Since: w.start.Add(w.span / 5), Until: w.start.Add(w.span * 2 / 3).Truncate(24 * time.Hour),
				Match: map[string][]string{"user": users, "fingerprint": {"fp-a", "fp-b"}}}})
		}
	}
}

// compareAggregate compares Aggregate on st with Aggregate on the rows.
func compareAggregate(t *testing.T, st, raw *Store, a Aggregation) {
	t.Helper()
	ctx := context.Background()
	got, err := st.Aggregate(ctx, a)
	if err != nil {
		t.Fatalf("%+v: %v", a, err)
	}
	want, err := raw.Aggregate(ctx, a)
	if err != nil {
		t.Fatalf("raw %+v: %v", a, err)
	}
	sortGroups(got.Groups)
	sortGroups(want.Groups)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Aggregate(by %s then %q, %+v, rules %v):\n rollups %+v\n rows    %+v", a.By, a.Then, a.Filter, a.Rules, got, want)
	}
}

// checkMemoryAnswers compares Aggregate on the rollups' copy in memory with
// Aggregate on the rows, with the copy current and after a write it has
// not seen.
func checkMemoryAnswers(t *testing.T, st *Store, w *rollupWorld) {
	t.Helper()
	ctx := context.Background()
	mem := &Store{db: st.db, version: st.version}
	mem.ServeFromMemory(nil)
	defer mem.mem.Load().close()
	if err := mem.MemoryReady(ctx); err != nil {
		t.Fatal(err)
	}
	// Reports read projections of the levels wherever one sums any rows
	// away, so that their answers are compared with the rows' too.
	cur := mem.mem.Load().cur.Load()
	cur.proj.keepAll = true
	cur.shapes.always = true
	for i := range cur.users {
		cur.users[i].always = true
	}
	checkRollupAnswers(t, mem, w)
	checkShapeAnswers(t, mem, w)
	checkUserAnswers(t, mem, w)
	if mem.mem.Load().answered.Load() == 0 {
		t.Fatal("no report was answered from memory")
	}
	if cur.edges.kept() == 0 {
		t.Fatal("no window's edge was answered from the queries of a day kept in memory")
	}
	if cur.proj.used.Load() == 0 {
		t.Fatal("no report read a projection of a level")
	}
	if cur.shapes.gathered.Load() == 0 {
		t.Fatal("no report read shapes through the shapes' index")
	}
	for which, name := range map[int]string{memDay: "day", memHour: "hour", memShape: "shape"} {
		if cur.users[which].gathered.Load() == 0 {
			t.Fatalf("no report read the %s level through its user index", name)
		}
	}
	// A write the copy has not seen: reports read SQLite until a new copy
	// is loaded, and never answer from the old one.
	tx, err := st.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	q := w.query(1 << 20)
	w.enrich(&q)
	if _, err := tx.Add(ctx, &Batch{Queries: []Query{q}}); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	checkRollupAnswers(t, mem, w)
	if err := mem.MemoryReady(ctx); err != nil {
		t.Fatal(err)
	}
	checkRollupAnswers(t, mem, w)
}

func sortGroups(gs []Group) {
	sort.Slice(gs, func(i, j int) bool {
		a, b := gs[i], gs[j]
		if a.Key != b.Key {
			return a.Key < b.Key
		}
		if a.Key2 != b.Key2 {
			return a.Key2 < b.Key2
		}
		return a.Region < b.Region
	})
}

// TestPlanRollupsCoversTheWindowOnce: the parts of a plan tile the window,
// each level on whole periods of its own.
func TestPlanRollupsCoversTheWindowOnce(t *testing.T) {
	t.Parallel()
	levels := rollupsFor([]string{"user", "team"}, narrowVersion)
	if len(levels) != 2 {
		t.Fatalf("rollupsFor(user, team) = %d levels, want 2", len(levels))
	}
	day, hour := levels[0], levels[1]
	tests := []struct {
		name     string
		from, to int64
		want     string
	}{
		{"inside one hour", 10, 20, "rows[10,20)"},
		{"whole hours", hourMillis, 3 * hourMillis, "rollup_hour[3600000,10800000)"},
		{"days and edges", dayMillis - hourMillis - 1, 3*dayMillis + hourMillis + 5,
			"rows[82799999,82800000) rollup_hour[82800000,86400000) rollup_day[86400000,259200000) rollup_hour[259200000,262800000) rows[262800000,262800005)"},
		{"before 1970", -dayMillis - 1, 1, "rows[-86400001,-86400000) rollup_day[-86400000,0) rows[0,1)"},
		{"empty", 5, 5, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var got []string
			for _, p := range planRollups([]*rollupLevel{day, hour}, tt.from, tt.to) {
				name := "rows"
				if p.level != nil {
					name = p.level.table
				}
				got = append(got, fmt.Sprintf("%s[%d,%d)", name, p.from, p.to))
			}
			if s := strings.Join(got, " "); s != tt.want {
				t.Errorf("plan = %s\nwant   %s", s, tt.want)
			}
		})
	}
}

// TestRollupsForTakesTheNarrowestLevel: a report of one dimension reads the
// narrow rollups of that dimension; one that needs two reads the wide ones;
// a database older than the narrow rollups reads the wide ones.
func TestRollupsForTakesTheNarrowestLevel(t *testing.T) {
	t.Parallel()
	tests := []struct {
		names   []string
		version int
		want    string
	}{
		{[]string{"user"}, narrowVersion, "rollup_dim_week/dim = 'user' rollup_dim_day/dim = 'user' rollup_dim_hour/dim = 'user'"},
		{[]string{"day", "team", "region", "state"}, narrowVersion, "rollup_dim_day/dim = 'team' rollup_dim_hour/dim = 'team'"},
		{[]string{"hour"}, narrowVersion, "rollup_dim_hour/dim = ''"},
		{[]string{"region"}, narrowVersion, "rollup_dim_week/dim = '' rollup_dim_day/dim = '' rollup_dim_hour/dim = ''"},
		{[]string{"fingerprint"}, narrowVersion, "rollup_dim_week/dim = 'fingerprint' rollup_dim_day/dim = 'fingerprint' rollup_dim_hour/dim = 'fingerprint'"},
		{[]string{"fingerprint", "user"}, narrowVersion, "rollup_shape/"},
		{[]string{"user", "team"}, narrowVersion, "rollup_day/ rollup_hour/"},
		{[]string{"statement_type"}, narrowVersion, "rollup_day/ rollup_hour/"},
		{[]string{"user"}, narrowVersion - 1, "rollup_day/ rollup_hour/"},
		{[]string{"principal_arn"}, narrowVersion, ""},
	}
	for _, tt := range tests {
		var got []string
		for _, l := range rollupsFor(tt.names, tt.version) {
			got = append(got, l.table+"/"+l.cond)
		}
		if s := strings.Join(got, " "); s != tt.want {
			t.Errorf("rollupsFor(%v, %d) = %s, want %s", tt.names, tt.version, s, tt.want)
		}
	}
}

// field is the i-th sum of allRollupSums.
func (s *rollupSums) field(i int) *int64 {
	return []*int64{&s.queries, &s.billedBytes, &s.dataScannedBytes, &s.engineMs, &s.dpuMs, &s.noDPU}[i]
}

// addStored adds the stored rows with rowids in (after, last] to d, read
// back with their contribution columns: what the rollups must hold.
func (d rollupDelta) addStored(ctx context.Context, tx *sql.Tx, after, last int64) (int, error) {
	rows, err := tx.QueryContext(ctx, "SELECT "+contributionColumns+" FROM queries WHERE rowid > ? AND rowid <= ?", after, last)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		k, s, err := scanContribution(rows)
		if err != nil {
			return n, err
		}
		d.add(k, s)
		n++
	}
	return n, rows.Err()
}

// TestShapeEdgesReadTheShapeIndexes: the window's edges of a few shapes
// read the hours of those shapes from the shape index of the hourly rollup,
// and their users from the shape index of the rows alone (migration 0022);
// a database from before that migration is not asked for the index.
func TestShapeEdgesReadTheShapeIndexes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := openTest(t)
	// Half past one on one day to noon on the next: rows, hours, and the
	// hours and rows of the second day.
	f := Filter{
		Since: time.Date(2026, 11, 2, 1, 30, 0, 0, time.UTC),
		Until: time.Date(2026, 11, 3, 12, 0, 0, 0, time.UTC),
		Match: map[string][]string{"fingerprint": {"v1-a", "v1-b"}},
	}
	tests := []struct {
		name    string
		a       Aggregation
		version int
		want    []string
		notWant []string
	}{
		{"costs", Aggregation{By: "fingerprint", Filter: f, Sums: []Sum{SumQueries, SumBilledBytes}}, st.version,
			[]string{"USING INDEX rollup_dim_hour_fingerprint (value=? AND t>? AND t<?)", "USING INDEX queries_fingerprint (fingerprint=? AND event_time>? AND event_time<?)"}, []string{"SCAN queries", "SCAN rollup"}},
		{"users", Aggregation{By: "fingerprint", Then: "user", Filter: f, Sums: []Sum{SumQueries}}, st.version,
			[]string{"USING COVERING INDEX queries_fingerprint (fingerprint=? AND event_time>? AND event_time<?)"}, []string{"SCAN queries", "SCAN rollup"}},
		{"costs before 0022", Aggregation{By: "fingerprint", Filter: f, Sums: []Sum{SumQueries, SumBilledBytes}}, shapeEdgesVersion - 1,
			nil, []string{"rollup_dim_hour_fingerprint"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			from, to := tt.a.Filter.windowMillis()
			plan := planRollups(rollupsFor(aggregationDims(&tt.a), tt.version), from, to)
			q, args, err := partsSQL(&tt.a, tt.version, plan)
			if err != nil {
				t.Fatal(err)
			}
			if tt.version < st.version {
				for _, s := range tt.notWant {
					if strings.Contains(q, s) {
						t.Errorf("SQL for version %d names %s: %s", tt.version, s, q)
					}
				}
				return
			}
			rows, err := st.db.QueryContext(ctx, "EXPLAIN QUERY PLAN "+q, args...)
			if err != nil {
				t.Fatal(err)
			}
			var details []string
			for rows.Next() {
				var id, parent, notUsed int
				var detail string
				if err := rows.Scan(&id, &parent, &notUsed, &detail); err != nil {
					t.Fatal(err)
				}
				details = append(details, detail)
			}
			if err := rows.Close(); err != nil {
				t.Fatal(err)
			}
			p := strings.Join(details, "; ")
			for _, s := range tt.want {
				if !strings.Contains(p, s) {
					t.Errorf("plan lacks %q:\n%s", s, p)
				}
			}
			for _, s := range tt.notWant {
				if strings.Contains(p, s) {
					t.Errorf("plan has %q:\n%s", s, p)
				}
			}
		})
	}
}

// The ids that group a flush's rows by key must tell apart every two keys
// (strings that join alike, numbers of either sign) and sort periods as
// numbers.
func TestKeyIDsTellKeysApart(t *testing.T) {
	keys := [][]any{
		{int64(0), "ab", "c"},
		{int64(0), "a", "bc"},
		{int64(0), "abc", ""},
		{int64(0), "", "abc"},
		{int64(0), "a\x00", "bc"},
		{int64(0), "a", "\x00bc"},
		{int64(-1), "a", "bc"},
		{int64(1), "a", "bc"},
		{int64(-1 << 62), "a", "bc"},
		{int64(1 << 62), "a", "bc"},
		{"0", "a", "bc"},
		{int64(0), "a", "bc", int64(0)},
		{int64(0), "a", "bc", "0"},
	}
	seen := map[string]int{}
	for i, k := range keys {
		id := string(appendKeyID(nil, k))
		if j, ok := seen[id]; ok {
			t.Errorf("keys %#v and %#v share the id %q", keys[j], k, id)
		}
		seen[id] = i
		if again := string(appendKeyID([]byte("junk"), k)); again != "junk"+id {
			t.Errorf("id of %#v depends on what it is appended to", k)
		}
	}
	times := []int64{-1 << 62, -3600000, -1, 0, 1, 3600000, 1 << 62}
	for i := 1; i < len(times); i++ {
		a := string(appendKeyID(nil, []any{times[i-1], "z"}))
		b := string(appendKeyID(nil, []any{times[i], "a"}))
		if a >= b {
			t.Errorf("id of period %d sorts at or after that of %d", times[i-1], times[i])
		}
	}
}
