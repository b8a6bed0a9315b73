package s3

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
	"golang.org/x/sync/errgroup"

	"github.com/athenawatch/athenawatch/internal/source"
	"github.com/athenawatch/athenawatch/internal/store"
)

// dayCursor is a day prefix's cursor: the last trail object listed there,
// and whether the day is closed (listed completely, after it ended, with
// every object read).
type dayCursor struct {
	last   string // base name
	closed bool
}

func parseCursor(v string) (dayCursor, bool) {
	state, last, ok := strings.Cut(v, " ")
	if !ok || (state != "open" && state != "closed") {
		return dayCursor{}, false
	}
	return dayCursor{last: last, closed: state == "closed"}, true
}

func (c dayCursor) String() string {
	if c.closed {
		return "closed " + c.last
	}
	return "open " + c.last
}

// object is one trail object to read.
type object struct {
	rel, key string
	size     int64
	mod      time.Time
	dir      *dirRun
}

// dirRun follows one listed prefix until every object it handed out was
// emitted; then its cursor, if it is a day, is emitted after them.
type dirRun struct {
	rel      string
	isDay    bool
	closable bool // listed completely after the day ended, plus Late
	prev     dayCursor
	hasPrev  bool

	mu          sync.Mutex
	outstanding int
	listed      bool   // the listing finished (or failed)
	failed      bool   // the listing failed part-way
	bad         bool   // an object was emitted as bad
	last        string // greatest trail object name listed
	finished    bool
}

// walk is the state of one run's listing.
type walk struct {
	s   *Source
	ctx context.Context // of the listers: done when the walk is
	// runCtx outlives the walk: readers still emit units and cursors.
	runCtx  context.Context
	client  API
	done    source.Checkpoints
	emit    func(context.Context, *source.Unit) error
	jobs    chan<- object
	listers *errgroup.Group
	late    time.Duration
	started time.Time

	mu              sync.Mutex
	rs              source.RunStats
	ignoredPrefixes []string
	closedDays      int
	prefixes        int
}

func (w *walk) skip(name, reason string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.rs.Skipped = append(w.rs.Skipped, source.SkippedItem{Name: name, Record: -1, Reason: reason})
}

// listPrefix is the S3 prefix that lists the children of rel.
func (w *walk) listPrefix(rel string) string {
	k := w.s.key(rel)
	if k == "" {
		return ""
	}
	return k + "/"
}

// dir lists the prefix rel (relative to the source's prefix), hands its
// trail objects to the readers and walks its sub-prefixes.
func (w *walk) dir(rel string, cur dayCursor, hasCur bool) error {
	if err := w.ctx.Err(); err != nil {
		return err
	}
	start, end, isPeriod := period(rel)
	d := &dirRun{rel: rel, prev: cur, hasPrev: hasCur}
	if isPeriod && end.Sub(start) == 24*time.Hour {
		d.isDay = true
		d.closable = !w.started.Before(end.Add(w.late))
		if hasCur && cur.closed {
			w.mu.Lock()
			w.closedDays++
			w.mu.Unlock()
			return nil
		}
	}
	w.mu.Lock()
	w.prefixes++
	w.mu.Unlock()
	in := &s3.ListObjectsV2Input{Bucket: aws.String(w.s.Bucket), Delimiter: aws.String("/")}
	if p := w.listPrefix(rel); p != "" {
		in.Prefix = aws.String(p)
	}
	if d.isDay && hasCur && cur.last != "" {
		if series, t, ok := keyTime(cur.last); ok {
			// Objects arrive at most Late after the time in their keys:
			// everything not listed before sorts after this.
			in.StartAfter = aws.String(w.listPrefix(rel) + series + t.Add(-w.late).Format("20060102T1504Z"))
		}
	}
	var subdirs []string
	var cps map[string]store.Checkpoint
	for {
		out, err := w.list(in)
		if err != nil {
			if rel == "" {
				return fmt.Errorf("list s3://%s/%s: %w%s", w.s.Bucket, aws.ToString(in.Prefix), err, accessHint(err))
			}
			// One prefix that cannot be listed must not stop the rest.
			w.skip(w.listPrefix(rel), "cannot list: "+err.Error())
			d.mu.Lock()
			d.failed = true
			d.mu.Unlock()
			break
		}
		for _, p := range out.CommonPrefixes {
			subdirs = append(subdirs, strings.TrimSuffix(w.s.rel(aws.ToString(p.Prefix)), "/"))
		}
		for _, o := range out.Contents {
			key := aws.ToString(o.Key)
			name := path.Base(key)
			switch {
			case strings.HasSuffix(key, "/"):
				continue // a folder marker
			case strings.Contains(name, "CloudTrail-Digest"), !isTrailName(name):
				w.mu.Lock()
				w.rs.Ignored++
				w.mu.Unlock()
				w.s.logger().Debug("ignored: not a trail log file", slog.String("key", key))
				continue
			}
			objRel := w.s.rel(key)
			d.mu.Lock()
			if name > d.last {
				d.last = name
			}
			d.mu.Unlock()
			if cps == nil {
				if cps, err = w.done.In(w.ctx, rel); err != nil {
					return err
				}
			}
			size := aws.ToInt64(o.Size)
			mod := aws.ToTime(o.LastModified).UTC().Truncate(time.Millisecond)
			if cp, ok := cps[objRel]; ok && cp.Status != store.CheckpointBad && cp.Size == size && cp.ModTime.Equal(mod) {
				w.mu.Lock()
				w.rs.Unchanged++
				w.mu.Unlock()
				continue
			}
			if w.s.Progress != nil {
				w.s.Progress.Total.Add(1)
			}
			d.mu.Lock()
			d.outstanding++
			d.mu.Unlock()
			select {
			case w.jobs <- object{rel: objRel, key: key, size: size, mod: mod, dir: d}:
			case <-w.ctx.Done():
				return w.ctx.Err()
			}
		}
		if !aws.ToBool(out.IsTruncated) || aws.ToString(out.NextContinuationToken) == "" {
			break
		}
		in.ContinuationToken = out.NextContinuationToken
	}
	if err := w.listed(d); err != nil {
		return err
	}
	return w.subdirs(rel, subdirs)
}

