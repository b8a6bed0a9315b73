package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/term"

	"github.com/athenawatch/athenawatch/internal/cloudtrail"
	"github.com/athenawatch/athenawatch/internal/config"
	"github.com/athenawatch/athenawatch/internal/enrich"
	"github.com/athenawatch/athenawatch/internal/source"
	_ "github.com/athenawatch/athenawatch/internal/source/dir"          // registers dir:
	_ "github.com/athenawatch/athenawatch/internal/source/lookupevents" // registers lookup-events
	_ "github.com/athenawatch/athenawatch/internal/source/s3"           // registers s3:
	"github.com/athenawatch/athenawatch/internal/store"
	"github.com/athenawatch/athenawatch/internal/usage"
)

// collectOptions are collect's flags, parsed. demo fills them in directly.
type collectOptions struct {
	sources  []string // none: the sources in the configuration
	window   source.Window
	noEnrich bool
	strict   bool
	format   string // text or json
	workers  int    // 0: config collect.workers, else the number of CPUs
	// reachedQuietly prints the table by account and region only when an
	// account was not reached (serve's rounds, every few minutes).
	reachedQuietly bool
}

// errStatsMissing marks a collect under --strict that could not ask Athena
// for statistics for lack of working AWS credentials (exit 1).
var errStatsMissing = errors.New("statistics are missing (--strict)")

func runCollect(ctx context.Context, g *globals, args []string) error {
	opts, err := parseCollect(g, args)
	if err != nil {
		return err
	}
	return execCollect(ctx, g, opts)
}

func parseCollect(g *globals, args []string) (collectOptions, error) {
	fs := newFlagSet(g, "collect", "--source SRC [--source SRC ...] [flags]")
	var sources multiFlag
	fs.Var(&sources, "source", "CloudTrail `source` (repeatable; default: sources in the config): dir:PATH, s3://BUCKET[/PREFIX] or lookup-events[:REGION,...]")
	since := fs.String("since", "", "read only trail files dated from this `time` (7d, 2026-11-01, RFC 3339; default: all)")
	until := fs.String("until", "", "read only trail files dated before this `time` (default: no bound)")
	noEnrich := fs.Bool("no-enrich", false, "do not ask Athena for statistics after collecting")
	strict := fs.Bool("strict", false, "exit 1 when any input was skipped as bad, or statistics could not be asked for (no working AWS credentials)")
	format := fs.String("format", "text", "summary `format` on stdout: text or json")
	workers := fs.Int("workers", 0, "files or objects read in parallel (default: config collect.workers, else one per CPU for dir:, 16 for s3:)")
	if err := parseFlags(fs, args); err != nil {
		return collectOptions{}, err
	}
	opts := collectOptions{sources: sources, noEnrich: *noEnrich, strict: *strict, format: *format, workers: *workers}
	if opts.format != "text" && opts.format != "json" {
		return opts, usagef("--format %q: text or json", opts.format)
	}
	if opts.workers < 0 || opts.workers > config.MaxCollectWorkers {
		return opts, usagef("--workers %d: want 0 (one per CPU) to %d", opts.workers, config.MaxCollectWorkers)
	}
	now := time.Now()
	var err error
	if opts.window.Since, err = usage.ParseTime(*since, now); err != nil {
		return opts, usagef("--since: %v", err)
	}
	if opts.window.Until, err = usage.ParseTime(*until, now); err != nil {
		return opts, usagef("--until: %v", err)
	}
	return opts, nil
}

