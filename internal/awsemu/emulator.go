// Package awsemu is a local AWS endpoint that the real AWS SDKs talk to: one
// http.Handler serves Athena (awsJson1.1) and STS (query protocol) on one
// address, as LocalStack does, dispatching on the SigV4 credential scope's
// service name. It verifies signatures, scopes every query execution to the
// account and region that started it, throttles per account, region and
// operation like Athena's API quotas, follows query state on its own clock,
// forgets executions after 45 days as Athena does, and writes for every call
// the CloudTrail record AWS would write. It keeps the ground truth
// (Executions) so tests can check what a client should have found out.
package awsemu

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Options configure an Emulator.
type Options struct {
	Logger *slog.Logger
	// Engine decides each query's fate; nil means DefaultEngine
	// (deterministic from a hash of the query text).
	Engine Engine
	// OnCloudTrail is called synchronously, before the response is written,
	// with the CloudTrail record of every call the emulator handled
	// (successful or failed, including throttled ones). nil discards records.
	OnCloudTrail func(ev CloudTrailEvent)
	// Latency delays every answer (see SetLatency).
	Latency time.Duration
}

// CloudTrailEvent is one CloudTrail record, with the fields a trail writer
// needs to file it (account, region, time) pulled out.
type CloudTrailEvent struct {
	Account, Region, EventID, EventName string
	Time                                time.Time
	Record                              []byte // one JSON object, as CloudTrail writes it
}

// Emulator is the set of emulated AWS services. Its zero value is not usable;
// call New.
type Emulator struct {
	log      *slog.Logger
	engine   Engine
	onTrail  func(CloudTrailEvent)
	services map[string]*service // by SigV4 credential scope service name

	clockMu sync.RWMutex
	frozen  time.Time

	mu         sync.Mutex
	keys       map[string]*principal // by access key id
	roles      map[string]*role      // by role ARN
	credSeq    int
	workgroups map[scopeKey]map[string]*WorkGroup
	// identityStores are Identity Center identity stores, by id.
	identityStores map[string]*identityStore
	topics         map[string]*snsTopic // by ARN
	// inline are IAM inline policies, by user or role ARN and name.
	inline map[string]map[string]policyDocument
	execs  map[scopeKey]map[string]*execution
	tokens map[scopeKey]map[string]*execution // by ClientRequestToken
	order  []*execution                       // every execution, in start order
	newID  func() string                      // UUIDs; tests replace it for reproducible goldens

	throttle *throttle
	latency  atomic.Int64 // nanoseconds; see SetLatency
	s3       *s3State

	// history is CloudTrail's event history (LookupEvents), by account
	// and region, in the order events happened.
	histMu  sync.Mutex
	history map[scopeKey][]historyEvent
}

// scopeKey is the account and region everything in Athena is scoped to.
type scopeKey struct{ account, region string }

// New returns an Emulator with no principals and the workgroup "primary" in
// every account and region.
func New(opts Options) *Emulator {
	e := &Emulator{
		log:            opts.Logger,
		engine:         opts.Engine,
		onTrail:        opts.OnCloudTrail,
		keys:           make(map[string]*principal),
		roles:          make(map[string]*role),
		workgroups:     make(map[scopeKey]map[string]*WorkGroup),
		execs:          make(map[scopeKey]map[string]*execution),
		tokens:         make(map[scopeKey]map[string]*execution),
		newID:          randomUUID,
		history:        make(map[scopeKey][]historyEvent),
		identityStores: make(map[string]*identityStore),
		topics:         make(map[string]*snsTopic),
		inline:         make(map[string]map[string]policyDocument),
		throttle:       newThrottle(),
	}
	e.latency.Store(int64(opts.Latency))
	if e.log == nil {
		e.log = slog.New(slog.DiscardHandler)
	}
	if e.engine == nil {
		e.engine = DefaultEngine
	}
	e.s3 = newS3State(e)
	e.services = map[string]*service{
		"athena":        athenaService(),
		"sts":           stsService(),
		"cloudtrail":    cloudTrailService(),
		"identitystore": identityStoreService(),
		"sns":           snsService(),
		"iam":           iamService(),
	}
	return e
}

