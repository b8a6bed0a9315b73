package store

import (
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"sort"
	"strings"
	"time"
)

// Rollups (migration 0005) hold the sums of the queries per period and per
// key of every report dimension. Inserted rows reach them through rollupDelta,
// which Tx fills from the one insert path (Tx.exec) and writes at commit;
// updated and deleted rows through the triggers of the migration. Reports
// read them through planRollups.

const (
	hourMillis = int64(3600 * 1000)
	dayMillis  = 24 * hourMillis
	// weekMillis is the period of the weekly narrow rollups: 7 days from
	// a Thursday, as weeks count from 1970-01-01. Reports never group by
	// week; a long window reads its whole weeks there.
	weekMillis = 7 * dayMillis
)

// rollupKey is what a query contributes to the rollups under: every key
// column of every rollup table. Each table sums a projection of it.
type rollupKey struct {
	hour                                                       int64 // start of the event's UTC hour, Unix ms
	region, user, role, account, team, database, workgroup     string
	state, statementType, statsStatus, fingerprint, rulesPrint string
	provisioned                                                int64
}

// rollupSums are the sums every rollup row keeps.
type rollupSums struct {
	queries, billedBytes, dataScannedBytes, engineMs, dpuMs, noDPU int64
}

func (s *rollupSums) negate() {
	*s = rollupSums{-s.queries, -s.billedBytes, -s.dataScannedBytes, -s.engineMs, -s.dpuMs, -s.noDPU}
}

func (s *rollupSums) add(o rollupSums) {
	s.queries += o.queries
	s.billedBytes += o.billedBytes
	s.dataScannedBytes += o.dataScannedBytes
	s.engineMs += o.engineMs
	s.dpuMs += o.dpuMs
	s.noDPU += o.noDPU
}

// floorDiv is a / b rounded toward minus infinity (b > 0), as the SQL of the
// rollups computes it, so that times before 1970 fall in their own period.
func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b < 0 {
		q--
	}
	return q
}

// rowContribution is what one stored row adds to the rollups: the same
// expressions as the migration's triggers and the raw sums of sumSQL.
func rowContribution(eventTime int64, region, user, role, account, team, database, workgroup, state, statementType, statsStatus,
	fingerprint, rulesPrint string, provisioned, billedBytes, dataScannedBytes, engineMs int64, dpuCount float64,
) (rollupKey, rollupSums) {
	k := rollupKey{
		hour: floorDiv(eventTime, hourMillis) * hourMillis, region: region, user: user, role: role, account: account, team: team,
		database: database, workgroup: workgroup, state: state, statementType: statementType, statsStatus: statsStatus,
		fingerprint: fingerprint, rulesPrint: rulesPrint, provisioned: provisioned,
	}
	s := rollupSums{queries: 1, billedBytes: billedBytes, dataScannedBytes: dataScannedBytes, engineMs: engineMs}
	if dpuCount > 0 && dpuCount <= 1e6 {
		ms := float64(max(engineMs, 0))
		if ms > 1e12 {
			ms = 1e12
		}
		s.dpuMs = int64(math.Round(dpuCount * ms))
	} else {
		s.noDPU = 1
	}
	return k, s
}

func queryContribution(q *Query) (rollupKey, rollupSums) {
	status := q.StatsStatus
	if status == "" {
		status = StatusPending
	}
	return rowContribution(millis(q.EventTime), q.Region, q.User, q.Role, q.Account, q.Team, q.Database, q.Workgroup,
		q.Stats.State, q.Stats.StatementType, status, q.Fingerprint, q.RulesFingerprint, int64(boolInt(q.Provisioned)),
		q.BilledBytes, q.Stats.DataScannedBytes, q.Stats.EngineMs, q.Stats.DPUCount)
}

// rollupDelta sums the rows a transaction inserted, per rollupKey, until it
// commits.
type rollupDelta map[rollupKey]*rollupSums

func (d rollupDelta) add(k rollupKey, s rollupSums) {
	if t := d[k]; t != nil {
		t.add(s)
		return
	}
	d[k] = &s
}

