// Package storegen fills a store with a realistic, deterministic history of
// Athena queries, for benchmarks and tests of what reads the store (reports,
// listings, pages, the JSON API, /metrics).
//
// The history looks like an organization's: a few users run most queries
// and a long tail runs few (Zipf); every user belongs to a team, works in a
// home account and region, and touches a few databases and workgroups;
// queries follow the working week (work hours, weekdays heavier); most
// succeed, some fail or are cancelled, a few still wait for statistics or
// are unknown to Athena; statements are mostly DML; bytes scanned are
// heavy-tailed (most queries scan megabytes, a few terabytes) and engine
// time follows bytes; query texts come from a few hundred templates with
// varying literals, so that query shapes cluster; some workgroups run on
// provisioned capacity with a DPU count.
//
// Rows go through the production write path (store.Writer, Tx.Add) whole,
// with their final statistics and the columns the rules derive, so whatever
// that path maintains beside the rows is maintained too.
package storegen

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/athenawatch/athenawatch/internal/cloudtrail"
	"github.com/athenawatch/athenawatch/internal/config"
	"github.com/athenawatch/athenawatch/internal/store"
	"github.com/athenawatch/athenawatch/internal/usage"
)

// Options shape a generated history. Zero values take the defaults named.
type Options struct {
	// Queries is how many queries to store (at least 1).
	Queries int
	// Days is the length of the history, ending at End (default 30).
	Days int
	// End is the end of the history, exclusive (default
	// 2026-12-01T00:00Z, so that a seed always gives the same store).
	End time.Time
	// Users (default 2000), Teams (12), Databases (60), Workgroups (20),
	// Accounts (4) and Regions (3, at most len(RegionNames)) size the
	// organization.
	Users, Teams, Databases, Workgroups, Accounts, Regions int
	// Seed makes the history: the same options give the same store.
	Seed int64
	// Fingerprint, when set, gives each query's shape from its text,
	// overriding what the rules set.
	Fingerprint func(text string) string
	// Rules derive user, team, capacity, billed bytes and cost as
	// production does; nil means usage.NewRules(o.Config()).
	Rules *usage.Rules
	// TxQueries is how many queries one write transaction holds (default
	// 50,000).
	TxQueries int
}

// RegionNames are the regions a history spreads over, in order of use.
var RegionNames = []string{"us-east-1", "eu-west-1", "us-west-2", "eu-central-1", "ap-south-1", "ap-northeast-1", "eu-west-2", "sa-east-1"}

func (o *Options) defaults() error {
	if o.Queries < 1 {
		return fmt.Errorf("generate store: %d queries, want at least 1", o.Queries)
	}
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&o.Days, 30)
	def(&o.Users, 2000)
	def(&o.Teams, 12)
	def(&o.Databases, 60)
	def(&o.Workgroups, 20)
	def(&o.Accounts, 4)
	def(&o.Regions, 3)
	def(&o.TxQueries, 50_000)
	o.Regions = min(o.Regions, len(RegionNames))
	if o.End.IsZero() {
		o.End = time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	}
	o.End = o.End.UTC()
	return nil
}

// Config is the configuration the generated organization is described by:
// one team rule per team (its users' e-mail domain and its service roles)
// and the provisioned-capacity workgroups. Reports over a generated store
// use it to see the same teams and costs.
func (o Options) Config() *config.Config {
	if o.Queries < 1 {
		o.Queries = 1
	}
	_ = o.defaults()
	cfg := &config.Config{}
	cfg.Pricing.ProvisionedWorkgroups = []string{"capacity-*"}
	cfg.Pricing.Regions = map[string]float64{"sa-east-1": 7.5}
	for t := range o.Teams {
		name := teamName(t)
		cfg.Teams = append(cfg.Teams, config.TeamRule{Name: name,
			Users: []string{"*@" + name + ".example.com"}, Roles: []string{name + "-svc-*"}})
	}
	if err := cfg.Validate(); err != nil {
		// The configuration above is always valid; a failure here is a
		// defect of this package, not of its input.
		panic(fmt.Sprintf("storegen: generated configuration is invalid: %v", err))
	}
	return cfg
}

