package cloudtrail

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

const (
	athenaSource          = "athena.amazonaws.com"
	startQueryExecution   = "StartQueryExecution"
	insightEventType      = "AwsCloudTrailInsight"
	eventBridgeCloudTrail = "AWS API Call via CloudTrail"
	// omitted is what CloudTrail writes for the query string since 2023.
	omitted = "***OMITTED***"
)

// rawRecord is the part of a CloudTrail record that makes a QueryEvent.
type rawRecord struct {
	EventID            string             `json:"eventID"`
	EventTime          string             `json:"eventTime"`
	EventSource        string             `json:"eventSource"`
	EventName          string             `json:"eventName"`
	EventType          string             `json:"eventType"`
	AWSRegion          string             `json:"awsRegion"`
	RecipientAccountID string             `json:"recipientAccountId"`
	SourceIPAddress    string             `json:"sourceIPAddress"`
	UserAgent          string             `json:"userAgent"`
	ErrorCode          string             `json:"errorCode"`
	ErrorMessage       string             `json:"errorMessage"`
	UserIdentity       rawIdentity        `json:"userIdentity"`
	RequestParameters  *requestParameters `json:"requestParameters"`
	ResponseElements   *responseElements  `json:"responseElements"`
}

type requestParameters struct {
	QueryString           *string           `json:"queryString"`
	Query                 *string           `json:"query"` // the name in 2017-2019 records
	WorkGroup             string            `json:"workGroup"`
	ClientRequestToken    string            `json:"clientRequestToken"`
	QueryExecutionContext *executionContext `json:"queryExecutionContext"`
}

type executionContext struct {
	Database string `json:"database"`
	Catalog  string `json:"catalog"`
}

type responseElements struct {
	QueryExecutionID string `json:"queryExecutionId"`
}

type rawIdentity struct {
	Type           string `json:"type"`
	PrincipalID    string `json:"principalId"`
	ARN            string `json:"arn"`
	AccountID      string `json:"accountId"`
	UserName       string `json:"userName"`
	InvokedBy      string `json:"invokedBy"`
	SessionContext struct {
		SessionIssuer struct {
			Type     string `json:"type"`
			UserName string `json:"userName"`
			ARN      string `json:"arn"`
		} `json:"sessionIssuer"`
		SourceIdentity string `json:"sourceIdentity"`
	} `json:"sessionContext"`
	OnBehalfOf struct {
		UserID           string `json:"userId"`
		IdentityStoreARN string `json:"identityStoreArn"`
	} `json:"onBehalfOf"`
}

// recordKind is what parseRecord found.
type recordKind int

const (
	kindOther   recordKind = iota // valid JSON, not an Athena record
	kindInvalid                   // not valid JSON
	kindInsight                   // a CloudTrail Insights record
	kindAthena                    // an Athena record; a query event if the event is not nil
)

// parseRecord decodes one record. For kindAthena, ev is the query event of a
// StartQueryExecution (nil for other Athena calls) and err says why a
// StartQueryExecution record could not be used.
func parseRecord(data []byte) (ev *QueryEvent, kind recordKind, err error) {
	var rr rawRecord
	var typeErr error
	if !decodeRecord(data, &rr) {
		// Anything unusual is decoded by encoding/json, which also says
		// what is wrong.
		rr = rawRecord{}
		if err := json.Unmarshal(data, &rr); err != nil {
			// A field of an unexpected type does not stop encoding/json
			// from filling in the others, so the record can still be told
			// apart, and a query whose id and region are readable is kept.
			var te *json.UnmarshalTypeError
			if !errors.As(err, &te) {
				return nil, kindInvalid, err
			}
			typeErr = fmt.Errorf("decode StartQueryExecution record %s: %w", rr.EventID, err)
		}
	}
	switch {
	case rr.EventType == insightEventType:
		return nil, kindInsight, nil
	case rr.EventSource != athenaSource:
		return nil, kindOther, nil
	case rr.EventName != startQueryExecution:
		return nil, kindAthena, nil
	}
	ev = &QueryEvent{
		EventID:          rr.EventID,
		EventTime:        parseEventTime(rr.EventTime),
		Region:           rr.AWSRegion,
		RecipientAccount: rr.RecipientAccountID,
		ErrorCode:        rr.ErrorCode,
		ErrorMessage:     rr.ErrorMessage,
		SourceIPAddress:  rr.SourceIPAddress,
		UserAgent:        rr.UserAgent,
		Identity:         rr.UserIdentity.identity(),
	}
	if rr.ResponseElements != nil {
		ev.QueryID = rr.ResponseElements.QueryExecutionID
	}
	if p := rr.RequestParameters; p != nil {
		switch {
		case p.QueryString != nil:
			ev.QueryText = *p.QueryString
		case p.Query != nil:
			ev.QueryText = *p.Query
		}
		if ev.QueryText == omitted {
			ev.QueryText = ""
		}
		ev.Workgroup = p.WorkGroup
		ev.ClientRequestToken = p.ClientRequestToken
		if c := p.QueryExecutionContext; c != nil {
			ev.Database = c.Database
			ev.Catalog = c.Catalog
		}
	}
	if ev.QueryID == "" && ev.ErrorCode == "" {
		if typeErr != nil {
			return nil, kindAthena, typeErr
		}
		return nil, kindAthena, fmt.Errorf("StartQueryExecution record %s has neither a queryExecutionId nor an errorCode", rr.EventID)
	}
	if ev.Region == "" {
		// Region and id are the query's key, and Athena can only be asked
		// in the region the query ran in.
		return nil, kindAthena, fmt.Errorf("StartQueryExecution record %s has no awsRegion", rr.EventID)
	}
	if !ValidRegion(ev.Region) {
		// Stored, such a region would be asked about on every later run and
		// fail there for good (no endpoint can be built for it).
		return nil, kindAthena, fmt.Errorf("StartQueryExecution record %s: awsRegion %q is not an AWS region name", rr.EventID, ev.Region)
	}
	if ev.EventTime.IsZero() {
		// The event time places the query in reports and windows; one
		// without it would be counted under a made-up day.
		return nil, kindAthena, fmt.Errorf("StartQueryExecution record %s: missing or unreadable eventTime %q", rr.EventID, rr.EventTime)
	}
	// With a type error elsewhere the event is still good; the caller
	// reports the error as an issue and keeps the event.
	return ev, kindAthena, typeErr
}