// contributionColumns are the columns of queries rowContribution reads, in
// its order.
const contributionColumns = `event_time, region, user, role, account, team, database, workgroup, state, statement_type, stats_status,
	fingerprint, rules_fp, provisioned, billed_bytes, data_scanned_bytes, engine_ms, dpu_count`

// scanContribution reads contributionColumns of a row.
func scanContribution(row interface{ Scan(...any) error }) (rollupKey, rollupSums, error) {
	var (
		t, prov, billed, scanned, engine                                                     int64
		region, user, role, account, team, database, workgroup, state, stmt, status, fp, rfp string
		dpu                                                                                  float64
	)
	if err := row.Scan(&t, &region, &user, &role, &account, &team, &database, &workgroup, &state, &stmt, &status, &fp, &rfp,
		&prov, &billed, &scanned, &engine, &dpu); err != nil {
		return rollupKey{}, rollupSums{}, err
	}
	k, s := rowContribution(t, region, user, role, account, team, database, workgroup, state, stmt, status, fp, rfp, prov, billed, scanned, engine, dpu)
	return k, s, nil
}

// rowMover moves the rollup sums of the rows a transaction updates: each
// row's sums before the update leave their keys and its sums after it join
// theirs, summed per key until the transaction commits. Statements that
// move sums this way flip the row's sums_moved, which the update triggers
// of migration 0009 take as their cue to leave the row alone.
type rowMover struct {
	before *sql.Stmt // contributionColumns of one row, by key
	delta  rollupDelta
}

// movedSet is the assignment an UPDATE whose sums a rowMover moves must
// include, and movedReturning the clause that hands it the row's new sums.
const (
	movedSet       = "sums_moved = 1 - sums_moved"
	movedReturning = " RETURNING " + contributionColumns
)

// newRowMover prepares the read of a row's sums before an update; cond is
// the condition on (region, query_id) and whatever else the update
// requires, with the same parameters as the update's WHERE.
func newRowMover(ctx context.Context, tx *sql.Tx, cond string) (*rowMover, error) {
	st, err := tx.PrepareContext(ctx, "SELECT "+contributionColumns+" FROM queries WHERE "+cond)
	if err != nil {
		return nil, err
	}
	return &rowMover{before: st, delta: rollupDelta{}}, nil
}

// update runs update (an UPDATE that sets movedSet and ends in
// movedReturning) on the row the WHERE arguments args select, when that
// row exists, and moves its sums. It reports whether a row was updated.
func (m *rowMover) update(ctx context.Context, update *sql.Stmt, set []any, args []any) (bool, error) {
	k, s, err := scanContribution(m.before.QueryRowContext(ctx, args...))
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("read sums: %w", err)
	}
	nk, ns, err := scanContribution(update.QueryRowContext(ctx, append(set, args...)...))
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	s.negate()
	m.delta.add(k, s)
	m.delta.add(nk, ns)
	return true, nil
}

// flush writes the moved sums to the rollups; the caller commits.
func (m *rowMover) flush(ctx context.Context, tx *sql.Tx) error {
	m.before.Close()
	return m.delta.flush(ctx, tx)
}

// rollupTable is one table of sums: its period (0: none), its key columns
// after t, and how a rollupKey projects onto them. A narrow table (migration
// 0007) is one rollupTable per dimension: where selects that dimension's
// rows and pk is the table's primary key, in its order.
type rollupTable struct {
	name    string
	period  int64
	columns []string
	// keyOf appends the table's key of a rollupKey, boxed once for every
	// table (boxKey), to dst.
	keyOf func(dst []any, b *boxedKey) []any
	pk    []string
	where string
	// sums are the sum columns the table keeps: nil for all of
	// allRollupSums.
	sums []string
	// copied is whether a server keeps the table in memory, and copyShape
	// its shape in rollup_periods (migration 0021): a flush that writes
	// its rows marks their periods changed.
	copied    bool
	copyShape int
}

// boxedKey is a rollupKey's values as a statement binds them, and its
// periods: a flush projects each key onto some thirty tables, and boxing
// each value once rather than once per table saves most of a projection.
type boxedKey struct {
	hour, day, week                                                         any
	region, user, role, account, team, database, workgroup                  any
	state, statementType, statsStatus, fingerprint, rulesPrint, provisioned any
}

