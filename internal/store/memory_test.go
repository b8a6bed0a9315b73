package store

import (
	"context"
	"database/sql"
	"strings"
	"testing"
	"time"
)

// TestUnpackMemRow: a row of the copy is one text of numbers and keys;
// any text that does not add up is an error, never a row of wrong keys.
func TestUnpackMemRow(t *testing.T) {
	nums := "3600000,1,2,10,20,30,40,0,"
	lens := "9,1,0,12,2,1,0,9,3,5,4,"
	keys := "us-east-1" + "," + "" + "111111111111" + "t," + "\x00" + "" + "SUCCEEDED" + "DML" + "final" + "fp-1"
	var r memRow
	var prov int64
	var k [nMemColumns]string
	if err := unpackMemRow(sql.NullString{String: nums + lens + keys, Valid: true}, &r, &prov, &k); err != nil {
		t.Fatal(err)
	}
	want := [nMemColumns]string{"us-east-1", ",", "", "111111111111", "t,", "\x00", "", "SUCCEEDED", "DML", "final", "fp-1"}
	if k != want || r.t != 3600000 || prov != 1 || r.sums != (rollupSums{queries: 2, billedBytes: 10, dataScannedBytes: 20, engineMs: 30, dpuMs: 40}) {
		t.Fatalf("unpacked %q %+v %d", k, r, prov)
	}
	for _, tc := range []struct {
		name   string
		packed sql.NullString
		err    string
	}{
		{"null", sql.NullString{}, "not integers or whose keys are missing"},
		{"short", sql.NullString{String: "1,2,3", Valid: true}, "cut short"},
		{"not a number", sql.NullString{String: strings.Replace(nums, "10", "1e1", 1) + lens + keys, Valid: true}, "number"},
		{"keys longer", sql.NullString{String: nums + lens + keys + "x", Valid: true}, "lengths"},
		{"keys shorter", sql.NullString{String: nums + lens + keys[:len(keys)-1], Valid: true}, "lengths"},
		{"negative length", sql.NullString{String: nums + strings.Replace(lens, "9,1,", "9,-1,", 1) + keys, Valid: true}, "lengths"},
		{"huge length", sql.NullString{String: nums + strings.Replace(lens, "9,1,", "9,99999999999,", 1) + keys, Valid: true}, "lengths"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := unpackMemRow(tc.packed, &r, &prov, &k)
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("err = %v, want one that says %q", err, tc.err)
			}
		})
	}
}

// TestRefreshMemory: after a write, RefreshMemory brings the copy up to
// date without a report having to find it behind first.
func TestRefreshMemory(t *testing.T) {
	ctx := context.Background()
	st := openTest(t)
	add := func(id string) {
		t.Helper()
		if _, err := st.Commit(ctx, &Batch{Queries: []Query{testQuery("us-east-1", id, "ann", 0)}}); err != nil {
			t.Fatal(err)
		}
	}
	add("q1")
	st.ServeFromMemory(nil)
	if err := st.MemoryReady(ctx); err != nil {
		t.Fatal(err)
	}
	before := st.mem.Load().cur.Load()
	add("q2")
	st.RefreshMemory()
	var n int64
	if err := st.db.QueryRowContext(ctx, "SELECT n FROM rollup_changes").Scan(&n); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		if m := st.mem.Load().cur.Load(); m != nil && m.changes == n {
			if m == before || len(m.hour) == 0 {
				t.Fatalf("the copy did not change: %d hour rows", len(m.hour))
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the copy is still at %d changes, the database at %d", st.mem.Load().cur.Load().changes, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
	// Nothing written since: a refresh keeps the same copy.
	cur := st.mem.Load().cur.Load()
	st.RefreshMemory()
	st.mem.Load().wg.Wait()
	if st.mem.Load().cur.Load() != cur {
		t.Fatal("a refresh with nothing written replaced the copy")
	}
}

// kept is how many days the edges keep, for tests.
func (e *memEdges) kept() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	n := 0
	for _, d := range e.days {
		if d.held > 0 {
			n++
		}
	}
	return n
}

// TestProjectionsWarmOnANewCopy: a copy loaded after a write builds the
// projections its predecessor kept before any report asks, and they sum
// its own rows.
func TestProjectionsWarmOnANewCopy(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := openTest(t)
	commit := func(n int) {
		var qs []Query
		for i := range n {
			q := testQuery("us-east-1", "q"+strings.Repeat("x", n)+string(rune('a'+i)), "alice", int64(1000*(i+1)))
			q.Database = "db" + string(rune('a'+i))
			qs = append(qs, q)
		}
		if _, err := st.Commit(ctx, &Batch{Queries: qs}); err != nil {
			t.Fatal(err)
		}
	}
	commit(8)
	prev, err := loadMem(ctx, st.db, nil, st.version)
	if err != nil {
		t.Fatal(err)
	}
	cols := uint32(1<<mcRegion | 1<<mcUser)
	if _, ok := prev.projected(memDay, cols, prev.day, true); !ok {
		t.Fatalf("no projection of %d day rows by user", len(prev.day))
	}
	// A report read the hours through their index by user.
	prev.users[memHour].always = true
	g, ok := prev.gather(memHour, prev.hour, 0, len(prev.hour), nil, prev.exactIDs(mcUser, []string{"alice"}))
	if !ok || !g.each(func(*memRow) bool { return true }) {
		t.Fatal("no span of hours read through their index by user")
	}
	commit(3)
	m, err := loadMem(ctx, st.db, prev, st.version)
	if err != nil {
		t.Fatal(err)
	}
	m.warm(ctx, prev)
	if m.users[memHour].start == nil || m.users[memDay].start != nil {
		t.Error("the new copy did not build the hours' index by user alone, as its predecessor read")
	}
	got, ok := m.projected(memDay, cols, m.day, false)
	if !ok {
		t.Fatal("the new copy did not build the projection its predecessor kept")
	}
	want, _ := project(m.day, cols, len(m.day))
	if len(got) != 1 || len(want) != 1 || got[0] != want[0] || got[0].sums.queries != 11 {
		t.Errorf("projection = %+v, want one row of 11 queries: %+v", got, want)
	}
}