// Stats describe a generated history.
type Stats struct {
	Queries                             int
	Succeeded, Failed, Cancelled        int
	Pending, NoStats                    int
	Provisioned                         int
	DML, DDL, Utility                   int
	BytesScanned                        int64
	CostUSD                             float64
	Since, Until                        time.Time
	Users, Teams, Databases, Workgroups int // distinct values that ran a query
	Elapsed                             time.Duration
	// Top holds, per dimension (user, team, database, workgroup, account,
	// region, fingerprint), the value with the most queries; Tail the user
	// with the fewest (but some). Benchmarks filter by them.
	Top  map[string]string
	Tail map[string]string
}

// Generate stores o.Queries generated queries in st and says what it
// stored. Queries already stored (the same seed run twice) are left as they
// are.
func Generate(ctx context.Context, st *store.Store, o Options) (Stats, error) {
	if err := o.defaults(); err != nil {
		return Stats{}, err
	}
	start := time.Now()
	rules := o.Rules
	if rules == nil {
		rules = usage.NewRules(o.Config())
	}
	g := newGenerator(o, rules)

	batches := make(chan []store.Query, 4)
	genCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	genErr := make(chan error, 1)
	go func() {
		defer close(batches)
		genErr <- g.run(genCtx, batches)
	}()

	w, err := st.Writer(ctx)
	if err != nil {
		return Stats{}, fmt.Errorf("generate store: %w", err)
	}
	defer w.Close()
	var tx *store.Tx
	inTx := 0
	for b := range batches {
		if tx == nil {
			if tx, err = w.Begin(ctx); err != nil {
				return Stats{}, fmt.Errorf("generate store: %w", err)
			}
		}
		if _, err := tx.Add(ctx, &store.Batch{Queries: b}); err != nil {
			return Stats{}, fmt.Errorf("generate store: %w", err)
		}
		inTx += len(b)
		if inTx >= o.TxQueries {
			if err := tx.Commit(); err != nil {
				return Stats{}, fmt.Errorf("generate store: %w", err)
			}
			tx, inTx = nil, 0
		}
	}
	if err := <-genErr; err != nil {
		return Stats{}, fmt.Errorf("generate store: %w", err)
	}
	if tx != nil {
		if err := tx.Commit(); err != nil {
			return Stats{}, fmt.Errorf("generate store: %w", err)
		}
	}
	if err := w.Close(); err != nil {
		return Stats{}, fmt.Errorf("generate store: %w", err)
	}
	s := g.stats()
	s.Elapsed = time.Since(start)
	return s, nil
}

// batchQueries is how many queries the generator hands the writer at once.
const batchQueries = 2000

type user struct {
	name      string
	team      int // -1: no team rule matches (contractors)
	identity  cloudtrail.Identity
	account   int
	region    int
	databases []int
	workgrps  []int
	templates int // first template of the user's favourites
	sourceIP  string
	userAgent string
}

type workgroup struct {
	name string
	dpu  float64 // DPU count of a provisioned workgroup; 0 on demand
}

type generator struct {
	o          Options
	rules      *usage.Rules
	rng        *rand.Rand
	userZipf   *rand.Zipf
	users      []user
	accounts   []string
	databases  []string
	workgroups []workgroup
	templates  []template

	// counts for Stats
	s           Stats
	perUser     []int
	perTeam     []int
	perDatabase []int
	perWG       []int
	perAccount  []int
	perRegion   []int
	perShape    map[string]int
}