func boxKey(k *rollupKey) boxedKey {
	return boxedKey{
		hour: k.hour, day: floorDiv(k.hour, dayMillis) * dayMillis, week: floorDiv(k.hour, weekMillis) * weekMillis,
		region: k.region, user: k.user, role: k.role, account: k.account, team: k.team, database: k.database, workgroup: k.workgroup,
		state: k.state, statementType: k.statementType, statsStatus: k.statsStatus, fingerprint: k.fingerprint, rulesPrint: k.rulesPrint,
		provisioned: k.provisioned,
	}
}

// period is b's period of length p: its hour, day or week.
func (b *boxedKey) period(p int64) any {
	switch p {
	case hourMillis:
		return b.hour
	case dayMillis:
		return b.day
	case weekMillis:
		return b.week
	}
	panic(fmt.Sprintf("store: no rollup period of %d ms", p))
}

// allRollupSums are the sum columns of a rollup table, in rollupSums order.
var allRollupSums = []string{"queries", "billed_bytes", "data_scanned_bytes", "engine_ms", "dpu_ms", "no_dpu"}

// sumColumns are the sum columns rt keeps.
func (rt *rollupTable) sumColumns() []string {
	if rt.sums != nil {
		return rt.sums
	}
	return allRollupSums
}

// column is the sum of one of allRollupSums.
func (s *rollupSums) column(name string) int64 {
	switch name {
	case "queries":
		return s.queries
	case "billed_bytes":
		return s.billedBytes
	case "data_scanned_bytes":
		return s.dataScannedBytes
	case "engine_ms":
		return s.engineMs
	case "dpu_ms":
		return s.dpuMs
	case "no_dpu":
		return s.noDPU
	}
	panic("store: unknown rollup sum " + name)
}

var baseRollupColumns = []string{"region", "user", "role", "account", "team", "database", "workgroup", "state", "statement_type", "stats_status", "provisioned"}

func appendBaseRollupValues(dst []any, b *boxedKey) []any {
	return append(dst, b.region, b.user, b.role, b.account, b.team, b.database, b.workgroup, b.state, b.statementType, b.statsStatus, b.provisioned)
}

var rollupTables = []rollupTable{
	{name: "rollup_hour", period: hourMillis, columns: baseRollupColumns, keyOf: func(dst []any, b *boxedKey) []any {
		return appendBaseRollupValues(append(dst, b.hour), b)
	}, copied: true, copyShape: 0},
	{name: "rollup_day", period: dayMillis, columns: baseRollupColumns, keyOf: func(dst []any, b *boxedKey) []any {
		return appendBaseRollupValues(append(dst, b.day), b)
	}},
	{name: "rollup_shape", period: dayMillis, columns: append(append([]string{}, baseRollupColumns...), "fingerprint"), keyOf: func(dst []any, b *boxedKey) []any {
		return append(appendBaseRollupValues(append(dst, b.day), b), b.fingerprint)
	}, copied: true, copyShape: 1},
	{name: "rules_fps", columns: []string{"rules_fp"}, keyOf: func(dst []any, b *boxedKey) []any { return append(dst, b.rulesPrint) }, sums: []string{"queries"}},
	// Migration 0010.
	{name: "shape_totals", columns: []string{"fingerprint"}, keyOf: func(dst []any, b *boxedKey) []any { return append(dst, b.fingerprint) },
		sums: []string{"queries", "billed_bytes", "dpu_ms"}},
}

// narrowDims are the dimensions of the narrow rollups, "" standing for all
// queries (value "").
var narrowDims = []string{"", "user", "role", "account", "team", "database", "workgroup", "fingerprint"}

// narrowValue is b's value of the narrow rollups' dimension dim.
func narrowValue(b *boxedKey, dim string) any {
	switch dim {
	case "user":
		return b.user
	case "role":
		return b.role
	case "account":
		return b.account
	case "team":
		return b.team
	case "database":
		return b.database
	case "workgroup":
		return b.workgroup
	case "fingerprint":
		return b.fingerprint
	}
	return ""
}

var narrowColumns = []string{"dim", "value", "region", "state", "stats_status", "provisioned"}

