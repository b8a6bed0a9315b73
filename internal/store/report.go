package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"
)

// Dimensions are the columns reports group and filter by, mapped to SQL.
// Only these names ever reach a query string; values are always bound.
var Dimensions = map[string]string{
	"user":           "user",
	"role":           "role",
	"team":           "team",
	"database":       "database",
	"workgroup":      "workgroup",
	"account":        "account",
	"region":         "region",
	"day":            "day",
	"hour":           hourSQL("event_time"),
	"state":          "state",
	"statement_type": "statement_type",
	"principal_arn":  "principal_arn",
	"fingerprint":    "fingerprint",
}

// rejectedDimensions are the dimensions rejected submissions have: a filter
// on another one (state, statement type) matches none of them.
var rejectedDimensions = map[string]bool{
	"user": true, "role": true, "team": true, "account": true, "region": true,
	"database": true, "workgroup": true, "day": true, "hour": true, "principal_arn": true,
}

// Filter narrows a report: a half-open time window on the CloudTrail event
// time, and per-dimension values (globs with * and ?; several values of one
// dimension are alternatives, different dimensions must all match).
type Filter struct {
	Since, Until time.Time
	Match        map[string][]string
}

func (f *Filter) where() (string, []any, error) {
	var conds []string
	var args []any
	if !f.Since.IsZero() {
		conds = append(conds, "event_time >= ?")
		args = append(args, millis(f.Since))
	}
	if !f.Until.IsZero() {
		conds = append(conds, "event_time < ?")
		args = append(args, millis(f.Until))
	}
	match, margs, err := f.matchConds(Dimensions)
	if err != nil {
		return "", nil, err
	}
	conds, args = append(conds, match...), append(args, margs...)
	if len(conds) == 0 {
		return "1", nil, nil
	}
	return strings.Join(conds, " AND "), args, nil
}

// Sum names one aggregate the store computes for each report group. The
// report's metric list (package usage) names the sums it is built from;
// their SQL is here, in sumSQL, and nowhere else.
type Sum string

// The sums a report can ask for.
const (
	SumQueries   Sum = "queries"
	SumSucceeded Sum = "succeeded"
	SumFailed    Sum = "failed"
	SumCancelled Sum = "cancelled"
	// SumPending counts queries whose statistics are not known yet.
	SumPending Sum = "pending"
	// SumNoStats counts queries Athena no longer knows.
	SumNoStats Sum = "no_stats"
	// SumWithStats counts queries whose final statistics are known.
	SumWithStats    Sum = "with_stats"
	SumBytesScanned Sum = "bytes_scanned"
	SumBilledBytes  Sum = "billed_bytes"
	SumEngineMs     Sum = "engine_ms"
	// SumProvisioned counts queries on provisioned capacity.
	SumProvisioned Sum = "provisioned"
	// SumDPUMillis is DPU count × engine milliseconds over queries on
	// provisioned capacity: their DPU-hours, in DPU-milliseconds.
	SumDPUMillis Sum = "dpu_ms"
	// SumProvisionedNoDPU counts queries on provisioned capacity whose
	// final statistics carry no usable DPU count: their cost is unknown.
	SumProvisionedNoDPU Sum = "provisioned_no_dpu"
)

// validDPU is the SQL condition for a DPU count a report uses. DpuCount is
// a float from Athena; a count beyond a million DPUs (far above any
// capacity reservation), NaN or negative is not one.
const validDPU = "dpu_count > 0 AND dpu_count <= 1e6"