func newGenerator(o Options, rules *usage.Rules) *generator {
	rng := rand.New(rand.NewPCG(uint64(o.Seed), 0x5eed5eed))
	g := &generator{o: o, rules: rules, rng: rng,
		perUser: make([]int, o.Users), perTeam: make([]int, o.Teams+1), perDatabase: make([]int, o.Databases),
		perWG: make([]int, o.Workgroups), perAccount: make([]int, o.Accounts), perRegion: make([]int, o.Regions),
		perShape: map[string]int{}}
	// P(rank k) ∝ (4+k)^-1.2: the heaviest user runs a few per cent of all
	// queries, the top tenth most of them, the last ones a handful.
	g.userZipf = rand.NewZipf(rng, 1.2, 4, uint64(o.Users-1))
	for a := range o.Accounts {
		g.accounts = append(g.accounts, fmt.Sprintf("%012d", 100000000000+int64(a)*111111111+11))
	}
	for d := range o.Databases {
		g.databases = append(g.databases, databaseName(d))
	}
	for w := range o.Workgroups {
		g.workgroups = append(g.workgroups, workgroupOf(w))
	}
	g.templates = makeTemplates(rng)
	accountZipf := rand.NewZipf(rng, 1.5, 1, uint64(o.Accounts-1))
	regionZipf := rand.NewZipf(rng, 2, 1, uint64(o.Regions-1))
	teamZipf := rand.NewZipf(rng, 1.1, 2, uint64(o.Teams-1))
	dbZipf := rand.NewZipf(rng, 1.1, 3, uint64(o.Databases-1))
	wgZipf := rand.NewZipf(rng, 1.3, 2, uint64(o.Workgroups-1))
	for i := range o.Users {
		u := user{team: int(teamZipf.Uint64()), account: int(accountZipf.Uint64()), region: int(regionZipf.Uint64())}
		if rng.Float64() < 0.05 {
			u.team = -1
		}
		u.databases = pickDistinct(rng, dbZipf, 2+rng.IntN(4), o.Databases)
		u.workgrps = pickDistinct(rng, wgZipf, 2+rng.IntN(4), o.Workgroups)
		u.templates = rng.IntN(len(g.templates))
		acct := g.accounts[u.account]
		domain := "contractors.example.net"
		if u.team >= 0 {
			domain = teamName(u.team) + ".example.com"
		}
		switch k := rng.Float64(); {
		case k < 0.75: // an Identity Center session: the session name is the user
			u.name = firstNames[i%len(firstNames)] + "." + strconv.Itoa(i) + "@" + domain
			role := "AWSReservedSSO_" + permissionSets[i%len(permissionSets)] + "_" + strconv.FormatUint(rng.Uint64()|1<<63, 16)[:16]
			u.identity = cloudtrail.Identity{Type: "AssumedRole", PrincipalID: "AROA" + strconv.FormatUint(rng.Uint64()|1<<63, 36)[:12] + ":" + u.name,
				ARN: "arn:aws:sts::" + acct + ":assumed-role/" + role + "/" + u.name, AccountID: acct,
				IssuerType: "Role", IssuerUserName: role,
				IssuerARN: "arn:aws:iam::" + acct + ":role/aws-reserved/sso.amazonaws.com/" + role}
			u.userAgent = "AWS Internal"
		case k < 0.9: // an IAM user
			u.name = firstNames[i%len(firstNames)] + "." + strconv.Itoa(i) + "@" + domain
			u.identity = cloudtrail.Identity{Type: "IAMUser", PrincipalID: "AIDA" + strconv.FormatUint(rng.Uint64()|1<<63, 36)[:12],
				ARN: "arn:aws:iam::" + acct + ":user/" + u.name, AccountID: acct, UserName: u.name}
			u.userAgent = "aws-cli/2.17.0 md/awscrt#0.20.11 ua/2.0 os/linux#6.8 md/arch#x86_64 lang/python#3.11.9 cfg/retry-mode#standard"
		default: // a service role: the role is the user
			team := "contractors"
			if u.team >= 0 {
				team = teamName(u.team)
			}
			u.name = team + "-svc-" + strconv.Itoa(i)
			u.identity = cloudtrail.Identity{Type: "AssumedRole", PrincipalID: "AROA" + strconv.FormatUint(rng.Uint64()|1<<63, 36)[:12] + ":i-0" + strconv.FormatUint(rng.Uint64(), 16)[:8],
				ARN: "arn:aws:sts::" + acct + ":assumed-role/" + u.name + "/i-0" + strconv.FormatUint(rng.Uint64(), 16)[:8], AccountID: acct,
				IssuerType: "Role", IssuerUserName: u.name, IssuerARN: "arn:aws:iam::" + acct + ":role/" + u.name}
			u.userAgent = "aws-sdk-go-v2/1.30.0 os/linux lang/go#1.22 md/GOOS#linux md/GOARCH#amd64 api/athena#1.44.0"
		}
		u.sourceIP = "10." + strconv.Itoa(rng.IntN(256)) + "." + strconv.Itoa(rng.IntN(256)) + "." + strconv.Itoa(1+rng.IntN(254))
		g.users = append(g.users, u)
	}
	return g
}

