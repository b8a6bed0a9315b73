package source

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"runtime"
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

// Name implements Source. It names the absolute, cleaned root, so
// "dir:./trail" and "dir:/abs/trail" share checkpoints.
func (d *Dir) Name() string {
	if abs, err := filepath.Abs(d.Root); err == nil {
		return "dir:" + abs
	}
	return "dir:" + filepath.Clean(d.Root)
}

type dirFile struct {
	rel  string
	path string
	size int64
	mod  time.Time
}

// Run implements Source. One goroutine walks the tree in lexical order
// (which for CloudTrail's layout is time order within a prefix), pruning day
// directories outside the window and digest trees, skipping files whose
// checkpoint is done and unchanged, and hands the rest to workers that read
// them in parallel. Checkpoints are looked up a directory at a time.
func (d *Dir) Run(ctx context.Context, done Checkpoints, emit func(context.Context, *Unit) error) (RunStats, error) {
	var rs RunStats
	logger := d.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	// WalkDir does not follow a symlinked root: resolve it first, so a
	// trail mounted or linked in place is read, not silently skipped.
	root, err := filepath.EvalSymlinks(d.Root)
	if err != nil {
		return rs, fmt.Errorf("read trail directory: %w", err)
	}
	info, err := os.Stat(root)
	if err != nil {
		return rs, fmt.Errorf("read trail directory: %w", err)
	}
	if !info.IsDir() {
		return rs, fmt.Errorf("read trail directory %s: not a directory", d.Root)
	}
	workers := d.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}

	jobs := make(chan dirFile, 4*workers)
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		defer close(jobs)
		return d.walk(gctx, root, done, &rs, logger, jobs)
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
	err = g.Wait()
	return rs, err
}

func (d *Dir) walk(ctx context.Context, root string, done Checkpoints, rs *RunStats, logger *slog.Logger, jobs chan<- dirFile) error {
	var digests, other int
	var curDir string
	var cur map[string]store.Checkpoint
	err := filepath.WalkDir(root, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			if p == root {
				return fmt.Errorf("list %s: %w", d.Root, err)
			}
			// One unreadable directory must not stop the rest of the trail.
			rel, _ := filepath.Rel(root, p)
			rs.Skipped = append(rs.Skipped, SkippedItem{Name: filepath.ToSlash(rel), Record: -1, Reason: err.Error()})
			if e != nil && e.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		name := e.Name()
		if e.IsDir() {
			if p == root {
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
			rel, _ := filepath.Rel(root, p)
			rs.Skipped = append(rs.Skipped, SkippedItem{Name: filepath.ToSlash(rel), Record: -1, Reason: err.Error()})
			return nil
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		dir := path.Dir(rel)
		if dir == "." {
			dir = ""
		}
		if cur == nil || dir != curDir {
			if cur, err = done.In(ctx, dir); err != nil {
				return err
			}
			curDir = dir
		}
		mod := fi.ModTime().UTC().Truncate(time.Millisecond)
		if cp, ok := cur[rel]; ok && cp.Status != store.CheckpointBad && cp.Size == fi.Size() && cp.ModTime.Equal(mod) {
			rs.Unchanged++
			return nil
		}
		if d.Progress != nil {
			d.Progress.Total.Add(1)
		}
		select {
		case jobs <- dirFile{rel: rel, path: p, size: fi.Size(), mod: mod}:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	})
	rs.Ignored = digests + other
	if digests > 0 || other > 0 {
		logger.Info("ignored files that are not trail log files", slog.Int("digest_files", digests), slog.Int("other_files", other))
	}
	return err
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
