package awsemu

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// CloudTrail's event history: every management event the emulator records
// is kept per account and region, and LookupEvents answers from it as
// CloudTrail does: newest first, 50 events a page at most, one lookup
// attribute, the last 90 days, 2 calls per second per account and region.

// historyDays is how long CloudTrail's event history keeps an event.
const historyDays = 90

// historyEvent is one event of the history.
type historyEvent struct {
	id, name, source, username, accessKey string
	readOnly                              bool
	time                                  time.Time
	resources                             []trailResource
	record                                string
}

func cloudTrailService() *service {
	ops := map[string]operation{
		"LookupEvents": {readOnly: true, handle: cloudTrailLookupEvents},
	}
	return &service{
		eventSource: "cloudtrail.amazonaws.com",
		protocol:    jsonProtocol{targetPrefix: "CloudTrail_20131101", ops: ops},
		ops:         ops,
	}
}

// remember adds a record to the event history of its account and region.
func (e *Emulator) remember(rec *trailRecord, b []byte, t time.Time) {
	username := rec.UserIdentity.UserName
	if username == "" {
		if i := strings.LastIndexByte(rec.UserIdentity.ARN, '/'); i >= 0 {
			username = rec.UserIdentity.ARN[i+1:]
		} else if rec.UserIdentity.Type == "Root" {
			username = "root"
		}
	}
	ev := historyEvent{
		id: rec.EventID, name: rec.EventName, source: rec.EventSource, username: username,
		accessKey: rec.UserIdentity.AccessKeyID, readOnly: rec.ReadOnly, time: t,
		resources: rec.Resources, record: string(b),
	}
	k := scopeKey{rec.RecipientAccountID, rec.AWSRegion}
	e.histMu.Lock()
	defer e.histMu.Unlock()
	e.history[k] = append(e.history[k], ev)
}

type lookupAttribute struct {
	AttributeKey   string
	AttributeValue string
}

type lookupEventsRequest struct {
	LookupAttributes []lookupAttribute
	StartTime        *float64
	EndTime          *float64
	EventCategory    string
	MaxResults       *int
	NextToken        string
}

type lookupResource struct {
	ResourceType string `json:"ResourceType,omitempty"`
	ResourceName string `json:"ResourceName,omitempty"`
}

type lookupEvent struct {
	EventID         string           `json:"EventId"`
	EventName       string           `json:"EventName"`
	ReadOnly        string           `json:"ReadOnly"`
	AccessKeyID     string           `json:"AccessKeyId,omitempty"`
	EventTime       float64          `json:"EventTime"`
	EventSource     string           `json:"EventSource"`
	Username        string           `json:"Username,omitempty"`
	Resources       []lookupResource `json:"Resources"`
	CloudTrailEvent string           `json:"CloudTrailEvent"`
}

type lookupEventsResult struct {
	Events    []lookupEvent `json:"Events"`
	NextToken string        `json:"NextToken,omitempty"`
}

func cloudTrailError(code, msg string) *apiError {
	return &apiError{Code: code, Message: msg, Status: http.StatusBadRequest}
}

func epoch(v *float64) (time.Time, bool) {
	if v == nil {
		return time.Time{}, false
	}
	if math.IsNaN(*v) || math.IsInf(*v, 0) || *v < 0 || *v > 1e11 {
		return time.Time{}, false
	}
	sec, frac := math.Modf(*v)
	return time.Unix(int64(sec), int64(frac*1e9)).UTC(), true
}

