package s3

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// findVersitygw is the versitygw binary: on PATH or where go install puts
// it. Under CI a missing one fails the test (make tools installs it).
func findVersitygw(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("versitygw"); err == nil {
		return p
	}
	gobin := os.Getenv("GOBIN")
	if gobin == "" {
		if out, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
			gobin = filepath.Join(strings.TrimSpace(string(out)), "bin")
		}
	}
	if p := filepath.Join(gobin, "versitygw"); gobin != "" {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("no versitygw: install it (make tools, or go install github.com/versity/versitygw/cmd/versitygw@v1.8.0)")
	}
	t.Skip("no versitygw: go install github.com/versity/versitygw/cmd/versitygw@v1.8.0 to run the test against a real S3 server")
	return ""
}

// newVersityBucket starts versitygw, a real S3 server, on loopback with
// its posix backend, and creates the trail bucket in it.
func newVersityBucket(t *testing.T) *bucketEnv {
	t.Helper()
	bin := findVersitygw(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	key := make([]byte, 16)
	rand.Read(key)
	access, secret := "AKIA"+strings.ToUpper(hex.EncodeToString(key[:8])), hex.EncodeToString(key)
	root := t.TempDir()
	cmd := exec.Command(bin, "--access", access, "--secret", secret, "--port", addr, "--quiet", "posix", root)
	var logs strings.Builder
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatalf("start versitygw: %v", err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	cfg := aws.Config{
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider(access, secret, ""),
		BaseEndpoint: aws.String("http://" + addr),
	}
	client := s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true })
	ctx := context.Background()
	deadline := time.Now().Add(30 * time.Second)
	for {
		cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		_, err := client.CreateBucket(cctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)})
		cancel()
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("versitygw did not come up on %s: %v\n%s", addr, err, logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	return &bucketEnv{t: t, cfg: cfg, client: client}
}

// TestVersitygw runs the s3 source against a real S3 server: an
// organization trail, incremental runs, late objects in an open day.
func TestVersitygw(t *testing.T) {
	t.Parallel()
	b := newVersityBucket(t)
	const region = "eu-west-1"
	want := 0
	for _, acct := range []string{"111111111111", "222222222222"} {
		for d := range 2 {
			for h := range 4 {
				ids := []string{fmt.Sprintf("%s-%d-%d-a", acct, d, h), fmt.Sprintf("%s-%d-%d-b", acct, d, h)}
				want += len(ids)
				b.putLog(acct, region, day1.AddDate(0, 0, d).Add(time.Duration(h)*time.Hour+7*time.Minute), fmt.Sprintf("V%d%d", d, h), ids...)
			}
		}
		b.put("AWSLogs/"+orgID+"/"+acct+"/CloudTrail-Digest/"+region+"/2026/11/20/"+acct+"_CloudTrail-Digest_"+region+"_org_"+region+"_20261120T010000Z.json.gz", `{}`)
	}
	b.put("AWSLogs/"+orgID+"/ConfigWritabilityCheckFile", "")
	col, _ := newCollector(t)
	src := b.source("")
	now := day1.Add(24*time.Hour + 5*time.Hour) // the second day is open
	src.Now = func() time.Time { return now }
	sum := collect(t, col, src)
	if sum.Objects != 16 || sum.NewQueries != want || sum.Ignored != 1 || sum.IgnoredPrefixes != 2 || sum.SkippedCount() != 0 {
		t.Fatalf("first collect: %+v", sum)
	}
	// A late object in the open day, sorting before its last key.
	b.putLog("111111111111", region, day1.Add(24*time.Hour+2*time.Hour+30*time.Minute), "LATE", "late-1")
	sum = collect(t, col, src)
	if sum.Objects != 1 || sum.NewQueries != 1 {
		t.Fatalf("late object: %+v", sum)
	}
	sum = collect(t, col, src)
	if sum.Objects != 0 || sum.NewQueries != 0 {
		t.Fatalf("unchanged bucket: %+v", sum)
	}
}
