package awsemu

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/athena"
	"github.com/aws/aws-sdk-go-v2/service/athena/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
)

const (
	acctA = "111111111111"
	acctB = "222222222222"
)

var t0 = time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)

// env is an emulator behind an httptest server, with the CloudTrail records
// it produced.
type env struct {
	emu *Emulator
	url string

	mu      sync.Mutex
	records []CloudTrailEvent
}

func newEnv(t *testing.T, engine Engine) *env {
	t.Helper()
	en := &env{}
	en.emu = New(Options{Engine: engine, OnCloudTrail: func(ev CloudTrailEvent) {
		en.mu.Lock()
		defer en.mu.Unlock()
		en.records = append(en.records, ev)
	}})
	// Reproducible ids make golden CloudTrail records comparable.
	var seq atomic.Int64
	en.emu.newID = func() string {
		return fmt.Sprintf("00000000-0000-4000-8000-%012d", seq.Add(1))
	}
	en.emu.SetNow(t0)
	srv := httptest.NewServer(en.emu)
	t.Cleanup(srv.Close)
	en.url = srv.URL
	return en
}

func (en *env) trail() []CloudTrailEvent {
	en.mu.Lock()
	defer en.mu.Unlock()
	return append([]CloudTrailEvent(nil), en.records...)
}

func (en *env) config(region string, c Credentials) aws.Config {
	return aws.Config{
		Region:       region,
		Credentials:  credentials.NewStaticCredentialsProvider(c.AccessKeyID, c.SecretAccessKey, c.SessionToken),
		BaseEndpoint: aws.String(en.url),
	}
}

// athena returns a client that does not retry, so errors surface at once.
func (en *env) athena(region string, c Credentials) *athena.Client {
	return athena.NewFromConfig(en.config(region, c), func(o *athena.Options) { o.RetryMaxAttempts = 1 })
}

// fixedEngine gives every query the same timeline: 1 s queued, 10 s running.
var fixedEngine = EngineFunc(func(req QueryRequest) Outcome {
	return Outcome{
		State: StateSucceeded, DataScannedBytes: 10_000_000,
		QueueTime: time.Second, PreProcessingTime: 100 * time.Millisecond,
		PlanningTime: 400 * time.Millisecond, EngineTime: 9 * time.Second,
		ServiceProcessingTime: 900 * time.Millisecond,
	}
})

func start(t *testing.T, c *athena.Client, query string) string {
	t.Helper()
	out, err := c.StartQueryExecution(context.Background(), &athena.StartQueryExecutionInput{
		QueryString:           aws.String(query),
		QueryExecutionContext: &types.QueryExecutionContext{Database: aws.String("sales")},
	})
	if err != nil {
		t.Fatalf("StartQueryExecution: %v", err)
	}
	return aws.ToString(out.QueryExecutionId)
}

