package source

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/athenawatch/athenawatch/internal/cloudtrail"
	"github.com/athenawatch/athenawatch/internal/store"
)

// Committer is the part of the store the collector writes to.
type Committer interface {
	CheckpointsIn(ctx context.Context, source, dir string) (map[string]store.Checkpoint, error)
	CursorsIn(ctx context.Context, source, dir string) (map[string]string, error)
	Writer(ctx context.Context) (*store.Writer, error)
}

// Deriver turns events into rows with their derived columns (usage.Rules).
// The collector calls it from several goroutines at once.
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

	// A batch is handed to the store when it holds this many units or
	// events, or when FlushEvery passed since its first unit. Batches go
	// into one transaction until it holds TxEvents events or has been open
	// for TxAge, or no batch is waiting to be written. Zero values take
	// defaults.
	BatchUnits  int
	BatchEvents int
	FlushEvery  time.Duration
	TxEvents    int
	TxAge       time.Duration

	// Committed, when set, is called on the committing goroutine after
	// each transaction commits, with what it inserted: a point where
	// everything read so far that is committed is known to be durable.
	Committed func(store.CommitResult)
}

// Defaults of the Collector's bounds. A batch is what the collector holds
// in memory (at most three: one being written, one waiting, one being
// filled; 4,096 queries take about 5 MB); a transaction is what the store holds, in its
// page cache and write-ahead log. Large transactions matter: the primary
// key index takes every query at a random place, and a commit writes each
// page it changed, so small transactions rewrite most of that index again
// and again.
const (
	DefaultBatchUnits  = 512
	DefaultBatchEvents = 4096
	DefaultFlushEvery  = time.Second
	DefaultTxEvents    = 100000
	DefaultTxAge       = 5 * time.Second
)

// Summary is what one collect of one source did.
type Summary struct {
	Source    string `json:"source"`
	Objects   int    `json:"objects_read"`
	Unchanged int    `json:"objects_unchanged"`
	Ignored   int    `json:"objects_ignored"`
	// IgnoredPrefixes counts prefixes of digests and Insights events that
	// were not listed.
	IgnoredPrefixes int           `json:"prefixes_ignored,omitempty"`
	Skipped         []SkippedItem `json:"skipped"`
	// MoreSkipped counts bad records beyond those listed in Skipped (a
	// reader lists at most 100 per object).
	MoreSkipped int   `json:"more_skipped"`
	Records     int64 `json:"records"`
	Bytes       int64 `json:"bytes"`
	QueryEvents int   `json:"query_events"`
	Rejected    int   `json:"rejected_events"`
	NewQueries  int   `json:"new_queries"`
	NewRejected int   `json:"new_rejected"`
	// AckFailures counts transactions whose units the source could not
	// acknowledge upstream (Acknowledger); their units come again and are
	// left as stored.
	AckFailures int           `json:"ack_failures,omitempty"`
	Duration    time.Duration `json:"-"`
	Seconds     float64       `json:"seconds"`
	// Found counts the query events read, by the account that owns them
	// and region, in account and region order.
	Found []Found `json:"by_account_region"`
	found map[Found]*Found
}

// Found is how many query events of one account and region a collect read.
type Found struct {
	Account     string `json:"account"`
	Region      string `json:"region"`
	QueryEvents int    `json:"query_events"`
	Rejected    int    `json:"rejected_events"`
}

func (s *Summary) count(account, region string, rejected bool) {
	k := Found{Account: account, Region: region}
	f := s.found[k]
	if f == nil {
		if s.found == nil {
			s.found = map[Found]*Found{}
		}
		f = &Found{Account: account, Region: region}
		s.found[k] = f
	}
	if rejected {
		f.Rejected++
	} else {
		f.QueryEvents++
	}
}