func (ri rawIdentity) identity() Identity {
	return Identity{
		Type:                       ri.Type,
		PrincipalID:                ri.PrincipalID,
		ARN:                        ri.ARN,
		AccountID:                  ri.AccountID,
		UserName:                   ri.UserName,
		InvokedBy:                  ri.InvokedBy,
		IssuerType:                 ri.SessionContext.SessionIssuer.Type,
		IssuerUserName:             ri.SessionContext.SessionIssuer.UserName,
		IssuerARN:                  ri.SessionContext.SessionIssuer.ARN,
		SourceIdentity:             ri.SessionContext.SourceIdentity,
		OnBehalfOfUserID:           ri.OnBehalfOf.UserID,
		OnBehalfOfIdentityStoreARN: ri.OnBehalfOf.IdentityStoreARN,
	}
}

// eventTimeLayouts are tried in order. CloudTrail writes RFC 3339 in UTC;
// exporters (Athena over a trail table, SIEMs) write a space instead of the
// T and drop the zone. Go accepts a fractional second after the seconds
// field when parsing even if the layout has none.
var eventTimeLayouts = []string{
	time.RFC3339,
	"2006-01-02T15:04:05",
	"2006-01-02 15:04:05Z07:00",
	"2006-01-02 15:04:05",
}

// parseEventTime parses eventTime leniently; times without a zone are UTC.
// It returns the zero time for a missing or unreadable value.
func parseEventTime(s string) time.Time {
	s = strings.TrimSpace(s)
	for _, layout := range eventTimeLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC()
		}
	}
	return time.Time{}
}

// ParseRecord decodes one CloudTrail record object. ok is true when the
// record is an Athena StartQueryExecution that is a query or a rejected
// submission; then ev is its event. Other records, including other Athena
// calls and Insights records, give ok false and no error. err is not nil
// when data is not valid JSON or is a StartQueryExecution record that cannot
// be used: no query id nor error code, a missing or impossible awsRegion
// (see ValidRegion), a missing or unreadable eventTime.
func ParseRecord(data []byte) (ev *QueryEvent, ok bool, err error) {
	ev, kind, err := parseRecord(data)
	if kind == kindInvalid {
		return nil, false, fmt.Errorf("parse CloudTrail record: %w: %w", ErrBadInput, err)
	}
	if err != nil && ev == nil {
		return nil, false, fmt.Errorf("parse CloudTrail record: %w", err)
	}
	return ev, ev != nil, nil
}

// ParseLookupEvent decodes the CloudTrailEvent string of one event of a
// CloudTrail LookupEvents response, as ParseRecord does.
func ParseLookupEvent(cloudTrailEvent string) (*QueryEvent, bool, error) {
	return ParseRecord([]byte(cloudTrailEvent))
}

// ParseEventBridge decodes an EventBridge event (as delivered to SQS or a
// Lambda). An "AWS API Call via CloudTrail" event carries the record in
// detail and is decoded as ParseRecord does; other events give ok false.
func ParseEventBridge(data []byte) (*QueryEvent, bool, error) {
	var env struct {
		DetailType string          `json:"detail-type"`
		Detail     json.RawMessage `json:"detail"`
	}
	if err := json.Unmarshal(data, &env); err != nil {
		return nil, false, fmt.Errorf("parse EventBridge event: %w: %w", ErrBadInput, err)
	}
	if env.DetailType != eventBridgeCloudTrail || len(env.Detail) == 0 || env.Detail[0] != '{' {
		return nil, false, nil
	}
	return ParseRecord(env.Detail)
}
