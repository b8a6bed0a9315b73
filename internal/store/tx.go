package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/athenawatch/athenawatch/internal/cloudtrail"
)

// Writer is a connection reserved for write transactions, with a page
// cache large enough for the pages a large transaction changes. Between its
// transactions it keeps the pages it read (the primary key index above all,
// where random query ids land everywhere), so a run of transactions does
// not read them again each time. Close returns the connection to the pool
// with the default cache.
//
// A Writer is not safe for concurrent use.
type Writer struct {
	conn *sql.Conn
	tx   *Tx           // the transaction in progress
	ckpt *checkpointer // nil for the writer of one transaction (Store.Begin)
}

// Tx is one write transaction that batches are added to: the rows and
// checkpoints of every batch added are stored together when Commit
// succeeds, and none of them otherwise. A collect adds many small batches to
// one Tx: the memory a batch takes stays small, while a large transaction
// writes each page it changes (of the primary key index above all) once
// rather than once per batch.
//
// A Tx is not safe for concurrent use, and holds the database's write lock
// until Commit or Rollback.
type Tx struct {
	w     *Writer
	own   bool // close w when done (Store.Begin)
	tx    *sql.Tx
	stmts map[stmtKey]*sql.Stmt
	done  bool
	// delta sums the queries inserted, written to the rollups at commit.
	delta rollupDelta
}

type stmtKey struct {
	kind  int // stmtFreshQueries, ...
	nrows int
}

const (
	stmtFreshQueries = iota
	stmtFreshTargeted
	stmtFreshSpread
	stmtQueries
	stmtRejected
	stmtCheckpoint
	stmtCursor
)

// Page cache sizes in KiB: every connection's, and what a Writer gets.
// Reports read rollup rows scattered over many pages of a table and its
// index; with SQLite's default of 2000 KiB, 16 KiB pages (pageSize) left a
// month's report about a fifth slower than 4 KiB ones, and 16 MiB brought
// most of that back. The pages a transaction changes stay in the cache
// until it commits; when they do not fit, SQLite writes them out early (and
// again if they change again). A cached page takes about twice its size in
// memory, so 32 MiB of cache is about 64 MiB of the process's memory; more
// bought little speed on a database of a million queries.
const (
	defaultCacheKiB = 16 << 10
	writerCacheKiB  = 32 << 10
)

// defaultCache sets a connection's page cache to defaultCacheKiB.
var defaultCache = "cache_size(-" + strconv.Itoa(defaultCacheKiB) + ")"

// Writer reserves a connection for write transactions.
func (s *Store) Writer(ctx context.Context) (*Writer, error) {
	w, err := s.writer(ctx)
	if err != nil {
		return nil, err
	}
	if _, err := w.conn.ExecContext(ctx, "PRAGMA wal_autocheckpoint = 0"); err != nil {
		w.Close()
		return nil, fmt.Errorf("turn off checkpoints on commit: %w", err)
	}
	w.ckpt = startCheckpointer(s.db)
	return w, nil
}

func (s *Store) writer(ctx context.Context) (*Writer, error) {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("reserve a database connection: %w", err)
	}
	// Temporary files in memory: a statement that may fail midway (an
	// insert of many rows that skips those already stored, a rollup
	// upsert) keeps a journal of the pages it changes, a write call per
	// page when it is a file.
	if _, err := conn.ExecContext(ctx, "PRAGMA cache_size = -"+strconv.Itoa(writerCacheKiB)+"; PRAGMA temp_store = MEMORY"); err != nil {
		dropConn(conn)
		return nil, fmt.Errorf("size page cache: %w", err)
	}
	return &Writer{conn: conn}, nil
}

