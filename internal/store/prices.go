package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// Bounds of the DPU-hours a query is charged for, as reports apply them
// (validDPU and SumDPUMillis): a DPU count beyond a million is not one, and
// engine time is clamped to 0..1e12 ms.
const (
	MaxDPUCount    = 1e6
	MaxDPUEngineMs = 1e12
)

// costSQL is a query's own cost in SQL, as package usage's QueryCostUSD
// computes it: billed bytes at the price per TiB (?1) plus DPU-hours at
// the price per DPU-hour (?2). Each term is rounded on its own, in the same
// order of operations, so both give the same float.
const costSQL = `(billed_bytes * ?1 / 1099511627776.0) + ((CASE WHEN provisioned AND stats_status = 'final' AND ` + validDPU +
	` THEN CAST(round(dpu_count * MIN(MAX(engine_ms, 0), 1e12)) AS INTEGER) ELSE 0 END) / 3600000.0 * ?2)`

// metaPrices is the meta key of the prices fingerprint.
const metaPrices = "prices"

// PricesFingerprint returns the fingerprint of the prices the stored
// per-query costs were computed with, or "" when they never were (a new
// database, or one written by a release before per-query costs).
func (s *Store) PricesFingerprint(ctx context.Context) (string, error) {
	return metaValue(ctx, s.db, metaPrices)
}

func metaValue(ctx context.Context, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}, key string) (string, error) {
	var hasMeta bool
	if err := q.QueryRowContext(ctx, "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta')").Scan(&hasMeta); err != nil {
		return "", fmt.Errorf("read %s of the database: %w", key, err)
	}
	if !hasMeta {
		// A read-only database of an older schema.
		return "", nil
	}
	var v string
	err := q.QueryRowContext(ctx, "SELECT value FROM meta WHERE key = ?", key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read %s of the database: %w", key, err)
	}
	return v, nil
}

// Reprice sets the cost of every stored query from the prices whose
// fingerprint is fp, unless the costs were computed with them already: one
// UPDATE per stored region (the price per TiB differs by region), in one
// transaction that also records fp, so concurrent writers reprice once and
// a reader never sees half the regions repriced. It returns how many
// rows' cost changed. Rows a process still running older prices writes later keep
// those prices until the next change.
func (s *Store) Reprice(ctx context.Context, fp string, usdPerTiB func(region string) float64, usdPerDPUHour float64) (int64, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("begin repricing: %w", err)
	}
	defer tx.Rollback()
	old, err := metaValue(ctx, tx, metaPrices)
	if err != nil {
		return 0, err
	}
	if old == fp {
		return 0, nil
	}
	var changed int64
	region := ""
	for {
		// Step from region to region through the primary key.
		var next sql.NullString
		if err := tx.QueryRowContext(ctx, "SELECT MIN(region) FROM queries WHERE region > ?", region).Scan(&next); err != nil {
			return 0, fmt.Errorf("reprice queries: %w", err)
		}
		if !next.Valid {
			break
		}
		region = next.String
		// Rows whose cost is already right are not rewritten: a change of
		// one region's price rewrites only that region's rows.
		res, err := tx.ExecContext(ctx, "UPDATE queries SET cost_usd = "+costSQL+" WHERE region = ?3 AND cost_usd IS NOT "+costSQL,
			usdPerTiB(region), usdPerDPUHour, region)
		if err != nil {
			return 0, fmt.Errorf("reprice queries of %s: %w", region, err)
		}
		n, _ := res.RowsAffected()
		changed += n
	}
	if _, err := tx.ExecContext(ctx, "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value", metaPrices, fp); err != nil {
		return 0, fmt.Errorf("record prices: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("commit repricing: %w", err)
	}
	return changed, nil
}
