package web

import (
	"sync"
	"time"
)

// Health is what the background collector last did: serve's pages and
// /metrics report it. Its zero value is ready; it is safe for concurrent
// use.
type Health struct {
	mu          sync.Mutex
	lastCollect time.Time
	lastErr     error

	last      Round
	rounds    int64 // rounds ended
	failures  int64 // rounds that ended in an error
	skipped   int64 // bad inputs skipped by all rounds
	collected int64 // queries stored for the first time by all rounds

	calls AthenaCalls
}

// Round is one collect and enrich round of the background collector.
type Round struct {
	Started, Ended time.Time
	Err            error
	NewQueries     int // queries stored for the first time
	Skipped        int // bad inputs skipped (named in the log)
}

// Collected records the end of a collect and enrich round.
func (h *Health) Collected(at time.Time, err error) {
	h.RoundDone(Round{Started: at, Ended: at, Err: err})
}

// RoundDone records the end of a round.
func (h *Health) RoundDone(r Round) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.lastCollect, h.lastErr, h.last = r.Ended, r.Err, r
	h.rounds++
	if r.Err != nil {
		h.failures++
	}
	h.skipped += int64(max(r.Skipped, 0))
	h.collected += int64(max(r.NewQueries, 0))
}

// Last returns when the last round ended and how.
func (h *Health) Last() (time.Time, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.lastCollect, h.lastErr
}

// HealthState is a copy of a Health at one instant.
type HealthState struct {
	Last      Round // zero before the first round ends
	Rounds    int64
	Failures  int64
	Skipped   int64
	Collected int64
	Calls     AthenaCalls
}

// State returns a copy of h.
func (h *Health) State() HealthState {
	h.mu.Lock()
	defer h.mu.Unlock()
	st := HealthState{Last: h.last, Rounds: h.rounds, Failures: h.failures, Skipped: h.skipped, Collected: h.collected, Calls: h.calls}
	st.Calls.Buckets = append([]uint64(nil), h.calls.Buckets...)
	return st
}

// CallBuckets are the upper bounds, in seconds, of the latency histogram of
// Athena calls: a batch of 50 answers in well under a second, a throttled
// or struggling region takes up to the call timeout.
var CallBuckets = []float64{0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}

// AthenaCalls counts the BatchGetQueryExecution calls the rounds made.
type AthenaCalls struct {
	Count     uint64
	Sum       float64  // seconds
	Buckets   []uint64 // calls at or under each bound of CallBuckets (cumulative)
	Throttled uint64
	Failed    uint64
}

// ObserveCall records one Athena call; *Health is the enrich package's
// CallObserver.
func (h *Health) ObserveCall(d time.Duration, throttled, failed bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	c := &h.calls
	if c.Buckets == nil {
		c.Buckets = make([]uint64, len(CallBuckets))
	}
	secs := max(d.Seconds(), 0)
	c.Count++
	c.Sum += secs
	for i, ub := range CallBuckets {
		if secs <= ub {
			c.Buckets[i]++
		}
	}
	if throttled {
		c.Throttled++
	}
	if failed {
		c.Failed++
	}
}
