package store

import (
	"context"
	"database/sql"
	"fmt"
	"regexp"
	"time"
)

// LakeDay is a day of queries and its lake version, which moves whenever a
// query of that day is stored, changed or deleted (migration 0016).
type LakeDay struct {
	Day     string // YYYY-MM-DD, UTC
	Version int64
}

// LakeExport is what an export target holds of one day: the day's version
// it wrote, with how many rows and bytes.
type LakeExport struct {
	Day        string
	Version    int64
	Rows       int64
	Bytes      int64
	ExportedAt time.Time
}

// LakeDays returns the days from through to (YYYY-MM-DD, inclusive; ""
// leaves that end open) with their versions, oldest first.
func (s *Store) LakeDays(ctx context.Context, from, to string) ([]LakeDay, error) {
	if to == "" {
		to = "9999-12-31"
	}
	rows, err := s.db.QueryContext(ctx, "SELECT day, version FROM lake_days WHERE day >= ? AND day <= ? ORDER BY day", from, to)
	if err != nil {
		return nil, fmt.Errorf("read lake days: %w", err)
	}
	defer rows.Close()
	var out []LakeDay
	for rows.Next() {
		var d LakeDay
		if err := rows.Scan(&d.Day, &d.Version); err != nil {
			return nil, fmt.Errorf("read lake days: %w", err)
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// LakeExports returns, by day, what target holds in format.
func (s *Store) LakeExports(ctx context.Context, target, format string) (map[string]LakeExport, error) {
	rows, err := s.db.QueryContext(ctx, "SELECT day, version, rows, bytes, exported_at FROM lake_exports WHERE target = ? AND format = ?", target, format)
	if err != nil {
		return nil, fmt.Errorf("read exports of %s: %w", target, err)
	}
	defer rows.Close()
	out := map[string]LakeExport{}
	for rows.Next() {
		var e LakeExport
		var at int64
		if err := rows.Scan(&e.Day, &e.Version, &e.Rows, &e.Bytes, &at); err != nil {
			return nil, fmt.Errorf("read exports of %s: %w", target, err)
		}
		e.ExportedAt = time.UnixMilli(at).UTC()
		out[e.Day] = e
	}
	return out, rows.Err()
}

// RecordLakeExport notes that target now holds e.Day in format. An
// export calls it only once the day's objects are in place, so a run
// killed before it writes the day again.
func (s *Store) RecordLakeExport(ctx context.Context, target, format string, e LakeExport) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO lake_exports (target, format, day, version, rows, bytes, exported_at) VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (target, format, day) DO UPDATE SET version = excluded.version, rows = excluded.rows, bytes = excluded.bytes, exported_at = excluded.exported_at`,
		target, format, e.Day, e.Version, e.Rows, e.Bytes, millis(e.ExportedAt))
	if err != nil {
		return fmt.Errorf("record export of %s to %s: %w", e.Day, target, err)
	}
	return nil
}

// ForgetLakeExport notes that target no longer holds day in format.
func (s *Store) ForgetLakeExport(ctx context.Context, target, format, day string) error {
	if _, err := s.db.ExecContext(ctx, "DELETE FROM lake_exports WHERE target = ? AND format = ? AND day = ?", target, format, day); err != nil {
		return fmt.Errorf("forget export of %s to %s: %w", day, target, err)
	}
	return nil
}

// lakeColumns are the columns of queries the usage lake writes (package
// lake: the usage table and athena_api_output). A change to any moves the
// day's lake version (the trigger of migration 0018); a test holds the
// trigger to this list, and the list must follow what the export reads.
var lakeColumns = []string{
	"day", "event_time", "owner_account", "identity_type", "principal_arn", "source_identity",
	"user", "role", "account", "team", "database", "workgroup", "athena_catalog", "athena_database",
	"provisioned", "billed_bytes", "cost_usd", "stats_status", "state", "statement_type",
	"data_scanned_bytes", "engine_ms", "total_ms", "queue_ms", "planning_ms", "service_processing_ms",
	"submitted_at", "completed_at", "reused_result", "dpu_count", "fingerprint", "engine_version", "error_category",
}

// lakeQueryColumns are queryColumns with the long texts the lake does not
// carry (query texts, messages, user agents) read as empty: copying them
// out of SQLite was a good part of an export's time.
var lakeQueryColumns = regexp.MustCompile(`\b(ct_query_text|query_text|state_change_reason|error_message|user_agent|output_location)\b`).
	ReplaceAllString(queryColumns, "'' AS $1")

// DayQueries calls fn with every query of day (its UTC event day), in
// event time order, then region and query id, and returns the day's lake
// version: rows and version are read in one transaction, so the version
// is that of exactly the rows fn saw. The query texts, error messages,
// state change reasons, user agents and output locations come back empty.
// fn must not keep q.
func (s *Store) DayQueries(ctx context.Context, day string, fn func(q *Query) error) (int64, error) {
	start, err := time.Parse(time.DateOnly, day)
	if err != nil {
		return 0, fmt.Errorf("read queries of day %q: %w", day, err)
	}
	tx, err := s.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return 0, fmt.Errorf("read queries of %s: %w", day, err)
	}
	defer tx.Rollback()
	var version int64
	if err := tx.QueryRowContext(ctx, "SELECT version FROM lake_days WHERE day = ?", day).Scan(&version); err != nil && err != sql.ErrNoRows {
		return 0, fmt.Errorf("read version of %s: %w", day, err)
	}
	rows, err := tx.QueryContext(ctx, "SELECT "+lakeQueryColumns+" FROM queries WHERE event_time >= ? AND event_time < ? ORDER BY event_time, region, query_id",
		millis(start), millis(start.Add(24*time.Hour)))
	if err != nil {
		return 0, fmt.Errorf("read queries of %s: %w", day, err)
	}
	defer rows.Close()
	for rows.Next() {
		q, err := scanQuery(rows)
		if err != nil {
			return 0, fmt.Errorf("read query row of %s: %w", day, err)
		}
		if err := fn(&q); err != nil {
			return 0, err
		}
	}
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("read queries of %s: %w", day, err)
	}
	return version, nil
}

// TrailSpan is what the stored queries say of the trail they came from:
// the accounts they ran in, their regions, and the first day.
func (s *Store) TrailSpan(ctx context.Context) (accounts, regions []string, first string, err error) {
	read := func(q string) ([]string, error) {
		rows, err := s.db.QueryContext(ctx, q)
		if err != nil {
			return nil, fmt.Errorf("read trail span: %w", err)
		}
		defer rows.Close()
		var out []string
		for rows.Next() {
			var v string
			if err := rows.Scan(&v); err != nil {
				return nil, fmt.Errorf("read trail span: %w", err)
			}
			out = append(out, v)
		}
		return out, rows.Err()
	}
	if accounts, err = read("SELECT DISTINCT owner_account FROM queries ORDER BY 1"); err != nil {
		return nil, nil, "", err
	}
	if regions, err = read("SELECT DISTINCT region FROM queries ORDER BY 1"); err != nil {
		return nil, nil, "", err
	}
	days, err := read("SELECT day FROM queries ORDER BY event_time LIMIT 1")
	if err != nil {
		return nil, nil, "", err
	}
	if len(days) > 0 {
		first = days[0]
	}
	return accounts, regions, first, nil
}
