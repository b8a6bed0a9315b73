package enrich

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/athena"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/athenawatch/athenawatch/internal/assume"
)

// groupKey is one account-region: the unit that has its own Athena client,
// credentials and API quota.
type groupKey struct {
	Account string
	Region  string
}

// target is what one account-region is asked with.
type target struct {
	client  *athena.Client
	limiter *adaptiveLimiter
}

// maxConnectTimeout bounds connecting (TCP and TLS) to an AWS endpoint
// when the attempt timeout is longer.
const maxConnectTimeout = 10 * time.Second

// target returns the client and limiter of an account-region, building them
// on first use. Clients and limiters live as long as the Enricher so that a
// limiter that learnt the account's quota keeps it across runs.
func (e *Enricher) target(k groupKey) *target {
	e.mu.Lock()
	defer e.mu.Unlock()
	if t, ok := e.targets[k]; ok {
		return t
	}
	creds := e.credentials(k)
	client := athena.NewFromConfig(e.cfg, func(o *athena.Options) {
		o.Region = k.Region
		o.Credentials = creds
		o.Retryer = newAthenaRetryer(e.sdkBackoff)
		o.HTTPClient = requestClient{c: o.HTTPClient, count: true}
	})
	t := &target{client: client, limiter: newAdaptiveLimiter(e.opts.Rate, e.opts.Burst)}
	e.targets[k] = t
	return t
}

// credentials returns the credentials for an account: an assumed role when
// the account is mapped to one, the base credentials otherwise. One cache per
// account is shared by all its regions, so a role is assumed once per
// session lifetime, not once per region. Must be called with e.mu held.
func (e *Enricher) credentials(k groupKey) aws.CredentialsProvider {
	roleARN := e.opts.Accounts[k.Account]
	if roleARN == "" {
		return e.cfg.Credentials
	}
	if c, ok := e.roleCreds[k.Account]; ok {
		return c
	}
	// STS needs a region; without a configured one the query's region (a
	// regional STS endpoint) does as well as any.
	c := assume.Role(e.stsClient(k.Region), roleARN)
	e.roleCreds[k.Account] = c
	return c
}

// stsClient returns an STS client for the base credentials, in the
// configured region or else in fallbackRegion. Its calls have the same
// per-attempt timeout as Athena's (e.cfg carries it).
func (e *Enricher) stsClient(fallbackRegion string) *sts.Client {
	return assume.STS(e.cfg, fallbackRegion, func(o *sts.Options) {
		o.Retryer = retry.NewStandard(func(o *retry.StandardOptions) {
			o.Retryables = append([]retry.IsErrorRetryable{retryAttemptTimeouts}, o.Retryables...)
		})
		o.HTTPClient = requestClient{c: o.HTTPClient}
	})
}

// withTimeouts returns cfg with a deadline on every attempt of every call
// made by clients built from it, and, when the HTTP client is the SDK's own
// (or none), with bounds on connecting and on waiting for response headers:
// an endpoint that accepts a connection and never answers must not hang a
// run. A caller's own HTTP client keeps its settings; the per-attempt
// deadline still bounds every call made through it.
func withTimeouts(cfg aws.Config, timeout time.Duration, idleConns int) aws.Config {
	cfg = cfg.Copy()
	cfg.APIOptions = append(cfg.APIOptions[:len(cfg.APIOptions):len(cfg.APIOptions)], func(s *middleware.Stack) error {
		m := attemptTimeout{timeout: timeout}
		if err := s.Finalize.Insert(m, "Retry", middleware.After); err != nil {
			// A stack without the SDK's retry middleware: bound the
			// whole call instead.
			return s.Finalize.Add(m, middleware.Before)
		}
		return nil
	})
	var b *awshttp.BuildableClient
	switch c := cfg.HTTPClient.(type) {
	case nil:
		b = awshttp.NewBuildableClient()
	case *awshttp.BuildableClient:
		b = c
	default:
		return cfg
	}
	connect := min(timeout, maxConnectTimeout)
	cfg.HTTPClient = b.
		WithDialerOptions(func(d *net.Dialer) { d.Timeout = connect }).
		WithTransportOptions(func(tr *http.Transport) {
			tr.TLSHandshakeTimeout = connect
			tr.ResponseHeaderTimeout = timeout
			// Overlapping calls to one endpoint reuse their connections
			// rather than open one per call.
			tr.MaxIdleConnsPerHost = max(tr.MaxIdleConnsPerHost, idleConns)
		})
	return cfg
}

// attemptTimeout is a Finalize middleware, after the retry middleware, that
// gives each attempt of a call its own deadline.
type attemptTimeout struct{ timeout time.Duration }

func (attemptTimeout) ID() string { return "athenawatch.AttemptTimeout" }

