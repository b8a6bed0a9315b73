package main

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"time"

	"github.com/athenawatch/athenawatch/internal/bucket"
	"github.com/athenawatch/athenawatch/internal/config"
	"github.com/athenawatch/athenawatch/internal/lake"
	"github.com/athenawatch/athenawatch/internal/location"
	"github.com/athenawatch/athenawatch/internal/source"
	"github.com/athenawatch/athenawatch/internal/usage"
)

func runExport(ctx context.Context, g *globals, args []string) error {
	fs := newFlagSet(g, "export", "--to dir:PATH|s3://BUCKET/PREFIX [--format parquet|csv] [--compression zstd|snappy] [--since TIME] [--until TIME]")
	to := fs.String("to", "", "where the lake goes: `dir:PATH` or s3://BUCKET/PREFIX")
	format := fs.String("format", lake.FormatParquet, "`format`: parquet (the usage table) or csv (the usage table as CSV and the seed's athena_api_output)")
	compression := fs.String("compression", lake.CompressionZstd, "Parquet `compression`: zstd or snappy")
	since := fs.String("since", "", "export only days from this `time` (30d, 2026-11-01; default: all)")
	until := fs.String("until", "", "export only days before this `time` (default: all)")
	output := fs.String("output", "text", "what export prints: text or json")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	opts, err := exportOptionsOf(*to, *format, *compression, *since, *until, time.Now())
	if err != nil {
		return err
	}
	if *output != "text" && *output != "json" {
		return usagef("--output %q: text or json", *output)
	}
	_, st, _, err := g.open(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	sum, err := execExport(ctx, g, st, opts)
	if *output == "json" {
		enc := json.NewEncoder(g.stdout)
		enc.SetIndent("", "  ")
		if jerr := enc.Encode(sum); jerr != nil {
			return jerr
		}
	} else {
		printExport(g, sum)
	}
	return err
}

// exportOptions are an export's parsed flags.
type exportOptions struct {
	to, format, compression string
	from, until             string // days, YYYY-MM-DD, inclusive; "" open
}

func exportOptionsOf(to, format, compression, since, until string, now time.Time) (exportOptions, error) {
	o := exportOptions{to: to, format: format, compression: compression}
	if to == "" {
		return o, usagef("--to is required: dir:PATH or s3://BUCKET/PREFIX")
	}
	if _, err := location.Parse(to); err != nil {
		return o, usagef("--to %v", err)
	}
	if format != lake.FormatParquet && format != lake.FormatCSV {
		return o, usagef("--format %q: parquet or csv", format)
	}
	if compression != lake.CompressionZstd && compression != lake.CompressionSnappy {
		return o, usagef("--compression %q: zstd or snappy", compression)
	}
	s, err := usage.ParseTime(since, now)
	if err != nil {
		return o, usagef("--since: %v", err)
	}
	u, err := usage.ParseTime(until, now)
	if err != nil {
		return o, usagef("--until: %v", err)
	}
	if !s.IsZero() {
		o.from = s.UTC().Format(time.DateOnly)
	}
	if !u.IsZero() {
		// --until is exclusive; a day is exported when it starts before it.
		o.until = u.Add(-time.Millisecond).UTC().Format(time.DateOnly)
	}
	return o, nil
}

// openTarget opens the target of --to.
func openTarget(ctx context.Context, g *globals, to string) (lake.Target, error) {
	loc, err := location.Parse(to)
	if err != nil {
		return nil, usagef("--to %v", err)
	}
	if loc.Dir != "" {
		abs, err := filepath.Abs(loc.Dir)
		if err != nil {
			return nil, err
		}
		return lake.Dir{Path: abs}, nil
	}
	cfg, err := source.LoadAWS(ctx, "export", g.awsConfig, 4)
	if err != nil {
		return nil, err
	}
	client, err := bucket.Open(ctx, cfg, loc.Bucket, bucket.Options{Logger: g.logger})
	if err != nil {
		return nil, fmt.Errorf("export to %s: %w", to, err)
	}
	return lake.S3{Client: client, Bucket: loc.Bucket, Prefix: loc.Prefix}, nil
}

func execExport(ctx context.Context, g *globals, st lake.Store, o exportOptions) (lake.Summary, error) {
	target, err := openTarget(ctx, g, o.to)
	if err != nil {
		return lake.Summary{Target: o.to, Format: o.format}, err
	}
	e := &lake.Exporter{Store: st, Target: target, Format: o.format, Compression: o.compression, Logger: g.logger}
	return e.Export(ctx, o.from, o.until)
}

func printExport(g *globals, s lake.Summary) {
	fmt.Fprintf(g.stderr, "export %s (%s): %d days with queries; %d partitions written (%d rows, %.1f MB), %d unchanged, %d removed\n",
		s.Target, s.Format, s.Days, s.Written, s.Rows, float64(s.Bytes)/1e6, s.Unchanged, s.Removed)
	for _, f := range s.Failed {
		fmt.Fprintf(g.stderr, "export: not written (tried again next run): %s\n", f)
	}
}

// runExports writes the usage lake to the configured export target once
// firstRound is closed (after serve's first collect round) and then every
// interval, until ctx ends. Each run writes only
// the days that changed; one that fails is logged, and the days it could
// not write are written by the next.
func runExports(ctx context.Context, g *globals, cfg *config.Config, st lake.Store, firstRound <-chan struct{}) {
	e := cfg.Export
	if e.To == "" {
		return
	}
	opts, err := exportOptionsOf(e.To, e.Format, e.Compression, "", "", time.Now())
	if err != nil {
		g.logger.Error("export is configured wrongly; serve exports nothing", "err", err)
		return
	}
	repeat(ctx, firstRound, e.Every, func(ctx context.Context) {
		sum, err := execExport(ctx, g, st, opts)
		switch {
		case ctx.Err() != nil:
		case err != nil:
			g.logger.Error("export failed; the next one tries again", "to", sum.Target, "err", err, "next_in", e.Every)
		default:
			g.logger.Info("export done", "to", sum.Target, "format", sum.Format, "written", sum.Written, "unchanged", sum.Unchanged, "rows", sum.Rows)
		}
	})
}
