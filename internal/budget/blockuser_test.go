package budget

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"strings"
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

// TestBlockUsers: users over a block budget are denied StartQueryExecution
// in the emulator through IAM deny policies: an IAM user by its own
// inline policy, a person on a shared role by a deny on the role
// conditioned on their session's aws:userid (another person's session on
// that role still runs); a role IAM Identity Center manages is named as
// not blockable; the next period removes the policies.
func TestBlockUsers(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	const acct, region = "111111111111", "us-east-1"
	emu := awsemu.New(awsemu.Options{})
	srv := httptest.NewServer(emu)
	t.Cleanup(srv.Close)
	cfgOf := func(c awsemu.Credentials) aws.Config {
		return aws.Config{Region: region, BaseEndpoint: aws.String(srv.URL), Credentials: credentials.NewStaticCredentialsProvider(c.AccessKeyID, c.SecretAccessKey, c.SessionToken)}
	}
	alice, bob := emu.AddUser(acct, "alice"), emu.AddUser(acct, "bob")
	shared := emu.AddRole(acct, "analytics-app-bi")
	sso := emu.AddRole(acct, "AWSReservedSSO_Analyst_0123456789abcdef")
	session := func(roleARN, roleName, name string) (awsemu.Credentials, cloudtrail.Identity) {
		id := awsemu.Identity{Type: "AssumedRole", PrincipalID: "AROAEXAMPLE" + strings.ToUpper(roleName[:3]) + ":" + name,
			ARN: "arn:aws:sts::" + acct + ":assumed-role/" + roleName + "/" + name, AccountID: acct,
			SessionContext: &awsemu.SessionContext{SessionIssuer: &awsemu.SessionIssuer{Type: "Role", PrincipalID: "AROAEXAMPLE", ARN: roleARN, AccountID: acct, UserName: roleName}}}
		return emu.AddCredentials(id), cloudtrail.Identity{Type: "AssumedRole", PrincipalID: id.PrincipalID, ARN: id.ARN, AccountID: acct,
			IssuerType: "Role", IssuerUserName: roleName, IssuerARN: roleARN}
	}
	carol, carolID := session(shared, "analytics-app-bi", "carol")
	erin, _ := session(shared, "analytics-app-bi", "erin")
	_, daveID := session(sso, "AWSReservedSSO_Analyst_0123456789abcdef", "dave")
	denied := func(c awsemu.Credentials) bool {
		_, err := athena.NewFromConfig(cfgOf(c), func(o *athena.Options) { o.RetryMaxAttempts = 1 }).
			StartQueryExecution(ctx, &athena.StartQueryExecutionInput{QueryString: aws.String("SELECT 1")})
		var ae smithy.APIError
		if err != nil && !(errors.As(err, &ae) && ae.ErrorCode() == "AccessDeniedException") {
			t.Fatalf("start: %v", err)
		}
		return err != nil
	}

	f := newFixture(t, `
identity: {session_as_user: ["analytics-app-*"]}
budgets: [{name: users-day, scope: {user: "*"}, limit_usd: 1, period: day, action: block}]
`)
	day := time.Date(2026, 11, 18, 0, 0, 0, 0, time.UTC)
	add := func(id cloudtrail.Identity, n int, tib float64) {
		qid := fmt.Sprintf("u%d", len(f.qs))
		q := store.Query{Region: region, QueryID: qid, EventID: "e" + qid, EventTime: day.Add(time.Duration(n) * time.Hour), OwnerAccount: acct,
			StatsStatus: store.StatusFinal, Identity: id,
			Stats: store.Stats{State: "SUCCEEDED", StatementType: "DML", Workgroup: "primary", DataScannedBytes: int64(tib * (1 << 40))}}
		f.rules.Query(&q)
		f.qs = append(f.qs, q)
	}
	add(cloudtrail.Identity{Type: "IAMUser", UserName: "alice", ARN: "arn:aws:iam::" + acct + ":user/alice", AccountID: acct}, 1, 1)
	add(carolID, 2, 1)
	add(daveID, 3, 1)
	add(cloudtrail.Identity{Type: "IAMUser", UserName: "bob", ARN: "arn:aws:iam::" + acct + ":user/bob", AccountID: acct}, 4, 0.01)
	now := day.Add(10 * time.Hour)
	e := &Enforcer{Store: f.st, Stopper: &AthenaStopper{AWS: cfgOf(emu.AddUser(acct, "collector"))}, Now: func() time.Time { return now }}
	sum, err := e.Enforce(ctx, f.cfg.Budgets, f.evaluate(now))
	if err != nil || sum.Blocked != 2 || sum.Failed != 0 {
		t.Fatalf("block: %+v, %v", sum, err)
	}
	if !denied(alice) || !denied(carol) || denied(erin) || denied(bob) {
		t.Fatal("the deny policies do not apply to exactly alice and carol's session")
	}
	actions, _ := f.st.RecentActions(ctx, 10)
	var ssoNamed bool
	for _, a := range actions {
		ssoNamed = ssoNamed || strings.Contains(a.Outcome, "IAM Identity Center manages role")
	}
	if !ssoNamed {
		t.Fatalf("dave's Identity Center role is not named as unblockable: %+v", actions)
	}
	now = day.Add(25 * time.Hour)
	if sum, err := e.Enforce(ctx, f.cfg.Budgets, f.evaluate(now)); err != nil || sum.Unblocked != 2 || denied(alice) || denied(carol) {
		t.Fatalf("next period: %+v, %v", sum, err)
	}
}
