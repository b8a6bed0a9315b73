package s3

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
	"golang.org/x/sync/errgroup"

	s3bucket "github.com/athenawatch/athenawatch/internal/bucket"
	"github.com/athenawatch/athenawatch/internal/cloudtrail"
	"github.com/athenawatch/athenawatch/internal/source"
	"github.com/athenawatch/athenawatch/internal/store"
)

func (s *Source) logger() *slog.Logger {
	if s.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Logger
}

func (s *Source) listTimeout() time.Duration {
	if s.ListTimeout > 0 {
		return s.ListTimeout
	}
	return DefaultListTimeout
}

// backoffBase is the unit of the delay before an object is read again.
func (s *Source) backoffBase() time.Duration {
	if s.retryBase > 0 {
		return s.retryBase
	}
	return 100 * time.Millisecond
}

func (s *Source) objectTimeout() time.Duration {
	if s.ObjectTimeout > 0 {
		return s.ObjectTimeout
	}
	return DefaultObjectTimeout
}

// Run implements source.Source. Listers walk the bucket's prefixes and
// hand trail objects to workers, which read them in parallel and emit one
// unit each; every day prefix then emits its cursor after its objects.
func (s *Source) Run(ctx context.Context, done source.Checkpoints, emit func(context.Context, *source.Unit) error) (source.RunStats, error) {
	var rs source.RunStats
	logger := s.logger()
	client := s.Client
	if client == nil {
		var err error
		if client, err = s.newClient(ctx); err != nil {
			return rs, err
		}
	}
	workers := s.Workers
	if workers <= 0 {
		workers = DefaultWorkers
	}
	listers := s.Listers
	if listers <= 0 {
		listers = DefaultListers
	}
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	jobs := make(chan object, 4*workers)
	g, gctx := errgroup.WithContext(ctx)
	lg, lctx := errgroup.WithContext(gctx)
	lg.SetLimit(listers)
	w := &walk{s: s, ctx: lctx, runCtx: gctx, client: client, done: done, emit: emit, jobs: jobs, listers: lg, late: s.late(), started: now().UTC()}
	g.Go(func() error {
		defer close(jobs)
		err := w.dir("", dayCursor{}, false)
		return errors.Join(err, lg.Wait())
	})
	for range workers {
		g.Go(func() error {
			r := cloudtrail.NewReader(s.Reader)
			for o := range jobs {
				u := s.read(gctx, client, r, o)
				if err := gctx.Err(); err != nil {
					return err
				}
				if err := emit(gctx, u); err != nil {
					return err
				}
				if err := w.emitted(o.dir, u.Err != nil && !errors.Is(u.Err, cloudtrail.ErrDigest)); err != nil {
					return err
				}
			}
			return nil
		})
	}
	err := g.Wait()
	rs = w.rs
	rs.IgnoredPrefixes = len(w.ignoredPrefixes)
	if len(w.ignoredPrefixes) > 0 {
		logger.Debug("ignored prefixes that hold no API call records", slog.Int("prefixes", len(w.ignoredPrefixes)),
			slog.String("first", w.ignoredPrefixes[0]))
	}
	logger.Debug("listed S3 prefixes", slog.String("source", s.Name()), slog.Int("prefixes", w.prefixes), slog.Int("closed_days", w.closedDays))
	if err == nil && w.prefixes == 1 && rs.Unchanged == 0 && w.closedDays == 0 && len(rs.Skipped) == 0 && s.Progress != nil && s.Progress.Total.Load() == 0 {
		logger.Warn("no trail objects under the source's prefix", slog.String("source", s.Name()))
	}
	return rs, err
}

// read reads one object, again after a failure of the network (a reset
// connection, a body cut short, a timeout) up to Attempts times. Events of
// a failed attempt are dropped; only a whole read is emitted.
func (s *Source) read(ctx context.Context, client API, r *cloudtrail.Reader, o object) *source.Unit {
	attempts := s.Attempts
	if attempts <= 0 {
		attempts = DefaultAttempts
	}
	var lastErr error
	for attempt := 1; attempt <= attempts; attempt++ {
		if attempt > 1 {
			// Full jitter over an exponential ceiling: 0.4 s, 0.8 s, 1.6 s...
			ceiling := s.backoffBase() << attempt
			t := time.NewTimer(rand.N(ceiling))
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				return &source.Unit{Err: ctx.Err()}
			}
		}
		u, transient := s.readOnce(ctx, client, r, o)
		if transient == nil || ctx.Err() != nil {
			return u
		}
		lastErr = transient
		s.logger().Debug("reading S3 object failed; trying again", slog.String("key", o.key), slog.Int("attempt", attempt), slog.String("error", transient.Error()))
	}
	return &source.Unit{
		Checkpoint: s.checkpoint(o),
		Err:        fmt.Errorf("%w: %s: gave up after %d attempts: %v", cloudtrail.ErrBadInput, o.rel, attempts, lastErr),
	}
}

