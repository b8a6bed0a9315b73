package awsemu

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// FuzzServeHTTP sends correctly signed requests with arbitrary bodies to every
// operation: the emulator must answer each with a well-formed status and
// never panic.
func FuzzServeHTTP(f *testing.F) {
	seeds := []struct{ target, body string }{
		{"AmazonAthena.StartQueryExecution", `{"QueryString":"SELECT 1","WorkGroup":"primary"}`},
		{"AmazonAthena.BatchGetQueryExecution", `{"QueryExecutionIds":["a","b"]}`},
		{"AmazonAthena.ListQueryExecutions", `{"NextToken":"!!","MaxResults":-1}`},
		{"AmazonAthena.GetQueryResults", `{"QueryExecutionId":"x","NextToken":"eyJpIjoieCIsIm8iOi01fQ"}`},
		{"AmazonAthena.GetQueryExecution", `[]`},
		{"AmazonAthena.ListWorkGroups", `{"":1}`},
		{"sts", "Action=AssumeRole&Version=2011-06-15&RoleArn=arn:aws:iam::111111111111:role/r&RoleSessionName=%00"},
	}
	for _, s := range seeds {
		f.Add(s.target, []byte(s.body))
	}
	emu := New(Options{OnCloudTrail: func(CloudTrailEvent) {}})
	creds := emu.AddUser(acctA, "fuzzer")
	emu.AddRole(acctA, "r")
	signer := v4.NewSigner()
	f.Fuzz(func(t *testing.T, target string, body []byte) {
		service := "athena"
		req := httptest.NewRequest(http.MethodPost, "http://127.0.0.1/", bytes.NewReader(body))
		if target == "sts" {
			service = "sts"
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		} else {
			req.Header.Set("X-Amz-Target", target)
			req.Header.Set("Content-Type", "application/x-amz-json-1.1")
		}
		sum := sha256.Sum256(body)
		err := signer.SignHTTP(context.Background(), aws.Credentials{AccessKeyID: creds.AccessKeyID, SecretAccessKey: creds.SecretAccessKey},
			req, hex.EncodeToString(sum[:]), service, "us-east-1", time.Now())
		if err != nil {
			t.Skip()
		}
		rec := httptest.NewRecorder()
		emu.ServeHTTP(rec, req)
		if target == "AmazonAthena.StartQueryExecution" && string(body) == `{"QueryString":"SELECT 1","WorkGroup":"primary"}` && rec.Code != http.StatusOK {
			t.Fatalf("valid seed refused: %d %s", rec.Code, rec.Body)
		}
		if rec.Code != http.StatusOK && (rec.Code < 400 || rec.Code > 599) {
			t.Fatalf("status %d for %s %q", rec.Code, target, body)
		}
	})
}
