package source

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/athenawatch/athenawatch/internal/cloudtrail"
	"github.com/athenawatch/athenawatch/internal/store"
)

// Committer is the part of the store the collector writes to.
type Committer interface {
	CheckpointsIn(ctx context.Context, source, dir string) (map[string]store.Checkpoint, error)
	Commit(ctx context.Context, b *store.Batch) (store.CommitResult, error)
}

// Deriver turns events into rows with their derived columns (usage.Rules).
type Deriver interface {
	NewQuery(ev *cloudtrail.QueryEvent) store.Query
	NewRejected(ev *cloudtrail.QueryEvent) store.Rejected
}

// Collector commits what sources read.
type Collector struct {
	Store    Committer
	Rules    Deriver
	Logger   *slog.Logger
	Progress *Progress // optional; updated as units arrive

	// A batch is committed when it holds this many units or events, or
	// when FlushEvery passed since its first unit. Zero values take defaults.
	BatchUnits  int
	BatchEvents int
	FlushEvery  time.Duration
}

// Summary is what one collect of one source did.
type Summary struct {
	Source    string        `json:"source"`
	Objects   int           `json:"objects_read"`
	Unchanged int           `json:"objects_unchanged"`
	Ignored   int           `json:"objects_ignored"`
	Skipped   []SkippedItem `json:"skipped"`
	// MoreSkipped counts bad records beyond those listed in Skipped (a
	// reader lists at most 100 per object).
	MoreSkipped int           `json:"more_skipped"`
	Records     int64         `json:"records"`
	Bytes       int64         `json:"bytes"`
	QueryEvents int           `json:"query_events"`
	Rejected    int           `json:"rejected_events"`
	NewQueries  int           `json:"new_queries"`
	NewRejected int           `json:"new_rejected"`
	Duration    time.Duration `json:"-"`
	Seconds     float64       `json:"seconds"`
}

// SkippedCount is how many bad inputs (objects and records) were skipped.
func (s *Summary) SkippedCount() int { return len(s.Skipped) + s.MoreSkipped }

// SkippedItem names bad input that was skipped: a whole object, or one
// record of it (Record >= 0).
type SkippedItem struct {
	Name   string `json:"name"`
	Record int    `json:"record"`
	Reason string `json:"reason"`
}

// Progress counts work as it happens, for a terminal progress line.
type Progress struct {
	Objects, Records, Bytes, Queries, Skipped atomic.Int64
	Total                                     atomic.Int64 // objects to read, when known
}

