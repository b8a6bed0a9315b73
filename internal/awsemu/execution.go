package awsemu

import (
	"fmt"
	"hash/fnv"
	"regexp"
	"strings"
	"time"
)

// Athena query states as the API spells them.
const (
	StateQueued    = "QUEUED"
	StateRunning   = "RUNNING"
	StateSucceeded = "SUCCEEDED"
	StateFailed    = "FAILED"
	StateCancelled = "CANCELLED"
)

// historyRetention is how long Athena remembers a query execution after it was
// submitted: "Athena keeps a query history for 45 days"
// (https://docs.aws.amazon.com/athena/latest/ug/querying.html#queries-viewing-history,
// confirmed by an AWS SDK maintainer in https://github.com/boto/boto3/issues/3847).
const historyRetention = 45 * 24 * time.Hour

// QueryRequest is what a StartQueryExecution call asked for, after defaults
// (workgroup primary, catalog awsdatacatalog) were applied. An Engine decides
// the query's fate from it.
type QueryRequest struct {
	Account, Region    string
	Identity           Identity
	QueryString        string
	Database           string
	Catalog            string
	WorkGroup          string
	ClientRequestToken string
	ResultReuse        bool
	Time               time.Time
}

// Outcome is an Engine's decision about one query: either a rejection of the
// StartQueryExecution call, or the query's final state and statistics.
type Outcome struct {
	// RejectCode and RejectMessage, when RejectCode is not empty, make
	// StartQueryExecution fail with that error __type (InvalidRequestException,
	// TooManyRequestsException, InternalServerException, ...) and create no query.
	RejectCode, RejectMessage string

	State            string // SUCCEEDED, FAILED or CANCELLED: the final state
	StatementType    string // DDL, DML, UTILITY
	SubstatementType string // SELECT, INSERT, CREATE_TABLE, ...
	DataScannedBytes int64

	// The query's timeline. It waits QueueTime in QUEUED, then is RUNNING for
	// PreProcessingTime + EngineTime + ServiceProcessingTime. EngineTime is
	// Athena's EngineExecutionTimeInMillis, which includes PlanningTime.
	QueueTime, PlanningTime, EngineTime, ServiceProcessingTime time.Duration
	// PreProcessingTime is ServicePreProcessingTimeInMillis: Athena reports it
	// and it is part of TotalExecutionTimeInMillis.
	PreProcessingTime time.Duration

	ReusedPreviousResult bool

	// DPUCount is Statistics.DpuCount, reported for queries on provisioned
	// capacity only. Zero on a provisioned workgroup lets the emulator pick
	// it with ProvisionedDPUs.
	DPUCount float64

	// For FAILED queries: Status.AthenaError.
	ErrorCategory, ErrorType int32
	ErrorMessage             string
}

// Engine decides what becomes of each started query.
type Engine interface {
	Run(req QueryRequest) Outcome
}

// EngineFunc adapts a function to Engine.
type EngineFunc func(QueryRequest) Outcome

// Run calls f(req).
func (f EngineFunc) Run(req QueryRequest) Outcome { return f(req) }

// Execution is the ground truth about one started query, kept forever (also
// after Athena's API has forgotten it).
type Execution struct {
	Account, Region, QueryID string
	Request                  QueryRequest
	Outcome                  Outcome
	Submitted, Completed     time.Time
}

// WorkGroup is the ground truth about one workgroup.
type WorkGroup struct {
	Account, Region, Name string
	Description           string
	// OutputLocation is where the results of its queries go when a query
	// names no location of its own (empty: Athena's default bucket).
	OutputLocation string
	// Provisioned marks a workgroup that runs on provisioned capacity (billed
	// by DPU-hours, not bytes scanned); only AddWorkGroup sets it.
	Provisioned bool
	Created     time.Time

	config workGroupConfigJSON // as GetWorkGroup shows it
	// Disabled is State DISABLED (UpdateWorkGroup): the workgroup refuses
	// new queries.
	Disabled bool
}

// DefaultEngine decides outcomes deterministically from a hash of the query
// text, so the same text always gives the same statistics: about one query in
// twenty fails, none is rejected, and bytes scanned and times are spread over
// realistic ranges. A query that reads no table (SELECT 1, SELECT now(),
// VALUES ...) scans nothing and finishes in well under a second, as on Athena.
var DefaultEngine Engine = EngineFunc(defaultOutcome)

