package main

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/athenawatch/athenawatch/internal/store"
	"github.com/athenawatch/athenawatch/internal/usage"
)

func runReport(ctx context.Context, g *globals, args []string) error {
	fs := newFlagSet(g, "report", "--by DIMENSION [flags]")
	by := fs.String("by", "user", "group by `dimension`: "+strings.Join(usage.ReportDimensions, ", "))
	since := fs.String("since", "30d", "from this `time` (30d, 12h, 2026-11-01, RFC 3339; empty = all)")
	until := fs.String("until", "", "up to this `time`, exclusive (default now)")
	top := fs.Int("top", 0, "show only the first `N` rows by cost (0 = all)")
	format := fs.String("format", "table", "output `format`: "+strings.Join(usage.Formats, ", "))
	var filters multiFlag
	fs.Var(&filters, "filter", "only queries with `KEY=VALUE` (glob values; repeatable; keys: user, role, team, database, workgroup, account, region, day, state, statement_type)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if !slices.Contains(usage.ReportDimensions, *by) {
		return usagef("--by %q: one of %s", *by, strings.Join(usage.ReportDimensions, ", "))
	}
	if !slices.Contains(usage.Formats, *format) {
		return usagef("--format %q: one of %s", *format, strings.Join(usage.Formats, ", "))
	}
	if *top < 0 {
		return usagef("--top must not be negative")
	}
	f, err := reportFilter(*since, *until, filters)
	if err != nil {
		return err
	}
	cfg, st, _, err := g.open(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	rep, err := usage.BuildReport(ctx, st, cfg.PriceUSDPerTiB, usage.ReportOptions{By: *by, Filter: f, Top: *top})
	if err != nil {
		return err
	}
	return rep.Write(g.stdout, *format)
}

func reportFilter(since, until string, filters []string) (store.Filter, error) {
	now := time.Now()
	var f store.Filter
	var err error
	if f.Since, err = usage.ParseTime(since, now); err != nil {
		return f, usagef("--since: %v", err)
	}
	if f.Until, err = usage.ParseTime(until, now); err != nil {
		return f, usagef("--until: %v", err)
	}
	f.Match = map[string][]string{}
	for _, kv := range filters {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return f, usagef("--filter %q: want KEY=VALUE", kv)
		}
		if _, known := store.Dimensions[k]; !known {
			return f, usagef("--filter %q: unknown key %q", kv, k)
		}
		f.Match[k] = append(f.Match[k], v)
	}
	return f, nil
}
