package enrich

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"golang.org/x/time/rate"

	"github.com/athenawatch/athenawatch/internal/cloudtrail"
	"github.com/athenawatch/athenawatch/internal/config"
	"github.com/athenawatch/athenawatch/internal/store"
	"github.com/athenawatch/athenawatch/internal/usage"
)

// stuckEndpoint is a loopback TCP listener that accepts connections and
// never answers on them.
func stuckEndpoint(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return "http://" + ln.Addr().String()
}

// groupErrors returns the GroupErrors err is made of.
func groupErrors(t *testing.T, err error) map[groupKey]*GroupError {
	t.Helper()
	errs := []error{err}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	}
	out := map[groupKey]*GroupError{}
	for _, e := range errs {
		var ge *GroupError
		if !errors.As(e, &ge) {
			t.Fatalf("error %v is not a GroupError", e)
		}
		out[groupKey{Account: ge.Account, Region: ge.Region}] = ge
	}
	return out
}

// TestEnrichStuckEndpoint is the regression test of a run that hung until
// Ctrl-C: an endpoint that accepts connections and never answers. Every
// account-region ends with a GroupError naming it, whether Athena or STS
// (for an assumed role) is stuck, and STS's own check says it is
// unreachable.
func TestEnrichStuckEndpoint(t *testing.T) {
	t.Parallel()
	cfg := aws.Config{
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider(baseKey, "base-secret", ""),
		BaseEndpoint: aws.String(stuckEndpoint(t)),
	}
	const other = "222222222222"
	var refs []Ref
	for _, k := range []groupKey{{baseAccount, "us-east-1"}, {baseAccount, "eu-west-1"}, {other, "us-east-1"}} {
		for i := range 5 {
			refs = append(refs, k.ref(fmt.Sprintf("%s-%s-%d", k.Account, k.Region, i)))
		}
	}
	e := New(cfg, Options{Accounts: map[string]string{other: "arn:aws:iam::222222222222:role/reader"}, Timeout: 150 * time.Millisecond})
	// The test fails by timing out if a call can hang.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c := newCollector(t)
	sum, err := e.Enrich(ctx, refs, c.sink)
	if ctx.Err() != nil {
		t.Fatal("Enrich hung on an endpoint that never answers")
	}
	ges := groupErrors(t, err)
	if len(ges) != 3 {
		t.Fatalf("%d group errors, want one per account-region: %v", len(ges), err)
	}
	for k, ge := range ges {
		var te *AttemptTimeoutError
		var ne net.Error
		if !errors.As(ge, &te) && !(errors.As(ge, &ne) && ne.Timeout()) {
			t.Errorf("%v: %v does not say the call timed out", k, ge)
		}
		if !strings.Contains(ge.Error(), k.Account) || !strings.Contains(ge.Error(), k.Region) || ge.Failed != 5 {
			t.Errorf("group error %q does not name %v and its 5 queries", ge, k)
		}
	}
	if sum.Failed != 15 || len(c.results) != 0 {
		t.Errorf("summary %+v, %d results; want all 15 failed", sum, len(c.results))
	}

	a := e.Access(ctx)
	if !errors.Is(a.Err, ErrSTSUnreachable) || a.Home != "" {
		t.Errorf("access = %+v, want STS unreachable", a)
	}
}

// TestEnrichOneStuckRegion: a region whose calls never get an answer fails
// alone; the other finishes.
func TestEnrichOneStuckRegion(t *testing.T) {
	t.Parallel()
	f := newFakeAWS(t)
	refs := addQueries(f, baseAccount, "us-east-1", "ok", 120)
	refs = append(refs, addQueries(f, baseAccount, "eu-west-1", "stuck", 80)...)
	f.stuck["eu-west-1"] = true
	c := newCollector(t)
	sum, err := fastEnricher(f, Options{Timeout: 200 * time.Millisecond}).Enrich(context.Background(), refs, c.sink)
	ges := groupErrors(t, err)
	if ge := ges[groupKey{baseAccount, "eu-west-1"}]; len(ges) != 1 || ge == nil || ge.Failed != 80 {
		t.Fatalf("group errors = %v, want eu-west-1 alone with 80 queries pending", err)
	}
	// The fake's own HTTP client has no transport timeouts: the per-attempt
	// deadline ends the calls.
	var te *AttemptTimeoutError
	if !errors.As(err, &te) {
		t.Errorf("error %v does not say the attempts timed out", err)
	}
	if sum.Known != 120 || sum.Failed != 80 {
		t.Errorf("summary = %+v, want us-east-1's 120 known and eu-west-1's 80 failed", sum)
	}
}

