package main

import (
	"context"
	"fmt"

	awsconfig "github.com/aws/aws-sdk-go-v2/config"

	"github.com/athenawatch/athenawatch/internal/config"
	"github.com/athenawatch/athenawatch/internal/enrich"
	"github.com/athenawatch/athenawatch/internal/store"
	"github.com/athenawatch/athenawatch/internal/usage"
)

func runEnrich(ctx context.Context, g *globals, args []string) error {
	fs := newFlagSet(g, "enrich", "[flags]")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg, st, rules, err := g.open(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	return enrichBacklog(ctx, g, cfg, st, rules)
}

// enrichBacklog asks Athena about every query without final statistics.
func enrichBacklog(ctx context.Context, g *globals, cfg *config.Config, st *store.Store, rules *usage.Rules) error {
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		return fmt.Errorf("load AWS configuration: %w", err)
	}
	e := enrich.New(awsCfg, enrich.Options{
		Roles:       cfg.Roles(),
		Rate:        cfg.Enrich.Rate,
		Burst:       cfg.Enrich.Burst,
		Concurrency: cfg.Enrich.Concurrency,
		Logger:      g.logger,
	})
	sum, err := e.EnrichBacklog(ctx, st, rules)
	fmt.Fprintf(g.stderr, "enrich: asked Athena about %d queries in %d calls (%d throttled): %d with statistics, %d unknown to Athena (no_stats), %d left pending\n",
		sum.Asked, sum.Calls, sum.Throttled, sum.Known, sum.NotFound, sum.Failed)
	return err
}
