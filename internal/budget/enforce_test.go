package budget

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/athena"

	"github.com/athenawatch/athenawatch/internal/awsemu"
	"github.com/athenawatch/athenawatch/internal/cloudtrail"
	"github.com/athenawatch/athenawatch/internal/store"
)

// TestStopEnforcement: a stop budget over its limit stops its scope's
// running queries in the emulator through the SDK, but an allowlisted
// user's; a dry run stops nothing and records what it would have done,
// once.
func TestStopEnforcement(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	emu := awsemu.New(awsemu.Options{Engine: awsemu.EngineFunc(func(awsemu.QueryRequest) awsemu.Outcome {
		return awsemu.Outcome{State: "SUCCEEDED", StatementType: "DML", DataScannedBytes: 1 << 30, QueueTime: time.Second, EngineTime: time.Hour}
	})})
	srv := httptest.NewServer(emu)
	t.Cleanup(srv.Close)
	const acct = "111111111111"
	at := time.Date(2026, 11, 18, 12, 0, 0, 0, time.UTC)
	emu.SetNow(at.Add(-time.Minute))
	cfgOf := func(c awsemu.Credentials) aws.Config {
		return aws.Config{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL), Credentials: credentials.NewStaticCredentialsProvider(c.AccessKeyID, c.SecretAccessKey, "")}
	}
	f := newFixture(t, `budgets: [{name: stop-users, scope: {user: "*"}, limit_usd: 1, action: stop, allow: [bob]}]`)
	// Both spent $5 today, and are running queries now.
	f.query("alice", at.Add(-3*time.Hour), 1, false)
	f.query("bob", at.Add(-3*time.Hour), 1, false)
	running := map[string]string{}
	for _, user := range []string{"alice", "alice", "bob"} {
		c := emu.AddUser(acct, user)
		client := athena.NewFromConfig(cfgOf(c))
		out, err := client.StartQueryExecution(ctx, &athena.StartQueryExecutionInput{QueryString: aws.String("SELECT * FROM big")})
		if err != nil {
			t.Fatal(err)
		}
		id := aws.ToString(out.QueryExecutionId)
		running[id] = user
		q := store.Query{Region: "us-east-1", QueryID: id, EventID: "e-" + id, EventTime: at.Add(-time.Minute), OwnerAccount: acct,
			Identity: cloudtrail.Identity{Type: "IAMUser", UserName: user, AccountID: acct}, StatsStatus: store.StatusPending}
		f.rules.Query(&q)
		f.qs = append(f.qs, q)
	}
	emu.SetNow(at)
	statuses := f.evaluate(at)
	collector := emu.AddUser(acct, "collector")
	state := func(id string) string {
		out, err := athena.NewFromConfig(cfgOf(collector)).GetQueryExecution(ctx, &athena.GetQueryExecutionInput{QueryExecutionId: aws.String(id)})
		if err != nil {
			t.Fatal(err)
		}
		return string(out.QueryExecution.Status.State)
	}

	dry := &Enforcer{Store: f.st, DryRun: true}
	if sum, err := dry.Enforce(ctx, f.cfg.Budgets, statuses); err != nil || sum.WouldStop != 2 || sum.Allowed != 1 || sum.Stopped != 0 {
		t.Fatalf("dry run: %+v, %v", sum, err)
	}
	if sum, _ := dry.Enforce(ctx, f.cfg.Budgets, statuses); sum.WouldStop != 0 {
		t.Fatalf("a second dry run recorded again: %+v", sum)
	}
	for id := range running {
		if s := state(id); s != "RUNNING" {
			t.Fatalf("a dry run changed %s to %s", id, s)
		}
	}

	e := &Enforcer{Store: f.st, Stopper: &AthenaStopper{AWS: cfgOf(collector)}}
	if sum, err := e.Enforce(ctx, f.cfg.Budgets, statuses); err != nil || sum.Stopped != 2 || sum.Allowed != 1 || sum.Failed != 0 {
		t.Fatalf("enforce: %+v, %v", sum, err)
	}
	for id, user := range running {
		want := "CANCELLED"
		if user == "bob" {
			want = "RUNNING"
		}
		if s := state(id); s != want {
			t.Errorf("%s's query %s is %s, want %s", user, id, s, want)
		}
	}
	actions, err := f.st.RecentActions(ctx, 10)
	if err != nil || len(actions) != 4 {
		t.Fatalf("actions %+v, %v", actions, err)
	}
	if a := actions[0]; a.DryRun || a.Outcome != "stopped" || a.Action != "stop" || a.Scope != "user=alice" {
		t.Fatalf("last action %+v", a)
	}
}
