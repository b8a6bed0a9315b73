package enrich

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"sort"
	"sync"
	"time"

	"github.com/athenawatch/athenawatch/internal/store"
)

// Backlog is the part of the store enrichment reads and writes.
type Backlog interface {
	PendingCounts(ctx context.Context, since time.Time) ([]store.PendingCount, error)
	PendingQueries(ctx context.Context, since time.Time, account, region string, after store.PendingKey, limit int) ([]store.Query, error)
	UpdateQueries(ctx context.Context, qs []store.Query) error
}

// Deriver recomputes a query's derived columns (user from a SQL comment,
// team, billed bytes) once its statistics are known: usage.Rules.
type Deriver interface {
	Query(q *store.Query)
}

// backlogPage is how many pending queries of one account-region are read at
// a time; with the ids already queued it bounds what a run holds in memory.
const backlogPage = 1000

// EnrichBacklog asks Athena about every pending query in b and writes each
// answer back as it arrives: final statistics, no_stats for ids Athena does
// not know, or a new attempt count for queries still queued or running
// (asked again on the next run). Every account-region is read from the
// store a page at a time and asked at its own pace, Options.Concurrency
// account-regions at once; answers are written by one writer, many to a
// transaction. An account-region that fails leaves its queries pending and
// is reported in the returned error; the rest are still enriched.
//
// Only the accounts Access finds reachable are asked: the base credentials'
// own account and those in Options.Accounts. Queries of other accounts stay
// pending, counted in Summary.Unreachable and named in a warning, until the
// configuration gives a way in. When there are no usable credentials, or
// STS cannot say whose they are and the configuration names none of the
// pending queries' accounts, nothing is asked and the error is an
// *AccessError.
//
// Only queries whose CloudTrail event time is at or after since are asked
// (zero since: all).
func (e *Enricher) EnrichBacklog(ctx context.Context, b Backlog, d Deriver, since time.Time) (Summary, error) {
	counts, err := b.PendingCounts(ctx, since)
	if err != nil || len(counts) == 0 {
		return Summary{}, err
	}
	// While STS says whose the credentials are, the first account-regions
	// read their first page.
	accessc := make(chan Access, 1)
	go func() { accessc <- e.Access(ctx) }()
	feedCtx, stopFeeds := context.WithCancel(ctx)
	defer stopFeeds()
	set := &pendingSet{queries: map[Ref]*store.Query{}}
	feeds := make([]*storeFeed, len(counts))
	for i, c := range counts {
		k := groupKey{Account: c.Account, Region: c.Region}
		feeds[i] = &storeFeed{b: b, since: since, key: k, total: c.Queries, set: set}
		if i < e.opts.Concurrency {
			feeds[i].start(feedCtx)
		}
	}
	access := <-accessc
	if ctx.Err() != nil {
		return Summary{}, ctx.Err()
	}

	var sum Summary
	pending := 0
	unreachable := map[string]int{}
	var groups []*groupWork
	for i, c := range counts {
		pending += c.Queries
		if !access.Reachable(c.Account) {
			unreachable[c.Account] += c.Queries
			sum.Unreachable += c.Queries
			continue
		}
		groups = append(groups, &groupWork{key: feeds[i].key, feed: feeds[i]})
	}
	if len(groups) == 0 && access.Err != nil {
		return sum, &AccessError{Pending: pending, Err: access.Err}
	}
	why := e.warnUnreachable(access, unreachable)

	notFinal := 0
	runSum, err := e.run(ctx, groups, func(ctx context.Context, results []Result) error {
		now := time.Now().UTC()
		updated := make([]store.Query, 0, len(results))
		for i := range results {
			q := set.take(results[i].Ref)
			if q == nil {
				continue
			}
			if results[i].Known && !results[i].Unusable && !results[i].Final() {
				notFinal++
			}
			apply(q, &results[i], now)
			d.Query(q)
			updated = append(updated, *q)
		}
		// The store write must complete even when the run is being
		// cancelled: Athena's answer is already in hand.
		return b.UpdateQueries(context.WithoutCancel(ctx), updated)
	})
	runSum.NotFinal = notFinal
	runSum.Unreachable = sum.Unreachable
	e.mu.Lock()
	e.unreachable = why
	e.mu.Unlock()
	return runSum, err
}

// UnreachableAccounts says, for each account whose queries the last
// EnrichBacklog could not ask about, why.
func (e *Enricher) UnreachableAccounts() map[string]string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return maps.Clone(e.unreachable)
}

