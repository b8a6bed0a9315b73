package main

import (
	"context"
	"flag"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/athenawatch/athenawatch/internal/usage"
)

func runReport(ctx context.Context, g *globals, args []string) error {
	fs := newFlagSet(g, "report", "--by DIMENSION [flags]")
	fs.String("by", usage.DefaultBy, "group by `dimension`: "+strings.Join(usage.ReportDimensions, ", "))
	fs.String("since", usage.DefaultSince, "from this `time` (30d, 12h, 2026-11-01, RFC 3339; empty = all)")
	fs.String("until", "", "up to this `time`, exclusive (default now)")
	fs.String("top", "0", "show only the first `N` rows: by cost, by time for day (0 = all; for --by query and fingerprint, 0 = the "+
		strconv.Itoa(usage.DefaultQueryTop)+" most expensive)")
	fs.String("format", usage.DefaultFormat, "output `format`: "+strings.Join(usage.Formats, ", "))
	var filters multiFlag
	fs.Var(&filters, "filter", "only queries with `KEY=VALUE` (glob values; repeatable; keys: "+strings.Join(usage.FilterKeys, ", ")+
		"; state and statement_type ignore case)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	req, err := usage.ParseReportRequest(reportParams(fs, filters), time.Now())
	if err != nil {
		return usageError{err.Error()}
	}
	return report(ctx, g, req)
}

// reportParams are the report flags given on the command line as the
// parameters usage.ParseReportRequest reads, the same that /api/v1/report
// takes: flags left out are left out, so that their defaults are the
// parser's.
func reportParams(fs *flag.FlagSet, filters []string) url.Values {
	params := url.Values{}
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "filter", "help", "h":
		default:
			params.Set(f.Name, f.Value.String())
		}
	})
	if len(filters) > 0 {
		params["filter"] = filters
	}
	return params
}

// report runs a parsed report: it opens the database read-only, builds the
// report with the configuration's rules and prices, and writes it to stdout.
func report(ctx context.Context, g *globals, req usage.ReportRequest) error {
	cfg, st, rules, err := g.openRead(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	rep, err := usage.BuildReport(ctx, st, rules, usage.PricesOf(cfg), req.Options())
	if err != nil {
		return err
	}
	if rep.Rederived > 0 {
		g.logger.Info("stored rows were derived under other configuration rules: reporting them as the current configuration derives them "+
			"(a command that writes, such as collect or enrich, stores the new derivation)", "rows", rep.Rederived)
	}
	return rep.Write(g.stdout, req.Format)
}
