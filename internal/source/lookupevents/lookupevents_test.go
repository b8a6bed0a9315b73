package lookupevents

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/athena"
	ct "github.com/aws/aws-sdk-go-v2/service/cloudtrail"

	"github.com/athenawatch/athenawatch/internal/awsemu"
	"github.com/athenawatch/athenawatch/internal/config"
	"github.com/athenawatch/athenawatch/internal/source"
	"github.com/athenawatch/athenawatch/internal/store"
	"github.com/athenawatch/athenawatch/internal/usage"
)

var t0 = time.Date(2026, 11, 20, 8, 0, 0, 0, time.UTC)

type env struct {
	emu *awsemu.Emulator
	url string
}

func newEnv(t *testing.T) *env {
	emu := awsemu.New(awsemu.Options{})
	srv := httptest.NewServer(emu)
	t.Cleanup(srv.Close)
	emu.SetNow(t0)
	return &env{emu: emu, url: srv.URL}
}

func (e *env) config(c awsemu.Credentials) aws.Config {
	return aws.Config{
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider(c.AccessKeyID, c.SecretAccessKey, c.SessionToken),
		BaseEndpoint: aws.String(e.url),
	}
}

// startQueries starts n queries with c in region, a minute apart on the
// emulator clock from `from`, and returns their ids.
func (e *env) startQueries(t *testing.T, c awsemu.Credentials, region string, from time.Time, n int) []string {
	t.Helper()
	client := athena.NewFromConfig(e.config(c), func(o *athena.Options) { o.Region = region })
	var ids []string
	for i := range n {
		e.emu.SetNow(from.Add(time.Duration(i) * time.Minute))
		out, err := client.StartQueryExecution(context.Background(), &athena.StartQueryExecutionInput{QueryString: aws.String(fmt.Sprintf("SELECT %d", i))})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, aws.ToString(out.QueryExecutionId))
	}
	return ids
}

func newCollector(t *testing.T) (*source.Collector, *store.Store) {
	t.Helper()
	st, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	cfg, _ := config.Load("")
	return &source.Collector{Store: st, Rules: usage.NewRules(cfg)}, st
}

func collect(t *testing.T, col *source.Collector, src source.Source) *source.Summary {
	t.Helper()
	sum, err := col.Collect(context.Background(), src)
	if err != nil {
		t.Fatal(err)
	}
	return sum
}

func (e *env) source(t *testing.T, c awsemu.Credentials, addr string) *Source {
	t.Helper()
	src, err := source.Open(addr, source.Options{AWS: func(context.Context) (aws.Config, error) { return e.config(c), nil }})
	if err != nil {
		t.Fatal(err)
	}
	return src.(*Source)
}

func TestLookupEventsIsIncrementalAndExactlyOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	alice := e.emu.AddUser("111111111111", "alice")
	first := e.startQueries(t, alice, "us-east-1", t0, 120)
	e.startQueries(t, alice, "eu-west-1", t0, 7)
	col, st := newCollector(t)
	src := e.source(t, alice, "lookup-events:us-east-1,eu-west-1")
	e.emu.SetNow(t0.Add(3 * time.Hour))
	sum := collect(t, col, src)
	if sum.NewQueries != 127 || sum.QueryEvents != 127 || sum.SkippedCount() != 0 {
		t.Fatalf("first read: %+v", sum)
	}
	if q, ok, err := st.GetQuery(context.Background(), "us-east-1", first[0]); err != nil || !ok || q.User != "alice" {
		t.Fatalf("stored query %s: %+v %v %v", first[0], q, ok, err)
	}
	cur, _ := st.CursorsIn(context.Background(), src.Name(), "111111111111")
	// The newest event: the 120th query, at t0 + 119 minutes.
	if cur["111111111111/us-east-1"] != t0.Add(119*time.Minute).Format(time.RFC3339Nano) {
		t.Fatalf("watermarks %v", cur)
	}

	// Later: ten more queries, and two that reach the history within the
	// overlap. Only the new ones are new; the overlap is read again.
	e.startQueries(t, alice, "us-east-1", t0.Add(3*time.Hour+30*time.Minute), 10)
	calls, _ := e.emu.CallCounts("LookupEvents")
	e.emu.SetNow(t0.Add(5 * time.Hour))
	sum = collect(t, col, src)
	if sum.NewQueries != 10 || sum.SkippedCount() != 0 {
		t.Fatalf("second read: %+v", sum)
	}
	if after, _ := e.emu.CallCounts("LookupEvents"); after-calls > 3 {
		t.Fatalf("second read made %d calls: it read from the start, not the watermark", after-calls)
	}
	if _, throttled := e.emu.CallCounts("LookupEvents"); throttled != 0 {
		t.Fatalf("%d calls throttled: the source does not keep to the quota", throttled)
	}
}

