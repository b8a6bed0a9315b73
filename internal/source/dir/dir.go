package dir

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
	"github.com/athenawatch/athenawatch/internal/source"
	"github.com/athenawatch/athenawatch/internal/store"
)

// Source reads trail files from a local directory tree, such as a copy of a
// trail bucket (`aws s3 sync s3://trail-bucket/AWSLogs ./AWSLogs`).
type Source struct {
	Root    string
	Window  source.Window
	Workers int // files read in parallel; 0 = number of CPUs
	Reader  cloudtrail.ReaderOptions
	Logger  *slog.Logger
	// Progress, when set, learns the number of files to read.
	Progress *source.Progress
}

func init() { source.Register("dir", Open) }

// Open opens the directory source of an address "dir:PATH" (PATH is addr).
func Open(addr string, o source.Options) (source.Source, error) {
	if addr == "" {
		return nil, errors.New("dir: needs a path")
	}
	return &Source{Root: addr, Window: o.Window, Workers: o.Workers, Reader: o.Reader, Logger: o.Logger, Progress: o.Progress}, nil
}

// Name implements source.Source. It names the absolute, cleaned root, so
// "dir:./trail" and "dir:/abs/trail" share checkpoints.
func (d *Source) Name() string {
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

// Run implements source.Source. One goroutine walks the tree in lexical order
// (which for CloudTrail's layout is time order within a prefix), pruning day
// directories outside the window, skipping files whose checkpoint is done
// and unchanged, and hands the rest to workers that read them in parallel.
// Checkpoints are looked up a directory at a time.
//
// Symbolic links are followed, so a trail assembled from links is read
// whole; files keep the names of their links under the root. A directory
// reached twice (by device and inode) is read once, a link back to a
// directory the walk is inside is a loop, and a link that leads nowhere is
// named as skipped.
func (d *Source) Run(ctx context.Context, done source.Checkpoints, emit func(context.Context, *source.Unit) error) (source.RunStats, error) {
	var rs source.RunStats
	logger := d.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	// Resolve a symlinked root first, so that a trail mounted or linked in
	// place is read, not silently skipped.
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
		w := &dirWalk{d: d, ctx: gctx, done: done, rs: &rs, logger: logger, jobs: jobs, visited: make(map[fileKey]string)}
		err := w.dir(root, "", info)
		rs.Ignored = w.digests + w.other
		if w.digests > 0 || w.other > 0 {
			logger.Info("ignored files that are not trail log files", slog.Int("digest_files", w.digests), slog.Int("other_files", w.other))
		}
		return err
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

// dirWalk is the state of one walk of the tree.
type dirWalk struct {
	d      *Source
	ctx    context.Context
	done   source.Checkpoints
	rs     *source.RunStats
	logger *slog.Logger
	jobs   chan<- dirFile

	// visited names, by device and inode, every directory entered.
	visited map[fileKey]string
	// ancestors are the directories the walk is inside, root first.
	ancestors []walkedDir

	digests, other int
}

type walkedDir struct {
	info fs.FileInfo
	rel  string
}

// skip names input that could not be listed or followed.
func (w *dirWalk) skip(rel, reason string) {
	w.rs.Skipped = append(w.rs.Skipped, source.SkippedItem{Name: rel, Record: -1, Reason: reason})
}

// dir walks the directory at p, named rel under the root ("" for the root)
// and described by info (its target's, for a link).
func (w *dirWalk) dir(p, rel string, info fs.FileInfo) error {
	for _, a := range w.ancestors {
		if os.SameFile(a.info, info) {
			w.skip(rel, fmt.Sprintf("symbolic link loop: leads back to %s", displayDir(a.rel)))
			return nil
		}
	}
	if key, ok := keyOf(info); ok {
		if first, seen := w.visited[key]; seen {
			w.logger.Info("directory already read under another name", slog.String("dir", rel), slog.String("read_as", displayDir(first)))
			return nil
		}
		w.visited[key] = rel
	}
	entries, err := os.ReadDir(p)
	if err != nil {
		if rel == "" {
			return fmt.Errorf("list %s: %w", w.d.Root, err)
		}
		// One unreadable directory must not stop the rest of the trail.
		w.skip(rel, err.Error())
		if len(entries) == 0 {
			return nil
		}
	}
	w.ancestors = append(w.ancestors, walkedDir{info: info, rel: rel})
	defer func() { w.ancestors = w.ancestors[:len(w.ancestors)-1] }()

	var cps map[string]store.Checkpoint // of the files directly in rel, looked up once
	for _, e := range entries {
		if err := w.ctx.Err(); err != nil {
			return err
		}
		name := e.Name()
		if strings.HasPrefix(name, ".") {
			continue
		}
		childRel := path.Join(rel, name)
		child := filepath.Join(p, name)
		mode := e.Type()
		var fi fs.FileInfo
		if mode&fs.ModeSymlink != 0 {
			target, err := os.Stat(child)
			if err != nil {
				w.skip(childRel, "symbolic link leads nowhere: "+linkError(err))
				continue
			}
			fi, mode = target, target.Mode().Type()
		}
		switch {
		case mode.IsDir():
			if day, ok := dayOfDir(child); ok && !w.d.Window.Contains(day) {
				continue
			}
			if fi == nil {
				if fi, err = e.Info(); err != nil {
					w.skip(childRel, err.Error())
					continue
				}
			}
			if err := w.dir(child, childRel, fi); err != nil {
				return err
			}
		case mode.IsRegular():
			if fi == nil {
				if fi, err = e.Info(); err != nil {
					w.skip(childRel, err.Error())
					continue
				}
			}
			if err := w.file(child, childRel, rel, name, fi, &cps); err != nil {
				return err
			}
		}
	}
	return nil
}

// file hands one regular file to the workers unless it is not a trail log
// file by name or its checkpoint says it is done and unchanged.
// name is the file's name in its directory (a link's, not its target's).
func (w *dirWalk) file(p, rel, dir, name string, fi fs.FileInfo, cps *map[string]store.Checkpoint) error {
	if strings.Contains(name, "CloudTrail-Digest") {
		w.digests++
		return nil
	}
	if !isTrailName(name) {
		w.other++
		w.logger.Debug("ignored: not a trail file name", slog.String("file", p))
		return nil
	}
	if *cps == nil {
		var err error
		if *cps, err = w.done.In(w.ctx, dir); err != nil {
			return err
		}
	}
	mod := fi.ModTime().UTC().Truncate(time.Millisecond)
	if cp, ok := (*cps)[rel]; ok && cp.Status != store.CheckpointBad && cp.Size == fi.Size() && cp.ModTime.Equal(mod) {
		w.rs.Unchanged++
		return nil
	}
	if w.d.Progress != nil {
		w.d.Progress.Total.Add(1)
	}
	select {
	case w.jobs <- dirFile{rel: rel, path: p, size: fi.Size(), mod: mod}:
		return nil
	case <-w.ctx.Done():
		return w.ctx.Err()
	}
}

// displayDir names a directory under the root in messages.
func displayDir(rel string) string {
	if rel == "" {
		return "the trail root"
	}
	return rel
}

// linkError says why a link cannot be followed, without the path the
// message already names.
func linkError(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

func (d *Source) readFile(ctx context.Context, r *cloudtrail.Reader, f dirFile) *source.Unit {
	u := &source.Unit{Checkpoint: store.Checkpoint{Source: d.Name(), Name: f.rel, Size: f.size, ModTime: f.mod}}
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
