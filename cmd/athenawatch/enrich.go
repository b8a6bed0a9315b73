package main

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"

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
// started at or after since (zero: all).
func enrichBacklog(ctx context.Context, g *globals, cfg *config.Config, st *store.Store, rules *usage.Rules, since time.Time) error {
	awsCfg, err := g.awsConfig(ctx)
	if err != nil {
		return err
	}
	e := enrich.New(awsCfg, enrich.Options{
		Roles:       cfg.Roles(),
		Rate:        cfg.Enrich.Rate,
		Burst:       cfg.Enrich.Burst,
		Concurrency: cfg.Enrich.Concurrency,
		Logger:      g.logger,
	})
	sum, err := e.EnrichBacklog(ctx, st, rules, since, reachableAccounts(ctx, g, awsCfg, cfg))
	fmt.Fprintf(g.stderr, "enrich: asked Athena about %d queries in %d calls (%d throttled): %d with statistics (%d still running), %d unknown to Athena (no_stats), %d left pending\n",
		sum.Asked, sum.Calls, sum.Throttled, sum.Known, sum.NotFinal, sum.NotFound, sum.Failed+sum.NotFinal+sum.Unreachable)
	return err
}

// reachableAccounts is the set of accounts whose queries athenawatch can read:
// the one its credentials belong to, those config names a role for, and
// those config lists without a role (read with the base credentials). When
// STS cannot say who the caller is, only the configured accounts are asked:
// asking another account's queries with the wrong credentials would make
// Athena call them unknown, and they would be marked no_stats for good.
func reachableAccounts(ctx context.Context, g *globals, awsCfg aws.Config, cfg *config.Config) func(string) bool {
	configured := func(account string) bool {
		_, ok := cfg.Accounts[account]
		return ok
	}
	stsCfg := awsCfg.Copy()
	if stsCfg.Region == "" {
		stsCfg.Region = "us-east-1"
	}
	out, err := sts.NewFromConfig(stsCfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil || out.Account == nil {
		g.logger.Warn("cannot tell which account the AWS credentials belong to (STS GetCallerIdentity failed); "+
			"only accounts listed under accounts: in the configuration are enriched", "error", err)
		return configured
	}
	home := *out.Account
	return func(account string) bool { return account == home || configured(account) }
}
