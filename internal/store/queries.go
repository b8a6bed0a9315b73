package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/athenawatch/athenawatch/internal/cloudtrail"
)

// Stats status values of a query.
const (
	StatusPending = "pending"  // not asked yet, or not final when last asked
	StatusFinal   = "final"    // Athena gave a final state; never asked again
	StatusNoStats = "no_stats" // Athena no longer knows the query; never asked again
)

// Query is one stored query: the CloudTrail event, the columns derived from it
// by the identity, team and cost rules, and Athena's statistics.
type Query struct {
	Region       string
	QueryID      string
	EventID      string
	EventTime    time.Time
	OwnerAccount string // the account whose credentials read the query back

	Identity cloudtrail.Identity

	CTDatabase         string
	CTCatalog          string
	CTWorkgroup        string
	CTQueryText        string
	ClientRequestToken string
	SourceIP           string
	UserAgent          string

	// Derived columns, set by the caller's rules before writing.
	User        string
	Role        string
	Account     string
	Team        string
	Database    string
	Workgroup   string
	Provisioned bool
	BilledBytes int64
	// RulesFingerprint identifies the rules the derived columns came from.
	RulesFingerprint string
	// Fingerprint identifies the query's shape (its normalized text); empty
	// until the text is known. CostUSD is the query's own cost as priced
	// when it was derived. Both are derived columns, set by the rules.
	Fingerprint string
	CostUSD     float64

	StatsStatus string
	AskAttempts int
	LastAsked   time.Time
	Stats       Stats
}

// Stats is what Athena's QueryExecution says about a query.
type Stats struct {
	State                  string
	StateChangeReason      string
	StatementType          string
	SubstatementType       string
	Database               string
	Catalog                string
	Workgroup              string
	QueryText              string
	DataScannedBytes       int64
	EngineMs               int64
	TotalMs                int64
	QueueMs                int64
	PlanningMs             int64
	ServicePreprocessingMs int64
	ServiceProcessingMs    int64
	SubmittedAt            time.Time
	CompletedAt            time.Time
	ReusedResult           bool
	ErrorCategory          int32
	ErrorType              int32
	ErrorMessage           string
	OutputLocation         string
	EngineVersion          string
	// DPUCount is the DPUs a query on provisioned capacity used; 0 for
	// on-demand queries.
	DPUCount float64
}

// QueryText is the best text known: Athena's, else CloudTrail's (before 2023
// CloudTrail still recorded it).
func (q *Query) QueryText() string {
	if q.Stats.QueryText != "" {
		return q.Stats.QueryText
	}
	return q.CTQueryText
}

// Rejected is a StartQueryExecution call Athena refused.
type Rejected struct {
	EventID      string
	EventTime    time.Time
	Region       string
	OwnerAccount string // recipientAccountId
	Identity     cloudtrail.Identity
	User         string
	Role         string
	Account      string
	Team         string
	// RulesFingerprint identifies the rules User, Role, Account and Team
	// came from.
	RulesFingerprint string
	Database         string
	Workgroup        string
	ErrorCode        string
	ErrorMessage     string
}

// Checkpoint statuses.
const (
	CheckpointDone    = "done"    // read completely; skipped by later runs while unchanged
	CheckpointBad     = "bad"     // bad input; retried (and reported) by later runs
	CheckpointIgnored = "ignored" // not a trail file (digest); skipped while unchanged
)

// Checkpoint records that a source finished one input object.
type Checkpoint struct {
	Source  string
	Name    string
	Size    int64
	ModTime time.Time
	Status  string
	Queries int
	Detail  string
}

// Cursor is one value of a source's own progress (source_cursors): what
// the source needs beyond per-object checkpoints to resume, such as the
// last key listed under a prefix or an event-time watermark. Key is a
// slash-separated path chosen by the source; Value is opaque to the store.
type Cursor struct {
	Source string
	Key    string
	Value  string
}

// Batch is committed atomically: its rows, the checkpoints of the inputs
// they were read from and the cursors that say how far its sources got.
type Batch struct {
	Queries     []Query
	Rejected    []Rejected
	Checkpoints []Checkpoint
	Cursors     []Cursor

	plan insertPlan // of Queries, when planned
}

