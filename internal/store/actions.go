package store

import (
	"context"
	"fmt"
	"time"
)

// Action is one thing a budget did, or would have done (DryRun).
type Action struct {
	At          time.Time
	Budget      string
	Scope       string
	PeriodStart time.Time
	Action      string // stop, block, unblock
	Target      string // what it acted on: region/query-id, a principal
	DryRun      bool
	Outcome     string // done, failed: ..., would
	Reason      string
}

// actionsVersion is the schema version that added budget_actions.
const actionsVersion = 15

// RecordAction records an action unless the same (budget, period, action,
// target, mode) is recorded already; it reports whether it recorded it.
func (s *Store) RecordAction(ctx context.Context, a Action) (bool, error) {
	res, err := s.db.ExecContext(ctx, `INSERT INTO budget_actions (at, budget, scope, period_start, action, target, dry_run, outcome, reason)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
		millis(a.At), a.Budget, a.Scope, millis(a.PeriodStart), a.Action, a.Target, a.DryRun, a.Outcome, a.Reason)
	if err != nil {
		return false, fmt.Errorf("record budget action: %w", err)
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// RecentActions returns up to limit actions, newest first.
func (s *Store) RecentActions(ctx context.Context, limit int) ([]Action, error) {
	return s.actions(ctx, "1 ORDER BY id DESC LIMIT ?", limit)
}

// ActiveBlocks returns the blocks in force: recorded as done and not
// lifted since, oldest first.
func (s *Store) ActiveBlocks(ctx context.Context) ([]Action, error) {
	return s.actions(ctx, `action = 'block' AND dry_run = 0 AND outcome = 'blocked'
		AND NOT EXISTS (SELECT 1 FROM budget_actions u WHERE u.action = 'unblock' AND u.dry_run = 0 AND u.target = b.target AND u.id > b.id)
		ORDER BY id`)
}

// actions reads the actions where matches (and its order and limit).
func (s *Store) actions(ctx context.Context, where string, args ...any) ([]Action, error) {
	if s.version < actionsVersion {
		return nil, nil
	}
	rows, err := s.db.QueryContext(ctx, `SELECT at, budget, scope, period_start, action, target, dry_run, outcome, reason
		FROM budget_actions b WHERE `+where, args...)
	if err != nil {
		return nil, fmt.Errorf("read budget actions: %w", err)
	}
	defer rows.Close()
	var out []Action
	for rows.Next() {
		var a Action
		var at, start int64
		if err := rows.Scan(&at, &a.Budget, &a.Scope, &start, &a.Action, &a.Target, &a.DryRun, &a.Outcome, &a.Reason); err != nil {
			return nil, fmt.Errorf("read budget actions: %w", err)
		}
		a.At, a.PeriodStart = time.UnixMilli(at).UTC(), time.UnixMilli(start).UTC()
		out = append(out, a)
	}
	return out, rows.Err()
}

// WorkgroupLocation is a workgroup of one account and region.
type WorkgroupLocation struct{ Account, Region, Workgroup string }

// WorkgroupLocations returns the workgroups whose name matches glob that
// ran queries since since, with their account and region.
func (s *Store) WorkgroupLocations(ctx context.Context, glob string, since time.Time) ([]WorkgroupLocation, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT DISTINCT owner_account, region, workgroup FROM queries
		WHERE event_time >= ? AND workgroup GLOB ? ORDER BY owner_account, region, workgroup`, millis(since), glob)
	if err != nil {
		return nil, fmt.Errorf("read workgroups: %w", err)
	}
	defer rows.Close()
	var out []WorkgroupLocation
	for rows.Next() {
		var l WorkgroupLocation
		if err := rows.Scan(&l.Account, &l.Region, &l.Workgroup); err != nil {
			return nil, fmt.Errorf("read workgroups: %w", err)
		}
		out = append(out, l)
	}
	return out, rows.Err()
}

// ActionRecorded reports whether the action (budget, period, action,
// target, mode) is recorded.
func (s *Store) ActionRecorded(ctx context.Context, a Action) (bool, error) {
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM budget_actions WHERE budget = ? AND period_start = ? AND action = ? AND target = ? AND dry_run = ?`,
		a.Budget, millis(a.PeriodStart), a.Action, a.Target, a.DryRun).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("read budget actions: %w", err)
	}
	return n > 0, nil
}

// QueriesOfUser returns up to limit queries since since whose derived
// user matches the glob user, newest first.
func (s *Store) QueriesOfUser(ctx context.Context, user string, since time.Time, limit int) ([]Query, error) {
	return s.selectQueriesIn(ctx, "user GLOB ? AND event_time >= ?", []any{user, millis(since)}, "event_time DESC", limit)
}
