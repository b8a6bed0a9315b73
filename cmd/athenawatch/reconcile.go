package main

import (
	"context"
	"fmt"
	"time"

	"github.com/athenawatch/athenawatch/internal/bill"
	"github.com/athenawatch/athenawatch/internal/config"
	"github.com/athenawatch/athenawatch/internal/reconcile"
	"github.com/athenawatch/athenawatch/internal/store"
	"github.com/athenawatch/athenawatch/internal/usage"
)

func runReconcile(ctx context.Context, g *globals, args []string) error {
	fs := newFlagSet(g, "reconcile", "--cur s3://BUCKET/PREFIX|dir:PATH [--since 30d] [--until TIME] [--format table|json]")
	cur := fs.String("cur", "", "the bill: an AWS Data Exports CUR 2.0 export in Parquet, at `location` s3://BUCKET/PREFIX or dir:PATH, "+
		"at or above the export's folder (default: reconcile.cur in the configuration)")
	sinceFlag := fs.String("since", "30d", "from the UTC day of this `time` (30d, 2026-11-01, RFC 3339)")
	untilFlag := fs.String("until", "", "up to this `time`, exclusive, rounded up to a whole UTC day (default: now)")
	format := fs.String("format", "table", "`format`: table or json")
	strict := fs.Bool("strict", false, "exit 1 when bad input of the export was skipped")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *format != "table" && *format != "json" {
		return usagef("--format %q: table or json", *format)
	}
	now := time.Now()
	since, err := usage.ParseTime(*sinceFlag, now)
	if err != nil {
		return usagef("--since: %v", err)
	}
	if since.IsZero() {
		return usagef("--since: give the start of the window (30d, 2026-11-01)")
	}
	until := now
	if *untilFlag != "" {
		if until, err = usage.ParseTime(*untilFlag, now); err != nil {
			return usagef("--until: %v", err)
		}
	}
	if !until.After(since) {
		return usagef("--until %s is not after --since %s", until.UTC().Format(time.RFC3339), since.UTC().Format(time.RFC3339))
	}
	// Parsed before the database is opened, so that a mistyped location
	// is a usage error that touches nothing.
	if *cur != "" {
		if _, err := bill.ParseLocation(*cur); err != nil {
			return usagef("--cur: %v", err)
		}
	}
	cfg, st, _, err := g.open(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	src := *cur
	if src == "" {
		src = cfg.Reconcile.CUR
	}
	if src == "" {
		return usagef("--cur: where is the bill? give the CUR 2.0 export's location (or reconcile.cur in the configuration)")
	}
	loc, err := bill.ParseLocation(src)
	if err != nil {
		return usagef("--cur: %v", err)
	}
	reader, err := billReader(ctx, g, loc)
	if err != nil {
		return err
	}
	res, err := reconcile.Run(ctx, st, reader, reconcile.Days(since, until))
	if err != nil {
		return err
	}
	if err := res.Write(g.stdout, *format); err != nil {
		return err
	}
	for _, s := range res.Skipped {
		fmt.Fprintf(g.stderr, "reconcile: skipped %s: %s\n", quoteNote(s.Name), quoteNote(s.Reason))
	}
	fmt.Fprintln(g.stderr, res.Summary())
	if len(res.Skipped) > 0 {
		fmt.Fprintf(g.stderr, "reconcile: %d bad inputs of the export were skipped (named above)\n", len(res.Skipped))
		if *strict {
			return errSkipped
		}
	}
	return nil
}

// runReconciles reconciles the configured bill with the attributed cost
// over the last reconcile.DefaultWindow once firstRound is closed (after
// serve's first collect round) and then every
// reconcile.every, until ctx ends: the Bill page and /metrics show the
// last run. A run that fails is logged and tried again at the next tick.
func runReconciles(ctx context.Context, g *globals, cfg *config.Config, st *store.Store, firstRound <-chan struct{}) {
	src := cfg.Reconcile.CUR
	if src == "" {
		return
	}
	loc, err := bill.ParseLocation(src)
	if err != nil {
		g.logger.Error("reconcile.cur is wrong; serve reconciles nothing", "err", err)
		return
	}
	repeat(ctx, firstRound, cfg.Reconcile.Every, func(ctx context.Context) {
		if err := reconcileOnce(ctx, g, st, loc, time.Now()); err != nil && ctx.Err() == nil {
			g.logger.Error("reconcile failed; the next one tries again", "err", err, "next_in", cfg.Reconcile.Every)
		}
	})
}

// reconcileOnce reconciles the bill at loc over the reconcile.DefaultWindow
// before now and keeps the result for the Bill page and /metrics.
func reconcileOnce(ctx context.Context, g *globals, st *store.Store, loc bill.Location, now time.Time) error {
	reader, err := billReader(ctx, g, loc)
	if err != nil {
		return err
	}
	res, err := reconcile.Run(ctx, st, reader, reconcile.Days(now.Add(-reconcile.DefaultWindow), now))
	if err != nil {
		return err
	}
	g.logger.Info("reconcile done", "summary", res.Summary(), "skipped", len(res.Skipped))
	return nil
}

// billReader reads the bill at loc, with the AWS configuration when it
// is in S3 (a directory needs none, nor credentials).
func billReader(ctx context.Context, g *globals, loc bill.Location) (*bill.Reader, error) {
	r := &bill.Reader{Location: loc, Logger: g.logger}
	if loc.Bucket != "" {
		cfg, err := g.awsConfig(ctx)
		if err != nil {
			return nil, err
		}
		r.AWS = cfg
	}
	return r, nil
}