// Collect runs src to the end and commits what it yields.
func (c *Collector) Collect(ctx context.Context, src Source) (*Summary, error) {
	start := time.Now()
	sum := &Summary{Source: src.Name(), Skipped: []SkippedItem{}}
	done := checkpointLookup{c.Store, src.Name()}
	batchUnits, batchEvents, flushEvery := c.BatchUnits, c.BatchEvents, c.FlushEvery
	if batchUnits <= 0 {
		batchUnits = 512
	}
	if batchEvents <= 0 {
		batchEvents = 20000
	}
	if flushEvery < time.Millisecond {
		flushEvery = time.Second
	}
	logger := c.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}

	units := make(chan *Unit, 64)
	g, gctx := errgroup.WithContext(ctx)
	var rs RunStats
	g.Go(func() error {
		defer close(units)
		var err error
		rs, err = src.Run(gctx, done, func(ctx context.Context, u *Unit) error {
			select {
			case units <- u:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
		return err
	})
	g.Go(func() error {
		var batch store.Batch
		var nUnits int
		var first time.Time
		flush := func() error {
			if nUnits == 0 {
				return nil
			}
			// The commit must not be cut short by a cancelled run: what
			// was read is committed whole or not at all.
			res, err := c.Store.Commit(context.WithoutCancel(gctx), &batch)
			if err != nil {
				return err
			}
			sum.NewQueries += res.NewQueries
			sum.NewRejected += res.NewRejected
			batch = store.Batch{}
			nUnits = 0
			return nil
		}
		ticker := time.NewTicker(flushEvery / 4)
		defer ticker.Stop()
		for {
			select {
			case u, ok := <-units:
				if !ok {
					return flush()
				}
				c.add(sum, &batch, u, logger)
				if nUnits == 0 {
					first = time.Now()
				}
				nUnits++
				if nUnits >= batchUnits || len(batch.Queries)+len(batch.Rejected) >= batchEvents {
					if err := flush(); err != nil {
						return err
					}
				}
			case <-ticker.C:
				if nUnits > 0 && time.Since(first) >= flushEvery {
					if err := flush(); err != nil {
						return err
					}
				}
			}
		}
	})
	err := g.Wait()
	sum.Unchanged += rs.Unchanged
	sum.Ignored += rs.Ignored
	for _, sk := range rs.Skipped {
		sum.Skipped = append(sum.Skipped, sk)
		logger.Warn("skipped input that cannot be listed or followed", slog.String("object", sk.Name), slog.String("error", sk.Reason))
	}
	sum.Duration = time.Since(start)
	sum.Seconds = sum.Duration.Seconds()
	if err != nil {
		return sum, fmt.Errorf("collect %s: %w", src.Name(), err)
	}
	return sum, nil
}

func (c *Collector) add(sum *Summary, batch *store.Batch, u *Unit, logger *slog.Logger) {
	for _, ev := range u.Events {
		if ev.Rejected() {
			batch.Rejected = append(batch.Rejected, c.Rules.NewRejected(ev))
			sum.Rejected++
		} else {
			batch.Queries = append(batch.Queries, c.Rules.NewQuery(ev))
			sum.QueryEvents++
		}
	}
	cp := u.Checkpoint
	cp.Queries = len(u.Events)
	switch {
	case u.Err == nil:
		cp.Status = store.CheckpointDone
		sum.Objects++
	case errors.Is(u.Err, cloudtrail.ErrDigest):
		cp.Status = store.CheckpointIgnored
		cp.Detail = u.Err.Error()
		sum.Ignored++
		logger.Info("ignored: not a trail log file", slog.String("object", cp.Name), slog.String("reason", u.Err.Error()))
	default:
		cp.Status = store.CheckpointBad
		cp.Detail = u.Err.Error()
		sum.Objects++
		sum.Skipped = append(sum.Skipped, SkippedItem{Name: cp.Name, Record: -1, Reason: u.Err.Error()})
		logger.Warn("skipped bad input", slog.String("object", cp.Name), slog.String("error", u.Err.Error()),
			slog.Int("events_kept", len(u.Events)))
	}
	for _, is := range u.Issues {
		sum.Skipped = append(sum.Skipped, SkippedItem{Name: cp.Name, Record: is.Record, Reason: is.Err.Error()})
		logger.Warn("skipped bad record", slog.String("object", cp.Name), slog.Int("record", is.Record), slog.String("error", is.Err.Error()))
	}
	if u.MoreIssues > 0 {
		sum.MoreSkipped += u.MoreIssues
		logger.Warn("skipped more bad records", slog.String("object", cp.Name), slog.Int("records", u.MoreIssues))
	}
	batch.Checkpoints = append(batch.Checkpoints, cp)
	sum.Records += int64(u.Records)
	sum.Bytes += u.Bytes
	if p := c.Progress; p != nil {
		p.Objects.Add(1)
		p.Records.Add(int64(u.Records))
		p.Bytes.Add(u.Bytes)
		p.Queries.Add(int64(len(u.Events)))
		if u.Err != nil && !errors.Is(u.Err, cloudtrail.ErrDigest) {
			p.Skipped.Add(1)
		}
		p.Skipped.Add(int64(len(u.Issues) + u.MoreIssues))
	}
}

// checkpointLookup serves one source's checkpoints from the store.
type checkpointLookup struct {
	store  Committer
	source string
}

func (l checkpointLookup) In(ctx context.Context, dir string) (map[string]store.Checkpoint, error) {
	return l.store.CheckpointsIn(ctx, l.source, dir)
}