// pickDistinct draws n distinct values below limit from z (n capped at
// limit).
func pickDistinct(rng *rand.Rand, z *rand.Zipf, n, limit int) []int {
	n = min(n, limit)
	out := make([]int, 0, n)
	seen := map[int]bool{}
	for tries := 0; len(out) < n; tries++ {
		v := int(z.Uint64())
		if tries > 64*n {
			v = rng.IntN(limit)
		}
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}

// hourWeight is how busy each hour of a UTC day is (an organization whose
// people work mostly 08:00-18:00 UTC, with scheduled jobs at night).
var hourWeight = [24]float64{3, 4, 5, 4, 3, 3, 4, 6, 10, 14, 16, 15, 12, 14, 16, 15, 13, 10, 7, 5, 4, 3, 3, 3}

func dayWeight(d time.Weekday) float64 {
	if d == time.Saturday || d == time.Sunday {
		return 0.25
	}
	return 1
}

// run generates the queries in event time order, batchQueries at a time.
func (g *generator) run(ctx context.Context, out chan<- []store.Query) error {
	o := g.o
	since := o.End.Add(-time.Duration(o.Days) * 24 * time.Hour)
	g.s.Since, g.s.Until = since, o.End
	hours := o.Days * 24
	weights := make([]float64, hours)
	total := 0.0
	for h := range hours {
		t := since.Add(time.Duration(h) * time.Hour)
		weights[h] = dayWeight(t.Weekday()) * hourWeight[t.Hour()]
		total += weights[h]
	}
	batch := make([]store.Query, 0, batchQueries)
	done, cum := 0, 0.0
	for h := range hours {
		cum += weights[h]
		upto := int(math.Round(cum / total * float64(o.Queries)))
		if h == hours-1 {
			upto = o.Queries
		}
		n := upto - done
		slot := since.Add(time.Duration(h) * time.Hour)
		for i := range n {
			// Spread evenly over the hour with jitter, in time order.
			off := (float64(i) + g.rng.Float64()) / float64(n) * float64(time.Hour)
			batch = append(batch, g.query(slot.Add(time.Duration(off)).Truncate(time.Millisecond)))
			if len(batch) == batchQueries {
				select {
				case out <- batch:
				case <-ctx.Done():
					return ctx.Err()
				}
				batch = make([]store.Query, 0, batchQueries)
			}
		}
		done = upto
	}
	if len(batch) > 0 {
		select {
		case out <- batch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if done != o.Queries {
		return errors.New("generated query count does not add up")
	}
	return nil
}

// skewed picks an index below n, the first ones most often (about half,
// a quarter, ...).
func (g *generator) skewed(n int) int {
	for i := 0; i < n-1; i++ {
		if g.rng.IntN(2) == 0 {
			return i
		}
	}
	return n - 1
}

func (g *generator) uuid() string {
	hi, lo := g.rng.Uint64(), g.rng.Uint64()
	const hexdigits = "0123456789abcdef"
	var b [36]byte
	j := 0
	for i := range 32 {
		if i == 8 || i == 12 || i == 16 || i == 20 {
			b[j] = '-'
			j++
		}
		var nib uint64
		if i < 16 {
			nib = hi >> (60 - 4*i) & 0xf
		} else {
			nib = lo >> (60 - 4*(i-16)) & 0xf
		}
		b[j] = hexdigits[nib]
		j++
	}
	b[14] = '4' // version 4
	return string(b[:])
}

// Bounds of what Athena reports, as enrich accepts it.
const (
	maxScanned  = 1 << 50
	maxDuration = 7 * 24 * 3600 * 1000
)

func (g *generator) query(at time.Time) store.Query {
	rng := g.rng
	ui := int(g.userZipf.Uint64())
	u := &g.users[ui]
	account, region := u.account, u.region
	if rng.Float64() < 0.1 {
		account = rng.IntN(g.o.Accounts)
	}
	if rng.Float64() < 0.1 {
		region = rng.IntN(g.o.Regions)
	}
	db := u.databases[g.skewed(len(u.databases))]
	wg := u.workgrps[g.skewed(len(u.workgrps))]
	id := g.uuid()
	q := store.Query{
		Region: RegionNames[region], QueryID: id, EventID: g.uuid(), EventTime: at,
		OwnerAccount: g.accounts[account], Identity: u.identity,
		CTDatabase: g.databases[db], CTCatalog: "AwsDataCatalog", CTWorkgroup: g.workgroups[wg].name,
		SourceIP: u.sourceIP, UserAgent: u.userAgent,
		StatsStatus: store.StatusFinal, AskAttempts: 1,
	}
	// The statement and its text.
	stmt, text := "DML", ""
	switch k := rng.Float64(); {
	case k < 0.05:
		stmt = "DDL"
		text = ddlTemplates[rng.IntN(len(ddlTemplates))].render(rng, g.databases[db], at)
	case k < 0.08:
		stmt = "UTILITY"
		text = utilityTemplates[rng.IntN(len(utilityTemplates))].render(rng, g.databases[db], at)
	default:
		t := (u.templates + g.skewed(12)*7) % len(g.templates)
		text = g.templates[t].render(rng, g.databases[db], at)
	}

	switch k := rng.Float64(); {
	case k < 0.01: // not final yet: as collect left it
		q.StatsStatus, q.AskAttempts = store.StatusPending, 0
		g.s.Pending++
	case k < 0.015: // Athena no longer knows it
		q.StatsStatus = store.StatusNoStats
		q.LastAsked = at.Add(46 * 24 * time.Hour)
		g.s.NoStats++
	default:
		q.LastAsked = at.Add(2 * time.Minute)
		q.Stats = g.finalStats(at, stmt, text, g.databases[db], g.workgroups[wg])
	}
	g.rules.Query(&q)
	if g.o.Fingerprint != nil && q.QueryText() != "" {
		q.Fingerprint = g.o.Fingerprint(q.QueryText())
	} else if q.QueryText() == "" {
		q.Fingerprint = ""
	}
	if q.StatsStatus == store.StatusPending {
		// As collect stores it: nothing derived from statistics.
		q.CostUSD, q.Fingerprint = 0, ""
	}
	g.count(&q, ui, db, wg, account, region)
	return q
}

// finalStats are the final statistics of a query started at at.
func (g *generator) finalStats(at time.Time, stmt, text, db string, wg workgroup) store.Stats {
	rng := g.rng
	st := store.Stats{StatementType: stmt, Database: db, Catalog: "AwsDataCatalog", Workgroup: wg.name, QueryText: text,
		EngineVersion: "Athena engine version 3", OutputLocation: "s3://athena-results-" + wg.name + "/" + at.Format("2006/01/02") + "/"}
	switch k := rng.Float64(); {
	case k < 0.91:
		st.State = "SUCCEEDED"
	case k < 0.97:
		st.State = "FAILED"
	default:
		st.State = "CANCELLED"
	}
	if stmt == "DML" {
		// Log-normal around 50 MB with a long tail: one query in ten
		// thousand scans a terabyte or more.
		b := math.Exp(math.Log(50e6) + 2.6*rng.NormFloat64())
		switch st.State {
		case "FAILED":
			b *= rng.Float64() * 0.1
		case "CANCELLED":
			b *= rng.Float64()
		}
		st.DataScannedBytes = int64(min(b, maxScanned))
		if st.State == "SUCCEEDED" && rng.Float64() < 0.04 {
			st.ReusedResult, st.DataScannedBytes = true, 0
		}
	}
	// Engine time follows bytes at some 50-500 MB/s, plus a start-up cost.
	rate := math.Exp(math.Log(150e6) + 0.8*rng.NormFloat64())
	engine := 150 + rng.Float64()*400 + float64(st.DataScannedBytes)/rate*1000
	st.EngineMs = int64(min(engine, maxDuration))
	st.QueueMs = int64(5 + rng.ExpFloat64()*200)
	st.PlanningMs = int64(40 + rng.ExpFloat64()*300)
	st.ServicePreprocessingMs = int64(10 + rng.IntN(50))
	st.ServiceProcessingMs = int64(10 + rng.IntN(200))
	st.TotalMs = min(st.QueueMs+st.PlanningMs+st.EngineMs+st.ServicePreprocessingMs+st.ServiceProcessingMs, maxDuration)
	st.SubmittedAt = at.Add(time.Duration(20+rng.IntN(80)) * time.Millisecond)
	st.CompletedAt = st.SubmittedAt.Add(time.Duration(st.TotalMs) * time.Millisecond)
	if st.State == "FAILED" {
		st.ErrorCategory, st.ErrorType = 2, 1301
		st.StateChangeReason = "SYNTAX_ERROR: line 1:8: Column 'x' cannot be resolved"
		st.ErrorMessage = st.StateChangeReason
	}
	if wg.dpu > 0 && rng.Float64() > 0.01 {
		st.DPUCount = wg.dpu
	}
	return st
}

func (g *generator) count(q *store.Query, ui, db, wg, account, region int) {
	s := &g.s
	s.Queries++
	switch q.Stats.State {
	case "SUCCEEDED":
		s.Succeeded++
	case "FAILED":
		s.Failed++
	case "CANCELLED":
		s.Cancelled++
	}
	switch q.Stats.StatementType {
	case "DML":
		s.DML++
	case "DDL":
		s.DDL++
	case "UTILITY":
		s.Utility++
	}
	if q.Provisioned {
		s.Provisioned++
	}
	s.BytesScanned += q.Stats.DataScannedBytes
	s.CostUSD += q.CostUSD
	g.perUser[ui]++
	g.perTeam[g.users[ui].team+1]++
	g.perDatabase[db]++
	g.perWG[wg]++
	g.perAccount[account]++
	g.perRegion[region]++
	if q.Fingerprint != "" {
		g.perShape[q.Fingerprint]++
	}
}

func (g *generator) stats() Stats {
	s := g.s
	s.Top, s.Tail = map[string]string{}, map[string]string{}
	top := func(counts []int, name func(int) string) (string, int) {
		best, distinct := 0, 0
		for i, c := range counts {
			if c > 0 {
				distinct++
			}
			if c > counts[best] {
				best = i
			}
		}
		return name(best), distinct
	}
	s.Top["user"], s.Users = top(g.perUser, func(i int) string { return g.users[i].name })
	s.Top["team"], s.Teams = top(g.perTeam, func(i int) string {
		if i == 0 {
			return usage.DefaultTeam
		}
		return teamName(i - 1)
	})
	s.Top["database"], s.Databases = top(g.perDatabase, func(i int) string { return g.databases[i] })
	s.Top["workgroup"], s.Workgroups = top(g.perWG, func(i int) string { return g.workgroups[i].name })
	s.Top["account"], _ = top(g.perAccount, func(i int) string { return g.accounts[i] })
	s.Top["region"], _ = top(g.perRegion, func(i int) string { return RegionNames[i] })
	bestShape := ""
	for fp, c := range g.perShape {
		if c > g.perShape[bestShape] || (c == g.perShape[bestShape] && fp < bestShape) {
			bestShape = fp
		}
	}
	if bestShape != "" {
		s.Top["fingerprint"] = bestShape
	}
	tail := -1
	for i, c := range g.perUser {
		if c > 0 && (tail < 0 || c < g.perUser[tail]) {
			tail = i
		}
	}
	if tail >= 0 {
		s.Tail["user"] = g.users[tail].name
	}
	return s
}

var teamNames = []string{"analytics", "data-science", "finance", "marketing", "platform", "growth", "risk", "sales-ops",
	"product", "security", "ml-research", "bi", "logistics", "support", "hr-people", "legal"}

func teamName(i int) string {
	if i < len(teamNames) {
		return teamNames[i]
	}
	return "team-" + strconv.Itoa(i)
}

var (
	dbLayers  = []string{"raw", "curated", "analytics", "sandbox"}
	dbDomains = []string{"sales", "events", "billing", "clickstream", "inventory", "marketing", "hr", "logs", "iot", "payments", "search", "ads"}
)

func databaseName(i int) string {
	name := dbLayers[i%len(dbLayers)] + "_" + dbDomains[(i/len(dbLayers))%len(dbDomains)]
	if n := i / (len(dbLayers) * len(dbDomains)); n > 0 {
		name += "_" + strconv.Itoa(n+1)
	}
	return name
}

var workgroupNames = []string{"primary", "analysts", "etl", "bi-dashboards", "data-science", "adhoc", "finance-reporting", "ml-features"}

// workgroupOf names workgroup i; every seventh runs on provisioned
// capacity.
func workgroupOf(i int) workgroup {
	if i%7 == 6 {
		return workgroup{name: "capacity-" + strconv.Itoa(i/7+1), dpu: []float64{24, 48, 96, 120}[(i/7)%4]}
	}
	if i < len(workgroupNames) {
		return workgroup{name: workgroupNames[i]}
	}
	return workgroup{name: "team-wg-" + strconv.Itoa(i)}
}

var firstNames = []string{"alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy", "mallory", "niaj",
	"olivia", "peggy", "rupert", "sybil", "trent", "victor", "walter", "yasmin", "zoe", "amir", "bea", "chen"}

var permissionSets = []string{"DataAnalyst", "DataEngineer", "ReadOnly", "PowerUser", "FinanceAnalyst"}
