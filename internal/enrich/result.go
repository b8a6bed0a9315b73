package enrich

import (
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/athena/types"
)

// Ref names one query execution: the account that owns it, the region it
// ran in and its query execution id, as CloudTrail recorded them.
type Ref struct {
	Account string
	Region  string
	QueryID string
}

// Result is what Athena said about one Ref.
//
// Known is false when Athena does not know the id (older than Athena's 45
// days of query history, never existed, or not a valid id at all); the
// caller records such a query as no_stats and never asks again. When Known is
// true the remaining fields are copied from the QueryExecution; a missing
// value is the zero value (0, "", zero time).
type Result struct {
	Ref
	Known bool

	State             string // QUEUED, RUNNING, SUCCEEDED, FAILED, CANCELLED
	StateChangeReason string
	StatementType     string // DDL, DML, UTILITY
	SubstatementType  string
	Database          string
	Catalog           string
	WorkGroup         string
	Query             string
	EngineVersion     string // the effective engine version

	DataScannedBytes       int64
	EngineExecutionMs      int64
	TotalExecutionMs       int64
	QueueMs                int64
	PlanningMs             int64
	ServicePreProcessingMs int64
	ServiceProcessingMs    int64
	// DPUCount is set for queries on provisioned capacity, which are billed
	// by DPU-hours rather than by bytes scanned.
	DPUCount float64

	SubmittedAt          time.Time // UTC
	CompletedAt          time.Time // UTC; zero while not final
	ReusedPreviousResult bool

	ErrorCategory int32 // 1 system, 2 user, 3 other; 0 when the query did not fail
	ErrorType     int32
	ErrorMessage  string

	OutputLocation string
}

// Final reports whether the query reached a terminal state. Queries that are
// not final (QUEUED, RUNNING) must be asked again on a later run, and so must
// nothing else: a final state never changes.
func (r *Result) Final() bool {
	switch types.QueryExecutionState(r.State) {
	case types.QueryExecutionStateSucceeded, types.QueryExecutionStateFailed, types.QueryExecutionStateCancelled:
		return true
	}
	return false
}

// resultFrom copies a QueryExecution into plain Go values.
func resultFrom(ref Ref, qe *types.QueryExecution) Result {
	r := Result{
		Ref:              ref,
		Known:            true,
		StatementType:    string(qe.StatementType),
		SubstatementType: aws.ToString(qe.SubstatementType),
		WorkGroup:        aws.ToString(qe.WorkGroup),
		Query:            aws.ToString(qe.Query),
	}
	if c := qe.QueryExecutionContext; c != nil {
		r.Database = aws.ToString(c.Database)
		r.Catalog = aws.ToString(c.Catalog)
	}
	if v := qe.EngineVersion; v != nil {
		r.EngineVersion = aws.ToString(v.EffectiveEngineVersion)
	}
	if rc := qe.ResultConfiguration; rc != nil {
		r.OutputLocation = aws.ToString(rc.OutputLocation)
	}
	if s := qe.Status; s != nil {
		r.State = string(s.State)
		r.StateChangeReason = aws.ToString(s.StateChangeReason)
		r.SubmittedAt = utc(s.SubmissionDateTime)
		r.CompletedAt = utc(s.CompletionDateTime)
		if e := s.AthenaError; e != nil {
			r.ErrorCategory = aws.ToInt32(e.ErrorCategory)
			r.ErrorType = aws.ToInt32(e.ErrorType)
			r.ErrorMessage = aws.ToString(e.ErrorMessage)
		}
	}
	if st := qe.Statistics; st != nil {
		r.DataScannedBytes = aws.ToInt64(st.DataScannedInBytes)
		r.EngineExecutionMs = aws.ToInt64(st.EngineExecutionTimeInMillis)
		r.TotalExecutionMs = aws.ToInt64(st.TotalExecutionTimeInMillis)
		r.QueueMs = aws.ToInt64(st.QueryQueueTimeInMillis)
		r.PlanningMs = aws.ToInt64(st.QueryPlanningTimeInMillis)
		r.ServicePreProcessingMs = aws.ToInt64(st.ServicePreProcessingTimeInMillis)
		r.ServiceProcessingMs = aws.ToInt64(st.ServiceProcessingTimeInMillis)
		r.DPUCount = aws.ToFloat64(st.DpuCount)
		if ri := st.ResultReuseInformation; ri != nil {
			r.ReusedPreviousResult = ri.ReusedPreviousResult
		}
	}
	return r
}

func utc(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.UTC()
}
