package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// A server answers reports from a copy of the rollups in memory. SQLite
// sums a report's window at a few microseconds a rollup row, and the pages
// of a busy store ask for tens of thousands of rows many times each; the
// copy sums them in Go at a few nanoseconds a row. The copy holds
// rollup_hour and rollup_shape, which between them keep every dimension
// the rollups keep, and is read in one read transaction along with the
// count of rollup_changes (migration 0019). A report reads that count in
// its own read transaction and uses the copy only when the two are equal,
// so it never mixes the copy with a database that has moved on: when they
// differ, it reads SQLite as it would without a copy, and a new copy is
// loaded in the background. The edges of a window finer than the copy's
// periods are read from SQLite in the report's transaction, as always.

// changesVersion is the schema version that counts the rollups' changes.
const changesVersion = 19

// The key columns of the copy, in memRow.key order.
const (
	mcRegion = iota
	mcUser
	mcRole
	mcAccount
	mcTeam
	mcDatabase
	mcWorkgroup
	mcState
	mcStatementType
	mcStatsStatus
	mcFingerprint
	nMemColumns
)

var memColumns = [nMemColumns]string{"region", "user", "role", "account", "team", "database", "workgroup", "state",
	"statement_type", "stats_status", "fingerprint"}

// Flags of a row, from its state and statistics status.
const (
	mfSucceeded = 1 << iota
	mfFailed
	mfCancelled
	mfPending
	mfNoStats
	mfFinal
	mfProvisioned
)

// memRow is one row of a rollup table: its period's start, its keys as
// indexes into the copy's dictionaries, and its sums.
type memRow struct {
	t     int64
	key   [nMemColumns]uint32
	flags uint8
	sums  rollupSums
}

// memDict is the distinct values of one key column.
type memDict struct {
	values []string
	ids    map[string]uint32
	once   sync.Once
	js     string // values as a JSON array, for GLOB through SQLite
}

func (d *memDict) id(v string) uint32 {
	if id, ok := d.ids[v]; ok {
		return id
	}
	id := uint32(len(d.values))
	v = strings.Clone(v) // not the whole row it was cut from
	d.ids[v] = id
	d.values = append(d.values, v)
	return id
}

func (d *memDict) json() string {
	d.once.Do(func() {
		b, _ := json.Marshal(d.values)
		d.js = string(b)
	})
	return d.js
}

// memRollups is one copy of the rollups, read at rollup_changes count
// changes. It is never changed once loaded.
type memRollups struct {
	changes          int64
	dicts            [nMemColumns]memDict
	day, hour, shape []memRow // each in order of t
	loaded           time.Duration
	// edges keeps the queries of the days where reports' windows begin
	// or end, read when first asked for (see memEdges). Unlike the rest
	// of the copy, it fills as reports run.
	edges *memEdges
	// proj keeps the level's rows summed over the columns reports do not
	// read (see memProjections); it fills as reports run, too.
	proj memProjections
	// shapes indexes the shape table by shape, and users each level
	// (memDay, memHour, memShape) by user, each built when first needed.
	shapes memKeyIndex
	users  [memShape + 1]memKeyIndex
}

// The levels the copy answers, in the plans of planRollups: whole days
// without the shape, whole hours, and whole days with it.
var (
	memDayLevel   = memLevel("rollup_day", dayMillis, memDay)
	memHourLevel  = memLevel("rollup_hour", hourMillis, memHour)
	memShapeLevel = memLevel("rollup_shape", dayMillis, memShape, "fingerprint")
)

const (
	memDay = 1 + iota
	memHour
	memShape
)

func memLevel(table string, period int64, which int, extra ...string) rollupLevel {
	l := newRollupLevel(table, period, extra...)
	l.memory = which
	return l
}

// level is the rows of the copy's level which.
func (m *memRollups) level(which int) []memRow {
	switch which {
	case memDay:
		return m.day
	case memShape:
		return m.shape
	}
	return m.hour
}

