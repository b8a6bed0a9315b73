package awsemu

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net"
	"time"
)

// trailRecord is a CloudTrail management event record, its members in the
// order CloudTrail writes them (see the Athena records in the Athena User
// Guide's CloudTrail examples).
type trailRecord struct {
	EventVersion       string          `json:"eventVersion"`
	UserIdentity       Identity        `json:"userIdentity"`
	EventTime          string          `json:"eventTime"`
	EventSource        string          `json:"eventSource"`
	EventName          string          `json:"eventName"`
	AWSRegion          string          `json:"awsRegion"`
	SourceIPAddress    string          `json:"sourceIPAddress"`
	UserAgent          string          `json:"userAgent"`
	ErrorCode          string          `json:"errorCode,omitempty"`
	ErrorMessage       string          `json:"errorMessage,omitempty"`
	RequestParameters  any             `json:"requestParameters"`
	ResponseElements   any             `json:"responseElements"`
	RequestID          string          `json:"requestID"`
	EventID            string          `json:"eventID"`
	ReadOnly           bool            `json:"readOnly"`
	Resources          []trailResource `json:"resources,omitempty"`
	EventType          string          `json:"eventType"`
	ManagementEvent    bool            `json:"managementEvent"`
	RecipientAccountID string          `json:"recipientAccountId"`
	SharedEventID      string          `json:"sharedEventID,omitempty"`
	EventCategory      string          `json:"eventCategory"`
	TLSDetails         *tlsDetails     `json:"tlsDetails,omitempty"`
}

// trailResource is one entry of a record's resources list.
type trailResource struct {
	AccountID string `json:"accountId"`
	Type      string `json:"type"`
	ARN       string `json:"ARN"`
}

type tlsDetails struct {
	TLSVersion               string `json:"tlsVersion"`
	CipherSuite              string `json:"cipherSuite"`
	ClientProvidedHostHeader string `json:"clientProvidedHostHeader"`
}

// trailEventVersion is the record format version CloudTrail writes for
// management events today.
const trailEventVersion = "1.09"

// recordCall builds the CloudTrail record of a handled call and hands it to
// Options.OnCloudTrail (twice, with a sharedEventID, when the call also
// concerns another account).
func (e *Emulator) recordCall(c *call, op operation, apiErr *apiError) {
	id := c.p.id
	if id.Type != "AWSService" {
		id.AccessKeyID = c.p.creds.AccessKeyID
	}
	host, _, err := net.SplitHostPort(c.r.RemoteAddr)
	if err != nil {
		host = c.r.RemoteAddr
	}
	rec := trailRecord{
		EventVersion:       trailEventVersion,
		UserIdentity:       id,
		EventTime:          c.now.UTC().Format(time.RFC3339),
		EventSource:        c.svc.eventSource,
		EventName:          c.op,
		AWSRegion:          c.region,
		SourceIPAddress:    host,
		UserAgent:          c.r.UserAgent(),
		RequestParameters:  c.requestParameters,
		ResponseElements:   c.responseElements,
		RequestID:          c.requestID,
		EventID:            e.newID(),
		ReadOnly:           op.readOnly,
		Resources:          c.resources,
		EventType:          "AwsApiCall",
		ManagementEvent:    true,
		RecipientAccountID: c.account,
		EventCategory:      "Management",
		TLSDetails: &tlsDetails{
			TLSVersion:               "TLSv1.3",
			CipherSuite:              "TLS_AES_128_GCM_SHA256",
			ClientProvidedHostHeader: c.r.Host,
		},
	}
	if apiErr != nil {
		rec.ErrorCode, rec.ErrorMessage = apiErr.Code, apiErr.Message
		rec.ResponseElements = nil
	}
	if c.sharedWith != "" && c.sharedWith != c.account && apiErr == nil {
		rec.SharedEventID = e.newID()
		e.emit(rec)
		rec.RecipientAccountID = c.sharedWith
		rec.EventID = e.newID()
	}
	e.emit(rec)
}

func (e *Emulator) emit(rec trailRecord) {
	// CloudTrail does not HTML-escape <, > and & in strings.
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	err := enc.Encode(rec)
	b := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	if err != nil {
		e.log.Error("marshal CloudTrail record", slog.String("event", rec.EventName), slog.Any("err", err))
		return
	}
	t, _ := time.Parse(time.RFC3339, rec.EventTime)
	e.remember(&rec, b, t)
	if e.onTrail == nil {
		return
	}
	e.onTrail(CloudTrailEvent{
		Account: rec.RecipientAccountID, Region: rec.AWSRegion,
		EventID: rec.EventID, EventName: rec.EventName, Time: t, Record: b,
	})
}
