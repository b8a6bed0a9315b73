package enrich

import (
	"context"
	"math"
	"sync"

	"golang.org/x/time/rate"
)

// minRate is the floor of the adaptive limiter: however often Athena
// throttles, one call every two seconds is still made so a run finishes.
const minRate = 0.5

// adaptiveLimiter paces the calls to one account-region.
//
// It starts at the configured rate and burst. A throttle means the rate was
// above what the account's quota has left: the limiter remembers that rate as
// the ceiling, halves its rate (floor minRate), shrinks the burst in
// proportion and drops the tokens it had saved, since spending them at once
// is what a throttled bucket cannot take. Successes then climb back fast
// (a quarter more per call) to nine tenths of the ceiling, where the quota
// is known to hold, and above it only slowly (a two-hundredth of the
// configured rate per call), probing for room that other clients of the
// account may have freed. So the limiter settles just under the real quota
// and a throttle costs a few slower calls, not a train of refused ones.
type adaptiveLimiter struct {
	mu       sync.Mutex
	lim      *rate.Limiter
	maxRate  float64
	maxBurst int
	cur      float64
	ceiling  float64 // rate of the last throttle; maxRate before any
}

func newAdaptiveLimiter(r float64, burst int) *adaptiveLimiter {
	return &adaptiveLimiter{
		lim:      rate.NewLimiter(rate.Limit(r), burst),
		maxRate:  r,
		maxBurst: burst,
		cur:      r,
		ceiling:  r,
	}
}

// Wait blocks until a call may be made or ctx is done.
func (a *adaptiveLimiter) Wait(ctx context.Context) error {
	return a.lim.Wait(ctx)
}

// Throttled is called when Athena answered a call with a throttle error.
func (a *adaptiveLimiter) Throttled() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.ceiling = a.cur
	a.set(math.Max(a.cur/2, minRate))
	// Drop saved tokens: Allow takes one at a time and never borrows, so
	// this ends within burst steps.
	for a.lim.Allow() {
	}
}

// Succeeded is called when a call went through.
func (a *adaptiveLimiter) Succeeded() {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.cur >= a.maxRate {
		return
	}
	next := a.cur + a.maxRate/200
	if safe := 0.9 * a.ceiling; a.cur < safe {
		next = math.Min(a.cur*1.25, safe)
	}
	a.set(math.Min(next, a.maxRate))
}

// Rate returns the current calls per second.
func (a *adaptiveLimiter) Rate() float64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.cur
}

func (a *adaptiveLimiter) set(r float64) {
	a.cur = r
	burst := int(math.Round(float64(a.maxBurst) * r / a.maxRate))
	if burst < 1 {
		burst = 1
	}
	a.lim.SetLimit(rate.Limit(r))
	a.lim.SetBurst(burst)
}
