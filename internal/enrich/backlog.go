package enrich

import (
	"context"
	"errors"
	"time"

	"github.com/athenawatch/athenawatch/internal/store"
)

// Backlog is the part of the store enrichment reads and writes.
type Backlog interface {
	PendingQueries(ctx context.Context, afterRegion, afterQueryID string, limit int) ([]store.Query, error)
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
func (e *Enricher) EnrichBacklog(ctx context.Context, b Backlog, d Deriver) (Summary, error) {
	var total Summary
	var errs []error
	var afterRegion, afterID string
	for {
		page, err := b.PendingQueries(ctx, afterRegion, afterID, backlogPage)
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
			ref := Ref{Account: page[i].OwnerAccount, Region: page[i].Region, QueryID: page[i].QueryID}
			byRef[ref] = &page[i]
			refs = append(refs, ref)
		}
		sum, err := e.Enrich(ctx, refs, func(ctx context.Context, results []Result) error {
			now := time.Now().UTC()
			updated := make([]store.Query, 0, len(results))
			for i := range results {
				q, ok := byRef[results[i].Ref]
				if !ok {
					continue
				}
				apply(q, &results[i], now)
				d.Query(q)
				updated = append(updated, *q)
			}
			// The store write must complete even when the run is being
			// cancelled: Athena's answer is already in hand.
			return b.UpdateQueries(context.WithoutCancel(ctx), updated)
		})
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
	return total, errors.Join(errs...)
}

func (s *Summary) add(o Summary) {
	s.Asked += o.Asked
	s.Known += o.Known
	s.NotFound += o.NotFound
	s.Failed += o.Failed
	s.Calls += o.Calls
	s.Throttled += o.Throttled
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
	}
	if r.Final() {
		q.StatsStatus = store.StatusFinal
	} else {
		q.StatsStatus = store.StatusPending
	}
}
