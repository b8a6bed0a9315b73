// Package bucket opens an S3 client for one bucket: in the bucket's own
// region, with path-style addressing for local and S3-compatible endpoints,
// and with retries fit for reading or writing many objects. The s3 source,
// the usage lake's export and the bill's reader share it.
package bucket

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// Options tune Open.
type Options struct {
	// Region is the bucket's region; "" finds it with HeadBucket (from the
	// configuration's region, us-east-1 when that is empty too).
	Region string
	// Timeout bounds HeadBucket; 0 is 30 seconds.
	Timeout time.Duration
	// Backoff replaces the SDK's retry delays (tests make them short).
	Backoff retry.BackoffDelayer
	Logger  *slog.Logger
}

// Open returns a client for bucket from cfg. S3 answers 503 SlowDown
// when a prefix is worked hard: the client retries with backoff, 5
// attempts, without the client-side retry quota that gives up early. A
// bucket in another region than asked is reached there; a policy that
// refuses HeadBucket (one scoped to a prefix) leaves the configured
// region, and the first real call tells whether access works.
func Open(ctx context.Context, cfg aws.Config, name string, o Options) (*s3.Client, error) {
	logger := o.Logger
	if logger == nil {
		logger = slog.Default()
	}
	cfg = cfg.Copy()
	cfg.Retryer = func() aws.Retryer {
		return retry.AddWithMaxAttempts(retry.NewStandard(func(so *retry.StandardOptions) {
			so.RateLimiter = ratelimit.None
			if o.Backoff != nil {
				so.Backoff = o.Backoff
			}
		}), 5)
	}
	region := o.Region
	if region == "" {
		region = cfg.Region
	}
	if region == "" {
		region = "us-east-1"
	}
	pathStyle := cfg.BaseEndpoint != nil || os.Getenv("AWS_ENDPOINT_URL_S3") != ""
	newClient := func(region string) *s3.Client {
		return s3.NewFromConfig(cfg, func(so *s3.Options) {
			so.Region = region
			so.UsePathStyle = pathStyle
		})
	}
	client := newClient(region)
	timeout := o.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	hctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	out, err := client.HeadBucket(hctx, &s3.HeadBucketInput{Bucket: aws.String(name)})
	if err != nil {
		var re *awshttp.ResponseError
		if errors.As(err, &re) && re.Response != nil {
			if r := re.Response.Header.Get("X-Amz-Bucket-Region"); r != "" && r != region && o.Region == "" {
				logger.Debug("bucket is in another region", slog.String("bucket", name), slog.String("region", r))
				return newClient(r), nil
			}
			switch re.HTTPStatusCode() {
			case http.StatusNotFound:
				return nil, fmt.Errorf("bucket %s does not exist", name)
			case http.StatusForbidden:
				logger.Debug("HeadBucket refused; going on in the configured region", slog.String("bucket", name), slog.String("region", region))
				return client, nil
			}
		}
		return nil, fmt.Errorf("reach bucket %s: %w", name, err)
	}
	if r := aws.ToString(out.BucketRegion); r != "" && r != region && o.Region == "" {
		return newClient(r), nil
	}
	return client, nil
}
