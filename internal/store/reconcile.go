package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/athenawatch/athenawatch/internal/cloudtrail"
)

// AttributedCell is what athenawatch attributes to the queries that ran in
// one account (owner_account), region, workgroup and UTC day, on
// provisioned capacity or not: the cell the bill charges them in.
type AttributedCell struct {
	Account, Region, Workgroup string
	Day                        string // YYYY-MM-DD
	Provisioned                bool
	Queries                    int64
	// CostUSD is the sum of the queries' stored cost.
	CostUSD float64
	// Pending counts queries without final statistics (their cost is not
	// known yet), NoStats those Athena no longer knew.
	Pending, NoStats int64
}

// AttributedCells returns the cells of the queries that started from
// since (inclusive) to until (exclusive), sorted by day, account, region,
// workgroup and capacity.
func (s *Store) AttributedCells(ctx context.Context, since, until time.Time) ([]AttributedCell, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT day, owner_account, region, workgroup, provisioned, COUNT(*), TOTAL(cost_usd),
		SUM(stats_status = 'pending'), SUM(stats_status = 'no_stats')
		FROM queries WHERE event_time >= ? AND event_time < ?
		GROUP BY day, owner_account, region, workgroup, provisioned
		ORDER BY day, owner_account, region, workgroup, provisioned`, millis(since), millis(until))
	if err != nil {
		return nil, fmt.Errorf("read attributed cost by account, region, workgroup and day: %w", err)
	}
	defer rows.Close()
	var out []AttributedCell
	for rows.Next() {
		var c AttributedCell
		if err := rows.Scan(&c.Day, &c.Account, &c.Region, &c.Workgroup, &c.Provisioned, &c.Queries, &c.CostUSD,
			&c.Pending, &c.NoStats); err != nil {
			return nil, fmt.Errorf("read attributed cost by account, region, workgroup and day: %w", err)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// Scope is an account and region whose Athena use collect read.
type Scope struct{ Account, Region string }

// CollectedScopes returns the accounts and regions collect has read for
// the window from since to until: those of the queries and rejected
// submissions stored for it, those of the trail files read whose names
// (ACCOUNT_CloudTrail_REGION_YYYYMMDDTHHMMZ_...) date them within a day
// of it, and those LookupEvents has read (their cursors are kept per
// ACCOUNT/REGION, not per day).
func (s *Store) CollectedScopes(ctx context.Context, since, until time.Time) ([]Scope, error) {
	seen := map[Scope]bool{}
	var out []Scope
	add := func(account, region string) {
		sc := Scope{account, region}
		if account != "" && region != "" && !seen[sc] {
			seen[sc] = true
			out = append(out, sc)
		}
	}
	rows, err := s.db.QueryContext(ctx, `SELECT DISTINCT owner_account, region FROM queries WHERE event_time >= ?1 AND event_time < ?2
		UNION SELECT DISTINCT owner_account, region FROM rejected WHERE event_time >= ?1 AND event_time < ?2`, millis(since), millis(until))
	if err != nil {
		return nil, fmt.Errorf("read collected accounts and regions: %w", err)
	}
	if err := scanPairs(rows, func(a, r string) { add(a, r) }); err != nil {
		return nil, fmt.Errorf("read collected accounts and regions: %w", err)
	}

	// A trail file is named ACCOUNT_CloudTrail_REGION_YYYYMMDDTHHMMZ_X.json.gz
	// (keys: .../AWSLogs/[ORG/]ACCOUNT/CloudTrail/REGION/YYYY/MM/DD/NAME);
	// digest files are named _CloudTrail-Digest_ and do not match.
	rows, err = s.db.QueryContext(ctx, `SELECT DISTINCT substr(name, p - 12, 12), substr(rest, 1, instr(rest, '_') - 1),
		substr(rest, instr(rest, '_') + 1, 8)
		FROM (SELECT name, p, substr(name, p + 12) AS rest FROM (SELECT name, instr(name, '_CloudTrail_') AS p FROM checkpoints) WHERE p > 12)`)
	if err != nil {
		return nil, fmt.Errorf("read the trail files collected: %w", err)
	}
	from, to := since.UTC().AddDate(0, 0, -1).Format("20060102"), until.UTC().AddDate(0, 0, 1).Format("20060102")
	for rows.Next() {
		var account, region, day string
		if err := rows.Scan(&account, &region, &day); err != nil {
			rows.Close()
			return nil, fmt.Errorf("read the trail files collected: %w", err)
		}
		if cloudtrail.IsAccountID(account) && (since.IsZero() || day >= from) && (until.IsZero() || day <= to) {
			add(account, region)
		}
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return nil, fmt.Errorf("read the trail files collected: %w", err)
	}

	rows, err = s.db.QueryContext(ctx, `SELECT key, '' FROM source_cursors WHERE source LIKE 'lookup-events%'`)
	if err != nil {
		return nil, fmt.Errorf("read the event histories collected: %w", err)
	}
	if err := scanPairs(rows, func(key, _ string) {
		if account, region, ok := strings.Cut(key, "/"); ok && cloudtrail.IsAccountID(account) {
			add(account, region)
		}
	}); err != nil {
		return nil, fmt.Errorf("read the event histories collected: %w", err)
	}
	return out, nil
}

func scanPairs(rows *sql.Rows, fn func(a, b string)) error {
	defer rows.Close()
	for rows.Next() {
		var a, b string
		if err := rows.Scan(&a, &b); err != nil {
			return err
		}
		fn(a, b)
	}
	return rows.Err()
}

// ReconcileRun is one reconciliation of the bill with the attributed
// cost.
type ReconcileRun struct {
	RanAt        time.Time
	Since, Until time.Time
	// Source is the export read (dir:PATH or s3://...).
	Source string
	// BillLastDay is the newest day the bill has Athena usage for
	// (YYYY-MM-DD), "" when none.
	BillLastDay string
	// Files is how many data files were read; Skipped how many bad
	// inputs were left out.
	Files, Skipped int
}

// ReconcileCell is one cell of a reconciliation.
type ReconcileCell struct {
	Day                              string // YYYY-MM-DD
	Account, Region, Workgroup, Kind string
	// InBill tells whether the bill has the cell at all.
	InBill                    bool
	BilledUSD, BilledUsage    float64
	AttributedUSD             float64
	Queries, Pending, NoStats int64
	Cause                     string
}

// reconcileVersion is the schema version that added the reconciliation.
const reconcileVersion = 17

// SaveReconcile replaces the last reconciliation with run and its cells,
// in one transaction.
func (s *Store) SaveReconcile(ctx context.Context, run ReconcileRun, cells []ReconcileCell) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("save reconciliation: %w", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, "DELETE FROM reconcile_cells"); err != nil {
		return fmt.Errorf("save reconciliation: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO reconcile_runs (id, ran_at, since, until, source, bill_last_day, files, skipped)
		VALUES (1, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET ran_at = excluded.ran_at, since = excluded.since,
		until = excluded.until, source = excluded.source, bill_last_day = excluded.bill_last_day, files = excluded.files, skipped = excluded.skipped`,
		millis(run.RanAt), millis(run.Since), millis(run.Until), run.Source, run.BillLastDay, run.Files, run.Skipped); err != nil {
		return fmt.Errorf("save reconciliation: %w", err)
	}
	stmt, err := tx.PrepareContext(ctx, `INSERT INTO reconcile_cells (day, account, region, workgroup, kind, in_bill, billed_usd, billed_usage,
		attributed_usd, queries, pending, no_stats, cause) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
	if err != nil {
		return fmt.Errorf("save reconciliation: %w", err)
	}
	defer stmt.Close()
	for _, c := range cells {
		if _, err := stmt.ExecContext(ctx, c.Day, c.Account, c.Region, c.Workgroup, c.Kind, boolInt(c.InBill), c.BilledUSD, c.BilledUsage,
			c.AttributedUSD, c.Queries, c.Pending, c.NoStats, c.Cause); err != nil {
			return fmt.Errorf("save reconciliation cell %s %s %s %s: %w", c.Day, c.Account, c.Region, c.Workgroup, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("save reconciliation: %w", err)
	}
	return nil
}

// LastReconcile returns the last reconciliation and its cells (sorted by
// day, account, region, workgroup, kind); a nil run when none has run
// (or the database predates reconciliation).
func (s *Store) LastReconcile(ctx context.Context) (*ReconcileRun, []ReconcileCell, error) {
	if s.version < reconcileVersion {
		return nil, nil, nil
	}
	var run ReconcileRun
	var at, since, until int64
	err := s.db.QueryRowContext(ctx, "SELECT ran_at, since, until, source, bill_last_day, files, skipped FROM reconcile_runs WHERE id = 1").
		Scan(&at, &since, &until, &run.Source, &run.BillLastDay, &run.Files, &run.Skipped)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("read the last reconciliation: %w", err)
	}
	run.RanAt, run.Since, run.Until = time.UnixMilli(at).UTC(), time.UnixMilli(since).UTC(), time.UnixMilli(until).UTC()
	rows, err := s.db.QueryContext(ctx, `SELECT day, account, region, workgroup, kind, in_bill, billed_usd, billed_usage, attributed_usd,
		queries, pending, no_stats, cause FROM reconcile_cells ORDER BY day, account, region, workgroup, kind`)
	if err != nil {
		return nil, nil, fmt.Errorf("read the last reconciliation: %w", err)
	}
	defer rows.Close()
	var cells []ReconcileCell
	for rows.Next() {
		var c ReconcileCell
		if err := rows.Scan(&c.Day, &c.Account, &c.Region, &c.Workgroup, &c.Kind, &c.InBill, &c.BilledUSD, &c.BilledUsage, &c.AttributedUSD,
			&c.Queries, &c.Pending, &c.NoStats, &c.Cause); err != nil {
			return nil, nil, fmt.Errorf("read the last reconciliation: %w", err)
		}
		cells = append(cells, c)
	}
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("read the last reconciliation: %w", err)
	}
	return &run, cells, nil
}
