// Package lookupevents reads Athena's management events from CloudTrail's
// event history with LookupEvents, for accounts without a trail. It
// registers the "lookup-events" scheme: lookup-events[:REGION,...].
//
// Each account and region is read under LookupEvents' quota (2 calls per
// second), newest event first, 50 events a page, from a watermark: the
// time of the newest event of the last complete read, less an overlap for
// events that reach the history late. The watermark comes from the events,
// not from this machine's clock, and a first read asks for everything the
// history holds. Events read twice are stored once (the store dedupes
// them), so the overlap costs calls, not counts.
package lookupevents

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	ct "github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	cttypes "github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"golang.org/x/sync/errgroup"
	"golang.org/x/time/rate"

	"github.com/athenawatch/athenawatch/internal/assume"
	"github.com/athenawatch/athenawatch/internal/cloudtrail"
	"github.com/athenawatch/athenawatch/internal/source"
)

// API is the part of the CloudTrail client the source uses.
type API interface {
	LookupEvents(ctx context.Context, in *ct.LookupEventsInput, opts ...func(*ct.Options)) (*ct.LookupEventsOutput, error)
}

// Defaults of Source.
const (
	// DefaultOverlap is how far before the watermark a read starts again:
	// CloudTrail shows an event in its history within about 15 minutes.
	DefaultOverlap = 20 * time.Minute
	// Quota is LookupEvents' rate quota per account and region.
	Quota = 2.0
	// History is how far back CloudTrail's event history goes.
	History = 90 * 24 * time.Hour
	// callTimeout bounds one call, the SDK's retries included.
	callTimeout = 2 * time.Minute
	// athenaSource is the lookup attribute value of Athena's events.
	athenaSource = "athena.amazonaws.com"
)

// Source reads the event history of the caller's account, and of every
// account in Roles, in each of Regions.
type Source struct {
	Regions []string // "" = the configuration's region
	Roles   map[string]string
	AWS     func(ctx context.Context) (aws.Config, error)
	Window  source.Window
	Overlap time.Duration
	Logger  *slog.Logger
}

func init() { source.Register("lookup-events", Open) }

