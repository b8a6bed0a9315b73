package lake

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"slices"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/athenawatch/athenawatch/internal/store"
)

// Store is what an export reads and records in the database.
type Store interface {
	LakeDays(ctx context.Context, from, to string) ([]store.LakeDay, error)
	LakeExports(ctx context.Context, target, format string) (map[string]store.LakeExport, error)
	RecordLakeExport(ctx context.Context, target, format string, e store.LakeExport) error
	ForgetLakeExport(ctx context.Context, target, format, day string) error
	DayQueries(ctx context.Context, day string, fn func(q *store.Query) error) (int64, error)
}

// Exporter writes the usage lake to a target, incrementally: a day is
// written again only when its queries changed since the target last got
// it (a query stored, enriched or re-derived under new rules or prices).
// Each day is one object per table, replaced whole (Target.Put), and
// recorded as written only after every object of it is in place: an
// export killed at any point leaves each partition as it was or as it is
// now, and the next run writes what it did not record.
type Exporter struct {
	Store  Store
	Target Target
	// Format is FormatParquet or FormatCSV; Compression (Parquet only)
	// CompressionZstd (the default) or CompressionSnappy.
	Format      string
	Compression string
	// TempDir holds a day's files while they are written; "" is the
	// system's.
	TempDir string
	// Workers is how many days are exported at once; 0 is one per CPU,
	// at most 2.
	Workers int
	Logger  *slog.Logger
	Now     func() time.Time
}

// Summary is what an export did.
type Summary struct {
	Target    string `json:"target"`
	Format    string `json:"format"`
	Days      int    `json:"days"`      // days in the window with queries
	Written   int    `json:"written"`   // partitions written
	Unchanged int    `json:"unchanged"` // partitions already current
	Removed   int    `json:"removed"`   // partitions of days with no queries left
	Rows      int64  `json:"rows"`      // rows written
	Bytes     int64  `json:"bytes"`     // bytes written
	// Failed names each day that could not be written, with why; those
	// days are left as they were and tried again by the next export.
	Failed []string `json:"failed,omitempty"`
}

// tables are the tables a format writes, each with how it opens a day.
func (e *Exporter) tables() ([]string, error) {
	switch e.Format {
	case FormatParquet, "":
		if e.Compression != "" && e.Compression != CompressionZstd && e.Compression != CompressionSnappy {
			return nil, fmt.Errorf("compression %q: want zstd or snappy", e.Compression)
		}
		return []string{UsageTable}, nil
	case FormatCSV:
		return []string{UsageCSVTable, APIOutputTable}, nil
	}
	return nil, fmt.Errorf("format %q: want parquet or csv", e.Format)
}

func (e *Exporter) format() string {
	if e.Format == "" {
		return FormatParquet
	}
	return e.Format
}

// ObjectKey is the key of table's partition of day under a target.
func ObjectKey(table, day string) string {
	ext := ".csv"
	if table == UsageTable {
		ext = ".parquet"
	}
	return table + "/dt=" + day + "/" + table + ext
}

