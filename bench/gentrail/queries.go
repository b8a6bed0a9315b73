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
func generateQueriesOnly(ctx context.Context, out string, n int64, dup float64, seed uint64, t0 time.Time, qps float64, spread bool) error {
	if n <= 0 {
		return fmt.Errorf("-queries %d: want at least 1", n)
	}
	began := time.Now()
	st, err := orgsim.GenerateQueryTrail(ctx, out, orgsim.QueryTrailOptions{Queries: n, DuplicateRate: dup, Seed: seed, Start: t0, QueriesPerSecond: qps, SpreadCallers: spread})
	if err != nil {
		return err
	}
	printStats(st, t0, time.Since(began))
	return nil
}
