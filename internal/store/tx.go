package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// Tx is one write transaction that batches are added to: the rows and
// checkpoints of every batch added are stored together when Commit
// succeeds, and none of them otherwise. A collect adds many small batches to
// one Tx: the memory a batch takes stays small, while a large transaction
// writes each page it changes (of the primary key index above all, where
// random query ids land everywhere) once rather than once per batch.
//
// A Tx is not safe for concurrent use, and holds the database's write lock
// until Commit or Rollback.
type Tx struct {
	conn  *sql.Conn
	tx    *sql.Tx
	stmts map[stmtKey]*sql.Stmt
	args  []any
	done  bool
}

type stmtKey struct {
	kind  int // stmtFreshQueries, ...
	nrows int
}

const (
	stmtFreshQueries = iota
	stmtQueries
	stmtRejected
	stmtCheckpoint
)

// Page cache sizes in KiB: SQLite's default for every connection, and what
// a write transaction gets. The pages a transaction changes stay in its
// cache until it commits; when they do not fit, SQLite writes them out early
// and again when they change again. 64 MiB holds what 100,000 new queries
// change in a database of a million.
const (
	defaultCacheKiB = 2000
	txCacheKiB      = 64 << 10
)

// Begin starts a write transaction. The transaction is rolled back if ctx
// ends before Commit.
func (s *Store) Begin(ctx context.Context) (*Tx, error) {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("begin commit: %w", err)
	}
	// The large cache is for this transaction only, not for every
	// connection of the pool that serves reads.
	if _, err := conn.ExecContext(ctx, "PRAGMA cache_size = -"+strconv.Itoa(txCacheKiB)); err != nil {
		conn.Close()
		return nil, fmt.Errorf("begin commit: size page cache: %w", err)
	}
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		conn.Raw(func(any) error { return driver.ErrBadConn }) // drop the connection with its cache size
		conn.Close()
		return nil, fmt.Errorf("begin commit: %w", err)
	}
	return &Tx{conn: conn, tx: tx, stmts: make(map[stmtKey]*sql.Stmt)}, nil
}

// Commit stores everything added.
func (t *Tx) Commit() error {
	t.closeStmts()
	t.done = true
	err := t.tx.Commit()
	t.release()
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
	t.closeStmts()
	t.done = true
	err := t.tx.Rollback()
	t.release()
	if err != nil && !errors.Is(err, sql.ErrTxDone) {
		return fmt.Errorf("roll back: %w", err)
	}
	return nil
}

// release gives the connection back to the pool with the default cache
// size, which frees the pages beyond it.
func (t *Tx) release() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := t.conn.ExecContext(ctx, "PRAGMA cache_size = -"+strconv.Itoa(defaultCacheKiB)); err != nil {
		// A connection that keeps the large cache must not serve reads.
		t.conn.Raw(func(any) error { return driver.ErrBadConn })
	}
	t.conn.Close()
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
	n, err := t.insertQueries(ctx, b.Queries)
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
	return res, nil
}

// rowsPerInsert is how many queries one INSERT statement carries. One
// statement per row spends most of its time in the per-statement work of
// database/sql and SQLite; 64 rows of 61 values stay well under SQLite's
// limit of 32766 variables.
const rowsPerInsert = 64

// insertQueries inserts qs, leaving alone those already stored, and returns
// how many it inserted. Consecutive fresh queries (no statistics yet, the
// case of every collect) are written with their event columns only, the
// others whole; order is kept, so of two deliveries of one query the first
// wins, as when they come in separate batches.
func (t *Tx) insertQueries(ctx context.Context, qs []Query) (int, error) {
	inserted := 0
	for len(qs) > 0 {
		fresh := qs[0].fresh()
		n := 1
		for n < len(qs) && n < rowsPerInsert && qs[n].fresh() == fresh {
			n++
		}
		key := stmtKey{stmtQueries, n}
		query := func() string {
			return "INSERT INTO queries (" + queryColumns + ") VALUES " + rowPlaceholders(n, queryColumnCount) + " ON CONFLICT(region, query_id) DO NOTHING"
		}
		if fresh {
			// OR IGNORE, unlike ON CONFLICT DO NOTHING, lets SQLite skip
			// the statement journal a multi-row statement that may abort
			// needs: nothing here can abort, as every value bound is
			// non-NULL and no CHECK constraint concerns these columns.
			key.kind = stmtFreshQueries
			query = func() string {
				return "INSERT OR IGNORE INTO queries (" + eventColumns + ") VALUES " + rowPlaceholders(n, eventColumnCount)
			}
		}
		stmt, err := t.stmt(ctx, key, query)
		if err != nil {
			return inserted, fmt.Errorf("prepare query insert: %w", err)
		}
		args := t.args[:0]
		for i := range qs[:n] {
			args = appendEventValues(args, &qs[i])
			if !fresh {
				args = appendEnrichValues(args, &qs[i])
			}
		}
		r, err := stmt.ExecContext(ctx, args...)
		clear(args) // drop the references to this batch's strings
		t.args = args[:0]
		if err != nil {
			if n == 1 {
				return inserted, fmt.Errorf("insert query %s/%s: %w", qs[0].Region, qs[0].QueryID, err)
			}
			return inserted, fmt.Errorf("insert queries %s/%s to %s/%s: %w", qs[0].Region, qs[0].QueryID, qs[n-1].Region, qs[n-1].QueryID, err)
		}
		affected, _ := r.RowsAffected()
		inserted += int(affected)
		qs = qs[n:]
	}
	return inserted, nil
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
