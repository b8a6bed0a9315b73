// Package enrich asks Athena what each query did. CloudTrail says who started
// a query and where (account, region, query execution id); enrich looks the
// id up with BatchGetQueryExecution, in that region with that account's
// credentials, and hands back Results holding the statistics in the store's
// terms (store.Stats), checked against documented bounds.
//
// Calls are batched (50 ids a call) and overlap within each account-region,
// up to Options.InFlight at a time, so that the account-region's quota and
// not the round trip bounds the speed: an adaptive token bucket per
// account-region starts every call and backs off when Athena throttles.
// Answers are retried where retrying can help and handed to one sink that
// takes them in batches as they arrive, so the caller commits them as it
// goes in few transactions.
package enrich

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/http/httptrace"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/athena"
	"github.com/aws/aws-sdk-go-v2/service/athena/types"
	"golang.org/x/sync/errgroup"
	"golang.org/x/sync/semaphore"

	"github.com/athenawatch/athenawatch/internal/cloudtrail"
)

// MaxBatch is the most ids BatchGetQueryExecution takes in one call
// (QueryExecutionIdList, max 50, in the Athena API model).
const MaxBatch = 50

// maxIDLength is the longest valid query execution id (QueryExecutionId,
// length 1..128, in the Athena API model).
const maxIDLength = 128

// maxConsecutiveThrottles bounds how long one batch waits out throttling
// (about two and a half minutes with the backoff below) before its
// account-region is given up for this run; its ids stay pending for the next.
const maxConsecutiveThrottles = 30

// Defaults and bounds of Options. Values out of bounds are clamped by New,
// with a warning; none can make a limiter spin or a run hang.
const (
	// DefaultRate and DefaultBurst are Athena's default
	// BatchGetQueryExecution quota: 20 calls/s, burst 40, per account and
	// region.
	DefaultRate  = 20.0
	DefaultBurst = 40
	// MaxRate and MaxBurst are far above any Athena quota.
	MaxRate  = 1000.0
	MaxBurst = 1000

	DefaultConcurrency = 16
	MaxConcurrency     = 256

	// MaxInFlight bounds Options.InFlight.
	MaxInFlight = 64
	// hiddenRoundTrip is the round trip the default InFlight hides at the
	// configured rate: calls in flight = rate × round trip.
	hiddenRoundTrip = 500 * time.Millisecond
	minInFlight     = 4

	DefaultMaxAttempts = 5
	MaxMaxAttempts     = 100

	// DefaultTimeout bounds each attempt of an AWS call; an answer of 50
	// query executions takes well under a second.
	DefaultTimeout = 30 * time.Second
	MaxTimeout     = 10 * time.Minute
)

// Options configures an Enricher. The zero value is usable.
type Options struct {
	// Accounts maps each account the configuration names to the ARN of a
	// role to assume for reading that account's queries; an empty ARN means
	// the base credentials. Accounts without an entry are read with the
	// base credentials. EnrichBacklog asks only about these accounts and
	// the base credentials' own account (see Access).
	Accounts map[string]string
	// Rate is the starting and highest number of calls per second to one
	// account-region; 0 means DefaultRate (Athena's default quota, shared
	// by everything in the account, so a lower rate leaves room for other
	// clients). Clamped to [minRate, MaxRate].
	Rate float64
	// Burst is the token bucket size; 0 means DefaultBurst. At most
	// MaxBurst.
	Burst int
	// Concurrency is how many account-regions are asked at once; 0 means
	// DefaultConcurrency. Each account-region has its own quota, so they
	// do not slow each other down. At most MaxConcurrency.
	Concurrency int
	// InFlight is how many calls to one account-region may be in flight at
	// once; 0 means enough to hide a round trip of half a second at Rate
	// (Rate/2, at least 4). The rate limiter still decides when each call
	// starts; overlapping them only keeps the round trip from idling the
	// quota. At most MaxInFlight.
	InFlight int
	// MaxAttempts is how often an id Athena returned as unprocessed for a
	// transient reason is asked in one run before it is reported failed
	// (and left pending for the next run); 0 means DefaultMaxAttempts.
	MaxAttempts int
	// Timeout bounds each attempt of each AWS call (Athena, and STS for
	// assumed roles and the caller's identity); 0 means DefaultTimeout.
	// Connecting takes at most 10 s of it. A timed-out attempt is retried
	// like a dropped connection; an account-region whose calls keep timing
	// out fails for the run with a GroupError.
	Timeout time.Duration
	// Logger receives warnings about failed account-regions, ids and
	// impossible answers; nil discards them.
	Logger *slog.Logger
	// Calls, when set, is told of every BatchGetQueryExecution call
	// (serve's /metrics reports them).
	Calls CallObserver
}

