package store

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/athenawatch/athenawatch/internal/cloudtrail"
)

// pendingQuery is a query as collect stores it: no statistics yet.
func pendingQuery(region, id string) Query {
	q := testQuery(region, id, "alice", 0)
	q.Stats, q.StatsStatus, q.BilledBytes = Stats{}, StatusPending, 0
	return q
}

// spreadRange is queryRange with a caller of its own for each query (its
// source address), as a fleet of hosts makes, save every fourth, which
// shares one caller with the others of its kind.
func spreadRange(prefix string, from, to int) []Query {
	qs := queryRange(prefix, from, to)
	for i := range qs {
		if n := from + i; n%4 != 0 {
			qs[i].SourceIP = fmt.Sprintf("10.0.%d.%d", n/256, n%256)
		}
	}
	return qs
}

func queryRange(prefix string, from, to int) []Query {
	var qs []Query
	for i := from; i < to; i++ {
		qs = append(qs, pendingQuery("us-east-1", fmt.Sprintf("%s-%05d", prefix, i)))
	}
	return qs
}

func countQueries(t *testing.T, st *Store) int {
	t.Helper()
	var n int
	if err := st.db.QueryRow("SELECT count(*) FROM queries").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestCommitCountsEachQueryOnce: the same batch twice, overlapping batches
// and duplicates inside one batch (across the rows of one INSERT and across
// INSERTs) store and count each query once, whether the batches are
// committed one by one or added to one transaction.
func TestCommitCountsEachQueryOnce(t *testing.T) {
	t.Parallel()
	big := queryRange("q", 0, 3*rowsPerInsert+7)
	final := testQuery("us-east-1", "q-00001", "bob", 100) // a delivery with statistics
	tests := []struct {
		name     string
		batches  [][]Query
		wantNew  []int
		wantRows int
	}{
		{"same batch twice", [][]Query{big, big}, []int{len(big), 0}, len(big)},
		{"overlapping batches", [][]Query{queryRange("q", 0, 100), queryRange("q", 50, 200)}, []int{100, 100}, 200},
		{"duplicates inside a batch", [][]Query{append(append(queryRange("q", 0, rowsPerInsert+3), queryRange("q", 1, 2)...), queryRange("q", rowsPerInsert-1, rowsPerInsert+1)...)},
			[]int{rowsPerInsert + 3}, rowsPerInsert + 3},
		{"pending and final deliveries of one query", [][]Query{append(queryRange("q", 0, 3), final, pendingQuery("eu-west-1", "q-00001"))},
			[]int{4}, 4},
		{"callers of a query each, same batch twice", [][]Query{spreadRange("q", 0, 3*rowsPerInsert+7), spreadRange("q", 0, 3*rowsPerInsert+7)},
			[]int{3*rowsPerInsert + 7, 0}, 3*rowsPerInsert + 7},
		{"callers of a query each, overlapping batches", [][]Query{spreadRange("q", 0, 100), spreadRange("q", 50, 200)}, []int{100, 100}, 200},
		{"callers of a query each, duplicates inside a batch",
			[][]Query{slices.Concat(spreadRange("q", 0, 2*rowsPerInsert+3), spreadRange("q", 1, 3), spreadRange("q", rowsPerInsert-1, rowsPerInsert+9))},
			[]int{2*rowsPerInsert + 3}, 2*rowsPerInsert + 3},
	}
	for _, tt := range tests {
		for _, oneTx := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/one transaction %v", tt.name, oneTx), func(t *testing.T) {
				t.Parallel()
				ctx := context.Background()
				st := openTest(t)
				var tx *Tx
				if oneTx {
					var err error
					if tx, err = st.Begin(ctx); err != nil {
						t.Fatal(err)
					}
				}
				for i, qs := range tt.batches {
					b := &Batch{Queries: qs, Checkpoints: []Checkpoint{{Source: "dir:x", Name: fmt.Sprint(i), ModTime: time.UnixMilli(0), Status: CheckpointDone}}}
					var res CommitResult
					var err error
					if oneTx {
						res, err = tx.Add(ctx, b)
					} else {
						res, err = st.Commit(ctx, b)
					}
					if err != nil {
						t.Fatal(err)
					}
					if res.NewQueries != tt.wantNew[i] {
						t.Errorf("batch %d: %d new queries, want %d", i, res.NewQueries, tt.wantNew[i])
					}
				}
				if oneTx {
					if err := tx.Commit(); err != nil {
						t.Fatal(err)
					}
				}
				if n := countQueries(t, st); n != tt.wantRows {
					t.Errorf("%d rows stored, want %d", n, tt.wantRows)
				}
				checkRollupTables(t, st)
			})
		}
	}
}

