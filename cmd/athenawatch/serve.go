package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/athenawatch/athenawatch/internal/budget"
	"github.com/athenawatch/athenawatch/internal/config"
	"github.com/athenawatch/athenawatch/internal/store"
	"github.com/athenawatch/athenawatch/internal/usage"
	"github.com/athenawatch/athenawatch/internal/web"
)

// HTTP server bounds: a slow or stalled client cannot hold a connection,
// and a request cannot outlive the longest report.
const (
	readHeaderTimeout = 10 * time.Second
	readTimeout       = 30 * time.Second
	writeTimeout      = 2 * time.Minute
	idleTimeout       = 2 * time.Minute
	maxHeaderBytes    = 64 << 10
	// shutdownTimeout bounds how long requests in flight may finish after
	// a signal.
	shutdownTimeout = 10 * time.Second
	// minCollectEvery keeps rounds from hammering the trail and Athena.
	minCollectEvery = 10 * time.Second
)

func runServe(ctx context.Context, g *globals, args []string) error {
	fs := newFlagSet(g, "serve", "[--addr 127.0.0.1:8080] [--collect-every 5m] [--source SRC ...]")
	addr := fs.String("addr", "127.0.0.1:8080", "listen `address`; any address but loopback needs env ATHENAWATCH_TOKEN")
	every := fs.Duration("collect-every", 5*time.Minute, "collect and enrich in the background every `interval` (0: never, serve the database as it is)")
	var sources multiFlag
	fs.Var(&sources, "source", "CloudTrail `source` to collect from (repeatable; default: sources in the config): dir:PATH, s3://BUCKET[/PREFIX] or lookup-events[:REGION,...]")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *every < 0 || (*every > 0 && *every < minCollectEvery) {
		return usagef("--collect-every %v: at least %v, or 0 to collect nothing", *every, minCollectEvery)
	}
	token := os.Getenv("ATHENAWATCH_TOKEN")
	if err := web.CheckBind(*addr, token); err != nil {
		return err
	}
	cfg, st, rules, err := g.open(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	health := &web.Health{}
	srv, err := web.New(web.Options{Store: st, Config: cfg, Rules: rules, Token: token, Logger: g.logger, Health: health})
	if err != nil {
		return err
	}

	roundsCtx, stopRounds := context.WithCancel(ctx)
	defer stopRounds()
	roundsDone := make(chan struct{})
	// firstRound is closed once the first round is done (at once when
	// serve collects nothing): the first export and the first
	// reconciliation follow it, so that they see what it collected.
	firstRound := make(chan struct{})
	go func() {
		defer close(roundsDone)
		c := &collector{g: g, cfg: cfg, st: st, rules: rules, sources: sources, every: *every, health: health, firstRound: firstRound}
		c.run(roundsCtx)
	}()
	exportsDone := make(chan struct{})
	go func() {
		defer close(exportsDone)
		runExports(roundsCtx, g, cfg, st, firstRound)
	}()
	reconcilesDone := make(chan struct{})
	go func() {
		defer close(reconcilesDone)
		runReconciles(roundsCtx, g, cfg, st, firstRound)
	}()
	err = serveHTTP(ctx, g, *addr, srv.Handler(), func(url string) {
		fmt.Fprintf(g.stderr, "serve: dashboard at %s (Ctrl-C to stop)\n", url)
	})
	stopRounds()
	<-roundsDone
	<-exportsDone
	<-reconcilesDone
	if err != nil {
		return err
	}
	fmt.Fprintln(g.stderr, "serve: stopped")
	// Like collect, a signal ends serve with the signal's exit status.
	return ctx.Err()
}

// serveHTTP listens on addr and serves h until ctx ends, then stops
// accepting and lets requests in flight finish (for shutdownTimeout at
// most). listening is told the URL once the socket is bound.
func serveHTTP(ctx context.Context, g *globals, addr string, h http.Handler, listening func(url string)) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			return fmt.Errorf("listen on %s: %w\nAnother program listens there: pick another --addr, such as 127.0.0.1:0 for a free port", addr, err)
		}
		return fmt.Errorf("listen on %s: %w", addr, err)
	}
	hs := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(g.logger.Handler(), slog.LevelWarn),
	}
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()
	url := "http://" + ln.Addr().String() + "/"
	g.logger.Info("serving", "url", url)
	listening(url)
	select {
	case err := <-served:
		return fmt.Errorf("serve HTTP on %s: %w", addr, err)
	case <-ctx.Done():
	}
	shCtx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := hs.Shutdown(shCtx); err != nil {
		g.logger.Warn("requests still in flight at shutdown were cut off", "err", err)
		hs.Close()
	}
	<-served
	return nil
}

