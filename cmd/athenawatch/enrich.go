package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/athenawatch/athenawatch/internal/config"
	"github.com/athenawatch/athenawatch/internal/enrich"
	"github.com/athenawatch/athenawatch/internal/store"
	"github.com/athenawatch/athenawatch/internal/usage"
)

func runEnrich(ctx context.Context, g *globals, args []string) error {
	fs := newFlagSet(g, "enrich", "[flags]")
	sinceFlag := fs.String("since", "", "only queries started from this `time` (7d, 2026-11-01, RFC 3339; default: all)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	since, err := usage.ParseTime(*sinceFlag, time.Now())
	if err != nil {
		return usagef("--since: %v", err)
	}
	cfg, st, rules, err := g.open(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	return enrichBacklog(ctx, g, cfg, st, rules, since)
}

// enrichBacklog asks Athena about every query without final statistics
// started at or after since (zero: all). When no credentials work it returns
// an *enrich.AccessError.
func enrichBacklog(ctx context.Context, g *globals, cfg *config.Config, st *store.Store, rules *usage.Rules, since time.Time) error {
	awsCfg, err := g.awsConfig(ctx)
	if err != nil {
		return err
	}
	accounts := make(map[string]string, len(cfg.Accounts))
	for id, a := range cfg.Accounts {
		accounts[id] = a.RoleARN
	}
	e := enrich.New(awsCfg, enrich.Options{
		Accounts:    accounts,
		Rate:        cfg.Enrich.Rate,
		Burst:       cfg.Enrich.Burst,
		Concurrency: cfg.Enrich.Concurrency,
		InFlight:    cfg.Enrich.InFlight,
		Logger:      g.logger,
		Calls:       g.athenaCalls,
	})
	sum, err := e.EnrichBacklog(ctx, st, rules, since)
	var noAccess *enrich.AccessError
	if !errors.As(err, &noAccess) {
		fmt.Fprintf(g.stderr, "enrich: asked Athena about %d queries in %d calls (%d throttled): %d with statistics (%d still running), %d unknown to Athena (no_stats), %d left pending\n",
			sum.Asked, sum.Calls, sum.Throttled, sum.Known, sum.NotFinal, sum.NotFound, sum.Failed+sum.NotFinal+sum.Unreachable+sum.Unusable)
	}
	if n := sum.Clamped + sum.Unusable; n > 0 {
		fmt.Fprintf(g.stderr, "enrich: %d answers held impossible values (named in the warnings above): %d clamped and stored, %d left pending\n",
			n, sum.Clamped, sum.Unusable)
	}
	return err
}
