package source

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/athenawatch/athenawatch/internal/cloudtrail"
	"github.com/athenawatch/athenawatch/internal/store"
)

// queueSource emits units the way a queue does, and records what the
// collector acknowledges; on an acknowledgement it checks that the units are
// already stored.
type queueSource struct {
	t       *testing.T
	st      *store.Store
	units   int
	fail    bool // every Acknowledge fails
	acked   []string
	ackErrs int
}

func (q *queueSource) Name() string { return "queue:test" }

func (q *queueSource) Run(ctx context.Context, _ Checkpoints, emit func(context.Context, *Unit) error) (RunStats, error) {
	at := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	for i := range q.units {
		u := &Unit{
			Checkpoint: store.Checkpoint{Source: q.Name(), Name: fmt.Sprintf("msg-%03d", i), Status: store.CheckpointDone},
			Events: []*cloudtrail.QueryEvent{{EventID: fmt.Sprintf("e-%03d", i), EventTime: at.Add(time.Duration(i) * time.Minute),
				Region: "us-east-1", RecipientAccount: "111111111111", QueryID: fmt.Sprintf("q-%03d", i)}},
		}
		if err := emit(ctx, u); err != nil {
			return RunStats{}, err
		}
	}
	return RunStats{}, nil
}

func (q *queueSource) Acknowledge(ctx context.Context, committed []store.Checkpoint) error {
	// What is acknowledged is durable: another connection sees it.
	cps, err := q.st.Checkpoints(ctx, q.Name())
	if err != nil {
		q.t.Error(err)
	}
	for _, c := range committed {
		if _, ok := cps[c.Name]; !ok {
			q.t.Errorf("%s acknowledged before it was committed", c.Name)
		}
		q.acked = append(q.acked, c.Name)
	}
	if q.fail {
		q.ackErrs++
		return errors.New("queue unreachable")
	}
	return nil
}

type plainRules struct{}

func (plainRules) NewQuery(ev *cloudtrail.QueryEvent) store.Query {
	return store.Query{Region: ev.Region, QueryID: ev.QueryID, EventID: ev.EventID, EventTime: ev.EventTime, OwnerAccount: ev.RecipientAccount}
}

func (plainRules) NewRejected(ev *cloudtrail.QueryEvent) store.Rejected {
	return store.Rejected{EventID: ev.EventID, EventTime: ev.EventTime, Region: ev.Region, OwnerAccount: ev.RecipientAccount}
}

// TestAcknowledgeAfterCommit: a source that acknowledges upstream hears of
// every unit once, in the order it emitted them, and only after the unit is
// committed, over several transactions; a failing acknowledgement is
// counted, and what was committed stays committed.
func TestAcknowledgeAfterCommit(t *testing.T) {
	t.Parallel()
	for _, fail := range []bool{false, true} {
		t.Run(fmt.Sprintf("fail=%v", fail), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			st, err := store.Open(ctx, filepath.Join(t.TempDir(), "athenawatch.db"))
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			src := &queueSource{t: t, st: st, units: 250, fail: fail}
			// Small batches and transactions: many commits, each acknowledged.
			col := &Collector{Store: st, Rules: plainRules{}, BatchUnits: 7, TxEvents: 30}
			sum, err := col.Collect(ctx, src)
			if err != nil {
				t.Fatal(err)
			}
			var want []string
			for i := range src.units {
				want = append(want, fmt.Sprintf("msg-%03d", i))
			}
			if !slices.Equal(src.acked, want) {
				t.Errorf("acknowledged %d units %v..., want each of %d once, in order", len(src.acked), src.acked[:min(5, len(src.acked))], len(want))
			}
			if sum.NewQueries != src.units {
				t.Errorf("%d new queries, want %d", sum.NewQueries, src.units)
			}
			if sum.AckFailures != src.ackErrs || (fail && sum.AckFailures < 2) || (!fail && sum.AckFailures != 0) {
				t.Errorf("%d acknowledgement failures counted, %d happened", sum.AckFailures, src.ackErrs)
			}
		})
	}
}