func cloudTrailLookupEvents(c *call) (any, error) {
	var req lookupEventsRequest
	if len(c.body) > 0 {
		if err := json.Unmarshal(c.body, &req); err != nil {
			return nil, &apiError{Code: "SerializationException", Message: err.Error(), Status: http.StatusBadRequest}
		}
	}
	if len(req.LookupAttributes) > 1 {
		return nil, cloudTrailError("InvalidLookupAttributesException", "You cannot specify more than one lookup attribute.")
	}
	var match func(ev *historyEvent) bool
	if len(req.LookupAttributes) == 1 {
		a := req.LookupAttributes[0]
		v := a.AttributeValue
		switch a.AttributeKey {
		case "EventSource":
			match = func(ev *historyEvent) bool { return ev.source == v }
		case "EventName":
			match = func(ev *historyEvent) bool { return ev.name == v }
		case "EventId":
			match = func(ev *historyEvent) bool { return ev.id == v }
		case "Username":
			match = func(ev *historyEvent) bool { return ev.username == v }
		case "AccessKeyId":
			match = func(ev *historyEvent) bool { return ev.accessKey == v }
		case "ReadOnly":
			match = func(ev *historyEvent) bool { return strconv.FormatBool(ev.readOnly) == v }
		case "ResourceType", "ResourceName":
			match = func(ev *historyEvent) bool {
				for _, r := range ev.resources {
					if a.AttributeKey == "ResourceType" && r.Type == v || a.AttributeKey == "ResourceName" && r.ARN == v {
						return true
					}
				}
				return false
			}
		default:
			return nil, cloudTrailError("InvalidLookupAttributesException", fmt.Sprintf("Invalid attribute key %q.", a.AttributeKey))
		}
		if v == "" || len(v) > 2000 {
			return nil, cloudTrailError("InvalidLookupAttributesException", "The attribute value must be 1 to 2000 characters.")
		}
	}
	switch req.EventCategory {
	case "":
	case "insight":
		// No trail of the emulator has Insights enabled.
		return lookupEventsResult{Events: []lookupEvent{}}, nil
	default:
		return nil, cloudTrailError("InvalidEventCategoryException", fmt.Sprintf("Invalid event category %q.", req.EventCategory))
	}
	limit := 50
	if req.MaxResults != nil {
		if *req.MaxResults < 1 || *req.MaxResults > 50 {
			return nil, cloudTrailError("InvalidMaxResultsException", "MaxResults must be from 1 to 50.")
		}
		limit = *req.MaxResults
	}
	oldest := c.now.Add(-historyDays * 24 * time.Hour)
	start, end := oldest, c.now
	if t, ok := epoch(req.StartTime); ok {
		start = t
	} else if req.StartTime != nil {
		return nil, cloudTrailError("InvalidTimeRangeException", "StartTime is not a valid time.")
	}
	if t, ok := epoch(req.EndTime); ok {
		end = t
	} else if req.EndTime != nil {
		return nil, cloudTrailError("InvalidTimeRangeException", "EndTime is not a valid time.")
	}
	if start.After(end) {
		return nil, cloudTrailError("InvalidTimeRangeException", "StartTime is after EndTime.")
	}
	// A token names the position in one lookup: the same attributes and
	// times must come with it.
	params := fmt.Sprintf("%v|%d|%d|%s", req.LookupAttributes, start.UnixNano(), end.UnixNano(), req.EventCategory)
	sum := sha256.Sum256([]byte(params))
	fingerprint := hex.EncodeToString(sum[:8])
	skip := 0
	if req.NextToken != "" {
		raw, err := base64.RawURLEncoding.DecodeString(req.NextToken)
		fp, pos, ok := strings.Cut(string(raw), ":")
		n, perr := strconv.Atoi(pos)
		if err != nil || !ok || fp != fingerprint || perr != nil || n < 0 {
			return nil, cloudTrailError("InvalidNextTokenException", "Invalid NextToken.")
		}
		skip = n
	}
	e := c.e
	e.histMu.Lock()
	hist := e.history[scopeKey{c.account, c.region}]
	var page []lookupEvent
	more := false
	matched := 0
	for i := len(hist) - 1; i >= 0; i-- { // newest first
		ev := &hist[i]
		if ev.time.Before(start) || ev.time.After(end) || ev.time.Before(oldest) || (match != nil && !match(ev)) {
			continue
		}
		matched++
		if matched <= skip {
			continue
		}
		if len(page) == limit {
			more = true
			break
		}
		le := lookupEvent{
			EventID: ev.id, EventName: ev.name, ReadOnly: strconv.FormatBool(ev.readOnly), AccessKeyID: ev.accessKey,
			EventTime: float64(ev.time.Unix()), EventSource: ev.source, Username: ev.username,
			Resources: []lookupResource{}, CloudTrailEvent: ev.record,
		}
		for _, r := range ev.resources {
			le.Resources = append(le.Resources, lookupResource{ResourceType: r.Type, ResourceName: r.ARN})
		}
		page = append(page, le)
	}
	e.histMu.Unlock()
	res := lookupEventsResult{Events: page}
	if res.Events == nil {
		res.Events = []lookupEvent{}
	}
	if more {
		res.NextToken = base64.RawURLEncoding.EncodeToString([]byte(fingerprint + ":" + strconv.Itoa(skip+len(page))))
	}
	return res, nil
}