// CallObserver is told how each BatchGetQueryExecution call went: how long
// it took, whether Athena throttled it, whether it failed otherwise. It
// must be safe for concurrent use and return at once.
type CallObserver interface {
	ObserveCall(d time.Duration, throttled, failed bool)
}

// normalize fills in defaults and clamps out-of-range values, saying what it
// changed.
func (o Options) normalize() (Options, []string) {
	var fixes []string
	fix := func(format string, args ...any) { fixes = append(fixes, fmt.Sprintf(format, args...)) }
	switch r := o.Rate; {
	case r == 0:
		o.Rate = DefaultRate
	case math.IsNaN(r) || r < 0:
		fix("rate %v is not a positive number; using %v", r, DefaultRate)
		o.Rate = DefaultRate
	case r < minRate:
		fix("rate %v is below %v calls/s; using %v", r, minRate, minRate)
		o.Rate = minRate
	case r > MaxRate:
		fix("rate %v is above %v calls/s; using %v", r, MaxRate, MaxRate)
		o.Rate = MaxRate
	}
	o.Burst = clampOption("burst", o.Burst, DefaultBurst, MaxBurst, fix)
	o.Concurrency = clampOption("concurrency", o.Concurrency, DefaultConcurrency, MaxConcurrency, fix)
	defaultInFlight := min(max(int(math.Ceil(o.Rate*hiddenRoundTrip.Seconds())), minInFlight), MaxInFlight)
	o.InFlight = clampOption("calls in flight", o.InFlight, defaultInFlight, MaxInFlight, fix)
	o.MaxAttempts = clampOption("max attempts", o.MaxAttempts, DefaultMaxAttempts, MaxMaxAttempts, fix)
	switch t := o.Timeout; {
	case t == 0:
		o.Timeout = DefaultTimeout
	case t < 0:
		fix("timeout %v is negative; using %v", t, DefaultTimeout)
		o.Timeout = DefaultTimeout
	case t > MaxTimeout:
		fix("timeout %v is above %v; using %v", t, MaxTimeout, MaxTimeout)
		o.Timeout = MaxTimeout
	}
	return o, fixes
}

func clampOption(name string, v, def, hi int, fix func(string, ...any)) int {
	switch {
	case v == 0:
		return def
	case v < 0:
		fix("%s %d is negative; using %d", name, v, def)
		return def
	case v > hi:
		fix("%s %d is above %d; using %d", name, v, hi, hi)
		return hi
	}
	return v
}

// Summary counts what one run did.
type Summary struct {
	Asked     int // distinct refs to ask about (EnrichBacklog: pending queries of reachable accounts when the run began)
	Known     int // results delivered with Known true
	NotFound  int // results delivered with Known false
	Failed    int // refs Athena did not answer this run; ask again next run
	Calls     int // BatchGetQueryExecution requests sent, as Athena counts them: throttled ones and the SDK's retries included
	Throttled int // calls Athena refused with a throttle error
	// Clamped counts delivered answers with a value outside its bound that
	// was clamped or repaired (each named in a warning).
	Clamped int
	// Unusable counts delivered answers whose bytes scanned, engine time
	// or DPU count was impossible (each named in a warning); their queries
	// stay pending and are asked again on the next run.
	Unusable int
	// NotFinal counts known queries still QUEUED or RUNNING: asked again
	// on the next run (set by EnrichBacklog).
	NotFinal int
	// Unreachable counts queries of accounts athenawatch has no way into
	// (neither its own account nor one the configuration names, or no
	// usable credentials at all); they stay pending (set by EnrichBacklog).
	Unreachable int
}

// GroupError is the failure of one account-region for one run: Athena
// refused the calls (access denied, network, timeouts, persistent
// throttling). The account-region's remaining ids are counted in
// Summary.Failed and stay pending; other account-regions are not affected.
type GroupError struct {
	Account string
	Region  string
	Failed  int // ids of this account-region left without a result
	Err     error
}