// Close rolls back a transaction still in progress, checkpoints what its
// transactions wrote, and returns the connection to the pool with the
// default settings (the default cache size frees the pages beyond it).
func (w *Writer) Close() error {
	if w.conn == nil {
		return nil
	}
	var err error
	if tx := w.tx; tx != nil {
		tx.own = false
		err = tx.Rollback()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	reset := "PRAGMA " + defaultCache + "; PRAGMA temp_store = DEFAULT"
	if w.ckpt != nil {
		w.ckpt.stop(w.conn)
		reset += "; PRAGMA wal_autocheckpoint = " + strconv.Itoa(defaultAutoCheckpoint)
	}
	if _, rerr := w.conn.ExecContext(ctx, reset); rerr != nil {
		// A connection that keeps the large cache, or commits without
		// checkpoints, must not serve others.
		dropConn(w.conn)
	} else {
		w.conn.Close()
	}
	w.conn = nil
	return err
}

// dropConn closes a connection instead of returning it to the pool.
func dropConn(conn *sql.Conn) {
	conn.Raw(func(any) error { return driver.ErrBadConn })
	conn.Close()
}

// Begin starts a write transaction. The transaction is rolled back if ctx
// ends before Commit.
func (w *Writer) Begin(ctx context.Context) (*Tx, error) {
	if w.conn == nil {
		return nil, errors.New("begin commit: writer closed")
	}
	if w.tx != nil {
		return nil, errors.New("begin commit: a transaction is in progress")
	}
	tx, err := w.conn.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("begin commit: %w", err)
	}
	w.tx = &Tx{w: w, tx: tx, stmts: make(map[stmtKey]*sql.Stmt), delta: rollupDelta{}}
	return w.tx, nil
}

// Begin starts a write transaction on a connection of its own, given back
// when the transaction ends.
func (s *Store) Begin(ctx context.Context) (*Tx, error) {
	w, err := s.writer(ctx)
	if err != nil {
		return nil, fmt.Errorf("begin commit: %w", err)
	}
	tx, err := w.Begin(ctx)
	if err != nil {
		w.Close()
		return nil, err
	}
	tx.own = true
	return tx, nil
}