// execCollect reads the sources into the store and enriches what is new.
func execCollect(ctx context.Context, g *globals, opts collectOptions) error {
	cfg, st, rules, err := g.open(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	res, err := collectInto(ctx, g, cfg, st, rules, opts)
	if err != nil {
		return err
	}
	if opts.strict {
		if res.skipped > 0 {
			return errSkipped
		}
		if res.statsMissing {
			return errStatsMissing
		}
	}
	return nil
}

// collected is what one collectInto did.
type collected struct {
	newQueries   int  // queries stored for the first time
	skipped      int  // bad inputs skipped
	statsMissing bool // no working credentials to ask Athena
}

// collectInto reads the sources into an open store and enriches what is
// new: one collect, as the collect command and each round of serve run it.
func collectInto(ctx context.Context, g *globals, cfg *config.Config, st *store.Store, rules *usage.Rules, opts collectOptions) (collected, error) {
	var res collected
	sources := opts.sources
	if len(sources) == 0 {
		sources = cfg.Sources
	}
	if len(sources) == 0 {
		return res, usagef("no --source given and none in the configuration")
	}
	w := opts.workers
	if w == 0 {
		w = cfg.Collect.Workers
	}
	readerOpts := cloudtrail.ReaderOptions{MaxRecordBytes: cfg.Collect.MaxRecordMB << 20}

	var srcs []source.Source
	progress := &source.Progress{}
	for _, s := range sources {
		src, err := parseSource(s, source.Options{Window: opts.window, Workers: w, Reader: readerOpts, Logger: g.logger,
			Progress: progress, AWS: g.awsConfig, Roles: cfg.Roles()})
		if err != nil {
			return res, err
		}
		srcs = append(srcs, src)
	}

	col := &source.Collector{Store: st, Rules: rules, Logger: g.logger, Progress: progress}
	stopProgress := startProgress(g, progress)
	var summaries []*source.Summary
	var collectErr error
	for _, src := range srcs {
		sum, err := col.Collect(ctx, src)
		if sum != nil {
			summaries = append(summaries, sum)
			res.skipped += sum.SkippedCount()
			res.newQueries += sum.NewQueries
		}
		if err != nil {
			collectErr = err
			break
		}
	}
	stopProgress()
	// What was committed is said even when a source failed.
	for _, sum := range summaries {
		printSummary(g, sum)
	}
	if collectErr != nil {
		sayKept(ctx, g, summaries, false)
		return res, collectErr
	}
	if opts.format == "json" {
		enc := json.NewEncoder(g.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(map[string]any{"sources": summaries, "skipped": res.skipped}); err != nil {
			return res, err
		}
	}
	var outcome enrichOutcome
	if !opts.noEnrich {
		var err error
		outcome, err = enrichBacklog(ctx, g, cfg, st, rules, time.Time{})
		var noAccess *enrich.AccessError
		switch {
		case errors.As(err, &noAccess):
			// What was collected is committed and stays; only the
			// statistics wait for credentials.
			res.statsMissing = true
			fmt.Fprintf(g.stderr, "collect: statistics are missing: %v; %d queries are pending. Run 'athenawatch enrich' once AWS credentials work.\n",
				noAccess.Err, noAccess.Pending)
		case err != nil:
			printAccounts(ctx, g, st, summaries, outcome, opts.reachedQuietly)
			sayKept(ctx, g, summaries, true)
			return res, err
		}
		if err := nameIdentityCenterUsers(ctx, g, cfg, st, rules); err != nil {
			return res, err
		}
	}
	printAccounts(ctx, g, st, summaries, outcome, opts.reachedQuietly)
	return res, nil
}

// printAccounts says on stderr, per account and region, how many query
// events the run found, how many queries of the store still lack
// statistics, and why Athena could not be asked about them, when it could
// not: the view of an organization that tells which accounts and regions
// athenawatch reaches.
func printAccounts(ctx context.Context, g *globals, st *store.Store, summaries []*source.Summary, out enrichOutcome, onlyNotReached bool) {
	type row struct{ found, rejected, pending int }
	rows := map[[2]string]*row{}
	get := func(account, region string) *row {
		k := [2]string{account, region}
		if rows[k] == nil {
			rows[k] = &row{}
		}
		return rows[k]
	}
	for _, sum := range summaries {
		for _, f := range sum.Found {
			r := get(f.Account, f.Region)
			r.found += f.QueryEvents
			r.rejected += f.Rejected
		}
	}
	counts, err := st.PendingCounts(ctx, time.Time{})
	if err != nil {
		g.logger.Warn("could not count pending queries", slog.String("error", err.Error()))
	}
	for _, c := range counts {
		get(c.Account, c.Region).pending = c.Queries
	}
	keys := slices.SortedFunc(maps.Keys(rows), func(a, b [2]string) int {
		return cmp.Or(cmp.Compare(a[0], b[0]), cmp.Compare(a[1], b[1]))
	})
	if len(keys) == 0 {
		return
	}
	notes := map[[2]string]string{}
	for _, k := range keys {
		switch {
		case out.failed[k] != "":
			notes[k] = "not reached: " + out.failed[k]
		case out.unreachable[k[0]] != "" && rows[k].pending > 0:
			notes[k] = "not reached: " + out.unreachable[k[0]]
		}
	}
	if onlyNotReached && len(notes) == 0 {
		return
	}
	fmt.Fprintf(g.stderr, "collect: by account and region (found: query events read now; pending: stored queries without statistics):\n")
	line := func(account, region, found, rejected, pending, note string) {
		l := fmt.Sprintf("  %-14s %-16s %8s %8s %8s  %s", account, region, found, rejected, pending, note)
		fmt.Fprintln(g.stderr, strings.TrimRight(l, " "))
	}
	noteHead := ""
	if len(notes) > 0 {
		noteHead = "NOTE"
	}
	line("ACCOUNT", "REGION", "FOUND", "REJECTED", "PENDING", noteHead)
	for _, k := range keys {
		r := rows[k]
		line(quoteValue(k[0]), quoteValue(k[1]), strconv.Itoa(r.found), strconv.Itoa(r.rejected), strconv.Itoa(r.pending), quoteNote(notes[k]))
	}
}

// quoteNote quotes a note, which holds text from AWS, when it holds
// anything but printable characters and spaces.
func quoteNote(s string) string {
	for _, r := range s {
		if r == utf8.RuneError || r != ' ' && !unicode.IsPrint(r) {
			return strconv.Quote(s)
		}
	}
	return s
}

// sayKept tells, when a signal interrupted collect, what the run committed
// (and so kept) before it stopped, and that running it again continues
// from there: every file is committed with its checkpoint, and queries
// without statistics are asked again by the next collect or enrich.
func sayKept(ctx context.Context, g *globals, summaries []*source.Summary, enriching bool) {
	var intr interruption
	if ctx.Err() == nil || !errors.As(context.Cause(ctx), &intr) {
		return
	}
	var files, queries, rejected int
	for _, s := range summaries {
		files += s.Objects
		queries += s.NewQueries
		rejected += s.NewRejected
	}
	during, stats := "reading the trail", ""
	if enriching {
		during, stats = "asking Athena for statistics", ", and the statistics Athena returned so far"
	}
	fmt.Fprintf(g.stderr, "collect: interrupted by %s while %s. Kept: %d files read and committed, with %d new queries and %d new rejected submissions%s. Run the same command again to continue where it stopped.\n",
		signalName(intr.sig), during, files, queries, rejected, stats)
}

func parseSource(s string, o source.Options) (source.Source, error) {
	src, err := source.Open(s, o)
	if err == nil {
		return src, nil
	}
	var ae *source.AddressError
	if !errors.As(err, &ae) {
		return nil, err
	}
	if errors.Is(err, source.ErrUnknownScheme) {
		for _, later := range []string{"sqs:", "athena-sql:", "system:"} {
			if strings.HasPrefix(s, later) {
				return nil, usagef("--source %q: this source is not available in this version; use s3://BUCKET/PREFIX, lookup-events or dir: with a local copy of the trail", s)
			}
		}
		return nil, usagef("--source %q: unknown source (want dir:PATH, s3://BUCKET/PREFIX or lookup-events[:REGION,...])", s)
	}
	return nil, usagef("--source %q: %v", s, ae.Err)
}

// printSummary says on stderr what one source's collect did. File names and
// reasons come from the input (a name can hold a line break or a terminal
// escape sequence), so they are quoted as the log lines quote values.
func printSummary(g *globals, s *source.Summary) {
	mb := float64(s.Bytes) / 1e6
	src := quoteValue(s.Source)
	noun := "files"
	if !strings.HasPrefix(s.Source, "dir:") {
		noun = "objects"
	}
	ignored := strconv.Itoa(s.Ignored) + " ignored"
	if s.IgnoredPrefixes > 0 {
		ignored += fmt.Sprintf(", %d digest or Insights prefixes not listed", s.IgnoredPrefixes)
	}
	fmt.Fprintf(g.stderr, "collect %s: %d %s read (%d unchanged since the last run, %s), %d records, %.1f MB in %.1fs (%.0f MB/s): %d query events (%d new), %d rejected submissions (%d new)\n",
		src, s.Objects, noun, s.Unchanged, ignored, s.Records, mb, s.Seconds, mb/max(s.Seconds, 1e-9),
		s.QueryEvents, s.NewQueries, s.Rejected, s.NewRejected)
	if n := s.SkippedCount(); n > 0 {
		fmt.Fprintf(g.stderr, "collect %s: skipped %d bad inputs:\n", src, n)
		for _, sk := range s.Skipped {
			if sk.Record >= 0 {
				fmt.Fprintf(g.stderr, "  %s record %d: %s\n", quoteValue(sk.Name), sk.Record, quoteValue(sk.Reason))
			} else {
				fmt.Fprintf(g.stderr, "  %s: %s\n", quoteValue(sk.Name), quoteValue(sk.Reason))
			}
		}
		if s.MoreSkipped > 0 {
			fmt.Fprintf(g.stderr, "  and %d more bad records (see the warnings above)\n", s.MoreSkipped)
		}
	}
}

// quoteValue returns s as slog's text handler writes a value: as it is
// when it holds only printable characters other than blanks, '=' and '"';
// else quoted by strconv.Quote, which escapes control characters, invalid
// UTF-8 and invisible format characters.
func quoteValue(s string) string {
	if s == "" {
		return `""`
	}
	for _, r := range s {
		if r == utf8.RuneError || r == ' ' || r == '=' || r == '"' || unicode.IsSpace(r) || !unicode.IsPrint(r) {
			return strconv.Quote(s)
		}
	}
	return s
}

// startProgress prints a progress line to a terminal every half second; it
// prints nothing when stderr is not a terminal (CI, pipes, tests).
func startProgress(g *globals, p *source.Progress) (stop func()) {
	f, ok := g.stderr.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return func() {}
	}
	done := make(chan struct{})
	finished := make(chan struct{})
	start := time.Now()
	go func() {
		defer close(finished)
		t := time.NewTicker(500 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				fmt.Fprint(f, "\r\033[K")
				return
			case <-t.C:
				secs := time.Since(start).Seconds()
				fmt.Fprintf(f, "\r\033[Kfiles %d/%d  %.0f MB  %.0f records/s  %d query events  %d skipped",
					p.Objects.Load(), p.Total.Load(), float64(p.Bytes.Load())/1e6, float64(p.Records.Load())/secs,
					p.Queries.Load(), p.Skipped.Load())
			}
		}
	}()
	return func() {
		close(done)
		<-finished
	}
}
