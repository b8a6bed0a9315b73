package enrich

import (
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/athena/types"

	"github.com/athenawatch/athenawatch/internal/store"
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
// true, Stats holds the QueryExecution as the store keeps it, checked against
// the documented bounds (MaxDataScannedBytes and the others); a missing value
// is the zero value (0, "", zero time).
type Result struct {
	Ref
	Known bool
	Stats store.Stats
	// Clamped is set when a value of Athena's answer was out of its bound
	// and was clamped or repaired before being put in Stats; the query is
	// named in a warning.
	Clamped bool
	// Unusable is set when a statistic cost is computed from (bytes
	// scanned, engine time, DPU count) was impossible. Such statistics are
	// not final: the query stays pending, reports count it as pending
	// rather than show a made-up cost, and the next run asks again.
	Unusable bool
}

// Final reports whether Athena's answer is final: the query reached a
// terminal state and its statistics are usable. Queries that are not final
// (QUEUED, RUNNING, unusable statistics) must be asked again on a later run,
// and so must nothing else: a final state never changes.
func (r *Result) Final() bool {
	return r.Known && !r.Unusable && finalState(r.Stats.State)
}

func finalState(state string) bool {
	switch types.QueryExecutionState(state) {
	case types.QueryExecutionStateSucceeded, types.QueryExecutionStateFailed, types.QueryExecutionStateCancelled:
		return true
	}
	return false
}

// statsFrom copies a QueryExecution into the store's terms, unchecked.
func statsFrom(qe *types.QueryExecution) store.Stats {
	st := store.Stats{
		StatementType:    string(qe.StatementType),
		SubstatementType: aws.ToString(qe.SubstatementType),
		Workgroup:        aws.ToString(qe.WorkGroup),
		QueryText:        aws.ToString(qe.Query),
	}
	if c := qe.QueryExecutionContext; c != nil {
		st.Database = aws.ToString(c.Database)
		st.Catalog = aws.ToString(c.Catalog)
	}
	if v := qe.EngineVersion; v != nil {
		st.EngineVersion = aws.ToString(v.EffectiveEngineVersion)
	}
	if rc := qe.ResultConfiguration; rc != nil {
		st.OutputLocation = aws.ToString(rc.OutputLocation)
	}
	if s := qe.Status; s != nil {
		st.State = string(s.State)
		st.StateChangeReason = aws.ToString(s.StateChangeReason)
		st.SubmittedAt = utc(s.SubmissionDateTime)
		st.CompletedAt = utc(s.CompletionDateTime)
		if e := s.AthenaError; e != nil {
			st.ErrorCategory = aws.ToInt32(e.ErrorCategory)
			st.ErrorType = aws.ToInt32(e.ErrorType)
			st.ErrorMessage = aws.ToString(e.ErrorMessage)
		}
	}
	if s := qe.Statistics; s != nil {
		st.DataScannedBytes = aws.ToInt64(s.DataScannedInBytes)
		st.EngineMs = aws.ToInt64(s.EngineExecutionTimeInMillis)
		st.TotalMs = aws.ToInt64(s.TotalExecutionTimeInMillis)
		st.QueueMs = aws.ToInt64(s.QueryQueueTimeInMillis)
		st.PlanningMs = aws.ToInt64(s.QueryPlanningTimeInMillis)
		st.ServicePreprocessingMs = aws.ToInt64(s.ServicePreProcessingTimeInMillis)
		st.ServiceProcessingMs = aws.ToInt64(s.ServiceProcessingTimeInMillis)
		st.DPUCount = aws.ToFloat64(s.DpuCount)
		if ri := s.ResultReuseInformation; ri != nil {
			st.ReusedResult = ri.ReusedPreviousResult
		}
	}
	return st
}

func utc(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.UTC()
}