// memLevels are the levels that answer a report of the dimensions names
// with the copy, coarsest first as rollupsFor's: the copy's, then the finer
// levels of SQLite for the window's edges; nil when no level of the copy
// keeps every dimension.
func memLevels(names []string, version int) []*rollupLevel {
	var out []*rollupLevel
	for _, l := range []*rollupLevel{&memDayLevel, &memShapeLevel, &memHourLevel} {
		ok := true
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
	if len(out) == 0 {
		return nil
	}
	for _, sl := range rollupsFor(names, version) {
		if sl.period < out[len(out)-1].period {
			out = append(out, sl)
		}
	}
	return out
}

// errMemNoKey is a value of a day's queries that the copy's dictionaries
// do not hold: the day's edges are read from SQLite.
var errMemNoKey = errors.New("a value the copy does not hold")

// errMemOverflow is a sum beyond int64, which SQLite reports as an error
// of its own: the report is read from SQLite instead.
var errMemOverflow = errors.New("sum overflows")

// memTimeRange is the range of period starts whose day SQLite's strftime
// formats as Go does: years 0000 to 9999.
var memTimeMin, memTimeMax = time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli(), time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli()

// periodsVersion is the version that records which periods of the
// rollups changed at which count (migration 0021).
const periodsVersion = 21

// maxChangedPeriods is how many changed periods a copy reads again rather
// than loading every row: past it (a re-derivation of the whole history,
// say), a whole load costs about as much.
const maxChangedPeriods = 2000

// loadMem reads a copy of the rollups in one read transaction. Given prev,
// a copy of the same database, and a database that records its changed
// periods, it reads again only the periods changed since prev was loaded
// and keeps prev's rows of the others.
func loadMem(ctx context.Context, db *sql.DB, prev *memRollups, version int) (*memRollups, error) {
	start := time.Now()
	tx, err := db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	m := &memRollups{}
	if err := tx.QueryRowContext(ctx, "SELECT n FROM rollup_changes").Scan(&m.changes); err != nil {
		return nil, fmt.Errorf("read the rollups' changes: %w", err)
	}
	if prev != nil && prev.changes == m.changes {
		return prev, nil
	}
	var changed [2]map[int64]bool // hour starts of rollup_hour, day starts of rollup_shape
	if prev != nil && version >= periodsVersion && prev.changes <= m.changes {
		if changed, err = changedPeriods(ctx, tx, prev.changes); err != nil {
			return nil, err
		}
	}
	incremental := changed[0] != nil
	for i := range m.dicts {
		if incremental {
			m.dicts[i] = memDict{values: slices.Clone(prev.dicts[i].values), ids: maps.Clone(prev.dicts[i].ids)}
		} else {
			m.dicts[i].ids = map[string]uint32{}
		}
	}
	nonzero := " WHERE NOT (queries = 0 AND billed_bytes = 0 AND data_scanned_bytes = 0 AND engine_ms = 0 AND dpu_ms = 0 AND no_dpu = 0)"
	for i, p := range []struct {
		rows  *[]memRow
		table string
		fp    string
	}{{&m.hour, "rollup_hour", "''"}, {&m.shape, "rollup_shape", "fingerprint"}} {
		q := memRowSQL(p.fp, p.table) + nonzero
		if !incremental {
			// The slice is made at its full size at once: grown by
			// appending, a slice of a million rows is mapped and copied
			// again and again, which took longer than reading them.
			var n int
			if err := tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+p.table).Scan(&n); err != nil {
				return nil, fmt.Errorf("count %s: %w", p.table, err)
			}
			*p.rows = make([]memRow, 0, n)
			if err := m.readRows(ctx, tx, p.table, q+" ORDER BY t", nil, p.rows, false); err != nil {
				return nil, err
			}
			sortByTime(*p.rows)
			continue
		}
		old := prev.hour
		if i == 1 {
			old = prev.shape
		}
		if len(changed[i]) == 0 {
			*p.rows = old
			continue
		}
		var fresh []memRow
		if err := m.readRows(ctx, tx, p.table, q+" AND t IN (SELECT t FROM rollup_periods WHERE shape = ? AND n > ?) ORDER BY t", []any{i, prev.changes}, &fresh, false); err != nil {
			return nil, err
		}
		sortByTime(fresh)
		*p.rows = mergeRows(old, fresh, changed[i])
	}
	m.edges = newMemEdges()
	if incremental {
		m.edges.carry(prev.edges, changed)
	}
	switch {
	case !incremental || prev.day == nil:
		m.day = sumDays(m.hour)
	case len(changed[0]) == 0:
		m.day = prev.day
	default:
		m.day = resumDays(prev.day, m.hour, changed[0])
	}
	m.loaded = time.Since(start)
	return m, nil
}

// sortByTime puts rows in order of t, which SQLite's order (by primary
// key, whose first column is t) already is.
func sortByTime(rows []memRow) {
	if !slices.IsSortedFunc(rows, byTime) {
		slices.SortStableFunc(rows, byTime)
	}
}

func byTime(a, b memRow) int { return cmpInt(a.t, b.t) }

// mergeRows is old's rows of the periods not changed and fresh's, both in
// order of t, in one slice in order of t.
func mergeRows(old, fresh []memRow, changed map[int64]bool) []memRow {
	n := len(fresh)
	for i := range old {
		if !changed[old[i].t] {
			n++
		}
	}
	out := make([]memRow, 0, n)
	j := 0
	for i := range old {
		if changed[old[i].t] {
			continue
		}
		for j < len(fresh) && fresh[j].t < old[i].t {
			out = append(out, fresh[j])
			j++
		}
		out = append(out, old[i])
	}
	return append(out, fresh[j:]...)
}

