// Command gentrail writes a benchmark CloudTrail trail in the layout
// CloudTrail delivers to S3 (AWSLogs/<account>/CloudTrail/<region>/...),
// without needing the emulator. The shape is the mix of records: mixed
// (records of other services with a small share of Athena calls) or
// athena-heavy (the same, with a third of all records being Athena's own
// read calls, as where BI tools and SDK waiters poll Athena), or
// queries-only (StartQueryExecution records and nothing else).
//
//	go run ./bench/gentrail -out DIR -size 1GB [-shape mixed|athena-heavy] [-athena 0.01] [-seed N]
//	go run ./bench/gentrail -out DIR -shape queries-only -queries 1000000
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"time"

	"github.com/athenawatch/athenawatch/internal/awsemu/orgsim"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "gentrail:", err)
		os.Exit(1)
	}
}

func run() error {
	fs := flag.NewFlagSet("gentrail", flag.ContinueOnError)
	out := fs.String("out", "", "directory to write the trail into (required)")
	size := fs.String("size", "1GB", "least uncompressed size of the log files (KB, MB, GB suffixes in binary units: 1GB = 2^30 bytes)")
	athena := fs.Float64("athena", 0.01, "fraction of records that are Athena API calls")
	dup := fs.Float64("duplicates", orgsim.DefaultDuplicateRate, "fraction of records CloudTrail delivers twice")
	seed := fs.Uint64("seed", 1, "random seed")
	start := fs.String("start", "2026-01-05T00:00:00Z", "time of the first record (RFC 3339)")
	shapeName := fs.String("shape", string(orgsim.ShapeMixed), "mix of records: mixed, athena-heavy (35% of all records are Athena read calls) or queries-only (StartQueryExecution records only)")
	queries := fs.Int64("queries", 1000000, "queries-only: number of queries (StartQueryExecution events, duplicates not counted)")
	qps := fs.Float64("qps", 50, "queries-only: the organization's queries per second, which sets how many records a five-minute file holds")
	spread := fs.Bool("spread-callers", false, "queries-only: a source address per record, so that no two queries share a caller")
	if err := fs.Parse(os.Args[1:]); err != nil {
		os.Exit(2)
	}
	if *out == "" {
		fs.Usage()
		os.Exit(2)
	}
	bytes, err := parseSize(*size)
	if err != nil {
		return fmt.Errorf("-size %q: %w", *size, err)
	}
	t0, err := time.Parse(time.RFC3339, *start)
	if err != nil {
		return fmt.Errorf("-start %q: %w", *start, err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if *shapeName == "queries-only" {
		return generateQueriesOnly(ctx, *out, *queries, *dup, *seed, t0, *qps, *spread)
	}
	shape, err := orgsim.ParseShape(*shapeName)
	if err != nil {
		return fmt.Errorf("-shape: %w (or queries-only)", err)
	}

	began := time.Now()
	st, err := orgsim.GenerateTrail(ctx, *out, orgsim.GenerateOptions{
		Size: bytes, AthenaFraction: *athena, DuplicateRate: *dup, Seed: *seed, Start: t0, Shape: shape,
	})
	if err != nil {
		return err
	}
	printStats(st, t0, time.Since(began))
	return nil
}

// printStats prints what a generator wrote, in the key=value lines the
// bench scripts read.
func printStats(st orgsim.GenerateStats, t0 time.Time, elapsed time.Duration) {
	fmt.Printf("files=%d digest_files=%d records=%d athena_records=%d queries=%d rejected=%d duplicates=%d\n",
		st.Files, st.DigestFiles, st.Records, st.AthenaRecords, st.Queries, st.Rejected, st.Duplicates)
	fmt.Printf("uncompressed_bytes=%d compressed_bytes=%d period=%s..%s seconds=%.2f mb_per_s=%.0f\n",
		st.UncompressedBytes, st.CompressedBytes, t0.Format(time.RFC3339), st.End.Format(time.RFC3339),
		elapsed.Seconds(), float64(st.UncompressedBytes)/1e6/elapsed.Seconds())
}

// parseSize reads 500MB, 1GB, 2.5G, 1048576. Units are binary, so that "at
// least 1GB" holds whichever unit the reader has in mind.
func parseSize(s string) (int64, error) {
	s = strings.ToUpper(strings.TrimSpace(s))
	mult := 1.0
	for _, u := range []struct {
		suffix string
		mult   float64
	}{{"KB", 1 << 10}, {"MB", 1 << 20}, {"GB", 1 << 30}, {"K", 1 << 10}, {"M", 1 << 20}, {"G", 1 << 30}, {"B", 1}} {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSuffix(s, u.suffix), u.mult
			break
		}
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || v <= 0 {
		return 0, fmt.Errorf("not a size")
	}
	return int64(v * mult), nil
}