// Error names the account and region and how many queries stay pending.
func (e *GroupError) Error() string {
	return fmt.Sprintf("enrich account %s region %s (%d queries left pending): %v", e.Account, e.Region, e.Failed, e.Err)
}

// Unwrap returns Athena's error, for errors.As on the SDK's error types.
func (e *GroupError) Unwrap() error { return e.Err }

// Sink takes results of a run. It is never called concurrently, and never
// again once it returned an error or the run was cancelled. Results arrive
// in batches of any size; each Ref comes at most once per run.
type Sink func(ctx context.Context, results []Result) error

// Enricher asks Athena about query executions. It keeps one Athena client
// and one rate limiter per account-region for its whole life, so it should
// be created once and reused across runs. It is safe for concurrent use.
type Enricher struct {
	cfg  aws.Config
	opts Options
	log  *slog.Logger

	mu        sync.Mutex
	targets   map[groupKey]*target
	roleCreds map[string]aws.CredentialsProvider
	// unreachable is why, by account, the last EnrichBacklog could not
	// ask about an account's queries.
	unreachable map[string]string

	// backoffBase and backoffMax shape the delay after a throttle or before
	// re-asking unprocessed ids; tests shorten them.
	backoffBase time.Duration
	backoffMax  time.Duration
	// sdkBackoff, when set, replaces the SDK's delay before it retries a
	// dropped connection or a server error; tests shorten it.
	sdkBackoff retry.BackoffDelayer
}

// New returns an Enricher that builds its clients from cfg (credentials,
// endpoint overrides such as AWS_ENDPOINT_URL, HTTP client), with
// Options.Timeout on every attempt of every call; the region of each client
// is the region of the queries it asks about. Options out of range are
// clamped (see the constants) and the change logged as a warning.
func New(cfg aws.Config, opts Options) *Enricher {
	opts, fixes := opts.normalize()
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	for _, f := range fixes {
		log.Warn("enrich option out of range", slog.String("fix", f))
	}
	return &Enricher{
		cfg:         withTimeouts(cfg, opts.Timeout, min(opts.InFlight*opts.Concurrency, 256)),
		opts:        opts,
		log:         log,
		targets:     map[groupKey]*target{},
		roleCreds:   map[string]aws.CredentialsProvider{},
		backoffBase: 100 * time.Millisecond,
		backoffMax:  5 * time.Second,
	}
}

// Options returns the options in effect, defaults filled in and clamped.
func (e *Enricher) Options() Options { return e.opts }

// Enrich asks Athena about every ref and passes the results to sink in
// batches as they arrive. When sink returns an error the run stops and
// Enrich returns that error. Each distinct ref gets at most one Result per
// run; refs without one (see Summary.Failed) are to be asked again on a
// later run.
//
// A failing account-region does not stop the others: its error is returned
// as a *GroupError, joined with the others, after every account-region has
// been tried. A sink error or a cancelled ctx stops the whole run; refs not
// delivered by then are in no Summary count. Whatever the error, every
// result the sink accepted stays valid and the Summary counts them.
func (e *Enricher) Enrich(ctx context.Context, refs []Ref, sink Sink) (Summary, error) {
	if sink == nil {
		return Summary{}, errors.New("enrich: nil sink")
	}
	return e.run(ctx, groupRefs(refs), sink)
}

// feed hands one account-region's ids to its coordinator as it needs them.
type feed interface {
	// next returns more ids, or none when there are no more.
	next(ctx context.Context) ([]string, error)
	// remaining is how many ids next has yet to return (as far as known).
	remaining() int
}

// sliceFeed is a feed of ids already in memory.
type sliceFeed struct{ ids []string }

func (f *sliceFeed) next(context.Context) ([]string, error) {
	ids := f.ids
	f.ids = nil
	return ids, nil
}

func (f *sliceFeed) remaining() int { return len(f.ids) }

// groupWork is one account-region to ask about.
type groupWork struct {
	key  groupKey
	feed feed
}

// groupRefs splits refs into account-regions, dropping repeated refs and
// keeping input order.
func groupRefs(refs []Ref) []*groupWork {
	var groups []*groupWork
	byKey := map[groupKey]*sliceFeed{}
	seen := map[Ref]bool{}
	for _, ref := range refs {
		if seen[ref] {
			continue
		}
		seen[ref] = true
		k := groupKey{Account: ref.Account, Region: ref.Region}
		f, ok := byKey[k]
		if !ok {
			f = &sliceFeed{}
			byKey[k] = f
			groups = append(groups, &groupWork{key: k, feed: f})
		}
		f.ids = append(f.ids, ref.QueryID)
	}
	return groups
}

