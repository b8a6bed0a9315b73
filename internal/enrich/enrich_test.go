package enrich

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"golang.org/x/time/rate"

	"github.com/athenawatch/athenawatch/internal/store"
)

// collector is a sink that keeps what it is given and checks it is never
// called concurrently.
type collector struct {
	mu      sync.Mutex
	inSink  bool
	calls   int
	results map[Ref]Result
	failAt  int // when > 0, the failAt-th call returns errSink
	// when cancelAt > 0, the cancelAt-th call calls cancel (and succeeds)
	cancelAt int
	cancel   func()
	t        *testing.T
}

var errSink = errors.New("sink: disk full")

func newCollector(t *testing.T) *collector {
	return &collector{t: t, results: map[Ref]Result{}}
}

func (c *collector) sink(_ context.Context, results []Result) error {
	c.mu.Lock()
	if c.inSink {
		c.t.Error("sink called concurrently")
	}
	c.inSink = true
	c.mu.Unlock()
	time.Sleep(time.Millisecond) // widen the window a concurrent call would hit

	c.mu.Lock()
	defer c.mu.Unlock()
	c.inSink = false
	c.calls++
	if c.failAt > 0 && c.calls == c.failAt {
		return errSink
	}
	if c.cancelAt > 0 && c.calls == c.cancelAt {
		c.cancel()
	}
	for _, r := range results {
		if _, dup := c.results[r.Ref]; dup {
			c.t.Errorf("result for %v delivered twice", r.Ref)
		}
		c.results[r.Ref] = r
	}
	return nil
}

// fastEnricher returns an Enricher whose backoff is short enough for tests.
func fastEnricher(f *fakeAWS, opts Options) *Enricher {
	e := New(f.config(), opts)
	e.backoffBase = time.Millisecond
	e.backoffMax = 20 * time.Millisecond
	e.sdkBackoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return time.Millisecond, nil })
	return e
}

var (
	submitted = time.Date(2026, 11, 20, 9, 30, 0, 0, time.UTC)
	completed = submitted.Add(3500 * time.Millisecond)
)

func addQueries(f *fakeAWS, account, region, prefix string, n int) []Ref {
	refs := make([]Ref, n)
	for i := range n {
		id := fmt.Sprintf("%s-%04d", prefix, i)
		f.addQuery(account, region, id, fakeQuery{
			State: "SUCCEEDED", Database: "sales", WorkGroup: "primary",
			Query: "SELECT " + id, Bytes: int64(1000 + i), EngineMs: 3000,
			Submitted: submitted, Completed: completed,
		})
		refs[i] = Ref{Account: account, Region: region, QueryID: id}
	}
	return refs
}

func TestEnrichBatches(t *testing.T) {
	t.Parallel()
	f := newFakeAWS(t)
	refs := addQueries(f, baseAccount, "us-east-1", "q", 120)
	refs = append(refs, refs[:10]...) // duplicates are asked once

	c := newCollector(t)
	sum, err := fastEnricher(f, Options{}).Enrich(context.Background(), refs, c.sink)
	if err != nil {
		t.Fatal(err)
	}
	calls, _ := f.snapshot()
	if len(calls) != 3 {
		t.Errorf("calls = %d, want 3", len(calls))
	}
	for _, call := range calls {
		if len(call.IDs) > MaxBatch {
			t.Errorf("call with %d ids", len(call.IDs))
		}
	}
	want := Summary{Asked: 120, Known: 120, Calls: 3}
	if sum != want {
		t.Errorf("summary = %+v, want %+v", sum, want)
	}
	if len(c.results) != 120 {
		t.Fatalf("results = %d, want 120", len(c.results))
	}

	got := c.results[Ref{Account: baseAccount, Region: "us-east-1", QueryID: "q-0007"}]
	wantResult := Result{
		Ref:   Ref{Account: baseAccount, Region: "us-east-1", QueryID: "q-0007"},
		Known: true,
		Stats: store.Stats{
			State: "SUCCEEDED", StatementType: "DML", SubstatementType: "SELECT",
			Database: "sales", Catalog: "awsdatacatalog", Workgroup: "primary", QueryText: "SELECT q-0007",
			EngineVersion: "Athena engine version 3", DataScannedBytes: 1007, EngineMs: 3000,
			TotalMs: 3150, QueueMs: 100, PlanningMs: 40, ServicePreprocessingMs: 20,
			ServiceProcessingMs: 30, SubmittedAt: submitted, CompletedAt: completed,
			OutputLocation: "s3://results/q-0007.csv",
		},
	}
	if got != wantResult {
		t.Errorf("result\n got %+v\nwant %+v", got, wantResult)
	}
	if !got.Final() {
		t.Error("SUCCEEDED result not final")
	}
}