func init() {
	for _, p := range []struct {
		table  string
		period int64
	}{{"rollup_dim_week", weekMillis}, {"rollup_dim_day", dayMillis}, {"rollup_dim_hour", hourMillis}} {
		for _, dim := range narrowDims {
			boxedDim := any(dim)
			rollupTables = append(rollupTables, rollupTable{
				name: p.table, period: p.period, columns: narrowColumns,
				keyOf: func(dst []any, b *boxedKey) []any {
					return append(dst, b.period(p.period), boxedDim, narrowValue(b, dim), b.region, b.state, b.statsStatus, b.provisioned)
				},
				pk:    []string{"dim", "t", "value", "region", "state", "stats_status", "provisioned"},
				where: "dim = '" + dim + "'",
			})
		}
	}
}

// keyColumns are the table's primary key columns.
func (rt *rollupTable) keyColumns() []string {
	if rt.period > 0 {
		return append([]string{"t"}, rt.columns...)
	}
	return rt.columns
}

// flush adds d to every rollup table within tx.
func (d rollupDelta) flush(ctx context.Context, tx *sql.Tx) error {
	if len(d) == 0 {
		return nil
	}
	stmts := map[flushStmtKey]*sql.Stmt{}
	defer func() {
		for _, st := range stmts {
			st.Close()
		}
	}()
	type row struct {
		key  []any
		sums rollupSums
	}
	rows := map[string]*row{}
	var order []string
	var id []byte
	var args, key []any
	var changed []changedPeriod // of the tables a server copies, in order
	type entry struct {
		b boxedKey
		s *rollupSums
	}
	entries := make([]entry, 0, len(d))
	for k, s := range d {
		entries = append(entries, entry{boxKey(&k), s})
	}
	for _, rt := range rollupTables {
		// Project first: many keys of d share a row of a coarser table.
		clear(rows)
		order = order[:0]
		for i := range entries {
			e := &entries[i]
			key = rt.keyOf(key[:0], &e.b)
			id = appendKeyID(id[:0], key)
			r := rows[string(id)]
			if r == nil {
				r = &row{key: slices.Clone(key)}
				sid := string(id)
				rows[sid] = r
				order = append(order, sid)
			}
			r.sums.add(*e.s)
		}
		// The same statements in the same order, whatever the map's; the
		// period comes first in every id, so rows of one period are
		// written together.
		slices.Sort(order)
		keys := rt.keyColumns()
		pk := keys
		if rt.pk != nil {
			pk = rt.pk
		}
		sums := rt.sumColumns()
		width := len(keys) + len(sums)
		n := 0 // rows in args
		write := func() error {
			if n == 0 {
				return nil
			}
			sk := flushStmtKey{rt.name, n}
			stmt := stmts[sk]
			if stmt == nil {
				set := make([]string, len(sums))
				for i, s := range sums {
					set[i] = s + " = " + s + " + excluded." + s
				}
				var err error
				stmt, err = tx.PrepareContext(ctx, "INSERT INTO "+rt.name+" ("+strings.Join(append(keys[:len(keys):len(keys)], sums...), ", ")+
					") VALUES "+rowPlaceholders(n, width)+" ON CONFLICT ("+strings.Join(pk, ", ")+") DO UPDATE SET "+strings.Join(set, ", "))
				if err != nil {
					return fmt.Errorf("update %s: %w", rt.name, err)
				}
				stmts[sk] = stmt
			}
			if _, err := stmt.ExecContext(ctx, args...); err != nil {
				return fmt.Errorf("update %s: %w", rt.name, err)
			}
			clear(args)
			args, n = args[:0], 0
			return nil
		}
		for _, id := range order {
			r := rows[id]
			zero := true
			for _, c := range sums {
				zero = zero && r.sums.column(c) == 0
			}
			if zero {
				continue // rows that moved away and back, or moves that change none of its sums
			}
			args = append(args, r.key...)
			for _, c := range sums {
				args = append(args, r.sums.column(c))
			}
			if rt.copied {
				p := changedPeriod{rt.copyShape, r.key[0].(int64)}
				if len(changed) == 0 || changed[len(changed)-1] != p {
					changed = append(changed, p)
				}
			}
			if n++; n == rowsPerUpsert {
				if err := write(); err != nil {
					return err
				}
			}
		}
		if err := write(); err != nil {
			return err
		}
	}
	return markChanged(ctx, tx, changed)
}