// validID reports whether Athena could know id. The API model allows 1..128
// characters matching \S+; ids outside that, and ids with whitespace or bad
// UTF-8 (Athena's ids are UUIDs), are never sent: one of them would make
// Athena reject the whole batch of 50 with an InvalidRequestException.
func validID(id string) bool {
	if !utf8.ValidString(id) {
		return false
	}
	if n := utf8.RuneCountInString(id); n < 1 || n > maxIDLength {
		return false
	}
	for _, c := range id {
		if unicode.IsSpace(c) {
			return false
		}
	}
	return true
}

// run is the state of one Enrich or EnrichBacklog call.
type run struct {
	e   *Enricher
	out chan delivery // from the account-regions to the one sink caller
	// room bounds the memory of results waiting for the sink
	// (maxWaitingBytes), so calls go on at the quota's pace while the sink
	// catches up, but a slow sink cannot make a run hold everything.
	room *semaphore.Weighted

	mu        sync.Mutex
	sum       Summary
	groupErrs []error
	stopped   bool // the sink failed or the run was cancelled
}

// maxSinkBatch is about how many results one sink call takes at most: the
// results waiting when the sink is free are handed over together, so the
// store writes them in one transaction.
const maxSinkBatch = 5000

// maxWaitingBytes bounds the results waiting for the sink, counted as
// resultsCost; maxWaitingBatches bounds how many answers they came in.
const (
	maxWaitingBytes   = 64 << 20
	maxWaitingBatches = 4096
)

// delivery is results of one account-region on their way to the sink.
type delivery struct {
	results []Result
	cost    int64
}

// resultsCost estimates the memory results hold (and the stored queries
// kept for them until they are written).
func resultsCost(results []Result) int64 {
	cost := int64(0)
	for i := range results {
		st := &results[i].Stats
		cost += 2048 + 2*int64(len(st.QueryText)) + int64(len(st.StateChangeReason)+len(st.ErrorMessage))
	}
	return min(cost, maxWaitingBytes)
}

// run asks about every group, Options.Concurrency account-regions at a time,
// and hands the results to sink from one goroutine.
func (e *Enricher) run(ctx context.Context, groups []*groupWork, sink Sink) (Summary, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	r := &run{e: e, out: make(chan delivery, maxWaitingBatches), room: semaphore.NewWeighted(maxWaitingBytes)}
	for _, g := range groups {
		r.sum.Asked += g.feed.remaining()
	}

	delivered := make(chan struct{})
	go func() {
		defer close(delivered)
		r.deliverAll(ctx, cancel, sink)
	}()
	var eg errgroup.Group
	eg.SetLimit(e.opts.Concurrency)
	for _, g := range groups {
		eg.Go(func() error {
			err := r.group(ctx, g)
			if err != nil {
				cancel(err)
			}
			return err
		})
	}
	fatal := eg.Wait()
	close(r.out)
	<-delivered

	r.mu.Lock()
	defer r.mu.Unlock()
	if fatal != nil || r.stopped {
		// A sink (store) error or a cancel ends the whole run: return its
		// first cause alone, so callers cannot take it for one
		// account-region's failure.
		if cause := context.Cause(ctx); cause != nil {
			return r.sum, cause
		}
		return r.sum, fatal
	}
	return r.sum, errors.Join(r.groupErrs...)
}

// deliverAll hands what the account-regions send to sink, batching what
// waits, until the run ends. Once the sink failed or the run was cancelled
// it hands over nothing more, draining the rest so no sender blocks.
func (r *run) deliverAll(ctx context.Context, cancel context.CancelCauseFunc, sink Sink) {
	stopped := false
	for d := range r.out {
		if stopped {
			r.room.Release(d.cost)
			continue
		}
		results, cost := d.results, d.cost
	batch:
		for len(results) < maxSinkBatch {
			select {
			case more, ok := <-r.out:
				if !ok {
					break batch
				}
				results = append(results, more.results...)
				cost += more.cost
			default:
				break batch
			}
		}
		if ctx.Err() != nil {
			stopped = true
		} else if err := sink(ctx, results); err != nil {
			stopped = true
			cancel(fmt.Errorf("deliver %d results: %w", len(results), err))
		}
		r.room.Release(cost)
		r.mu.Lock()
		if stopped {
			r.stopped = true
		} else {
			r.countDelivered(results)
		}
		r.mu.Unlock()
	}
}