// changedPeriods reads the periods of each rollup changed after count n;
// nil maps when there are too many to read again.
func changedPeriods(ctx context.Context, tx *sql.Tx, n int64) ([2]map[int64]bool, error) {
	var out [2]map[int64]bool
	rows, err := tx.QueryContext(ctx, "SELECT shape, t FROM rollup_periods WHERE n > ? LIMIT ?", n, maxChangedPeriods+1)
	if err != nil {
		return out, fmt.Errorf("read the rollups' changed periods: %w", err)
	}
	defer rows.Close()
	got := [2]map[int64]bool{{}, {}}
	count := 0
	for rows.Next() {
		var shape, t int64
		if err := rows.Scan(&shape, &t); err != nil {
			return out, fmt.Errorf("read the rollups' changed periods: %w", err)
		}
		if shape != 0 && shape != 1 {
			return out, fmt.Errorf("read the rollups' changed periods: a period of table %d", shape)
		}
		got[shape][t] = true
		count++
	}
	if err := rows.Err(); err != nil {
		return out, fmt.Errorf("read the rollups' changed periods: %w", err)
	}
	if count > maxChangedPeriods {
		return out, nil
	}
	return got, nil
}

// readRows appends the rows of table that q (memRowSQL's, with args)
// selects to rows. With lookup, it adds no value to the dictionaries, which
// a published copy shares with the reports reading it: a value they do not
// hold is errMemNoKey.
func (m *memRollups) readRows(ctx context.Context, tx *sql.Tx, table, q string, args []any, out *[]memRow, lookup bool) error {
	rows, err := tx.QueryContext(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("read %s: %w", table, err)
	}
	defer rows.Close()
	var packed sql.NullString
	var keys [nMemColumns]string
	var r memRow
	var prov int64
	for rows.Next() {
		if err := rows.Scan(&packed); err != nil {
			return fmt.Errorf("read %s: %w", table, err)
		}
		if err := unpackMemRow(packed, &r, &prov, &keys); err != nil {
			return fmt.Errorf("read %s: %w", table, err)
		}
		if r.t < memTimeMin || r.t >= memTimeMax || (prov != 0 && prov != 1) {
			return fmt.Errorf("read %s: a row of period %d, provisioned %d, which only SQLite sums exactly", table, r.t, prov)
		}
		for i, k := range keys {
			if !lookup {
				r.key[i] = m.dicts[i].id(k)
				continue
			}
			id, ok := m.dicts[i].ids[k]
			if !ok {
				return fmt.Errorf("read %s: %w", table, errMemNoKey)
			}
			r.key[i] = id
		}
		r.flags = 0
		switch keys[mcState] {
		case "SUCCEEDED":
			r.flags |= mfSucceeded
		case "FAILED":
			r.flags |= mfFailed
		case "CANCELLED":
			r.flags |= mfCancelled
		}
		switch keys[mcStatsStatus] {
		case StatusPending:
			r.flags |= mfPending
		case StatusNoStats:
			r.flags |= mfNoStats
		case StatusFinal:
			r.flags |= mfFinal
		}
		if prov == 1 {
			r.flags |= mfProvisioned
		}
		*out = append(*out, r)
	}
	if err := rows.Close(); err != nil {
		return fmt.Errorf("read %s: %w", table, err)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read %s: %w", table, err)
	}
	return nil
}

// resumDays is days (sumDays of an earlier copy's hours) with the days of
// the changed hours summed again from hours (in order of t); nil when a
// sum leaves int64.
func resumDays(days, hours []memRow, changed map[int64]bool) []memRow {
	dirty := map[int64]bool{}
	for t := range changed {
		dirty[floorDiv(t, dayMillis)*dayMillis] = true
	}
	var again []memRow
	for _, r := range hours {
		if dirty[floorDiv(r.t, dayMillis)*dayMillis] {
			again = append(again, r)
		}
	}
	summed := sumDays(again)
	if summed == nil && len(again) > 0 {
		return nil
	}
	return mergeRows(days, summed, dirty)
}

// memRowSQL selects each row of a rollup table as one text: its integers
// and the byte lengths of its keys in decimal, each followed by a comma,
// then the keys one after the other. Reading one column rather than
// nineteen makes loading the copy about twice as fast. The text is NULL
// when an integer is not one (a sum SQLite turned into a real, which only
// SQLite sums exactly) or a key is NULL.
func memRowSQL(fingerprint, table string) string {
	ints := []string{"t", "provisioned", "queries", "billed_bytes", "data_scanned_bytes", "engine_ms", "dpu_ms", "no_dpu"}
	keys := append(memColumns[:nMemColumns-1:nMemColumns-1], fingerprint)
	var q strings.Builder
	q.WriteString("SELECT CASE WHEN ")
	for i, c := range ints {
		if i > 0 {
			q.WriteString(" AND ")
		}
		q.WriteString("typeof(" + c + ") = 'integer'")
	}
	q.WriteString(" THEN printf('" + strings.Repeat("%d,", len(ints)+len(keys)) + "'")
	for _, c := range ints {
		q.WriteString(", " + c)
	}
	for _, k := range keys {
		q.WriteString(", length(CAST(" + k + " AS BLOB))")
	}
	q.WriteString(")")
	for _, k := range keys {
		q.WriteString(" || " + k)
	}
	q.WriteString(" END FROM " + table)
	return q.String()
}

