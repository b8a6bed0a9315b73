package store

import (
	"database/sql"
	"strings"
	"testing"
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