func TestCheckStats(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	good := store.Stats{
		State: "SUCCEEDED", StatementType: "DML", QueryText: "SELECT 1", DataScannedBytes: 5 << 30,
		EngineMs: 3000, TotalMs: 3500, QueueMs: 100, PlanningMs: 50, ServicePreprocessingMs: 10, ServiceProcessingMs: 20,
		SubmittedAt: now.Add(-time.Minute), CompletedAt: now.Add(-50 * time.Second), DPUCount: 24,
	}
	tests := []struct {
		name         string
		edit         func(st *store.Stats)
		want         func(st *store.Stats) // the expected result, from good
		wantUnusable bool
	}{
		{name: "plausible answer unchanged", edit: func(*store.Stats) {}, want: func(*store.Stats) {}},
		{name: "bytes scanned near 2^63", edit: func(st *store.Stats) { st.DataScannedBytes = math.MaxInt64 - 7 },
			want: func(st *store.Stats) { st.DataScannedBytes = 0 }, wantUnusable: true},
		{name: "bytes scanned just above 1 PiB", edit: func(st *store.Stats) { st.DataScannedBytes = MaxDataScannedBytes + 1 },
			want: func(st *store.Stats) { st.DataScannedBytes = 0 }, wantUnusable: true},
		{name: "bytes scanned at the bound", edit: func(st *store.Stats) { st.DataScannedBytes = MaxDataScannedBytes },
			want: func(st *store.Stats) { st.DataScannedBytes = MaxDataScannedBytes }},
		{name: "negative bytes scanned", edit: func(st *store.Stats) { st.DataScannedBytes = -1 },
			want: func(st *store.Stats) { st.DataScannedBytes = 0 }, wantUnusable: true},
		{name: "engine time of years", edit: func(st *store.Stats) { st.EngineMs = math.MaxInt64 },
			want: func(st *store.Stats) { st.EngineMs = 0 }, wantUnusable: true},
		{name: "negative engine time clamped", edit: func(st *store.Stats) { st.EngineMs = -5 },
			want: func(st *store.Stats) { st.EngineMs = 0 }},
		{name: "negative and huge other times clamped", edit: func(st *store.Stats) {
			st.QueueMs, st.TotalMs, st.PlanningMs, st.ServicePreprocessingMs, st.ServiceProcessingMs = -1, math.MaxInt64, math.MinInt64, -3, MaxDurationMs+1
		}, want: func(st *store.Stats) {
			st.QueueMs, st.TotalMs, st.PlanningMs, st.ServicePreprocessingMs, st.ServiceProcessingMs = 0, MaxDurationMs, 0, 0, MaxDurationMs
		}},
		{name: "DPU count not a number", edit: func(st *store.Stats) { st.DPUCount = math.NaN() },
			want: func(st *store.Stats) { st.DPUCount = 0 }, wantUnusable: true},
		{name: "DPU count infinite", edit: func(st *store.Stats) { st.DPUCount = math.Inf(1) },
			want: func(st *store.Stats) { st.DPUCount = 0 }, wantUnusable: true},
		{name: "negative DPU count", edit: func(st *store.Stats) { st.DPUCount = -2 },
			want: func(st *store.Stats) { st.DPUCount = 0 }, wantUnusable: true},
		{name: "times before 2000 and far ahead unknown", edit: func(st *store.Stats) {
			st.SubmittedAt, st.CompletedAt = time.Unix(0, 0).UTC(), now.Add(400*24*time.Hour)
		}, want: func(st *store.Stats) { st.SubmittedAt, st.CompletedAt = time.Time{}, time.Time{} }},
		{name: "time a little ahead is clock skew", edit: func(st *store.Stats) { st.CompletedAt = now.Add(time.Hour) },
			want: func(st *store.Stats) { st.CompletedAt = now.Add(time.Hour) }},
		{name: "query text beyond Athena's limit cut at a character", edit: func(st *store.Stats) {
			st.QueryText = "SELECT '" + strings.Repeat("é", MaxQueryTextBytes) + "'"
		}, want: func(st *store.Stats) { st.QueryText = "SELECT '" + strings.Repeat("é", (MaxQueryTextBytes-8)/2) }},
		{name: "invalid UTF-8 repaired", edit: func(st *store.Stats) {
			st.QueryText, st.ErrorMessage, st.Database = "SELECT '\xff\xfe'", "bad \xc3", "d\x80b"
		}, want: func(st *store.Stats) {
			st.QueryText, st.ErrorMessage, st.Database = "SELECT '\uFFFD'", "bad \uFFFD", "d\uFFFDb"
		}},
		{name: "long state change reason cut", edit: func(st *store.Stats) { st.StateChangeReason = strings.Repeat("x", 100000) },
			want: func(st *store.Stats) { st.StateChangeReason = strings.Repeat("x", maxTextBytes) }},
		{name: "negative error codes", edit: func(st *store.Stats) { st.ErrorCategory, st.ErrorType = -1, math.MinInt32 },
			want: func(st *store.Stats) { st.ErrorCategory, st.ErrorType = 0, 0 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, want := good, good
			tt.edit(&got)
			tt.want(&want)
			edited := got
			problems, unusable := checkStats(&got, now)
			if !statsEqual(got, want) {
				t.Errorf("stats\n got %+v\nwant %+v", got, want)
			}
			if unusable != tt.wantUnusable {
				t.Errorf("unusable = %v, want %v", unusable, tt.wantUnusable)
			}
			if wantProblems := !statsEqual(edited, want); (len(problems) > 0) != wantProblems {
				t.Errorf("problems = %q, want some: %v", problems, wantProblems)
			}
			if !utf8.ValidString(got.QueryText) || len(got.QueryText) > MaxQueryTextBytes {
				t.Errorf("query text of %d bytes, valid UTF-8 %v", len(got.QueryText), utf8.ValidString(got.QueryText))
			}
		})
	}
}

