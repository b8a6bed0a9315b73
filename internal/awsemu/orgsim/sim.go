package orgsim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/athena"
	athenatypes "github.com/aws/aws-sdk-go-v2/service/athena/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
	"golang.org/x/time/rate"

	"github.com/athenawatch/athenawatch/internal/awsemu"
)

// brokerUser is the IAM user in each account that assumes roles on behalf
// of the simulated people and jobs (standing in for the SSO portal, the BI
// tool's host and the schedulers).
const brokerUser = "session-broker"

// sessionDuration is how long the simulation's role sessions last; they are
// renewed on the emulator clock when they run out.
const sessionDuration = 12 * time.Hour

// Sim is one simulation: a plan, the emulator Engine that carries it out and
// the trail writer that receives the emulator's CloudTrail records. Build
// the emulator with EmulatorOptions (or Engine and OnCloudTrail), start it,
// then call Run.
type Sim struct {
	plan    *Plan
	byToken map[string]*PlannedQuery

	mu     sync.Mutex
	writer *TrailWriter
	// refusals are the eventIDs of refused StartQueryExecution calls by
	// ClientRequestToken, in call order: the key athenawatch dedupes
	// rejected submissions on.
	refusals map[string][]string
}

// New plans a simulation.
func New(cfg Config) *Sim {
	p := NewPlan(cfg)
	s := &Sim{plan: p, byToken: make(map[string]*PlannedQuery, len(p.Queries)), refusals: make(map[string][]string)}
	for _, q := range p.Queries {
		s.byToken[q.Token] = q
	}
	return s
}

// Plan is the simulation's schedule.
func (s *Sim) Plan() *Plan { return s.plan }

// Engine decides each query's outcome from its ClientRequestToken as planned;
// queries the simulation did not plan (someone using the emulator directly)
// get awsemu.DefaultEngine's outcome.
func (s *Sim) Engine() awsemu.Engine {
	return awsemu.EngineFunc(func(req awsemu.QueryRequest) awsemu.Outcome {
		if q := s.byToken[req.ClientRequestToken]; q != nil && req.ClientRequestToken != "" {
			return q.Outcome
		}
		return awsemu.DefaultEngine.Run(req)
	})
}

// OnCloudTrail files an emulator CloudTrail record into the trail while Run
// writes one; records outside Run are dropped.
func (s *Sim) OnCloudTrail(ev awsemu.CloudTrailEvent) {
	var refused struct {
		ErrorCode         string `json:"errorCode"`
		RequestParameters struct {
			ClientRequestToken string `json:"clientRequestToken"`
		} `json:"requestParameters"`
	}
	if ev.EventName == "StartQueryExecution" {
		// Only the few Athena starts are parsed; a record that does not
		// parse is simply not a refusal the simulation made.
		_ = json.Unmarshal(ev.Record, &refused)
	}
	s.mu.Lock()
	w := s.writer
	if refused.ErrorCode != "" && refused.RequestParameters.ClientRequestToken != "" {
		tok := refused.RequestParameters.ClientRequestToken
		s.refusals[tok] = append(s.refusals[tok], ev.EventID)
	}
	s.mu.Unlock()
	if w != nil {
		w.Add(ev)
	}
}

// EmulatorOptions are the emulator options that connect it to the simulation.
func (s *Sim) EmulatorOptions(logger *slog.Logger) awsemu.Options {
	return awsemu.Options{Logger: logger, Engine: s.Engine(), OnCloudTrail: s.OnCloudTrail}
}

// Query is the ground truth about one query execution the simulation
// started.
type Query struct {
	Region, QueryID, Account string
	// User, Role and Team are what athenawatch should attribute the query to
	// with the configuration of Result.ConfigYAML.
	User, Role, Team string
	// PrincipalARN is the userIdentity.arn CloudTrail records.
	PrincipalARN       string
	Database           string
	Workgroup          string
	QueryText          string
	ClientRequestToken string
	// State is the state at the end of the period (QUEUED or RUNNING for a
	// query still going then); FinalState is where it ends.
	State, FinalState string
	StatementType     string
	SubstatementType  string
	// DataScannedBytes is the final amount; a query still running at the end
	// reports less until it finishes.
	DataScannedBytes int64
	EngineTime       time.Duration
	Reused           bool
	// Provisioned marks a query in a provisioned-capacity workgroup;
	// DPUCount is the DpuCount Athena reports for it (0 otherwise).
	Provisioned bool
	DPUCount    float64
	Submitted   time.Time
	Completed   time.Time
	// NoStats marks a query older than Athena's 45-day history at the end of
	// the period: Athena no longer knows it.
	NoStats bool
}