// sumSQL is the SQL of every Sum over the report columns (reportColumns).
// Bytes and engine time count only queries with final statistics: a running
// query's partial figures would change under the reader's feet.
var sumSQL = map[Sum]string{
	SumQueries:      "COUNT(*)",
	SumSucceeded:    "SUM(state = 'SUCCEEDED')",
	SumFailed:       "SUM(state = 'FAILED')",
	SumCancelled:    "SUM(state = 'CANCELLED')",
	SumPending:      "SUM(stats_status = 'pending')",
	SumNoStats:      "SUM(stats_status = 'no_stats')",
	SumWithStats:    "SUM(stats_status = 'final')",
	SumBytesScanned: "SUM(CASE WHEN stats_status = 'final' THEN data_scanned_bytes ELSE 0 END)",
	SumBilledBytes:  "SUM(billed_bytes)",
	SumEngineMs:     "SUM(CASE WHEN stats_status = 'final' THEN engine_ms ELSE 0 END)",
	SumProvisioned:  "SUM(provisioned)",
	SumDPUMillis: "SUM(CASE WHEN provisioned AND stats_status = 'final' AND " + validDPU +
		" THEN CAST(round(dpu_count * MIN(MAX(engine_ms, 0), 1e12)) AS INTEGER) ELSE 0 END)",
	SumProvisionedNoDPU: "SUM(provisioned AND stats_status = 'final' AND NOT (" + validDPU + "))",
}

// reportColumns are the columns of queries that report filters, dimensions
// and sums read; rows re-derived on read are kept in this shape
// (reportValues gives a query's values in this order).
const reportColumns = `region, query_id, event_time, day, user, role, account, team, database, workgroup,
	provisioned, billed_bytes, stats_status, state, statement_type, principal_arn,
	data_scanned_bytes, engine_ms, dpu_count, fingerprint`

func reportValues(q *Query) []any {
	return []any{q.Region, q.QueryID, millis(q.EventTime), Day(q.EventTime), q.User, q.Role, q.Account, q.Team, q.Database, q.Workgroup,
		boolInt(q.Provisioned), q.BilledBytes, q.StatsStatus, q.Stats.State, q.Stats.StatementType, q.Identity.ARN,
		q.Stats.DataScannedBytes, q.Stats.EngineMs, q.Stats.DPUCount, q.Fingerprint}
}

// rejectedReportColumns are the columns of rejected submissions a report
// counts by; rejectedReportValues gives them in this order.
const rejectedReportColumns = `event_time, day, region, principal_arn, user, role, account, team, database, workgroup`

func rejectedReportValues(r *Rejected) []any {
	return []any{millis(r.EventTime), Day(r.EventTime), r.Region, r.Identity.ARN, r.User, r.Role, r.Account, r.Team, r.Database, r.Workgroup}
}

// Deriver computes the derived columns of stored rows (user, role, account,
// team, workgroup, capacity, billed bytes) from their raw fields, as the
// rules of the current configuration say.
type Deriver interface {
	// Fingerprint identifies the rules; rows store the fingerprint of the
	// rules they were derived with.
	Fingerprint() string
	Query(q *Query)
	Rejected(r *Rejected)
}

// Aggregation asks for a report's sums.
type Aggregation struct {
	// By is the dimension rows are grouped by (a key of Dimensions).
	By string
	// Then, when set, is a second dimension groups are split by (a
	// dimension's daily trend, spend per day and team): Group.Key2 holds
	// its value.
	Then   string
	Filter Filter
	// Sums are the aggregates wanted, in the order Group.Sums holds them.
	Sums []Sum
	// Rules, when set, are the rules reports must reflect: stored rows
	// derived with other rules (the configuration changed since) are
	// re-derived on read, in a temporary table of this read only, and never
	// written back. Commands that write store re-derived rows instead.
	Rules Deriver
}

// Group is one report cell: the sums of the queries sharing a key, split by
// region because the price per byte differs by region.
type Group struct {
	Key    string
	Key2   string // the value of Aggregation.Then; empty without it
	Region string
	Sums   []int64 // one per Aggregation.Sums, in that order
}

// Aggregated is the answer to an Aggregation, read from one snapshot of the
// database.
type Aggregated struct {
	Groups []Group
	// Rejected counts the rejected submissions matching the filter.
	Rejected int64
	// Rederived counts the rows of the window derived on read because they
	// were stored with other rules.
	Rederived int64
}