// accessHint points at the policy a refused listing needs.
func accessHint(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		switch ae.ErrorCode() {
		case "AccessDenied":
			return " (athenawatch iam-policy --source s3://... prints the policy the collector needs)"
		case "PermanentRedirect", "AuthorizationHeaderMalformed":
			return " (the bucket is in another region: name it, as in s3://BUCKET/PREFIX?region=eu-west-1)"
		}
	}
	return ""
}

// subdirs walks the sub-prefixes of rel, in parallel up to the listers'
// limit (in this goroutine when every lister is busy).
func (w *walk) subdirs(rel string, subdirs []string) error {
	var cursors map[string]string
	for _, sub := range subdirs {
		base := path.Base(sub)
		if ignoredPrefix(base) {
			w.mu.Lock()
			w.ignoredPrefixes = append(w.ignoredPrefixes, w.listPrefix(sub))
			w.mu.Unlock()
			continue
		}
		start, end, isPeriod := period(sub)
		if isPeriod && !inWindow(w.s.Window, start, end) {
			continue
		}
		var cur dayCursor
		var hasCur bool
		if isPeriod && end.Sub(start) == 24*time.Hour {
			if cursors == nil {
				var err error
				if cursors, err = w.done.Cursors(w.ctx, rel); err != nil {
					return err
				}
			}
			if v, ok := cursors[sub]; ok {
				cur, hasCur = parseCursor(v)
			}
		}
		if !w.listers.TryGo(func() error { return w.dir(sub, cur, hasCur) }) {
			if err := w.dir(sub, cur, hasCur); err != nil {
				return err
			}
		}
	}
	return nil
}

// list makes one listing call under its own timeout.
func (w *walk) list(in *s3.ListObjectsV2Input) (*s3.ListObjectsV2Output, error) {
	ctx, cancel := context.WithTimeout(w.ctx, w.s.listTimeout())
	defer cancel()
	return w.client.ListObjectsV2(ctx, in)
}

// listed marks d's listing finished; with nothing outstanding its cursor
// is due now.
func (w *walk) listed(d *dirRun) error {
	d.mu.Lock()
	d.listed = true
	due := d.outstanding == 0 && !d.finished
	if due {
		d.finished = true
	}
	d.mu.Unlock()
	if due {
		return w.finish(d)
	}
	return nil
}

// emitted records that one of d's objects was emitted (bad: as bad input);
// the last one makes d's cursor due.
func (w *walk) emitted(d *dirRun, bad bool) error {
	d.mu.Lock()
	d.outstanding--
	d.bad = d.bad || bad
	due := d.outstanding == 0 && d.listed && !d.finished
	if due {
		d.finished = true
	}
	d.mu.Unlock()
	if due {
		return w.finish(d)
	}
	return nil
}

// finish emits d's new cursor, after every unit of its objects: the
// collector commits units in the order they are emitted, so the cursor is
// never durable before the rows it covers.
func (w *walk) finish(d *dirRun) error {
	if !d.isDay {
		return nil
	}
	next := d.prev
	if !d.failed && !d.bad {
		// A bad object or a failed listing keeps the day open and its
		// last key where it was: the next run lists them again.
		next.last = max(d.prev.last, d.last)
		next.closed = d.closable
	}
	if d.hasPrev && next == d.prev {
		return nil
	}
	if !d.hasPrev && next.last == "" && !next.closed {
		return nil
	}
	return w.emit(w.runCtx, &source.Unit{Cursors: []source.Cursor{{Key: d.rel, Value: next.String()}}})
}
