package orgsim

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"runtime"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/athenawatch/athenawatch/internal/awsemu"
)

// GenerateOptions configures GenerateTrail.
type GenerateOptions struct {
	// Size is the least uncompressed size of the trail's log files.
	Size int64
	// AthenaFraction is the fraction of records that are Athena API calls
	// (default 0.01); most of them are StartQueryExecution.
	AthenaFraction float64
	// DuplicateRate is as in TrailOptions.
	DuplicateRate float64
	Seed          uint64
	// Start is the time of the first record (default 2026-01-05T00:00Z).
	Start time.Time
	// Regions default to DefaultRegions.
	Regions []string
	// RecordsPerSecond is the trail's event rate over the whole
	// organization (default 40), which sets how many records a file holds.
	RecordsPerSecond float64
	// Concurrency bounds the generating and compressing goroutines
	// (default GOMAXPROCS).
	Concurrency int
	Logger      *slog.Logger
	// Shape is the mix of records (default ShapeMixed).
	Shape Shape
}

// GenerateStats is what GenerateTrail wrote.
type GenerateStats struct {
	TrailStats
	// Queries and Rejected count the StartQueryExecution records written
	// (first deliveries only) that started a query or were refused.
	Queries, Rejected int64
	// End is the time of the last record.
	End time.Time
}

// GenerateTrail writes a benchmark trail of at least opts.Size uncompressed
// bytes into dir without an emulator: Athena records are synthesized in
// CloudTrail's format (random UUIDs as query ids) for the organization's
// principals, among noise records of other services. The work is split by
// account-region over several writers so that generation and compression
// use every core.
func GenerateTrail(ctx context.Context, dir string, opts GenerateOptions) (GenerateStats, error) {
	if opts.AthenaFraction <= 0 {
		opts.AthenaFraction = 0.01
	}
	if opts.AthenaFraction > 1 {
		opts.AthenaFraction = 1
	}
	trailDefaults(&opts.Start, &opts.Regions, &opts.Concurrency, &opts.Logger)
	if opts.RecordsPerSecond <= 0 {
		opts.RecordsPerSecond = 40
	}
	if opts.Shape == "" {
		opts.Shape = ShapeMixed
	}
	if _, err := ParseShape(string(opts.Shape)); err != nil {
		return GenerateStats{}, fmt.Errorf("generate trail in %s: %w", dir, err)
	}
	org := NewOrg(opts.Regions)

	// Each shard owns some account-regions and writes their files alone.
	type scope struct{ account, region string }
	var scopes []scope
	for _, a := range Accounts {
		for _, r := range opts.Regions {
			scopes = append(scopes, scope{a.ID, r})
		}
	}
	shards := min(opts.Concurrency, len(scopes))
	results := make([]GenerateStats, shards)
	g, ctx := errgroup.WithContext(ctx)
	for i := range shards {
		var mine []scope
		for j := i; j < len(scopes); j += shards {
			mine = append(mine, scopes[j])
		}
		share := float64(len(mine)) / float64(len(scopes))
		g.Go(func() error {
			sg := newSynth(org, opts.Seed+uint64(i)*0x9e3779b97f4a7c15)
			polls := newPoller(opts.Shape, sg, opts.Seed+uint64(i), opts.AthenaFraction)
			w := NewTrailWriter(dir, TrailOptions{
				NoiseRatio: -1, DuplicateRate: opts.DuplicateRate, Seed: opts.Seed + uint64(i),
				// The shards already run in parallel; two files each at a time
				// keeps every core busy without piling up buffers.
				Concurrency: 2, Logger: opts.Logger,
			})
			target := int64(float64(opts.Size) * share)
			step := time.Duration(float64(time.Second) / (opts.RecordsPerSecond * share))
			noisePer := (1 - opts.AthenaFraction) / opts.AthenaFraction
			t := opts.Start
			var carry float64
			var rec []byte
			st := &results[i]
			for n := 0; w.BytesAdded() < target; n++ {
				if n%1024 == 0 && ctx.Err() != nil {
					_, _ = w.Close()
					return ctx.Err()
				}
				sc := mine[sg.rng.IntN(len(mine))]
				var kind synthKind
				rec, kind = sg.appendAthena(rec[:0], sc.account, sc.region, t)
				w.AddRecord(sc.account, sc.region, t, rec)
				switch kind {
				case synthStarted:
					st.Queries++
				case synthRejected:
					st.Rejected++
				}
				carry += noisePer
				k := int(carry)
				carry -= float64(k)
				k = polls.poll(w, rec, kind, sc.account, sc.region, k, t)
				// Spread the noise over the scopes of the shard, at t.
				for k > 0 {
					nsc := mine[sg.rng.IntN(len(mine))]
					m := min(k, 1+sg.rng.IntN(8))
					w.AddNoise(nsc.account, nsc.region, t, m)
					k -= m
				}
				t = t.Add(time.Duration(float64(step) * (1 + noisePer)))
			}
			stats, err := w.Close()
			st.TrailStats = stats
			st.End = t
			return err
		})
	}
	err := g.Wait()
	var total GenerateStats
	for _, r := range results {
		total.add(r)
	}
	if err != nil {
		return total, fmt.Errorf("generate trail in %s: %w", dir, err)
	}
	return total, nil
}