// warnUnreachable names the accounts whose queries stay pending and why,
// and returns why by account.
func (e *Enricher) warnUnreachable(access Access, unreachable map[string]int) map[string]string {
	accounts := make([]string, 0, len(unreachable))
	for a := range unreachable {
		accounts = append(accounts, a)
	}
	sort.Strings(accounts)
	why := make(map[string]string, len(accounts))
	for _, account := range accounts {
		n := unreachable[account]
		if access.Err != nil {
			why[account] = "cannot tell which account the AWS credentials belong to: " + access.Err.Error()
			e.log.Warn("cannot tell which account the AWS credentials belong to; queries of accounts not listed under accounts: in the configuration stay pending",
				slog.String("account", account), slog.Int("queries", n), slog.String("error", access.Err.Error()))
			continue
		}
		why[account] = fmt.Sprintf("not the credentials' account (%s) and no accounts.%s.role_arn in the configuration", access.Home, account)
		e.log.Warn("queries of an account athenawatch cannot read stay pending: give it accounts.<id>.role_arn in the configuration",
			slog.String("account", account), slog.Int("queries", n), slog.String("credentials_account", access.Home))
	}
	return why
}

// apply copies Athena's answer into the stored query.
func apply(q *store.Query, r *Result, now time.Time) {
	q.AskAttempts++
	q.LastAsked = now
	if !r.Known {
		q.StatsStatus = store.StatusNoStats
		return
	}
	q.Stats = r.Stats
	if r.Final() {
		q.StatsStatus = store.StatusFinal
	} else {
		q.StatsStatus = store.StatusPending
	}
}

// pendingSet holds the stored queries a run has read and not yet written
// back, for the sink to update.
type pendingSet struct {
	mu      sync.Mutex
	queries map[Ref]*store.Query
}

func (s *pendingSet) add(qs []store.Query) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range qs {
		q := &qs[i]
		s.queries[Ref{Account: q.OwnerAccount, Region: q.Region, QueryID: q.QueryID}] = q
	}
}

// take returns and forgets the query of ref; nil when it is not held.
func (s *pendingSet) take(ref Ref) *store.Query {
	s.mu.Lock()
	defer s.mu.Unlock()
	q := s.queries[ref]
	delete(s.queries, ref)
	return q
}

// storeFeed pages through one account-region's pending queries. A
// goroutine reads one page ahead of the coordinator, so that reading the
// store never holds up the calls; the first page is small, so the first
// calls go out early.
type storeFeed struct {
	b     Backlog
	since time.Time
	key   groupKey
	set   *pendingSet
	total int // pending when the run began

	pages    chan []string // closed when the account-region has no more
	err      error         // why pages was closed early; read after it is closed
	returned int           // ids next returned
	done     bool
}

func (f *storeFeed) next(ctx context.Context) ([]string, error) {
	if f.done {
		return nil, nil
	}
	f.start(ctx)
	select {
	case ids, ok := <-f.pages:
		if !ok {
			f.done = true
			return nil, f.err
		}
		f.returned += len(ids)
		return ids, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// start begins reading ahead, once; ctx ends the reading.
func (f *storeFeed) start(ctx context.Context) {
	if f.pages == nil {
		f.pages = make(chan []string, 1)
		go f.read(ctx)
	}
}

// firstPage is the size of the first page read for an account-region:
// enough for the calls that go out before the next page is in.
const firstPage = 200

func (f *storeFeed) read(ctx context.Context) {
	defer close(f.pages)
	var after store.PendingKey
	limit := firstPage
	for {
		page, err := f.b.PendingQueries(ctx, f.since, f.key.Account, f.key.Region, after, limit)
		if err != nil {
			f.err = err
			return
		}
		if len(page) == 0 {
			return
		}
		last := &page[len(page)-1]
		after = store.PendingKey{Time: last.EventTime, QueryID: last.QueryID}
		f.set.add(page)
		ids := make([]string, len(page))
		for i := range page {
			ids[i] = page[i].QueryID
		}
		select {
		case f.pages <- ids:
		case <-ctx.Done():
			return
		}
		if len(page) < limit {
			return
		}
		limit = backlogPage
	}
}

func (f *storeFeed) remaining() int {
	if f.done {
		return 0
	}
	return max(f.total-f.returned, 0)
}