// errNoCredentials is a round that could not ask Athena for statistics.
var errNoCredentials = errors.New("statistics are missing: no working AWS credentials")

// collector runs collect and enrich rounds in the background, one at a
// time, every interval, and records each in health.
type collector struct {
	g       *globals
	cfg     *config.Config
	st      *store.Store
	rules   *usage.Rules
	sources []string
	every   time.Duration
	health  *web.Health
	// firstRound, when set, is closed after the first round, or when
	// there will be none.
	firstRound chan struct{}
	once       sync.Once
}

// run does a round at once, then one every c.every, until ctx ends. A
// round is never started while one runs: the next waits for it, and ticks
// missed meanwhile are dropped.
func (c *collector) run(ctx context.Context) {
	sources := c.sources
	if len(sources) == 0 {
		sources = c.cfg.Sources
	}
	switch {
	case c.every == 0:
		c.g.logger.Info("background collection is off (--collect-every 0): serving the database as it is")
		c.firstRoundDone()
		return
	case len(sources) == 0:
		c.g.logger.Info("no sources (no --source and none in the configuration): serving the database as it is, collecting nothing")
		c.firstRoundDone()
		return
	}
	g := *c.g
	g.athenaCalls = c.health
	repeat(ctx, nil, c.every, func(ctx context.Context) { c.round(ctx, &g, sources) })
}

// repeat runs fn once start is closed (at once for a nil start), then
// every interval, until ctx ends. A run is never started while one runs:
// ticks missed meanwhile are dropped.
func repeat(ctx context.Context, start <-chan struct{}, every time.Duration, fn func(context.Context)) {
	if start != nil {
		select {
		case <-ctx.Done():
			return
		case <-start:
		}
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		fn(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// firstRoundDone tells whoever waits on firstRound that it is done, or
// will never come.
func (c *collector) firstRoundDone() {
	c.once.Do(func() {
		if c.firstRound != nil {
			close(c.firstRound)
		}
	})
}

func (c *collector) round(ctx context.Context, g *globals, sources []string) {
	r := web.Round{Started: time.Now()}
	res, err := collectInto(ctx, g, c.cfg, c.st, c.rules, collectOptions{sources: sources, format: "text", reachedQuietly: true})
	r.Ended, r.NewQueries, r.Skipped = time.Now(), res.newQueries, res.skipped
	switch {
	case err != nil && ctx.Err() != nil:
		// Stopping: what the round committed is kept; the next serve or
		// collect goes on from there.
		g.logger.Info("collect round stopped", "new_queries", r.NewQueries)
		return
	case err != nil:
		r.Err = err
		g.logger.Error("collect round failed; the next round tries again", "err", err, "next_in", c.every)
	case res.statsMissing:
		r.Err = errNoCredentials
	default:
		g.logger.Info("collect round done", "new_queries", r.NewQueries, "skipped", r.Skipped, "seconds", r.Ended.Sub(r.Started).Seconds())
	}
	c.health.RoundDone(r)
	c.st.RefreshMemory()
	c.checkBudgets(ctx, g)
	c.firstRoundDone()
}

// checkBudgets records and sends the budget alerts due after a round,
// when a budget names notifiers.
func (c *collector) checkBudgets(ctx context.Context, g *globals) {
	notifies, stops := false, false
	for _, b := range c.cfg.Budgets {
		notifies = notifies || len(b.Notify) > 0
		stops = stops || b.Action == "stop" || b.Action == "block"
	}
	notifies = notifies || len(c.cfg.Digest.Notify) > 0
	if !notifies && !stops || ctx.Err() != nil {
		return
	}
	e := &budget.Evaluator{Src: c.st, Rules: c.rules, Prices: usage.PricesOf(c.cfg)}
	at := time.Now()
	statuses, err := e.Evaluate(ctx, c.cfg.Budgets, at)
	if err == nil && notifies {
		err = sendAlerts(ctx, g, c.cfg, c.st, e, statuses, at)
	}
	if err == nil && stops {
		err = enforceBudgets(ctx, g, c.cfg, c.st, statuses, !c.cfg.BudgetEnforcement)
	}
	if err != nil && ctx.Err() == nil {
		g.logger.Error("budget check failed; the next round tries again", "err", err)
	}
}
