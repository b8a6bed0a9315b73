// Package enrich asks Athena what each query did. CloudTrail says who started
// a query and where (account, region, query execution id); enrich looks the
// id up with BatchGetQueryExecution, in that region with that account's
// credentials, and hands back plain Results: state, statement type, bytes
// scanned, times, query text.
//
// Calls are batched (50 ids a call), paced by a per account-region adaptive
// token bucket that backs off when Athena throttles, retried where retrying
// can help, and delivered to a sink as each batch arrives so the caller can
// commit them as it goes.
package enrich

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/athena"
	"github.com/aws/aws-sdk-go-v2/service/athena/types"
	"golang.org/x/sync/errgroup"

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

// Options configures an Enricher. The zero value is usable.
type Options struct {
	// Roles maps an account id to the ARN of a role to assume for reading
	// that account's queries. Accounts without an entry use the base
	// credentials.
	Roles map[string]string
	// Rate is the starting and highest number of calls per second to one
	// account-region; 0 means 20. Athena's default BatchGetQueryExecution
	// quota is 20 calls/s with a burst of 40, shared by everything in the
	// account, so a lower rate leaves room for other clients.
	Rate float64
	// Burst is the token bucket size; 0 means 40.
	Burst int
	// Concurrency is how many account-regions are asked in parallel; 0
	// means 4. Within one account-region calls are sequential.
	Concurrency int
	// MaxAttempts is how often an id Athena returned as unprocessed for a
	// transient reason is asked in one run before it is reported failed
	// (and left pending for the next run); 0 means 5.
	MaxAttempts int
	// Logger receives warnings about failed account-regions and ids; nil
	// discards them.
	Logger *slog.Logger
}

// Summary counts what one Enrich run did.
type Summary struct {
	Asked     int // distinct refs given to Enrich
	Known     int // results delivered with Known true
	NotFound  int // results delivered with Known false
	Failed    int // refs Athena did not answer this run; ask again next run
	Calls     int // BatchGetQueryExecution calls made, throttled ones included
	Throttled int // calls Athena refused with a throttle error
	// NotFinal counts known queries still QUEUED or RUNNING: asked again
	// on the next run (set by EnrichBacklog).
	NotFinal int
	// Unreachable counts queries of accounts athenawatch has no way into
	// (neither its own account nor one with a role to assume); they stay
	// pending (set by EnrichBacklog).
	Unreachable int
}

// GroupError is the failure of one account-region for one run: Athena
// refused the calls (access denied, network, persistent throttling). The
// account-region's remaining ids are counted in Summary.Failed and stay
// pending; other account-regions are not affected.
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

	// backoffBase and backoffMax shape the delay after a throttle or before
	// re-asking unprocessed ids; tests shorten them.
	backoffBase time.Duration
	backoffMax  time.Duration
}