// statsEqual compares Stats, NaN DPU counts included.
func statsEqual(a, b store.Stats) bool {
	if math.IsNaN(a.DPUCount) && math.IsNaN(b.DPUCount) {
		a.DPUCount, b.DPUCount = 0, 0
	}
	return a == b
}

func TestOptionsNormalize(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		in    Options
		check func(o Options) bool
		fixes int
	}{
		{"zero value: defaults", Options{}, func(o Options) bool {
			return o.Rate == DefaultRate && o.Burst == DefaultBurst && o.Concurrency == DefaultConcurrency &&
				o.InFlight == 10 && o.MaxAttempts == DefaultMaxAttempts && o.Timeout == DefaultTimeout
		}, 0},
		{"NaN rate", Options{Rate: math.NaN()}, func(o Options) bool { return o.Rate == DefaultRate }, 1},
		{"infinite rate", Options{Rate: math.Inf(1)}, func(o Options) bool { return o.Rate == MaxRate && o.InFlight == MaxInFlight }, 1},
		{"negative rate", Options{Rate: -3}, func(o Options) bool { return o.Rate == DefaultRate }, 1},
		{"tiny rate", Options{Rate: 1e-300}, func(o Options) bool { return o.Rate == minRate && o.InFlight == minInFlight }, 1},
		{"huge burst, concurrency, in flight, attempts, timeout", Options{Burst: math.MaxInt, Concurrency: math.MaxInt, InFlight: math.MaxInt, MaxAttempts: math.MaxInt, Timeout: math.MaxInt64},
			func(o Options) bool {
				return o.Burst == MaxBurst && o.Concurrency == MaxConcurrency && o.InFlight == MaxInFlight &&
					o.MaxAttempts == MaxMaxAttempts && o.Timeout == MaxTimeout
			}, 5},
		{"negative counts", Options{Burst: -1, Concurrency: -1, InFlight: -1, MaxAttempts: -1, Timeout: -1},
			func(o Options) bool {
				return o.Burst == DefaultBurst && o.Concurrency == DefaultConcurrency && o.InFlight == 10 &&
					o.MaxAttempts == DefaultMaxAttempts && o.Timeout == DefaultTimeout
			}, 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, fixes := tt.in.normalize()
			if !tt.check(got) || len(fixes) != tt.fixes {
				t.Errorf("normalize(%+v) = %+v, fixes %q (want %d)", tt.in, got, fixes, tt.fixes)
			}
		})
	}
}