// Commit stores everything added.
func (t *Tx) Commit() error {
	if t.done {
		return sql.ErrTxDone
	}
	if err := t.delta.flush(context.Background(), t.tx); err != nil {
		t.Rollback()
		return fmt.Errorf("commit: %w", err)
	}
	if err := t.delta.touchDays(context.Background(), t.tx); err != nil {
		t.Rollback()
		return fmt.Errorf("commit: %w", err)
	}
	t.end()
	err := t.tx.Commit()
	if err == nil && t.w.ckpt != nil {
		t.w.ckpt.committed(t.w.conn)
	}
	if t.own {
		t.w.Close()
	}
	if err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// Rollback drops everything added. It does nothing after Commit.
func (t *Tx) Rollback() error {
	if t.done {
		return nil
	}
	t.end()
	err := t.tx.Rollback()
	if t.own {
		t.w.Close()
	}
	if err != nil && !errors.Is(err, sql.ErrTxDone) {
		return fmt.Errorf("roll back: %w", err)
	}
	return nil
}

func (t *Tx) end() {
	t.closeStmts()
	t.done = true
	t.w.tx = nil
}

func (t *Tx) closeStmts() {
	for k, st := range t.stmts {
		st.Close()
		delete(t.stmts, k)
	}
}

func (t *Tx) stmt(ctx context.Context, key stmtKey, query func() string) (*sql.Stmt, error) {
	if st := t.stmts[key]; st != nil {
		return st, nil
	}
	st, err := t.tx.PrepareContext(ctx, query())
	if err != nil {
		return nil, err
	}
	t.stmts[key] = st
	return st, nil
}

// Add writes a batch into the transaction: queries and rejected
// submissions already stored (or added before) are left as they are,
// checkpoints are replaced. The result counts rows that are new if the
// transaction commits. After an error the transaction must be rolled back.
func (t *Tx) Add(ctx context.Context, b *Batch) (CommitResult, error) {
	var res CommitResult
	n, err := t.insertQueries(ctx, b)
	if err != nil {
		return res, err
	}
	res.NewQueries = n
	if res.NewRejected, err = t.insertRejected(ctx, b.Rejected); err != nil {
		return res, err
	}
	if err := t.writeCheckpoints(ctx, b.Checkpoints); err != nil {
		return res, err
	}
	if err := t.writeCursors(ctx, b.Cursors); err != nil {
		return res, err
	}
	return res, nil
}

// rowsPerInsert is how many queries one INSERT statement carries. One
// statement per row spends most of its time in the per-statement work of
// database/sql and SQLite; 64 rows of at most 61 values stay well under
// SQLite's limit of 32766 variables.
const rowsPerInsert = 64

// insertQueries inserts the queries of b, leaving alone those already
// stored, and returns how many it inserted, through b's insert plan (made
// here when the batch was not planned, or changed since).
func (t *Tx) insertQueries(ctx context.Context, b *Batch) (int, error) {
	for i := range b.Queries {
		if q := &b.Queries[i]; !knownStatus(q.StatsStatus) {
			// The insert would skip the row as if it were stored already.
			return 0, fmt.Errorf("insert query %s/%s: unknown statistics status %q", q.Region, q.QueryID, q.StatsStatus)
		}
	}
	p := &b.plan
	if !p.planned(b.Queries) {
		p.make(b.Queries)
	}
	inserted := 0
	var argsAt, rowsAt int
	for _, ps := range p.stmts {
		args := p.args[argsAt : argsAt+ps.nargs]
		rows := p.rows[rowsAt : rowsAt+ps.key.nrows]
		argsAt, rowsAt = argsAt+ps.nargs, rowsAt+ps.key.nrows
		stmt, err := t.stmt(ctx, ps.key, func() string {
			switch ps.key.kind {
			case stmtFreshQueries, stmtFreshTargeted:
				return freshInsert(ps.key.nrows, ps.key.kind == stmtFreshTargeted)
			case stmtFreshSpread:
				return insertRows(eventColumns, eventColumnCount, ps.key.nrows)
			}
			return insertRows(queryColumns, queryColumnCount, ps.key.nrows)
		})
		if err != nil {
			return inserted, fmt.Errorf("prepare query insert: %w", err)
		}
		k, err := t.exec(ctx, stmt, args, rows)
		inserted += k
		if err != nil {
			return inserted, err
		}
	}
	p.reset()
	return inserted, nil
}

// insertPlan is the INSERT statements that store a batch's queries, with
// the values each binds and the rollup contribution of each query. Making
// it is a good part of an insert's work that needs no database: the
// collector plans a batch (Batch.Plan) on its own goroutine while the one
// that writes is busy with the batch before.
type insertPlan struct {
	stmts []plannedStmt
	args  []any        // the values of every statement, in order
	rows  []plannedRow // the queries of every statement, in order
	of    *Query       // &Queries[0] of the batch planned
	n     int          // len(Queries) of the batch planned
}

type plannedStmt struct {
	key   stmtKey // kind and number of rows
	nargs int
}

type plannedRow struct {
	q    *Query
	key  rollupKey
	sums rollupSums
}

// planned tells whether the plan is of qs as they are.
func (p *insertPlan) planned(qs []Query) bool {
	return len(qs) > 0 && p.n == len(qs) && p.of == &qs[0] || len(qs) == 0 && p.n == 0 && len(p.stmts) == 0
}

// reset empties the plan, keeping its memory, and drops its references to
// the batch's queries and strings.
func (p *insertPlan) reset() {
	clear(p.args)
	clear(p.rows)
	*p = insertPlan{stmts: p.stmts[:0], args: p.args[:0], rows: p.rows[:0]}
}

// make plans qs. Runs of fresh queries (no statistics yet, the case of
// every collect) are inserted with their event columns only, grouped by
// caller (fresh); the others are written whole, in order,
// rowsPerInsert a statement.
func (p *insertPlan) make(qs []Query) {
	p.reset()
	if len(qs) == 0 {
		return
	}
	p.of, p.n = &qs[0], len(qs)
	for len(qs) > 0 {
		fresh := qs[0].fresh()
		n := 1
		for n < len(qs) && qs[n].fresh() == fresh {
			n++
		}
		if fresh {
			p.fresh(qs[:n])
		} else {
			p.whole(qs[:n])
		}
		qs = qs[n:]
	}
}

func (p *insertPlan) addRow(q *Query) {
	k, s := queryContribution(q)
	p.rows = append(p.rows, plannedRow{q, k, s})
}

// whole plans queries with all their columns.
func (p *insertPlan) whole(qs []Query) {
	for len(qs) > 0 {
		n := min(len(qs), rowsPerInsert)
		before := len(p.args)
		for i := range qs[:n] {
			p.args = appendEventValues(p.args, &qs[i])
			p.args = appendEnrichValues(p.args, &qs[i])
			p.addRow(&qs[i])
		}
		p.stmts = append(p.stmts, plannedStmt{stmtKey{stmtQueries, n}, len(p.args) - before})
		qs = qs[n:]
	}
}

// fresh plans queries fresh from CloudTrail, with their event columns
// only (the others keep their defaults). Binding a value is the costliest
// part of an insert, and most of a row's values are its caller's: the
// queries are grouped by caller, and one statement carries up to
// rowsPerInsert queries of one caller, binding the caller's values once.
// A caller's queries that mostly share their target (database, workgroup,
// team...) are grouped by target too, binding the target's values once
// as well; a caller whose queries spread over many targets keeps them in
// its rows, where statements of a few rows would cost more than the binds
// they save. A caller with fewer than minCallerRows queries in the batch
// gets no statement of its own: such queries go together into statements
// that bind all their values in each row. Within a caller and target, and
// among those, the order is kept, so of two deliveries of one query (which
// share both) the first wins.
func (p *insertPlan) fresh(qs []Query) {
	all := make([]int, len(qs))
	for i := range all {
		all[i] = i
	}
	callers, byCaller := groupBy(all, func(i int) caller { return callerOf(&qs[i]) })
	var spread []int // the queries of callers with too few for a statement of their own
	for _, c := range callers {
		idx := byCaller[c]
		if len(idx) < minCallerRows {
			spread = append(spread, idx...)
			continue
		}
		targets, byTarget := groupBy(idx, func(i int) target { return targetOf(&qs[i]) })
		if len(idx) < minTargetRows*len(targets) {
			p.freshRows(qs, idx, stmtFreshQueries, c.appendValues, func(dst []any, q *Query) []any {
				t := targetOf(q)
				return appendRowValues(t.appendValues(dst), q)
			})
			continue
		}
		for _, t := range targets {
			p.freshRows(qs, byTarget[t], stmtFreshTargeted, func(dst []any) []any { return t.appendValues(c.appendValues(dst)) }, appendRowValues)
		}
	}
	// In the order of the batch: of two deliveries of one query (which
	// share their caller, so both are here) the first wins.
	slices.Sort(spread)
	p.freshRows(qs, spread, stmtFreshSpread, func(dst []any) []any { return dst }, appendEventValues)
}

// minCallerRows is how many queries a caller must have in a batch for
// them to be inserted by statements of their own, binding the caller's
// values once: with fewer, the statement costs more than the binds it
// saves, and its queries go with those of other such callers into
// statements that bind every value of every row. (A trail in which no two
// queries share a caller, as when each host of a fleet has an address of
// its own, would otherwise make a statement per query.)
const minCallerRows = 4

// groupBy groups the indexes idx by key, keeping their order within each
// group, and lists the keys in the order of their first index.
func groupBy[K comparable](idx []int, key func(int) K) ([]K, map[K][]int) {
	var order []K
	groups := make(map[K][]int)
	for _, i := range idx {
		k := key(i)
		g, ok := groups[k]
		if !ok {
			order = append(order, k)
		}
		groups[k] = append(g, i)
	}
	return order, groups
}

// minTargetRows is how many queries a caller must have per target, on
// average, for its queries to be grouped by target: a statement costs
// about as much as binding a few dozen values, and grouping saves the
// target's eight values per query.
const minTargetRows = 8

// freshRows plans the queries qs[idx] in statements of kind of up to
// rowsPerInsert rows: the values shared binds once, then each row's.
func (p *insertPlan) freshRows(qs []Query, idx []int, kind int, shared func([]any) []any, row func([]any, *Query) []any) {
	for len(idx) > 0 {
		n := min(len(idx), rowsPerInsert)
		before := len(p.args)
		p.args = shared(p.args)
		for _, i := range idx[:n] {
			p.args = row(p.args, &qs[i])
			p.addRow(&qs[i])
		}
		p.stmts = append(p.stmts, plannedStmt{stmtKey{kind, n}, len(p.args) - before})
		idx = idx[n:]
	}
}

// The event columns, in three parts. callerColumns depend only on who
// made the call, with which client, in which account and region, under
// which rules: the queries of one caller share them. targetColumns are
// what the call was about (the database, workgroup and catalog asked for
// and the team, database and workgroup derived): a caller's queries often
// share them. rowColumns are each query's own, and the address it came
// from: one principal calls from many (a fleet of hosts, functions, a
// laptop on the move), and as a caller's value it would leave most callers
// with a query or two.
const (
	callerColumns = `region, owner_account, identity_type, principal_id, principal_arn, identity_account, identity_user_name,
	invoked_by, issuer_type, issuer_user_name, issuer_arn, source_identity, on_behalf_of_user, on_behalf_of_store,
	user_agent, user, role, account, rules_fp`
	targetColumns = `ct_database, ct_catalog, ct_workgroup, ct_query_text, team, database, workgroup, provisioned`
	rowColumns    = `query_id, event_id, event_time, day, client_request_token, billed_bytes, source_ip`
)

var (
	callerColumnCount = strings.Count(callerColumns, ",") + 1
	targetColumnCount = strings.Count(targetColumns, ",") + 1
	rowColumnCount    = strings.Count(rowColumns, ",") + 1
)

// caller is the values of callerColumns.
type caller struct {
	region, owner                              string
	identity                                   cloudtrail.Identity
	userAgent, user, role, account, rulesPrint string
}

func callerOf(q *Query) caller {
	return caller{q.Region, q.OwnerAccount, q.Identity, q.UserAgent, q.User, q.Role, q.Account, q.RulesFingerprint}
}

func (c *caller) appendValues(dst []any) []any {
	id := &c.identity
	return append(dst, c.region, c.owner, id.Type, id.PrincipalID, id.ARN, id.AccountID, id.UserName,
		id.InvokedBy, id.IssuerType, id.IssuerUserName, id.IssuerARN, id.SourceIdentity, id.OnBehalfOfUserID, id.OnBehalfOfIdentityStoreARN,
		c.userAgent, c.user, c.role, c.account, c.rulesPrint)
}

// target is the values of targetColumns.
type target struct {
	ctDatabase, ctCatalog, ctWorkgroup, ctQueryText, team, database, workgroup string
	provisioned                                                                bool
}

func targetOf(q *Query) target {
	return target{q.CTDatabase, q.CTCatalog, q.CTWorkgroup, q.CTQueryText, q.Team, q.Database, q.Workgroup, q.Provisioned}
}

func (t *target) appendValues(dst []any) []any {
	return append(dst, t.ctDatabase, t.ctCatalog, t.ctWorkgroup, t.ctQueryText, t.team, t.database, t.workgroup, boolInt(t.provisioned))
}

func appendRowValues(dst []any, q *Query) []any {
	return append(dst, q.QueryID, q.EventID, millis(q.EventTime), Day(q.EventTime), q.ClientRequestToken, q.BilledBytes, q.SourceIP)
}

// knownStatus reports whether status may be stored as a query's
// stats_status ("" stands for StatusPending).
func knownStatus(status string) bool {
	switch status {
	case "", StatusPending, StatusFinal, StatusNoStats:
		return true
	}
	return false
}

// insertRows is the statement that inserts n rows of count columns each,
// every value bound in its row. It is INSERT OR IGNORE, as freshInsert
// explains; the one CHECK constraint the columns meet, on stats_status, was
// checked before (knownStatus).
func insertRows(columns string, count, n int) string {
	return "INSERT OR IGNORE INTO queries (" + columns + ") VALUES " + rowPlaceholders(n, count)
}

// freshInsert is the statement of a plan's fresh queries for n rows:
// the shared values come first, once (the caller's, and with targeted
// the target's), and then each row's own. (Numbered parameters could
// repeat the shared values in every row of a VALUES list, but SQLite looks
// up their names one by one through a list, which costs more than the
// binds it saves.)
//
// The statement is INSERT OR IGNORE: unlike ON CONFLICT DO NOTHING it lets
// SQLite skip the statement journal a multi-row statement that may abort
// needs (a copy of every page the statement changes, made in memory that
// is allocated and freed again for each statement), and nothing here can
// abort: every value bound is non-NULL and no CHECK constraint concerns
// these columns.
func freshInsert(n int, targeted bool) string {
	shared, own := callerColumns, targetColumns+", "+rowColumns
	sharedCount, ownCount := callerColumnCount, targetColumnCount+rowColumnCount
	if targeted {
		shared, own = callerColumns+", "+targetColumns, rowColumns
		sharedCount, ownCount = callerColumnCount+targetColumnCount, rowColumnCount
	}
	vs := make([]string, ownCount)
	for i := range vs {
		vs[i] = "v.column" + strconv.Itoa(i+1)
	}
	return "INSERT OR IGNORE INTO queries (" + shared + ", " + own + ") SELECT " + placeholders(sharedCount) + ", " +
		strings.Join(vs, ", ") + " FROM (VALUES " + rowPlaceholders(n, ownCount) + ") AS v"
}

// exec runs an insert of the planned rows, in order, and returns how many
// it inserted. It is the one way queries enter the database, and it adds
// what it inserted to the rollups: all of rows when every row was new;
// otherwise the queries whose keys the rows it stored hold (addInserted),
// so that a query already stored, or delivered twice, counts once.
func (t *Tx) exec(ctx context.Context, stmt *sql.Stmt, args []any, rows []plannedRow) (int, error) {
	first, last := rows[0].q, rows[len(rows)-1].q
	r, err := stmt.ExecContext(ctx, args...)
	if err != nil {
		if len(rows) == 1 {
			return 0, fmt.Errorf("insert query %s/%s: %w", first.Region, first.QueryID, err)
		}
		return 0, fmt.Errorf("insert queries %s/%s to %s/%s: %w", first.Region, first.QueryID, last.Region, last.QueryID, err)
	}
	n, _ := r.RowsAffected()
	k := int(n)
	switch {
	case k == len(rows):
		for i := range rows {
			t.delta.add(rows[i].key, rows[i].sums)
		}
	case k > 0:
		lastID, err := r.LastInsertId()
		if err != nil {
			return 0, fmt.Errorf("insert queries %s/%s to %s/%s: %w", first.Region, first.QueryID, last.Region, last.QueryID, err)
		}
		got, err := t.addInserted(ctx, rows, lastID-n, lastID)
		if err == nil && got != k {
			err = fmt.Errorf("read back %d inserted rows, want %d", got, k)
		}
		if err != nil {
			return 0, fmt.Errorf("sum inserted queries %s/%s to %s/%s: %w", first.Region, first.QueryID, last.Region, last.QueryID, err)
		}
	}
	return k, nil
}

func (t *Tx) insertRejected(ctx context.Context, rs []Rejected) (int, error) {
	if len(rs) == 0 {
		return 0, nil
	}
	stmt, err := t.stmt(ctx, stmtKey{kind: stmtRejected}, func() string {
		return `INSERT INTO rejected (event_id, event_time, day, region, owner_account, principal_arn, identity_json, user, role, account, team,
			rules_fp, database, workgroup, error_code, error_message) VALUES (` + placeholders(16) + `) ON CONFLICT(event_id) DO NOTHING`
	})
	if err != nil {
		return 0, fmt.Errorf("prepare rejected insert: %w", err)
	}
	inserted := 0
	for _, r := range rs {
		idJSON, err := json.Marshal(r.Identity)
		if err != nil {
			return inserted, fmt.Errorf("encode identity of %s: %w", r.EventID, err)
		}
		out, err := stmt.ExecContext(ctx, r.EventID, millis(r.EventTime), Day(r.EventTime), r.Region, r.OwnerAccount, r.Identity.ARN, string(idJSON),
			r.User, r.Role, r.Account, r.Team, r.RulesFingerprint, r.Database, r.Workgroup, r.ErrorCode, r.ErrorMessage)
		if err != nil {
			return inserted, fmt.Errorf("insert rejected submission %s: %w", r.EventID, err)
		}
		n, _ := out.RowsAffected()
		inserted += int(n)
	}
	return inserted, nil
}

func (t *Tx) writeCheckpoints(ctx context.Context, cps []Checkpoint) error {
	if len(cps) == 0 {
		return nil
	}
	stmt, err := t.stmt(ctx, stmtKey{kind: stmtCheckpoint}, func() string {
		return `INSERT INTO checkpoints (source, name, size, mtime, status, queries, detail, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT(source, name) DO UPDATE SET size = excluded.size, mtime = excluded.mtime, status = excluded.status,
			queries = excluded.queries, detail = excluded.detail, updated_at = excluded.updated_at`
	})
	if err != nil {
		return fmt.Errorf("prepare checkpoint: %w", err)
	}
	now := millis(time.Now())
	for _, c := range cps {
		if _, err := stmt.ExecContext(ctx, c.Source, c.Name, c.Size, millis(c.ModTime), c.Status, c.Queries, c.Detail, now); err != nil {
			return fmt.Errorf("write checkpoint %s %s: %w", c.Source, c.Name, err)
		}
	}
	return nil
}

func (t *Tx) writeCursors(ctx context.Context, cs []Cursor) error {
	if len(cs) == 0 {
		return nil
	}
	stmt, err := t.stmt(ctx, stmtKey{kind: stmtCursor}, func() string {
		return `INSERT INTO source_cursors (source, key, value, updated_at) VALUES (?, ?, ?, ?)
			ON CONFLICT(source, key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`
	})
	if err != nil {
		return fmt.Errorf("prepare cursor: %w", err)
	}
	now := millis(time.Now())
	for _, c := range cs {
		if _, err := stmt.ExecContext(ctx, c.Source, c.Key, c.Value, now); err != nil {
			return fmt.Errorf("write cursor %s %s: %w", c.Source, c.Key, err)
		}
	}
	return nil
}

// addInserted adds to the rollups the queries of rows that the rows of the
// table with rowids in (after, last] hold: the rows one statement stored when it
// skipped some (the rows of one statement get consecutive rowids, the last
// of them last_insert_rowid). Only their keys are read back; of two
// deliveries of one query in the statement the first was stored, so the
// first with a key read back counts. It returns how many it added.
func (t *Tx) addInserted(ctx context.Context, rows []plannedRow, after, last int64) (int, error) {
	type key struct{ region, id string }
	stored := map[key]bool{}
	res, err := t.tx.QueryContext(ctx, "SELECT region, query_id FROM queries WHERE rowid > ? AND rowid <= ?", after, last)
	if err != nil {
		return 0, err
	}
	defer res.Close()
	for res.Next() {
		var k key
		if err := res.Scan(&k.region, &k.id); err != nil {
			return 0, err
		}
		stored[k] = true
	}
	if err := res.Err(); err != nil {
		return 0, err
	}
	n := 0
	for i := range rows {
		k := key{rows[i].q.Region, rows[i].q.QueryID}
		if stored[k] {
			delete(stored, k)
			t.delta.add(rows[i].key, rows[i].sums)
			n++
		}
	}
	return n, nil
}
