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
// 3.1 million at 10M, for each round. The shapes' index lists each shape's
// rows of the table, in order of t, so that such a report reads its
// shapes' rows alone.

// memGatherShare is how much smaller than a span its shapes' rows must be
// for the index to read them: rows read through the index are scattered
// over the table, each a miss of the processor's caches.
const memGatherShare = 4

// memShapeIndex lists the rows of a copy's shape table by shape.
type memShapeIndex struct {
	once  sync.Once
	start []int32 // by shape id: where its rows begin in rows; one more than the shapes
	rows  []int32 // indexes into the shape table, by shape, each shape's in order
	// gathered counts the spans read through the index.
	gathered atomic.Int64
	// always reads any span of exact shapes through the index (tests,
	// whose small worlds hold few shapes).
	always bool
}

// exactShapes is the dictionary ids of the shapes vals names, or nil when
// vals is empty or holds a pattern (the index reads exact shapes alone).
// A shape the copy does not know has no id, and no rows.
func (m *memRollups) exactShapes(vals []string) []uint32 {
	if len(vals) == 0 || hasGlob(vals) {
		return nil
	}
	// Not nil, even when no shape is known: then no row is read.
	ids := make([]uint32, 0, len(vals))
	d := &m.dicts[mcFingerprint]
	for _, v := range vals {
		if id, ok := d.ids[v]; ok {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return slices.Compact(ids)
}

// gatherPays reports whether the rows of shapes make a span of n rows of
// the shape table few enough to read through the index.
func (m *memRollups) gatherPays(shapes []uint32, n int) bool {
	if shapes == nil {
		return false
	}
	ix := m.shapeIndex()
	if ix == nil {
		return false
	}
	total := 0
	for _, id := range shapes {
		if int(id)+1 < len(ix.start) {
			total += int(ix.start[id+1] - ix.start[id])
		}
	}
	return total*memGatherShare < n || ix.always
}

// shapeIndex builds the index the first time a report needs it; nil when
// the table is too large for its int32 positions.
func (m *memRollups) shapeIndex() *memShapeIndex {
	ix := &m.shapes
	ix.once.Do(func() {
		if len(m.shape) >= math.MaxInt32 {
			return
		}
		n := len(m.dicts[mcFingerprint].values)
		for i := range m.shape {
			n = max(n, int(m.shape[i].key[mcFingerprint])+1)
		}
		start := make([]int32, n+1)
		for i := range m.shape {
			start[m.shape[i].key[mcFingerprint]+1]++
		}
		for i := 1; i <= n; i++ {
			start[i] += start[i-1]
		}
		next := slices.Clone(start[:n])
		rows := make([]int32, len(m.shape))
		for i := range m.shape {
			id := m.shape[i].key[mcFingerprint]
			rows[next[id]] = int32(i)
			next[id]++
		}
		ix.start, ix.rows = start, rows
	})
	if ix.start == nil {
		return nil
	}
	return ix
}

// eachShapeRow calls fn with each row of m.shape[lo:hi] of the shapes, by
// shape, each shape's in order of t, until fn returns false; false then.
func (m *memRollups) eachShapeRow(shapes []uint32, lo, hi int, fn func(r *memRow) bool) bool {
	ix := m.shapeIndex()
	ix.gathered.Add(1)
	for _, id := range shapes {
		if int(id)+1 >= len(ix.start) {
			continue
		}
		list := ix.rows[ix.start[id]:ix.start[id+1]]
		i, _ := slices.BinarySearch(list, int32(lo))
		for _, j := range list[i:] {
			if int(j) >= hi {
				break
			}
			if !fn(&m.shape[j]) {
				return false
			}
		}
	}
	return true
}
