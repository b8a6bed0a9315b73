package cloudtrail

import (
	"bytes"
	"context"
	"sync"
	"testing"

	"github.com/klauspost/compress/gzip"
)

// benchTrail is a ~50 MB generated trail, plain and gzip-compressed, made
// once for all benchmarks.
var benchTrail = sync.OnceValues(func() ([]byte, []byte) {
	plain := newTrailGen(1).file(50 << 20)
	var z bytes.Buffer
	w := gzip.NewWriter(&z)
	w.Write(plain)
	w.Close()
	return plain, z.Bytes()
})

// benchAthenaHeavyTrail is like benchTrail with 35% of the records being
// Athena's read calls, as where BI tools and SDK waiters poll Athena.
var benchAthenaHeavyTrail = sync.OnceValues(func() ([]byte, []byte) {
	g := newTrailGen(1)
	g.athenaReads = 0.35
	plain := g.file(50 << 20)
	var z bytes.Buffer
	w := gzip.NewWriter(&z)
	w.Write(plain)
	w.Close()
	return plain, z.Bytes()
})

func BenchmarkRead(b *testing.B) {
	plain, gz := benchTrail()
	heavyPlain, heavyGz := benchAthenaHeavyTrail()
	for _, bc := range []struct {
		name        string
		data, plain []byte
	}{{"plain", plain, plain}, {"gzip", gz, plain}, {"athena-heavy/plain", heavyPlain, heavyPlain}, {"athena-heavy/gzip", heavyGz, heavyPlain}} {
		b.Run(bc.name, func(b *testing.B) {
			r := NewReader(ReaderOptions{})
			ctx := context.Background()
			b.SetBytes(int64(len(bc.plain)))
			b.ReportAllocs()
			events := 0
			for b.Loop() {
				st, err := r.Read(ctx, "bench.json", bytes.NewReader(bc.data), func(*QueryEvent) error { events++; return nil })
				if err != nil || st.Queries == 0 {
					b.Fatalf("read: %v, %+v", err, st)
				}
			}
		})
	}
}

// BenchmarkSplit measures the record splitter alone: finding where each
// record of a plain trail ends, with no per-record work.
func BenchmarkSplit(b *testing.B) {
	plain, _ := benchTrail()
	b.SetBytes(int64(len(plain)))
	b.ReportAllocs()
	var s scanner
	ctx := context.Background()
	for b.Loop() {
		n, err := splitOnly(ctx, &s, bytes.NewReader(plain))
		if err != nil || n == 0 {
			b.Fatalf("split: %d records, %v", n, err)
		}
	}
}

// splitOnly walks {"Records":[...]} with the scanner and counts records.
func splitOnly(ctx context.Context, s *scanner, src *bytes.Reader) (int, error) {
	s.reset(ctx, src, DefaultBufferBytes, DefaultMaxRecordBytes)
	if c, _ := s.mustPeek(); c != '{' {
		return 0, s.fail("not an object")
	}
	s.pos++
	s.mustPeek()
	if ok, err := s.readKey(); !ok || err != nil {
		return 0, s.fail("no Records")
	}
	s.mustPeek()
	s.pos++ // ':'
	s.mustPeek()
	s.pos++ // '['
	n := 0
	for {
		c, err := s.mustPeek()
		if err != nil {
			return n, err
		}
		if c == ']' {
			return n, nil
		}
		if c == ',' {
			s.pos++
			continue
		}
		s.keep()
		s.pos++
		s.stack = append(s.stack[:0], '}')
		if err := s.scanComposite(0); err != nil {
			return n, err
		}
		if s.kept() != nil {
			n++
		}
	}
}
