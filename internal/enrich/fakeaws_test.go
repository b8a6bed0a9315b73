package enrich

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"golang.org/x/time/rate"
)

// fakeAWS is a tiny AWS endpoint for these tests: Athena's
// BatchGetQueryExecution over awsJson1.1 and STS AssumeRole over awsQuery,
// on one loopback HTTP server. It reads the SigV4 credential scope of each
// request to learn the region and the access key (hence the account) the
// SDK signed with; signatures are not checked.
type fakeAWS struct {
	t   *testing.T
	srv *httptest.Server

	mu sync.Mutex
	// queries by account, region, id.
	queries map[string]map[string]map[string]fakeQuery
	// keys maps an access key id to its account.
	keys map[string]string
	// roles maps a role ARN to the account it is in.
	roles map[string]string
	// transient makes an id come back unprocessed with a transient error
	// code this many more times.
	transient map[string]int
	// denied accounts get AccessDeniedException.
	denied map[string]bool
	// poison ids make the whole call fail with InvalidRequestException, as
	// Athena's own input checks do; rejectAll does so for every call.
	poison    map[string]bool
	rejectAll bool
	// loneRejected, when set, holds every answer that is not a rejection
	// until a call of a single id has been rejected.
	loneRejected     chan struct{}
	loneRejectedOnce sync.Once
	// serverErrors makes this many next Athena calls fail with HTTP 500
	// after reaching the server (the SDK retries them).
	serverErrors int
	// bucket, when set, throttles calls like Athena's API quota does.
	bucket *rate.Limiter
	// block, when set, holds every Athena call until the request's context
	// ends; stuck does so for the calls of some regions.
	block bool
	stuck map[string]bool

	calls     []fakeCall // successful BatchGetQueryExecution calls
	throttled int
	errored   int      // calls answered with a server error
	assumed   []string // role ARNs assumed
	sentIDs   map[string]bool
}

type fakeCall struct {
	Account, Region string
	IDs             []string
}

type fakeQuery struct {
	State     string
	Database  string
	WorkGroup string
	Query     string
	Bytes     int64
	EngineMs  int64
	Submitted time.Time
	Completed time.Time
	// Edit, when set, changes the QueryExecution's JSON before it is sent.
	Edit func(qe map[string]any)
}

const (
	baseAccount = "111111111111"
	baseKey     = "AKIDBASE"
)

func newFakeAWS(t *testing.T) *fakeAWS {
	t.Helper()
	f := &fakeAWS{
		t:         t,
		queries:   map[string]map[string]map[string]fakeQuery{},
		keys:      map[string]string{baseKey: baseAccount},
		roles:     map[string]string{},
		transient: map[string]int{},
		denied:    map[string]bool{},
		poison:    map[string]bool{},
		stuck:     map[string]bool{},
		sentIDs:   map[string]bool{},
	}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

// config returns an aws.Config with static base credentials pointing at the
// fake. It is built by hand so nothing from the machine's environment or
// profile files leaks into the tests.
func (f *fakeAWS) config() aws.Config {
	return aws.Config{
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider(baseKey, "base-secret", ""),
		BaseEndpoint: aws.String(f.srv.URL),
		HTTPClient:   lateBodyCheck{f.srv.Client()},
	}
}

// lateBodyCheck is an HTTP client that does, always, what net/http does
// when scheduling goes against it: after it wrote a request body of known
// length and handed the answer back, it reads the body once more to check
// it ended, after the SDK already closed it. If that read fails, net/http
// closes the connection under the answer, and so does lateBodyCheck: the
// answer's body fails on its first read.
type lateBodyCheck struct{ c *http.Client }

func (l lateBodyCheck) Do(req *http.Request) (*http.Response, error) {
	body := req.Body
	if body == nil || req.ContentLength <= 0 {
		return l.c.Do(req)
	}
	sent, err := io.ReadAll(io.LimitReader(body, req.ContentLength))
	if err != nil {
		return nil, err
	}
	out := req.Clone(req.Context())
	out.Body = io.NopCloser(bytes.NewReader(sent))
	resp, err := l.c.Do(out)
	if err != nil {
		return resp, err
	}
	resp.Body = &checkedBody{ReadCloser: resp.Body, check: func() error {
		_, err := io.Copy(io.Discard, body)
		return err
	}}
	return resp, nil
}

// checkedBody fails its reads once check failed, like a response body
// whose connection net/http closed.
type checkedBody struct {
	io.ReadCloser
	check   func() error
	checked bool
	err     error
}

func (b *checkedBody) Read(p []byte) (int, error) {
	if !b.checked {
		b.checked = true
		if err := b.check(); err != nil {
			b.err = fmt.Errorf("connection closed: request body check: %w", err)
		}
	}
	if b.err != nil {
		return 0, b.err
	}
	return b.ReadCloser.Read(p)
}

// addRole makes roleARN assumable; its sessions act in account.
func (f *fakeAWS) addRole(roleARN, account string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.roles[roleARN] = account
}

func (f *fakeAWS) addQuery(account, region, id string, q fakeQuery) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.queries[account] == nil {
		f.queries[account] = map[string]map[string]fakeQuery{}
	}
	if f.queries[account][region] == nil {
		f.queries[account][region] = map[string]fakeQuery{}
	}
	f.queries[account][region][id] = q
}