// Aggregate sums the queries matching a.Filter, grouped by a.By and region,
// and counts the rejected submissions matching it, all in one read
// transaction. It never writes the database: it works on a read-only store.
func (s *Store) Aggregate(ctx context.Context, a Aggregation) (Aggregated, error) {
	var out Aggregated
	col, ok := Dimensions[a.By]
	if !ok {
		return out, fmt.Errorf("unknown report dimension %q", a.By)
	}
	col2 := "''"
	if a.Then != "" {
		if col2, ok = Dimensions[a.Then]; !ok {
			return out, fmt.Errorf("unknown report dimension %q", a.Then)
		}
	}
	exprs := make([]string, len(a.Sums))
	for i, sum := range a.Sums {
		if exprs[i], ok = sumSQL[sum]; !ok {
			return out, fmt.Errorf("unknown report sum %q", sum)
		}
	}
	where, args, err := a.Filter.where()
	if err != nil {
		return out, err
	}
	// One connection and one transaction: the temporary objects below live
	// on a connection, and the rollback at the end drops them.
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return out, fmt.Errorf("aggregate by %s: %w", a.By, err)
	}
	defer conn.Close()
	tx, err := conn.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return out, fmt.Errorf("aggregate by %s: %w", a.By, err)
	}
	defer tx.Rollback()
	if err := s.readCompat(ctx, tx); err != nil {
		return out, err
	}

	useRollups, err := s.rollupsUsable(ctx, tx, a.Rules)
	if err != nil {
		return out, err
	}
	if useRollups {
		groups, ok, err := s.memAggregate(ctx, tx, &a)
		if err != nil {
			return out, fmt.Errorf("aggregate by %s: %w", a.By, err)
		}
		if ok {
			out.Groups = groups
			out.Rejected, err = countRejected(ctx, tx, "rejected", nil, a.Filter)
			return out, err
		}
		rq, rargs, ok, err := rollupQuery(&a, s.version)
		if err != nil {
			return out, err
		}
		if ok {
			if rq == "" {
				return out, nil // an empty window
			}
			if out.Groups, err = scanGroups(ctx, tx, rq, rargs, len(a.Sums)); err != nil {
				return out, fmt.Errorf("aggregate by %s: %w", a.By, err)
			}
			out.Rejected, err = countRejected(ctx, tx, "rejected", nil, a.Filter)
			return out, err
		}
	}

	querySrc, rejectedSrc := "queries", "rejected"
	var srcArgs []any
	if a.Rules != nil {
		fp := a.Rules.Fingerprint()
		n, err := s.rederiveOnRead(ctx, tx, a.Rules, a.Filter)
		if err != nil {
			return out, err
		}
		out.Rederived = n
		if n > 0 {
			querySrc = "(SELECT " + reportColumns + " FROM queries WHERE rules_fp = ? UNION ALL SELECT " + reportColumns + " FROM temp.rederived_queries)"
			rejectedSrc = "(SELECT " + rejectedReportColumns + " FROM rejected WHERE rules_fp = ? UNION ALL SELECT " + rejectedReportColumns + " FROM temp.rederived_rejected)"
			srcArgs = []any{fp}
		}
	}

	q := "SELECT " + col + ", " + col2 + ", region"
	for _, e := range exprs {
		q += ", " + e
	}
	q += " FROM " + querySrc + " WHERE " + where + " GROUP BY 1, 2, 3"
	if out.Groups, err = scanGroups(ctx, tx, q, append(srcArgs[:len(srcArgs):len(srcArgs)], args...), len(a.Sums)); err != nil {
		return out, fmt.Errorf("aggregate by %s: %w", a.By, err)
	}
	out.Rejected, err = countRejected(ctx, tx, rejectedSrc, srcArgs, a.Filter)
	return out, err
}

// scanGroups runs q, whose rows are two keys, a region and nsums sums.
func scanGroups(ctx context.Context, tx *sql.Tx, q string, args []any, nsums int) ([]Group, error) {
	rows, err := tx.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Group
	for rows.Next() {
		g := Group{Sums: make([]int64, nsums)}
		dest := []any{&g.Key, &g.Key2, &g.Region}
		sums := make([]sql.NullInt64, nsums)
		for i := range sums {
			dest = append(dest, &sums[i])
		}
		if err := rows.Scan(dest...); err != nil {
			return nil, err
		}
		for i, v := range sums {
			g.Sums[i] = v.Int64
		}
		out = append(out, g)
	}
	return out, rows.Err()
}