// Export writes the days from through to (YYYY-MM-DD, inclusive; ""
// leaves an end open) that changed since the target last got them. It
// goes on past a day it cannot write and returns an error naming how many
// failed, with the summary of the rest.
func (e *Exporter) Export(ctx context.Context, from, to string) (Summary, error) {
	sum := Summary{Target: e.Target.String(), Format: e.format()}
	tables, err := e.tables()
	if err != nil {
		return sum, err
	}
	days, err := e.Store.LakeDays(ctx, from, to)
	if err != nil {
		return sum, err
	}
	done, err := e.Store.LakeExports(ctx, sum.Target, sum.Format)
	if err != nil {
		return sum, err
	}
	// Days are independent: Workers of them are read, encoded and written
	// at once, each on a database connection of its own. Two at most by
	// default: the store keeps four connections, and serve's collection,
	// pages and /metrics need the others meanwhile.
	workers := e.Workers
	if workers <= 0 {
		workers = min(runtime.GOMAXPROCS(0), 2)
	}
	var mu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(workers)
	for _, d := range days {
		prev, had := done[d.Day]
		if had && prev.Version == d.Version {
			mu.Lock()
			sum.Days++
			sum.Unchanged++
			mu.Unlock()
			continue
		}
		g.Go(func() error {
			rows, bytes, err := e.exportDay(gctx, d.Day, tables, had)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err != nil && gctx.Err() != nil:
				return gctx.Err()
			case err != nil:
				e.logger().Error("export day failed", slog.String("day", d.Day), slog.String("target", sum.Target), slog.Any("err", err))
				sum.Failed = append(sum.Failed, fmt.Sprintf("%s: %v", d.Day, err))
			case rows > 0:
				sum.Days++
				sum.Written++
				sum.Rows += rows
				sum.Bytes += bytes
			case had:
				sum.Removed++
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return sum, err
	}
	slices.Sort(sum.Failed)
	if len(sum.Failed) > 0 {
		return sum, fmt.Errorf("export to %s: %d of %d changed days failed (first: %s)", sum.Target, len(sum.Failed), len(sum.Failed)+sum.Written+sum.Removed, sum.Failed[0])
	}
	return sum, nil
}

// exportDay writes every table's partition of day and records it.
func (e *Exporter) exportDay(ctx context.Context, day string, tables []string, had bool) (rows, bytes int64, err error) {
	files := make([]*os.File, len(tables))
	writers := make([]dayWriter, len(tables))
	defer func() {
		for _, f := range files {
			if f != nil {
				f.Close()
				os.Remove(f.Name())
			}
		}
	}()
	for i, t := range tables {
		if files[i], err = os.CreateTemp(e.TempDir, "athenawatch-export-*"); err != nil {
			return 0, 0, fmt.Errorf("export %s: %w", day, err)
		}
		switch t {
		case UsageTable:
			writers[i], err = newParquetWriter(files[i], e.Compression)
		case UsageCSVTable:
			writers[i], err = newUsageCSVWriter(files[i])
		case APIOutputTable:
			writers[i] = newAPIOutputWriter(files[i])
		}
		if err != nil {
			return 0, 0, fmt.Errorf("export %s: %w", day, err)
		}
	}
	version, err := e.Store.DayQueries(ctx, day, func(q *store.Query) error {
		rows++
		for _, w := range writers {
			if err := w.add(q); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, 0, fmt.Errorf("export %s: %w", day, err)
	}
	for _, w := range writers {
		if err := w.close(); err != nil {
			return 0, 0, fmt.Errorf("export %s: %w", day, err)
		}
	}
	target, format := e.Target.String(), e.format()
	if rows == 0 {
		// Every query of the day is gone: so goes the partition.
		if had {
			for _, t := range tables {
				if err := e.Target.Delete(ctx, ObjectKey(t, day)); err != nil {
					return 0, 0, err
				}
			}
		}
		return 0, 0, e.Store.ForgetLakeExport(ctx, target, format, day)
	}
	for i, t := range tables {
		fi, err := files[i].Stat()
		if err != nil {
			return 0, 0, fmt.Errorf("export %s: %w", day, err)
		}
		if err := e.Target.Put(ctx, ObjectKey(t, day), files[i], fi.Size()); err != nil {
			return 0, 0, err
		}
		bytes += fi.Size()
	}
	now := time.Now
	if e.Now != nil {
		now = e.Now
	}
	if err := e.Store.RecordLakeExport(ctx, target, format, store.LakeExport{Day: day, Version: version, Rows: rows, Bytes: bytes, ExportedAt: now()}); err != nil {
		return 0, 0, err
	}
	return rows, bytes, nil
}

func (e *Exporter) logger() *slog.Logger {
	if e.Logger != nil {
		return e.Logger
	}
	return slog.Default()
}
