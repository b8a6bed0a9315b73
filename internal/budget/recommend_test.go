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

// TestRecommendAndApply: a cutoff above the p99.9 of a workgroup's
// queries, the outlier it would have cut named; applied through the SDK
// to the emulator, whose workgroup then cancels a query past it, and
// refuses queries when disabled.
func TestRecommendAndApply(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t, ``)
	at := time.Date(2026, 11, 18, 12, 0, 0, 0, time.UTC)
	const acct = "111111111111"
	for i := range 1000 {
		scanned := int64(i+1) * 1_000_000 // 1 MB to 1 GB
		if i == 999 {
			scanned = 50 << 30 // one outlier
		}
		q := store.Query{Region: "us-east-1", QueryID: fmt.Sprintf("r%04d", i), EventID: fmt.Sprintf("e%04d", i), EventTime: at.Add(-time.Duration(i) * time.Minute),
			OwnerAccount: acct, StatsStatus: store.StatusFinal, Identity: cloudtrail.Identity{Type: "IAMUser", UserName: "alice", AccountID: acct},
			Stats: store.Stats{State: "SUCCEEDED", StatementType: "DML", Workgroup: "analysts", DataScannedBytes: scanned}}
		f.rules.Query(&q)
		f.qs = append(f.qs, q)
	}
	f.query("bob", at, 0.001, false) // primary: too few queries
	f.evaluate(at)
	recs, err := Recommend(ctx, f.st, at.AddDate(0, 0, -30))
	if err != nil || len(recs) != 2 {
		t.Fatalf("recommendations %+v, %v", recs, err)
	}
	r := recs[0]
	// p99.9 of 1000: the 999th, 999 MB; rounded up to 1 GB steps above 1 GB:
	// 999,000,001 bytes is under 1 GiB, so 10 MB steps: 1,000,000,000.
	if r.Workgroup != "analysts" || r.P999 != 999_000_000 || r.Cutoff != 1_000_000_000 || r.WouldCutCount != 1 || len(r.WouldCut) != 1 || r.WouldCut[0].QueryID != "r0999" {
		t.Fatalf("analysts: %+v", r)
	}
	if recs[1].Workgroup != "primary" || recs[1].Cutoff != 0 || recs[1].Note == "" {
		t.Fatalf("primary: %+v", recs[1])
	}

	emu := awsemu.New(awsemu.Options{Engine: awsemu.EngineFunc(func(awsemu.QueryRequest) awsemu.Outcome {
		return awsemu.Outcome{State: "SUCCEEDED", StatementType: "DML", DataScannedBytes: 5 << 30, EngineTime: 10 * time.Second}
	})})
	srv := httptest.NewServer(emu)
	t.Cleanup(srv.Close)
	emu.AddWorkGroup(acct, "us-east-1", "analysts", false)
	c := emu.AddUser(acct, "admin")
	cfg := aws.Config{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL), Credentials: credentials.NewStaticCredentialsProvider(c.AccessKeyID, c.SecretAccessKey, "")}
	a := &AthenaStopper{AWS: cfg}
	if before, err := a.Cutoff(ctx, acct, "us-east-1", "analysts"); err != nil || before != 0 {
		t.Fatalf("cutoff before: %d, %v", before, err)
	}
	if err := a.SetCutoff(ctx, acct, "us-east-1", "analysts", r.Cutoff); err != nil {
		t.Fatal(err)
	}
	if after, err := a.Cutoff(ctx, acct, "us-east-1", "analysts"); err != nil || after != r.Cutoff {
		t.Fatalf("cutoff after: %d, %v", after, err)
	}
	client := athena.NewFromConfig(cfg)
	out, err := client.StartQueryExecution(ctx, &athena.StartQueryExecutionInput{QueryString: aws.String("SELECT * FROM huge"), WorkGroup: aws.String("analysts")})
	if err != nil {
		t.Fatal(err)
	}
	emu.SetNow(time.Now().Add(time.Hour))
	got, err := client.GetQueryExecution(ctx, &athena.GetQueryExecutionInput{QueryExecutionId: out.QueryExecutionId})
	if err != nil {
		t.Fatal(err)
	}
	if st := got.QueryExecution.Status.State; st != "CANCELLED" || aws.ToInt64(got.QueryExecution.Statistics.DataScannedInBytes) != r.Cutoff {
		t.Fatalf("a query past the cutoff: %s, %d bytes", st, aws.ToInt64(got.QueryExecution.Statistics.DataScannedInBytes))
	}
	// A disabled workgroup refuses new queries.
	if _, err := client.UpdateWorkGroup(ctx, &athena.UpdateWorkGroupInput{WorkGroup: aws.String("analysts"), State: "DISABLED"}); err != nil {
		t.Fatal(err)
	}
	_, err = client.StartQueryExecution(ctx, &athena.StartQueryExecutionInput{QueryString: aws.String("SELECT 1"), WorkGroup: aws.String("analysts")})
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "InvalidRequestException" {
		t.Fatalf("a query in a disabled workgroup: %v", err)
	}
}