// Rejection is the ground truth about one StartQueryExecution call that
// Athena refused: no query ran.
type Rejection struct {
	// EventID is the CloudTrail eventID of the refused call.
	EventID            string
	Region, Account    string
	User, Role, Team   string
	ErrorCode          string
	ErrorMessage       string
	ClientRequestToken string
	Time               time.Time
}

// Result is the ground truth of a run and what athenawatch needs to read
// the emulator back.
type Result struct {
	Config   Config
	Queries  []Query     // in submission order
	Rejected []Rejection // in time order
	Trail    TrailStats
	TrailDir string
	// ManagementAccount holds CollectorCredentials, the access key of the
	// IAM user athenawatch runs as.
	ManagementAccount    string
	CollectorCredentials awsemu.Credentials
	// ReaderRoles maps each member account to the role athenawatch assumes
	// there.
	ReaderRoles map[string]string
	// UserTeams maps every user to the team Result.ConfigYAML assigns it.
	UserTeams map[string]string
}

// Run registers the organization's principals and workgroups on emu, walks
// the emulator clock through the plan submitting each query with the AWS SDK
// against endpointURL, and writes the trail into trailDir. The emulator must
// have been built with the Sim's Engine and OnCloudTrail. Its clock is left
// frozen at the end of the period, where the ground truth's states hold.
func (s *Sim) Run(ctx context.Context, emu *awsemu.Emulator, endpointURL, trailDir string) (*Result, error) {
	cfg := s.plan.Config
	log := cfg.Logger
	w := NewTrailWriter(trailDir, TrailOptions{
		NoiseRatio: cfg.NoiseRatio, DuplicateRate: cfg.DuplicateRate, Seed: cfg.Seed, Logger: log,
	})
	s.mu.Lock()
	if s.writer != nil {
		s.mu.Unlock()
		return nil, errors.New("simulation is already running")
	}
	s.writer = w
	s.mu.Unlock()

	res, runErr := s.run(ctx, emu, endpointURL)

	s.mu.Lock()
	s.writer = nil
	s.mu.Unlock()
	stats, err := w.Close()
	if runErr != nil {
		return nil, runErr
	}
	if err != nil {
		return nil, fmt.Errorf("write trail to %s: %w", trailDir, err)
	}
	res.Trail = stats
	res.TrailDir = trailDir
	log.Info("simulation done", slog.Int("queries", len(res.Queries)), slog.Int("rejected", len(res.Rejected)),
		slog.Int("trail_files", stats.Files), slog.Int64("trail_records", stats.Records))
	return res, nil
}

// RunLocal starts an emulator on addr ("127.0.0.1:0" for any port) wired to a
// new simulation, and runs it. The caller closes the server.
func RunLocal(ctx context.Context, cfg Config, trailDir, addr string) (*Result, *awsemu.Emulator, *awsemu.Server, error) {
	s := New(cfg)
	emu := awsemu.New(s.EmulatorOptions(cfg.Logger))
	srv, err := emu.Start(addr)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("start emulator: %w", err)
	}
	res, err := s.Run(ctx, emu, srv.URL, trailDir)
	if err != nil {
		_ = srv.Close()
		return nil, nil, nil, err
	}
	return res, emu, srv, nil
}

type runner struct {
	sim      *Sim
	cfg      Config
	emu      *awsemu.Emulator
	endpoint string
	http     aws.HTTPClient
	log      *slog.Logger

	brokers  map[string]awsemu.Credentials // by account
	admins   map[string]awsemu.Credentials // by account
	static   map[string]awsemu.Credentials // by principal name (IAM users, TIP)
	sessions map[string]*session           // by principal name + session name
	clients  map[clientKey]*athena.Client
	limiters map[limiterKey]*rate.Limiter
	ids      map[*PlannedQuery]string
	arns     map[*PlannedQuery]string
	rejected []Rejection
}

type session struct {
	creds   awsemu.Credentials
	arn     string
	expires time.Time
}

