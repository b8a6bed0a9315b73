package store

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
)

// Sorts are the orders a query listing can be read in, each newest or
// largest first, with the column it orders by.
var Sorts = map[string]string{
	"time":   "event_time",
	"cost":   "cost_usd",
	"bytes":  "data_scanned_bytes",
	"engine": "engine_ms",
}

// DefaultListLimit and MaxListLimit bound a page of a query listing.
const (
	DefaultListLimit = 50
	MaxListLimit     = 1000
)

// ListOptions select a page of the query listing.
type ListOptions struct {
	Filter Filter
	// Sort is a key of Sorts; empty means "time". Rows come largest first;
	// ties are broken by region and query id, so pages never overlap.
	Sort string
	// Cursor continues a listing where the page that returned it ended;
	// empty starts at the top. It is opaque to callers.
	Cursor string
	// Limit is the page size: 0 means DefaultListLimit; at most MaxListLimit.
	Limit int
}

// QueryPage is one page of a query listing.
type QueryPage struct {
	Queries []Query
	// Next is the cursor of the following page; empty on the last page.
	Next string
}

// ErrBadCursor is returned for a cursor that no listing returned.
var ErrBadCursor = errors.New("invalid cursor")

// cursor is where a page ended: the sort value and key of its last row.
type cursor struct {
	Sort   string  `json:"s"`
	Value  float64 `json:"v"`
	Region string  `json:"r"`
	ID     string  `json:"q"`
}

func (c cursor) encode() string {
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeCursor(s, sort string) (cursor, error) {
	var c cursor
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) > 4096 {
		return c, ErrBadCursor
	}
	if err := json.Unmarshal(b, &c); err != nil || c.Sort != sort || math.IsNaN(c.Value) || math.IsInf(c.Value, 0) {
		return c, ErrBadCursor
	}
	return c, nil
}

// ListQueries returns a page of the queries matching o.Filter in o.Sort
// order. Paging is by key (the last row's sort value, region and id), so a
// page costs the rows it returns, not those before it, and rows inserted
// meanwhile never shift a page.
func (s *Store) ListQueries(ctx context.Context, o ListOptions) (QueryPage, error) {
	var page QueryPage
	if o.Sort == "" {
		o.Sort = "time"
	}
	col, ok := Sorts[o.Sort]
	if !ok {
		return page, fmt.Errorf("unknown sort %q", o.Sort)
	}
	limit := o.Limit
	switch {
	case limit == 0:
		limit = DefaultListLimit
	case limit < 0 || limit > MaxListLimit:
		return page, fmt.Errorf("page size %d out of range 1..%d", limit, MaxListLimit)
	}
	where, args, err := o.Filter.where()
	if err != nil {
		return page, err
	}
	if o.Cursor != "" {
		c, err := decodeCursor(o.Cursor, o.Sort)
		if err != nil {
			return page, err
		}
		where += " AND (" + col + " < ? OR (" + col + " = ? AND (region, query_id) > (?, ?)))"
		args = append(args, c.Value, c.Value, c.Region, c.ID)
	}
	q := "SELECT " + queryColumns + " FROM queries WHERE " + where +
		" ORDER BY " + col + " DESC, region, query_id LIMIT ?"
	rows, err := s.db.QueryContext(ctx, q, append(args, limit+1)...)
	if err != nil {
		return page, fmt.Errorf("list queries by %s: %w", o.Sort, err)
	}
	defer rows.Close()
	for rows.Next() {
		q, err := scanQuery(rows)
		if err != nil {
			return page, fmt.Errorf("list queries by %s: %w", o.Sort, err)
		}
		page.Queries = append(page.Queries, q)
	}
	if err := rows.Err(); err != nil {
		return page, fmt.Errorf("list queries by %s: %w", o.Sort, err)
	}
	if len(page.Queries) > limit {
		page.Queries = page.Queries[:limit]
		last := &page.Queries[limit-1]
		page.Next = cursor{Sort: o.Sort, Value: sortValue(last, o.Sort), Region: last.Region, ID: last.QueryID}.encode()
	}
	return page, nil
}

// sortValue is q's value of the column sort orders by.
func sortValue(q *Query, sort string) float64 {
	switch sort {
	case "cost":
		return q.CostUSD
	case "bytes":
		return float64(q.Stats.DataScannedBytes)
	case "engine":
		return float64(q.Stats.EngineMs)
	default:
		return float64(millis(q.EventTime))
	}
}

// QueriesByID returns the stored queries with the given execution id in any
// region: one, normally (ids are UUIDs), none when it is not stored. It
// probes the primary key once per stored region, stepping from region to
// region through the key itself, so it needs no index of its own.
func (s *Store) QueriesByID(ctx context.Context, queryID string) ([]Query, error) {
	var out []Query
	region := ""
	for {
		var next sql.NullString
		if err := s.db.QueryRowContext(ctx, "SELECT MIN(region) FROM queries WHERE region > ?", region).Scan(&next); err != nil {
			return nil, fmt.Errorf("look up query %s: %w", queryID, err)
		}
		if !next.Valid {
			return out, nil
		}
		region = next.String
		q, ok, err := s.GetQuery(ctx, region, queryID)
		if err != nil {
			return nil, fmt.Errorf("look up query %s: %w", queryID, err)
		}
		if ok {
			out = append(out, q)
		}
	}
}
