package enrich

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/athenawatch/athenawatch/internal/store"
)

// Backlog is the part of the store enrichment reads and writes.
type Backlog interface {
	PendingQueries(ctx context.Context, since time.Time, afterRegion, afterQueryID string, limit int) ([]store.Query, error)
	UpdateQueries(ctx context.Context, qs []store.Query) error
}

// Deriver recomputes a query's derived columns (user from a SQL comment,
// team, billed bytes) once its statistics are known: usage.Rules.
type Deriver interface {
	Query(q *store.Query)
}

// backlogPage bounds how many pending queries are held in memory at once.
const backlogPage = 5000

// EnrichBacklog asks Athena about every pending query in b, a page at a
// time, and writes each answer back as it arrives: final statistics, no_stats
// for ids Athena does not know, or a new attempt count for queries still
// queued or running (asked again on the next run). An account-region that
// fails leaves its queries pending and is reported in the returned error; the
// rest are still enriched.
//
// reachable says whether an account can be read at all (it is the caller's
// own, or config names a role to assume in it); nil means every account.
// Queries of other accounts are not asked: with the wrong credentials Athena
// would call them unknown, and they would be marked no_stats for good. They
// stay pending, counted in Summary.Unreachable, until the configuration
// gives a way in.
//
// Only queries whose CloudTrail event time is at or after since are asked
// (zero since: all).
func (e *Enricher) EnrichBacklog(ctx context.Context, b Backlog, d Deriver, since time.Time, reachable func(account string) bool) (Summary, error) {
	var total Summary
	unreachable := map[string]int{}
	var errs []error
	var afterRegion, afterID string
	for {
		page, err := b.PendingQueries(ctx, since, afterRegion, afterID, backlogPage)
		if err != nil {
			return total, err
		}
		if len(page) == 0 {
			break
		}
		last := page[len(page)-1]
		afterRegion, afterID = last.Region, last.QueryID

		byRef := make(map[Ref]*store.Query, len(page))
		refs := make([]Ref, 0, len(page))
		for i := range page {
			if reachable != nil && !reachable(page[i].OwnerAccount) {
				unreachable[page[i].OwnerAccount]++
				total.Unreachable++
				continue
			}
			ref := Ref{Account: page[i].OwnerAccount, Region: page[i].Region, QueryID: page[i].QueryID}
			byRef[ref] = &page[i]
			refs = append(refs, ref)
		}
		notFinal := 0
		sum, err := e.Enrich(ctx, refs, func(ctx context.Context, results []Result) error {
			now := time.Now().UTC()
			updated := make([]store.Query, 0, len(results))
			for i := range results {
				q, ok := byRef[results[i].Ref]
				if !ok {
					continue
				}
				if results[i].Known && !results[i].Final() {
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
		sum.NotFinal = notFinal
		total.add(sum)
		if err != nil {
			var ge *GroupError
			if !errors.As(err, &ge) {
				return total, err
			}
			errs = append(errs, err)
		}
		if ctx.Err() != nil {
			return total, ctx.Err()
		}
	}
	for account, n := range unreachable {
		e.log.Warn("queries of an account athenawatch cannot read stay pending: give it accounts.<id>.role_arn in the configuration",
			slog.String("account", account), slog.Int("queries", n))
	}
	return total, errors.Join(errs...)
}

func (s *Summary) add(o Summary) {
	s.Asked += o.Asked
	s.Known += o.Known
	s.NotFound += o.NotFound
	s.Failed += o.Failed
	s.Calls += o.Calls
	s.Throttled += o.Throttled
	s.NotFinal += o.NotFinal
	s.Unreachable += o.Unreachable
}

// apply copies Athena's answer into the stored query.
func apply(q *store.Query, r *Result, now time.Time) {
	q.AskAttempts++
	q.LastAsked = now
	if !r.Known {
		q.StatsStatus = store.StatusNoStats
		return
	}
	q.Stats = store.Stats{
		State:                  r.State,
		StateChangeReason:      r.StateChangeReason,
		StatementType:          r.StatementType,
		SubstatementType:       r.SubstatementType,
		Database:               r.Database,
		Catalog:                r.Catalog,
		Workgroup:              r.WorkGroup,
		QueryText:              r.Query,
		DataScannedBytes:       r.DataScannedBytes,
		EngineMs:               r.EngineExecutionMs,
		TotalMs:                r.TotalExecutionMs,
		QueueMs:                r.QueueMs,
		PlanningMs:             r.PlanningMs,
		ServicePreprocessingMs: r.ServicePreProcessingMs,
		ServiceProcessingMs:    r.ServiceProcessingMs,
		SubmittedAt:            r.SubmittedAt,
		CompletedAt:            r.CompletedAt,
		ReusedResult:           r.ReusedPreviousResult,
		ErrorCategory:          r.ErrorCategory,
		ErrorType:              r.ErrorType,
		ErrorMessage:           r.ErrorMessage,
		OutputLocation:         r.OutputLocation,
		EngineVersion:          r.EngineVersion,
		DPUCount:               r.DPUCount,
	}
	if r.Final() {
		q.StatsStatus = store.StatusFinal
	} else {
		q.StatsStatus = store.StatusPending
	}
}