// changedPeriod is a period of a rollup a server copies whose rows a
// transaction wrote: shape as in rollup_periods, t its start.
type changedPeriod struct {
	shape int
	t     int64
}

// markChanged moves the count of rollup changes (migration 0019) once,
// and marks each of periods changed at the new count (migration 0021), so
// that a server's copy reads again the periods written after it was
// loaded. Every write to the copied rollups is a flush's, but for the
// triggers on the queries table, which mark their own (migration 0023):
// marking once per flush what per-row triggers marked once per row costs
// one statement for a few hundred periods rather than two or three for
// each row.
func markChanged(ctx context.Context, tx *sql.Tx, periods []changedPeriod) error {
	if len(periods) == 0 {
		return nil
	}
	var n int64
	if err := tx.QueryRowContext(ctx, "UPDATE rollup_changes SET n = n + 1 RETURNING n").Scan(&n); err != nil {
		return fmt.Errorf("count rollup changes: %w", err)
	}
	const perStmt = 256
	args := make([]any, 0, 3*min(len(periods), perStmt))
	for len(periods) > 0 {
		k := min(len(periods), perStmt)
		args = args[:0]
		for _, p := range periods[:k] {
			args = append(args, p.shape, p.t, n)
		}
		if _, err := tx.ExecContext(ctx, "INSERT INTO rollup_periods (shape, t, n) VALUES "+rowPlaceholders(k, 3)+
			" ON CONFLICT (shape, t) DO UPDATE SET n = excluded.n", args...); err != nil {
			return fmt.Errorf("mark rollup periods changed: %w", err)
		}
		periods = periods[k:]
	}
	return nil
}

// rowsPerUpsert is how many rollup rows one upsert statement carries: one
// statement per row spent more in the per-statement work of database/sql
// and SQLite than in the rows. The widest rollup row has 19 values.
const rowsPerUpsert = 64

type flushStmtKey struct {
	table string
	rows  int
}

// appendKeyID appends to dst an encoding of a rollup row's key that tells
// keys apart (an int64, big-endian with the sign flipped, sorts as the
// number does; a string is its length, then its bytes).
func appendKeyID(dst []byte, key []any) []byte {
	for _, v := range key {
		switch v := v.(type) {
		case int64:
			dst = binary.BigEndian.AppendUint64(append(dst, 'i'), uint64(v)^(1<<63))
		case string:
			dst = append(binary.BigEndian.AppendUint32(append(dst, 's'), uint32(len(v))), v...)
		default:
			// Not a type a key holds today: told apart by its printed form.
			s := fmt.Sprintf("%T:%#v", v, v)
			dst = append(binary.BigEndian.AppendUint32(append(dst, 'x'), uint32(len(s))), s...)
		}
	}
	return dst
}

// touchDays moves the lake version (migration 0016) of every day d holds
// rows of, once per day: an export rewrites those days. For the rows a
// transaction inserted; updates move it in the migration's trigger, only
// when an exported column changed.
func (d rollupDelta) touchDays(ctx context.Context, tx *sql.Tx) error {
	days := map[string]bool{}
	for k := range d {
		days[time.UnixMilli(floorDiv(k.hour, dayMillis)*dayMillis).UTC().Format(time.DateOnly)] = true
	}
	for _, day := range slices.Sorted(maps.Keys(days)) {
		if _, err := tx.ExecContext(ctx, "INSERT INTO lake_days (day, version) VALUES (?, 1) ON CONFLICT (day) DO UPDATE SET version = version + 1", day); err != nil {
			return fmt.Errorf("mark day %s changed: %w", day, err)
		}
	}
	return nil
}

// hourSQL is the key of the hour dimension for a time in Unix ms: its UTC
// hour, "YYYY-MM-DDTHH:00Z".
func hourSQL(ms string) string {
	return "strftime('%Y-%m-%dT%H:00Z', (" + ms + " / 3600000 - (" + ms + " % 3600000 < 0)) * 3600, 'unixepoch')"
}