type clientKey struct{ accessKey, region string }

type limiterKey struct{ account, region, op string }

func (s *Sim) run(ctx context.Context, emu *awsemu.Emulator, endpoint string) (*Result, error) {
	cfg := s.plan.Config
	r := &runner{
		sim: s,
		cfg: cfg, emu: emu, endpoint: endpoint, log: cfg.Logger,
		http:     awshttp.NewBuildableClient(),
		brokers:  make(map[string]awsemu.Credentials),
		admins:   make(map[string]awsemu.Credentials),
		static:   make(map[string]awsemu.Credentials),
		sessions: make(map[string]*session),
		clients:  make(map[clientKey]*athena.Client),
		limiters: make(map[limiterKey]*rate.Limiter),
		ids:      make(map[*PlannedQuery]string),
		arns:     make(map[*PlannedQuery]string),
	}
	res := r.register(s.plan.Org)
	// The platform team creates the workgroups an hour before the period,
	// so they exist before anyone's first query and are in the trail.
	emu.SetNow(cfg.Start.Add(-workgroupSetupLead))
	if err := r.createWorkGroups(ctx, s.plan.Org.Regions); err != nil {
		return nil, err
	}
	if !cfg.Paced {
		for op := range clientRates {
			emu.SetQuota(op, 0, 0)
		}
		defer func() {
			for op := range clientRates {
				emu.ResetQuota(op)
			}
		}()
	}

	type step struct {
		at   time.Time
		q    *PlannedQuery
		poll bool
	}
	steps := make([]step, 0, 2*len(s.plan.Queries))
	for _, q := range s.plan.Queries {
		steps = append(steps, step{at: q.Time, q: q})
		if !q.Rejected() {
			steps = append(steps, step{at: q.PollAt, q: q, poll: true})
		}
	}
	sort.SliceStable(steps, func(i, j int) bool { return steps[i].at.Before(steps[j].at) })
	for _, st := range steps {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		emu.SetNow(st.at)
		var err error
		if st.poll {
			err = r.poll(ctx, st.q)
		} else {
			err = r.submit(ctx, st.q)
		}
		if err != nil {
			return nil, err
		}
	}
	emu.SetNow(cfg.End)

	for _, q := range s.plan.Queries {
		id, ok := r.ids[q]
		if !ok {
			continue
		}
		res.Queries = append(res.Queries, groundTruth(cfg, q, id, r.arns[q]))
	}
	res.Rejected = r.rejected
	return res, nil
}

// workgroupSetupLead is how long before the period the workgroups are
// created.
const workgroupSetupLead = time.Hour

// createWorkGroups creates every workgroup but primary (which every account
// has) in every account and region, through the Athena API as the account's
// admin.
func (r *runner) createWorkGroups(ctx context.Context, regions []string) error {
	for _, a := range Accounts {
		for _, region := range regions {
			client := r.athenaClient(r.admins[a.ID], region)
			for _, wg := range Workgroups {
				if wg == "primary" {
					continue
				}
				_, err := client.CreateWorkGroup(ctx, &athena.CreateWorkGroupInput{
					Name:        aws.String(wg),
					Description: aws.String(workgroupDescriptions[wg]),
					Configuration: &athenatypes.WorkGroupConfiguration{
						ResultConfiguration: &athenatypes.ResultConfiguration{
							OutputLocation: aws.String("s3://acme-athena-results-" + a.ID + "-" + region + "/" + wg + "/"),
						},
						PublishCloudWatchMetricsEnabled: aws.Bool(true),
					},
				})
				if err != nil {
					return fmt.Errorf("create workgroup %s in %s %s: %w", wg, a.ID, region, err)
				}
				// Athena assigns capacity reservations with APIs the
				// emulator does not serve; the assignment is made directly.
				if wg == ProvisionedWorkgroup && !r.emu.AssignCapacity(a.ID, region, wg) {
					return fmt.Errorf("assign capacity to workgroup %s in %s %s: no such workgroup", wg, a.ID, region)
				}
			}
		}
	}
	return nil
}

var workgroupDescriptions = map[string]string{
	"analysts":           "Ad hoc analysis and dashboards",
	"etl":                "Scheduled transformation jobs",
	ProvisionedWorkgroup: "BI dashboards on provisioned capacity",
}