func TestQueryLifecycle(t *testing.T) {
	t.Parallel()
	en := newEnv(t, fixedEngine)
	c := en.athena("us-east-1", en.emu.AddUser(acctA, "alice"))
	id := start(t, c, "SELECT * FROM orders")

	tests := []struct {
		name        string
		at          time.Duration
		state       types.QueryExecutionState
		engineMs    int64
		scanned     int64
		completed   bool
		planningSet bool
	}{
		{"queued", 500 * time.Millisecond, types.QueryExecutionStateQueued, 0, 0, false, false},
		{"running", 1100*time.Millisecond + 4500*time.Millisecond, types.QueryExecutionStateRunning, 4500, 5_000_000, false, true},
		{"succeeded", 11 * time.Second, types.QueryExecutionStateSucceeded, 9000, 10_000_000, true, true},
	}
	for _, tt := range tests {
		en.emu.SetNow(t0.Add(tt.at))
		got, err := c.GetQueryExecution(context.Background(), &athena.GetQueryExecutionInput{QueryExecutionId: &id})
		if err != nil {
			t.Fatalf("%s: GetQueryExecution: %v", tt.name, err)
		}
		batch, err := c.BatchGetQueryExecution(context.Background(), &athena.BatchGetQueryExecutionInput{QueryExecutionIds: []string{id}})
		if err != nil {
			t.Fatalf("%s: BatchGetQueryExecution: %v", tt.name, err)
		}
		if len(batch.QueryExecutions) != 1 || len(batch.UnprocessedQueryExecutionIds) != 0 {
			t.Fatalf("%s: batch = %d found, %d unprocessed", tt.name, len(batch.QueryExecutions), len(batch.UnprocessedQueryExecutionIds))
		}
		for _, qe := range []*types.QueryExecution{got.QueryExecution, &batch.QueryExecutions[0]} {
			if qe.Status.State != tt.state {
				t.Errorf("%s: state = %s, want %s", tt.name, qe.Status.State, tt.state)
			}
			if g := aws.ToInt64(qe.Statistics.EngineExecutionTimeInMillis); g != tt.engineMs {
				t.Errorf("%s: engine ms = %d, want %d", tt.name, g, tt.engineMs)
			}
			if g := aws.ToInt64(qe.Statistics.DataScannedInBytes); g != tt.scanned {
				t.Errorf("%s: scanned = %d, want %d", tt.name, g, tt.scanned)
			}
			if (qe.Status.CompletionDateTime != nil) != tt.completed {
				t.Errorf("%s: completion time present = %v", tt.name, qe.Status.CompletionDateTime != nil)
			}
			if (qe.Statistics.QueryPlanningTimeInMillis != nil) != tt.planningSet {
				t.Errorf("%s: planning time present = %v", tt.name, qe.Statistics.QueryPlanningTimeInMillis != nil)
			}
			if !qe.Status.SubmissionDateTime.Equal(t0) {
				t.Errorf("%s: submitted %v, want %v", tt.name, qe.Status.SubmissionDateTime, t0)
			}
		}
	}

	qe := got(t, c, id)
	want := map[string]any{
		"StatementType": string(qe.StatementType), "SubstatementType": aws.ToString(qe.SubstatementType),
		"WorkGroup": aws.ToString(qe.WorkGroup), "Database": aws.ToString(qe.QueryExecutionContext.Database),
		"Catalog": aws.ToString(qe.QueryExecutionContext.Catalog), "Query": aws.ToString(qe.Query),
		"Total": aws.ToInt64(qe.Statistics.TotalExecutionTimeInMillis), "Queue": aws.ToInt64(qe.Statistics.QueryQueueTimeInMillis),
		"Output": aws.ToString(qe.ResultConfiguration.OutputLocation), "Engine": aws.ToString(qe.EngineVersion.EffectiveEngineVersion),
	}
	exp := map[string]any{
		"StatementType": "DML", "SubstatementType": "SELECT", "WorkGroup": "primary", "Database": "sales",
		"Catalog": "awsdatacatalog", "Query": "SELECT * FROM orders", "Total": int64(11000), "Queue": int64(1000),
		"Output": "s3://aws-athena-query-results-111111111111-us-east-1/" + id + ".csv", "Engine": "Athena engine version 3",
	}
	for k, v := range exp {
		if want[k] != v {
			t.Errorf("%s = %v, want %v", k, want[k], v)
		}
	}
	if !qe.Status.CompletionDateTime.Equal(t0.Add(11 * time.Second)) {
		t.Errorf("completed %v", qe.Status.CompletionDateTime)
	}

	truth := en.emu.Executions()
	if len(truth) != 1 || truth[0].QueryID != id || truth[0].Account != acctA || truth[0].Request.Identity.UserName != "alice" {
		t.Fatalf("ground truth = %+v", truth)
	}
}

func got(t *testing.T, c *athena.Client, id string) *types.QueryExecution {
	t.Helper()
	out, err := c.GetQueryExecution(context.Background(), &athena.GetQueryExecutionInput{QueryExecutionId: &id})
	if err != nil {
		t.Fatalf("GetQueryExecution %s: %v", id, err)
	}
	return out.QueryExecution
}