// rollupLevel is a rollup table reports read: the dimensions it can group
// and filter by, as SQL over its columns, the condition that selects its
// rows (a narrow table's dimension) and the schema version that added it.
type rollupLevel struct {
	table   string
	period  int64
	dims    map[string]string
	cond    string
	version int
	// dim is a narrow table's dimension; valueIndex, when set, is its
	// index by value and t (from schema version valueIndexVersion on),
	// which a filter on a few values of dim reads rather than every
	// value's periods.
	dim, valueIndex   string
	valueIndexVersion int
	// memory, when set, is the table of the in-memory copy (memHour,
	// memShape) that answers this level's parts.
	memory int
}

func newRollupLevel(table string, period int64, extra ...string) rollupLevel {
	dims := periodDims(period)
	for _, c := range append([]string{"user", "role", "team", "database", "workgroup", "account", "region", "state", "statement_type"}, extra...) {
		dims[c] = c
	}
	return rollupLevel{table: table, period: period, dims: dims, version: rollupVersion}
}

// periodDims are the time dimensions a table of period can group by.
func periodDims(period int64) map[string]string {
	dims := map[string]string{}
	if period <= dayMillis {
		dims["day"] = "strftime('%Y-%m-%d', t / 1000, 'unixepoch')"
	}
	if period <= hourMillis {
		dims["hour"] = "strftime('%Y-%m-%dT%H:00Z', t / 1000, 'unixepoch')"
	}
	return dims
}

// newNarrowLevel is the rows of one dimension of a narrow rollup table.
func newNarrowLevel(table string, period int64, dim string) rollupLevel {
	dims := periodDims(period)
	dims["region"], dims["state"] = "region", "state"
	if dim != "" {
		dims[dim] = "value"
	}
	l := rollupLevel{table: table, period: period, dims: dims, cond: "dim = '" + dim + "'", version: narrowVersion, dim: dim}
	switch {
	case dim != "" && period >= dayMillis:
		l.valueIndex, l.valueIndexVersion = table+"_value", narrowVersion
	case dim == "fingerprint":
		// The hours of a few shapes at a window's edges (migration 0022).
		l.valueIndex, l.valueIndexVersion = table+"_fingerprint", shapeEdgesVersion
	}
	return l
}

// narrowVersion is the schema version that added the narrow rollups, and
// userIndexVersion the one that indexed the wide rollups by user.
const (
	narrowVersion    = 7
	userIndexVersion = 11
	// shapeEdgesVersion indexes the hours of each shape and carries each
	// query's user and region in the shape index (migration 0022).
	shapeEdgesVersion = 22
)

// rollupLevels, coarsest first; of one period, the smallest first (a
// narrow table's dimension before the wide tables), since rollupsFor takes
// the first of a period that keeps every dimension a report needs.
var rollupLevels = func() []rollupLevel {
	var out []rollupLevel
	for _, d := range narrowDims {
		out = append(out, newNarrowLevel("rollup_dim_week", weekMillis, d))
	}
	for _, d := range narrowDims {
		out = append(out, newNarrowLevel("rollup_dim_day", dayMillis, d))
	}
	out = append(out, newRollupLevel("rollup_day", dayMillis), newRollupLevel("rollup_shape", dayMillis, "fingerprint"))
	for _, d := range narrowDims {
		out = append(out, newNarrowLevel("rollup_dim_hour", hourMillis, d))
	}
	return append(out, newRollupLevel("rollup_hour", hourMillis))
}()

