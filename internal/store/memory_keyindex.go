package store

import (
	"math"
	"slices"
	"sync"
	"sync/atomic"
)

// A report of a few shapes (the rounds of the search for a window's top
// shapes, a shape's own page) keeps a small share of the shape table's
// rows, yet a scan reads them all: 524,000 rows for 30 days at 1M queries,
// 3.1 million at 10M, for each round. A user's overview and page are the
// same at every level: at 10M queries the busiest user's rows are a
// twentieth of a month's hours, yet each of the page's reports read all of
// them. A key index lists each key's rows of a level, in order of t, so
// that such a report reads its keys' rows alone: the shape table by
// shape, and every level by user.

// memGatherShare is how much smaller than a span its keys' rows must be
// for an index to read them: rows read through an index are scattered
// over the level, each a miss of the processor's caches.
const memGatherShare = 4

// memKeyIndex lists the rows of one level of a copy by the values of one
// key column.
type memKeyIndex struct {
	once  sync.Once
	start []int32 // by dictionary id: where its rows begin in rows; one more than the ids
	rows  []int32 // indexes into the level, by id, each id's in order
	// gathered counts the spans read through the index.
	gathered atomic.Int64
	// always reads any span of exact keys through the index (tests,
	// whose small worlds hold few keys).
	always bool
}

// memGather is a span of a level read through a key index.
type memGather struct {
	rows   []memRow
	ix     *memKeyIndex
	ids    []uint32
	lo, hi int
}

// exactIDs is the dictionary ids of column's values vals names, or nil when
// vals is empty or holds a pattern (an index reads exact keys alone). A
// value the copy does not know has no id, and no rows.
func (m *memRollups) exactIDs(column int, vals []string) []uint32 {
	if len(vals) == 0 || hasGlob(vals) {
		return nil
	}
	// Not nil, even when no value is known: then no row is read.
	ids := make([]uint32, 0, len(vals))
	d := &m.dicts[column]
	for _, v := range vals {
		if id, ok := d.ids[v]; ok {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return slices.Compact(ids)
}

// gather tells how to read rows[lo:hi] of level which under a filter of
// exact shapes and users (nil: none): through the index whose keys keep
// the fewest of those rows, when they are few enough.
func (m *memRollups) gather(which int, rows []memRow, lo, hi int, shapes, users []uint32) (memGather, bool) {
	best := memGather{}
	bestN := math.MaxInt
	try := func(ix *memKeyIndex, column int, ids []uint32) {
		if ids == nil {
			return
		}
		ix = ix.build(rows, column)
		if ix == nil {
			return
		}
		n := ix.count(ids, lo, hi)
		if (n*memGatherShare < hi-lo || ix.always) && n < bestN {
			best, bestN = memGather{rows: rows, ix: ix, ids: ids, lo: lo, hi: hi}, n
		}
	}
	if which == memShape {
		try(&m.shapes, mcFingerprint, shapes)
	}
	if which >= 0 && which < len(m.users) {
		try(&m.users[which], mcUser, users)
	}
	return best, best.ix != nil
}

// shapeIndex is the shape table's index by shape, built the first time it
// is needed; nil when the table is too large for its positions.
func (m *memRollups) shapeIndex() *memKeyIndex {
	return m.shapes.build(m.shape, mcFingerprint)
}

// build makes the index of rows by column the first time it is needed;
// nil when rows are too many for its int32 positions.
func (ix *memKeyIndex) build(rows []memRow, column int) *memKeyIndex {
	ix.once.Do(func() {
		if len(rows) >= math.MaxInt32 {
			return
		}
		n := 0
		for i := range rows {
			n = max(n, int(rows[i].key[column])+1)
		}
		start := make([]int32, n+1)
		for i := range rows {
			start[rows[i].key[column]+1]++
		}
		for i := 1; i <= n; i++ {
			start[i] += start[i-1]
		}
		next := slices.Clone(start[:n])
		list := make([]int32, len(rows))
		for i := range rows {
			id := rows[i].key[column]
			list[next[id]] = int32(i)
			next[id]++
		}
		ix.start, ix.rows = start, list
	})
	if ix.start == nil {
		return nil
	}
	return ix
}

// list is the rows of id, in order.
func (ix *memKeyIndex) list(id uint32) []int32 {
	if int(id)+1 >= len(ix.start) {
		return nil
	}
	return ix.rows[ix.start[id]:ix.start[id+1]]
}

// count is how many rows of the level's [lo, hi) the ids keep.
func (ix *memKeyIndex) count(ids []uint32, lo, hi int) int {
	n := 0
	for _, id := range ids {
		l := ix.list(id)
		i, _ := slices.BinarySearch(l, int32(lo))
		j, _ := slices.BinarySearch(l, int32(hi))
		n += j - i
	}
	return n
}

// each calls fn with each row of the gathered span its ids keep, by id,
// each id's in order of t, until fn returns false; false then.
func (g *memGather) each(fn func(r *memRow) bool) bool {
	g.ix.gathered.Add(1)
	for _, id := range g.ids {
		l := g.ix.list(id)
		i, _ := slices.BinarySearch(l, int32(g.lo))
		for _, j := range l[i:] {
			if int(j) >= g.hi {
				break
			}
			if !fn(&g.rows[j]) {
				return false
			}
		}
	}
	return true
}