// register creates the organization's principals on the emulator, and
// athenawatch's own.
func (r *runner) register(org *Org) *Result {
	emu := r.emu
	res := &Result{
		Config:            r.cfg,
		ManagementAccount: ManagementAccount.ID,
		ReaderRoles:       make(map[string]string),
		UserTeams:         org.UserTeams(),
	}
	for _, a := range Accounts {
		r.brokers[a.ID] = emu.AddUser(a.ID, brokerUser)
		r.admins[a.ID] = emu.AddUser(a.ID, AdminUser)
		if a.Management {
			res.CollectorCredentials = emu.AddUser(a.ID, CollectorUser)
		} else {
			res.ReaderRoles[a.ID] = emu.AddRole(a.ID, ReaderRole)
		}
	}
	for _, p := range org.Principals {
		switch p.Kind {
		case KindIAMUser:
			r.static[p.Name] = emu.AddUser(p.Account, p.UserName)
		case KindTrustedIdentity:
			roleID := "AROA" + string(appendUpperAlnum(nil, newRand(p.Name), 17))
			arn := "arn:aws:sts::" + p.Account + ":assumed-role/" + p.RoleName + "/" + p.SessionName
			r.static[p.Name] = emu.AddCredentials(awsemu.Identity{
				Type:        "AssumedRole",
				PrincipalID: roleID + ":" + p.SessionName,
				ARN:         arn,
				AccountID:   p.Account,
				SessionContext: &awsemu.SessionContext{
					SessionIssuer: &awsemu.SessionIssuer{
						Type: "Role", PrincipalID: roleID, ARN: roleARN(p.Account, p.RoleName),
						AccountID: p.Account, UserName: p.RoleName,
					},
					Attributes: &awsemu.SessionAttributes{
						CreationDate: r.cfg.Start.Format(time.RFC3339), MFAAuthenticated: "false",
					},
				},
				OnBehalfOf: &awsemu.OnBehalfOf{UserID: p.OnBehalfOfUserID, IdentityStoreARN: IdentityStoreARN},
			})
			// The Identity Store of the management account names the user.
			emu.AddIdentityCenterUser(ManagementAccount.ID, IdentityStoreID, awsemu.IdentityCenterUser{
				UserID: p.OnBehalfOfUserID, UserName: p.User, DisplayName: p.DisplayName,
			})
		default:
			emu.AddRole(p.Account, p.RoleName)
		}
	}
	return res
}

func (r *runner) awsConfig(region string, c awsemu.Credentials) aws.Config {
	return aws.Config{
		Region:       region,
		Credentials:  credentials.NewStaticCredentialsProvider(c.AccessKeyID, c.SecretAccessKey, c.SessionToken),
		BaseEndpoint: aws.String(r.endpoint),
		HTTPClient:   r.http,
		// The simulation retries by itself so that it sees, and records,
		// every refused call.
		Retryer: func() aws.Retryer { return aws.NopRetryer{} },
	}
}

// credentialsFor returns the credentials q runs with, assuming its role
// when no unexpired session exists on the emulator clock.
func (r *runner) credentialsFor(ctx context.Context, q *PlannedQuery) (awsemu.Credentials, string, error) {
	p := q.Principal
	if c, ok := r.static[p.Name]; ok {
		arn := "arn:aws:iam::" + p.Account + ":user/" + p.UserName
		if p.Kind == KindTrustedIdentity {
			arn = "arn:aws:sts::" + p.Account + ":assumed-role/" + p.RoleName + "/" + p.SessionName
		}
		return c, arn, nil
	}
	key := p.Name + "/" + q.SessionName
	now := r.emu.Now()
	if s := r.sessions[key]; s != nil && now.Add(time.Minute).Before(s.expires) {
		return s.creds, s.arn, nil
	}
	client := sts.NewFromConfig(r.awsConfig(q.Region, r.brokers[p.Account]))
	in := &sts.AssumeRoleInput{
		RoleArn:         aws.String(roleARN(p.Account, p.RoleName)),
		RoleSessionName: aws.String(q.SessionName),
		DurationSeconds: aws.Int32(int32(sessionDuration / time.Second)),
	}
	if p.SourceIdentity != "" {
		in.SourceIdentity = aws.String(p.SourceIdentity)
	}
	out, err := client.AssumeRole(ctx, in)
	if err != nil {
		return awsemu.Credentials{}, "", fmt.Errorf("assume role %s as %s: %w", p.RoleName, q.SessionName, err)
	}
	s := &session{
		creds: awsemu.Credentials{
			AccessKeyID:     aws.ToString(out.Credentials.AccessKeyId),
			SecretAccessKey: aws.ToString(out.Credentials.SecretAccessKey),
			SessionToken:    aws.ToString(out.Credentials.SessionToken),
		},
		arn:     aws.ToString(out.AssumedRoleUser.Arn),
		expires: aws.ToTime(out.Credentials.Expiration),
	}
	r.sessions[key] = s
	return s.creds, s.arn, nil
}

