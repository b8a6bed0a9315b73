package enrich

import (
	"context"
	"math"
	"sync"
	"time"

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
//
// Calls overlap, so several calls started at the old rate may come back
// throttled after the limiter already slowed down for the first of them.
// Each call therefore carries the epoch (the count of slow-downs) its token
// was granted in, and only answers to calls of the current epoch move the
// rate: one burst of throttles halves the rate once, and successes of calls
// started before a throttle do not undo it.
type adaptiveLimiter struct {
	mu       sync.Mutex
	lim      *rate.Limiter
	maxRate  float64
	maxBurst int
	cur      float64
	ceiling  float64 // rate of the last throttle; maxRate before any
	epoch    uint64  // slow-downs so far
}

// ticket is the epoch a call's token was granted in.
type ticket uint64

func newAdaptiveLimiter(r float64, burst int) *adaptiveLimiter {
	return &adaptiveLimiter{
		lim:      rate.NewLimiter(rate.Limit(r), burst),
		maxRate:  r,
		maxBurst: burst,
		cur:      r,
		ceiling:  r,
	}
}

// Wait blocks until a call may be made or ctx is done. A token granted at a
// rate the limiter has since slowed down from is not used: the call waits
// again at the new rate.
func (a *adaptiveLimiter) Wait(ctx context.Context) (ticket, error) {
	for {
		a.mu.Lock()
		epoch := a.epoch
		a.mu.Unlock()
		if err := a.lim.Wait(ctx); err != nil {
			return 0, err
		}
		a.mu.Lock()
		same := a.epoch == epoch
		a.mu.Unlock()
		if same {
			return ticket(epoch), nil
		}
	}
}

// Throttled is called when Athena answered a call with a throttle error.
func (a *adaptiveLimiter) Throttled(t ticket) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if uint64(t) != a.epoch {
		return
	}
	a.epoch++
	a.ceiling = a.cur
	a.set(math.Max(a.cur/2, minRate))
	// Drop the saved tokens in one step.
	now := time.Now()
	if n := int(a.lim.TokensAt(now)); n > 0 {
		a.lim.AllowN(now, n)
	}
}

// Succeeded is called when a call went through.
func (a *adaptiveLimiter) Succeeded(t ticket) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if uint64(t) != a.epoch || a.cur >= a.maxRate {
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