func (m attemptTimeout) HandleFinalize(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (
	middleware.FinalizeOutput, middleware.Metadata, error,
) {
	actx, cancel := context.WithTimeout(ctx, m.timeout)
	defer cancel()
	out, md, err := next.HandleFinalize(actx, in)
	if err != nil && ctx.Err() == nil && errors.Is(actx.Err(), context.DeadlineExceeded) {
		err = &AttemptTimeoutError{Timeout: m.timeout, Err: err}
	}
	return out, md, err
}

// AttemptTimeoutError is an AWS call attempt that got no complete answer
// within Options.Timeout. The SDK retries it like a dropped connection.
type AttemptTimeoutError struct {
	Timeout time.Duration
	Err     error
}

func (e *AttemptTimeoutError) Error() string {
	return fmt.Sprintf("no answer within %v: %v", e.Timeout, e.Err)
}

func (e *AttemptTimeoutError) Unwrap() error { return e.Err }

// retryAttemptTimeouts makes a timed-out attempt retryable. It must come
// before the SDK's own checks, which take the attempt's expired context for
// a cancelled call and would not retry it.
var retryAttemptTimeouts = retry.IsErrorRetryableFunc(func(err error) aws.Ternary {
	var te *AttemptTimeoutError
	if errors.As(err, &te) {
		return aws.TrueTernary
	}
	return aws.UnknownTernary
})

// newAthenaRetryer returns the SDK retryer for Athena clients.
//
// Throttles are retried by Enrich itself, not by the SDK: Enrich's retry
// loop has to see every throttle to slow the adaptive limiter down, and the
// SDK's retries would spend calls outside the limiter (and its default retry
// quota would start failing requests outright after a burst of throttles).
// So throttle errors are marked not retryable here. The SDK still retries
// what its standard retryer retries besides throttles (HTTP 5xx, connection
// resets, timed-out attempts) up to 3 attempts, which is safe because
// BatchGetQueryExecution only reads. Its client-side retry quota is off
// (ratelimit.None): the adaptive limiter is the one place that paces calls.
//
// backoff, when not nil, replaces the SDK's delay between attempts.
func newAthenaRetryer(backoff retry.BackoffDelayer) aws.Retryer {
	return retry.NewStandard(func(o *retry.StandardOptions) {
		o.MaxAttempts = 3
		if backoff != nil {
			o.Backoff = backoff
		}
		o.RateLimiter = ratelimit.None
		o.Retryables = append([]retry.IsErrorRetryable{
			retryAttemptTimeouts,
			retry.IsErrorRetryableFunc(func(err error) aws.Ternary {
				if isThrottle(err) {
					return aws.FalseTernary
				}
				return aws.UnknownTernary
			}),
		}, o.Retryables...)
	})
}

// throttleCodes are the error codes with which Athena refuses a call for
// rate: ThrottlingException ("Rate exceeded", HTTP 400) from the API request
// quota, and the modelled TooManyRequestsException.
var throttleCodes = map[string]bool{
	"ThrottlingException":      true,
	"TooManyRequestsException": true,
	"Throttling":               true,
	"RequestLimitExceeded":     true,
}

// isThrottle reports whether err is Athena refusing a call for rate.
func isThrottle(err error) bool {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) && throttleCodes[apiErr.ErrorCode()] {
		return true
	}
	var respErr *smithyhttp.ResponseError
	return errors.As(err, &respErr) && respErr.HTTPStatusCode() == http.StatusTooManyRequests
}

// requestClient is the HTTP client of athenawatch's AWS clients. It stands
// between the SDK and its HTTP client, once per attempt of every call.
//
// It hides the WriteTo method of request bodies. The SDK closes a request's
// body as soon as the answer's headers are back, and net/http, once it has
// written a body of known length, reads the body once more to check that it
// ended, which may come after that close. A plain Read of the SDK's closed
// body reports a clean end, but its WriteTo (which net/http prefers)
// reports io.EOF as an error: net/http then takes the request for failed
// and closes the connection under the answer being read, and the SDK sends
// the call again. Athena would count, and the quota pay for, a call that
// was answered.
//
// With count set, it also counts each request handed to the network in the
// counter its context carries (see withCallCounter), SDK retries included.
type requestClient struct {
	c     aws.HTTPClient
	count bool
}

func (c requestClient) Do(req *http.Request) (*http.Response, error) {
	if _, ok := req.Body.(io.WriterTo); ok {
		req = req.WithContext(req.Context()) // a copy: the SDK keeps its own
		req.Body = readOnlyBody{req.Body}
	}
	if c.count {
		if count, ok := req.Context().Value(callCounterKey{}).(func()); ok {
			count()
		}
	}
	return c.c.Do(req)
}

// readOnlyBody is a request body without WriteTo.
type readOnlyBody struct{ io.ReadCloser }

type callCounterKey struct{}

// withCallCounter returns ctx carrying count, which requestClient calls for
// every request of an Athena call it sends: Athena counts each one against
// the quota, the SDK's retries of dropped connections, server errors and
// timed-out attempts included.
func withCallCounter(ctx context.Context, count func()) context.Context {
	return context.WithValue(ctx, callCounterKey{}, count)
}
