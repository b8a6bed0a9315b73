package orgsim

import (
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"sort"
	"strings"
	"time"

	"github.com/athenawatch/athenawatch/internal/awsemu"
)

// Config configures a simulation. The zero value, with defaults applied,
// is a seven-day demo that runs in a few seconds.
type Config struct {
	// Seed makes the plan (every query, its principal, text and outcome)
	// reproducible.
	Seed uint64
	// Start and End bound the simulated period. Zero End means the current
	// hour; zero Start means seven days before End. A period longer than 45
	// days produces queries that Athena no longer knows at End.
	Start, End time.Time
	// QueriesPerDay is the mean number of submissions a day (default 120).
	QueriesPerDay int
	// NoiseRatio is the fraction of trail records of other services (default
	// 0.99; negative means none).
	NoiseRatio float64
	// DuplicateRate is the fraction of trail records delivered twice
	// (default 0.005; negative means none).
	DuplicateRate float64
	// Regions the organization uses (default DefaultRegions).
	Regions []string
	// Paced keeps the emulator's Athena API quotas during the run and paces
	// the clients under them on the real clock, which makes a run of a few
	// hundred queries take many seconds. By default the run lifts the
	// StartQueryExecution and GetQueryExecution quotas, because it squeezes
	// days of calls into seconds, and restores Athena's defaults afterwards.
	Paced bool
	// Logger receives progress lines; nil discards.
	Logger *slog.Logger
}

// maxEngineTime bounds a planned query's engine time under Athena's default
// DML query timeout of 30 minutes (Service Quotas, "DML query timeout").
const maxEngineTime = 25 * time.Minute

// DefaultQueriesPerDay is Config.QueriesPerDay's default.
const DefaultQueriesPerDay = 120

func (c Config) withDefaults() Config {
	if c.End.IsZero() {
		c.End = time.Now().UTC().Truncate(time.Hour)
	}
	c.End = c.End.UTC()
	if c.Start.IsZero() {
		c.Start = c.End.Add(-7 * 24 * time.Hour)
	}
	c.Start = c.Start.UTC()
	if c.QueriesPerDay <= 0 {
		c.QueriesPerDay = DefaultQueriesPerDay
	}
	if len(c.Regions) == 0 {
		c.Regions = DefaultRegions
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// PlannedQuery is one submission the simulation will make, decided before
// anything runs: who submits what, when, where, and what Athena will make of
// it.
type PlannedQuery struct {
	Principal *Principal
	// SessionName is the role session name the query runs under (ETL
	// sessions are ephemeral; other principals keep theirs).
	SessionName string
	Account     string
	Region      string
	Time        time.Time
	Token       string // ClientRequestToken
	QueryText   string
	Database    string
	Workgroup   string
	ResultReuse bool // ask for result reuse

	// Expected athenawatch attribution, from the simulation's own knowledge.
	User, Role, Team string

	Outcome awsemu.Outcome
	// PollAt is when the client asks GetQueryExecution once: at completion,
	// or at the end of the period for queries still running then.
	PollAt time.Time
}

// Rejected reports whether Athena will refuse the submission.
func (q *PlannedQuery) Rejected() bool { return q.Outcome.RejectCode != "" }

// Completion is when the query reaches its final state.
func (q *PlannedQuery) Completion() time.Time {
	o := q.Outcome
	return q.Time.Add(o.QueueTime + o.PreProcessingTime + o.EngineTime + o.ServiceProcessingTime)
}

// Plan is the deterministic schedule of a simulation.
type Plan struct {
	Config  Config
	Org     *Org
	Queries []*PlannedQuery // in submission time order
}

var tablesByDatabase = map[string][]string{
	"sales":     {"orders", "customers", "line_items", "refunds"},
	"logs":      {"alb_logs", "cloudfront_logs", "app_events", "vpc_flow_logs"},
	"marketing": {"campaigns", "clicks", "impressions"},
	"finance":   {"invoices", "ledger", "payments"},
	"default":   {"tmp_results", "scratch"},
}

var dashboards = []string{"Weekly revenue", "Campaign funnel", "Churn by cohort", "Daily active users", "Finance close"}

// NewPlan plans every submission of the period. The same Config (seed,
// period, rate, regions) always gives the same plan.
func NewPlan(cfg Config) *Plan {
	cfg = cfg.withDefaults()
	org := NewOrg(cfg.Regions)
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x706c616e))
	p := &Plan{Config: cfg, Org: org}

	period := cfg.End.Sub(cfg.Start)
	if period <= 0 {
		return p
	}
	n := int(math.Round(float64(cfg.QueriesPerDay) * period.Hours() / 24))
	var totalWeight float64
	for _, pr := range org.Principals {
		totalWeight += pr.Weight
	}
	etlSessions := make(map[string]string) // principal+day → session name
	for range n {
		pr := pickPrincipal(rng, org.Principals, totalWeight)
		t := pickTime(rng, pr, cfg.Start, period)
		p.Queries = append(p.Queries, planQuery(rng, org, pr, t, etlSessions))
	}
	// A few long queries submitted shortly before the end are still running
	// when the period ends, and finish a few minutes after it, well within
	// Athena's default 30-minute query timeout.
	for i := 0; i < 3 && period > time.Hour; i++ {
		pr := org.Principals[rng.IntN(len(org.Principals))]
		t := cfg.End.Add(-time.Duration(1+rng.IntN(20)) * time.Minute)
		q := planQuery(rng, org, pr, t, etlSessions)
		q.QueryText = selectText(rng, q.Database, q.Principal, q.User)
		const queue, pre, service = time.Second, 50 * time.Millisecond, 100 * time.Millisecond
		doneAfterEnd := time.Duration(1+rng.IntN(5)) * time.Minute
		q.Outcome = awsemu.Outcome{
			State: awsemu.StateSucceeded, StatementType: "DML", SubstatementType: "SELECT",
			DataScannedBytes: 200e9 + rng.Int64N(300e9),
			QueueTime:        queue, PreProcessingTime: pre, PlanningTime: 2 * time.Second,
			EngineTime:            cfg.End.Sub(t) + doneAfterEnd - queue - pre - service,
			ServiceProcessingTime: service,
		}
		q.ResultReuse = false
		p.Queries = append(p.Queries, q)
	}
	sort.SliceStable(p.Queries, func(i, j int) bool { return p.Queries[i].Time.Before(p.Queries[j].Time) })
	for _, q := range p.Queries {
		q.PollAt = q.Completion().Add(time.Duration(200+rng.IntN(1800)) * time.Millisecond)
		if q.PollAt.After(cfg.End) {
			q.PollAt = cfg.End
		}
	}
	return p
}