// Plan works out, ahead of the write, how the batch's queries will be
// inserted: the statements, the values they bind and the rollups they
// add to. It needs no database, so a writer that is busy with one batch
// can have the next one planned on another goroutine. A batch never
// planned, or whose Queries were replaced or resized since, is planned
// when it is written; one whose queries were edited in place since must be
// planned again.
func (b *Batch) Plan() { b.plan.make(b.Queries) }

// Reset empties the batch for reuse, keeping its memory.
func (b *Batch) Reset() {
	clear(b.Queries)
	clear(b.Rejected)
	clear(b.Checkpoints)
	clear(b.Cursors)
	b.plan.reset()
	*b = Batch{Queries: b.Queries[:0], Rejected: b.Rejected[:0], Checkpoints: b.Checkpoints[:0], Cursors: b.Cursors[:0], plan: b.plan}
}

// CommitResult says what a commit changed.
type CommitResult struct {
	NewQueries  int // rows inserted; the rest were already stored
	NewRejected int
}

// eventColumns are what a query event gives: its key, the CloudTrail
// fields and the columns derived from them. enrichColumns are Athena's
// statistics and the enrichment state; a query fresh from CloudTrail has
// their defaults.
const (
	eventColumns = `region, query_id, event_id, event_time, day, owner_account,
	identity_type, principal_id, principal_arn, identity_account, identity_user_name, invoked_by,
	issuer_type, issuer_user_name, issuer_arn, source_identity, on_behalf_of_user, on_behalf_of_store,
	ct_database, ct_catalog, ct_workgroup, ct_query_text, client_request_token, source_ip, user_agent,
	user, role, account, team, database, workgroup, provisioned, billed_bytes, rules_fp`
	enrichColumns = `stats_status, ask_attempts, last_asked,
	state, state_change_reason, statement_type, substatement_type, athena_database, athena_catalog, athena_workgroup,
	query_text, data_scanned_bytes, engine_ms, total_ms, queue_ms, planning_ms, service_preprocessing_ms,
	service_processing_ms, submitted_at, completed_at, reused_result, error_category, error_type, error_message,
	output_location, engine_version, dpu_count, fingerprint, cost_usd`
	queryColumns = eventColumns + ",\n\t" + enrichColumns
)

var (
	eventColumnCount = strings.Count(eventColumns, ",") + 1
	queryColumnCount = strings.Count(queryColumns, ",") + 1
)

// appendEventValues appends the values of eventColumns.
func appendEventValues(dst []any, q *Query) []any {
	id := &q.Identity
	return append(dst,
		q.Region, q.QueryID, q.EventID, millis(q.EventTime), Day(q.EventTime), q.OwnerAccount,
		id.Type, id.PrincipalID, id.ARN, id.AccountID, id.UserName, id.InvokedBy,
		id.IssuerType, id.IssuerUserName, id.IssuerARN, id.SourceIdentity, id.OnBehalfOfUserID, id.OnBehalfOfIdentityStoreARN,
		q.CTDatabase, q.CTCatalog, q.CTWorkgroup, q.CTQueryText, q.ClientRequestToken, q.SourceIP, q.UserAgent,
		q.User, q.Role, q.Account, q.Team, q.Database, q.Workgroup, boolInt(q.Provisioned), q.BilledBytes, q.RulesFingerprint,
	)
}

// appendEnrichValues appends the values of enrichColumns.
func appendEnrichValues(dst []any, q *Query) []any {
	st := &q.Stats
	status := q.StatsStatus
	if status == "" {
		status = StatusPending
	}
	return append(dst,
		status, q.AskAttempts, nullMillis(q.LastAsked),
		st.State, st.StateChangeReason, st.StatementType, st.SubstatementType, st.Database, st.Catalog, st.Workgroup,
		st.QueryText, st.DataScannedBytes, st.EngineMs, st.TotalMs, st.QueueMs, st.PlanningMs, st.ServicePreprocessingMs,
		st.ServiceProcessingMs, nullMillis(st.SubmittedAt), nullMillis(st.CompletedAt), boolInt(st.ReusedResult),
		st.ErrorCategory, st.ErrorType, st.ErrorMessage, st.OutputLocation, st.EngineVersion, st.DPUCount,
		q.Fingerprint, q.CostUSD,
	)
}

