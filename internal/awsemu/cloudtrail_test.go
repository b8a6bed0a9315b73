package awsemu

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/athena"
	"github.com/aws/aws-sdk-go-v2/service/athena/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// TestCloudTrailGolden runs a fixed sequence of calls and compares each
// CloudTrail record with testdata/cloudtrail/NN-EventName.json. The SDK's
// user agent (which names Go and SDK versions) is replaced by a placeholder;
// everything else is reproducible because ids come from a counter and the
// clock is frozen.
func TestCloudTrailGolden(t *testing.T) {
	t.Parallel()
	en := newEnv(t, fixedEngine)
	ctx := context.Background()
	alice := en.emu.AddUser(acctA, "alice")
	roleARN := en.emu.AddRole(acctA, "analytics-app")
	c := en.athena("us-east-1", alice)

	startOut, err := c.StartQueryExecution(ctx, &athena.StartQueryExecutionInput{
		QueryString:           aws.String("SELECT secret FROM t WHERE password = 'hunter2'"),
		QueryExecutionContext: &types.QueryExecutionContext{Database: aws.String("sales")},
		ClientRequestToken:    aws.String("aaaaaaaa-2222-3333-4444-555555555555"),
	})
	if err != nil {
		t.Fatal(err)
	}
	id := aws.ToString(startOut.QueryExecutionId)
	_, _ = c.StartQueryExecution(ctx, &athena.StartQueryExecutionInput{
		QueryString: aws.String("SELECT 1"), WorkGroup: aws.String("missing"),
		ClientRequestToken: aws.String("bbbbbbbb-2222-3333-4444-555555555555"),
	})
	en.emu.SetNow(t0.Add(time.Minute))
	if _, err := c.GetQueryExecution(ctx, &athena.GetQueryExecutionInput{QueryExecutionId: &id}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.BatchGetQueryExecution(ctx, &athena.BatchGetQueryExecutionInput{QueryExecutionIds: []string{id, "gone"}}); err != nil {
		t.Fatal(err)
	}
	out, err := sts.NewFromConfig(en.config("us-east-1", alice)).AssumeRole(ctx, &sts.AssumeRoleInput{
		RoleArn: aws.String(roleARN), RoleSessionName: aws.String("job-42"), SourceIdentity: aws.String("bob"),
	})
	if err != nil {
		t.Fatal(err)
	}
	temp := Credentials{aws.ToString(out.Credentials.AccessKeyId), aws.ToString(out.Credentials.SecretAccessKey), aws.ToString(out.Credentials.SessionToken)}
	if _, err := en.athena("us-east-1", temp).StartQueryExecution(ctx, &athena.StartQueryExecutionInput{
		QueryString:           aws.String("SELECT 3"),
		ClientRequestToken:    aws.String("11111111-2222-3333-4444-555555555555"),
		QueryExecutionContext: &types.QueryExecutionContext{Database: aws.String("logs"), Catalog: aws.String("AwsDataCatalog")},
		ResultConfiguration:   &types.ResultConfiguration{OutputLocation: aws.String("s3://results-bucket/athena/")},
	}); err != nil {
		t.Fatal(err)
	}
	sso := en.emu.AddCredentials(Identity{
		Type: "AssumedRole", PrincipalID: "AROAEXAMPLESSO:carol@example.com",
		ARN:       "arn:aws:sts::" + acctA + ":assumed-role/AWSReservedSSO_Analyst_0123456789abcdef/carol@example.com",
		AccountID: acctA,
		SessionContext: &SessionContext{
			SessionIssuer: &SessionIssuer{Type: "Role", PrincipalID: "AROAEXAMPLESSO",
				ARN:       "arn:aws:iam::" + acctA + ":role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_Analyst_0123456789abcdef",
				AccountID: acctA, UserName: "AWSReservedSSO_Analyst_0123456789abcdef"},
			WebIDFederationData: &struct{}{},
			Attributes:          &SessionAttributes{CreationDate: "2026-11-25T09:00:00Z", MFAAuthenticated: "false"},
		},
		OnBehalfOf: &OnBehalfOf{UserID: "94482488-3041-7026-18f3-be45837cd0e4", IdentityStoreARN: "arn:aws:identitystore::" + acctA + ":identitystore/d-1234567890"},
	})
	if _, err := en.athena("us-east-1", sso).StopQueryExecution(ctx, &athena.StopQueryExecutionInput{QueryExecutionId: &id}); err != nil {
		t.Fatalf("StopQueryExecution from another principal of the same account: %v", err)
	}

	records := en.trail()
	if len(records) != 7 {
		t.Fatalf("got %d records, want 7", len(records))
	}
	dir := filepath.Join("testdata", "cloudtrail")
	for i, ev := range records {
		var rec struct {
			EventID, EventName, RecipientAccountID, AWSRegion, UserAgent string
			TLSDetails                                                   struct{ ClientProvidedHostHeader string }
		}
		if err := json.Unmarshal(ev.Record, &rec); err != nil {
			t.Fatalf("record %d is not JSON: %v", i, err)
		}
		if rec.EventID != ev.EventID || rec.EventName != ev.EventName || rec.RecipientAccountID != ev.Account || rec.AWSRegion != ev.Region {
			t.Errorf("record %d: envelope %+v disagrees with record", i, ev)
		}
		// Keep the record's own member order; only the SDK's user agent and
		// the test server's port vary between runs.
		raw := bytes.Replace(ev.Record, jsonString(rec.UserAgent), jsonString("<sdk user agent>"), 1)
		raw = bytes.Replace(raw, jsonString(rec.TLSDetails.ClientProvidedHostHeader), jsonString("127.0.0.1:PORT"), 1)
		var indented bytes.Buffer
		if err := json.Indent(&indented, raw, "", "  "); err != nil {
			t.Fatal(err)
		}
		got := append(indented.Bytes(), '\n')
		name := filepath.Join(dir, twoDigits(i+1)+"-"+ev.EventName+".json")
		if *update {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(name, got, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(name)
		if err != nil {
			t.Fatalf("read golden %s (run with -update to create): %v", name, err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("record %d differs from %s:\n got: %s\nwant: %s", i+1, name, got, want)
		}
	}
}

func jsonString(s string) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

func twoDigits(n int) string {
	return string([]byte{byte('0' + n/10), byte('0' + n%10)})
}