// unpackMemRow reads a row selected by memRowSQL into r, prov and keys.
func unpackMemRow(packed sql.NullString, r *memRow, prov *int64, keys *[nMemColumns]string) error {
	if !packed.Valid {
		return errors.New("a row whose sums are not integers or whose keys are missing")
	}
	s := packed.String
	var nums [8 + nMemColumns]int64
	for i := range nums {
		j := strings.IndexByte(s, ',')
		if j < 0 {
			return fmt.Errorf("a row cut short: %.40q", packed.String)
		}
		v, err := strconv.ParseInt(s[:j], 10, 64)
		if err != nil {
			return fmt.Errorf("a row's number %q: %w", s[:j], err)
		}
		nums[i], s = v, s[j+1:]
	}
	r.t, *prov = nums[0], nums[1]
	r.sums = rollupSums{queries: nums[2], billedBytes: nums[3], dataScannedBytes: nums[4], engineMs: nums[5], dpuMs: nums[6], noDPU: nums[7]}
	for i := range keys {
		n := nums[8+i]
		if n < 0 || n > int64(len(s)) {
			return fmt.Errorf("a row's keys do not match their lengths: %.40q", packed.String)
		}
		keys[i], s = s[:n], s[n:]
	}
	if s != "" {
		return fmt.Errorf("a row's keys do not match their lengths: %.40q", packed.String)
	}
	return nil
}

// sumDays sums hour rows (in order of t) per day and key, in order of t;
// nil when a day's sum leaves int64, so that reports of whole days go to
// SQLite, which names the overflow.
func sumDays(hours []memRow) []memRow {
	out := make([]memRow, 0, len(hours))
	type dayKey struct {
		key   [nMemColumns]uint32
		flags uint8 // capacity is no column
	}
	index := map[dayKey]int{}
	day := int64(math.MinInt64)
	for i := range hours {
		r := hours[i]
		if d := floorDiv(r.t, dayMillis) * dayMillis; d != day {
			day = d
			clear(index)
		}
		r.t = day
		k := dayKey{r.key, r.flags}
		if j, ok := index[k]; ok {
			if !addSums(&out[j].sums, &r.sums) {
				return nil
			}
			continue
		}
		index[k] = len(out)
		out = append(out, r)
	}
	return slices.Clone(out) // not the hours' length
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// memKey is a group of a report in the copy: each key a dictionary index,
// or a period's start for the day and hour dimensions.
type memKey struct {
	k1, k2 int64
	region uint32
}

// memKeyOf says how a dimension's key is taken from a row: a column of the
// copy, or the row's day or hour.
type memKeyOf struct {
	column int // -1 for a time dimension, -2 for none
	period int64
}

func memKeyFor(dim string) (memKeyOf, bool) {
	switch dim {
	case "":
		return memKeyOf{column: -2}, true
	case "day":
		return memKeyOf{column: -1, period: dayMillis}, true
	case "hour":
		return memKeyOf{column: -1, period: hourMillis}, true
	}
	for i, c := range memColumns {
		if c == dim {
			return memKeyOf{column: i}, true
		}
	}
	return memKeyOf{}, false
}

func (k memKeyOf) of(r *memRow) int64 {
	switch k.column {
	case -2:
		return 0
	case -1:
		return floorDiv(r.t, k.period) * k.period
	}
	return int64(r.key[k.column])
}

func (m *memRollups) keyString(k memKeyOf, v int64) string {
	switch k.column {
	case -2:
		return ""
	case -1:
		if k.period == hourMillis {
			return time.UnixMilli(v).UTC().Format("2006-01-02T15:00Z")
		}
		return time.UnixMilli(v).UTC().Format(time.DateOnly)
	}
	return m.dicts[k.column].values[v]
}

// memFilter is a report's filter on the copy: for each filtered column, the
// dictionary indexes that match; for the day and hour dimensions, the
// period starts that match.
type memFilter struct {
	columns []memColumnFilter
	times   []memTimeFilter
}

type memColumnFilter struct {
	column int
	ok     []bool
}

type memTimeFilter struct {
	period int64
	ok     map[int64]bool
}

// matches reports whether candidates match any of vals, as matchConds
// matches them: a value with * ? or [ is a GLOB pattern (through SQLite,
// for its exact rules), any other is compared as is. ids, when not nil,
// maps each candidate to its index.
func matchValues(ctx context.Context, tx *sql.Tx, vals, candidates []string, ids map[string]uint32, candidatesJSON func() string) ([]bool, error) {
	ok := make([]bool, len(candidates))
	exact := map[string]bool{}
	var globs []string
	for _, v := range vals {
		if strings.ContainsAny(v, "*?[") {
			globs = append(globs, v)
		} else {
			exact[v] = true
		}
	}
	switch {
	case len(exact) > 0 && ids != nil:
		// A dictionary's values: look each up rather than walk them all
		// (a report of a few shapes among a hundred thousand).
		for v := range exact {
			if i, found := ids[v]; found && int(i) < len(ok) {
				ok[i] = true
			}
		}
	case len(exact) > 0:
		for i, c := range candidates {
			ok[i] = exact[c]
		}
	}
	for _, g := range globs {
		rows, err := tx.QueryContext(ctx, "SELECT key FROM json_each(?) WHERE value GLOB ?", candidatesJSON(), g)
		if err != nil {
			return nil, fmt.Errorf("match %q: %w", g, err)
		}
		for rows.Next() {
			var i int
			if err := rows.Scan(&i); err != nil {
				rows.Close()
				return nil, fmt.Errorf("match %q: %w", g, err)
			}
			if i >= 0 && i < len(ok) {
				ok[i] = true
			}
		}
		if err := rows.Close(); err != nil {
			return nil, fmt.Errorf("match %q: %w", g, err)
		}
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("match %q: %w", g, err)
		}
	}
	return ok, nil
}

