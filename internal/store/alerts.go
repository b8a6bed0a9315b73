package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"
)

// Alert is one budget alert: a (budget, scope, period, threshold) crossed.
// Key is its idempotency key, the same in every delivery and every resend.
type Alert struct {
	Budget      string
	Scope       string
	PeriodStart time.Time
	Threshold   float64
	Key         string
	FiredAt     time.Time
	Payload     string // the JSON the notifiers send
}

// Delivery is one alert on its way to one notifier.
type Delivery struct {
	ID          int64
	Key         string
	Notifier    string
	Payload     string
	Attempts    int
	NextAt      time.Time
	DeliveredAt time.Time // zero: not yet
	GivenUpAt   time.Time // zero: not given up
	LastError   string
	CreatedAt   time.Time // when the alert fired
}

// RecordAlerts records the alerts not recorded before, each with a
// delivery to every notifier notifiers names for it, in one transaction:
// an alert recorded once is never recorded (nor sent) again. It returns
// the alerts that are new.
func (s *Store) RecordAlerts(ctx context.Context, alerts []Alert, notifiers func(Alert) []string) ([]Alert, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("record alerts: %w", err)
	}
	defer tx.Rollback()
	var fired []Alert
	for _, a := range alerts {
		res, err := tx.ExecContext(ctx, `INSERT INTO budget_alerts (budget, scope, period_start, threshold, alert_key, fired_at, payload)
			VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
			a.Budget, a.Scope, millis(a.PeriodStart), a.Threshold, a.Key, millis(a.FiredAt), a.Payload)
		if err != nil {
			return nil, fmt.Errorf("record alert %s: %w", a.Key, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			continue
		}
		fired = append(fired, a)
		for _, name := range notifiers(a) {
			if _, err := tx.ExecContext(ctx, `INSERT INTO alert_outbox (alert_key, notifier, payload, next_at, created_at)
				VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`, a.Key, name, a.Payload, millis(a.FiredAt), millis(a.FiredAt)); err != nil {
				return nil, fmt.Errorf("queue alert %s for %s: %w", a.Key, name, err)
			}
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("record alerts: %w", err)
	}
	return fired, nil
}

// DueDeliveries returns up to limit deliveries due at now: not delivered,
// not given up, next attempt at or before now, oldest first.
func (s *Store) DueDeliveries(ctx context.Context, now time.Time, limit int) ([]Delivery, error) {
	return s.deliveries(ctx, "delivered_at IS NULL AND given_up_at IS NULL AND next_at <= ? ORDER BY next_at, id LIMIT ?", millis(now), limit)
}

// Deliveries returns every delivery, newest first, up to limit.
func (s *Store) Deliveries(ctx context.Context, limit int) ([]Delivery, error) {
	return s.deliveries(ctx, "1 ORDER BY id DESC LIMIT ?", limit)
}

func (s *Store) deliveries(ctx context.Context, where string, args ...any) ([]Delivery, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, alert_key, notifier, payload, attempts, next_at, delivered_at, given_up_at, last_error, created_at
		FROM alert_outbox WHERE `+where, args...)
	if err != nil {
		return nil, fmt.Errorf("read alert deliveries: %w", err)
	}
	defer rows.Close()
	var out []Delivery
	for rows.Next() {
		var d Delivery
		var next, created int64
		var delivered, gaveUp sql.NullInt64
		if err := rows.Scan(&d.ID, &d.Key, &d.Notifier, &d.Payload, &d.Attempts, &next, &delivered, &gaveUp, &d.LastError, &created); err != nil {
			return nil, fmt.Errorf("read alert deliveries: %w", err)
		}
		d.NextAt = time.UnixMilli(next).UTC()
		d.CreatedAt = time.UnixMilli(created).UTC()
		if delivered.Valid {
			d.DeliveredAt = time.UnixMilli(delivered.Int64).UTC()
		}
		if gaveUp.Valid {
			d.GivenUpAt = time.UnixMilli(gaveUp.Int64).UTC()
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// MarkDelivered records that a delivery reached its notifier.
func (s *Store) MarkDelivered(ctx context.Context, id int64, at time.Time) error {
	if _, err := s.db.ExecContext(ctx, "UPDATE alert_outbox SET delivered_at = ?, attempts = attempts + 1, last_error = '' WHERE id = ?", millis(at), id); err != nil {
		return fmt.Errorf("record delivery %d: %w", id, err)
	}
	return nil
}

// MarkFailed records a failed attempt: the next one is at next, or none
// when giveUp.
func (s *Store) MarkFailed(ctx context.Context, id int64, at, next time.Time, reason string, giveUp bool) error {
	var gaveUp any
	if giveUp {
		gaveUp = millis(at)
	}
	if _, err := s.db.ExecContext(ctx, "UPDATE alert_outbox SET attempts = attempts + 1, next_at = ?, last_error = ?, given_up_at = ? WHERE id = ?",
		millis(next), reason, gaveUp, id); err != nil {
		return fmt.Errorf("record failed delivery %d: %w", id, err)
	}
	return nil
}

// RecentAlerts returns up to limit alerts, newest first.
func (s *Store) RecentAlerts(ctx context.Context, limit int) ([]Alert, error) {
	if s.version < alertsVersion {
		return nil, nil
	}
	rows, err := s.db.QueryContext(ctx, `SELECT budget, scope, period_start, threshold, alert_key, fired_at, payload
		FROM budget_alerts ORDER BY fired_at DESC, budget, scope LIMIT ?`, limit)
	if err != nil {
		return nil, fmt.Errorf("read alerts: %w", err)
	}
	defer rows.Close()
	var out []Alert
	for rows.Next() {
		var a Alert
		var start, fired int64
		if err := rows.Scan(&a.Budget, &a.Scope, &start, &a.Threshold, &a.Key, &fired, &a.Payload); err != nil {
			return nil, fmt.Errorf("read alerts: %w", err)
		}
		a.PeriodStart, a.FiredAt = time.UnixMilli(start).UTC(), time.UnixMilli(fired).UTC()
		out = append(out, a)
	}
	return out, rows.Err()
}

// DeliveriesOf returns the deliveries of the alerts with the given keys.
func (s *Store) DeliveriesOf(ctx context.Context, keys []string) (map[string][]Delivery, error) {
	out := map[string][]Delivery{}
	if len(keys) == 0 || s.version < alertsVersion {
		return out, nil
	}
	args := make([]any, len(keys))
	for i, k := range keys {
		args[i] = k
	}
	ds, err := s.deliveries(ctx, "alert_key IN ("+strings.TrimSuffix(strings.Repeat("?,", len(keys)), ",")+") ORDER BY id", args...)
	if err != nil {
		return nil, err
	}
	for _, d := range ds {
		out[d.Key] = append(out[d.Key], d)
	}
	return out, nil
}

// alertsVersion is the schema version that added budget alerts.
const alertsVersion = 14