// TestCommitFirstDeliveryWins: of two deliveries of one query, the first
// is stored, whether or not it carries statistics.
func TestCommitFirstDeliveryWins(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := openTest(t)
	final := testQuery("us-east-1", "a", "bob", 100)
	if _, err := st.Commit(ctx, &Batch{Queries: []Query{pendingQuery("us-east-1", "a"), final, final, pendingQuery("us-east-1", "b")}}); err != nil {
		t.Fatal(err)
	}
	a, _, err := st.GetQuery(ctx, "us-east-1", "a")
	if err != nil {
		t.Fatal(err)
	}
	b, _, err := st.GetQuery(ctx, "us-east-1", "b")
	if err != nil {
		t.Fatal(err)
	}
	if a.StatsStatus != StatusPending || a.User != "alice" || b.StatsStatus != StatusPending {
		t.Fatalf("a = %s %s, b = %s; want the first delivery, pending, alice", a.StatsStatus, a.User, b.StatsStatus)
	}
	if _, err := st.Commit(ctx, &Batch{Queries: []Query{testQuery("us-east-1", "c", "bob", 100), pendingQuery("us-east-1", "c")}}); err != nil {
		t.Fatal(err)
	}
	c, _, err := st.GetQuery(ctx, "us-east-1", "c")
	if err != nil {
		t.Fatal(err)
	}
	want := testQuery("us-east-1", "c", "bob", 100)
	if c.StatsStatus != StatusFinal || c.Stats != want.Stats || c.BilledBytes != 100 {
		t.Fatalf("c = %+v, want the final delivery with its statistics", c)
	}
}

// TestTxRollbackStoresNothing: rows and checkpoints of a transaction that
// is rolled back are not stored, and the next transaction stores them.
func TestTxRollbackStoresNothing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := openTest(t)
	b := &Batch{Queries: queryRange("q", 0, 10), Checkpoints: []Checkpoint{{Source: "dir:x", Name: "f", ModTime: time.UnixMilli(0), Status: CheckpointDone}}}
	tx, err := st.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Add(ctx, b); err != nil {
		t.Fatal(err)
	}
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	if err := tx.Rollback(); err != nil {
		t.Fatalf("second rollback: %v", err)
	}
	cps, err := st.Checkpoints(ctx, "dir:x")
	if err != nil {
		t.Fatal(err)
	}
	if n := countQueries(t, st); n != 0 || len(cps) != 0 {
		t.Fatalf("after rollback: %d rows, %d checkpoints", n, len(cps))
	}
	res, err := st.Commit(ctx, b)
	if err != nil || res.NewQueries != 10 {
		t.Fatalf("commit after rollback: %+v, %v", res, err)
	}
	// The connection went back to the pool with the default page cache.
	var cache int
	if err := st.db.QueryRow("PRAGMA cache_size").Scan(&cache); err != nil || cache != -defaultCacheKiB {
		t.Fatalf("cache_size after commit = %d (%v), want -%d", cache, err, defaultCacheKiB)
	}
}

// TestUnknownStatusIsAnError: whole rows go in with INSERT OR IGNORE, which
// would skip a row that breaks the CHECK on stats_status as if it were
// stored already; such a row is refused with an error naming it, and
// nothing of its batch is stored.
func TestUnknownStatusIsAnError(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := openTest(t)
	bad := testQuery("us-east-1", "q-bad", "bob", 100)
	bad.StatsStatus = "finished"
	_, err := st.Commit(ctx, &Batch{Queries: append(queryRange("q", 0, 3), testQuery("us-east-1", "q-good", "bob", 100), bad)})
	if err == nil || !strings.Contains(err.Error(), "us-east-1/q-bad") || !strings.Contains(err.Error(), `"finished"`) {
		t.Fatalf("commit with an unknown status: %v, want an error naming the query and the status", err)
	}
	if n := countQueries(t, st); n != 0 {
		t.Fatalf("%d rows stored from the refused batch", n)
	}
	// The same queries with a known status are stored, whole rows too.
	bad.StatsStatus = StatusFinal
	res, err := st.Commit(ctx, &Batch{Queries: append(queryRange("q", 0, 3), testQuery("us-east-1", "q-good", "bob", 100), bad)})
	if err != nil || res.NewQueries != 5 {
		t.Fatalf("commit: %+v, %v; want 5 new", res, err)
	}
}

