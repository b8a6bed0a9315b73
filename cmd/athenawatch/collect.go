package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/athenawatch/athenawatch/internal/cloudtrail"
	"github.com/athenawatch/athenawatch/internal/enrich"
	"github.com/athenawatch/athenawatch/internal/source"
	"github.com/athenawatch/athenawatch/internal/usage"
)

// errStatsMissing marks a collect under --strict that could not ask Athena
// for statistics for lack of working AWS credentials (exit 1).
var errStatsMissing = errors.New("statistics are missing (--strict)")

func runCollect(ctx context.Context, g *globals, args []string) error {
	fs := newFlagSet(g, "collect", "--source SRC [--source SRC ...] [flags]")
	var sources multiFlag
	fs.Var(&sources, "source", "CloudTrail `source` (repeatable; default: sources in the config): dir:PATH")
	since := fs.String("since", "", "read only trail files dated from this `time` (7d, 2026-11-01, RFC 3339; default: all)")
	until := fs.String("until", "", "read only trail files dated before this `time` (default: no bound)")
	noEnrich := fs.Bool("no-enrich", false, "do not ask Athena for statistics after collecting")
	strict := fs.Bool("strict", false, "exit 1 when any input was skipped as bad, or statistics could not be asked for (no working AWS credentials)")
	format := fs.String("format", "text", "summary `format` on stdout: text or json")
	workers := fs.Int("workers", 0, "files read in parallel (default: config collect.workers, else the number of CPUs)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *format != "text" && *format != "json" {
		return usagef("--format %q: text or json", *format)
	}
	now := time.Now()
	var win source.Window
	var err error
	if win.Since, err = usage.ParseTime(*since, now); err != nil {
		return usagef("--since: %v", err)
	}
	if win.Until, err = usage.ParseTime(*until, now); err != nil {
		return usagef("--until: %v", err)
	}
	cfg, st, rules, err := g.open(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	if len(sources) == 0 {
		sources = cfg.Sources
	}
	if len(sources) == 0 {
		return usagef("no --source given and none in the configuration")
	}
	w := *workers
	if w == 0 {
		w = cfg.Collect.Workers
	}
	readerOpts := cloudtrail.ReaderOptions{MaxRecordBytes: cfg.Collect.MaxRecordMB << 20}

	var srcs []source.Source
	progress := &source.Progress{}
	for _, s := range sources {
		src, err := parseSource(s, win, w, readerOpts, g, progress)
		if err != nil {
			return err
		}
		srcs = append(srcs, src)
	}

	col := &source.Collector{Store: st, Rules: rules, Logger: g.logger, Progress: progress}
	stopProgress := startProgress(g, progress)
	var summaries []*source.Summary
	var collectErr error
	skipped := 0
	for _, src := range srcs {
		sum, err := col.Collect(ctx, src)
		if sum != nil {
			summaries = append(summaries, sum)
			skipped += sum.SkippedCount()
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
		return collectErr
	}
	if *format == "json" {
		enc := json.NewEncoder(g.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(map[string]any{"sources": summaries, "skipped": skipped}); err != nil {
			return err
		}
	}
	statsMissing := false
	if !*noEnrich {
		err := enrichBacklog(ctx, g, cfg, st, rules, time.Time{})
		var noAccess *enrich.AccessError
		switch {
		case errors.As(err, &noAccess):
			// What was collected is committed and stays; only the
			// statistics wait for credentials.
			statsMissing = true
			fmt.Fprintf(g.stderr, "collect: statistics are missing: %v; %d queries are pending. Run 'athenawatch enrich' once AWS credentials work.\n",
				noAccess.Err, noAccess.Pending)
		case err != nil:
			return err
		}
	}
	if *strict {
		if skipped > 0 {
			return errSkipped
		}
		if statsMissing {
			return errStatsMissing
		}
	}
	return nil
}

func parseSource(s string, win source.Window, workers int, ro cloudtrail.ReaderOptions, g *globals, p *source.Progress) (source.Source, error) {
	switch {
	case strings.HasPrefix(s, "dir:"):
		root := strings.TrimPrefix(s, "dir:")
		if root == "" {
			return nil, usagef("--source %q: dir: needs a path", s)
		}
		return &source.Dir{Root: root, Window: win, Workers: workers, Reader: ro, Logger: g.logger, Progress: p}, nil
	case strings.HasPrefix(s, "s3://"), strings.HasPrefix(s, "lookup-events"), strings.HasPrefix(s, "sqs:"), strings.HasPrefix(s, "athena-sql:"):
		return nil, usagef("--source %q: this source is not available in this version; use dir: with a local copy of the trail (aws s3 sync)", s)
	}
	return nil, usagef("--source %q: unknown source (want dir:PATH)", s)
}

func printSummary(g *globals, s *source.Summary) {
	mb := float64(s.Bytes) / 1e6
	fmt.Fprintf(g.stderr, "collect %s: %d files read (%d unchanged since the last run, %d ignored), %d records, %.1f MB in %.1fs (%.0f MB/s): %d query events (%d new), %d rejected submissions (%d new)\n",
		s.Source, s.Objects, s.Unchanged, s.Ignored, s.Records, mb, s.Seconds, mb/max(s.Seconds, 1e-9),
		s.QueryEvents, s.NewQueries, s.Rejected, s.NewRejected)
	if n := s.SkippedCount(); n > 0 {
		fmt.Fprintf(g.stderr, "collect %s: skipped %d bad inputs:\n", s.Source, n)
		for _, sk := range s.Skipped {
			if sk.Record >= 0 {
				fmt.Fprintf(g.stderr, "  %s record %d: %s\n", sk.Name, sk.Record, sk.Reason)
			} else {
				fmt.Fprintf(g.stderr, "  %s: %s\n", sk.Name, sk.Reason)
			}
		}
		if s.MoreSkipped > 0 {
			fmt.Fprintf(g.stderr, "  and %d more bad records (see the warnings above)\n", s.MoreSkipped)
		}
	}
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