func pickPrincipal(rng *rand.Rand, ps []*Principal, total float64) *Principal {
	x := rng.Float64() * total
	for _, p := range ps {
		if x < p.Weight {
			return p
		}
		x -= p.Weight
	}
	return ps[len(ps)-1]
}

// pickTime draws a submission time: people work office hours on weekdays,
// ETL runs at night, the BI tool all day.
func pickTime(rng *rand.Rand, p *Principal, start time.Time, period time.Duration) time.Time {
	for range 50 {
		t := start.Add(time.Duration(rng.Int64N(int64(period))))
		h := t.Hour()
		weekend := t.Weekday() == time.Saturday || t.Weekday() == time.Sunday
		var accept float64
		switch p.Kind {
		case KindETL:
			accept = 0.1
			if h >= 0 && h < 6 {
				accept = 1
			}
		case KindBI:
			accept = 0.4
			if h >= 7 && h < 20 {
				accept = 1
			}
		default:
			accept = 0.05
			if h >= 8 && h < 19 && !weekend {
				accept = 1
			}
		}
		if rng.Float64() < accept {
			return t.Truncate(time.Millisecond)
		}
	}
	return start.Add(time.Duration(rng.Int64N(int64(period)))).Truncate(time.Millisecond)
}

func appendRandomUUID(rng *rand.Rand) string { return string(appendUUID(nil, rng)) }