func TestScopingAndUnknownIDs(t *testing.T) {
	t.Parallel()
	en := newEnv(t, fixedEngine)
	alice := en.emu.AddUser(acctA, "alice")
	id := start(t, en.athena("us-east-1", alice), "SELECT 1")
	forgotten := "ffffffff-0000-4000-8000-000000000000"

	tests := []struct {
		name    string
		account string
		region  string
		id      string
		at      time.Duration
		found   bool
	}{
		{"same account and region", acctA, "us-east-1", id, 0, true},
		{"other region", acctA, "eu-west-1", id, 0, false},
		{"other account", acctB, "us-east-1", id, 0, false},
		{"never existed", acctA, "us-east-1", forgotten, 0, false},
		{"44 days later", acctA, "us-east-1", id, 44 * 24 * time.Hour, true},
		{"45 days later", acctA, "us-east-1", id, 45 * 24 * time.Hour, false},
	}
	for _, tt := range tests {
		en.emu.SetNow(t0.Add(tt.at))
		creds := alice
		if tt.account != acctA {
			creds = en.emu.AddUser(tt.account, "bob")
		}
		c := en.athena(tt.region, creds)
		_, err := c.GetQueryExecution(context.Background(), &athena.GetQueryExecutionInput{QueryExecutionId: aws.String(tt.id)})
		var invalid *types.InvalidRequestException
		switch {
		case tt.found && err != nil:
			t.Errorf("%s: GetQueryExecution: %v", tt.name, err)
		case !tt.found && !errors.As(err, &invalid):
			t.Errorf("%s: GetQueryExecution error = %v, want InvalidRequestException", tt.name, err)
		case !tt.found && invalid.ErrorMessage() != "QueryExecution "+tt.id+" was not found":
			t.Errorf("%s: message = %q", tt.name, invalid.ErrorMessage())
		}
		batch, err := c.BatchGetQueryExecution(context.Background(), &athena.BatchGetQueryExecutionInput{QueryExecutionIds: []string{tt.id}})
		if err != nil {
			t.Fatalf("%s: BatchGetQueryExecution: %v", tt.name, err)
		}
		if tt.found != (len(batch.QueryExecutions) == 1) {
			t.Errorf("%s: batch found %d", tt.name, len(batch.QueryExecutions))
		}
		if !tt.found {
			if len(batch.UnprocessedQueryExecutionIds) != 1 {
				t.Fatalf("%s: unprocessed = %d", tt.name, len(batch.UnprocessedQueryExecutionIds))
			}
			u := batch.UnprocessedQueryExecutionIds[0]
			if aws.ToString(u.QueryExecutionId) != tt.id || aws.ToString(u.ErrorCode) != "INVALID_INPUT" || aws.ToString(u.ErrorMessage) == "" {
				t.Errorf("%s: unprocessed = %+v", tt.name, u)
			}
		}
	}
	if n := len(en.emu.Executions()); n != 1 {
		t.Errorf("ground truth keeps forgotten queries: got %d executions", n)
	}
}

func TestValidation(t *testing.T) {
	t.Parallel()
	en := newEnv(t, fixedEngine)
	c := en.athena("us-east-1", en.emu.AddUser(acctA, "alice"))
	ids := func(n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = fmt.Sprintf("id-%d", i)
		}
		return out
	}
	tests := []struct {
		name    string
		call    func() error
		wantErr bool
		substr  string
	}{
		{"51 ids", func() error {
			_, err := c.BatchGetQueryExecution(context.Background(), &athena.BatchGetQueryExecutionInput{QueryExecutionIds: ids(51)})
			return err
		}, true, "less than or equal to 50"},
		{"50 ids", func() error {
			_, err := c.BatchGetQueryExecution(context.Background(), &athena.BatchGetQueryExecutionInput{QueryExecutionIds: ids(50)})
			return err
		}, false, ""},
		{"list 51", func() error {
			_, err := c.ListQueryExecutions(context.Background(), &athena.ListQueryExecutionsInput{MaxResults: aws.Int32(51)})
			return err
		}, true, "maxResults"},
		{"unknown workgroup", func() error {
			_, err := c.StartQueryExecution(context.Background(), &athena.StartQueryExecutionInput{QueryString: aws.String("SELECT 1"), WorkGroup: aws.String("nope")})
			return err
		}, true, "WorkGroup is not found."},
		{"results 1001", func() error {
			_, err := c.GetQueryResults(context.Background(), &athena.GetQueryResultsInput{QueryExecutionId: aws.String("x"), MaxResults: aws.Int32(1001)})
			return err
		}, true, "maxResults"},
		{"id too long", func() error {
			_, err := c.GetQueryExecution(context.Background(), &athena.GetQueryExecutionInput{QueryExecutionId: aws.String(strings.Repeat("a", 129))})
			return err
		}, true, "length"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			if !tt.wantErr {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			var invalid *types.InvalidRequestException
			if !errors.As(err, &invalid) {
				t.Fatalf("error = %v, want *types.InvalidRequestException", err)
			}
			if !strings.Contains(invalid.ErrorMessage(), tt.substr) || aws.ToString(invalid.AthenaErrorCode) != "INVALID_INPUT" {
				t.Errorf("error = %q (%s), want it to contain %q", invalid.ErrorMessage(), aws.ToString(invalid.AthenaErrorCode), tt.substr)
			}
		})
	}
}