// fresh reports whether q's enrichment columns all hold their defaults, as
// for a query just read from CloudTrail; then they need not be written.
func (q *Query) fresh() bool {
	return (q.StatsStatus == "" || q.StatsStatus == StatusPending) && q.AskAttempts == 0 && q.LastAsked.IsZero() && q.Stats == Stats{} &&
		q.Fingerprint == "" && q.CostUSD == 0
}

func scanQuery(rows interface{ Scan(...any) error }) (Query, error) {
	var q Query
	id := &q.Identity
	st := &q.Stats
	var eventTime int64
	var day string
	var provisioned, reused int
	var lastAsked, submitted, completed sql.NullInt64
	err := rows.Scan(
		&q.Region, &q.QueryID, &q.EventID, &eventTime, &day, &q.OwnerAccount,
		&id.Type, &id.PrincipalID, &id.ARN, &id.AccountID, &id.UserName, &id.InvokedBy,
		&id.IssuerType, &id.IssuerUserName, &id.IssuerARN, &id.SourceIdentity, &id.OnBehalfOfUserID, &id.OnBehalfOfIdentityStoreARN,
		&q.CTDatabase, &q.CTCatalog, &q.CTWorkgroup, &q.CTQueryText, &q.ClientRequestToken, &q.SourceIP, &q.UserAgent,
		&q.User, &q.Role, &q.Account, &q.Team, &q.Database, &q.Workgroup, &provisioned, &q.BilledBytes, &q.RulesFingerprint,
		&q.StatsStatus, &q.AskAttempts, &lastAsked,
		&st.State, &st.StateChangeReason, &st.StatementType, &st.SubstatementType, &st.Database, &st.Catalog, &st.Workgroup,
		&st.QueryText, &st.DataScannedBytes, &st.EngineMs, &st.TotalMs, &st.QueueMs, &st.PlanningMs, &st.ServicePreprocessingMs,
		&st.ServiceProcessingMs, &submitted, &completed, &reused,
		&st.ErrorCategory, &st.ErrorType, &st.ErrorMessage, &st.OutputLocation, &st.EngineVersion, &st.DPUCount,
		&q.Fingerprint, &q.CostUSD,
	)
	if err != nil {
		return q, err
	}
	q.EventTime = time.UnixMilli(eventTime).UTC()
	q.Provisioned = provisioned != 0
	q.LastAsked = fromMillis(lastAsked)
	st.SubmittedAt = fromMillis(submitted)
	st.CompletedAt = fromMillis(completed)
	st.ReusedResult = reused != 0
	return q, nil
}

// Day is the UTC calendar day of t, the key of per-day reports.
func Day(t time.Time) string { return t.UTC().Format("2006-01-02") }

// Commit writes a batch in one transaction. Queries and rejected submissions
// already stored are left as they are (a duplicate delivery changes nothing);
// checkpoints are replaced.
func (s *Store) Commit(ctx context.Context, b *Batch) (CommitResult, error) {
	tx, err := s.Begin(ctx)
	if err != nil {
		return CommitResult{}, err
	}
	defer tx.Rollback()
	res, err := tx.Add(ctx, b)
	if err != nil {
		return CommitResult{}, err
	}
	if err := tx.Commit(); err != nil {
		return CommitResult{}, err
	}
	return res, nil
}

// Checkpoints returns every checkpoint of source, by name.
func (s *Store) Checkpoints(ctx context.Context, source string) (map[string]Checkpoint, error) {
	return s.checkpoints(ctx, source, "source = ?", source)
}

// CheckpointsIn returns the checkpoints of source for the objects directly
// under dir (a slash-separated prefix; "" for the top level), by name.
func (s *Store) CheckpointsIn(ctx context.Context, source, dir string) (map[string]Checkpoint, error) {
	where, args := childrenOf("name", source, dir)
	return s.checkpoints(ctx, source, where, args...)
}

// childrenOf is the condition on a source's rows whose path column lies
// directly under dir ("" for the top level): a range on the primary key,
// paths starting with "dir/", that is from "dir/" up to "dir0" ('0'
// follows '/'), then no deeper.
func childrenOf(column, source, dir string) (string, []any) {
	if dir == "" {
		return "source = ? AND instr(" + column + ", '/') = 0", []any{source}
	}
	prefix := dir + "/"
	// substr counts characters, not bytes.
	return "source = ? AND " + column + " >= ? AND " + column + " < ? AND instr(substr(" + column + ", ?), '/') = 0",
		[]any{source, prefix, dir + "0", utf8.RuneCountInString(prefix) + 1}
}