func (m *memRollups) filter(ctx context.Context, tx *sql.Tx, f *Filter, parts [][]memRow) (*memFilter, error) {
	mf := &memFilter{}
	for dim, vals := range f.Match {
		if len(vals) == 0 {
			continue // as matchConds: no alternatives, no condition
		}
		k, ok := memKeyFor(dim)
		if !ok || k.column == -2 {
			return nil, fmt.Errorf("unknown filter key %q", dim)
		}
		if k.column >= 0 {
			d := &m.dicts[k.column]
			match, err := matchValues(ctx, tx, vals, d.values, d.ids, d.json)
			if err != nil {
				return nil, err
			}
			mf.columns = append(mf.columns, memColumnFilter{k.column, match})
			continue
		}
		var starts []int64
		seen := map[int64]bool{}
		for _, rows := range parts {
			for i := range rows {
				s := floorDiv(rows[i].t, k.period) * k.period
				if !seen[s] {
					seen[s] = true
					starts = append(starts, s)
				}
			}
		}
		names := make([]string, len(starts))
		for i, s := range starts {
			names[i] = m.keyString(k, s)
		}
		match, err := matchValues(ctx, tx, vals, names, nil, func() string { b, _ := json.Marshal(names); return string(b) })
		if err != nil {
			return nil, err
		}
		tf := memTimeFilter{period: k.period, ok: map[int64]bool{}}
		for i, s := range starts {
			tf.ok[s] = match[i]
		}
		mf.times = append(mf.times, tf)
	}
	return mf, nil
}

func (mf *memFilter) match(r *memRow) bool {
	for _, c := range mf.columns {
		if !c.ok[r.key[c.column]] {
			return false
		}
	}
	for _, tf := range mf.times {
		if !tf.ok[floorDiv(r.t, tf.period)*tf.period] {
			return false
		}
	}
	return true
}

// memSum is one Sum of a row of the copy, as rollupSumSQL sums it.
func memSum(s Sum) (func(r *memRow) int64, error) {
	when := func(flags uint8, v func(r *memRow) int64) func(r *memRow) int64 {
		return func(r *memRow) int64 {
			if r.flags&flags == flags {
				return v(r)
			}
			return 0
		}
	}
	queries := func(r *memRow) int64 { return r.sums.queries }
	switch s {
	case SumQueries:
		return queries, nil
	case SumSucceeded:
		return when(mfSucceeded, queries), nil
	case SumFailed:
		return when(mfFailed, queries), nil
	case SumCancelled:
		return when(mfCancelled, queries), nil
	case SumPending:
		return when(mfPending, queries), nil
	case SumNoStats:
		return when(mfNoStats, queries), nil
	case SumWithStats:
		return when(mfFinal, queries), nil
	case SumBytesScanned:
		return when(mfFinal, func(r *memRow) int64 { return r.sums.dataScannedBytes }), nil
	case SumBilledBytes:
		return func(r *memRow) int64 { return r.sums.billedBytes }, nil
	case SumEngineMs:
		return when(mfFinal, func(r *memRow) int64 { return r.sums.engineMs }), nil
	case SumProvisioned:
		return when(mfProvisioned, queries), nil
	case SumDPUMillis:
		return when(mfProvisioned|mfFinal, func(r *memRow) int64 { return r.sums.dpuMs }), nil
	case SumProvisionedNoDPU:
		return when(mfProvisioned|mfFinal, func(r *memRow) int64 { return r.sums.noDPU }), nil
	}
	return nil, fmt.Errorf("unknown report sum %q", s)
}

// addChecked adds b to *a, or reports that the sum leaves int64.
func addChecked(a *int64, b int64) bool {
	s := *a + b
	if (s > *a) != (b > 0) {
		return false
	}
	*a = s
	return true
}