func TestThrottling(t *testing.T) {
	t.Parallel()
	en := newEnv(t, fixedEngine)
	alice := en.emu.AddUser(acctA, "alice")
	id := start(t, en.athena("us-east-1", alice), "SELECT 1")
	en.emu.SetQuota("GetQueryExecution", 20, 2)

	noRetry := en.athena("us-east-1", alice)
	var throttleErr error
	for range 5 {
		if _, err := noRetry.GetQueryExecution(context.Background(), &athena.GetQueryExecutionInput{QueryExecutionId: &id}); err != nil {
			throttleErr = err
			break
		}
	}
	var apiErr smithy.APIError
	if !errors.As(throttleErr, &apiErr) || apiErr.ErrorCode() != "ThrottlingException" || apiErr.ErrorMessage() != "Rate exceeded" {
		t.Fatalf("error = %v, want ThrottlingException: Rate exceeded", throttleErr)
	}
	if _, throttled := en.emu.CallCounts("GetQueryExecution"); throttled == 0 {
		t.Fatal("no throttled call counted")
	}

	// Another region has its own bucket.
	if _, err := en.athena("eu-west-1", alice).ListWorkGroups(context.Background(), &athena.ListWorkGroupsInput{}); err != nil {
		t.Fatalf("other region: %v", err)
	}

	// The SDK's standard retryer backs off and gets through.
	retrying := athena.NewFromConfig(en.config("us-east-1", alice), func(o *athena.Options) {
		o.Retryer = retry.NewStandard(func(so *retry.StandardOptions) {
			so.MaxAttempts = 20
			so.MaxBackoff = 100 * time.Millisecond
		})
	})
	var wg sync.WaitGroup
	errs := make(chan error, 10)
	for range 10 {
		wg.Go(func() {
			_, err := retrying.GetQueryExecution(context.Background(), &athena.GetQueryExecutionInput{QueryExecutionId: &id})
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("retried call failed: %v", err)
		}
	}
	succeeded, throttled := en.emu.CallCounts("GetQueryExecution")
	if succeeded < 10 || throttled < 2 {
		t.Errorf("CallCounts = %d succeeded, %d throttled", succeeded, throttled)
	}
	var sawThrottleRecord bool
	for _, ev := range en.trail() {
		if strings.Contains(string(ev.Record), `"errorCode":"ThrottlingException"`) {
			sawThrottleRecord = true
		}
	}
	if !sawThrottleRecord {
		t.Error("no CloudTrail record of a throttled call")
	}
}

func TestAuthentication(t *testing.T) {
	t.Parallel()
	en := newEnv(t, fixedEngine)
	alice := en.emu.AddUser(acctA, "alice")
	wrongSecret := alice
	wrongSecret.SecretAccessKey = "not-the-secret"
	unknown := Credentials{AccessKeyID: "AKIAUNKNOWNUNKNOWN00", SecretAccessKey: "x"}

	tests := []struct {
		name       string
		creds      Credentials
		athenaCode string
		stsCode    string
	}{
		{"bad signature", wrongSecret, "InvalidSignatureException", "SignatureDoesNotMatch"},
		{"unknown key", unknown, "UnrecognizedClientException", "InvalidClientTokenId"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := en.athena("us-east-1", tt.creds).ListWorkGroups(context.Background(), &athena.ListWorkGroupsInput{})
			var apiErr smithy.APIError
			if !errors.As(err, &apiErr) || apiErr.ErrorCode() != tt.athenaCode {
				t.Errorf("athena error = %v, want %s", err, tt.athenaCode)
			}
			stsc := sts.NewFromConfig(en.config("us-east-1", tt.creds), func(o *sts.Options) { o.RetryMaxAttempts = 1 })
			_, err = stsc.GetCallerIdentity(context.Background(), &sts.GetCallerIdentityInput{})
			if !errors.As(err, &apiErr) || apiErr.ErrorCode() != tt.stsCode {
				t.Errorf("sts error = %v, want %s", err, tt.stsCode)
			}
		})
	}
	if n := len(en.trail()); n != 0 {
		t.Errorf("%d CloudTrail records for unauthenticated calls, want 0", n)
	}
}