func TestEnrichFailedQueryFields(t *testing.T) {
	t.Parallel()
	f := newFakeAWS(t)
	f.addQuery(baseAccount, "eu-west-1", "bad", fakeQuery{State: "FAILED", Submitted: submitted, Completed: completed})
	c := newCollector(t)
	if _, err := fastEnricher(f, Options{}).Enrich(context.Background(),
		[]Ref{{Account: baseAccount, Region: "eu-west-1", QueryID: "bad"}}, c.sink); err != nil {
		t.Fatal(err)
	}
	r := c.results[Ref{Account: baseAccount, Region: "eu-west-1", QueryID: "bad"}]
	if st := r.Stats; st.State != "FAILED" || st.ErrorCategory != 2 || st.ErrorType != 1301 || st.ErrorMessage != "TABLE_NOT_FOUND" ||
		!strings.HasPrefix(st.StateChangeReason, "TABLE_NOT_FOUND") {
		t.Errorf("failed query result = %+v", r)
	}
}

func TestEnrichGroupsByAccountAndRegion(t *testing.T) {
	t.Parallel()
	f := newFakeAWS(t)
	const other = "222222222222"
	const role = "arn:aws:iam::222222222222:role/athenawatch-reader"
	f.addRole(role, other)

	var refs []Ref
	for _, acct := range []string{baseAccount, other} {
		for _, region := range []string{"us-east-1", "eu-west-1", "ap-southeast-2"} {
			refs = append(refs, addQueries(f, acct, region, acct+"-"+region, 60)...)
		}
	}
	// The same id in two regions is two queries.
	f.addQuery(baseAccount, "eu-west-1", "shared-id", fakeQuery{State: "RUNNING", Submitted: submitted})
	f.addQuery(baseAccount, "us-east-1", "shared-id", fakeQuery{State: "SUCCEEDED", Submitted: submitted, Completed: completed})
	refs = append(refs,
		Ref{Account: baseAccount, Region: "eu-west-1", QueryID: "shared-id"},
		Ref{Account: baseAccount, Region: "us-east-1", QueryID: "shared-id"})

	c := newCollector(t)
	e := fastEnricher(f, Options{Accounts: map[string]string{other: role}, Concurrency: 3})
	sum, err := e.Enrich(context.Background(), refs, c.sink)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Known != len(refs) || len(c.results) != len(refs) {
		t.Fatalf("known %d, delivered %d, want %d (summary %+v)", sum.Known, len(c.results), len(refs), sum)
	}
	calls, _ := f.snapshot()
	// The fake answers only with the queries of the account and region a
	// call was signed for, so every result being Known proves the routing;
	// check the calls directly too.
	for _, call := range calls {
		for _, id := range call.IDs {
			if id == "shared-id" {
				continue
			}
			if !strings.HasPrefix(id, call.Account+"-"+call.Region+"-") {
				t.Errorf("id %s asked in account %s region %s", id, call.Account, call.Region)
			}
		}
	}
	if got := c.results[Ref{Account: baseAccount, Region: "eu-west-1", QueryID: "shared-id"}]; got.Stats.State != "RUNNING" || got.Final() {
		t.Errorf("eu-west-1 shared-id = %s final=%v, want RUNNING not final", got.Stats.State, got.Final())
	}
	f.mu.Lock()
	assumed := append([]string(nil), f.assumed...)
	f.mu.Unlock()
	if len(assumed) != 1 || assumed[0] != role {
		t.Errorf("assumed roles = %v, want [%s] once for all regions", assumed, role)
	}
}