// aggregate answers a from the copy, and the edges of its window finer than
// the copy's periods from tx. It reports false when the copy keeps a
// dimension a needs not; errMemOverflow when a sum leaves int64.
func (m *memRollups) aggregate(ctx context.Context, tx *sql.Tx, a *Aggregation, version int) ([]Group, bool, error) {
	levels := memLevels(aggregationDims(a), version)
	if levels == nil {
		return nil, false, nil
	}
	by, ok1 := memKeyFor(a.By)
	then, ok2 := memKeyFor(a.Then)
	if !ok1 || !ok2 || by.column == -2 {
		return nil, false, nil
	}
	sums := make([]func(*memRow) int64, len(a.Sums))
	for i, s := range a.Sums {
		var err error
		if sums[i], err = memSum(s); err != nil {
			return nil, false, err
		}
	}
	from, to := a.Filter.windowMillis()
	cols := memProjCols(a)
	shapes := m.exactIDs(mcFingerprint, a.Filter.Match["fingerprint"])
	users := m.exactIDs(mcUser, a.Filter.Match["user"])
	var parts [][]memRow
	var gathers []memGather // spans read through a key index
	var edges []rollupPart
	for _, p := range planRollups(levels, from, to) {
		if p.level == nil || p.level.memory == 0 {
			rows, ok, err := m.edgeRows(ctx, tx, p.from, p.to)
			if err != nil {
				return nil, false, err
			}
			if !ok {
				edges = append(edges, p)
			} else if len(rows) > 0 {
				parts = append(parts, rows)
			}
			continue
		}
		if p.level.memory == memDay && m.day == nil && len(m.hour) > 0 {
			return nil, false, errMemOverflow
		}
		rows := m.level(p.level.memory)
		lo, hi := memSpan(rows, p.from, p.to)
		if lo >= hi {
			continue
		}
		if g, ok := m.gather(p.level.memory, rows, lo, hi, shapes, users); ok {
			gathers = append(gathers, g)
			continue
		}
		if pr, ok := m.projected(p.level.memory, cols, rows, (hi-lo)*memProjShare >= len(rows)); ok {
			rows = pr
			lo, hi = memSpan(rows, p.from, p.to)
		}
		if lo < hi {
			parts = append(parts, rows[lo:hi])
		}
	}
	all := slices.Clip(parts) // parts and the gathered spans, apart from parts
	for _, g := range gathers {
		all = append(all, g.rows[g.lo:g.hi])
	}
	mf, err := m.filter(ctx, tx, &a.Filter, all)
	if err != nil {
		return nil, false, err
	}
	acc := newMemAccumulator(m, by, then, all)
	defer acc.release()
	for _, rows := range parts {
		for i := range rows {
			r := &rows[i]
			if mf.match(r) && !acc.add(r) {
				return nil, false, errMemOverflow
			}
		}
	}
	for _, g := range gathers {
		if !g.each(func(r *memRow) bool { return !mf.match(r) || acc.add(r) }) {
			return nil, false, errMemOverflow
		}
	}
	out := make([]Group, 0, len(acc.groups))
	index := map[[3]string]int{}
	for _, g := range acc.groups {
		var n int64
		fake := memRow{}
		grp := Group{Key: m.keyString(by, g.k1), Key2: m.keyString(then, g.k2), Region: m.dicts[mcRegion].values[g.region], Sums: make([]int64, len(sums))}
		for _, c := range g.classes {
			fake.flags, fake.sums = c.flags, c.sums
			if !addChecked(&n, c.sums.queries) {
				return nil, false, errMemOverflow
			}
			for j, f := range sums {
				if !addChecked(&grp.Sums[j], f(&fake)) {
					return nil, false, errMemOverflow
				}
			}
		}
		if n <= 0 {
			continue // as HAVING SUM(n) > 0; the edges may still bring the group
		}
		index[[3]string{grp.Key, grp.Key2, grp.Region}] = len(out)
		out = append(out, grp)
	}
	if len(edges) > 0 {
		q, args, err := partsSQL(a, version, edges)
		if err != nil {
			return nil, false, err
		}
		if q != "" {
			more, err := scanGroups(ctx, tx, q, args, len(a.Sums))
			if err != nil {
				return nil, false, err
			}
			for _, e := range more {
				i, ok := index[[3]string{e.Key, e.Key2, e.Region}]
				if !ok {
					index[[3]string{e.Key, e.Key2, e.Region}] = len(out)
					out = append(out, e)
					continue
				}
				for j, v := range e.Sums {
					if !addChecked(&out[i].Sums[j], v) {
						return nil, false, errMemOverflow
					}
				}
			}
		}
	}
	if len(out) == 0 {
		return nil, true, nil // as scanGroups answers no rows
	}
	slices.SortFunc(out, func(x, y Group) int {
		if c := strings.Compare(x.Key, y.Key); c != 0 {
			return c
		}
		if c := strings.Compare(x.Key2, y.Key2); c != 0 {
			return c
		}
		return strings.Compare(x.Region, y.Region)
	})
	return out, true, nil
}

// memClass is the raw sums of a group's rows of one set of flags: every
// Sum of the group follows from its classes, so that a row costs six
// additions whatever the report asks for.
type memClass struct {
	flags uint8
	sums  rollupSums
}

type memGroup struct {
	k1, k2  int64
	region  uint32
	classes []memClass
}