func (f *fakeAWS) snapshot() (calls []fakeCall, throttled int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]fakeCall(nil), f.calls...), f.throttled
}

var credentialScope = regexp.MustCompile(`Credential=([^/]+)/\d{8}/([^/]+)/([^/]+)/aws4_request`)

func (f *fakeAWS) serve(w http.ResponseWriter, r *http.Request) {
	m := credentialScope.FindStringSubmatch(r.Header.Get("Authorization"))
	if m == nil {
		writeJSONError(w, http.StatusForbidden, "MissingAuthenticationTokenException", "no SigV4 credential scope")
		return
	}
	key, region, service := m[1], m[2], m[3]
	switch {
	case service == "athena" && r.Header.Get("X-Amz-Target") == "AmazonAthena.BatchGetQueryExecution":
		f.batchGet(w, r, key, region)
	case service == "sts":
		f.sts(w, r, key)
	default:
		writeJSONError(w, http.StatusBadRequest, "UnknownOperationException", "unsupported: "+r.Header.Get("X-Amz-Target"))
	}
}

func writeJSONError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"__type": code, "message": msg})
}

func (f *fakeAWS) batchGet(w http.ResponseWriter, r *http.Request, key, region string) {
	var in struct{ QueryExecutionIds []string }
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		writeJSONError(w, http.StatusBadRequest, "SerializationException", err.Error())
		return
	}

	f.mu.Lock()
	block := f.block || f.stuck[region]
	f.mu.Unlock()
	if block {
		<-r.Context().Done()
		return
	}

	f.mu.Lock()
	gate := f.loneRejected
	poisoned := f.rejectAll
	for _, id := range in.QueryExecutionIds {
		poisoned = poisoned || f.poison[id]
	}
	f.mu.Unlock()
	if gate != nil && !poisoned {
		select {
		case <-gate:
		case <-r.Context().Done():
			return
		}
	}

	f.mu.Lock()
	defer f.mu.Unlock()
	account, ok := f.keys[key]
	if !ok {
		writeJSONError(w, http.StatusBadRequest, "UnrecognizedClientException", "The security token included in the request is invalid.")
		return
	}
	if f.serverErrors > 0 {
		f.serverErrors--
		f.errored++
		writeJSONError(w, http.StatusInternalServerError, "InternalServerException", "try again")
		return
	}
	if f.bucket != nil && !f.bucket.Allow() {
		f.throttled++
		writeJSONError(w, http.StatusBadRequest, "ThrottlingException", "Rate exceeded")
		return
	}
	if f.denied[account] {
		writeJSONError(w, http.StatusBadRequest, "AccessDeniedException", "not authorized to perform athena:BatchGetQueryExecution")
		return
	}
	ids := in.QueryExecutionIds
	if len(ids) < 1 || len(ids) > MaxBatch {
		f.t.Errorf("BatchGetQueryExecution with %d ids", len(ids))
		writeJSONError(w, http.StatusBadRequest, "InvalidRequestException", "QueryExecutionIds must have 1..50 members")
		return
	}
	for _, id := range ids {
		if f.rejectAll || f.poison[id] {
			if len(ids) == 1 && f.loneRejected != nil {
				f.loneRejectedOnce.Do(func() { close(f.loneRejected) })
			}
			w.Header().Set("Content-Type", "application/x-amz-json-1.1")
			w.WriteHeader(http.StatusBadRequest)
			_ = json.NewEncoder(w).Encode(map[string]string{
				"__type": "InvalidRequestException", "AthenaErrorCode": "INVALID_INPUT", "Message": "bad id " + id})
			return
		}
	}
	seen := map[string]bool{}
	for _, id := range ids {
		if seen[id] {
			f.t.Errorf("BatchGetQueryExecution with duplicate id %q", id)
		}
		seen[id] = true
		f.sentIDs[id] = true
	}
	f.calls = append(f.calls, fakeCall{Account: account, Region: region, IDs: ids})

	type unprocessed struct{ QueryExecutionId, ErrorCode, ErrorMessage string }
	out := struct {
		QueryExecutions              []map[string]any
		UnprocessedQueryExecutionIds []unprocessed
	}{QueryExecutions: []map[string]any{}, UnprocessedQueryExecutionIds: []unprocessed{}}
	for _, id := range ids {
		if f.transient[id] > 0 {
			f.transient[id]--
			out.UnprocessedQueryExecutionIds = append(out.UnprocessedQueryExecutionIds,
				unprocessed{id, "INTERNAL_FAILURE", "try again"})
			continue
		}
		q, ok := f.queries[account][region][id]
		if !ok {
			out.UnprocessedQueryExecutionIds = append(out.UnprocessedQueryExecutionIds,
				unprocessed{id, "INVALID_INPUT", fmt.Sprintf("QueryExecution %s was not found", id)})
			continue
		}
		qe := q.json(id)
		if q.Edit != nil {
			q.Edit(qe)
		}
		out.QueryExecutions = append(out.QueryExecutions, qe)
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	_ = json.NewEncoder(w).Encode(out)
}