type synthKind int

const (
	synthStarted synthKind = iota
	synthRejected
	synthOther
)

// synthCaller is a principal's prepared CloudTrail identity in one account.
type synthCaller struct {
	principal    *Principal
	userIdentity []byte // the JSON object
	sourceIP     string
	userAgent    string
}

// synth writes Athena records as CloudTrail records them.
type synth struct {
	rng     *rand.Rand
	callers map[string][]synthCaller // by account
	// spreadIPs gives each query record a source address of its own
	// (QueryTrailOptions.SpreadCallers).
	spreadIPs bool
}

var athenaAgents = []string{
	"aws-cli/2.17.20 md/awscrt#0.20.11 ua/2.0 os/linux#6.5 md/arch#x86_64 lang/python#3.11.9 md/pyimpl#CPython cfg/retry-mode#standard md/command#athena.start-query-execution",
	"Boto3/1.34.144 md/Botocore#1.34.144 ua/2.0 os/linux#5.10.219 md/arch#x86_64 lang/python#3.11.9 md/pyimpl#CPython Botocore/1.34.144",
	"aws-sdk-go-v2/1.30.3 ua/2.0 os/linux lang/go#1.22.5 md/GOOS#linux md/GOARCH#amd64 api/athena#1.44.3",
	"AthenaJDBC/3.2.1 (Linux; OpenJDK 17.0.11) aws-sdk-java/2.25.40",
	"AWSAthenaConsole",
}

func newSynth(org *Org, seed uint64) *synth {
	s := &synth{rng: rand.New(rand.NewPCG(seed, 0x73796e)), callers: make(map[string][]synthCaller)}
	for _, p := range org.Principals {
		sessions := []string{p.SessionName}
		if p.Kind == KindETL {
			sessions = nil
			for range 4 {
				sessions = append(sessions, "i-0"+string(appendHex(nil, s.rng, 16)))
			}
		}
		for _, session := range sessions {
			id := synthIdentity(p, session, s.rng)
			b, err := json.Marshal(id)
			if err != nil {
				continue
			}
			s.callers[p.Account] = append(s.callers[p.Account], synthCaller{
				principal:    p,
				userIdentity: b,
				sourceIP:     fmt.Sprintf("10.%d.%d.%d", s.rng.IntN(256), s.rng.IntN(256), 1+s.rng.IntN(254)),
				userAgent:    athenaAgents[s.rng.IntN(len(athenaAgents))],
			})
		}
	}
	return s
}

// synthIdentity is the userIdentity CloudTrail writes for p's calls.
func synthIdentity(p *Principal, session string, rng *rand.Rand) awsemu.Identity {
	if p.Kind == KindIAMUser {
		return awsemu.Identity{
			Type: "IAMUser", PrincipalID: "AIDA" + string(appendUpperAlnum(nil, rng, 17)),
			ARN: "arn:aws:iam::" + p.Account + ":user/" + p.UserName, AccountID: p.Account,
			AccessKeyID: "AKIA" + string(appendUpperAlnum(nil, rng, 16)), UserName: p.UserName,
		}
	}
	roleID := "AROA" + string(appendUpperAlnum(nil, rng, 17))
	id := awsemu.Identity{
		Type: "AssumedRole", PrincipalID: roleID + ":" + session,
		ARN:         "arn:aws:sts::" + p.Account + ":assumed-role/" + p.RoleName + "/" + session,
		AccountID:   p.Account,
		AccessKeyID: "ASIA" + string(appendUpperAlnum(nil, rng, 16)),
		SessionContext: &awsemu.SessionContext{
			SessionIssuer: &awsemu.SessionIssuer{
				Type: "Role", PrincipalID: roleID, ARN: roleARN(p.Account, p.RoleName), AccountID: p.Account, UserName: p.RoleName,
			},
			WebIDFederationData: &struct{}{},
			Attributes:          &awsemu.SessionAttributes{CreationDate: "2026-01-04T08:00:00Z", MFAAuthenticated: "false"},
			SourceIdentity:      p.SourceIdentity,
		},
	}
	if p.Kind == KindTrustedIdentity {
		id.OnBehalfOf = &awsemu.OnBehalfOf{UserID: p.OnBehalfOfUserID, IdentityStoreARN: IdentityStoreARN}
	}
	return id
}