// memSpan is the span of rows (in order of t) with from <= t < to.
func memSpan(rows []memRow, from, to int64) (lo, hi int) {
	lo, _ = slices.BinarySearchFunc(rows, from, func(r memRow, t int64) int { return cmpInt(r.t, t) })
	hi, _ = slices.BinarySearchFunc(rows, to, func(r memRow, t int64) int { return cmpInt(r.t, t) })
	return lo, hi
}

// memAccumulator sums rows into groups. A report whose keys take few
// values finds a row's group in a table indexed by the keys (users,
// regions, days of the window); any other in a map.
type memAccumulator struct {
	by, then   memKeyOf
	groups     []memGroup
	dense      []int32 // group index + 1 by dense key; nil to use sparse
	n2, nr     int
	base, step [2]int64 // a time key's first period and period
	sparse     map[memKey]int32
}

// memDenseMax bounds the table of a dense accumulator: 4 MB of int32.
const memDenseMax = 1 << 20

func newMemAccumulator(m *memRollups, by, then memKeyOf, parts [][]memRow) *memAccumulator {
	acc := &memAccumulator{by: by, then: then}
	size := func(i int, k memKeyOf) int {
		switch k.column {
		case -2:
			return 1
		case -1:
			lo, hi := int64(math.MaxInt64), int64(math.MinInt64)
			for _, rows := range parts {
				lo = min(lo, floorDiv(rows[0].t, k.period)*k.period)
				hi = max(hi, floorDiv(rows[len(rows)-1].t, k.period)*k.period)
			}
			if lo > hi {
				return 1
			}
			acc.base[i], acc.step[i] = lo, k.period
			if (hi-lo)/k.period >= memDenseMax {
				return memDenseMax + 1 // too many for a table
			}
			return int((hi-lo)/k.period) + 1
		}
		return len(m.dicts[k.column].values)
	}
	n1, n2, nr := size(0, by), size(1, then), len(m.dicts[mcRegion].values)
	if n1 > 0 && n2 > 0 && nr > 0 && n1 <= memDenseMax/n2/nr {
		acc.dense = denseTable(n1 * n2 * nr)
		acc.n2, acc.nr = n2, nr
	} else {
		acc.sparse = map[memKey]int32{}
	}
	return acc
}

// denseTables keeps the tables of dense accumulators for the next
// report: a fresh table of megabytes costs more to map than to clear.
var denseTables sync.Pool

// denseTable returns a zeroed table of n entries.
func denseTable(n int) []int32 {
	if p, ok := denseTables.Get().(*[]int32); ok && cap(*p) >= n {
		return (*p)[:n]
	}
	return make([]int32, n, max(n, 1<<12))
}

// release clears the accumulator's table and keeps it for another.
func (acc *memAccumulator) release() {
	if acc.dense != nil {
		clear(acc.dense)
		d := acc.dense[:0]
		acc.dense = nil
		denseTables.Put(&d)
	}
}

func (acc *memAccumulator) denseKey(i int, k memKeyOf, r *memRow) int {
	switch k.column {
	case -2:
		return 0
	case -1:
		return int((floorDiv(r.t, k.period)*k.period - acc.base[i]) / acc.step[i])
	}
	return int(r.key[k.column])
}

// add sums r into its group; false when a sum leaves int64.
func (acc *memAccumulator) add(r *memRow) bool {
	var g *memGroup
	if acc.dense != nil {
		i := (acc.denseKey(0, acc.by, r)*acc.n2+acc.denseKey(1, acc.then, r))*acc.nr + int(r.key[mcRegion])
		if acc.dense[i] == 0 {
			acc.groups = append(acc.groups, memGroup{k1: acc.by.of(r), k2: acc.then.of(r), region: r.key[mcRegion]})
			acc.dense[i] = int32(len(acc.groups))
		}
		g = &acc.groups[acc.dense[i]-1]
	} else {
		k := memKey{acc.by.of(r), acc.then.of(r), r.key[mcRegion]}
		j, ok := acc.sparse[k]
		if !ok {
			acc.groups = append(acc.groups, memGroup{k1: k.k1, k2: k.k2, region: k.region})
			j = int32(len(acc.groups))
			acc.sparse[k] = j
		}
		g = &acc.groups[j-1]
	}
	for i := range g.classes {
		if c := &g.classes[i]; c.flags == r.flags {
			return addSums(&c.sums, &r.sums)
		}
	}
	g.classes = append(g.classes, memClass{flags: r.flags, sums: r.sums})
	return true
}

// addSums adds b to a, or reports that a sum leaves int64.
func addSums(a, b *rollupSums) bool {
	return addChecked(&a.queries, b.queries) && addChecked(&a.billedBytes, b.billedBytes) &&
		addChecked(&a.dataScannedBytes, b.dataScannedBytes) && addChecked(&a.engineMs, b.engineMs) &&
		addChecked(&a.dpuMs, b.dpuMs) && addChecked(&a.noDPU, b.noDPU)
}