// TestEnrichHugeOptionsDoNotSpin: options that once made the limiter spin
// (an infinite rate, a huge burst drained one token at a time after a
// throttle) end a throttled run normally.
func TestEnrichHugeOptionsDoNotSpin(t *testing.T) {
	t.Parallel()
	f := newFakeAWS(t)
	refs := addQueries(f, baseAccount, "us-east-1", "q", 500)
	f.bucket = rate.NewLimiter(50, 2)
	c := newCollector(t)
	sum, err := fastEnricher(f, Options{Rate: math.Inf(1), Burst: math.MaxInt}).Enrich(context.Background(), refs, c.sink)
	if err != nil || sum.Known != 500 {
		t.Fatalf("summary %+v, err %v; want all 500 known", sum, err)
	}
}

// backlogStore opens a store holding queries as collect leaves them:
// pending, with CloudTrail's side filled in.
func backlogStore(t *testing.T, refs []Ref) *store.Store {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "backlog.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	rules := usage.NewRules(&config.Config{})
	var b store.Batch
	for _, ref := range refs {
		q := store.Query{
			Region: ref.Region, QueryID: ref.QueryID, EventID: "ev-" + ref.Region + ref.QueryID,
			EventTime: submitted, OwnerAccount: ref.Account,
			Identity: cloudtrail.Identity{Type: "IAMUser", AccountID: ref.Account, UserName: "alice",
				ARN: "arn:aws:iam::" + ref.Account + ":user/alice"},
		}
		rules.Query(&q)
		b.Queries = append(b.Queries, q)
	}
	if _, err := st.Commit(ctx, &b); err != nil {
		t.Fatal(err)
	}
	return st
}