func TestLookupEventsManyAccounts(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	collector := e.emu.AddUser("999999999999", "collector")
	bob := e.emu.AddUser("222222222222", "bob")
	reader := e.emu.AddRole("222222222222", "athenawatch-reader")
	e.startQueries(t, bob, "us-east-1", t0, 4)
	e.startQueries(t, collector, "us-east-1", t0, 2)
	col, _ := newCollector(t)
	src := e.source(t, collector, "lookup-events:us-east-1")
	src.Roles = map[string]string{"222222222222": reader, "333333333333": "arn:aws:iam::333333333333:role/missing"}
	e.emu.SetNow(t0.Add(time.Hour))
	sum := collect(t, col, src)
	if sum.NewQueries != 6 {
		t.Fatalf("read %+v; want the collector's 2 and bob's 4", sum)
	}
	// The account whose role cannot be assumed is named, the rest read.
	if len(sum.Skipped) != 1 || !strings.Contains(sum.Skipped[0].Name, "333333333333") || !strings.Contains(sum.Skipped[0].Reason, "AssumeRole") {
		t.Fatalf("skipped: %+v", sum.Skipped)
	}
}

func TestLookupEventsSaysWhenAskedBeyondItsHistory(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	alice := e.emu.AddUser("111111111111", "alice")
	e.startQueries(t, alice, "us-east-1", t0, 1)
	col, _ := newCollector(t)
	var logs bytes.Buffer
	src := e.source(t, alice, "lookup-events")
	src.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	src.Window = source.Window{Since: time.Now().AddDate(0, -6, 0)}
	sum := collect(t, col, src)
	if sum.NewQueries != 1 || !strings.Contains(logs.String(), "keeps 90 days") {
		t.Fatalf("%+v\n%s", sum, logs.String())
	}
}

func TestOpenAddress(t *testing.T) {
	for _, tt := range []struct{ addr, name, err string }{
		{"", "lookup-events", ""},
		{"us-east-1", "lookup-events:us-east-1", ""},
		{"us-east-1,eu-west-1,us-east-1", "lookup-events:us-east-1,eu-west-1", ""},
		{"us-east-1?overlap=5m", "lookup-events:us-east-1", ""},
		{"mars", "", "not a region"},
		{"us-east-1,", "", "not a region"},
		{"?overlap=2d", "", "overlap="},
		{"?colour=red", "", "unknown option"},
	} {
		src, err := Open(tt.addr, source.Options{})
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("Open(%q) error %v, want %q", tt.addr, err, tt.err)
			}
			continue
		}
		if err != nil || src.Name() != tt.name {
			t.Errorf("Open(%q) = %v, %v; want %s", tt.addr, src, err, tt.name)
		}
	}
}

// TestRetriesKeepToTheQuota: a retry waits at least the quota's interval,
// whatever the error, so that a call CloudTrail counted but whose answer
// was lost (a connection closed under the reading client) and its retry
// never arrive closer than the quota allows.
func TestRetriesKeepToTheQuota(t *testing.T) {
	e := newEnv(t)
	alice := e.emu.AddUser("111111111111", "alice")
	src := e.source(t, alice, "lookup-events:us-east-1")
	targets, err := src.targets(context.Background())
	if err != nil || len(targets) != 1 {
		t.Fatalf("targets: %v %v", targets, err)
	}
	retryer := targets[0].client.(*ct.Client).Options().Retryer
	closed := fmt.Errorf("deserialization failed, failed to decode response body: %w", net.ErrClosed)
	if !retryer.IsErrorRetryable(closed) {
		t.Fatal("a read from a closed connection is not retried")
	}
	for attempt := 1; attempt <= 7; attempt++ {
		d, err := retryer.RetryDelay(attempt, closed)
		if err != nil || d < time.Second/Quota {
			t.Fatalf("attempt %d: retry after %v (%v), want at least %v", attempt, d, err, time.Second/Quota)
		}
	}
}
