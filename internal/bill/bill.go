// Package bill reads what AWS billed for Athena from an AWS Data Exports
// "CUR 2.0" export in Parquet, so that athenawatch's attributed cost can be
// reconciled with the bill. It reads an export from a directory (dir:PATH)
// or from S3 (s3://bucket/prefix), anywhere at or above the export's
// <export-name> folder, and sums the Athena usage line items into cells:
// one per usage account, region, workgroup, UTC day and kind of charge.
//
// The export's layout and columns are AWS's:
// https://docs.aws.amazon.com/cur/latest/userguide/dataexports-export-delivery.html
// and https://docs.aws.amazon.com/cur/latest/userguide/table-dictionary-cur2.html.
package bill

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/athenawatch/athenawatch/internal/location"
)

// Kind is what a cell charges for.
type Kind string

// Kinds of Athena charges.
const (
	// Scan is SQL queries' bytes scanned (usage type ...DataScannedInTB).
	Scan Kind = "scan"
	// DPU is provisioned capacity, by DPU-hour.
	DPU Kind = "dpu"
	// Other is any other Athena usage (Spark sessions, new usage types).
	Other Kind = "other"
)

// Cell is what the bill charges one usage account for Athena in one
// region, workgroup and UTC day, for one kind of usage.
type Cell struct {
	Account, Region string
	// Workgroup is the workgroup the line items name in their resource
	// id; "" when they have none.
	Workgroup string
	Day       time.Time // UTC midnight
	Kind      Kind
	// USD is the sum of line_item_unblended_cost.
	USD float64
	// Usage is the sum of line_item_usage_amount: terabytes for Scan,
	// DPU-hours for DPU.
	Usage float64
	// LineItems counts the line items summed.
	LineItems int
}

// Skipped is one piece of bad input left out: a file that could not be
// read, or a line item that cannot be a charge.
type Skipped struct {
	// Name is the file, and the row for a line item.
	Name   string `json:"name"`
	Reason string `json:"reason"`
}

// Bill is the Athena part of an export over a window.
type Bill struct {
	// Cells are sorted by day, account, region, workgroup and kind.
	Cells []Cell
	// Files are the data files read; Periods their billing periods
	// (YYYY-MM).
	Files   []string
	Periods []string
	// LineItems counts the Athena usage line items summed into Cells;
	// Ignored the line items of other services and of other types (tax,
	// credits, fees) and those outside the window.
	LineItems, Ignored int64
	// Skipped is the bad input left out; SkippedRows counts the line
	// items among it (only the first few of a file are named).
	Skipped     []Skipped
	SkippedRows int64
	// LastDay is the newest day with an Athena usage line item in the
	// window (zero when there is none): the day the export was last
	// refreshed for.
	LastDay time.Time
}

// Location is where an export is: a directory or an S3 bucket and prefix.
type Location = location.Location

// ParseLocation reads dir:PATH or s3://bucket/prefix.
func ParseLocation(s string) (Location, error) {
	l, err := location.Parse(s)
	if err != nil {
		return Location{}, fmt.Errorf("bill export %w", err)
	}
	return l, nil
}

// Reader reads the Athena charges of an export.
type Reader struct {
	Location Location
	// AWS is the configuration S3 is reached with (s3:// locations).
	AWS aws.Config
	// Timeout bounds each S3 call (default 1 minute; a data file's
	// download gets 10 times as long).
	Timeout time.Duration
	Logger  *slog.Logger
}

// String names the export read.
func (r *Reader) String() string { return r.Location.String() }

// DefaultTimeout is Reader.Timeout's default.
const DefaultTimeout = time.Minute

// Read returns the Athena usage the export bills from since (inclusive)
// to until (exclusive), by the line items' usage start dates. Bad input
// is named in Bill.Skipped and left out; an error means the export could
// not be read at all.
func (r *Reader) Read(ctx context.Context, since, until time.Time) (*Bill, error) {
	log := r.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	timeout := r.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	var src objectStore
	if r.Location.Dir != "" {
		src = dirStore{root: r.Location.Dir}
	} else {
		s, err := openS3(ctx, r.AWS, r.Location, timeout, log)
		if err != nil {
			return nil, err
		}
		src = s
	}
	b := &Bill{}
	files, err := locate(ctx, src, r.Location, since, until, b)
	if err != nil {
		return nil, err
	}
	sum := newSummer(since, until)
	for _, f := range files {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		readFile(ctx, src, f, sum, b, log)
	}
	sum.finish(b)
	log.Debug("read bill export", slog.String("location", r.Location.String()), slog.Int("files", len(b.Files)),
		slog.Int64("line_items", b.LineItems), slog.Int("skipped", len(b.Skipped)))
	return b, nil
}

// summer sums line items into cells.
type summer struct {
	since, until time.Time
	cells        map[cellKey]*Cell
	last         time.Time
}

type cellKey struct {
	account, region, workgroup string
	day                        time.Time
	kind                       Kind
}

func newSummer(since, until time.Time) *summer {
	return &summer{since: since, until: until, cells: map[cellKey]*Cell{}}
}

// inWindow reports whether a usage start date is in the window.
func (s *summer) inWindow(t time.Time) bool {
	return (s.since.IsZero() || !t.Before(s.since)) && (s.until.IsZero() || t.Before(s.until))
}

func (s *summer) add(li lineItem) {
	day := li.start.UTC().Truncate(24 * time.Hour)
	k := cellKey{li.account, li.region, li.workgroup, day, li.kind}
	c := s.cells[k]
	if c == nil {
		c = &Cell{Account: li.account, Region: li.region, Workgroup: li.workgroup, Day: day, Kind: li.kind}
		s.cells[k] = c
	}
	c.USD += li.cost
	c.Usage += li.amount
	c.LineItems++
	if day.After(s.last) {
		s.last = day
	}
}

func (s *summer) finish(b *Bill) {
	for _, c := range s.cells {
		b.Cells = append(b.Cells, *c)
	}
	slices.SortFunc(b.Cells, func(x, y Cell) int {
		if c := x.Day.Compare(y.Day); c != 0 {
			return c
		}
		return strings.Compare(x.Account+"\x00"+x.Region+"\x00"+x.Workgroup+"\x00"+string(x.Kind),
			y.Account+"\x00"+y.Region+"\x00"+y.Workgroup+"\x00"+string(y.Kind))
	})
	b.LastDay = s.last
}
