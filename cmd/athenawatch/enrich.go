package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/athenawatch/athenawatch/internal/config"
	"github.com/athenawatch/athenawatch/internal/enrich"
	"github.com/athenawatch/athenawatch/internal/identitycenter"
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
	_, err = enrichBacklog(ctx, g, cfg, st, rules, since)
	if nerr := nameIdentityCenterUsers(ctx, g, cfg, st, rules); err == nil {
		err = nerr
	}
	return err
}

// nameIdentityCenterUsers asks the Identity Store for the names of the
// Identity Center users of stored queries, with
// identity.resolve_identity_center. A user it cannot name keeps its id; why
// is said once.
func nameIdentityCenterUsers(ctx context.Context, g *globals, cfg *config.Config, st *store.Store, rules *usage.Rules) error {
	if !cfg.Identity.ResolveIdentityCenter {
		return nil
	}
	awsCfg, err := g.awsConfig(ctx)
	if err != nil {
		fmt.Fprintf(g.stderr, "identity: Identity Center users not named: %v\n", err)
		return nil
	}
	r := &identitycenter.Resolver{Store: st, Rules: rules, AWS: awsCfg, Region: cfg.Identity.IdentityCenterRegion, Roles: cfg.Roles(), Logger: g.logger}
	sum, err := r.Resolve(ctx)
	if err != nil {
		return fmt.Errorf("name Identity Center users: %w", err)
	}
	if sum.Asked > 0 || sum.Renamed > 0 {
		fmt.Fprintf(g.stderr, "identity: %d Identity Center users; asked the Identity Store about %d: %d named, %d not (%s); %d queries now show the new name\n",
			sum.Users, sum.Asked, sum.Named, sum.Failed, orNone(sum.Why), sum.Requery)
	}
	return nil
}

func orNone(s string) string {
	if s == "" {
		return "no failure"
	}
	return quoteNote(s)
}

// enrichOutcome is why queries of some accounts and regions stay pending
// after an enrich: by account (no way into it) and by account and region
// (Athena's calls failed).
type enrichOutcome struct {
	unreachable map[string]string
	failed      map[[2]string]string
}

// enrichBacklog asks Athena about every query without final statistics
// started at or after since (zero: all). When no credentials work it returns
// an *enrich.AccessError.
func enrichBacklog(ctx context.Context, g *globals, cfg *config.Config, st *store.Store, rules *usage.Rules, since time.Time) (enrichOutcome, error) {
	var out enrichOutcome
	awsCfg, err := g.awsConfig(ctx)
	if err != nil {
		return out, err
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
	out.unreachable = e.UnreachableAccounts()
	out.failed = map[[2]string]string{}
	for _, ge := range groupErrors(err) {
		out.failed[[2]string{ge.Account, ge.Region}] = ge.Err.Error()
	}
	var noAccess *enrich.AccessError
	if !errors.As(err, &noAccess) {
		fmt.Fprintf(g.stderr, "enrich: asked Athena about %d queries in %d calls (%d throttled): %d with statistics (%d still running), %d unknown to Athena (no_stats), %d left pending\n",
			sum.Asked, sum.Calls, sum.Throttled, sum.Known, sum.NotFinal, sum.NotFound, sum.Failed+sum.NotFinal+sum.Unreachable+sum.Unusable)
	}
	if n := sum.Clamped + sum.Unusable; n > 0 {
		fmt.Fprintf(g.stderr, "enrich: %d answers held impossible values (named in the warnings above): %d clamped and stored, %d left pending\n",
			n, sum.Clamped, sum.Unusable)
	}
	return out, err
}

// groupErrors are the account-regions an enrich error names.
func groupErrors(err error) []*enrich.GroupError {
	var out []*enrich.GroupError
	var walk func(error)
	walk = func(err error) {
		var ge *enrich.GroupError
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			for _, e := range j.Unwrap() {
				walk(e)
			}
		} else if errors.As(err, &ge) {
			out = append(out, ge)
		}
	}
	if err != nil {
		walk(err)
	}
	return out
}