// appendAthena appends one Athena record of account and region at t: mostly
// StartQueryExecution, some refused, the rest the clients' polling.
func (s *synth) appendAthena(b []byte, account, region string, t time.Time) ([]byte, synthKind) {
	callers := s.callers[account]
	c := &callers[s.rng.IntN(len(callers))]
	p := c.principal
	x := s.rng.IntN(100)
	name, kind := "StartQueryExecution", synthStarted
	switch {
	case x < 2:
		kind = synthRejected
	case x < 20:
		name, kind = "GetQueryExecution", synthOther
	case x < 25:
		name, kind = "GetQueryResults", synthOther
	}
	b = appendAthenaHead(b, c, t, name, region)
	b = append(b, '"')
	if kind == synthRejected {
		b = append(b, `,"errorCode":"InvalidRequestException","errorMessage":"line 1:8: mismatched input 'FORM'. Expecting: ',', 'FROM', <EOF>"`...)
	}
	switch name {
	case "StartQueryExecution":
		b = append(b, `,"requestParameters":{"queryString":"***OMITTED***","queryExecutionContext":{"database":"`...)
		b = append(b, p.Databases[s.rng.IntN(len(p.Databases))]...)
		b = append(b, `","catalog":"AwsDataCatalog"},"workGroup":"`...)
		b = append(b, p.Workgroups[s.rng.IntN(len(p.Workgroups))]...)
		b = append(b, `","clientRequestToken":"`...)
		b = appendUUID(b, s.rng)
		if kind == synthRejected {
			b = append(b, `"},"responseElements":null`...)
		} else {
			b = append(b, `"},"responseElements":{"queryExecutionId":"`...)
			b = appendUUID(b, s.rng)
			b = append(b, `"}`...)
		}
	default:
		b = append(b, `,"requestParameters":{"queryExecutionId":"`...)
		b = appendUUID(b, s.rng)
		b = append(b, `"},"responseElements":null`...)
	}
	b = append(b, `,"requestID":"`...)
	b = appendUUID(b, s.rng)
	b = append(b, `","eventID":"`...)
	b = appendUUID(b, s.rng)
	if name == "StartQueryExecution" {
		b = append(b, `","readOnly":false`...)
	} else {
		b = append(b, `","readOnly":true`...)
	}
	b = append(b, `,"eventType":"AwsApiCall","managementEvent":true,"recipientAccountId":"`...)
	b = append(b, account...)
	b = append(b, `","eventCategory":"Management","tlsDetails":{"tlsVersion":"TLSv1.3","cipherSuite":"TLS_AES_128_GCM_SHA256","clientProvidedHostHeader":"athena.`...)
	b = append(b, region...)
	b = append(b, `.amazonaws.com"}}`...)
	return b, kind
}

// trailDefaults fills the options every trail generator shares: the first
// record's time, the regions, how many files are written at once and the
// logger.
func trailDefaults(start *time.Time, regions *[]string, concurrency *int, logger **slog.Logger) {
	if start.IsZero() {
		*start = time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)
	}
	if len(*regions) == 0 {
		*regions = DefaultRegions
	}
	if *concurrency <= 0 {
		*concurrency = runtime.GOMAXPROCS(0)
	}
	if *logger == nil {
		*logger = slog.New(slog.DiscardHandler)
	}
}

// appendAthenaHead appends the start of an Athena record by c, up to and
// with its userAgent value, as CloudTrail orders the members.
func appendAthenaHead(b []byte, c *synthCaller, t time.Time, name, region string) []byte {
	b = append(b, `{"eventVersion":"1.09","userIdentity":`...)
	b = append(b, c.userIdentity...)
	b = append(b, `,"eventTime":"`...)
	b = appendTime(b, t)
	b = append(b, `","eventSource":"athena.amazonaws.com","eventName":"`...)
	b = append(b, name...)
	b = append(b, `","awsRegion":"`...)
	b = append(b, region...)
	b = append(b, `","sourceIPAddress":"`...)
	b = append(b, c.sourceIP...)
	b = append(b, `","userAgent":"`...)
	b = append(b, c.userAgent...)
	return b
}

// add sums the stats of one writer into s.
func (s *GenerateStats) add(r GenerateStats) {
	s.Files += r.Files
	s.DigestFiles += r.DigestFiles
	s.Records += r.Records
	s.AthenaRecords += r.AthenaRecords
	s.NoiseRecords += r.NoiseRecords
	s.Duplicates += r.Duplicates
	s.AthenaDuplicates += r.AthenaDuplicates
	s.UncompressedBytes += r.UncompressedBytes
	s.CompressedBytes += r.CompressedBytes
	s.Queries += r.Queries
	s.Rejected += r.Rejected
	if r.End.After(s.End) {
		s.End = r.End
	}
}
