package awsemu

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

func (en *env) s3(c Credentials, attempts int) *s3.Client {
	return s3.NewFromConfig(en.config("us-east-1", c), func(o *s3.Options) {
		o.UsePathStyle = true
		o.RetryMaxAttempts = attempts
	})
}

func TestS3(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	en := newEnv(t, nil)
	creds := en.emu.AddUser("111122223333", "trail-reader")
	c := en.s3(creds, 1)
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("trail")}); err != nil {
		t.Fatal(err)
	}
	// A body well over the emulator's limit for API documents.
	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<19)
	keys := []string{"AWSLogs/111122223333/CloudTrail/us-east-1/2026/11/25/b.json.gz", "AWSLogs/111122223333/CloudTrail/us-east-1/2026/11/25/a.json.gz", "AWSLogs/111122223333/CloudTrail-Digest/x"}
	for _, k := range keys {
		if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("trail"), Key: aws.String(k), Body: bytes.NewReader(big)}); err != nil {
			t.Fatalf("put %s: %v", k, err)
		}
	}

	t.Run("list", func(t *testing.T) {
		out, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("trail"), Prefix: aws.String("AWSLogs/111122223333/"), Delimiter: aws.String("/")})
		if err != nil {
			t.Fatal(err)
		}
		var prefixes []string
		for _, p := range out.CommonPrefixes {
			prefixes = append(prefixes, *p.Prefix)
		}
		if got := strings.Join(prefixes, ","); got != "AWSLogs/111122223333/CloudTrail-Digest/,AWSLogs/111122223333/CloudTrail/" {
			t.Fatalf("prefixes = %s", got)
		}
		out, err = c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("trail"), Prefix: aws.String("AWSLogs/111122223333/CloudTrail/us-east-1/2026/11/25/"),
			StartAfter: aws.String("AWSLogs/111122223333/CloudTrail/us-east-1/2026/11/25/a.json.gz")})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Contents) != 1 || !strings.HasSuffix(*out.Contents[0].Key, "/b.json.gz") || *out.Contents[0].Size != int64(len(big)) {
			t.Fatalf("StartAfter listing = %+v", out.Contents)
		}
	})

	get := func(c *s3.Client) ([]byte, error) {
		out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("trail"), Key: aws.String(keys[0])})
		if err != nil {
			return nil, err
		}
		defer out.Body.Close()
		return io.ReadAll(out.Body)
	}
	t.Run("get", func(t *testing.T) {
		b, err := get(c)
		if err != nil || !bytes.Equal(b, big) {
			t.Fatalf("get: %d bytes, %v", len(b), err)
		}
	})
	t.Run("slowdown", func(t *testing.T) {
		en.emu.SetS3Faults(S3Faults{SlowDownEvery: 1})
		defer en.emu.SetS3Faults(S3Faults{})
		_, err := get(c)
		var ae smithy.APIError
		if !errors.As(err, &ae) || ae.ErrorCode() != "SlowDown" {
			t.Fatalf("err = %v, want SlowDown", err)
		}
		// The SDK's retryer takes a 503 SlowDown as retryable.
		en.emu.SetS3Faults(S3Faults{SlowDownEvery: 2})
		b, err := get(en.s3(creds, 3))
		if err == nil {
			// First call succeeded (1 % 2 != 0); the second is refused, then retried.
			b, err = get(en.s3(creds, 3))
		}
		if err != nil || !bytes.Equal(b, big) {
			t.Fatalf("get with retries: %d bytes, %v", len(b), err)
		}
	})
	t.Run("reset", func(t *testing.T) {
		en.emu.SetS3Faults(S3Faults{ResetEvery: 1})
		defer en.emu.SetS3Faults(S3Faults{})
		b, err := get(c)
		if err == nil || len(b) >= len(big) {
			t.Fatalf("cut get: %d bytes, err %v; want a short body and an error", len(b), err)
		}
	})
	t.Run("signature", func(t *testing.T) {
		bad := creds
		bad.SecretAccessKey = "wrong"
		_, err := get(en.s3(bad, 1))
		var ae smithy.APIError
		if !errors.As(err, &ae) || ae.ErrorCode() != "SignatureDoesNotMatch" {
			t.Fatalf("err = %v, want SignatureDoesNotMatch", err)
		}
	})
	calls := en.emu.S3Calls()
	if calls[S3PutObject] != 3 || calls[S3GetObject] < 5 || calls[S3ListObjects] != 2 {
		t.Fatalf("calls = %v", calls)
	}
}