func TestAssumeRole(t *testing.T) {
	t.Parallel()
	en := newEnv(t, fixedEngine)
	alice := en.emu.AddUser(acctA, "alice")
	roleARN := en.emu.AddRole(acctB, "analyst")
	stsc := sts.NewFromConfig(en.config("us-east-1", alice))
	out, err := stsc.AssumeRole(context.Background(), &sts.AssumeRoleInput{
		RoleArn: aws.String(roleARN), RoleSessionName: aws.String("alice-session"),
		SourceIdentity: aws.String("alice@example.com"), DurationSeconds: aws.Int32(900),
	})
	if err != nil {
		t.Fatalf("AssumeRole: %v", err)
	}
	if aws.ToString(out.AssumedRoleUser.Arn) != "arn:aws:sts::"+acctB+":assumed-role/analyst/alice-session" ||
		aws.ToString(out.SourceIdentity) != "alice@example.com" || !out.Credentials.Expiration.Equal(t0.Add(15*time.Minute)) {
		t.Fatalf("AssumeRole output = %+v %+v", out.AssumedRoleUser, out.Credentials)
	}
	temp := Credentials{
		AccessKeyID: aws.ToString(out.Credentials.AccessKeyId), SecretAccessKey: aws.ToString(out.Credentials.SecretAccessKey),
		SessionToken: aws.ToString(out.Credentials.SessionToken),
	}
	id := start(t, en.athena("us-east-1", temp), "SELECT 2")

	who, err := sts.NewFromConfig(en.config("us-east-1", temp)).GetCallerIdentity(context.Background(), &sts.GetCallerIdentityInput{})
	if err != nil || aws.ToString(who.Account) != acctB {
		t.Fatalf("GetCallerIdentity = %+v, %v", who, err)
	}

	var startRec map[string]any
	var assumeRecipients []string
	for _, ev := range en.trail() {
		switch ev.EventName {
		case "StartQueryExecution":
			if err := json.Unmarshal(ev.Record, &startRec); err != nil {
				t.Fatal(err)
			}
		case "AssumeRole":
			assumeRecipients = append(assumeRecipients, ev.Account)
		}
	}
	ui := startRec["userIdentity"].(map[string]any)
	sc := ui["sessionContext"].(map[string]any)
	issuer := sc["sessionIssuer"].(map[string]any)
	if ui["type"] != "AssumedRole" || ui["accountId"] != acctB || issuer["userName"] != "analyst" ||
		issuer["arn"] != roleARN || sc["sourceIdentity"] != "alice@example.com" || ui["accessKeyId"] != temp.AccessKeyID {
		t.Errorf("userIdentity = %v", ui)
	}
	if startRec["recipientAccountId"] != acctB {
		t.Errorf("recipientAccountId = %v", startRec["recipientAccountId"])
	}
	if strings.Join(assumeRecipients, ",") != acctA+","+acctB {
		t.Errorf("AssumeRole records went to %v, want caller and role account", assumeRecipients)
	}
	if truth := en.emu.Executions(); truth[0].Account != acctB || truth[0].QueryID != id {
		t.Errorf("ground truth = %+v", truth[0])
	}

	// Wrong token, then expiry.
	bad := temp
	bad.SessionToken = "forged"
	var apiErr smithy.APIError
	if _, err := en.athena("us-east-1", bad).ListWorkGroups(context.Background(), &athena.ListWorkGroupsInput{}); !errors.As(err, &apiErr) || apiErr.ErrorCode() != "UnrecognizedClientException" {
		t.Errorf("forged token: %v", err)
	}
	en.emu.SetNow(t0.Add(16 * time.Minute))
	if _, err := en.athena("us-east-1", temp).ListWorkGroups(context.Background(), &athena.ListWorkGroupsInput{}); !errors.As(err, &apiErr) || apiErr.ErrorCode() != "ExpiredTokenException" {
		t.Errorf("expired token: %v", err)
	}
	if _, err := stsc.AssumeRole(context.Background(), &sts.AssumeRoleInput{
		RoleArn: aws.String("arn:aws:iam::" + acctB + ":role/missing"), RoleSessionName: aws.String("x1"),
	}); !errors.As(err, &apiErr) || apiErr.ErrorCode() != "AccessDenied" {
		t.Errorf("unknown role: %v", err)
	}
}