func TestEnrichUnknownAndInvalidIDs(t *testing.T) {
	t.Parallel()
	f := newFakeAWS(t)
	refs := addQueries(f, baseAccount, "us-east-1", "q", 3)
	invalid := []string{"", strings.Repeat("x", 129), "has space", " ", "bad\xffutf8"}
	for _, id := range append([]string{"expired-1", "never-existed"}, invalid...) {
		refs = append(refs, Ref{Account: baseAccount, Region: "us-east-1", QueryID: id})
	}
	refs = append(refs, Ref{Account: baseAccount, Region: "us-east-1", QueryID: strings.Repeat("y", 128)})
	// Queries stored in an impossible region by a release that did not
	// check: no endpoint can be built for them.
	badRegions := []string{"../../etc", "us-east-1 ", "US-EAST-1", ""}
	for _, region := range badRegions {
		refs = append(refs, Ref{Account: baseAccount, Region: region, QueryID: "q-in-" + region})
	}

	c := newCollector(t)
	sum, err := fastEnricher(f, Options{}).Enrich(context.Background(), refs, c.sink)
	if err != nil {
		t.Fatal(err)
	}
	want := Summary{Asked: len(refs), Known: 3, NotFound: len(refs) - 3, Calls: 1}
	if sum != want {
		t.Errorf("summary = %+v, want %+v", sum, want)
	}
	for _, ref := range refs {
		r, ok := c.results[ref]
		if !ok {
			t.Errorf("no result for %q", ref.QueryID)
			continue
		}
		if wantKnown := strings.HasPrefix(ref.QueryID, "q-") && !strings.HasPrefix(ref.QueryID, "q-in-"); r.Known != wantKnown {
			t.Errorf("%q Known = %v, want %v", ref.QueryID, r.Known, wantKnown)
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, id := range invalid {
		if f.sentIDs[id] {
			t.Errorf("invalid id %q was sent to Athena", id)
		}
	}
	for _, region := range badRegions {
		if f.sentIDs["q-in-"+region] {
			t.Errorf("a query in region %q was sent to Athena", region)
		}
	}
	if !f.sentIDs[strings.Repeat("y", 128)] {
		t.Error("a 128-character id was not sent")
	}
}

func TestEnrichRetriesUnprocessed(t *testing.T) {
	t.Parallel()
	f := newFakeAWS(t)
	refs := addQueries(f, baseAccount, "us-east-1", "q", 70)
	f.transient["q-0003"] = 2   // recovers on the third attempt
	f.transient["q-0060"] = 1   // recovers on the second
	f.transient["q-0010"] = 100 // never recovers

	c := newCollector(t)
	sum, err := fastEnricher(f, Options{MaxAttempts: 3}).Enrich(context.Background(), refs, c.sink)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Known != 69 || sum.Failed != 1 || sum.NotFound != 0 {
		t.Errorf("summary = %+v, want 69 known, 1 failed", sum)
	}
	if _, ok := c.results[Ref{Account: baseAccount, Region: "us-east-1", QueryID: "q-0010"}]; ok {
		t.Error("an id that never processed got a result; it must stay pending")
	}
	for _, id := range []string{"q-0003", "q-0060"} {
		if r := c.results[Ref{Account: baseAccount, Region: "us-east-1", QueryID: id}]; !r.Known {
			t.Errorf("%s not known after retries", id)
		}
	}
	calls, _ := f.snapshot()
	asked := 0
	for _, call := range calls {
		for _, id := range call.IDs {
			if id == "q-0010" {
				asked++
			}
		}
	}
	if asked != 3 {
		t.Errorf("q-0010 asked %d times, want MaxAttempts = 3", asked)
	}
	// Retried ids ride along with fresh ones: 70 ids + 4 retries need 2 calls
	// of 50, then the lone retries.
	if len(calls) > 4 {
		t.Errorf("calls = %d, want at most 4", len(calls))
	}
}

func TestEnrichThrottlingLosesNothing(t *testing.T) {
	t.Parallel()
	f := newFakeAWS(t)
	var refs []Ref
	for _, region := range []string{"us-east-1", "eu-west-1"} {
		refs = append(refs, addQueries(f, baseAccount, region, region, 500)...)
	}
	// Athena's quota is per account: both regions share one bucket here,
	// well below the client's default 20/s burst 40.
	f.bucket = rate.NewLimiter(20, 3)

	c := newCollector(t)
	sum, err := fastEnricher(f, Options{}).Enrich(context.Background(), refs, c.sink)
	if err != nil {
		t.Fatal(err)
	}
	calls, throttled := f.snapshot()
	t.Logf("summary %+v", sum)
	if sum.Known != 1000 || len(c.results) != 1000 {
		t.Errorf("known %d, delivered %d, want 1000", sum.Known, len(c.results))
	}
	if len(calls) != 20 {
		t.Errorf("successful calls = %d, want 20", len(calls))
	}
	if throttled == 0 || sum.Throttled != throttled {
		t.Errorf("throttled: server %d, summary %d; want equal and > 0", throttled, sum.Throttled)
	}
	if sum.Calls != len(calls)+throttled {
		t.Errorf("summary calls %d, want %d successful + %d throttled", sum.Calls, len(calls), throttled)
	}
}

// TestEnrichAnsweredCallSentOnce is the regression test of an answered call
// sent twice: the SDK closed the request body when the answer came, net/http
// then failed its late check of that body, closed the connection under the
// answer and the SDK sent the call again. The fake's HTTP client always makes
// that late check.
func TestEnrichAnsweredCallSentOnce(t *testing.T) {
	t.Parallel()
	f := newFakeAWS(t)
	refs := addQueries(f, baseAccount, "us-east-1", "q", MaxBatch)
	c := newCollector(t)
	sum, err := fastEnricher(f, Options{}).Enrich(context.Background(), refs, c.sink)
	if err != nil {
		t.Fatal(err)
	}
	calls, _ := f.snapshot()
	if want := (Summary{Asked: MaxBatch, Known: MaxBatch, Calls: 1}); sum != want || len(calls) != 1 {
		t.Errorf("summary %+v, %d calls reached Athena; want %+v and 1 call", sum, len(calls), want)
	}
}

// TestEnrichCountsRetriedRequests is the regression test of Summary.Calls
// counting one call where Athena counted several: the SDK retries server
// errors (and dropped connections, timed-out attempts) by itself, and each
// of its requests counts against the quota.
func TestEnrichCountsRetriedRequests(t *testing.T) {
	t.Parallel()
	f := newFakeAWS(t)
	refs := addQueries(f, baseAccount, "us-east-1", "q", 2*MaxBatch)
	f.serverErrors = 2
	c := newCollector(t)
	sum, err := fastEnricher(f, Options{}).Enrich(context.Background(), refs, c.sink)
	if err != nil {
		t.Fatal(err)
	}
	calls, _ := f.snapshot()
	f.mu.Lock()
	errored := f.errored
	f.mu.Unlock()
	if errored != 2 || len(calls) != 2 {
		t.Fatalf("%d server errors and %d answered calls; want 2 and 2", errored, len(calls))
	}
	if want := (Summary{Asked: 2 * MaxBatch, Known: 2 * MaxBatch, Calls: 4}); sum != want {
		t.Errorf("summary %+v, want %+v (2 answered calls + 2 server errors)", sum, want)
	}
}

func TestEnrichGroupErrorDoesNotStopOthers(t *testing.T) {
	t.Parallel()
	f := newFakeAWS(t)
	const other = "333333333333"
	const role = "arn:aws:iam::333333333333:role/reader"
	f.addRole(role, other)
	f.denied[other] = true
	refs := addQueries(f, baseAccount, "us-east-1", "ok", 80)
	refs = append(refs, addQueries(f, other, "eu-west-1", "denied", 80)...)

	c := newCollector(t)
	sum, err := fastEnricher(f, Options{Accounts: map[string]string{other: role}}).Enrich(context.Background(), refs, c.sink)
	var ge *GroupError
	if !errors.As(err, &ge) {
		t.Fatalf("err = %v, want a *GroupError", err)
	}
	if ge.Account != other || ge.Region != "eu-west-1" || ge.Failed != 80 {
		t.Errorf("group error = %+v", ge)
	}
	if !strings.Contains(err.Error(), other) || !strings.Contains(err.Error(), "eu-west-1") {
		t.Errorf("error %q does not name the account and region", err)
	}
	if sum.Known != 80 || sum.Failed != 80 {
		t.Errorf("summary = %+v, want 80 known, 80 failed", sum)
	}
}

func TestEnrichIsolatesRejectedIDs(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		n, poison int // ids, index of the one Athena refuses
		rejectAll bool
		// loneFirst holds Athena's answers until the poison id alone was
		// refused, before any call of the account-region went through.
		loneFirst bool
		wantKnown int
		wantNF    int
		wantErr   bool
	}{
		// One id that Athena's checks refuse is found by halving its batch
		// and marked unknown; the other 59 are answered.
		{name: "one poison id", n: 60, poison: 42, wantKnown: 59, wantNF: 1},
		// The poison id alone is refused while the other half of its batch
		// is still in flight: it is marked unknown once that half is
		// answered.
		{name: "poison id refused before any answer", n: 2, poison: 0, loneFirst: true, wantKnown: 1, wantNF: 1},
		// When Athena refuses every call, no id is marked unknown: the
		// account-region fails for this run and all ids stay pending.
		{name: "every call refused", n: 60, poison: 42, rejectAll: true, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeAWS(t)
			refs := addQueries(f, baseAccount, "us-east-1", "q", tt.n)
			f.poison[refs[tt.poison].QueryID] = true
			f.rejectAll = tt.rejectAll
			if tt.loneFirst {
				f.loneRejected = make(chan struct{})
			}
			c := newCollector(t)
			sum, err := fastEnricher(f, Options{}).Enrich(context.Background(), refs, c.sink)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if sum.Known != tt.wantKnown || sum.NotFound != tt.wantNF {
				t.Errorf("summary = %+v, want %d known, %d not found", sum, tt.wantKnown, tt.wantNF)
			}
			if tt.wantNF == 1 {
				if r, ok := c.results[refs[tt.poison]]; !ok || r.Known {
					t.Errorf("poison id result = %+v, %v; want Known false", r, ok)
				}
			}
			if tt.wantErr && sum.Failed != tt.n {
				t.Errorf("failed = %d, want all %d pending", sum.Failed, tt.n)
			}
		})
	}
}