func (r *runner) athenaClient(c awsemu.Credentials, region string) *athena.Client {
	k := clientKey{c.AccessKeyID, region}
	if cl := r.clients[k]; cl != nil {
		return cl
	}
	cl := athena.NewFromConfig(r.awsConfig(region, c))
	r.clients[k] = cl
	return cl
}

type quota struct {
	perSecond float64
	burst     int
}

// clientRates pace a Paced run under the emulator's default Athena quotas,
// so that it is not throttled unless something else uses the same account.
var clientRates = map[string]quota{
	"StartQueryExecution": {18, 60},
	"GetQueryExecution":   {90, 150},
}

func (r *runner) wait(ctx context.Context, account, region, op string) error {
	if !r.cfg.Paced {
		return nil
	}
	k := limiterKey{account, region, op}
	l := r.limiters[k]
	if l == nil {
		q := clientRates[op]
		l = rate.NewLimiter(rate.Limit(q.perSecond), q.burst)
		r.limiters[k] = l
	}
	if err := l.Wait(ctx); err != nil {
		return fmt.Errorf("pace %s in %s %s: %w", op, account, region, err)
	}
	return nil
}

func isThrottle(err error) bool {
	var ae smithy.APIError
	return errors.As(err, &ae) && (ae.ErrorCode() == "ThrottlingException" || ae.ErrorCode() == "Throttling")
}

// maxAttempts bounds the retries of a throttled call.
const maxAttempts = 20

func (r *runner) submit(ctx context.Context, q *PlannedQuery) error {
	creds, arn, err := r.credentialsFor(ctx, q)
	if err != nil {
		return err
	}
	client := r.athenaClient(creds, q.Region)
	in := &athena.StartQueryExecutionInput{
		QueryString:           aws.String(q.QueryText),
		ClientRequestToken:    aws.String(q.Token),
		QueryExecutionContext: &athenatypes.QueryExecutionContext{Database: aws.String(q.Database), Catalog: aws.String("AwsDataCatalog")},
		WorkGroup:             aws.String(q.Workgroup),
	}
	if q.ResultReuse {
		in.ResultReuseConfiguration = &athenatypes.ResultReuseConfiguration{
			ResultReuseByAgeConfiguration: &athenatypes.ResultReuseByAgeConfiguration{Enabled: true, MaxAgeInMinutes: aws.Int32(60)},
		}
	}
	for attempt := 1; ; attempt++ {
		if err := r.wait(ctx, q.Account, q.Region, "StartQueryExecution"); err != nil {
			return err
		}
		out, err := client.StartQueryExecution(ctx, in)
		if err == nil {
			if q.Rejected() {
				return fmt.Errorf("start query %s: planned rejection %s was accepted", q.Token, q.Outcome.RejectCode)
			}
			r.ids[q] = aws.ToString(out.QueryExecutionId)
			r.arns[q] = arn
			return nil
		}
		var ae smithy.APIError
		if !errors.As(err, &ae) {
			return fmt.Errorf("start query %s as %s: %w", q.Token, arn, err)
		}
		// A refused call is in the trail as a rejected submission whatever
		// the reason, so the ground truth records each one. Its user is
		// the principal's: CloudTrail omits the query text and Athena never
		// ran the query, so no SQL comment can name anyone else.
		r.rejected = append(r.rejected, Rejection{
			EventID: r.sim.refusalEventID(q.Token, r.countRefusals(q.Token)),
			Region:  q.Region, Account: q.Account, User: q.Principal.User, Role: q.Role, Team: q.Principal.Team,
			ErrorCode: ae.ErrorCode(), ErrorMessage: ae.ErrorMessage(), ClientRequestToken: q.Token, Time: r.emu.Now(),
		})
		switch {
		case isThrottle(err) && attempt < maxAttempts:
			r.log.Debug("start query throttled, retrying", slog.String("token", q.Token), slog.Int("attempt", attempt))
			if err := sleep(ctx, time.Duration(attempt)*50*time.Millisecond); err != nil {
				return err
			}
		case q.Rejected() && ae.ErrorCode() == q.Outcome.RejectCode:
			return nil
		default:
			return fmt.Errorf("start query %s as %s: %w", q.Token, arn, err)
		}
	}
}