// TestEnrichBacklogImpossibleValues is the regression test of an Athena
// answer with an impossible statistic stored as is: from then on every
// report failed with SQLite "integer overflow". Each bad query is named in
// a warning and counted, the cost bases that are impossible leave their
// query pending, and reports keep working.
func TestEnrichBacklogImpossibleValues(t *testing.T) {
	t.Parallel()
	f := newFakeAWS(t)
	refs := addQueries(f, baseAccount, "us-east-1", "ok", 60)
	bad := map[string]func(qe map[string]any){
		"huge-bytes-1": func(qe map[string]any) {
			qe["Statistics"].(map[string]any)["DataScannedInBytes"] = int64(math.MaxInt64 - 1)
		},
		"huge-bytes-2": func(qe map[string]any) {
			qe["Statistics"].(map[string]any)["DataScannedInBytes"] = int64(math.MaxInt64 - 2)
		},
		"negative-time": func(qe map[string]any) { qe["Statistics"].(map[string]any)["QueryQueueTimeInMillis"] = -40 },
		"nan-dpu":       func(qe map[string]any) { qe["Statistics"].(map[string]any)["DpuCount"] = "NaN" },
		"year-1970":     func(qe map[string]any) { qe["Status"].(map[string]any)["SubmissionDateTime"] = 1.5 },
		"long-text":     func(qe map[string]any) { qe["Query"] = strings.Repeat("x", MaxQueryTextBytes+10) },
	}
	for id, edit := range bad {
		f.addQuery(baseAccount, "us-east-1", id, fakeQuery{State: "SUCCEEDED", Query: "SELECT 1", Bytes: 100, EngineMs: 10,
			Submitted: submitted, Completed: completed, Edit: edit})
		refs = append(refs, Ref{Account: baseAccount, Region: "us-east-1", QueryID: id})
	}
	st := backlogStore(t, refs)
	var logs bytes.Buffer
	e := fastEnricher(f, Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	sum, err := e.EnrichBacklog(context.Background(), st, usage.NewRules(&config.Config{}), time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Known != 66 || sum.Unusable != 3 || sum.Clamped != 3 {
		t.Errorf("summary = %+v, want 66 known, 3 unusable (bytes, DPU), 3 clamped (time, date, text)", sum)
	}
	for id := range bad {
		if !strings.Contains(logs.String(), id) {
			t.Errorf("no warning names %s:\n%s", id, logs.String())
		}
	}
	agg, err := st.Aggregate(context.Background(), store.Aggregation{By: "user",
		Sums: []store.Sum{store.SumQueries, store.SumBytesScanned, store.SumEngineMs, store.SumDPUMillis}})
	if err != nil {
		t.Fatalf("report after impossible answers: %v", err)
	}
	if groups := agg.Groups; len(groups) != 1 || groups[0].Sums[0] != 66 {
		t.Fatalf("report = %+v, want one user with 66 queries", groups)
	}
	q, _, err := st.GetQuery(context.Background(), "us-east-1", "huge-bytes-1")
	if err != nil || q.StatsStatus != store.StatusPending || q.Stats.DataScannedBytes != 0 {
		t.Errorf("query with impossible bytes stored as %s with %d bytes, %v; want pending with 0", q.StatsStatus, q.Stats.DataScannedBytes, err)
	}
	q, _, err = st.GetQuery(context.Background(), "us-east-1", "long-text")
	if err != nil || q.StatsStatus != store.StatusFinal || len(q.Stats.QueryText) != MaxQueryTextBytes {
		t.Errorf("query with long text stored as %s with %d bytes of text, %v; want final, cut to the limit", q.StatsStatus, len(q.Stats.QueryText), err)
	}
}

// TestEnrichBacklogAccess: which accounts a backlog run asks about, by what
// STS says of the credentials.
func TestEnrichBacklogAccess(t *testing.T) {
	t.Parallel()
	const (
		configured   = "222222222222"
		unconfigured = "333333333333"
	)
	tests := []struct {
		name            string
		key             string // base access key: baseKey is known to STS
		wantKnown       int
		wantUnreachable int
		wantAccessErr   error
	}{
		{name: "credentials' own account and configured ones", key: baseKey, wantKnown: 20, wantUnreachable: 10},
		{name: "credentials rejected: nothing asked", key: "AKIDUNKNOWN", wantUnreachable: 30, wantAccessErr: ErrCredentialsRejected},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeAWS(t)
			f.keys[configured+"KEY"] = configured
			var refs []Ref
			for _, acct := range []string{baseAccount, configured, unconfigured} {
				refs = append(refs, addQueries(f, acct, "us-east-1", acct, 10)...)
			}
			// The configured account is read with the base credentials:
			// its queries are visible to them in this fake.
			for _, r := range refs[10:20] {
				f.addQuery(baseAccount, "us-east-1", r.QueryID, fakeQuery{State: "SUCCEEDED", Submitted: submitted, Completed: completed})
			}
			st := backlogStore(t, refs)
			cfg := f.config()
			cfg.Credentials = credentials.NewStaticCredentialsProvider(tt.key, "secret", "")
			var logs bytes.Buffer
			e := New(cfg, Options{Accounts: map[string]string{configured: ""}, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
			sum, err := e.EnrichBacklog(context.Background(), st, usage.NewRules(&config.Config{}), time.Time{})
			var ae *AccessError
			if tt.wantAccessErr != nil {
				if !errors.As(err, &ae) || !errors.Is(err, tt.wantAccessErr) || ae.Pending != 30 {
					t.Fatalf("err = %v, want an AccessError (%v) with 30 pending", err, tt.wantAccessErr)
				}
				if strings.Contains(logs.String(), "role_arn") {
					t.Errorf("credentials problem answered with the role_arn hint:\n%s", logs.String())
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if sum.Known != tt.wantKnown || sum.Unreachable != tt.wantUnreachable {
				t.Errorf("summary = %+v, want %d known, %d unreachable", sum, tt.wantKnown, tt.wantUnreachable)
			}
			if !strings.Contains(logs.String(), unconfigured) || !strings.Contains(logs.String(), "role_arn") {
				t.Errorf("no warning names the unreachable account with the role_arn hint:\n%s", logs.String())
			}
		})
	}
}
