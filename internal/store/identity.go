package store

import (
	"context"
	"fmt"
	"time"
)

// IdentityName is what the Identity Store said about one Identity Center
// user: the names, or, when it could not be asked or did not know the
// user, why (Error).
type IdentityName struct {
	StoreID     string // d-1234567890
	UserID      string
	UserName    string
	DisplayName string
	Error       string
	ResolvedAt  time.Time
}

// IdentityCenterUser is an Identity Center user of stored queries.
type IdentityCenterUser struct {
	StoreARN string // arn:aws:identitystore::ACCOUNT:identitystore/d-1234567890
	UserID   string
}

// identityNamesVersion is the schema version that added identity_names.
const identityNamesVersion = 13

// HasIdentityNames reports whether the database keeps Identity Store
// names (a database of an earlier release opened read-only does not).
func (s *Store) HasIdentityNames() bool { return s.version >= identityNamesVersion }

// IdentityCenterUsers returns the distinct Identity Center users
// (onBehalfOf) of the stored queries.
func (s *Store) IdentityCenterUsers(ctx context.Context) ([]IdentityCenterUser, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT DISTINCT on_behalf_of_store, on_behalf_of_user FROM queries
		INDEXED BY queries_on_behalf_of WHERE on_behalf_of_user <> ''`)
	if err != nil {
		return nil, fmt.Errorf("read Identity Center users: %w", err)
	}
	defer rows.Close()
	var out []IdentityCenterUser
	for rows.Next() {
		var u IdentityCenterUser
		if err := rows.Scan(&u.StoreARN, &u.UserID); err != nil {
			return nil, fmt.Errorf("read Identity Center users: %w", err)
		}
		out = append(out, u)
	}
	return out, rows.Err()
}

// IdentityNames returns every recorded Identity Store answer.
func (s *Store) IdentityNames(ctx context.Context) ([]IdentityName, error) {
	rows, err := s.db.QueryContext(ctx, "SELECT store_id, user_id, user_name, display_name, error, resolved_at FROM identity_names ORDER BY store_id, user_id")
	if err != nil {
		return nil, fmt.Errorf("read identity names: %w", err)
	}
	defer rows.Close()
	var out []IdentityName
	for rows.Next() {
		var n IdentityName
		var at int64
		if err := rows.Scan(&n.StoreID, &n.UserID, &n.UserName, &n.DisplayName, &n.Error, &at); err != nil {
			return nil, fmt.Errorf("read identity names: %w", err)
		}
		n.ResolvedAt = time.UnixMilli(at).UTC()
		out = append(out, n)
	}
	return out, rows.Err()
}

// PutIdentityNames records Identity Store answers, replacing earlier ones.
func (s *Store) PutIdentityNames(ctx context.Context, ns []IdentityName) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("record identity names: %w", err)
	}
	defer tx.Rollback()
	for _, n := range ns {
		if _, err := tx.ExecContext(ctx, `INSERT INTO identity_names (store_id, user_id, user_name, display_name, error, resolved_at)
			VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (store_id, user_id) DO UPDATE SET user_name = excluded.user_name,
			display_name = excluded.display_name, error = excluded.error, resolved_at = excluded.resolved_at`,
			n.StoreID, n.UserID, n.UserName, n.DisplayName, n.Error, millis(n.ResolvedAt)); err != nil {
			return fmt.Errorf("record identity name of %s: %w", n.UserID, err)
		}
	}
	return tx.Commit()
}

// QueriesOnBehalfOf returns up to limit queries made on behalf of an
// Identity Center user, after (region, query id), in that order.
func (s *Store) QueriesOnBehalfOf(ctx context.Context, userID, afterRegion, afterQueryID string, limit int) ([]Query, error) {
	return s.selectQueries(ctx, "on_behalf_of_user = ? AND (region, query_id) > (?, ?)", []any{userID, afterRegion, afterQueryID}, limit)
}

// RejectedOnBehalfOf returns the rejected submissions made on behalf of
// an Identity Center user. Rejected submissions are few: they are read
// without an index.
func (s *Store) RejectedOnBehalfOf(ctx context.Context, userID string) ([]Rejected, error) {
	return selectRejected(ctx, s.db, "json_extract(identity_json, '$.OnBehalfOfUserID') = ?", []any{userID}, 1<<20)
}