// TestS3BodiesWriteThemselves: an object's body from the in-memory backend
// is an io.WriterTo holding the object's bytes, whole or the range asked
// for, so that gofakes3's io.Copy writes it in one call rather than through
// a buffer of its own (a gofakes3 upgrade that changes how its backend
// wraps bodies fails here rather than making every GET slower).
func TestS3BodiesWriteThemselves(t *testing.T) {
	t.Parallel()
	b := newMemBackend(s3mem.New())
	if err := b.CreateBucket("b"); err != nil {
		t.Fatal(err)
	}
	data := []byte("0123456789abcdef")
	if _, err := b.PutObject("b", "k", map[string]string{}, bytes.NewReader(data), int64(len(data)), nil); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		rng  *gofakes3.ObjectRangeRequest
		want string
	}{
		{nil, string(data)},
		{&gofakes3.ObjectRangeRequest{Start: 2, End: 5}, "2345"},
	} {
		obj, err := b.GetObject("b", "k", tt.rng)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := obj.Contents.(io.WriterTo); !ok {
			t.Fatalf("body %T does not write itself out", obj.Contents)
		}
		var got bytes.Buffer
		if _, err := io.Copy(&got, obj.Contents); err != nil || got.String() != tt.want {
			t.Fatalf("body = %q, %v; want %q", got.String(), err, tt.want)
		}
		if err := obj.Contents.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// TestS3RefusesOversizedBodies: an upload whose declared length is more
// than the emulator keeps in memory, or not a length at all, is refused
// before gofakes3 allocates it, with what was wrong, escaped.
func TestS3RefusesOversizedBodies(t *testing.T) {
	t.Parallel()
	emu := New(Options{})
	creds := emu.AddUser("111122223333", "uploader")
	signer := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
	for _, tt := range []struct {
		name          string
		contentLength int64
		decoded       string
		want          string
	}{
		{"content length", maxS3Body + 1, "", "maximum allowed size"},
		{"decoded length", 10, strconv.Itoa(maxS3Body + 1), "is not a length"},
		{"negative decoded length", 10, "-1", "is not a length"},
		{"decoded length not a number", 10, "<x>", `&#34;&lt;x&gt;&#34; is not a length`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodPut, "http://127.0.0.1/trail/key", strings.NewReader("0123456789"))
			req.ContentLength = tt.contentLength
			req.Header.Set("X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD")
			if tt.decoded != "" {
				req.Header.Set("X-Amz-Decoded-Content-Length", tt.decoded)
			}
			err := signer.SignHTTP(context.Background(), aws.Credentials{AccessKeyID: creds.AccessKeyID, SecretAccessKey: creds.SecretAccessKey},
				req, "UNSIGNED-PAYLOAD", "s3", "us-east-1", time.Now())
			if err != nil {
				t.Fatal(err)
			}
			rec := httptest.NewRecorder()
			emu.ServeHTTP(rec, req)
			body := rec.Body.String()
			if rec.Code != http.StatusBadRequest || !strings.Contains(body, "<Code>EntityTooLarge</Code>") || !strings.Contains(body, tt.want) {
				t.Fatalf("answer %d %s; want 400 EntityTooLarge saying %q", rec.Code, body, tt.want)
			}
			if n := emu.S3Calls()[S3PutObject]; n != 0 {
				t.Fatalf("%d PutObject calls reached gofakes3", n)
			}
		})
	}
}