func TestStopQueryExecution(t *testing.T) {
	t.Parallel()
	en := newEnv(t, fixedEngine)
	c := en.athena("us-east-1", en.emu.AddUser(acctA, "alice"))
	id := start(t, c, "SELECT * FROM big")
	done := start(t, c, "SELECT * FROM small")
	en.emu.SetNow(t0.Add(1100*time.Millisecond + 3*time.Second))
	if _, err := c.StopQueryExecution(context.Background(), &athena.StopQueryExecutionInput{QueryExecutionId: &id}); err != nil {
		t.Fatalf("StopQueryExecution: %v", err)
	}
	en.emu.SetNow(t0.Add(time.Minute))
	qe := got(t, c, id)
	if qe.Status.State != types.QueryExecutionStateCancelled || aws.ToInt64(qe.Statistics.EngineExecutionTimeInMillis) != 3000 ||
		!qe.Status.CompletionDateTime.Equal(t0.Add(4100*time.Millisecond)) {
		t.Errorf("stopped query = %s, engine %d ms, completed %v", qe.Status.State, aws.ToInt64(qe.Statistics.EngineExecutionTimeInMillis), qe.Status.CompletionDateTime)
	}
	// Stopping a finished query changes nothing.
	if _, err := c.StopQueryExecution(context.Background(), &athena.StopQueryExecutionInput{QueryExecutionId: &done}); err != nil {
		t.Fatalf("StopQueryExecution on final query: %v", err)
	}
	if st := got(t, c, done).Status.State; st != types.QueryExecutionStateSucceeded {
		t.Errorf("finished query state after stop = %s", st)
	}
	if truth := en.emu.Executions(); truth[0].Outcome.State != StateCancelled || truth[0].Outcome.DataScannedBytes != 3_333_333 {
		t.Errorf("ground truth = %+v", truth[0].Outcome)
	}
}

func TestListQueryExecutions(t *testing.T) {
	t.Parallel()
	en := newEnv(t, fixedEngine)
	alice := en.emu.AddUser(acctA, "alice")
	en.emu.AddWorkGroup(acctA, "us-east-1", "analysts", true)
	c := en.athena("us-east-1", alice)
	var want []string
	for i := range 7 {
		en.emu.SetNow(t0.Add(time.Duration(i) * time.Minute))
		want = append([]string{start(t, c, fmt.Sprintf("SELECT %d", i))}, want...)
	}
	if _, err := c.StartQueryExecution(context.Background(), &athena.StartQueryExecutionInput{
		QueryString: aws.String("SELECT 99"), WorkGroup: aws.String("analysts"),
	}); err != nil {
		t.Fatal(err)
	}
	var gotIDs []string
	pages := 0
	p := athena.NewListQueryExecutionsPaginator(c, &athena.ListQueryExecutionsInput{MaxResults: aws.Int32(3)})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatalf("ListQueryExecutions: %v", err)
		}
		pages++
		gotIDs = append(gotIDs, page.QueryExecutionIds...)
	}
	if strings.Join(gotIDs, ",") != strings.Join(want, ",") || pages != 3 {
		t.Errorf("listed %d pages %v, want newest first %v", pages, gotIDs, want)
	}
	other, err := c.ListQueryExecutions(context.Background(), &athena.ListQueryExecutionsInput{WorkGroup: aws.String("analysts")})
	if err != nil || len(other.QueryExecutionIds) != 1 {
		t.Errorf("analysts workgroup: %v, %v", other, err)
	}
	wgs, err := c.ListWorkGroups(context.Background(), &athena.ListWorkGroupsInput{})
	if err != nil || len(wgs.WorkGroups) != 2 || aws.ToString(wgs.WorkGroups[0].Name) != "analysts" {
		t.Errorf("ListWorkGroups = %+v, %v", wgs, err)
	}
	var provisioned bool
	for _, wg := range en.emu.WorkGroups() {
		provisioned = provisioned || wg.Name == "analysts" && wg.Provisioned
	}
	if !provisioned {
		t.Error("ground truth lost the provisioned flag")
	}
}

