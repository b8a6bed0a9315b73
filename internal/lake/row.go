// Package lake writes the usage lake: one row per query, as Parquet or
// CSV, Hive-partitioned by day under a directory or an S3 prefix, so that
// Athena, Trino, Spark or DuckDB analyse what athenawatch collected; and
// the Athena DDL over it, the CloudTrail table and the seed's tables.
package lake

import (
	"time"

	"github.com/athenawatch/athenawatch/internal/store"
	"github.com/athenawatch/athenawatch/internal/usage"
)

// Row is one query of the usage table. Timestamps are UTC wall-clock
// times (Parquet TIMESTAMP(MILLIS) not adjusted to UTC, which Athena and
// DuckDB both read as a plain timestamp); bytes are int64, cost a double.
// Query text is left out: it can hold secrets, and fingerprint groups
// queries of one shape. The column list is the contract of DESIGN.md
// "Export" and of the table ddl writes; add columns at the end only.
type Row struct {
	QueryID          string     `parquet:"query_id"`
	Region           string     `parquet:"region,dict"`
	Account          string     `parquet:"account,dict"`
	User             string     `parquet:"user,dict"`
	Role             string     `parquet:"role,dict"`
	Team             string     `parquet:"team,dict"`
	PrincipalARN     string     `parquet:"principal_arn,dict"`
	Database         string     `parquet:"database,dict"`
	Workgroup        string     `parquet:"workgroup,dict"`
	State            string     `parquet:"state,dict"`
	StatementType    string     `parquet:"statement_type,dict"`
	BytesScanned     int64      `parquet:"bytes_scanned"`
	BilledBytes      int64      `parquet:"billed_bytes"`
	CostUSD          float64    `parquet:"cost_usd"`
	EngineMs         int64      `parquet:"engine_ms"`
	DPUHours         float64    `parquet:"dpu_hours"`
	SubmittedAt      *time.Time `parquet:"submitted_at,optional,timestamp(millisecond:local)"`
	CompletedAt      *time.Time `parquet:"completed_at,optional,timestamp(millisecond:local)"`
	Fingerprint      string     `parquet:"fingerprint,dict"`
	EventTime        time.Time  `parquet:"event_time,timestamp(millisecond:local)"`
	QueryAccount     string     `parquet:"query_account,dict"`
	IdentityType     string     `parquet:"identity_type,dict"`
	SourceIdentity   string     `parquet:"source_identity,dict"`
	Catalog          string     `parquet:"catalog,dict"`
	StatsStatus      string     `parquet:"stats_status,dict"`
	TotalMs          int64      `parquet:"total_ms"`
	QueueMs          int64      `parquet:"queue_ms"`
	PlanningMs       int64      `parquet:"planning_ms"`
	ServiceProcessMs int64      `parquet:"service_processing_ms"`
	Provisioned      bool       `parquet:"provisioned"`
	DPUCount         float64    `parquet:"dpu_count"`
	ReusedResult     bool       `parquet:"reused_result"`
	EngineVersion    string     `parquet:"engine_version,dict"`
	CostKnown        bool       `parquet:"cost_known"`
	ErrorCategory    int32      `parquet:"error_category"`
}

// Column is a column of the usage table: its name and Athena type.
type Column struct{ Name, Type string }

// Columns are the usage table's columns in order, with their Athena types.
// A test holds them equal to Row's Parquet schema.
var Columns = []Column{
	{"query_id", "string"}, {"region", "string"}, {"account", "string"}, {"user", "string"}, {"role", "string"},
	{"team", "string"}, {"principal_arn", "string"}, {"database", "string"}, {"workgroup", "string"},
	{"state", "string"}, {"statement_type", "string"}, {"bytes_scanned", "bigint"}, {"billed_bytes", "bigint"},
	{"cost_usd", "double"}, {"engine_ms", "bigint"}, {"dpu_hours", "double"}, {"submitted_at", "timestamp"},
	{"completed_at", "timestamp"}, {"fingerprint", "string"}, {"event_time", "timestamp"}, {"query_account", "string"},
	{"identity_type", "string"}, {"source_identity", "string"}, {"catalog", "string"}, {"stats_status", "string"},
	{"total_ms", "bigint"}, {"queue_ms", "bigint"}, {"planning_ms", "bigint"}, {"service_processing_ms", "bigint"},
	{"provisioned", "boolean"}, {"dpu_count", "double"}, {"reused_result", "boolean"}, {"engine_version", "string"},
	{"cost_known", "boolean"}, {"error_category", "int"},
}

// rowOf is q's row of the usage table.
func rowOf(q *store.Query) Row {
	r := Row{
		QueryID: q.QueryID, Region: q.Region, Account: q.Account, User: q.User, Role: q.Role, Team: q.Team,
		PrincipalARN: q.Identity.ARN, Database: q.Database, Workgroup: q.Workgroup,
		State: q.Stats.State, StatementType: q.Stats.StatementType,
		BytesScanned: q.Stats.DataScannedBytes, BilledBytes: q.BilledBytes, CostUSD: q.CostUSD,
		EngineMs:    q.Stats.EngineMs,
		DPUHours:    float64(usage.DPUMillis(q)) / float64(time.Hour/time.Millisecond),
		Fingerprint: q.Fingerprint, EventTime: q.EventTime.UTC(), QueryAccount: q.OwnerAccount,
		IdentityType: q.Identity.Type, SourceIdentity: q.Identity.SourceIdentity,
		Catalog: q.Stats.Catalog, StatsStatus: q.StatsStatus,
		TotalMs: q.Stats.TotalMs, QueueMs: q.Stats.QueueMs, PlanningMs: q.Stats.PlanningMs,
		ServiceProcessMs: q.Stats.ServiceProcessingMs, Provisioned: q.Provisioned, DPUCount: q.Stats.DPUCount,
		ReusedResult: q.Stats.ReusedResult, EngineVersion: q.Stats.EngineVersion,
		CostKnown: q.StatsStatus == store.StatusFinal, ErrorCategory: q.Stats.ErrorCategory,
	}
	if !q.Stats.SubmittedAt.IsZero() {
		t := q.Stats.SubmittedAt.UTC()
		r.SubmittedAt = &t
	}
	if !q.Stats.CompletedAt.IsZero() {
		t := q.Stats.CompletedAt.UTC()
		r.CompletedAt = &t
	}
	return r
}
