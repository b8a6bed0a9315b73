package enrich

import (
	"context"
	"errors"
	"fmt"
	"net"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// Reasons why athenawatch cannot tell which account its credentials belong
// to, or cannot call AWS at all. Access.Err wraps one of them, or another
// error STS answered with.
var (
	// ErrNoCredentials: the SDK's credential chain (environment,
	// profiles, SSO, instance or container roles) found no credentials.
	ErrNoCredentials = errors.New("no AWS credentials found")
	// ErrCredentialsRejected: STS refused the credentials (unknown key,
	// expired token, bad signature).
	ErrCredentialsRejected = errors.New("AWS STS rejected the credentials")
	// ErrSTSUnreachable: STS gave no answer (connection refused, DNS,
	// timeout).
	ErrSTSUnreachable = errors.New("AWS STS is unreachable")
)

// stsCredentialCodes are the STS error codes that mean the credentials
// themselves are refused.
var stsCredentialCodes = map[string]bool{
	"InvalidClientTokenId":        true,
	"ExpiredToken":                true,
	"SignatureDoesNotMatch":       true,
	"IncompleteSignature":         true,
	"UnrecognizedClientException": true,
	"AccessDenied":                true,
	"InvalidAccessKeyId":          true,
}

// Access is which accounts' queries athenawatch can read: the account its
// base credentials belong to, and the accounts the configuration names
// (Options.Accounts), with a role to assume or with the base credentials.
// Queries of any other account are never asked: with the wrong credentials
// Athena would call them unknown, and they would be marked no_stats for good.
type Access struct {
	// Home is the account of the base credentials; empty when Err is set.
	Home string
	// Err says why Home is unknown: it wraps ErrNoCredentials,
	// ErrCredentialsRejected, ErrSTSUnreachable or STS's own error.
	Err error

	accounts map[string]string
}

// NoCalls reports whether no call to AWS can succeed at all: there are no
// credentials, or STS rejected them (roles are assumed with them too).
func (a *Access) NoCalls() bool {
	return errors.Is(a.Err, ErrNoCredentials) || errors.Is(a.Err, ErrCredentialsRejected)
}

// Reachable reports whether account's queries can be asked about.
func (a *Access) Reachable(account string) bool {
	if a.NoCalls() {
		return false
	}
	if a.Home != "" && account == a.Home {
		return true
	}
	_, ok := a.accounts[account]
	return ok
}

// Access asks STS (GetCallerIdentity) which account the base credentials
// belong to. It never fails: what went wrong is in Access.Err.
func (e *Enricher) Access(ctx context.Context) Access {
	a := Access{accounts: e.opts.Accounts}
	if e.cfg.Credentials == nil {
		a.Err = fmt.Errorf("%w (the SDK's credential chain has no provider)", ErrNoCredentials)
		return a
	}
	rctx, cancel := context.WithTimeout(ctx, e.opts.Timeout)
	_, err := e.cfg.Credentials.Retrieve(rctx)
	cancel()
	if err != nil {
		if ctx.Err() != nil {
			a.Err = ctx.Err()
		} else {
			a.Err = fmt.Errorf("%w: %v", ErrNoCredentials, err)
		}
		return a
	}
	out, err := e.stsClient("us-east-1").GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err == nil && aws.ToString(out.Account) == "" {
		err = errors.New("STS GetCallerIdentity answered without an account")
	}
	if err != nil {
		a.Err = classifySTSError(err)
		return a
	}
	a.Home = aws.ToString(out.Account)
	return a
}

func classifySTSError(err error) error {
	var apiErr smithy.APIError
	var sendErr *smithyhttp.RequestSendError
	var timeoutErr *AttemptTimeoutError
	var netErr net.Error
	switch {
	case errors.As(err, &apiErr) && stsCredentialCodes[apiErr.ErrorCode()]:
		return fmt.Errorf("%w: %v", ErrCredentialsRejected, err)
	case errors.Is(err, context.Canceled):
		return err
	case errors.As(err, &sendErr), errors.As(err, &timeoutErr), errors.As(err, &netErr):
		return fmt.Errorf("%w: %v", ErrSTSUnreachable, err)
	}
	// STS answered, with something else than a verdict on the credentials.
	return fmt.Errorf("ask STS which account the AWS credentials belong to: %w", err)
}

// AccessError is a run of EnrichBacklog that could ask Athena about nothing
// because of the credentials or STS (Err wraps Access.Err): every pending
// query stays pending until credentials work.
type AccessError struct {
	Pending int // queries left pending
	Err     error
}

func (e *AccessError) Error() string {
	return fmt.Sprintf("cannot ask Athena for statistics: %v; %d queries stay pending", e.Err, e.Pending)
}

func (e *AccessError) Unwrap() error { return e.Err }
