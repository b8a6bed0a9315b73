package main

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/athenawatch/athenawatch/internal/store"
	"github.com/athenawatch/athenawatch/internal/usage"
)

// reportRequest is a parsed report command: what runReport reads from its
// flags, and what demo builds itself.
type reportRequest struct {
	By     string       // a dimension of usage.ReportDimensions
	Filter store.Filter // usage.ParseFilter builds it from --since, --until and --filter
	Top    int          // 0 = all rows
	Format string       // one of usage.Formats
}

func runReport(ctx context.Context, g *globals, args []string) error {
	fs := newFlagSet(g, "report", "--by DIMENSION [flags]")
	by := fs.String("by", "user", "group by `dimension`: "+strings.Join(usage.ReportDimensions, ", "))
	since := fs.String("since", usage.DefaultSince, "from this `time` (30d, 12h, 2026-11-01, RFC 3339; empty = all)")
	until := fs.String("until", "", "up to this `time`, exclusive (default now)")
	top := fs.Int("top", 0, "show only the first `N` rows: by cost, by time for day (0 = all; for --by query, 0 = the "+
		strconv.Itoa(usage.DefaultQueryTop)+" most expensive queries)")
	format := fs.String("format", "table", "output `format`: "+strings.Join(usage.Formats, ", "))
	var filters multiFlag
	fs.Var(&filters, "filter", "only queries with `KEY=VALUE` (glob values; repeatable; keys: "+strings.Join(usage.FilterKeys, ", ")+
		"; state and statement_type ignore case)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	f, err := usage.ParseFilter(*since, *until, filters, time.Now())
	if err != nil {
		return usageError{err.Error()}
	}
	return report(ctx, g, reportRequest{By: *by, Filter: f, Top: *top, Format: *format})
}

// report runs a parsed report: it opens the database read-only, builds the
// report with the configuration's rules and prices, and writes it to stdout.
func report(ctx context.Context, g *globals, req reportRequest) error {
	if !slices.Contains(usage.ReportDimensions, req.By) {
		return usagef("--by %q: one of %s", req.By, strings.Join(usage.ReportDimensions, ", "))
	}
	if !slices.Contains(usage.Formats, req.Format) {
		return usagef("--format %q: one of %s", req.Format, strings.Join(usage.Formats, ", "))
	}
	if req.Top < 0 {
		return usagef("--top %d: must not be negative", req.Top)
	}
	cfg, st, rules, err := g.openRead(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	rep, err := usage.BuildReport(ctx, st, rules, usage.PricesOf(cfg), usage.ReportOptions{By: req.By, Filter: req.Filter, Top: req.Top})
	if err != nil {
		return err
	}
	if rep.Rederived > 0 {
		g.logger.Info("stored rows were derived under other configuration rules: reporting them as the current configuration derives them "+
			"(a command that writes, such as collect or enrich, stores the new derivation)", "rows", rep.Rederived)
	}
	return rep.Write(g.stdout, req.Format)
}