// rollupSumSQL is each Sum over the rows of a rollup table: the same sums
// as sumSQL over the rows they sum.
var rollupSumSQL = map[Sum]string{
	SumQueries:          "SUM(queries)",
	SumSucceeded:        "SUM(CASE WHEN state = 'SUCCEEDED' THEN queries ELSE 0 END)",
	SumFailed:           "SUM(CASE WHEN state = 'FAILED' THEN queries ELSE 0 END)",
	SumCancelled:        "SUM(CASE WHEN state = 'CANCELLED' THEN queries ELSE 0 END)",
	SumPending:          "SUM(CASE WHEN stats_status = 'pending' THEN queries ELSE 0 END)",
	SumNoStats:          "SUM(CASE WHEN stats_status = 'no_stats' THEN queries ELSE 0 END)",
	SumWithStats:        "SUM(CASE WHEN stats_status = 'final' THEN queries ELSE 0 END)",
	SumBytesScanned:     "SUM(CASE WHEN stats_status = 'final' THEN data_scanned_bytes ELSE 0 END)",
	SumBilledBytes:      "SUM(billed_bytes)",
	SumEngineMs:         "SUM(CASE WHEN stats_status = 'final' THEN engine_ms ELSE 0 END)",
	SumProvisioned:      "SUM(provisioned * queries)",
	SumDPUMillis:        "SUM(CASE WHEN provisioned AND stats_status = 'final' THEN dpu_ms ELSE 0 END)",
	SumProvisionedNoDPU: "SUM(CASE WHEN provisioned AND stats_status = 'final' THEN no_dpu ELSE 0 END)",
}

// rollupPart is one part of a window: a table (nil: the rows of queries)
// over [from, to) (math.MinInt64 and math.MaxInt64 for no bound).
type rollupPart struct {
	level    *rollupLevel
	from, to int64
}

// planRollups splits the window [from, to) among levels (coarsest first):
// the whole periods of the first level, the rest, at each edge, among the
// next levels, and what no level covers to the rows.
func planRollups(levels []*rollupLevel, from, to int64) []rollupPart {
	if from >= to {
		return nil
	}
	if len(levels) == 0 {
		return []rollupPart{{nil, from, to}}
	}
	g := levels[0].period
	a, b := from, to
	if from != math.MinInt64 {
		// The first period starting at or after from; none when that
		// would pass the largest time.
		q := floorDiv(from, g)
		if q*g < from {
			if q >= math.MaxInt64/g {
				return planRollups(levels[1:], from, to)
			}
			q++
		}
		a = q * g
	}
	if to != math.MaxInt64 {
		b = floorDiv(to, g) * g
	}
	if a >= b {
		return planRollups(levels[1:], from, to)
	}
	parts := planRollups(levels[1:], from, a)
	parts = append(parts, rollupPart{levels[0], a, b})
	return append(parts, planRollups(levels[1:], b, to)...)
}

// rollupsFor returns the levels that keep every dimension of names,
// coarsest first, each finer than the one before (a level of the same
// period adds nothing at the edges of the one before).
func rollupsFor(names []string, version int) []*rollupLevel {
	var out []*rollupLevel
	for i := range rollupLevels {
		l := &rollupLevels[i]
		ok := l.version <= version
		for _, n := range names {
			if _, has := l.dims[n]; !has {
				ok = false
				break
			}
		}
		if ok && (len(out) == 0 || l.period < out[len(out)-1].period) {
			out = append(out, l)
		}
	}
	return out
}

