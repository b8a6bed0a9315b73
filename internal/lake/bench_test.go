package lake

import (
	"context"
	"testing"
)

// BenchmarkExport writes days of 20,000 queries each as Parquet to a
// directory: rows per second of a full export (read from the store,
// encode, write, rename).
func BenchmarkExport(b *testing.B) {
	f := newFixture(b)
	const perDay, days = 20000, 3
	for d := range days {
		f.add(perDay, d)
	}
	dir := b.TempDir()
	b.ResetTimer()
	for range b.N {
		// A new target each time: every day is written.
		e := &Exporter{Store: f.st, Target: Dir{Path: dir + "/" + b.Name()}, Format: FormatParquet}
		if _, err := f.st.LakeExports(context.Background(), e.Target.String(), FormatParquet); err != nil {
			b.Fatal(err)
		}
		sum, err := e.Export(context.Background(), "", "")
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		for _, d := range []string{"2026-11-20", "2026-11-21", "2026-11-22"} {
			if err := f.st.ForgetLakeExport(context.Background(), e.Target.String(), FormatParquet, d); err != nil {
				b.Fatal(err)
			}
		}
		if sum.Rows != perDay*days {
			b.Fatalf("%+v", sum)
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(perDay*days*b.N)/b.Elapsed().Seconds(), "rows/s")
}