// TestWriterRunsTransactions: one Writer runs transactions one after
// another; closing it rolls back the one in progress and gives the
// connection back with the default cache.
func TestWriterRunsTransactions(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := openTest(t)
	w, err := st.Writer(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		tx, err := w.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Begin(ctx); err == nil {
			t.Fatal("a second transaction began on a writer with one in progress")
		}
		res, err := tx.Add(ctx, &Batch{Queries: queryRange("q", i*10, i*10+15)})
		if err != nil {
			t.Fatal(err)
		}
		if want := []int{15, 10, 10}[i]; res.NewQueries != want {
			t.Errorf("transaction %d: %d new, want %d", i, res.NewQueries, want)
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
		if err := tx.Commit(); err == nil {
			t.Fatal("a transaction committed twice")
		}
	}
	tx, err := w.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Add(ctx, &Batch{Queries: queryRange("r", 0, 5)}); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if n := countQueries(t, st); n != 35 {
		t.Fatalf("%d rows stored, want 35 (the transaction left open is rolled back)", n)
	}
	var cache, auto int
	if err := st.db.QueryRow("PRAGMA cache_size").Scan(&cache); err != nil || cache != -defaultCacheKiB {
		t.Fatalf("cache_size after Close = %d (%v), want -%d", cache, err, defaultCacheKiB)
	}
	if err := st.db.QueryRow("PRAGMA wal_autocheckpoint").Scan(&auto); err != nil || auto != defaultAutoCheckpoint {
		t.Fatalf("wal_autocheckpoint after Close = %d (%v), want %d", auto, err, defaultAutoCheckpoint)
	}
}

// TestFreshQueriesRoundTrip: queries of several callers, interleaved and
// more than one statement's worth each, read back exactly as written, every
// event column in its place: when each query has a target of its own (the
// target's values go in each row) and when a caller's queries share two
// (they are bound once per statement).
func TestFreshQueriesRoundTrip(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name    string
		callers int // 0: one per query
		targets int // per caller; 0: one per query
		kind    int // the statements that should carry every row
	}{
		{"spread targets", 3, 0, stmtFreshQueries},
		{"shared targets", 3, 2, stmtFreshTargeted},
		{"spread callers", 0, 0, stmtFreshSpread},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			testFreshQueriesRoundTrip(t, tt.callers, tt.targets, tt.kind)
		})
	}
}

func testFreshQueriesRoundTrip(t *testing.T, callers, targets, kind int) {
	ctx := context.Background()
	st := openTest(t)
	var qs []Query
	for i := range 3*rowsPerInsert + 5 {
		c := fmt.Sprint(i) // the caller
		if callers > 0 {
			c = fmt.Sprint(i % callers)
		}
		tg := fmt.Sprint(i) // the target
		if targets > 0 {
			tg = fmt.Sprint(c, "-", i/3%targets)
		}
		q := Query{
			Region: "region-" + c, QueryID: fmt.Sprintf("q%04d", i), EventID: fmt.Sprintf("e%04d", i),
			EventTime:    time.Date(2026, 11, 20, 10, 0, i, 0, time.UTC),
			OwnerAccount: "owner-" + c,
			Identity: cloudtrail.Identity{Type: "type-" + c, PrincipalID: "principal-" + c, ARN: "arn-" + c, AccountID: "account-" + c,
				UserName: "username-" + c, InvokedBy: "invokedby-" + c, IssuerType: "issuertype-" + c, IssuerUserName: "issuerusername-" + c,
				IssuerARN: "issuerarn-" + c, SourceIdentity: "sourceidentity-" + c, OnBehalfOfUserID: "obo-" + c, OnBehalfOfIdentityStoreARN: "store-" + c},
			CTDatabase: "ctdb-" + tg, CTCatalog: "ctcat-" + tg, CTWorkgroup: "ctwg-" + tg,
			CTQueryText: "text-" + tg, ClientRequestToken: fmt.Sprint("token-", i), SourceIP: "ip-" + c, UserAgent: "agent-" + c,
			User: "user-" + c, Role: "role-" + c, Account: "acct-" + c, Team: "team-" + tg, Database: "db-" + tg,
			Workgroup: "wg-" + tg, Provisioned: len(tg)%2 == 0, BilledBytes: int64(i), RulesFingerprint: "fp-" + c,
			StatsStatus: StatusPending,
		}
		qs = append(qs, q)
	}
	b := &Batch{Queries: qs}
	b.Plan()
	kinds := map[int]int{}
	for _, ps := range b.plan.stmts {
		kinds[ps.key.kind] += ps.key.nrows
	}
	if kinds[kind] != len(qs) {
		t.Fatalf("rows planned by statement kind %v, want all %d of kind %d", kinds, len(qs), kind)
	}
	res, err := st.Commit(ctx, b)
	if err != nil || res.NewQueries != len(qs) {
		t.Fatalf("commit: %+v, %v", res, err)
	}
	for _, want := range qs {
		got, ok, err := st.GetQuery(ctx, want.Region, want.QueryID)
		if err != nil || !ok {
			t.Fatalf("GetQuery %s: %v %v", want.QueryID, ok, err)
		}
		if got != want {
			t.Fatalf("round trip of %s:\n got %+v\nwant %+v", want.QueryID, got, want)
		}
	}
}

// TestFreshColumnsAreEventColumns: the columns a fresh insert writes are
// exactly the event columns, each once.
func TestFreshColumnsAreEventColumns(t *testing.T) {
	t.Parallel()
	split := func(cols string) []string {
		var out []string
		for _, c := range strings.Split(cols, ",") {
			out = append(out, strings.TrimSpace(c))
		}
		slices.Sort(out)
		return out
	}
	fresh := split(callerColumns + "," + targetColumns + "," + rowColumns)
	if event := split(eventColumns); !slices.Equal(fresh, event) {
		t.Fatalf("caller, target and row columns:\n%v\nevent columns:\n%v", fresh, event)
	}
	if len(fresh) != callerColumnCount+targetColumnCount+rowColumnCount {
		t.Fatalf("%d columns, counts say %d + %d + %d", len(fresh), callerColumnCount, targetColumnCount, rowColumnCount)
	}
}
