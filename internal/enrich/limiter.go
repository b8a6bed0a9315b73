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

// slowDown is the factor a throttle multiplies the rate by. Throttles come
// not only from a quota shared with other clients but also from jitter: the
// client's bucket and Athena's run at the same rate, and a call delayed on
// its way lets the next one arrive early. Cutting by 30% (not half) keeps
// that second kind cheap, and still reaches a quota a quarter of the rate
// in four throttles.
const slowDown = 0.7

// adaptiveLimiter paces the calls to one account-region.
//
// It starts with a full bucket of the configured burst, and refills at the
// configured rate from the moment Athena saw our first call. Athena's bucket
// is full until that moment, and ours must not run ahead of it: a bucket
// refilled from when our first call started would count the time that call
// took to reach Athena (a new connection, a TLS handshake, credentials to
// fetch: the longest of any call) as refill Athena never granted, and the
// call that spends it would be throttled. That moment is estimated as the
// middle of the first call's round trip, from the request written to the
// answer read: on the client's side of the middle when the way back is the
// longer one.
//
// A throttle means the rate was above what the account's quota has left:
// the limiter remembers that rate as the ceiling, cuts its rate by slowDown
// (floor minRate), shrinks the burst in proportion and drops the tokens it
// had saved, since spending them at once is what a throttled bucket cannot
// take. Successes then climb back fast (a quarter more per call) to nine
// tenths of the ceiling, where the quota is known to hold, and above it
// only slowly (a two-hundredth of the configured rate per call), probing
// for room that other clients of the account may have freed. So the limiter
// settles just under the real quota and a throttle costs a few slower
// calls, not a train of refused ones.
//
// Calls overlap, so several calls started at the old rate may come back
// throttled after the limiter already slowed down for the first of them.
// Each call therefore carries the epoch (the count of slow-downs) its token
// was granted in, and only answers to calls of the current epoch move the
// rate: one burst of throttles slows down once, and successes of calls
// started before a throttle do not undo it.
type adaptiveLimiter struct {
	mu       sync.Mutex
	lim      *rate.Limiter
	maxRate  float64
	maxBurst int
	cur      float64
	ceiling  float64 // rate of the last throttle; maxRate before any
	epoch    uint64  // slow-downs so far
	started  bool    // a call came back: the bucket refills
	// changed is closed (and replaced) when the bucket starts refilling or
	// slows down, so that calls waiting for a token wait again under the
	// new terms.
	changed chan struct{}
}

// ticket is the epoch a call's token was granted in.
type ticket uint64

// unstarted is the refill rate before the first call came back: none to
// speak of (a rate of zero would make the limiter refuse to wait at all).
const unstarted = rate.Limit(1.0 / 3600)

func newAdaptiveLimiter(r float64, burst int) *adaptiveLimiter {
	return &adaptiveLimiter{
		lim:      rate.NewLimiter(unstarted, burst),
		maxRate:  r,
		maxBurst: burst,
		cur:      r,
		ceiling:  r,
		changed:  make(chan struct{}),
	}
}

// Wait blocks until a call may be made or ctx is done.
func (a *adaptiveLimiter) Wait(ctx context.Context) (ticket, error) {
	for {
		a.mu.Lock()
		epoch, changed := a.epoch, a.changed
		res := a.lim.Reserve()
		a.mu.Unlock()
		d := res.Delay()
		if d == 0 {
			return ticket(epoch), nil
		}
		t := time.NewTimer(d)
		select {
		case <-t.C:
			a.mu.Lock()
			same := a.epoch == epoch
			a.mu.Unlock()
			if same {
				return ticket(epoch), nil
			}
		case <-changed:
			t.Stop()
			res.Cancel()
		case <-ctx.Done():
			t.Stop()
			res.Cancel()
			return 0, ctx.Err()
		}
	}
}

// Started reports whether the bucket refills yet.
func (a *adaptiveLimiter) Started() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.started
}

// Returned is called when a call came back, whatever its outcome, with when
// its request was written (zero if unknown) and when it came back: the
// bucket starts refilling from the middle of that round trip.
func (a *adaptiveLimiter) Returned(written, returned time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.started {
		return
	}
	a.started = true
	from := returned
	if !written.IsZero() && written.Before(returned) {
		from = written.Add(returned.Sub(written) / 2)
	}
	a.lim.SetLimitAt(from, rate.Limit(a.cur))
	a.wake()
}

// Throttled is called when Athena answered a call with a throttle error.
func (a *adaptiveLimiter) Throttled(t ticket) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if uint64(t) != a.epoch {
		return
	}
	a.started = true
	a.epoch++
	a.ceiling = a.cur
	a.cur = math.Max(a.cur*slowDown, minRate)
	// A fresh, empty bucket at the new rate: the tokens saved and the ones
	// promised to waiting calls at the old rate are void.
	a.lim = rate.NewLimiter(rate.Limit(a.cur), a.burst())
	a.lim.AllowN(time.Now(), a.burst())
	a.wake()
}

// wake makes the calls waiting for a token wait again. Must be called with
// a.mu held.
func (a *adaptiveLimiter) wake() {
	close(a.changed)
	a.changed = make(chan struct{})
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
	a.lim.SetLimit(rate.Limit(r))
	a.lim.SetBurst(a.burst())
}

// burst is the bucket size at the current rate: the configured burst in
// proportion, at least 1.
func (a *adaptiveLimiter) burst() int {
	return max(int(math.Round(float64(a.maxBurst)*a.cur/a.maxRate)), 1)
}