// fromClause finds a FROM keyword: a statement without one reads no table.
var fromClause = regexp.MustCompile(`(?i)\bFROM\b`)

func defaultOutcome(req QueryRequest) Outcome {
	h := fnv.New64a()
	h.Write([]byte(req.QueryString))
	sum := h.Sum64()
	// pick draws successive pseudo-random numbers from the hash so that each
	// statistic varies independently.
	pick := func(n uint64) uint64 {
		sum = sum*6364136223846793005 + 1442695040888963407
		return (sum >> 33) % n
	}
	st, sub := classifyStatement(req.QueryString)
	body := stripLeadingComments(req.QueryString)
	if st == "DML" && sub == "SELECT" && !fromClause.MatchString(body) && !strings.HasPrefix(strings.ToUpper(body), "TABLE") {
		planning := time.Duration(20+pick(130)) * time.Millisecond
		return Outcome{
			State: StateSucceeded, StatementType: st, SubstatementType: sub,
			QueueTime:             time.Duration(50+pick(250)) * time.Millisecond,
			PreProcessingTime:     time.Duration(10+pick(50)) * time.Millisecond,
			PlanningTime:          planning,
			EngineTime:            planning + time.Duration(50+pick(200))*time.Millisecond,
			ServiceProcessingTime: time.Duration(10+pick(70)) * time.Millisecond,
		}
	}
	out := Outcome{
		State:                 StateSucceeded,
		StatementType:         st,
		SubstatementType:      sub,
		QueueTime:             time.Duration(50+pick(450)) * time.Millisecond,
		PreProcessingTime:     time.Duration(10+pick(90)) * time.Millisecond,
		PlanningTime:          time.Duration(50+pick(450)) * time.Millisecond,
		ServiceProcessingTime: time.Duration(10+pick(90)) * time.Millisecond,
	}
	switch st {
	case "DML":
		// Log-uniform between 1 KiB and ~64 GiB.
		out.DataScannedBytes = int64(1024) << pick(26)
		out.DataScannedBytes += int64(pick(uint64(out.DataScannedBytes)))
		out.EngineTime = out.PlanningTime + time.Duration(200+pick(60000))*time.Millisecond
	default:
		out.EngineTime = out.PlanningTime + time.Duration(100+pick(900))*time.Millisecond
	}
	if pick(20) == 0 {
		out.State = StateFailed
		out.DataScannedBytes = 0
		out.ErrorCategory = 2 // USER
		out.ErrorType = 1301  // generic user error
		out.ErrorMessage = "TABLE_NOT_FOUND: line 1:15: Table does not exist"
	}
	return out
}

// classifyStatement gives Athena's StatementType and SubstatementType for a
// query from its first keywords.
func classifyStatement(q string) (statementType, substatementType string) {
	words := strings.Fields(strings.ToUpper(stripLeadingComments(q)))
	first, second := "", ""
	if len(words) > 0 {
		first = words[0]
	}
	if len(words) > 1 {
		second = words[1]
	}
	switch first {
	case "SELECT", "WITH", "VALUES", "TABLE", "(":
		return "DML", "SELECT"
	case "INSERT":
		return "DML", "INSERT"
	case "UNLOAD":
		return "DML", "UNLOAD"
	case "UPDATE", "DELETE", "MERGE":
		return "DML", first
	case "CREATE":
		if strings.Contains(strings.ToUpper(q), " AS ") && (second == "TABLE" || second == "EXTERNAL") {
			return "DML", "CREATE_TABLE_AS_SELECT"
		}
		if second == "EXTERNAL" {
			second = "TABLE"
		}
		return "DDL", "CREATE_" + second
	case "DROP", "ALTER":
		return "DDL", first + "_" + second
	case "MSCK":
		return "DDL", "MSCK_REPAIR_TABLE"
	case "SHOW":
		return "UTILITY", "SHOW_" + second
	case "DESCRIBE", "DESC":
		return "UTILITY", "DESCRIBE_TABLE"
	case "EXPLAIN":
		return "UTILITY", "EXPLAIN"
	}
	return "DML", "SELECT"
}

// stripLeadingComments drops the "-- ..." lines and "/* ... */" blocks BI
// tools put before the statement.
func stripLeadingComments(q string) string {
	for {
		q = strings.TrimSpace(q)
		switch {
		case strings.HasPrefix(q, "--"):
			i := strings.IndexByte(q, '\n')
			if i < 0 {
				return ""
			}
			q = q[i+1:]
		case strings.HasPrefix(q, "/*"):
			i := strings.Index(q, "*/")
			if i < 0 {
				return ""
			}
			q = q[i+2:]
		default:
			return q
		}
	}
}