// countDelivered adds results the sink accepted to the summary. Must be
// called with r.mu held.
func (r *run) countDelivered(results []Result) {
	for i := range results {
		switch {
		case !results[i].Known:
			r.sum.NotFound++
			continue
		case results[i].Unusable:
			r.sum.Unusable++
		}
		r.sum.Known++
		if results[i].Clamped {
			r.sum.Clamped++
		}
	}
}

// deliver sends results towards the sink.
func (r *run) deliver(ctx context.Context, results []Result) error {
	if len(results) == 0 {
		return nil
	}
	cost := resultsCost(results)
	if err := r.room.Acquire(ctx, cost); err != nil {
		return err
	}
	select {
	case r.out <- delivery{results: results, cost: cost}:
		return nil
	case <-ctx.Done():
		r.room.Release(cost)
		return ctx.Err()
	}
}

// callResult is the outcome of one BatchGetQueryExecution call (with its
// throttle retries).
type callResult struct {
	batch []string
	out   *athena.BatchGetQueryExecutionOutput
	err   error
}

// groupRun is the state of one account-region within a run. Only its
// coordinator goroutine (groupRun.run) touches it; calls run in their own
// goroutines, at most Options.InFlight at a time, and send their outcome
// back.
type groupRun struct {
	r    *run
	k    groupKey
	t    *target
	feed feed

	feedDone bool
	queue    []string   // valid ids to ask: fresh ones, then ids to ask again
	isolate  [][]string // batches cut smaller to find an id Athena rejects; asked first
	// parked are lone ids Athena rejected before any call of this
	// account-region went through: unknown if a later call goes through,
	// otherwise the rejection was of every request and they stay pending.
	parked     []string
	lastReject error
	attempts   map[string]int // transient failures so far, per id
	answered   int            // calls Athena answered
	inFlight   int

	failErr error // why the account-region failed for this run
	failed  int   // ids left without a result by that failure
	cancel  context.CancelFunc
}

// group asks Athena about one account-region's ids. It returns an error only
// when the whole run must stop (sink error, cancelled context, unreadable
// backlog); Athena's errors are recorded as a GroupError.
func (r *run) group(ctx context.Context, w *groupWork) error {
	g := &groupRun{r: r, k: w.key, feed: w.feed, attempts: map[string]int{}}
	return g.run(ctx)
}

func (g *groupRun) run(ctx context.Context) error {
	// callCtx ends the account-region's calls when it fails, as well as
	// when the run ends.
	callCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	g.cancel = cancel
	inFlight := g.r.e.opts.InFlight
	done := make(chan callResult, inFlight)

	var fatal error
	for {
		if fatal == nil && g.failErr == nil {
			if err := g.refill(ctx); err != nil {
				fatal = err
				cancel()
			}
		}
		for fatal == nil && g.failErr == nil && g.inFlight < inFlight && !g.paused() {
			batch, ok := g.next()
			if !ok {
				break
			}
			if g.t == nil {
				g.t = g.r.e.target(g.k)
			}
			var delay time.Duration
			if retry := minAttempts(batch, g.attempts); retry > 0 {
				// A batch made only of ids Athena just failed to
				// process gains nothing by being sent at once.
				delay = g.r.e.backoff(retry)
			}
			g.inFlight++
			go func() {
				out, err := g.r.call(callCtx, g.k, g.t, batch, delay)
				done <- callResult{batch: batch, out: out, err: err}
			}()
		}
		if g.inFlight == 0 {
			break
		}
		res := <-done
		g.inFlight--
		if fatal == nil && ctx.Err() != nil {
			fatal = ctx.Err()
		}
		if fatal != nil {
			continue // drain the calls still in flight
		}
		if err := g.handle(ctx, res); err != nil {
			fatal = err
			cancel()
		}
	}
	if fatal != nil {
		return fatal
	}
	if g.failErr == nil && len(g.parked) > 0 {
		// Athena refused every call it was sent, down to single ids: the
		// requests are at fault, not an id.
		g.fail(g.lastReject, 0)
	}
	if g.failErr != nil {
		g.failed += len(g.queue) + len(g.parked) + g.feed.remaining()
		for _, b := range g.isolate {
			g.failed += len(b)
		}
		g.r.failGroup(g.k, g.failed, g.failErr)
	}
	return nil
}

