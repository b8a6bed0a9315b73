package store

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
)

// A report reads few of the copy's key columns: the report by team its
// teams and regions, the heatmap of hours its regions alone. The copy's
// rows keep every column, so such a report sums many rows into few groups:
// at 1M queries the hour table's 30 days are 678,000 rows, which the
// heatmap sums into 720 hours. A projection is one level's rows summed
// over the key columns a report does not read. It is built the first time
// a report over a large part of the level needs those columns, kept with
// the copy (which never changes), and read by every later report that
// needs exactly those columns.

// projBudget bounds the rows all projections of one copy keep together: a
// quarter of the copy's rows, or 1,048,576 (about 100 MB) when that is
// more. A projection that would pass it is not kept.
func (m *memRollups) projBudget() int {
	return max(1<<20, (len(m.day)+len(m.hour)+len(m.shape))/4)
}

// memProjShare is the share of a level a report's part must cover to build
// a projection: a report of a few hours sums fewer rows than the build
// would read.
const memProjShare = 8

type memProjKey struct {
	which int    // memDay, memHour or memShape
	cols  uint32 // bit c set: key column c is kept
}

type memProjection struct {
	once sync.Once
	done atomic.Bool
	rows []memRow
	ok   bool // false: not kept (no smaller than half the level, over the budget, or a sum left int64)
}

type memProjections struct {
	mu    sync.Mutex
	byKey map[memProjKey]*memProjection
	rows  int // rows kept by all, against projBudget
	// used counts the parts of reports a projection answered.
	used atomic.Int64
	// keepAll keeps a projection however few rows it sums away (tests,
	// whose small worlds rarely halve a level).
	keepAll bool
}

// memProjCols is the set of key columns an aggregation reads: its keys,
// its filter's and the region every group is split by.
func memProjCols(a *Aggregation) uint32 {
	cols := uint32(1) << mcRegion
	for _, d := range aggregationDims(a) {
		if k, ok := memKeyFor(d); ok && k.column >= 0 {
			cols |= 1 << k.column
		}
	}
	return cols
}

// projected returns the rows of level which summed over the key columns
// not in cols (the others are zero), in order of t, or false when there is
// no such projection. It builds one when build is set and none was tried.
func (m *memRollups) projected(which int, cols uint32, src []memRow, build bool) ([]memRow, bool) {
	if cols == 1<<nMemColumns-1 {
		return nil, false // every column: nothing to sum over
	}
	key := memProjKey{which, cols}
	m.proj.mu.Lock()
	if m.proj.byKey == nil {
		m.proj.byKey = map[memProjKey]*memProjection{}
	}
	p := m.proj.byKey[key]
	if p == nil {
		if !build {
			m.proj.mu.Unlock()
			return nil, false
		}
		p = &memProjection{}
		m.proj.byKey[key] = p
	}
	m.proj.mu.Unlock()
	if !build && !p.done.Load() {
		return nil, false // another report is building it: read the level meanwhile
	}
	p.once.Do(func() {
		defer p.done.Store(true)
		limit := len(src) / 2
		if m.proj.keepAll {
			limit = len(src)
		}
		m.proj.mu.Lock()
		limit = min(limit, m.projBudget()-m.proj.rows)
		m.proj.mu.Unlock()
		rows, ok := project(src, cols, limit)
		if !ok {
			return
		}
		m.proj.mu.Lock()
		defer m.proj.mu.Unlock()
		if m.proj.rows+len(rows) > m.projBudget() {
			return // others were kept meanwhile
		}
		m.proj.rows += len(rows)
		p.rows, p.ok = rows, true
	})
	if p.ok {
		m.proj.used.Add(1)
	}
	return p.rows, p.ok
}

// memProjRow is the key of a projected row within one period.
type memProjRow struct {
	key   [nMemColumns]uint32
	flags uint8
}

// project sums src (in order of t) over the key columns not in cols; false
// when that leaves more than limit rows or a sum leaves int64.
func project(src []memRow, cols uint32, limit int) ([]memRow, bool) {
	if limit <= 0 {
		return nil, false
	}
	var mask [nMemColumns]uint32
	for c := range mask {
		if cols&(1<<c) != 0 {
			mask[c] = ^uint32(0)
		}
	}
	// Room for the most rows kept, so that the slice never grows by
	// copying; the rows kept are copied once into a slice of their size.
	out := make([]memRow, 0, limit)
	index := map[memProjRow]int32{}
	for i := 0; i < len(src); {
		t := src[i].t
		clear(index)
		for ; i < len(src) && src[i].t == t; i++ {
			r := &src[i]
			k := memProjRow{flags: r.flags}
			for c := range k.key {
				k.key[c] = r.key[c] & mask[c]
			}
			if j, ok := index[k]; ok {
				if !addSums(&out[j].sums, &r.sums) {
					return nil, false
				}
				continue
			}
			if len(out) == limit {
				return nil, false
			}
			index[k] = int32(len(out))
			out = append(out, memRow{t: t, key: k.key, flags: r.flags, sums: r.sums})
		}
	}
	return slices.Clone(out), true
}

// warm builds the projections prev kept, and the key indexes prev read,
// until ctx ends.
func (m *memRollups) warm(ctx context.Context, prev *memRollups) {
	if prev.shapes.gathered.Load() > 0 {
		m.shapeIndex()
	}
	for which := range prev.users {
		if prev.users[which].gathered.Load() > 0 {
			m.users[which].build(m.level(which), mcUser)
		}
	}
	prev.proj.mu.Lock()
	var keys []memProjKey
	for k, p := range prev.proj.byKey {
		if p.done.Load() && p.ok {
			keys = append(keys, k)
		}
	}
	prev.proj.mu.Unlock()
	for _, k := range keys {
		if ctx.Err() != nil {
			return
		}
		m.projected(k.which, k.cols, m.level(k.which), true)
	}
}