func (r *runner) countRefusals(token string) int {
	n := 0
	for _, rej := range r.rejected {
		if rej.ClientRequestToken == token {
			n++
		}
	}
	return n
}

// refusalEventID is the eventID of the i-th refused start with token;
// empty if the emulator did not record it.
func (s *Sim) refusalEventID(token string, i int) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ids := s.refusals[token]; i < len(ids) {
		return ids[i]
	}
	return ""
}

func (r *runner) poll(ctx context.Context, q *PlannedQuery) error {
	id, ok := r.ids[q]
	if !ok {
		return nil
	}
	creds, _, err := r.credentialsFor(ctx, q)
	if err != nil {
		return err
	}
	client := r.athenaClient(creds, q.Region)
	for attempt := 1; ; attempt++ {
		if err := r.wait(ctx, q.Account, q.Region, "GetQueryExecution"); err != nil {
			return err
		}
		_, err := client.GetQueryExecution(ctx, &athena.GetQueryExecutionInput{QueryExecutionId: aws.String(id)})
		switch {
		case err == nil:
			return nil
		case isThrottle(err) && attempt < maxAttempts:
			if err := sleep(ctx, time.Duration(attempt)*50*time.Millisecond); err != nil {
				return err
			}
		default:
			return fmt.Errorf("poll query %s in %s: %w", id, q.Region, err)
		}
	}
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func groundTruth(cfg Config, q *PlannedQuery, id, arn string) Query {
	o := q.Outcome
	state := o.State
	completed := q.Completion()
	switch {
	case cfg.End.Before(q.Time.Add(o.QueueTime)):
		state = awsemu.StateQueued
	case cfg.End.Before(completed):
		state = awsemu.StateRunning
	}
	provisioned := q.Workgroup == ProvisionedWorkgroup
	var dpu float64
	if provisioned {
		dpu = awsemu.ProvisionedDPUs(o)
	}
	return Query{
		Region: q.Region, QueryID: id, Account: q.Account,
		User: q.User, Role: q.Role, Team: q.Team, PrincipalARN: arn,
		Database: q.Database, Workgroup: q.Workgroup,
		QueryText: q.QueryText, ClientRequestToken: q.Token,
		State: state, FinalState: o.State,
		StatementType: o.StatementType, SubstatementType: o.SubstatementType,
		DataScannedBytes: o.DataScannedBytes, EngineTime: o.EngineTime,
		Reused:      o.ReusedPreviousResult,
		Provisioned: provisioned, DPUCount: dpu,
		Submitted: q.Time, Completed: completed,
		NoStats: cfg.End.Sub(q.Time) >= retention,
	}
}

const (
	mebibyte = 1 << 20
	// minBilledBytes is Athena's 10 MB minimum charge per query.
	minBilledBytes = 10 * mebibyte
)

// BilledBytes is what the query costs by DESIGN.md "Cost", computed from the
// ground truth: DML queries that SUCCEEDED or were CANCELLED by the end of
// the period and did not reuse a result are billed their scan rounded up to
// a whole MiB, at least 10 MiB; everything else, and every query of a
// provisioned-capacity workgroup (billed by DPU-hours instead), is 0. A
// NoStats query has a cost athenawatch cannot know.
func (q Query) BilledBytes() int64 {
	if q.StatementType != "DML" || q.Reused || q.Provisioned {
		return 0
	}
	if q.State != awsemu.StateSucceeded && q.State != awsemu.StateCancelled {
		return 0
	}
	b := (q.DataScannedBytes + mebibyte - 1) / mebibyte * mebibyte
	return max(b, minBilledBytes)
}
