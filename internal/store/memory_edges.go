package store

import (
	"context"
	"database/sql"
	"math"
	"slices"
	"sync"
)

// A report's window rarely begins on a day's boundary: the last 30 days
// begin at this hour 30 days ago. The copy's whole days and hours leave the
// rest of that first day, and for a report of query shapes under a filter
// (a team's top shapes, say) no rollup keeps the hours at all, so each such
// report read the first day's queries from SQLite: at ten million queries,
// a fifth of a second for each round of the search for the top shapes, one
// table row per query. The copy therefore keeps the queries of the days
// where windows begin or end, each as a row of one query (its event time to
// the millisecond, its keys and its contribution to the rollups), read in
// a report's own transaction the first time a report needs the day. The
// first day of a window stays the same all day, and days past rarely
// change, so later reports find it. A new copy carries over the days whose
// rollup periods did not change (migration 0021 names those that did) and
// drops the others.

const (
	// memEdgeBudget bounds the queries the kept days hold, about a
	// hundred bytes each; the days used longest ago leave first.
	memEdgeBudget = 1 << 20
	// memEdgeDayMax is the most queries of one day that are kept: a
	// busier day's edges are read from SQLite.
	memEdgeDayMax = memEdgeBudget / 2
	// memEdgeMaxDays bounds the days known, kept or not.
	memEdgeMaxDays = 256
)

// memEdges is a copy's kept days. Reports share it, so it changes under
// its lock; a day's rows never change once read.
type memEdges struct {
	mu   sync.Mutex
	days map[int64]*memEdgeDay
	held int // rows of the days in days
	tick int64
}

// memEdgeDay is one day of queries, read once.
type memEdgeDay struct {
	mu   sync.Mutex // held while the day is read
	done bool
	keep bool     // false: too many queries, or a value the copy does not hold
	rows []memRow // in order of t
	// held and used are under memEdges.mu: the rows counted in
	// memEdges.held, and the last use.
	held int
	used int64
}

func newMemEdges() *memEdges { return &memEdges{days: map[int64]*memEdgeDay{}} }

// carry takes over prev's kept days whose periods did not change: hour
// starts of rollup_hour and day starts of rollup_shape in changed. A
// copy's incremental load keeps its dictionaries' indexes, so the rows
// read under prev mean the same under the new copy.
func (e *memEdges) carry(prev *memEdges, changed [2]map[int64]bool) {
	if prev == nil {
		return
	}
	stale := map[int64]bool{}
	for _, periods := range changed {
		for t := range periods {
			stale[floorDiv(t, dayMillis)*dayMillis] = true
		}
	}
	prev.mu.Lock()
	defer prev.mu.Unlock()
	for day, d := range prev.days {
		if stale[day] || d.held == 0 {
			continue // changed, not kept, or still being read
		}
		e.days[day] = &memEdgeDay{done: true, keep: true, rows: d.rows, held: d.held, used: d.used}
		e.held += d.held
		e.tick = max(e.tick, d.used)
	}
}

// edgeRows are the copy's queries in [from, to), when that is within one
// day the copy keeps or can read now in tx (a transaction that sees the
// copy's count of changes); ok is false otherwise, and the rows come from
// SQLite.
func (m *memRollups) edgeRows(ctx context.Context, tx *sql.Tx, from, to int64) (rows []memRow, ok bool, err error) {
	if m.edges == nil || from == math.MinInt64 || to == math.MaxInt64 || from >= to {
		return nil, false, nil
	}
	day := floorDiv(from, dayMillis) * dayMillis
	if to > day+dayMillis || day < memTimeMin || day >= memTimeMax-dayMillis {
		return nil, false, nil
	}
	all, ok, err := m.edges.day(ctx, tx, m, day)
	if err != nil || !ok {
		return nil, false, err
	}
	lo, _ := slices.BinarySearchFunc(all, from, func(r memRow, t int64) int { return cmpInt(r.t, t) })
	hi, _ := slices.BinarySearchFunc(all, to, func(r memRow, t int64) int { return cmpInt(r.t, t) })
	return all[lo:hi], true, nil
}

// day returns the queries of the day starting at day, reading them in tx
// when no report has yet.
func (e *memEdges) day(ctx context.Context, tx *sql.Tx, m *memRollups, day int64) ([]memRow, bool, error) {
	e.mu.Lock()
	d := e.days[day]
	if d == nil {
		d = &memEdgeDay{}
		e.days[day] = d
	}
	e.tick++
	d.used = e.tick
	e.mu.Unlock()

	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.done {
		rows, keep, err := m.readEdgeDay(ctx, tx, day)
		if err != nil {
			return nil, false, err
		}
		d.rows, d.keep, d.done = rows, keep, true
		e.mu.Lock()
		if e.days[day] == d { // not dropped while it was read
			d.held = len(rows)
			e.held += d.held
			e.evict(d)
		}
		e.mu.Unlock()
	}
	return d.rows, d.keep, nil
}

// evict drops the days used longest ago, other than keep, until the kept
// rows fit the budget and the days known their bound.
func (e *memEdges) evict(keep *memEdgeDay) {
	for e.held > memEdgeBudget || len(e.days) > memEdgeMaxDays {
		var oldest int64
		var victim *memEdgeDay
		for day, d := range e.days {
			if d != keep && (victim == nil || d.used < victim.used) {
				oldest, victim = day, d
			}
		}
		if victim == nil {
			return
		}
		delete(e.days, oldest)
		e.held -= victim.held
		victim.held = 0
	}
}

// edgeDaySQL selects the queries of a day as memRowSQL selects rollup
// rows: each query a row of one, with the sums the rollup triggers take of
// it (migration 0007).
var edgeDaySQL = memRowSQL("fingerprint", `(SELECT event_time AS t, region, user, role, account, team, database, workgroup, state,
	statement_type, stats_status, fingerprint, provisioned, 1 AS queries, billed_bytes, data_scanned_bytes, engine_ms,
	CASE WHEN dpu_count > 0 AND dpu_count <= 1e6 THEN CAST(round(dpu_count * MIN(MAX(engine_ms, 0), 1e12)) AS INTEGER) ELSE 0 END AS dpu_ms,
	NOT (dpu_count > 0 AND dpu_count <= 1e6) AS no_dpu
	FROM queries INDEXED BY queries_event_time WHERE event_time >= ? AND event_time < ?)`) + " ORDER BY t"

// readEdgeDay reads the queries of a day; keep is false when the day is
// not to be kept: too many queries, or a value the copy does not hold or
// cannot sum (its reports then read SQLite, which says what is wrong).
// Only a failed transaction is an error.
func (m *memRollups) readEdgeDay(ctx context.Context, tx *sql.Tx, day int64) (rows []memRow, keep bool, err error) {
	var n int
	if err := tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM queries WHERE event_time >= ? AND event_time < ?", day, day+dayMillis).Scan(&n); err != nil {
		return nil, false, err
	}
	if n > memEdgeDayMax {
		return nil, false, nil
	}
	rows = make([]memRow, 0, n)
	if err := m.readRows(ctx, tx, "queries", edgeDaySQL, []any{day, day + dayMillis}, &rows, true); err != nil {
		if ctx.Err() != nil {
			return nil, false, ctx.Err()
		}
		return nil, false, nil
	}
	sortByTime(rows)
	return rows, true, nil
}