// TestEnrichSinkErrorStopsRun is the regression test of a sink handed a
// batch after it failed (or after the run was cancelled): a batch already
// waiting for the sink was still delivered. Athena answers far faster than
// the run may go on, so results are always waiting when the sink stops.
func TestEnrichSinkErrorStopsRun(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		cancel  bool // the run is cancelled during the second sink call, which succeeds
		wantErr error
	}{
		{name: "sink error", wantErr: errSink},
		{name: "cancelled", cancel: true, wantErr: context.Canceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeAWS(t)
			var refs []Ref
			for _, region := range []string{"us-east-1", "eu-west-1", "us-west-2", "ap-south-1"} {
				refs = append(refs, addQueries(f, baseAccount, region, region, 1000)...)
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			c := newCollector(t)
			if tt.cancel {
				c.cancelAt, c.cancel = 2, cancel
			} else {
				c.failAt = 2
			}
			// A small burst keeps the calls made before the stop well
			// below the 80 the whole run needs.
			_, err := fastEnricher(f, Options{Burst: 5}).Enrich(ctx, refs, c.sink)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			c.mu.Lock()
			defer c.mu.Unlock()
			if c.calls != 2 {
				t.Errorf("sink called %d times, want 2 (nothing after it failed or the run was cancelled)", c.calls)
			}
			calls, _ := f.snapshot()
			if len(calls) >= 80 {
				t.Errorf("%d calls: the run went on after it stopped", len(calls))
			}
		})
	}
}

