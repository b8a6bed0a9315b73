package enrich_test

import (
	"context"
	"fmt"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/athena"
	"github.com/aws/aws-sdk-go-v2/service/athena/types"
	"golang.org/x/sync/errgroup"

	"github.com/athenawatch/athenawatch/internal/awsemu"
	"github.com/athenawatch/athenawatch/internal/enrich"
)

const (
	homeAccount  = "111111111111"
	otherAccount = "222222222222"
)

// startEmulator serves a fresh emulator on loopback for one test.
func startEmulator(t *testing.T) (*awsemu.Emulator, *awsemu.Server) {
	t.Helper()
	emu := awsemu.New(awsemu.Options{})
	srv, err := emu.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	return emu, srv
}

// sdkConfig is an aws.Config for the emulator with static credentials, built
// by hand so nothing from the machine's AWS environment leaks in.
func sdkConfig(srv *awsemu.Server, c awsemu.Credentials, region string) aws.Config {
	return aws.Config{
		Region:       region,
		Credentials:  credentials.NewStaticCredentialsProvider(c.AccessKeyID, c.SecretAccessKey, c.SessionToken),
		BaseEndpoint: aws.String(srv.URL),
	}
}

// startQueries runs n StartQueryExecution calls through the SDK, a few at a
// time, and returns the refs of the queries they started.
func startQueries(t *testing.T, cfg aws.Config, account, prefix string, n int) []enrich.Ref {
	t.Helper()
	client := athena.NewFromConfig(cfg)
	refs := make([]enrich.Ref, n)
	var g errgroup.Group
	g.SetLimit(8)
	for i := range n {
		g.Go(func() error {
			out, err := client.StartQueryExecution(context.Background(), &athena.StartQueryExecutionInput{
				QueryString:           aws.String(fmt.Sprintf("SELECT * FROM %s_events WHERE id = %d", prefix, i)),
				QueryExecutionContext: &types.QueryExecutionContext{Database: aws.String("analytics")},
			})
			if err != nil {
				return fmt.Errorf("start query %d: %w", i, err)
			}
			refs[i] = enrich.Ref{Account: account, Region: cfg.Region, QueryID: aws.ToString(out.QueryExecutionId)}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	return refs
}

type resultSet struct {
	mu sync.Mutex
	m  map[enrich.Ref]enrich.Result
}

func (s *resultSet) sink(_ context.Context, results []enrich.Result) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range results {
		s.m[r.Ref] = r
	}
	return nil
}

// TestEmulatorQuotaAcceptance is the throttling acceptance test: under an
// Athena quota of 5 BatchGetQueryExecution calls/s (burst 5), enriching
// 5,000 queries loses none and spends at most 10% more successful calls
// than the 100 full batches it needs.
func TestEmulatorQuotaAcceptance(t *testing.T) {
	if testing.Short() {
		t.Skip("about 20 s at the emulated quota")
	}
	t.Parallel()
	const n = 5000
	emu, srv := startEmulator(t)
	emu.SetQuota("StartQueryExecution", 0, 0) // setup only; not under test
	emu.SetQuota("BatchGetQueryExecution", 5, 5)
	cfg := sdkConfig(srv, emu.AddUser(homeAccount, "analyst"), "us-east-1")
	refs := startQueries(t, cfg, homeAccount, "acceptance", n)
	// Let every query reach its final state.
	emu.SetNow(time.Now().Add(30 * time.Minute))

	got := &resultSet{m: map[enrich.Ref]enrich.Result{}}
	sum, err := enrich.New(cfg, enrich.Options{}).Enrich(context.Background(), refs, got.sink)
	if err != nil {
		t.Fatal(err)
	}
	succeeded, throttled := emu.CallCounts("BatchGetQueryExecution")
	t.Logf("summary %+v; emulator: %d calls succeeded, %d throttled", sum, succeeded, throttled)

	if len(got.m) != n || sum.Known != n || sum.Failed != 0 {
		t.Fatalf("delivered %d results, summary %+v; want all %d known", len(got.m), sum, n)
	}
	if limit := int(math.Ceil(n/50.0) * 1.1); succeeded > limit {
		t.Errorf("%d successful calls, want <= %d", succeeded, limit)
	}

	truth := map[string]awsemu.Execution{}
	for _, x := range emu.Executions() {
		truth[x.QueryID] = x
	}
	for ref, r := range got.m {
		x := truth[ref.QueryID]
		if st := r.Stats; !r.Final() || st.State != x.Outcome.State || st.DataScannedBytes != x.Outcome.DataScannedBytes ||
			st.QueryText != x.Request.QueryString || st.Database != "analytics" || st.Workgroup != "primary" {
			t.Fatalf("result for %s = %+v; emulator ground truth %+v", ref.QueryID, r, x)
		}
	}
}

// TestEmulatorAssumeRole asks about a second account's queries through a role
// in that account, and shows that without the role the base credentials do
// not see them.
func TestEmulatorAssumeRole(t *testing.T) {
	t.Parallel()
	emu, srv := startEmulator(t)
	emu.SetQuota("StartQueryExecution", 0, 0)
	home := sdkConfig(srv, emu.AddUser(homeAccount, "athenawatch"), "us-east-1")
	roleARN := emu.AddRole(otherAccount, "athenawatch-reader")
	other := sdkConfig(srv, emu.AddUser(otherAccount, "analyst"), "eu-west-1")

	refs := append(startQueries(t, home, homeAccount, "home", 30), startQueries(t, other, otherAccount, "other", 70)...)

	tests := []struct {
		name      string
		roles     map[string]string
		wantKnown int
	}{
		{"with role", map[string]string{otherAccount: roleARN}, 100},
		{"without role the other account's queries are invisible", nil, 30},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := &resultSet{m: map[enrich.Ref]enrich.Result{}}
			sum, err := enrich.New(home, enrich.Options{Accounts: tt.roles}).Enrich(context.Background(), refs, got.sink)
			if err != nil {
				t.Fatal(err)
			}
			if sum.Known != tt.wantKnown || len(got.m) != 100 {
				t.Errorf("summary %+v, %d results; want %d known of 100", sum, len(got.m), tt.wantKnown)
			}
		})
	}
}
