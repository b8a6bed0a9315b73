package enrich

import (
	"errors"
	"net/http"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/athena"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
	awshttp "github.com/aws/smithy-go/transport/http"
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

// roleSessionName names athenawatch's sessions in the target accounts'
// CloudTrail, so its own calls are easy to tell apart.
const roleSessionName = "athenawatch"

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
		o.Retryer = newRetryer()
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
	roleARN, ok := e.opts.Roles[k.Account]
	if !ok || roleARN == "" {
		return e.cfg.Credentials
	}
	if c, ok := e.roleCreds[k.Account]; ok {
		return c
	}
	stsCfg := e.cfg.Copy()
	if stsCfg.Region == "" {
		// STS needs a region; without a configured one the query's region
		// (a regional STS endpoint) does as well as any.
		stsCfg.Region = k.Region
	}
	provider := stscreds.NewAssumeRoleProvider(sts.NewFromConfig(stsCfg), roleARN,
		func(o *stscreds.AssumeRoleOptions) { o.RoleSessionName = roleSessionName })
	c := aws.NewCredentialsCache(provider)
	e.roleCreds[k.Account] = c
	return c
}

// newRetryer returns the SDK retryer for Athena clients.
//
// Throttles are retried by Enrich itself, not by the SDK: Enrich's retry
// loop has to see every throttle to slow the adaptive limiter down, and the
// SDK's retries would spend calls outside the limiter (and its default retry
// quota would start failing requests outright after a burst of throttles).
// So throttle errors are marked not retryable here. The SDK still retries
// what its standard retryer retries besides throttles (HTTP 5xx, connection
// resets, timeouts) up to 3 attempts, which is safe because
// BatchGetQueryExecution only reads. Its client-side retry quota is off
// (ratelimit.None): the adaptive limiter is the one place that paces calls.
func newRetryer() aws.Retryer {
	return retry.NewStandard(func(o *retry.StandardOptions) {
		o.MaxAttempts = 3
		o.RateLimiter = ratelimit.None
		o.Retryables = append([]retry.IsErrorRetryable{
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
	var respErr *awshttp.ResponseError
	return errors.As(err, &respErr) && respErr.HTTPStatusCode() == http.StatusTooManyRequests
}