func TestEnrichContextCancel(t *testing.T) {
	t.Parallel()
	f := newFakeAWS(t)
	refs := addQueries(f, baseAccount, "us-east-1", "q", 10)
	f.block = true

	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	c := newCollector(t)
	start := time.Now()
	_, err := fastEnricher(f, Options{}).Enrich(ctx, refs, c.sink)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Enrich took %v to notice the cancel", d)
	}
	if c.calls != 0 {
		t.Errorf("sink called %d times after cancel", c.calls)
	}
}

func TestResultFinal(t *testing.T) {
	t.Parallel()
	tests := []struct {
		state string
		want  bool
	}{
		{"QUEUED", false}, {"RUNNING", false}, {"SUCCEEDED", true},
		{"FAILED", true}, {"CANCELLED", true}, {"", false},
	}
	for _, tt := range tests {
		t.Run(tt.state, func(t *testing.T) {
			t.Parallel()
			r := Result{Known: true, Stats: store.Stats{State: tt.state}}
			if got := r.Final(); got != tt.want {
				t.Errorf("Final() = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestValidID(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		id   string
		want bool
	}{
		{"uuid", "0e1c2f4a-7f2b-4e59-9a8d-3c5b2a1f0e9d", true},
		{"one char", "a", true},
		{"128 chars", strings.Repeat("a", 128), true},
		{"128 multibyte chars", strings.Repeat("é", 128), true},
		{"empty", "", false},
		{"129 chars", strings.Repeat("a", 129), false},
		{"blank", "   ", false},
		{"inner space", "a b", false},
		{"newline", "a\n", false},
		{"bad utf8", "\xff", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := validID(tt.id); got != tt.want {
				t.Errorf("validID(%q) = %v, want %v", tt.id, got, tt.want)
			}
		})
	}
}

func TestAdaptiveLimiter(t *testing.T) {
	t.Parallel()
	a := newAdaptiveLimiter(20, 40)
	a.Returned(time.Time{}, time.Now())
	current := func() ticket {
		a.mu.Lock()
		defer a.mu.Unlock()
		return ticket(a.epoch)
	}
	// stale is the ticket of a call started before any throttle, still in
	// flight while the others come back.
	stale := current()
	steps := []struct {
		name      string
		throttled bool
		stale     bool // the answer is to a call started before the last slow-down
		want      float64
	}{
		{"throttle slows down", true, false, 14},
		{"a call started before that throttle is throttled too: no second slow-down", true, true, 14},
		{"nor does its success undo the slow-down", false, true, 14},
		{"again", true, false, 9.8},
		{"success climbs fast towards 0.9 of the last throttled rate", false, false, 12.25},
		{"fast climb stops at 0.9 of the ceiling", false, false, 12.6},
		{"then probes slowly", false, false, 12.7},
		{"throttle", true, false, 8.89},
	}
	for _, s := range steps {
		tk := current()
		if s.stale {
			tk = stale
		}
		if s.throttled {
			a.Throttled(tk)
		} else {
			a.Succeeded(tk)
		}
		if got := a.Rate(); math.Abs(got-s.want) > 1e-9 {
			t.Fatalf("%s: rate = %v, want %v", s.name, got, s.want)
		}
	}
	if a.lim.Tokens() >= 1 {
		t.Errorf("after a throttle %v tokens are left; want the bucket drained", a.lim.Tokens())
	}
	for range 20 {
		a.Throttled(current())
	}
	if got := a.Rate(); got != minRate {
		t.Errorf("after many throttles rate = %v, want the floor %v", got, minRate)
	}
	for range 1000 {
		a.Succeeded(current())
	}
	if got := a.Rate(); got != 20 {
		t.Errorf("after recovery rate = %v, want 20", got)
	}
	if got := a.lim.Burst(); got != 40 {
		t.Errorf("after recovery burst = %v, want 40", got)
	}
}

// TestAdaptiveLimiterRefillsFromFirstAnswer: the bucket does not refill
// until a call came back (Athena's bucket is full until our first call
// reaches it); then it refills from the middle of that call's round trip,
// and calls waiting for a token go at once.
func TestAdaptiveLimiterRefillsFromFirstAnswer(t *testing.T) {
	t.Parallel()
	a := newAdaptiveLimiter(20, 2)
	ctx := context.Background()
	for range 2 {
		if _, err := a.Wait(ctx); err != nil {
			t.Fatal(err)
		}
	}
	// At 20 calls/s a token would come within 50 ms.
	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	if _, err := a.Wait(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("third Wait before any answer: err = %v, want it to wait past the deadline", err)
	}
	waited := make(chan error)
	go func() {
		_, err := a.Wait(ctx)
		waited <- err
	}()
	// A round trip of two seconds that began long ago: refilled from its
	// middle, the bucket is full again, and the waiting call must go now
	// rather than sleep out its reservation at the unstarted rate.
	now := time.Now()
	a.Returned(now.Add(-2*time.Second), now)
	if err := <-waited; err != nil {
		t.Fatal(err)
	}
	if !a.Started() {
		t.Error("limiter not started after a call returned")
	}
}

// TestAdaptiveLimiterHugeBurst is the regression test of a limiter that
// spun: draining the bucket after a throttle took one step per saved token.
func TestAdaptiveLimiterHugeBurst(t *testing.T) {
	t.Parallel()
	a := newAdaptiveLimiter(MaxRate, math.MaxInt32)
	a.Throttled(0)
	if a.lim.Tokens() >= 1 {
		t.Errorf("after a throttle %v tokens are left; want the bucket drained", a.lim.Tokens())
	}
}