// execution is one query as the emulated Athena holds it.
type execution struct {
	id        string
	account   string
	region    string
	req       QueryRequest
	out       Outcome
	submitted time.Time
	// completed is when the query reaches its final state; StopQueryExecution
	// moves it earlier.
	completed   time.Time
	outputLoc   string
	reuseMaxAge int32 // ResultReuseByAgeConfiguration.MaxAgeInMinutes; 0 = none given
	stopped     bool
}

func (x *execution) runningAt() time.Time { return x.submitted.Add(x.out.QueueTime) }

// state is the query's state at now on the emulator clock.
func (x *execution) state(now time.Time) string {
	switch {
	case now.Before(x.runningAt()) && !x.stopped:
		return StateQueued
	case now.Before(x.completed):
		return StateRunning
	}
	return x.out.State
}

// ProvisionedDPUs is the DpuCount the emulator reports for a query on
// provisioned capacity whose Outcome sets none: 4 DPUs, the smallest
// allocation, plus 4 for every started 10 GB scanned, at most 120. It is the
// emulator's own rule, kept simple so ground truths can recompute it.
func ProvisionedDPUs(o Outcome) float64 {
	if o.DPUCount > 0 {
		return o.DPUCount
	}
	const per = 10_000_000_000
	extra := (max(o.DataScannedBytes, 0) + per - 1) / per
	return float64(min(4+4*extra, 120))
}

// stats are the statistics Athena reports at now: partial while the query is
// queued or running, final afterwards.
type stats struct {
	queue, preProcessing, planning, engine, serviceProcessing, total time.Duration
	scanned                                                          int64
}

func (x *execution) statsAt(now time.Time) stats {
	o := x.out
	if !now.Before(x.completed) {
		return stats{
			queue: o.QueueTime, preProcessing: o.PreProcessingTime, planning: o.PlanningTime,
			engine: o.EngineTime, serviceProcessing: o.ServiceProcessingTime,
			total:   x.completed.Sub(x.submitted),
			scanned: o.DataScannedBytes,
		}
	}
	elapsed := max(now.Sub(x.submitted), 0)
	if elapsed < o.QueueTime {
		return stats{queue: elapsed, total: elapsed}
	}
	s := stats{queue: o.QueueTime, total: elapsed}
	inRun := elapsed - o.QueueTime
	s.preProcessing = min(inRun, o.PreProcessingTime)
	inEngine := max(inRun-o.PreProcessingTime, 0)
	s.engine = min(inEngine, o.EngineTime)
	s.planning = min(inEngine, o.PlanningTime)
	if o.EngineTime > 0 {
		s.scanned = int64(float64(o.DataScannedBytes) * float64(s.engine) / float64(o.EngineTime))
	}
	return s
}

// stop cancels a query that is not final at now, as StopQueryExecution does,
// scaling its statistics to the part that ran.
func (x *execution) stop(now time.Time) {
	st := x.state(now)
	if st != StateQueued && st != StateRunning {
		return
	}
	partial := x.statsAt(now)
	x.stopped = true
	x.completed = now
	x.out.State = StateCancelled
	x.out.QueueTime = partial.queue
	x.out.PreProcessingTime = partial.preProcessing
	x.out.PlanningTime = partial.planning
	x.out.EngineTime = partial.engine
	x.out.ServiceProcessingTime = 0
	x.out.DataScannedBytes = partial.scanned
	x.out.ErrorCategory, x.out.ErrorType, x.out.ErrorMessage = 0, 0, ""
}

// forgotten reports whether Athena no longer answers for the query at now.
func (x *execution) forgotten(now time.Time) bool {
	return now.Sub(x.submitted) >= historyRetention
}

func (x *execution) truth() Execution {
	return Execution{
		Account: x.account, Region: x.region, QueryID: x.id,
		Request: x.req, Outcome: x.out,
		Submitted: x.submitted, Completed: x.completed,
	}
}

// defaultOutputLocation is the bucket the Athena console creates for query
// results when none is configured.
func defaultOutputLocation(account, region string) string {
	return fmt.Sprintf("s3://aws-athena-query-results-%s-%s/", account, region)
}