// New returns an Enricher that builds its clients from cfg (credentials,
// endpoint overrides such as AWS_ENDPOINT_URL, HTTP client); the region of
// each client is the region of the queries it asks about.
func New(cfg aws.Config, opts Options) *Enricher {
	if opts.Rate <= 0 {
		opts.Rate = 20
	}
	if opts.Burst <= 0 {
		opts.Burst = 40
	}
	if opts.Concurrency <= 0 {
		opts.Concurrency = 4
	}
	if opts.MaxAttempts <= 0 {
		opts.MaxAttempts = 5
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Enricher{
		cfg:         cfg,
		opts:        opts,
		log:         log,
		targets:     map[groupKey]*target{},
		roleCreds:   map[string]aws.CredentialsProvider{},
		backoffBase: 100 * time.Millisecond,
		backoffMax:  5 * time.Second,
	}
}

// Enrich asks Athena about every ref and passes the results to sink in
// batches as they arrive. sink is never called concurrently; when it returns
// an error the run stops and Enrich returns that error. Each distinct ref
// gets at most one Result per run; refs without one (see Summary.Failed) are
// to be asked again on a later run.
//
// A failing account-region does not stop the others: its error is returned
// as a *GroupError, joined with the others, after every account-region has
// been tried. A sink error or a cancelled ctx stops the whole run; refs not
// delivered by then are in no Summary count. Whatever the error, every
// result the sink accepted stays valid and the Summary counts them.
func (e *Enricher) Enrich(ctx context.Context, refs []Ref, sink func(ctx context.Context, results []Result) error) (Summary, error) {
	if sink == nil {
		return Summary{}, errors.New("enrich: nil sink")
	}
	groups := groupRefs(refs)
	r := &run{e: e, sink: sink}
	for _, g := range groups {
		r.sum.Asked += len(g.ids) + len(g.invalid)
	}

	eg, egctx := errgroup.WithContext(ctx)
	eg.SetLimit(e.opts.Concurrency)
	for _, g := range groups {
		eg.Go(func() error { return r.group(egctx, g) })
	}
	fatal := eg.Wait()

	r.mu.Lock()
	defer r.mu.Unlock()
	if fatal != nil {
		// A sink (store) error or a cancel ends the whole run: return it
		// alone, so callers cannot take it for one account-region's failure.
		return r.sum, fatal
	}
	return r.sum, errors.Join(r.groupErrs...)
}

// refGroup is the distinct ids of one account-region, in input order.
type refGroup struct {
	key     groupKey
	ids     []string // valid ids, to be asked
	invalid []string // ids Athena would reject, or in no region; NotFound without asking
}

func groupRefs(refs []Ref) []*refGroup {
	var groups []*refGroup
	byKey := map[groupKey]*refGroup{}
	seen := map[Ref]bool{}
	for _, ref := range refs {
		if seen[ref] {
			continue
		}
		seen[ref] = true
		k := groupKey{Account: ref.Account, Region: ref.Region}
		g, ok := byKey[k]
		if !ok {
			g = &refGroup{key: k}
			byKey[k] = g
			groups = append(groups, g)
		}
		// A query stored in an impossible region (by a release that did
		// not check) cannot be asked about anywhere: no endpoint can be
		// built for it, and asking would fail the account-region on
		// every run.
		if validID(ref.QueryID) && cloudtrail.ValidRegion(ref.Region) {
			g.ids = append(g.ids, ref.QueryID)
		} else {
			g.invalid = append(g.invalid, ref.QueryID)
		}
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

// run is the state of one Enrich call.
type run struct {
	e    *Enricher
	sink func(ctx context.Context, results []Result) error

	sinkMu sync.Mutex // serializes sink calls

	mu        sync.Mutex
	sum       Summary
	groupErrs []error
}

// group asks Athena about one account-region's ids. It returns an error only
// when the whole run must stop (sink error, cancelled context); Athena's
// errors are recorded as a GroupError.
func (r *run) group(ctx context.Context, g *refGroup) error {
	k := g.key
	if len(g.invalid) > 0 {
		results := make([]Result, len(g.invalid))
		for i, id := range g.invalid {
			results[i] = Result{Ref: Ref{Account: k.Account, Region: k.Region, QueryID: id}}
		}
		if err := r.deliver(ctx, k, results); err != nil {
			return err
		}
	}
	if len(g.ids) == 0 {
		return nil
	}

	t := r.e.target(k)
	queue := append([]string(nil), g.ids...)
	attempts := map[string]int{} // transient failures so far, per id
	// isolate holds batches cut smaller to find an id Athena rejects; they
	// go before the queue.
	var isolate [][]string
	answeredCalls := 0
	for len(queue) > 0 || len(isolate) > 0 {
		var batch []string
		if n := len(isolate); n > 0 {
			batch, isolate = isolate[n-1], isolate[:n-1]
		} else {
			n := min(MaxBatch, len(queue))
			batch = append([]string(nil), queue[:n]...)
			queue = queue[n:]
		}

		// A batch made only of ids Athena just failed to process gains
		// nothing by being sent at once.
		if retry := minAttempts(batch, attempts); retry > 0 {
			if err := sleep(ctx, r.e.backoff(retry)); err != nil {
				return err
			}
		}

		out, err := r.call(ctx, k, t, batch)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			var invalid *types.InvalidRequestException
			if errors.As(err, &invalid) && (len(batch) > 1 || answeredCalls > 0) {
				// validID keeps out what the API model forbids, so a
				// rejected batch most likely holds an id Athena's own
				// checks refuse: halve the batch until that id is alone.
				// A lone id is only marked unknown once a call of this
				// account-region has gone through, so a rejection of
				// every request (not of one id) never marks ids unknown.
				if len(batch) == 1 {
					r.e.log.Warn("athena rejected query execution id; marking it unknown",
						slog.String("account", k.Account), slog.String("region", k.Region),
						slog.String("query_id", batch[0]), slog.String("error", err.Error()))
					if err := r.deliver(ctx, k, []Result{{Ref: Ref{Account: k.Account, Region: k.Region, QueryID: batch[0]}}}); err != nil {
						return err
					}
					continue
				}
				half := len(batch) / 2
				isolate = append(isolate, batch[half:], batch[:half])
				continue
			}
			failed := len(batch) + len(queue)
			for _, b := range isolate {
				failed += len(b)
			}
			r.failGroup(k, failed, err)
			return nil
		}

		answeredCalls++
		results, retry, failed := r.classify(k, batch, out, attempts)
		queue = append(queue, retry...)
		if failed > 0 {
			r.mu.Lock()
			r.sum.Failed += failed
			r.mu.Unlock()
		}
		if err := r.deliver(ctx, k, results); err != nil {
			return err
		}
	}
	return nil
}

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

// call makes one BatchGetQueryExecution call, paced by the account-region's
// limiter, retrying throttles with exponential backoff and jitter.
func (r *run) call(ctx context.Context, k groupKey, t *target, batch []string) (*athena.BatchGetQueryExecutionOutput, error) {
	for throttles := 0; ; {
		if err := t.limiter.Wait(ctx); err != nil {
			return nil, fmt.Errorf("wait for rate limit: %w", err)
		}
		r.mu.Lock()
		r.sum.Calls++
		r.mu.Unlock()
		out, err := t.client.BatchGetQueryExecution(ctx, &athena.BatchGetQueryExecutionInput{QueryExecutionIds: batch})
		if err == nil {
			t.limiter.Succeeded()
			return out, nil
		}
		if !isThrottle(err) || ctx.Err() != nil {
			return nil, fmt.Errorf("batch get query execution (%d ids): %w", len(batch), err)
		}
		r.mu.Lock()
		r.sum.Throttled++
		r.mu.Unlock()
		t.limiter.Throttled()
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
// ids that failed for this run.
func (r *run) classify(k groupKey, batch []string, out *athena.BatchGetQueryExecutionOutput, attempts map[string]int) (results []Result, retry []string, failed int) {
	asked := make(map[string]bool, len(batch))
	for _, id := range batch {
		asked[id] = true
	}
	answered := make(map[string]bool, len(batch))
	ref := func(id string) Ref { return Ref{Account: k.Account, Region: k.Region, QueryID: id} }

	for i := range out.QueryExecutions {
		qe := &out.QueryExecutions[i]
		id := aws.ToString(qe.QueryExecutionId)
		if !asked[id] || answered[id] {
			continue
		}
		answered[id] = true
		results = append(results, resultFrom(ref(id), qe))
	}
	for _, u := range out.UnprocessedQueryExecutionIds {
		id := aws.ToString(u.QueryExecutionId)
		if !asked[id] || answered[id] {
			continue
		}
		code := aws.ToString(u.ErrorCode)
		if notFoundCodes[code] {
			answered[id] = true
			results = append(results, Result{Ref: ref(id)})
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

// deliver hands results to the sink, one call at a time across groups.
func (r *run) deliver(ctx context.Context, k groupKey, results []Result) error {
	if len(results) == 0 {
		return nil
	}
	r.sinkMu.Lock()
	defer r.sinkMu.Unlock()
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := r.sink(ctx, results); err != nil {
		return fmt.Errorf("deliver %d results of account %s region %s: %w", len(results), k.Account, k.Region, err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := range results {
		if results[i].Known {
			r.sum.Known++
		} else {
			r.sum.NotFound++
		}
	}
	return nil
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