func epoch(t time.Time) float64 { return float64(t.UnixMilli()) / 1000 }

func (q fakeQuery) json(id string) map[string]any {
	status := map[string]any{"State": q.State, "SubmissionDateTime": epoch(q.Submitted)}
	if !q.Completed.IsZero() {
		status["CompletionDateTime"] = epoch(q.Completed)
	}
	if q.State == "FAILED" {
		status["StateChangeReason"] = "TABLE_NOT_FOUND: line 1:15: Table does not exist"
		status["AthenaError"] = map[string]any{"ErrorCategory": 2, "ErrorType": 1301, "Retryable": false, "ErrorMessage": "TABLE_NOT_FOUND"}
	}
	return map[string]any{
		"QueryExecutionId":      id,
		"Query":                 q.Query,
		"StatementType":         "DML",
		"SubstatementType":      "SELECT",
		"QueryExecutionContext": map[string]any{"Database": q.Database, "Catalog": "awsdatacatalog"},
		"WorkGroup":             q.WorkGroup,
		"ResultConfiguration":   map[string]any{"OutputLocation": "s3://results/" + id + ".csv"},
		"EngineVersion":         map[string]any{"SelectedEngineVersion": "AUTO", "EffectiveEngineVersion": "Athena engine version 3"},
		"Status":                status,
		"Statistics": map[string]any{
			"DataScannedInBytes":               q.Bytes,
			"EngineExecutionTimeInMillis":      q.EngineMs,
			"TotalExecutionTimeInMillis":       q.EngineMs + 150,
			"QueryQueueTimeInMillis":           100,
			"QueryPlanningTimeInMillis":        40,
			"ServicePreProcessingTimeInMillis": 20,
			"ServiceProcessingTimeInMillis":    30,
			"ResultReuseInformation":           map[string]any{"ReusedPreviousResult": false},
		},
	}
}

// sts answers STS AssumeRole and GetCallerIdentity (awsQuery: a form in,
// XML out).
func (f *fakeAWS) sts(w http.ResponseWriter, r *http.Request, key string) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad STS request", http.StatusBadRequest)
		return
	}
	switch r.PostForm.Get("Action") {
	case "AssumeRole":
		f.assumeRole(w, r)
	case "GetCallerIdentity":
		f.mu.Lock()
		account, ok := f.keys[key]
		f.mu.Unlock()
		w.Header().Set("Content-Type", "text/xml")
		if !ok {
			w.WriteHeader(http.StatusForbidden)
			fmt.Fprint(w, `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>InvalidClientTokenId</Code><Message>The security token included in the request is invalid.</Message></Error><RequestId>1</RequestId></ErrorResponse>`)
			return
		}
		fmt.Fprintf(w, `<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult><Arn>arn:aws:iam::%s:user/athenawatch</Arn><UserId>AIDATEST</UserId><Account>%s</Account></GetCallerIdentityResult><ResponseMetadata><RequestId>1</RequestId></ResponseMetadata></GetCallerIdentityResponse>`, account, account)
	default:
		http.Error(w, "bad STS request", http.StatusBadRequest)
	}
}

// assumeRole answers STS AssumeRole with a session key that the fake maps to
// the role's account.
func (f *fakeAWS) assumeRole(w http.ResponseWriter, r *http.Request) {
	roleARN := r.PostForm.Get("RoleArn")
	f.mu.Lock()
	account, ok := f.roles[roleARN]
	if ok {
		f.assumed = append(f.assumed, roleARN)
		f.keys["ASIA"+account] = account
	}
	f.mu.Unlock()
	w.Header().Set("Content-Type", "text/xml")
	if !ok {
		w.WriteHeader(http.StatusForbidden)
		fmt.Fprintf(w, `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>cannot assume %s</Message></Error><RequestId>1</RequestId></ErrorResponse>`, roleARN)
		return
	}
	fmt.Fprintf(w, `<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <AssumeRoleResult>
    <Credentials>
      <AccessKeyId>ASIA%s</AccessKeyId>
      <SecretAccessKey>session-secret</SecretAccessKey>
      <SessionToken>session-token</SessionToken>
      <Expiration>%s</Expiration>
    </Credentials>
    <AssumedRoleUser>
      <Arn>arn:aws:sts::%s:assumed-role/reader/%s</Arn>
      <AssumedRoleId>AROATEST:%s</AssumedRoleId>
    </AssumedRoleUser>
  </AssumeRoleResult>
  <ResponseMetadata><RequestId>1</RequestId></ResponseMetadata>
</AssumeRoleResponse>`, account, time.Now().Add(time.Hour).UTC().Format(time.RFC3339), account,
		r.PostForm.Get("RoleSessionName"), r.PostForm.Get("RoleSessionName"))
}
