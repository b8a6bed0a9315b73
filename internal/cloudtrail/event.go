// Package cloudtrail reads CloudTrail records (trail log files, LookupEvents
// CloudTrailEvent strings, EventBridge "AWS API Call via CloudTrail" envelopes),
// extracts the Athena query events athenawatch is built on, and applies the
// identity rules that turn a userIdentity into a user, role and account.
package cloudtrail

import "time"

// QueryEvent is one Athena StartQueryExecution call as CloudTrail recorded it.
// Every source yields QueryEvents; everything after a source is source-agnostic.
//
// A QueryEvent with an empty QueryID is a rejected submission: Athena answered
// the call with an error (ErrorCode) and no query ran. It is kept and counted
// separately, never as a query.
type QueryEvent struct {
	EventID   string    // eventID; the dedupe key of rejected submissions
	EventTime time.Time // eventTime, UTC
	Region    string    // awsRegion: the region the query ran in
	// RecipientAccount is recipientAccountId: the account that owns the query
	// execution and whose credentials can read it back from Athena.
	RecipientAccount string

	QueryID      string // responseElements.queryExecutionId; empty when rejected
	ErrorCode    string // errorCode of a rejected submission
	ErrorMessage string

	// Request parameters as CloudTrail recorded them. Since 2023 CloudTrail
	// writes ***OMITTED*** for the query string; QueryText is then empty and
	// the text comes from Athena at enrichment.
	QueryText          string
	Database           string // requestParameters.queryExecutionContext.database
	Catalog            string // requestParameters.queryExecutionContext.catalog
	Workgroup          string // requestParameters.workGroup; empty means the caller's default
	ClientRequestToken string

	SourceIPAddress string
	UserAgent       string

	Identity Identity
}

// Rejected reports whether the event is a submission Athena refused.
func (e *QueryEvent) Rejected() bool { return e.QueryID == "" }

// Identity is the part of a CloudTrail userIdentity that the identity rules
// read, kept raw so rules can be re-applied when configuration changes.
type Identity struct {
	Type        string // IAMUser, AssumedRole, Root, FederatedUser, SAMLUser, WebIdentityUser, AWSService, AWSAccount, ...
	PrincipalID string
	ARN         string
	AccountID   string
	UserName    string // userIdentity.userName (IAMUser, SAMLUser, WebIdentityUser)
	InvokedBy   string // userIdentity.invokedBy (AWSService)

	// Session issuer of temporary credentials (AssumedRole, FederatedUser).
	IssuerType     string // sessionContext.sessionIssuer.type, e.g. Role
	IssuerUserName string // sessionContext.sessionIssuer.userName: the role name
	IssuerARN      string // sessionContext.sessionIssuer.arn

	SourceIdentity string // sessionContext.sourceIdentity

	// IAM Identity Center trusted identity propagation.
	OnBehalfOfUserID           string // userIdentity.onBehalfOf.userId
	OnBehalfOfIdentityStoreARN string // userIdentity.onBehalfOf.identityStoreArn
}

// Principal is who ran a query after the identity rules were applied.
type Principal struct {
	User    string
	Role    string // the session issuer's userName for assumed roles; empty otherwise
	Account string // userIdentity.accountId
	ARN     string // the raw userIdentity.arn, always kept
}