// SetNow freezes the emulator clock at t; the zero time makes it follow the
// real clock again. Query states, submission times and CloudTrail eventTimes
// all come from this clock.
func (e *Emulator) SetNow(t time.Time) {
	e.clockMu.Lock()
	defer e.clockMu.Unlock()
	e.frozen = t
}

// Now is the emulator clock.
func (e *Emulator) Now() time.Time {
	e.clockMu.RLock()
	defer e.clockMu.RUnlock()
	if !e.frozen.IsZero() {
		return e.frozen
	}
	return time.Now().UTC()
}

// Server is an Emulator listening on a TCP address.
type Server struct {
	// URL is the base endpoint, e.g. http://127.0.0.1:41234, for the SDK's
	// BaseEndpoint or AWS_ENDPOINT_URL.
	URL string
	srv *http.Server
	ln  net.Listener
}

// Start serves the emulator on addr ("127.0.0.1:0" picks a free port).
func (e *Emulator) Start(addr string) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", addr, err)
	}
	s := &Server{
		URL: "http://" + ln.Addr().String(),
		srv: &http.Server{Handler: e, ReadHeaderTimeout: 10 * time.Second},
		ln:  ln,
	}
	go func() {
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			e.log.Error("emulator server stopped", slog.String("addr", s.URL), slog.Any("err", err))
		}
	}()
	return s, nil
}

// Close stops the server and closes its connections.
func (s *Server) Close() error {
	if err := s.srv.Close(); err != nil {
		return fmt.Errorf("close emulator server %s: %w", s.URL, err)
	}
	return nil
}

// AddWorkGroup creates a workgroup in an account and region without an
// API call (and so without a CloudTrail record); clients create theirs with
// CreateWorkGroup. provisioned marks it as running on provisioned capacity
// (ground truth for cost models; the Athena API does not show it).
func (e *Emulator) AddWorkGroup(account, region, name string, provisioned bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.workgroupsLocked(account, region)[name] = &WorkGroup{
		Account: account, Region: region, Name: name, Provisioned: provisioned, Created: e.Now(),
		config: workGroupConfigJSON{EngineVersion: engineVersion()},
	}
}

// AssignCapacity puts an existing workgroup on provisioned capacity, as a
// capacity reservation's assignment does on Athena: its queries then report
// a DpuCount. It reports whether the workgroup exists.
func (e *Emulator) AssignCapacity(account, region, name string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	wg, ok := e.workgroupsLocked(account, region)[name]
	if ok {
		wg.Provisioned = true
	}
	return ok
}

// workgroupsLocked returns the workgroups of an account-region, creating
// "primary" on first use as AWS does for every account.
func (e *Emulator) workgroupsLocked(account, region string) map[string]*WorkGroup {
	k := scopeKey{account, region}
	wgs := e.workgroups[k]
	if wgs == nil {
		wgs = map[string]*WorkGroup{
			primaryWorkGroup: {Account: account, Region: region, Name: primaryWorkGroup, Created: primaryCreated,
				config: workGroupConfigJSON{EngineVersion: engineVersion()}},
		}
		e.workgroups[k] = wgs
	}
	return wgs
}

// WorkGroups lists every workgroup of every account and region that has
// been used, "primary" included (ground truth).
func (e *Emulator) WorkGroups() []WorkGroup {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []WorkGroup
	for _, wgs := range e.workgroups {
		for _, wg := range wgs {
			out = append(out, *wg)
		}
	}
	return out
}

// Executions returns every query ever started, in all accounts and regions,
// in start order, including those Athena has forgotten.
func (e *Emulator) Executions() []Execution {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]Execution, 0, len(e.order))
	for _, x := range e.order {
		out = append(out, x.truth())
	}
	return out
}