// CursorsIn returns the cursors of source whose keys lie directly under
// dir (a slash-separated prefix; "" for the top level), by key.
func (s *Store) CursorsIn(ctx context.Context, source, dir string) (map[string]string, error) {
	where, args := childrenOf("key", source, dir)
	rows, err := s.db.QueryContext(ctx, "SELECT key, value FROM source_cursors WHERE "+where, args...)
	if err != nil {
		return nil, fmt.Errorf("read cursors of %s: %w", source, err)
	}
	defer rows.Close()
	out := make(map[string]string)
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			return nil, fmt.Errorf("read cursors of %s: %w", source, err)
		}
		out[k] = v
	}
	return out, rows.Err()
}

func (s *Store) checkpoints(ctx context.Context, source, where string, args ...any) (map[string]Checkpoint, error) {
	rows, err := s.db.QueryContext(ctx, "SELECT name, size, mtime, status, queries, detail FROM checkpoints WHERE "+where, args...)
	if err != nil {
		return nil, fmt.Errorf("read checkpoints of %s: %w", source, err)
	}
	defer rows.Close()
	out := make(map[string]Checkpoint)
	for rows.Next() {
		c := Checkpoint{Source: source}
		var mtime int64
		if err := rows.Scan(&c.Name, &c.Size, &mtime, &c.Status, &c.Queries, &c.Detail); err != nil {
			return nil, fmt.Errorf("read checkpoints of %s: %w", source, err)
		}
		c.ModTime = time.UnixMilli(mtime).UTC()
		out[c.Name] = c
	}
	return out, rows.Err()
}

// PendingCount is how many queries of one account-region wait for
// statistics.
type PendingCount struct {
	Account string // owner account: whose credentials read the queries back
	Region  string
	Queries int
}