// sortFound lists s.found in s.Found.
func (s *Summary) sortFound() {
	s.Found = make([]Found, 0, len(s.found))
	for _, f := range s.found {
		s.Found = append(s.Found, *f)
	}
	sort.Slice(s.Found, func(i, j int) bool {
		a, b := s.Found[i], s.Found[j]
		return a.Account < b.Account || a.Account == b.Account && a.Region < b.Region
	})
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

// rows is a unit turned into rows: done by the source's goroutines, so
// that deriving runs in parallel and the committing goroutine only writes.
type rows struct {
	unit     *Unit // its Events are dropped once turned into rows
	queries  []store.Query
	rejected []store.Rejected
}

// Collect runs src to the end and commits what it yields.
//
// Three stages overlap: the source reads objects (in parallel, as it
// chooses) and each unit is turned into rows on the goroutine that read
// it; one goroutine gathers units into batches; another commits each
// batch in one transaction while the next one fills. A unit's rows and
// checkpoint always go into the same batch.
func (c *Collector) Collect(ctx context.Context, src Source) (*Summary, error) {
	start := time.Now()
	sum := &Summary{Source: src.Name(), Skipped: []SkippedItem{}}
	done := checkpointLookup{c.Store, src.Name()}
	batchUnits, batchEvents, flushEvery := c.BatchUnits, c.BatchEvents, c.FlushEvery
	if batchUnits <= 0 {
		batchUnits = DefaultBatchUnits
	}
	if batchEvents <= 0 {
		batchEvents = DefaultBatchEvents
	}
	if flushEvery < time.Millisecond {
		flushEvery = DefaultFlushEvery
	}
	txEvents, txAge := c.TxEvents, c.TxAge
	if txEvents <= 0 {
		txEvents = DefaultTxEvents
	}
	if txAge <= 0 {
		txAge = DefaultTxAge
	}
	logger := c.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}

	units := make(chan rows, 4)
	// One batch can wait while another is written: the committer keeps
	// its transaction open while batches are waiting, and commits when it
	// would otherwise sit idle with uncommitted rows.
	batches := make(chan *store.Batch, 1)
	// Written batches come back to be filled again, instead of a new one
	// for every batch.
	free := make(chan *store.Batch, 3)
	committerDone := make(chan struct{})
	g, gctx := errgroup.WithContext(ctx)
	var rs RunStats
	g.Go(func() error {
		defer close(units)
		var err error
		rs, err = src.Run(gctx, done, func(ctx context.Context, u *Unit) error {
			r := c.rows(u)
			select {
			case units <- r:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
		return err
	})
	var committed commitCounts
	var ackFailures int
	g.Go(func() error {
		defer close(committerDone)
		// The transaction must not be cut short by a cancelled run: what
		// was read is committed whole or not at all.
		ctx := context.WithoutCancel(gctx)
		var w *store.Writer
		var tx *store.Tx
		var pending commitCounts
		var events int
		var began time.Time
		defer func() {
			if w != nil {
				w.Close() // rolls back a transaction left by an error
			}
		}()
		ack, _ := src.(Acknowledger)
		var toAck []store.Checkpoint // the units of the transaction, for ack
		commit := func() error {
			err := tx.Commit()
			tx = nil
			if err != nil {
				return err
			}
			committed.Queries += pending.Queries
			committed.Rejected += pending.Rejected
			if c.Committed != nil {
				c.Committed(store.CommitResult{NewQueries: pending.Queries, NewRejected: pending.Rejected})
			}
			pending, events = commitCounts{}, 0
			if ack != nil && len(toAck) > 0 {
				if err := ack.Acknowledge(ctx, toAck); err != nil {
					ackFailures++
					logger.Warn("could not acknowledge committed input upstream; it will be delivered again and left as stored",
						slog.String("source", src.Name()), slog.Int("units", len(toAck)), slog.String("error", err.Error()))
				}
				toAck = nil
			}
			return nil
		}
		for b := range batches {
			if w == nil {
				var err error
				if w, err = c.Store.Writer(ctx); err != nil {
					return err
				}
			}
			if tx == nil {
				var err error
				if tx, err = w.Begin(ctx); err != nil {
					return err
				}
				began = time.Now()
			}
			res, err := tx.Add(ctx, b)
			if err != nil {
				return err
			}
			pending.add(res)
			events += len(b.Queries) + len(b.Rejected)
			if ack != nil {
				toAck = append(toAck, b.Checkpoints...)
			}
			b.Reset()
			select {
			case free <- b:
			default:
			}
			if events >= txEvents || time.Since(began) >= txAge || len(batches) == 0 {
				if err := commit(); err != nil {
					return err
				}
			}
		}
		if tx != nil {
			return commit()
		}
		return nil
	})
	g.Go(func() error {
		defer close(batches)
		// What was read before a source failed or the run was cancelled
		// is still committed; only a failed commit stops the batches.
		hand := func(b *store.Batch) bool {
			b.Plan() // here, while the committer writes the batch before
			select {
			case batches <- b:
				return true
			case <-committerDone:
				return false
			}
		}
		next := func() *store.Batch {
			select {
			case b := <-free:
				return b
			default:
				return &store.Batch{}
			}
		}
		batch := next()
		nunits := 0 // in batch
		var first time.Time
		ticker := time.NewTicker(flushEvery / 4)
		defer ticker.Stop()
		for {
			select {
			case r, ok := <-units:
				if !ok {
					if nunits > 0 {
						hand(batch)
					}
					return nil
				}
				if nunits == 0 {
					first = time.Now()
				}
				c.add(sum, batch, r, logger)
				nunits++
				if nunits >= batchUnits || len(batch.Queries)+len(batch.Rejected) >= batchEvents {
					if !hand(batch) {
						return nil
					}
					batch, nunits = next(), 0
				}
			case <-ticker.C:
				if nunits > 0 && time.Since(first) >= flushEvery {
					if !hand(batch) {
						return nil
					}
					batch, nunits = next(), 0
				}
			}
		}
	})
	err := g.Wait()
	sum.NewQueries += committed.Queries
	sum.AckFailures += ackFailures
	sum.NewRejected += committed.Rejected
	sum.Unchanged += rs.Unchanged
	sum.Ignored += rs.Ignored
	sum.IgnoredPrefixes += rs.IgnoredPrefixes
	for _, sk := range rs.Skipped {
		sum.Skipped = append(sum.Skipped, sk)
		logger.Warn("skipped input that cannot be listed or followed", slog.String("object", sk.Name), slog.String("error", sk.Reason))
	}
	sum.sortFound()
	sum.Duration = time.Since(start)
	sum.Seconds = sum.Duration.Seconds()
	if err != nil {
		return sum, fmt.Errorf("collect %s: %w", src.Name(), err)
	}
	return sum, nil
}

// commitCounts adds up what commits inserted.
type commitCounts struct{ Queries, Rejected int }

func (cc *commitCounts) add(res store.CommitResult) {
	cc.Queries += res.NewQueries
	cc.Rejected += res.NewRejected
}

// rows derives the rows of u's events; it runs on the source's goroutines.
func (c *Collector) rows(u *Unit) rows {
	r := rows{unit: u}
	nq := 0
	for _, ev := range u.Events {
		if !ev.Rejected() {
			nq++
		}
	}
	r.queries = make([]store.Query, 0, nq)
	for _, ev := range u.Events {
		if ev.Rejected() {
			r.rejected = append(r.rejected, c.Rules.NewRejected(ev))
		} else {
			r.queries = append(r.queries, c.Rules.NewQuery(ev))
		}
	}
	u.Events = nil
	return r
}

func (c *Collector) add(sum *Summary, batch *store.Batch, r rows, logger *slog.Logger) {
	u := r.unit
	batch.Queries = append(batch.Queries, r.queries...)
	batch.Rejected = append(batch.Rejected, r.rejected...)
	sum.QueryEvents += len(r.queries)
	sum.Rejected += len(r.rejected)
	for i := range r.queries {
		sum.count(r.queries[i].OwnerAccount, r.queries[i].Region, false)
	}
	for i := range r.rejected {
		sum.count(r.rejected[i].OwnerAccount, r.rejected[i].Region, true)
	}
	events := len(r.queries) + len(r.rejected)
	for _, cur := range u.Cursors {
		batch.Cursors = append(batch.Cursors, store.Cursor{Source: sum.Source, Key: cur.Key, Value: cur.Value})
	}
	// A unit without an object holds events of an API page, or cursors
	// alone: it has no checkpoint, and its problems are named by the source.
	name := sum.Source
	if u.Checkpoint.Name != "" {
		name = u.Checkpoint.Name
		c.addCheckpoint(sum, batch, u, events, logger)
	}
	c.addIssues(sum, name, u, logger)
	if u.Checkpoint.Name == "" && u.Err != nil {
		sum.Skipped = append(sum.Skipped, SkippedItem{Name: sum.Source, Record: -1, Reason: u.Err.Error()})
		logger.Warn("skipped bad input", slog.String("source", sum.Source), slog.String("error", u.Err.Error()))
	}
	sum.Records += int64(u.Records)
	sum.Bytes += u.Bytes
	if p := c.Progress; p != nil {
		p.Records.Add(int64(u.Records))
		p.Bytes.Add(u.Bytes)
		p.Queries.Add(int64(events))
		p.Skipped.Add(int64(len(u.Issues) + u.MoreIssues))
	}
}

// addCheckpoint records the checkpoint of u's object in batch, as done,
// ignored (digests) or bad.
func (c *Collector) addCheckpoint(sum *Summary, batch *store.Batch, u *Unit, events int, logger *slog.Logger) {
	cp := u.Checkpoint
	cp.Queries = events
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
			slog.Int("events_kept", events))
	}
	batch.Checkpoints = append(batch.Checkpoints, cp)
	if p := c.Progress; p != nil {
		p.Objects.Add(1)
		if cp.Status == store.CheckpointBad {
			p.Skipped.Add(1)
		}
	}
}

// addIssues lists u's bad records in sum, under name.
func (c *Collector) addIssues(sum *Summary, name string, u *Unit, logger *slog.Logger) {
	for _, is := range u.Issues {
		sum.Skipped = append(sum.Skipped, SkippedItem{Name: name, Record: is.Record, Reason: is.Err.Error()})
		logger.Warn("skipped bad record", slog.String("object", name), slog.Int("record", is.Record), slog.String("error", is.Err.Error()))
	}
	if u.MoreIssues > 0 {
		sum.MoreSkipped += u.MoreIssues
		logger.Warn("skipped more bad records", slog.String("object", name), slog.Int("records", u.MoreIssues))
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

func (l checkpointLookup) Cursors(ctx context.Context, dir string) (map[string]string, error) {
	return l.store.CursorsIn(ctx, l.source, dir)
}