func planQuery(rng *rand.Rand, org *Org, pr *Principal, t time.Time, etlSessions map[string]string) *PlannedQuery {
	q := &PlannedQuery{
		Principal:   pr,
		SessionName: pr.SessionName,
		Account:     pr.Account,
		Region:      pr.HomeRegion,
		Time:        t,
		Token:       appendRandomUUID(rng),
		Database:    pr.Databases[rng.IntN(len(pr.Databases))],
		Workgroup:   pr.Workgroups[rng.IntN(len(pr.Workgroups))],
		User:        pr.User,
		Role:        pr.Role(),
		Team:        pr.Team,
	}
	if rng.IntN(5) == 0 {
		q.Region = org.Regions[rng.IntN(len(org.Regions))]
	}
	if pr.Kind == KindETL {
		// One run a day, under a fresh session name such as an EC2 instance id.
		day := pr.Name + t.Format("2006-01-02")
		s, ok := etlSessions[day]
		if !ok {
			if rng.IntN(2) == 0 {
				s = "i-0" + string(appendHex(nil, rng, 16))
			} else {
				s = "run-" + string(appendHex(nil, rng, 12))
			}
			etlSessions[day] = s
		}
		q.SessionName = s
	}

	// What kind of statement.
	kind := rng.Float64()
	var stmt, sub string
	switch {
	case pr.Kind == KindETL && kind < 0.5:
		stmt, sub = "DML", "INSERT"
	case pr.Kind == KindETL && kind < 0.7:
		stmt, sub = "DDL", "MSCK_REPAIR_TABLE"
	case pr.Kind != KindETL && kind < 0.05:
		stmt, sub = "DDL", "CREATE_TABLE"
	case pr.Kind != KindETL && kind < 0.12:
		stmt, sub = "UTILITY", "SHOW_TABLES"
		if rng.IntN(2) == 0 {
			sub = "DESCRIBE_TABLE"
		}
	default:
		stmt, sub = "DML", "SELECT"
	}
	if pr.Kind == KindBI {
		stmt, sub = "DML", "SELECT"
		if rng.IntN(5) > 0 {
			person := pr.People[rng.IntN(len(pr.People))]
			q.User, q.Team = person.User, person.Team
		}
	}
	q.QueryText = statementText(rng, sub, q.Database, pr, q.User)

	o := awsemu.Outcome{
		State:                 awsemu.StateSucceeded,
		StatementType:         stmt,
		SubstatementType:      sub,
		QueueTime:             time.Duration(20+rng.IntN(1500)) * time.Millisecond,
		PreProcessingTime:     time.Duration(5+rng.IntN(120)) * time.Millisecond,
		PlanningTime:          time.Duration(40+rng.IntN(900)) * time.Millisecond,
		ServiceProcessingTime: time.Duration(10+rng.IntN(200)) * time.Millisecond,
	}
	if stmt == "DML" {
		o.DataScannedBytes = scanBytes(rng, pr.MedianScan)
		// Roughly 1 GB/s of scanning plus fixed overhead; Athena spreads
		// the largest scans over more workers, and its default query
		// timeout is 30 minutes.
		o.EngineTime = o.PlanningTime + 300*time.Millisecond + time.Duration(float64(o.DataScannedBytes)/1e9*float64(time.Second))
		o.EngineTime = min(o.EngineTime, maxEngineTime)
	} else {
		o.EngineTime = o.PlanningTime + time.Duration(100+rng.IntN(1500))*time.Millisecond
	}

	r := rng.Float64()
	switch {
	case r < 0.01:
		o = awsemu.Outcome{RejectCode: "InvalidRequestException"}
		switch rng.IntN(3) {
		case 0:
			o.RejectMessage = "line 1:8: mismatched input 'FORM'. Expecting: ',', 'FROM', <EOF>"
		case 1:
			o.RejectMessage = "Queries of this type are not supported"
		default:
			o.RejectMessage = "Unable to verify/create output bucket aws-athena-query-results-" + q.Account + "-" + q.Region
		}
	case r < 0.06:
		o.State = awsemu.StateFailed
		o.DataScannedBytes = o.DataScannedBytes / int64(2+rng.IntN(20))
		o.ErrorCategory = 2
		switch rng.IntN(3) {
		case 0:
			o.ErrorType, o.ErrorMessage = 1301, "TABLE_NOT_FOUND: line 1:15: Table 'awsdatacatalog."+q.Database+".orders_v2' does not exist"
		case 1:
			o.ErrorType, o.ErrorMessage = 1001, "COLUMN_NOT_FOUND: line 3:9: Column 'revenu' cannot be resolved"
		default:
			o.ErrorCategory, o.ErrorType, o.ErrorMessage = 3, 1205, "HIVE_BAD_DATA: Error parsing field value for field 3"
		}
	case r < 0.08:
		o.State = awsemu.StateCancelled
		o.DataScannedBytes = o.DataScannedBytes / int64(2+rng.IntN(5))
	case r < 0.12 && stmt == "DML" && sub == "SELECT" && pr.Kind != KindETL:
		q.ResultReuse = true
		o.ReusedPreviousResult = true
		o.DataScannedBytes = 0
		o.EngineTime = o.PlanningTime
	}
	if !q.ResultReuse && sub == "SELECT" && rng.IntN(10) == 0 {
		// Asking for reuse does not mean getting it.
		q.ResultReuse = true
	}
	q.Outcome = o
	return q
}

