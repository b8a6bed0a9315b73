package bill

import (
	"bytes"
	"math"
	"testing"
	"time"
)

// FuzzReadParquet feeds readParquet any bytes: a bill file is untrusted
// input. It must never panic past its recover, hang, or sum a cost that
// is negative or not a number. Its seeds run with every go test (one,
// "PAR1PAR1", made the Parquet library allocate 800 MB before readParquet
// checked the footer's length). A long fuzzing run is not part of make
// fuzz yet: the library's Thrift decoder allocates a binary field of a
// page header at the length the header claims (up to 2 GiB) before it
// reads it, so corrupt pages cost hundreds of MB each, and within a
// minute the fuzz worker's memory passes 3 GB and it dies.
func FuzzReadParquet(f *testing.F) {
	good := parquetOf(f, goodLines())
	f.Add(good)
	f.Add(good[:len(good)/2])
	f.Add(append(append([]byte("PAR1"), bytes.Repeat([]byte{0xff}, 64)...), []byte("\x10\x00\x00\x00PAR1")...))
	f.Add(parquetOf(f, []line{athena("111111111111", "us-east-1", "bad\xffname", day1, 10)}))
	f.Fuzz(func(t *testing.T, data []byte) {
		sum := newSummer(day1.Add(-30*24*time.Hour), day1.Add(30*24*time.Hour))
		var b Bill
		_ = readParquet(bytes.NewReader(data), int64(len(data)), "fuzz.parquet", sum, &b)
		for _, c := range sum.cells {
			if c.USD < 0 || math.IsNaN(c.USD) || math.IsInf(c.USD, 0) {
				t.Fatalf("cell %+v", c)
			}
		}
	})
}