// paused reports whether new calls wait for the ones in flight: a lone id
// was rejected before any call went through, and whether it is the id's
// fault or every request's depends on them.
func (g *groupRun) paused() bool { return g.answered == 0 && len(g.parked) > 0 }

// refillBelow is the queue length under which a coordinator reads more ids:
// enough for every call in flight and the next round.
func (g *groupRun) refillBelow() int { return 2 * g.r.e.opts.InFlight * MaxBatch }

// refill reads ids from the feed until the queue holds enough, delivering
// ids Athena could not know as unknown without asking.
func (g *groupRun) refill(ctx context.Context) error {
	for !g.feedDone && len(g.queue) < g.refillBelow() {
		ids, err := g.feed.next(ctx)
		if err != nil {
			return fmt.Errorf("read pending queries of account %s region %s: %w", g.k.Account, g.k.Region, err)
		}
		if len(ids) == 0 {
			g.feedDone = true
			break
		}
		// A query stored in an impossible region (by a release that did
		// not check) cannot be asked about anywhere: no endpoint can be
		// built for it, and asking would fail the account-region on every
		// run.
		region := cloudtrail.ValidRegion(g.k.Region)
		var invalid []Result
		for _, id := range ids {
			if region && validID(id) {
				g.queue = append(g.queue, id)
			} else {
				invalid = append(invalid, Result{Ref: g.k.ref(id)})
			}
		}
		if err := g.r.deliver(ctx, invalid); err != nil {
			return err
		}
	}
	return nil
}

// next returns the next batch to ask about. A batch smaller than MaxBatch
// goes only when no more ids will come to fill it: the feed is done, and it
// holds an id not asked yet or no call in flight may return ids to ask again.
func (g *groupRun) next() ([]string, bool) {
	if n := len(g.isolate); n > 0 {
		b := g.isolate[n-1]
		g.isolate = g.isolate[:n-1]
		return b, true
	}
	n := min(MaxBatch, len(g.queue))
	if n == 0 {
		return nil, false
	}
	if n < MaxBatch && (!g.feedDone || (g.inFlight > 0 && minAttempts(g.queue, g.attempts) > 0)) {
		return nil, false
	}
	b := append([]string(nil), g.queue[:n]...)
	g.queue = g.queue[n:]
	return b, true
}

// handle takes the outcome of one call.
func (g *groupRun) handle(ctx context.Context, res callResult) error {
	if res.err != nil {
		if g.failErr != nil {
			// Cut short by the account-region's failure.
			g.failed += len(res.batch)
			return nil
		}
		var invalid *types.InvalidRequestException
		if !errors.As(res.err, &invalid) {
			g.fail(res.err, len(res.batch))
			return nil
		}
		// validID keeps out what the API model forbids, so a rejected
		// batch most likely holds an id Athena's own checks refuse: halve
		// the batch until that id is alone. A lone id is only marked
		// unknown once a call of this account-region has gone through,
		// so a rejection of every request (not of one id) never marks
		// ids unknown.
		if len(res.batch) > 1 {
			half := len(res.batch) / 2
			g.isolate = append(g.isolate, res.batch[half:], res.batch[:half])
			return nil
		}
		if g.answered == 0 {
			g.parked = append(g.parked, res.batch[0])
			g.lastReject = res.err
			return nil
		}
		return g.unknown(ctx, res.batch, res.err)
	}

	g.answered++
	if len(g.parked) > 0 {
		parked := g.parked
		g.parked = nil
		if err := g.unknown(ctx, parked, g.lastReject); err != nil {
			return err
		}
	}
	results, retry, failed := g.r.classify(g.k, res.batch, res.out, g.attempts)
	g.queue = append(g.queue, retry...)
	if failed > 0 {
		g.r.mu.Lock()
		g.r.sum.Failed += failed
		g.r.mu.Unlock()
	}
	return g.r.deliver(ctx, results)
}

