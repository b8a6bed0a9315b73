package source

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/athenawatch/athenawatch/internal/cloudtrail"
	"github.com/athenawatch/athenawatch/internal/store"
)

// Dir reads trail files from a local directory tree, such as a copy of a
// trail bucket (`aws s3 sync s3://trail-bucket/AWSLogs ./AWSLogs`).
type Dir struct {
	Root    string
	Window  Window
	Workers int // files read in parallel; 0 = number of CPUs
	Reader  cloudtrail.ReaderOptions
	Logger  *slog.Logger
	// Progress, when set, learns the number of files to read.
	Progress *Progress
}

// Name implements Source.
func (d *Dir) Name() string { return "dir:" + d.Root }

type dirFile struct {
	rel  string
	path string
	size int64
	mod  time.Time
}

// Run implements Source: it lists the tree (pruning day directories outside
// the window and digest trees), skips files whose checkpoint is done and
// unchanged, and reads the rest in parallel.
func (d *Dir) Run(ctx context.Context, done map[string]store.Checkpoint, emit func(context.Context, *Unit) error) (RunStats, error) {
	var rs RunStats
	logger := d.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	info, err := os.Stat(d.Root)
	if err != nil {
		return rs, fmt.Errorf("read trail directory: %w", err)
	}
	if !info.IsDir() {
		return rs, fmt.Errorf("read trail directory %s: not a directory", d.Root)
	}
	var files []dirFile
	var digests, other int
	err = filepath.WalkDir(d.Root, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("list %s: %w", p, err)
		}
		name := e.Name()
		if e.IsDir() {
			if p == d.Root {
				return nil
			}
			if strings.HasPrefix(name, ".") || name == "CloudTrail-Digest" {
				return filepath.SkipDir
			}
			if day, ok := dayOfDir(p); ok && !d.Window.Contains(day) {
				return filepath.SkipDir
			}
			return nil
		}
		if !e.Type().IsRegular() || strings.HasPrefix(name, ".") {
			return nil
		}
		if strings.Contains(name, "CloudTrail-Digest") {
			digests++
			return nil
		}
		if !isTrailName(name) {
			other++
			logger.Debug("ignored: not a trail file name", slog.String("file", p))
			return nil
		}
		fi, err := e.Info()
		if err != nil {
			return fmt.Errorf("stat %s: %w", p, err)
		}
		rel, err := filepath.Rel(d.Root, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if cp, ok := done[rel]; ok && cp.Status != store.CheckpointBad && cp.Size == fi.Size() && cp.ModTime.Equal(fi.ModTime().UTC().Truncate(time.Millisecond)) {
			rs.Unchanged++
			return nil
		}
		files = append(files, dirFile{rel: rel, path: p, size: fi.Size(), mod: fi.ModTime().UTC().Truncate(time.Millisecond)})
		return nil
	})
	if err != nil {
		return rs, err
	}
	rs.Ignored = digests + other
	if digests > 0 || other > 0 {
		logger.Info("ignored files that are not trail log files", slog.Int("digest_files", digests), slog.Int("other_files", other))
	}
	// Oldest first (CloudTrail names sort by time within a prefix), so a
	// interrupted run has committed a contiguous past.
	sort.Slice(files, func(i, j int) bool { return files[i].rel < files[j].rel })
	if d.Progress != nil {
		d.Progress.Total.Store(int64(len(files)))
	}

	workers := d.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	jobs := make(chan dirFile)
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		defer close(jobs)
		for _, f := range files {
			select {
			case jobs <- f:
			case <-gctx.Done():
				return gctx.Err()
			}
		}
		return nil
	})
	for range workers {
		g.Go(func() error {
			r := cloudtrail.NewReader(d.Reader)
			for f := range jobs {
				u := d.readFile(gctx, r, f)
				if err := gctx.Err(); err != nil {
					return err
				}
				if err := emit(gctx, u); err != nil {
					return err
				}
			}
			return nil
		})
	}
	return rs, g.Wait()
}

func (d *Dir) readFile(ctx context.Context, r *cloudtrail.Reader, f dirFile) *Unit {
	u := &Unit{Checkpoint: store.Checkpoint{Source: d.Name(), Name: f.rel, Size: f.size, ModTime: f.mod}}
	fh, err := os.Open(f.path)
	if err != nil {
		u.Err = fmt.Errorf("%w: open %s: %v", cloudtrail.ErrBadInput, f.rel, err)
		return u
	}
	defer fh.Close()
	stats, err := r.Read(ctx, f.rel, fh, func(ev *cloudtrail.QueryEvent) error {
		u.Events = append(u.Events, ev)
		return nil
	})
	u.Records = stats.Records
	u.Bytes = stats.Bytes
	u.Issues = stats.Issues
	u.MoreIssues = stats.MoreIssues
	u.Err = err
	return u
}

// isTrailName accepts the names CloudTrail writes (.json.gz) and the plain,
// NDJSON and gzip variants people keep exports in.
func isTrailName(name string) bool {
	name = strings.TrimSuffix(name, ".gz")
	for _, ext := range []string{".json", ".ndjson", ".jsonl"} {
		if strings.HasSuffix(name, ext) {
			return true
		}
	}
	return false
}

// dayOfDir recognises the YYYY/MM/DD tail of a CloudTrail key prefix.
func dayOfDir(p string) (time.Time, bool) {
	dd := filepath.Base(p)
	mm := filepath.Base(filepath.Dir(p))
	yyyy := filepath.Base(filepath.Dir(filepath.Dir(p)))
	if len(dd) != 2 || len(mm) != 2 || len(yyyy) != 4 {
		return time.Time{}, false
	}
	y, err1 := strconv.Atoi(yyyy)
	m, err2 := strconv.Atoi(mm)
	day, err3 := strconv.Atoi(dd)
	if err := errors.Join(err1, err2, err3); err != nil || m < 1 || m > 12 || day < 1 || day > 31 {
		return time.Time{}, false
	}
	return time.Date(y, time.Month(m), day, 0, 0, 0, 0, time.UTC), true
}
