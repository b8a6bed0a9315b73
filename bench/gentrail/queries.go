package main

import (
	"context"
	"fmt"
	"time"

	"github.com/athenawatch/athenawatch/internal/awsemu/orgsim"
)

// generateQueriesOnly writes the queries-only shape: n StartQueryExecution
// records (plus duplicate deliveries) and nothing else, the worst case for
// the store.
func generateQueriesOnly(ctx context.Context, out string, n int64, dup float64, seed uint64, t0 time.Time) error {
	if n <= 0 {
		return fmt.Errorf("-queries %d: want at least 1", n)
	}
	began := time.Now()
	st, err := orgsim.GenerateQueryTrail(ctx, out, orgsim.QueryTrailOptions{Queries: n, DuplicateRate: dup, Seed: seed, Start: t0})
	if err != nil {
		return err
	}
	elapsed := time.Since(began)
	fmt.Printf("files=%d digest_files=%d records=%d athena_records=%d queries=%d rejected=%d duplicates=%d\n",
		st.Files, st.DigestFiles, st.Records, st.AthenaRecords, st.Queries, st.Rejected, st.Duplicates)
	fmt.Printf("uncompressed_bytes=%d compressed_bytes=%d period=%s..%s seconds=%.2f mb_per_s=%.0f\n",
		st.UncompressedBytes, st.CompressedBytes, t0.Format(time.RFC3339), st.End.Format(time.RFC3339),
		elapsed.Seconds(), float64(st.UncompressedBytes)/1e6/elapsed.Seconds())
	return nil
}