// unknown delivers ids Athena rejected one by one as unknown.
func (g *groupRun) unknown(ctx context.Context, ids []string, err error) error {
	results := make([]Result, len(ids))
	for i, id := range ids {
		g.r.e.log.Warn("athena rejected query execution id; marking it unknown",
			slog.String("account", g.k.Account), slog.String("region", g.k.Region),
			slog.String("query_id", id), slog.String("error", err.Error()))
		results[i] = Result{Ref: g.k.ref(id)}
	}
	return g.r.deliver(ctx, results)
}

// fail ends the account-region for this run: no new calls, and the calls in
// flight are cancelled.
func (g *groupRun) fail(err error, failed int) {
	g.failErr = err
	g.failed += failed
	g.cancel()
}

func (k groupKey) ref(id string) Ref { return Ref{Account: k.Account, Region: k.Region, QueryID: id} }

// minAttempts returns the fewest transient failures among batch's ids: 0
// when the batch holds an id not yet tried.
func minAttempts(batch []string, attempts map[string]int) int {
	least := -1
	for _, id := range batch {
		if n := attempts[id]; least < 0 || n < least {
			least = n
		}
	}
	return max(least, 0)
}

// call makes one BatchGetQueryExecution call after delay, paced by the
// account-region's limiter, retrying throttles with exponential backoff and
// jitter.
func (r *run) call(ctx context.Context, k groupKey, t *target, batch []string, delay time.Duration) (*athena.BatchGetQueryExecutionOutput, error) {
	if delay > 0 {
		if err := sleep(ctx, delay); err != nil {
			return nil, err
		}
	}
	for throttles := 0; ; {
		tk, err := t.limiter.Wait(ctx)
		if err != nil {
			return nil, fmt.Errorf("wait for rate limit: %w", err)
		}
		callCtx, written := withCallCounter(ctx, r.countCall), (func() time.Time)(nil)
		if !t.limiter.Started() {
			callCtx, written = traceWrite(callCtx)
		}
		start := time.Now()
		out, err := t.client.BatchGetQueryExecution(callCtx, &athena.BatchGetQueryExecutionInput{QueryExecutionIds: batch})
		if obs := r.e.opts.Calls; obs != nil {
			throttled := err != nil && isThrottle(err)
			obs.ObserveCall(time.Since(start), throttled, err != nil && !throttled)
		}
		if written != nil {
			t.limiter.Returned(written(), time.Now())
		}
		if err == nil {
			t.limiter.Succeeded(tk)
			return out, nil
		}
		if !isThrottle(err) || ctx.Err() != nil {
			return nil, fmt.Errorf("batch get query execution (%d ids): %w", len(batch), err)
		}
		r.mu.Lock()
		r.sum.Throttled++
		r.mu.Unlock()
		t.limiter.Throttled(tk)
		throttles++
		if throttles >= maxConsecutiveThrottles {
			return nil, fmt.Errorf("batch get query execution: throttled %d times in a row: %w", throttles, err)
		}
		r.e.log.Debug("athena throttled; backing off",
			slog.String("account", k.Account), slog.String("region", k.Region),
			slog.Float64("rate", t.limiter.Rate()))
		if err := sleep(ctx, r.e.backoff(throttles)); err != nil {
			return nil, err
		}
	}
}

// countCall counts one request sent to Athena.
func (r *run) countCall() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sum.Calls++
}

// traceWrite returns ctx with an HTTP trace that records when a request
// made with it was last written out, and a function that reads that time
// (zero if never), for the limiter to tell when Athena saw a call.
func traceWrite(ctx context.Context) (context.Context, func() time.Time) {
	var mu sync.Mutex
	var written time.Time
	return httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
			WroteRequest: func(httptrace.WroteRequestInfo) {
				mu.Lock()
				defer mu.Unlock()
				written = time.Now()
			},
		}), func() time.Time {
			mu.Lock()
			defer mu.Unlock()
			return written
		}
}