// maxBody bounds a request body: Athena's largest input is a 256 KiB query.
const maxBody = 4 << 20

// ServeHTTP handles one AWS API call.
func (e *Emulator) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w = e.delayed(w, r)
	if a, ok := parseAuthorization(r.Header.Get("Authorization")); ok && a.service == "s3" {
		// S3 bodies are objects, not API documents: streamed, never read whole here.
		e.serveS3(w, r, a)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil || len(body) > maxBody {
		writeJSONError(w, "", &apiError{Code: "SerializationException", Message: "request body could not be read", Status: http.StatusBadRequest})
		return
	}
	a, ok := parseAuthorization(r.Header.Get("Authorization"))
	if !ok {
		writeJSONError(w, "", &apiError{Code: "MissingAuthenticationTokenException", Message: "Missing Authentication Token", Status: http.StatusForbidden})
		return
	}
	svc, ok := e.services[a.service]
	if !ok {
		writeJSONError(w, "", &apiError{Code: "UnknownServiceException", Message: fmt.Sprintf("service %q is not emulated", a.service), Status: http.StatusBadRequest})
		return
	}
	c := &call{e: e, r: r, body: body, svc: svc, region: a.region, requestID: e.newID()}
	op, apiErr := svc.protocol.operation(r, body)
	if apiErr != nil {
		svc.protocol.writeError(w, c, apiErr)
		return
	}
	c.op = op
	p, apiErr := e.authenticate(r, body, a, svc)
	if apiErr != nil {
		// CloudTrail does not record calls whose signature it cannot verify.
		e.log.Debug("rejected call", slog.String("op", op), slog.String("error", apiErr.Code))
		svc.protocol.writeError(w, c, apiErr)
		return
	}
	c.p, c.account, c.now = p, p.account, e.Now()
	opDef := svc.ops[op]

	var result any
	if !e.throttle.allow(c.account, c.region, op) {
		apiErr = svc.protocol.throttled()
		e.throttle.count(op, false)
	} else {
		result, err = opDef.handle(c)
		if err != nil {
			if !errors.As(err, &apiErr) {
				e.log.Error("emulated call failed", slog.String("op", op), slog.Any("err", err))
				apiErr = &apiError{Code: "InternalServerException", Message: "internal error", Status: http.StatusInternalServerError}
			}
		} else {
			e.throttle.count(op, true)
		}
	}
	e.recordCall(c, opDef, apiErr)
	if apiErr != nil {
		svc.protocol.writeError(w, c, apiErr)
		return
	}
	svc.protocol.writeResult(w, c, result)
}

// authenticate finds the principal behind the access key and checks the
// signature and, for temporary credentials, the session token and expiry.
func (e *Emulator) authenticate(r *http.Request, body []byte, a authHeader, svc *service) (*principal, *apiError) {
	e.mu.Lock()
	p := e.keys[a.accessKey]
	e.mu.Unlock()
	if p == nil {
		return nil, svc.protocol.authError(errUnknownKey)
	}
	if p.creds.SessionToken != "" && r.Header.Get("X-Amz-Security-Token") != p.creds.SessionToken {
		return nil, svc.protocol.authError(errUnknownKey)
	}
	if !verifySignature(r, body, a, p.creds) {
		return nil, svc.protocol.authError(errBadSignature)
	}
	if !p.expires.IsZero() && !e.Now().Before(p.expires) {
		return nil, svc.protocol.authError(errExpiredToken)
	}
	return p, nil
}

// call is one API call being handled.
type call struct {
	e         *Emulator
	r         *http.Request
	body      []byte
	svc       *service
	op        string
	p         *principal
	account   string
	region    string
	now       time.Time
	requestID string

	// What CloudTrail records of the call; handlers fill these in.
	requestParameters any
	responseElements  any
	resources         []trailResource
	// sharedWith is another account that also receives the record
	// (cross-account AssumeRole), with a sharedEventID linking the two.
	sharedWith string
}

// randomUUID returns a version 4 UUID.
func randomUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
