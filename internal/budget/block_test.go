package budget

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/athena"
	"github.com/aws/smithy-go"

	"github.com/athenawatch/athenawatch/internal/awsemu"
	"github.com/athenawatch/athenawatch/internal/cloudtrail"
	"github.com/athenawatch/athenawatch/internal/store"
)

// TestBlockWorkgroup: a workgroup over its block budget is disabled in
// the emulator through the SDK (its next query refused, another
// workgroup's run), once per period; the next period enables it again by
// itself; a dry run changes nothing; unblock lifts a block by hand for
// the rest of the period.
func TestBlockWorkgroup(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	const acct, region = "111111111111", "us-east-1"
	emu := awsemu.New(awsemu.Options{})
	srv := httptest.NewServer(emu)
	t.Cleanup(srv.Close)
	emu.AddWorkGroup(acct, region, "analysts", false)
	emu.AddWorkGroup(acct, "us-west-2", "analysts", false)
	c := emu.AddUser(acct, "collector")
	cfg := aws.Config{Region: region, BaseEndpoint: aws.String(srv.URL), Credentials: credentials.NewStaticCredentialsProvider(c.AccessKeyID, c.SecretAccessKey, "")}
	client := athena.NewFromConfig(cfg, func(o *athena.Options) { o.RetryMaxAttempts = 1 })
	refused := func(wg string) bool {
		_, err := client.StartQueryExecution(ctx, &athena.StartQueryExecutionInput{QueryString: aws.String("SELECT 1"), WorkGroup: aws.String(wg)})
		var ae smithy.APIError
		if err != nil && !(errors.As(err, &ae) && ae.ErrorCode() == "InvalidRequestException") {
			t.Fatalf("start in %s: %v", wg, err)
		}
		return err != nil
	}

	f := newFixture(t, `budgets: [{name: analysts-day, scope: {workgroup: analysts}, limit_usd: 1, period: day, action: block}]`)
	day := time.Date(2026, 11, 18, 0, 0, 0, 0, time.UTC)
	spend := func(at time.Time, region string) {
		id := fmt.Sprintf("b%d", at.Unix())
		q := store.Query{Region: region, QueryID: id, EventID: "e" + id, EventTime: at, OwnerAccount: acct, StatsStatus: store.StatusFinal,
			Identity: cloudtrail.Identity{Type: "IAMUser", UserName: "alice", AccountID: acct},
			Stats:    store.Stats{State: "SUCCEEDED", StatementType: "DML", Workgroup: "analysts", DataScannedBytes: 1 << 40}}
		f.rules.Query(&q)
		f.qs = append(f.qs, q)
	}
	spend(day.Add(9*time.Hour), region) // $5 of a $1 day
	now := day.Add(10 * time.Hour)
	dry := &Enforcer{Store: f.st, DryRun: true, Now: func() time.Time { return now }}
	if sum, err := dry.Enforce(ctx, f.cfg.Budgets, f.evaluate(now)); err != nil || sum.WouldBlock != 1 || refused("analysts") {
		t.Fatalf("dry run: %+v, %v", sum, err)
	}
	e := &Enforcer{Store: f.st, Stopper: &AthenaStopper{AWS: cfg}, Now: func() time.Time { return now }}
	if sum, err := e.Enforce(ctx, f.cfg.Budgets, f.evaluate(now)); err != nil || sum.Blocked != 1 {
		t.Fatalf("block: %+v, %v", sum, err)
	}
	if !refused("analysts") || refused("primary") {
		t.Fatal("the blocked workgroup runs queries, or the other one does not")
	}
	if sum, _ := e.Enforce(ctx, f.cfg.Budgets, f.evaluate(now)); sum.Blocked != 0 {
		t.Fatalf("blocked twice in a period: %+v", sum)
	}
	// The workgroup of another region runs a query later in the period:
	// blocked too, the first one not again.
	spend(day.Add(10*time.Hour+30*time.Minute), "us-west-2")
	now = day.Add(11 * time.Hour)
	if sum, _ := e.Enforce(ctx, f.cfg.Budgets, f.evaluate(now)); sum.Blocked != 1 {
		t.Fatalf("the second region's workgroup: %+v", sum)
	}
	// The next day: nothing spent yet, the block is lifted.
	now = day.Add(26 * time.Hour)
	if sum, err := e.Enforce(ctx, f.cfg.Budgets, f.evaluate(now)); err != nil || sum.Unblocked != 2 || refused("analysts") {
		t.Fatalf("next period: %+v, %v", sum, err)
	}
	// Over again; lifted by hand; not blocked again this period.
	spend(day.Add(27*time.Hour), region)
	now = day.Add(28 * time.Hour)
	if sum, _ := e.Enforce(ctx, f.cfg.Budgets, f.evaluate(now)); sum.Blocked != 1 || !refused("analysts") {
		t.Fatalf("second day: %+v", sum)
	}
	if sum, err := e.Unblock(ctx, f.cfg.Budgets); err != nil || sum.Unblocked != 1 || refused("analysts") {
		t.Fatalf("unblock: %+v, %v", sum, err)
	}
	if sum, _ := e.Enforce(ctx, f.cfg.Budgets, f.evaluate(now)); sum.Blocked != 0 || refused("analysts") {
		t.Fatalf("blocked again after unblock: %+v", sum)
	}
}