// scanBytes draws a heavy-tailed scan size: lognormal around the
// principal's median, with a Pareto tail that produces the occasional scan
// of hundreds of gigabytes.
func scanBytes(rng *rand.Rand, median float64) int64 {
	b := median / 20 * math.Exp(2.2*rng.NormFloat64())
	if rng.IntN(100) == 0 {
		b = 5e10 * math.Pow(1-rng.Float64(), -1/1.2)
	}
	b = min(max(b, 1024), 2e12)
	return int64(b)
}

func statementText(rng *rand.Rand, sub, db string, pr *Principal, user string) string {
	tables := tablesByDatabase[db]
	table := tables[rng.IntN(len(tables))]
	switch sub {
	case "INSERT":
		return fmt.Sprintf("INSERT INTO %s.%s_daily\nSELECT date_trunc('day', event_time) AS day, count(*) AS n\nFROM %s.%s\nWHERE dt = '%s'\nGROUP BY 1",
			db, table, db, table, time.Date(2026, time.Month(1+rng.IntN(12)), 1+rng.IntN(28), 0, 0, 0, 0, time.UTC).Format("2006-01-02"))
	case "MSCK_REPAIR_TABLE":
		return "MSCK REPAIR TABLE " + db + "." + table
	case "CREATE_TABLE":
		return fmt.Sprintf("CREATE EXTERNAL TABLE IF NOT EXISTS %s.%s_%s (id string, amount double, event_time timestamp)\nPARTITIONED BY (dt string)\nSTORED AS PARQUET\nLOCATION 's3://acme-lake-%s/%s/'",
			db, table, string(appendHex(nil, rng, 4)), db, table)
	case "SHOW_TABLES":
		return "SHOW TABLES IN " + db
	case "DESCRIBE_TABLE":
		return "DESCRIBE " + db + "." + table
	}
	return selectText(rng, db, pr, user)
}

func selectText(rng *rand.Rand, db string, pr *Principal, user string) string {
	tables := tablesByDatabase[db]
	table := tables[rng.IntN(len(tables))]
	var sb strings.Builder
	if pr.Kind == KindBI && user != pr.User {
		fmt.Fprintf(&sb, "-- user: %s\n-- dashboard: %s\n", user, dashboards[rng.IntN(len(dashboards))])
	}
	day := time.Date(2026, time.Month(1+rng.IntN(12)), 1+rng.IntN(28), 0, 0, 0, 0, time.UTC).Format("2006-01-02")
	switch rng.IntN(4) {
	case 0:
		fmt.Fprintf(&sb, "SELECT count(*) FROM %s.%s WHERE dt = '%s'", db, table, day)
	case 1:
		fmt.Fprintf(&sb, "SELECT *\nFROM %s.%s\nWHERE dt >= '%s'\nLIMIT %d", db, table, day, 10*(1+rng.IntN(100)))
	case 2:
		fmt.Fprintf(&sb, "SELECT region, sum(amount) AS total\nFROM %s.%s\nWHERE dt BETWEEN '%s' AND date_add('day', 30, date '%s')\nGROUP BY region\nORDER BY total DESC", db, table, day, day)
	default:
		other := tables[rng.IntN(len(tables))]
		fmt.Fprintf(&sb, "WITH recent AS (\n  SELECT * FROM %s.%s WHERE dt > '%s'\n)\nSELECT r.id, count(*) AS n\nFROM recent r JOIN %s.%s o ON o.id = r.id\nGROUP BY r.id\nORDER BY n DESC\nLIMIT 50", db, table, day, db, other)
	}
	return sb.String()
}