func (s *Source) checkpoint(o object) store.Checkpoint {
	return store.Checkpoint{Source: s.Name(), Name: o.rel, Size: o.size, ModTime: o.mod}
}

// body counts what was read from an object's body and remembers a failure
// of the connection, which the trail reader would take for corrupt data.
type body struct {
	r   io.Reader
	n   int64
	err error
}

func (b *body) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	b.n += int64(n)
	if err != nil && err != io.EOF {
		b.err = err
	}
	return n, err
}

// readOnce makes one attempt. transient is set when the attempt failed in
// a way that another may not (the network, a timeout, S3 itself).
func (s *Source) readOnce(ctx context.Context, client API, r *cloudtrail.Reader, o object) (u *source.Unit, transient error) {
	actx, cancel := context.WithTimeout(ctx, s.objectTimeout())
	defer cancel()
	u = &source.Unit{Checkpoint: s.checkpoint(o)}
	out, err := client.GetObject(actx, &s3.GetObjectInput{Bucket: aws.String(s.Bucket), Key: aws.String(o.key)})
	if err != nil {
		if permanent(err) {
			u.Err = fmt.Errorf("%w: get %s: %v", cloudtrail.ErrBadInput, o.rel, err)
			return u, nil
		}
		return u, fmt.Errorf("get: %w", err)
	}
	defer out.Body.Close()
	b := &body{r: out.Body}
	stats, err := r.Read(actx, o.rel, b, func(ev *cloudtrail.QueryEvent) error {
		u.Events = append(u.Events, ev)
		return nil
	})
	if b.err == nil && err != nil && errors.Is(err, cloudtrail.ErrBadInput) {
		// Bad data, or a body cut short without an error: read the rest
		// to tell them apart.
		if _, derr := io.Copy(io.Discard, b); derr != nil && b.err == nil {
			b.err = derr
		}
	}
	if b.err == nil && err != nil && out.ContentLength != nil && b.n < *out.ContentLength {
		b.err = fmt.Errorf("body ended after %d of %d bytes", b.n, *out.ContentLength)
	}
	if b.err != nil || (err != nil && actx.Err() != nil && ctx.Err() == nil) {
		cause := b.err
		if cause == nil {
			cause = fmt.Errorf("timed out after %s", s.objectTimeout())
		}
		u.Events = nil
		return u, fmt.Errorf("read body: %w", cause)
	}
	u.Records, u.Bytes, u.Issues, u.MoreIssues, u.Err = stats.Records, stats.Bytes, stats.Issues, stats.MoreIssues, err
	return u, nil
}

// permanent reports whether another GET of the object would fail again.
func permanent(err error) bool {
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		return false
	}
	switch ae.ErrorCode() {
	case "NoSuchKey", "NoSuchBucket", "AccessDenied", "InvalidObjectState", "KMS.DisabledException",
		"KMS.NotFoundException", "KMS.AccessDeniedException", "InvalidRequest":
		return true
	}
	return strings.HasPrefix(ae.ErrorCode(), "KMS.")
}

// newClient builds an S3 client from the AWS configuration, with bounds on
// connecting and on waiting for answers, and finds the bucket's region.
func (s *Source) newClient(ctx context.Context) (*s3.Client, error) {
	cfg, err := source.LoadAWS(ctx, s.Name(), s.AWS, max(s.Workers, DefaultWorkers)+max(s.Listers, DefaultListers))
	if err != nil {
		return nil, err
	}
	client, err := s3bucket.Open(ctx, cfg, s.Bucket, s3bucket.Options{Region: s.Region, Timeout: s.listTimeout(), Backoff: s.sdkBackoff, Logger: s.logger()})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s.Name(), err)
	}
	return client, nil
}
