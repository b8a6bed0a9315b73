package awsemu

import (
	"sync"

	"golang.org/x/time/rate"
)

// quota is an API rate quota: a token bucket refilled at perSecond up to burst.
type quota struct {
	perSecond float64
	burst     int
}

// defaultQuotas are Athena's per-account API call quotas. Rates: an AWS
// answer on re:Post citing the "Per account API call quotas" table
// (https://repost.aws/questions/QUkweCqz_eTbSM8V4xf66m7Q): StartQueryExecution
// and StopQueryExecution 20 calls/s, GetQueryExecution and GetQueryResults
// 100 calls/s. The burst sizes and the remaining rates are the values that
// table has carried (BatchGetQueryExecution 20/s burst 40);
// SetQuota overrides any of them. Operations not listed are unlimited.
var defaultQuotas = map[string]quota{
	"StartQueryExecution":    {20, 80},
	"StopQueryExecution":     {20, 80},
	"GetQueryExecution":      {100, 200},
	"GetQueryResults":        {100, 200},
	"BatchGetQueryExecution": {20, 40},
	"ListQueryExecutions":    {5, 10},
	"ListWorkGroups":         {5, 10},
	// CloudTrail: LookupEvents 2 calls/s per account and region
	// (CloudTrail quotas in the AWS General Reference).
	"LookupEvents": {2, 2},
}

// throttle keeps one token bucket per (account, region, operation). Buckets
// run on the real clock, not the emulator clock: API rate limits are about
// how fast a client calls, and a frozen emulator clock must not starve them.
type throttle struct {
	mu      sync.Mutex
	quotas  map[string]quota
	buckets map[bucketKey]*rate.Limiter
	counts  map[string]*callCount
}

type bucketKey struct{ account, region, op string }

type callCount struct{ succeeded, throttled int }

func newThrottle() *throttle {
	t := &throttle{
		quotas:  make(map[string]quota, len(defaultQuotas)),
		buckets: make(map[bucketKey]*rate.Limiter),
		counts:  make(map[string]*callCount),
	}
	for op, q := range defaultQuotas {
		t.quotas[op] = q
	}
	return t
}

func limiterFor(q quota) *rate.Limiter {
	if q.perSecond <= 0 {
		return rate.NewLimiter(rate.Inf, 0)
	}
	return rate.NewLimiter(rate.Limit(q.perSecond), max(q.burst, 1))
}

func (t *throttle) allow(account, region, op string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	k := bucketKey{account, region, op}
	l := t.buckets[k]
	if l == nil {
		q, ok := t.quotas[op]
		if !ok {
			return true
		}
		l = limiterFor(q)
		t.buckets[k] = l
	}
	return l.Allow()
}

func (t *throttle) count(op string, succeeded bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	c := t.counts[op]
	if c == nil {
		c = &callCount{}
		t.counts[op] = c
	}
	if succeeded {
		c.succeeded++
	} else {
		c.throttled++
	}
}

// SetQuota sets the rate quota of an operation (e.g. "BatchGetQueryExecution",
// "AssumeRole") for every account-region bucket, with full buckets; rate <= 0
// means unlimited.
func (e *Emulator) SetQuota(operation string, ratePerSec float64, burst int) {
	e.throttle.set(operation, quota{ratePerSec, burst}, true)
}

// ResetQuota puts an operation's quota back to Athena's default (or to none,
// for an operation without one), with full buckets.
func (e *Emulator) ResetQuota(operation string) {
	q, ok := defaultQuotas[operation]
	e.throttle.set(operation, q, ok)
}

// set gives op the quota q, or none if !limited, and drops op's buckets so
// that the next call starts a full one.
func (t *throttle) set(op string, q quota, limited bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if limited {
		t.quotas[op] = q
	} else {
		delete(t.quotas, op)
	}
	for k := range t.buckets {
		if k.op == op {
			delete(t.buckets, k)
		}
	}
}

// CallCounts reports, over all accounts and regions, how many calls of an
// operation succeeded and how many were refused with a throttling error.
// Calls that failed for other reasons count in neither.
func (e *Emulator) CallCounts(operation string) (succeeded, throttled int) {
	t := e.throttle
	t.mu.Lock()
	defer t.mu.Unlock()
	if c := t.counts[operation]; c != nil {
		return c.succeeded, c.throttled
	}
	return 0, 0
}