// PendingCounts returns, per account-region, how many queries whose event
// time is at or after since (zero: any) have no final statistics yet, in
// account, region order. It reads only the pending index.
func (s *Store) PendingCounts(ctx context.Context, since time.Time) ([]PendingCount, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT owner_account, region, count(*) FROM queries
		WHERE stats_status = 'pending' AND event_time >= ? GROUP BY owner_account, region ORDER BY owner_account, region`, millis(since))
	if err != nil {
		return nil, fmt.Errorf("count pending queries: %w", err)
	}
	defer rows.Close()
	var out []PendingCount
	for rows.Next() {
		var c PendingCount
		if err := rows.Scan(&c.Account, &c.Region, &c.Queries); err != nil {
			return nil, fmt.Errorf("count pending queries: %w", err)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// PendingKey is where a page of PendingQueries ended: the event time and
// id of its last query. The zero PendingKey starts at the oldest.
type PendingKey struct {
	Time    time.Time
	QueryID string
}

// PendingQueries returns up to limit queries of one account-region whose
// statistics are not final and whose event time is at or after since (zero:
// any), oldest first (ties in query id order) after after, for paging
// through a large backlog one account-region at a time.
func (s *Store) PendingQueries(ctx context.Context, since time.Time, account, region string, after PendingKey, limit int) ([]Query, error) {
	// A range of the pending index (owner_account, region, event_time,
	// query_id), which holds the backlog alone and gives the order: a page
	// costs its own rows, however many final rows the region holds.
	afterTime := int64(math.MinInt64)
	if !after.Time.IsZero() {
		afterTime = millis(after.Time)
	}
	return s.selectQueriesIn(ctx, "owner_account = ? AND region = ? AND stats_status = 'pending' AND event_time >= ? AND (event_time, query_id) > (?, ?)",
		[]any{account, region, millis(since), afterTime, after.QueryID}, "event_time, query_id", limit)
}

// QueriesAfter returns up to limit stored queries in key order after
// (region, queryID): a page of everything stored, whatever its state.
func (s *Store) QueriesAfter(ctx context.Context, afterRegion, afterQueryID string, limit int) ([]Query, error) {
	return s.selectQueries(ctx, "(region, query_id) > (?, ?)", []any{afterRegion, afterQueryID}, limit)
}

// RejectedAfter returns up to limit stored rejected submissions in event id
// order after afterEventID.
func (s *Store) RejectedAfter(ctx context.Context, afterEventID string, limit int) ([]Rejected, error) {
	return selectRejected(ctx, s.db, "event_id > ?", []any{afterEventID}, limit)
}

// StaleQueries returns up to limit queries whose derived columns were not
// computed with the rules fingerprint, in key order after (region, queryID).
// No index leads to them (one would cost every insert): the pages of one
// re-derivation read the table once, in key order, together.
func (s *Store) StaleQueries(ctx context.Context, fingerprint, afterRegion, afterQueryID string, limit int) ([]Query, error) {
	return s.selectQueries(ctx, "(rules_fp < ? OR rules_fp > ?) AND (region, query_id) > (?, ?)",
		[]any{fingerprint, fingerprint, afterRegion, afterQueryID}, limit)
}

// HasStale reports whether any query or rejected submission was derived
// with other rules than fingerprint. It reads the counts of queries per
// rules fingerprint and the rejected submissions' rules_fp index.
func (s *Store) HasStale(ctx context.Context, fingerprint string) (bool, error) {
	return staleByCount(ctx, s.db, fingerprint)
}

// GetQuery returns one query, or false when it is not stored.
func (s *Store) GetQuery(ctx context.Context, region, queryID string) (Query, bool, error) {
	qs, err := s.selectQueries(ctx, "region = ? AND query_id = ?", []any{region, queryID}, 1)
	if err != nil || len(qs) == 0 {
		return Query{}, false, err
	}
	return qs[0], true, nil
}

// QueryKey names one stored query.
type QueryKey struct{ Region, QueryID string }

// getQueriesPage bounds the keys one statement looks up.
const getQueriesPage = 100

// GetQueries returns the stored queries of keys, by key; a key that is not
// stored has no entry.
func (s *Store) GetQueries(ctx context.Context, keys []QueryKey) (map[QueryKey]Query, error) {
	out := make(map[QueryKey]Query, len(keys))
	for len(keys) > 0 {
		page := keys[:min(len(keys), getQueriesPage)]
		keys = keys[len(page):]
		conds := make([]string, len(page))
		args := make([]any, 0, 2*len(page))
		for i, k := range page {
			conds[i] = "(region = ? AND query_id = ?)"
			args = append(args, k.Region, k.QueryID)
		}
		// The order by expressions, not the key's index: SQLite then
		// looks each key up rather than walking the index in order.
		qs, err := s.selectQueriesIn(ctx, strings.Join(conds, " OR "), args, "+region, +query_id", len(page))
		if err != nil {
			return nil, err
		}
		for _, q := range qs {
			out[QueryKey{q.Region, q.QueryID}] = q
		}
	}
	return out, nil
}

func (s *Store) selectQueries(ctx context.Context, where string, args []any, limit int) ([]Query, error) {
	return s.selectQueriesIn(ctx, where, args, "region, query_id", limit)
}

// selectQueriesIn reads up to limit queries matching where, in orderBy
// order.
func (s *Store) selectQueriesIn(ctx context.Context, where string, args []any, orderBy string, limit int) ([]Query, error) {
	var q interface {
		QueryContext(context.Context, string, ...any) (*sql.Rows, error)
	} = s.db
	if s.needsCompat() {
		// A read-only store of an older schema lacks columns queryColumns
		// names: read through readCompat's view, within a transaction.
		tx, err := s.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
		if err != nil {
			return nil, fmt.Errorf("select queries: %w", err)
		}
		defer tx.Rollback()
		if err := s.readCompat(ctx, tx); err != nil {
			return nil, err
		}
		q = tx
	}
	rows, err := q.QueryContext(ctx, "SELECT "+queryColumns+" FROM queries WHERE "+where+" ORDER BY "+orderBy+" LIMIT ?", append(args, limit)...)
	if err != nil {
		return nil, fmt.Errorf("select queries: %w", err)
	}
	defer rows.Close()
	var out []Query
	for rows.Next() {
		q, err := scanQuery(rows)
		if err != nil {
			return nil, fmt.Errorf("read query row: %w", err)
		}
		out = append(out, q)
	}
	return out, rows.Err()
}

// UpdateQueries writes what enrichment found out about pending queries (the
// derived columns, statistics and enrichment state) in one transaction. A
// query that is no longer pending is left alone: another enrich process got
// its final statistics first, and an older answer (still RUNNING) must not
// undo them.
func (s *Store) UpdateQueries(ctx context.Context, qs []Query) error {
	if len(qs) == 0 {
		return nil
	}
	tx, done, err := s.beginUpdate(ctx)
	if err != nil {
		return fmt.Errorf("begin update: %w", err)
	}
	defer done()
	const cond = "region = ? AND query_id = ? AND stats_status = 'pending'"
	mover, err := newRowMover(ctx, tx, cond)
	if err != nil {
		return fmt.Errorf("prepare update: %w", err)
	}
	stmt, err := tx.PrepareContext(ctx, `UPDATE queries SET
		user = ?, role = ?, account = ?, team = ?, database = ?, workgroup = ?, provisioned = ?, billed_bytes = ?, rules_fp = ?,
		stats_status = ?, ask_attempts = ?, last_asked = ?,
		state = ?, state_change_reason = ?, statement_type = ?, substatement_type = ?, athena_database = ?, athena_catalog = ?,
		athena_workgroup = ?, query_text = ?, data_scanned_bytes = ?, engine_ms = ?, total_ms = ?, queue_ms = ?, planning_ms = ?,
		service_preprocessing_ms = ?, service_processing_ms = ?, submitted_at = ?, completed_at = ?, reused_result = ?,
		error_category = ?, error_type = ?, error_message = ?, output_location = ?, engine_version = ?, dpu_count = ?,
		fingerprint = ?, cost_usd = ?, `+movedSet+`
		WHERE `+cond+movedReturning)
	if err != nil {
		return fmt.Errorf("prepare update: %w", err)
	}
	defer stmt.Close()
	for i := range qs {
		q := &qs[i]
		st := &q.Stats
		_, err := mover.update(ctx, stmt, []any{
			q.User, q.Role, q.Account, q.Team, q.Database, q.Workgroup, boolInt(q.Provisioned), q.BilledBytes, q.RulesFingerprint,
			q.StatsStatus, q.AskAttempts, nullMillis(q.LastAsked),
			st.State, st.StateChangeReason, st.StatementType, st.SubstatementType, st.Database, st.Catalog,
			st.Workgroup, st.QueryText, st.DataScannedBytes, st.EngineMs, st.TotalMs, st.QueueMs, st.PlanningMs,
			st.ServicePreprocessingMs, st.ServiceProcessingMs, nullMillis(st.SubmittedAt), nullMillis(st.CompletedAt), boolInt(st.ReusedResult),
			st.ErrorCategory, st.ErrorType, st.ErrorMessage, st.OutputLocation, st.EngineVersion, st.DPUCount,
			q.Fingerprint, q.CostUSD,
		}, []any{q.Region, q.QueryID})
		if err != nil {
			return fmt.Errorf("update query %s/%s: %w", q.Region, q.QueryID, err)
		}
	}
	if err := mover.flush(ctx, tx); err != nil {
		return fmt.Errorf("update rollups: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit update: %w", err)
	}
	return nil
}

// beginUpdate starts a write transaction for statements that update stored
// queries, on a connection of its own whose temporary files live in memory.
// A statement that could fail midway (an update of a row and its indexes,
// one that fires the rollups' triggers, the upserts of the rollups at the
// end) makes SQLite keep a statement journal of every page it changes: in a
// temporary file by default, a write system call per page, which made an
// enrichment write cost several times the update itself. done rolls
// back what was not committed and gives the connection back with the default
// setting.
func (s *Store) beginUpdate(ctx context.Context) (*sql.Tx, func(), error) {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return nil, nil, err
	}
	if _, err := conn.ExecContext(ctx, "PRAGMA temp_store = MEMORY"); err != nil {
		dropConn(conn)
		return nil, nil, err
	}
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		dropConn(conn)
		return nil, nil, err
	}
	return tx, func() {
		tx.Rollback()
		rctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := conn.ExecContext(rctx, "PRAGMA temp_store = DEFAULT"); err != nil {
			dropConn(conn) // it must not serve reads with temporary files in memory
			return
		}
		conn.Close()
	}, nil
}

// UpdateDerived rewrites only the derived columns of queries, and only where
// the statistics are still those the caller derived them from (an enrich
// running at the same time wins; its rows are re-derived next time if its
// rules were older). It returns how many rows it changed.
func (s *Store) UpdateDerived(ctx context.Context, qs []Query) (int, error) {
	if len(qs) == 0 {
		return 0, nil
	}
	tx, done, err := s.beginUpdate(ctx)
	if err != nil {
		return 0, fmt.Errorf("begin update: %w", err)
	}
	defer done()
	const cond = "region = ? AND query_id = ? AND stats_status = ? AND ask_attempts = ?"
	mover, err := newRowMover(ctx, tx, cond)
	if err != nil {
		return 0, fmt.Errorf("prepare update: %w", err)
	}
	stmt, err := tx.PrepareContext(ctx, `UPDATE queries SET
		user = ?, role = ?, account = ?, team = ?, database = ?, workgroup = ?, provisioned = ?, billed_bytes = ?, rules_fp = ?,
		fingerprint = ?, cost_usd = ?, `+movedSet+`
		WHERE `+cond+movedReturning)
	if err != nil {
		return 0, fmt.Errorf("prepare update: %w", err)
	}
	defer stmt.Close()
	changed := 0
	for i := range qs {
		q := &qs[i]
		ok, err := mover.update(ctx, stmt, []any{q.User, q.Role, q.Account, q.Team, q.Database, q.Workgroup, boolInt(q.Provisioned),
			q.BilledBytes, q.RulesFingerprint, q.Fingerprint, q.CostUSD}, []any{q.Region, q.QueryID, q.StatsStatus, q.AskAttempts})
		if err != nil {
			return 0, fmt.Errorf("update query %s/%s: %w", q.Region, q.QueryID, err)
		}
		if ok {
			changed++
		}
	}
	if err := mover.flush(ctx, tx); err != nil {
		return 0, fmt.Errorf("update rollups: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("commit update: %w", err)
	}
	return changed, nil
}

// StaleRejected calls fn, a page at a time, for every rejected submission
// whose derived columns were not computed with the rules fingerprint.
func (s *Store) StaleRejected(ctx context.Context, fingerprint string, pageSize int, fn func(page []Rejected) error) error {
	after := ""
	for {
		page, err := selectRejected(ctx, s.db, "(rules_fp < ? OR rules_fp > ?) AND event_id > ?", []any{fingerprint, fingerprint, after}, pageSize)
		if err != nil {
			return err
		}
		if len(page) == 0 {
			return nil
		}
		if err := fn(page); err != nil {
			return err
		}
		after = page[len(page)-1].EventID
	}
}

// selectRejected reads up to limit rejected submissions matching where, in
// event id order.
func selectRejected(ctx context.Context, q interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}, where string, args []any, limit int) ([]Rejected, error) {
	rows, err := q.QueryContext(ctx, `SELECT event_id, event_time, region, owner_account, identity_json, user, role, account, team,
		rules_fp, database, workgroup, error_code, error_message FROM rejected
		WHERE `+where+` ORDER BY event_id LIMIT ?`, append(args, limit)...)
	if err != nil {
		return nil, fmt.Errorf("select rejected: %w", err)
	}
	defer rows.Close()
	var page []Rejected
	for rows.Next() {
		var r Rejected
		var t int64
		var idJSON string
		if err := rows.Scan(&r.EventID, &t, &r.Region, &r.OwnerAccount, &idJSON, &r.User, &r.Role, &r.Account, &r.Team,
			&r.RulesFingerprint, &r.Database, &r.Workgroup, &r.ErrorCode, &r.ErrorMessage); err != nil {
			return nil, fmt.Errorf("read rejected row: %w", err)
		}
		r.EventTime = time.UnixMilli(t).UTC()
		if err := json.Unmarshal([]byte(idJSON), &r.Identity); err != nil {
			return nil, fmt.Errorf("decode identity of rejected %s: %w", r.EventID, err)
		}
		page = append(page, r)
	}
	return page, rows.Err()
}

// UpdateRejectedTeams rewrites the derived columns of rejected submissions.
func (s *Store) UpdateRejectedTeams(ctx context.Context, rs []Rejected) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin update: %w", err)
	}
	defer tx.Rollback()
	for _, r := range rs {
		if _, err := tx.ExecContext(ctx, "UPDATE rejected SET user = ?, role = ?, account = ?, team = ?, rules_fp = ? WHERE event_id = ?",
			r.User, r.Role, r.Account, r.Team, r.RulesFingerprint, r.EventID); err != nil {
			return fmt.Errorf("update rejected %s: %w", r.EventID, err)
		}
	}
	return tx.Commit()
}