func TestGetQueryResults(t *testing.T) {
	t.Parallel()
	en := newEnv(t, fixedEngine)
	c := en.athena("us-east-1", en.emu.AddUser(acctA, "alice"))
	id := start(t, c, "SELECT n, label FROM t")
	_, err := c.GetQueryResults(context.Background(), &athena.GetQueryResultsInput{QueryExecutionId: &id})
	var invalid *types.InvalidRequestException
	if !errors.As(err, &invalid) || !strings.Contains(invalid.ErrorMessage(), "Current state: QUEUED") {
		t.Fatalf("results of queued query: %v", err)
	}
	en.emu.SetNow(t0.Add(time.Minute))
	var rows []types.Row
	p := athena.NewGetQueryResultsPaginator(c, &athena.GetQueryResultsInput{QueryExecutionId: &id, MaxResults: aws.Int32(2)})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatalf("GetQueryResults: %v", err)
		}
		if len(page.ResultSet.ResultSetMetadata.ColumnInfo) != 2 {
			t.Fatalf("columns = %+v", page.ResultSet.ResultSetMetadata.ColumnInfo)
		}
		rows = append(rows, page.ResultSet.Rows...)
	}
	if len(rows) < 4 || aws.ToString(rows[0].Data[0].VarCharValue) != "n" || aws.ToString(rows[1].Data[0].VarCharValue) != "1" {
		t.Errorf("rows = %d, first %v", len(rows), rows[0].Data)
	}
}

func TestEngineRejection(t *testing.T) {
	t.Parallel()
	en := newEnv(t, EngineFunc(func(req QueryRequest) Outcome {
		return Outcome{RejectCode: "TooManyRequestsException", RejectMessage: "You have exceeded the limit for the number of queries you can run concurrently. Please reduce the number of concurrent queries submitted by this account. Contact customer support to request a concurrent query limit increase."}
	}))
	c := en.athena("us-east-1", en.emu.AddUser(acctA, "alice"))
	_, err := c.StartQueryExecution(context.Background(), &athena.StartQueryExecutionInput{QueryString: aws.String("SELECT 1")})
	var tooMany *types.TooManyRequestsException
	if !errors.As(err, &tooMany) || tooMany.Reason != types.ThrottleReasonConcurrentQueryLimitExceeded {
		t.Fatalf("error = %v, want TooManyRequestsException", err)
	}
	if n := len(en.emu.Executions()); n != 0 {
		t.Errorf("%d executions after a rejection", n)
	}
	tr := en.trail()
	if len(tr) != 1 || !strings.Contains(string(tr[0].Record), `"errorCode":"TooManyRequestsException"`) ||
		!strings.Contains(string(tr[0].Record), `"responseElements":null`) {
		t.Errorf("trail = %s", tr)
	}
}

func TestIdempotency(t *testing.T) {
	t.Parallel()
	en := newEnv(t, fixedEngine)
	c := en.athena("us-east-1", en.emu.AddUser(acctA, "alice"))
	token := "0123456789abcdef0123456789abcdef"
	ids := map[string]bool{}
	for range 2 {
		out, err := c.StartQueryExecution(context.Background(), &athena.StartQueryExecutionInput{QueryString: aws.String("SELECT 1"), ClientRequestToken: &token})
		if err != nil {
			t.Fatal(err)
		}
		ids[aws.ToString(out.QueryExecutionId)] = true
	}
	if len(ids) != 1 || len(en.emu.Executions()) != 1 {
		t.Errorf("same token gave %d ids, %d executions", len(ids), len(en.emu.Executions()))
	}
	_, err := c.StartQueryExecution(context.Background(), &athena.StartQueryExecutionInput{QueryString: aws.String("SELECT 2"), ClientRequestToken: &token})
	var invalid *types.InvalidRequestException
	if !errors.As(err, &invalid) {
		t.Errorf("changed parameters: %v", err)
	}
}

func TestStartServer(t *testing.T) {
	t.Parallel()
	emu := New(Options{})
	srv, err := emu.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	creds := emu.AddUser(acctA, "alice")
	c := athena.NewFromConfig(aws.Config{
		Region: "us-east-1", BaseEndpoint: aws.String(srv.URL),
		Credentials: credentials.NewStaticCredentialsProvider(creds.AccessKeyID, creds.SecretAccessKey, ""),
	})
	if _, err := c.StartQueryExecution(context.Background(), &athena.StartQueryExecutionInput{QueryString: aws.String("SELECT 1")}); err != nil {
		t.Fatalf("StartQueryExecution on real clock: %v", err)
	}
}