var regionName = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-\d{1,2}$`)

// Open opens the source of "lookup-events[:REGION,...][?overlap=20m]"
// (addr is what follows "lookup-events:").
func Open(addr string, o source.Options) (source.Source, error) {
	s := &Source{Window: o.Window, Logger: o.Logger, AWS: o.AWS, Roles: o.Roles}
	list, query, _ := strings.Cut(addr, "?")
	if list != "" {
		for r := range strings.SplitSeq(list, ",") {
			r = strings.TrimSpace(r)
			if !regionName.MatchString(r) {
				return nil, fmt.Errorf("%q is not a region name (want lookup-events:us-east-1,eu-west-1)", r)
			}
			if !slices.Contains(s.Regions, r) {
				s.Regions = append(s.Regions, r)
			}
		}
	}
	opts, err := source.AddressOptions(query, "overlap")
	if err != nil {
		return nil, err
	}
	if v, ok := opts["overlap"]; ok {
		if s.Overlap, err = source.DurationOption("overlap", v, 24*time.Hour, "20m"); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// Name implements source.Source.
func (s *Source) Name() string {
	if len(s.Regions) == 0 {
		return "lookup-events"
	}
	return "lookup-events:" + strings.Join(s.Regions, ",")
}

func (s *Source) logger() *slog.Logger {
	if s.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Logger
}

func (s *Source) overlap() time.Duration {
	switch {
	case s.Overlap < 0:
		return 0
	case s.Overlap == 0:
		return DefaultOverlap
	}
	return s.Overlap
}

// target is one account and region to read.
type target struct {
	account, region string
	client          API
}

// cursorKey is a target's cursor: ACCOUNT/REGION.
func (t target) cursorKey() string { return t.account + "/" + t.region }

// Run implements source.Source.
func (s *Source) Run(ctx context.Context, done source.Checkpoints, emit func(context.Context, *source.Unit) error) (source.RunStats, error) {
	var rs source.RunStats
	targets, err := s.targets(ctx)
	if err != nil {
		return rs, err
	}
	if oldest := time.Now().Add(-History); !s.Window.Since.IsZero() && s.Window.Since.Before(oldest) {
		s.logger().Warn("CloudTrail's event history keeps 90 days: lookup-events cannot read events before then; a trail's bucket (s3://) holds them",
			slog.String("asked_since", s.Window.Since.UTC().Format(time.RFC3339)), slog.String("history_starts", oldest.Format(time.RFC3339)))
	}
	var mu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	for _, t := range targets {
		g.Go(func() error {
			err := s.read(gctx, done, emit, t)
			if err == nil || gctx.Err() != nil {
				return err
			}
			var fatal emitError
			if errors.As(err, &fatal) {
				return fatal.err
			}
			// One account or region that cannot be read must not stop the others.
			mu.Lock()
			rs.Skipped = append(rs.Skipped, source.SkippedItem{Name: "account " + t.account + " region " + t.region, Record: -1, Reason: err.Error()})
			mu.Unlock()
			s.logger().Warn("could not read CloudTrail's event history", slog.String("account", t.account), slog.String("region", t.region), slog.String("error", err.Error()))
			return nil
		})
	}
	err = g.Wait()
	return rs, err
}

// emitError is a failure to hand a unit to the collector: it stops the run.
type emitError struct{ err error }

func (e emitError) Error() string { return e.err.Error() }

// read reads one account and region from its watermark on, a unit per
// page, then moves the watermark in a unit of its own: the collector
// commits units in order, so the watermark is never ahead of the rows.
func (s *Source) read(ctx context.Context, done source.Checkpoints, emit func(context.Context, *source.Unit) error, t target) error {
	cursors, err := done.Cursors(ctx, t.account)
	if err != nil {
		return emitError{err}
	}
	var start, mark time.Time // zero: all the history holds
	if v, ok := cursors[t.cursorKey()]; ok {
		if m, err := time.Parse(time.RFC3339Nano, v); err == nil {
			mark = m
			start = m.Add(-s.overlap())
		}
	}
	if !s.Window.Since.IsZero() && s.Window.Since.After(start) {
		start = s.Window.Since.UTC()
	}
	limiter := rate.NewLimiter(rate.Limit(Quota*0.9), 1)
	in := &ct.LookupEventsInput{
		LookupAttributes: []cttypes.LookupAttribute{{AttributeKey: cttypes.LookupAttributeKeyEventSource, AttributeValue: aws.String(athenaSource)}},
		MaxResults:       aws.Int32(50),
	}
	if !start.IsZero() {
		in.StartTime = aws.Time(start)
	}
	if !s.Window.Until.IsZero() {
		if !start.IsZero() && !start.Before(s.Window.Until) {
			return nil
		}
		in.EndTime = aws.Time(s.Window.Until.UTC())
	}
	var newest time.Time
	name := "lookup-events " + t.cursorKey()
	// Calls go one at a time, under the limiter, and each also leaves at
	// least 1/Quota after the answer to the one before. CloudTrail counts
	// a call when it arrives, and an arrival can be late (a slow network,
	// a busy machine) while the next call leaves on time: spacing from the
	// answer keeps any two arrivals 1/Quota apart whatever the delays.
	var answered time.Time
	for {
		if err := limiter.Wait(ctx); err != nil {
			return err
		}
		if wait := time.Until(answered.Add(time.Duration(float64(time.Second) / Quota))); wait > 0 {
			timer := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				timer.Stop()
				return ctx.Err()
			case <-timer.C:
			}
		}
		cctx, cancel := context.WithTimeout(ctx, callTimeout)
		out, err := t.client.LookupEvents(cctx, in)
		answered = time.Now()
		cancel()
		if err != nil {
			return fmt.Errorf("LookupEvents: %w", err)
		}
		u := &source.Unit{Records: len(out.Events)}
		for i, ev := range out.Events {
			if at := aws.ToTime(ev.EventTime); at.After(newest) {
				newest = at
			}
			raw := aws.ToString(ev.CloudTrailEvent)
			u.Bytes += int64(len(raw))
			qe, ok, err := cloudtrail.ParseLookupEvent(raw)
			switch {
			case err != nil:
				if len(u.Issues) < 100 {
					u.Issues = append(u.Issues, cloudtrail.Issue{Name: name, Record: i, Err: err})
				} else {
					u.MoreIssues++
				}
			case ok:
				u.Events = append(u.Events, qe)
			}
		}
		if len(out.Events) > 0 {
			if err := emit(ctx, u); err != nil {
				return emitError{err}
			}
		}
		next := aws.ToString(out.NextToken)
		if next == "" {
			break
		}
		in.NextToken = aws.String(next)
	}
	// A read contiguous with the last one (or the first) has everything up
	// to the newest event it saw.
	if mark.IsZero() || !start.After(mark) {
		if newest.After(mark) {
			u := &source.Unit{Cursors: []source.Cursor{{Key: t.cursorKey(), Value: newest.UTC().Format(time.RFC3339Nano)}}}
			if err := emit(ctx, u); err != nil {
				return emitError{err}
			}
		}
	}
	return nil
}

// targets are the accounts and regions to read: the caller's account and
// each account in Roles, in every region.
func (s *Source) targets(ctx context.Context) ([]target, error) {
	cfg, err := source.LoadAWS(ctx, s.Name(), s.AWS, 8)
	if err != nil {
		return nil, err
	}
	regions := s.Regions
	if len(regions) == 0 {
		if cfg.Region == "" {
			return nil, fmt.Errorf("%s: no region: name them (lookup-events:us-east-1,eu-west-1) or set AWS_REGION", s.Name())
		}
		regions = []string{cfg.Region}
	}
	stsClient := sts.NewFromConfig(cfg, func(o *sts.Options) {
		if o.Region == "" {
			o.Region = regions[0]
		}
	})
	cctx, cancel := context.WithTimeout(ctx, callTimeout)
	id, err := stsClient.GetCallerIdentity(cctx, &sts.GetCallerIdentityInput{})
	cancel()
	if err != nil {
		return nil, fmt.Errorf("%s: find the account of the credentials (sts:GetCallerIdentity): %w", s.Name(), err)
	}
	self := aws.ToString(id.Account)
	creds := map[string]aws.CredentialsProvider{self: cfg.Credentials}
	for _, acct := range slices.Sorted(maps.Keys(s.Roles)) {
		if acct == self || s.Roles[acct] == "" {
			continue
		}
		creds[acct] = assume.Role(stsClient, s.Roles[acct])
	}
	var out []target
	for _, acct := range slices.Sorted(maps.Keys(creds)) {
		for _, region := range regions {
			out = append(out, target{account: acct, region: region, client: ct.NewFromConfig(cfg, func(o *ct.Options) {
				o.Region = region
				o.Credentials = creds[acct]
				// Throttled calls wait and are tried again: the quota is
				// low and shared with the console and other readers.
				o.Retryer = spacedRetryer{retry.NewStandard(func(o *retry.StandardOptions) { o.MaxAttempts = 8 }), time.Duration(float64(time.Second) / Quota)}
			})})
		}
	}
	return out, nil
}

// spacedRetryer waits at least min, the quota's interval, before any
// retry. CloudTrail counts a call whose answer the client then failed to
// read (the SDK retries reading a connection closed under it, tens of
// milliseconds later) as it counts any other: without the wait, such a
// retry arrives right after the call it repeats and can take the next
// call's token.
type spacedRetryer struct {
	aws.RetryerV2
	min time.Duration
}

func (r spacedRetryer) RetryDelay(attempt int, err error) (time.Duration, error) {
	d, err := r.RetryerV2.RetryDelay(attempt, err)
	return max(d, r.min), err
}