// matchConds are the conditions of f's dimension filters, with dims giving
// each dimension's SQL.
func (f *Filter) matchConds(dims map[string]string) ([]string, []any, error) {
	keys := make([]string, 0, len(f.Match))
	for k := range f.Match {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var conds []string
	var args []any
	for _, k := range keys {
		col, ok := dims[k]
		if !ok {
			return nil, nil, fmt.Errorf("unknown filter key %q", k)
		}
		var alts []string
		for _, v := range f.Match[k] {
			if strings.ContainsAny(v, "*?[") {
				alts = append(alts, col+" GLOB ?")
			} else {
				alts = append(alts, col+" = ?")
			}
			args = append(args, v)
		}
		if len(alts) > 0 {
			conds = append(conds, "("+strings.Join(alts, " OR ")+")")
		}
	}
	return conds, args, nil
}

// windowMillis is f's window in Unix ms, math.MinInt64 and math.MaxInt64
// standing for no bound.
func (f *Filter) windowMillis() (int64, int64) {
	from, to := int64(math.MinInt64), int64(math.MaxInt64)
	if !f.Since.IsZero() {
		from = millis(f.Since)
	}
	if !f.Until.IsZero() {
		to = millis(f.Until)
	}
	return from, to
}

// aggregationDims are the dimensions an aggregation groups and filters by.
func aggregationDims(a *Aggregation) []string {
	names := []string{a.By}
	if a.Then != "" {
		names = append(names, a.Then)
	}
	for k := range a.Filter.Match {
		names = append(names, k)
	}
	return names
}

// rollupQuery is the SQL of an aggregation answered from the rollups ("" for
// an empty window), or false when they cannot answer it (a dimension or
// filter they do not keep, such as principal_arn).
func rollupQuery(a *Aggregation, version int) (string, []any, bool, error) {
	levels := rollupsFor(aggregationDims(a), version)
	if len(levels) == 0 {
		return "", nil, false, nil
	}
	from, to := a.Filter.windowMillis()
	q, args, err := partsSQL(a, version, planRollups(levels, from, to))
	return q, args, true, err
}

// partsSQL is the SQL that sums the parts of a window from their tables
// (or the rows), grouped by the aggregation's keys and region; "" for no
// parts.
func partsSQL(a *Aggregation, version int, plan []rollupPart) (string, []any, error) {
	var parts []string
	var args []any
	for _, p := range plan {
		dims, sums, count, timeCol := Dimensions, sumSQL, "COUNT(*)", "event_time"
		src := "queries"
		if p.level != nil {
			dims, sums, count, timeCol, src = p.level.dims, rollupSumSQL, "SUM(queries)", "t", p.level.table
			// Without statistics SQLite reads a window of every value
			// rather than the few values asked for: the index is named.
			if vals := a.Filter.Match[p.level.dim]; p.level.valueIndex != "" && version >= p.level.valueIndexVersion && len(vals) > 0 && !hasGlob(vals) {
				src += " INDEXED BY " + p.level.valueIndex
			} else if vals := a.Filter.Match["user"]; p.level.dim == "" && p.level.cond == "" && version >= userIndexVersion && len(vals) > 0 && !hasGlob(vals) {
				// A wide table's rows of a few users (migration 0011).
				src += " INDEXED BY " + p.level.table + "_user"
			}
		}
		conds, cargs, err := a.Filter.matchConds(dims)
		if err != nil {
			return "", nil, err
		}
		var window []string
		var wargs []any
		if vals := a.Filter.Match["fingerprint"]; p.level == nil && len(vals) > 0 && !hasGlob(vals) && !slices.Contains(vals, "") {
			// The rows of a few shapes at the window's edges: a range of
			// the shape index each, not every row of the edges.
			src += " INDEXED BY queries_fingerprint"
			window = append(window, "fingerprint <> ''")
		}
		if p.from != math.MinInt64 {
			window, wargs = append(window, timeCol+" >= ?"), append(wargs, p.from)
		}
		if p.to != math.MaxInt64 {
			window, wargs = append(window, timeCol+" < ?"), append(wargs, p.to)
		}
		if p.level != nil && p.level.cond != "" {
			window = append(window, p.level.cond)
		}
		conds = append(window, conds...)
		args = append(append(args, wargs...), cargs...)
		then := "''"
		if a.Then != "" {
			then = dims[a.Then]
		}
		q := "SELECT " + dims[a.By] + " AS k1, " + then + " AS k2, region AS k3"
		for i, s := range a.Sums {
			e, ok := sums[s]
			if !ok {
				return "", nil, fmt.Errorf("unknown report sum %q", s)
			}
			q += ", " + e + " AS s" + fmt.Sprint(i)
		}
		q += ", " + count + " AS n FROM " + src
		if len(conds) > 0 {
			q += " WHERE " + strings.Join(conds, " AND ")
		}
		parts = append(parts, q+" GROUP BY 1, 2, 3")
	}
	if len(parts) == 0 {
		return "", nil, nil
	}
	q := "SELECT k1, k2, k3"
	for i := range a.Sums {
		q += ", SUM(s" + fmt.Sprint(i) + ")"
	}
	q += " FROM (" + strings.Join(parts, " UNION ALL ") + ") GROUP BY 1, 2, 3 HAVING SUM(n) > 0"
	return q, args, nil
}

// hasGlob reports whether any of vals is a pattern (matched with GLOB).
func hasGlob(vals []string) bool {
	for _, v := range vals {
		if strings.ContainsAny(v, "*?[") {
			return true
		}
	}
	return false
}