// notFoundCodes are the UnprocessedQueryExecutionId error codes that mean
// Athena does not know the id: it is older than the 45 days of query
// history Athena keeps, or never existed.
//
// The codes are not documented. The Athena API Reference
// (https://docs.aws.amazon.com/athena/latest/APIReference/API_UnprocessedQueryExecutionId.html)
// says only "The error code returned when the query execution failed to
// process, if applicable", a free string of 1..256 characters; the botocore
// model (athena.service-2.json, shape ErrorCode) is no more specific, and the
// public issue threads about it (aws-sdk-pandas #1676, boto3 #3847) quote no
// value. The shape ErrorCode is the one InvalidRequestException
// carries as AthenaErrorCode, and an id Athena does not know is a request
// error of kind INVALID_INPUT (GetQueryExecution answers it with
// InvalidRequestException, "QueryExecution <id> was not found");
// BatchGetQueryExecution reports it per id as ErrorCode INVALID_INPUT. That
// last step is field knowledge of the service, not a documented contract, so
// the mapping lives in this one table and the local emulator follows it.
// The 45 days: Athena API Reference, ListQueryExecutions ("Athena keeps a
// query history for 45 days"), and boto3 #3847.
//
// Every other code (internal failures, throttling of the id's lookup, codes
// added later) is treated as transient: the id is asked again in a later
// batch, at most Options.MaxAttempts times a run, then left pending.
var notFoundCodes = map[string]bool{
	"INVALID_INPUT": true,
}

// classify turns one answer into results, ids to ask again and a count of
// ids that failed for this run. Every answered statistic is checked against
// its bound; what was wrong is logged with the query named.
func (r *run) classify(k groupKey, batch []string, out *athena.BatchGetQueryExecutionOutput, attempts map[string]int) (results []Result, retry []string, failed int) {
	asked := make(map[string]bool, len(batch))
	for _, id := range batch {
		asked[id] = true
	}
	answered := make(map[string]bool, len(batch))
	now := time.Now()

	for i := range out.QueryExecutions {
		qe := &out.QueryExecutions[i]
		id := aws.ToString(qe.QueryExecutionId)
		if !asked[id] || answered[id] {
			continue
		}
		answered[id] = true
		res := Result{Ref: k.ref(id), Known: true, Stats: statsFrom(qe)}
		problems, unusable := checkStats(&res.Stats, now)
		if len(problems) > 0 {
			res.Clamped, res.Unusable = !unusable, unusable
			action := "clamped what was out of bounds"
			if unusable {
				action = "statistics unusable; the query stays pending and is asked again next run"
			}
			r.e.log.Warn("athena answered impossible values for a query; "+action,
				slog.String("account", k.Account), slog.String("region", k.Region),
				slog.String("query_id", id), slog.Any("problems", problems))
		}
		results = append(results, res)
	}
	for _, u := range out.UnprocessedQueryExecutionIds {
		id := aws.ToString(u.QueryExecutionId)
		if !asked[id] || answered[id] {
			continue
		}
		code := aws.ToString(u.ErrorCode)
		if notFoundCodes[code] {
			answered[id] = true
			results = append(results, Result{Ref: k.ref(id)})
		}
	}
	// Transient unprocessed ids, and ids Athena left out of its answer
	// altogether, are asked again.
	for _, id := range batch {
		if answered[id] {
			continue
		}
		attempts[id]++
		if attempts[id] < r.e.opts.MaxAttempts {
			retry = append(retry, id)
			continue
		}
		failed++
		r.e.log.Warn("athena did not process query execution; leaving it for the next run",
			slog.String("account", k.Account), slog.String("region", k.Region),
			slog.String("query_id", id), slog.Int("attempts", attempts[id]),
			slog.String("error_code", unprocessedCode(out, id)))
	}
	return results, retry, failed
}

func unprocessedCode(out *athena.BatchGetQueryExecutionOutput, id string) string {
	for _, u := range out.UnprocessedQueryExecutionIds {
		if aws.ToString(u.QueryExecutionId) == id {
			return aws.ToString(u.ErrorCode)
		}
	}
	return "missing from answer"
}

func (r *run) failGroup(k groupKey, failed int, err error) {
	ge := &GroupError{Account: k.Account, Region: k.Region, Failed: failed, Err: err}
	r.e.log.Warn("athena calls failed; account-region left for the next run",
		slog.String("account", k.Account), slog.String("region", k.Region),
		slog.Int("pending", failed), slog.String("error", err.Error()))
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sum.Failed += failed
	r.groupErrs = append(r.groupErrs, ge)
}

// backoff returns the delay before the n-th retry (n >= 1): exponential from
// backoffBase, capped at backoffMax, with "equal jitter" (half fixed, half
// random) so that parallel clients spread out but never retry at once.
func (e *Enricher) backoff(n int) time.Duration {
	d := e.backoffMax
	if n < 30 {
		d = min(e.backoffBase<<(n-1), e.backoffMax)
	}
	half := d / 2
	return half + rand.N(half+1)
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
