// Package versitygw starts versitygw, a real S3 server, for tests: the s3
// source and the usage lake are tested against it as well as against the
// emulator, so that both meet an S3 implementation not written here.
package versitygw

import (
	"context"
	"crypto/rand"
	"encoding/hex"
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

// Version is the versitygw release make tools installs.
const Version = "v1.8.0"

// Find returns the versitygw binary: on PATH or where go install puts it.
// Under CI a missing one fails the test (make tools installs it);
// elsewhere the test is skipped.
func Find(t testing.TB) string {
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
		t.Fatal("no versitygw: install it (make tools, or go install github.com/versity/versitygw/cmd/versitygw@" + Version + ")")
	}
	t.Skip("no versitygw: go install github.com/versity/versitygw/cmd/versitygw@" + Version + " to run the test against a real S3 server")
	return ""
}

// Start runs versitygw on loopback with its posix backend, under random
// keys, creates buckets in it, and returns the AWS configuration that
// reaches it. The server stops when the test ends.
func Start(t testing.TB, buckets ...string) aws.Config {
	t.Helper()
	bin := Find(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	key := make([]byte, 16)
	rand.Read(key)
	access, secret := "AKIA"+strings.ToUpper(hex.EncodeToString(key[:8])), hex.EncodeToString(key)
	cmd := exec.Command(bin, "--access", access, "--secret", secret, "--port", addr, "--quiet", "posix", t.TempDir())
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
	deadline := time.Now().Add(30 * time.Second)
	for _, b := range buckets {
		for {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			_, err := client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(b)})
			cancel()
			if err == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("versitygw did not come up on %s: %v\n%s", addr, err, logs.String())
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	return cfg
}