// memServer keeps a Store's copy current: it loads a new copy in the
// background when a report finds the copy behind the database, at most one
// at a time and with a pause between loads as long as the last load took,
// so that a store written without pause costs the server at most half a
// core.
type memServer struct {
	cur     atomic.Pointer[memRollups]
	loading atomic.Bool
	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	mu      sync.Mutex
	next    time.Time // no load starts before
	failed  string    // the last load's error, logged once
	log     *slog.Logger
	version int // the database's schema version
	// answered counts the reports the copy answered.
	answered atomic.Int64
}

// ServeFromMemory makes reports read a copy of the rollups kept in memory
// (see memRollups) and starts loading it. For a long-running server; a
// command that reports once reads SQLite. It does nothing on a database
// too old to count the rollups' changes.
func (s *Store) ServeFromMemory(log *slog.Logger) {
	if s.version < changesVersion {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	ms := &memServer{ctx: ctx, cancel: cancel, log: log, version: s.version}
	if !s.mem.CompareAndSwap(nil, ms) {
		cancel()
		return
	}
	ms.refresh(s.db)
}

// RefreshMemory starts bringing the copy of the rollups in memory up to
// date, when the store keeps one: for a server that has just collected, so
// that its next pages find the copy current rather than read SQLite.
func (s *Store) RefreshMemory() {
	if ms := s.mem.Load(); ms != nil {
		ms.refresh(s.db)
	}
}

// MemoryReady waits until reports read a copy of the rollups that is
// current: for benchmarks and tests, and a server that wants its first
// pages fast.
func (s *Store) MemoryReady(ctx context.Context) error {
	ms := s.mem.Load()
	if ms == nil {
		return errors.New("reports do not read a copy of the rollups in memory")
	}
	for {
		var n int64
		if err := s.db.QueryRowContext(ctx, "SELECT n FROM rollup_changes").Scan(&n); err != nil {
			return fmt.Errorf("read the rollups' changes: %w", err)
		}
		if m := ms.cur.Load(); m != nil && m.changes == n {
			return nil
		}
		ms.refresh(s.db)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// current is the copy when it was read at the count tx sees, else nil
// (and a new copy is loaded).
func (ms *memServer) current(ctx context.Context, tx *sql.Tx, db *sql.DB) (*memRollups, error) {
	var n int64
	if err := tx.QueryRowContext(ctx, "SELECT n FROM rollup_changes").Scan(&n); err != nil {
		return nil, fmt.Errorf("read the rollups' changes: %w", err)
	}
	if m := ms.cur.Load(); m != nil && m.changes == n {
		return m, nil
	}
	ms.refresh(db)
	return nil, nil
}

func (ms *memServer) refresh(db *sql.DB) {
	ms.mu.Lock()
	wait := time.Until(ms.next)
	ms.mu.Unlock()
	if !ms.loading.CompareAndSwap(false, true) {
		return
	}
	ms.wg.Add(1)
	go func() {
		defer ms.wg.Done()
		defer ms.loading.Store(false)
		if wait > 0 {
			select {
			case <-ms.ctx.Done():
				return
			case <-time.After(wait):
			}
		}
		prev := ms.cur.Load()
		m, err := loadMem(ms.ctx, db, prev, ms.version)
		if ms.publish(m, err) && prev != nil {
			// The reports that read prev's projections will read the same
			// of m: build them now rather than in the first page after a
			// collect.
			m.warm(ms.ctx, prev)
		}
	}()
}

// publish makes m the copy reports read, or notes why it could not be
// loaded; true when m is new.
func (ms *memServer) publish(m *memRollups, err error) bool {
	ms.mu.Lock()
	defer ms.mu.Unlock()
	if err != nil {
		if ms.ctx.Err() == nil && ms.failed != err.Error() && ms.log != nil {
			ms.log.Warn("reports read SQLite: could not keep the rollups in memory", "err", err)
		}
		ms.failed = err.Error()
		ms.next = time.Now().Add(time.Minute)
		return false
	}
	ms.failed = ""
	if m == ms.cur.Load() {
		return false // nothing changed: no load, no pause
	}
	ms.next = time.Now().Add(m.loaded)
	ms.cur.Store(m)
	if ms.log != nil {
		ms.log.Debug("rollups loaded into memory", "day_rows", len(m.day), "hour_rows", len(m.hour), "shape_rows", len(m.shape), "took", m.loaded)
	}
	return true
}

func (ms *memServer) close() {
	ms.cancel()
	ms.wg.Wait()
}

// memAggregate answers a from the copy when the store keeps one and it is
// current; false otherwise.
func (s *Store) memAggregate(ctx context.Context, tx *sql.Tx, a *Aggregation) ([]Group, bool, error) {
	ms := s.mem.Load()
	if ms == nil {
		return nil, false, nil
	}
	m, err := ms.current(ctx, tx, s.db)
	if err != nil || m == nil {
		return nil, false, err
	}
	groups, ok, err := m.aggregate(ctx, tx, a, s.version)
	if errors.Is(err, errMemOverflow) {
		return nil, false, nil // SQLite names the overflow
	}
	if ok && err == nil {
		ms.answered.Add(1)
	}
	return groups, ok, err
}