// rollupsUsable reports whether the rollups hold the answer: the database
// has them, and no stored query was derived with other rules than d (those
// are re-derived on read, from the rows).
func (s *Store) rollupsUsable(ctx context.Context, tx *sql.Tx, d Deriver) (bool, error) {
	if s.version < rollupVersion || s.rawReports {
		return false, nil
	}
	if d == nil {
		return true, nil
	}
	stale, err := staleByCount(ctx, tx, d.Fingerprint())
	return !stale, err
}

// staleByCount reports whether any stored query or rejected submission was
// derived with other rules than fingerprint: the queries from the counts of
// rules_fps, the rejected submissions from their rules_fp index.
func staleByCount(ctx context.Context, tx interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}, fingerprint string) (bool, error) {
	var stale bool
	if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM rules_fps WHERE rules_fp <> ? AND queries > 0)
		OR EXISTS (SELECT 1 FROM rejected WHERE rules_fp < ? OR rules_fp > ?)`, fingerprint, fingerprint, fingerprint).Scan(&stale); err != nil {
		return false, fmt.Errorf("look for rows derived with other rules: %w", err)
	}
	return stale, nil
}

// rollupVersion is the schema version that added the rollups.
const rollupVersion = 5

// countRejected counts rejected submissions in the window of f that match
// its dimension filters.
func countRejected(ctx context.Context, tx *sql.Tx, src string, srcArgs []any, f Filter) (int64, error) {
	for k := range f.Match {
		if !rejectedDimensions[k] {
			return 0, nil
		}
	}
	where, args, err := f.where()
	if err != nil {
		return 0, err
	}
	var n int64
	if err := tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+src+" WHERE "+where, append(srcArgs[:len(srcArgs):len(srcArgs)], args...)...).Scan(&n); err != nil {
		return 0, fmt.Errorf("count rejected submissions: %w", err)
	}
	return n, nil
}

// addedColumns are the columns of queries that migrations after the first
// added, with the value rows of an older database read as. A read-only
// store does not migrate, so readCompat shows it the current shape.
var addedColumns = []struct {
	version int // the schema version that added the column
	column  string
	zero    string
}{
	{2, "dpu_count", "0.0"},
	{4, "fingerprint", "''"},
	{4, "cost_usd", "0.0"},
}

// needsCompat reports whether the database lacks columns of queries that
// readCompat adds.
func (s *Store) needsCompat() bool {
	return s.version < addedColumns[len(addedColumns)-1].version
}

// readCompat makes a database of an older schema read like the current one
// within tx: a temporary view named queries, which shadows the stored table
// on this connection until tx ends, adds the columns the database lacks.
func (s *Store) readCompat(ctx context.Context, tx *sql.Tx) error {
	var extra []string
	for _, c := range addedColumns {
		if s.version < c.version {
			extra = append(extra, c.zero+" AS "+c.column)
		}
	}
	if len(extra) == 0 {
		return nil
	}
	if _, err := tx.ExecContext(ctx, "CREATE TEMP VIEW queries AS SELECT *, "+strings.Join(extra, ", ")+" FROM main.queries"); err != nil {
		return fmt.Errorf("read schema version %d: %w", s.version, err)
	}
	return nil
}

// rederivePage is how many stale rows are re-derived at a time.
const rederivePage = 5000

// rederiveOnRead copies the rows of f's time window that were derived with
// other rules than d's into temporary tables (rederived_queries,
// rederived_rejected), derived with d. Temporary tables belong to the
// connection, not to the database file, so this works on a read-only
// database. It returns how many rows it re-derived.
func (s *Store) rederiveOnRead(ctx context.Context, tx *sql.Tx, d Deriver, f Filter) (int64, error) {
	fp := d.Fingerprint()
	if s.version >= rollupVersion {
		// The counts answer "none" without a scan of the window.
		if stale, err := staleByCount(ctx, tx, fp); err != nil || !stale {
			return 0, err
		}
	}
	window, windowArgs := "1", []any{}
	if !f.Since.IsZero() {
		window += " AND event_time >= ?"
		windowArgs = append(windowArgs, millis(f.Since))
	}
	if !f.Until.IsZero() {
		window += " AND event_time < ?"
		windowArgs = append(windowArgs, millis(f.Until))
	}
	stale := "(rules_fp < ? OR rules_fp > ?) AND " + window
	staleArgs := append([]any{fp, fp}, windowArgs...)
	var found bool
	if err := tx.QueryRowContext(ctx, "SELECT EXISTS (SELECT 1 FROM queries WHERE "+stale+") OR EXISTS (SELECT 1 FROM rejected WHERE "+stale+")",
		append(staleArgs, staleArgs...)...).Scan(&found); err != nil {
		return 0, fmt.Errorf("look for rows derived with other rules: %w", err)
	}
	if !found {
		return 0, nil
	}
	for _, ddl := range []string{
		"CREATE TEMP TABLE rederived_queries AS SELECT " + reportColumns + " FROM queries WHERE 0",
		"CREATE TEMP TABLE rederived_rejected AS SELECT " + rejectedReportColumns + " FROM rejected WHERE 0",
	} {
		if _, err := tx.ExecContext(ctx, ddl); err != nil {
			return 0, fmt.Errorf("re-derive on read: %w", err)
		}
	}
	n, err := rederiveQueries(ctx, tx, d, stale, staleArgs)
	if err != nil {
		return 0, err
	}
	m, err := rederiveRejected(ctx, tx, d, stale, staleArgs)
	return n + m, err
}

func rederiveQueries(ctx context.Context, tx *sql.Tx, d Deriver, stale string, staleArgs []any) (int64, error) {
	ins, err := tx.PrepareContext(ctx, "INSERT INTO temp.rederived_queries ("+reportColumns+") VALUES ("+placeholders(strings.Count(reportColumns, ",")+1)+")")
	if err != nil {
		return 0, fmt.Errorf("re-derive queries on read: %w", err)
	}
	defer ins.Close()
	var n int64
	region, id := "", ""
	for {
		page, err := pageQueries(ctx, tx, stale+" AND (region, query_id) > (?, ?)", append(staleArgs[:len(staleArgs):len(staleArgs)], region, id))
		if err != nil {
			return 0, fmt.Errorf("re-derive queries on read: %w", err)
		}
		if len(page) == 0 {
			return n, nil
		}
		for i := range page {
			d.Query(&page[i])
			if _, err := ins.ExecContext(ctx, reportValues(&page[i])...); err != nil {
				return 0, fmt.Errorf("re-derive query %s/%s on read: %w", page[i].Region, page[i].QueryID, err)
			}
		}
		n += int64(len(page))
		region, id = page[len(page)-1].Region, page[len(page)-1].QueryID
	}
}

// pageQueries reads up to rederivePage queries matching where, in key order.
func pageQueries(ctx context.Context, tx *sql.Tx, where string, args []any) ([]Query, error) {
	rows, err := tx.QueryContext(ctx, "SELECT "+queryColumns+" FROM queries WHERE "+where+" ORDER BY region, query_id LIMIT ?", append(args, rederivePage)...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Query
	for rows.Next() {
		q, err := scanQuery(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, q)
	}
	return out, rows.Err()
}

func rederiveRejected(ctx context.Context, tx *sql.Tx, d Deriver, stale string, staleArgs []any) (int64, error) {
	ins, err := tx.PrepareContext(ctx, "INSERT INTO temp.rederived_rejected ("+rejectedReportColumns+") VALUES ("+placeholders(strings.Count(rejectedReportColumns, ",")+1)+")")
	if err != nil {
		return 0, fmt.Errorf("re-derive rejected submissions on read: %w", err)
	}
	defer ins.Close()
	var n int64
	after := ""
	for {
		page, err := selectRejected(ctx, tx, stale+" AND event_id > ?", append(staleArgs[:len(staleArgs):len(staleArgs)], after), rederivePage)
		if err != nil {
			return 0, fmt.Errorf("re-derive rejected submissions on read: %w", err)
		}
		if len(page) == 0 {
			return n, nil
		}
		for i := range page {
			d.Rejected(&page[i])
			if _, err := ins.ExecContext(ctx, rejectedReportValues(&page[i])...); err != nil {
				return 0, fmt.Errorf("re-derive rejected submission %s on read: %w", page[i].EventID, err)
			}
		}
		n += int64(len(page))
		after = page[len(page)-1].EventID
	}
}
