// Package s3 reads CloudTrail from the S3 bucket a trail delivers to: an
// account trail (AWSLogs/<account>/CloudTrail/<region>/YYYY/MM/DD/) or an
// organization trail (AWSLogs/o-<id>/<account>/CloudTrail/...), under any
// prefix. It registers the "s3:" scheme: s3://bucket/prefix.
//
// The bucket is walked as a tree with delimiter listings, so accounts and
// regions are discovered and days outside the window are pruned from the
// key layout before anything deeper is listed. Objects are read with
// bounded parallel GETs and streamed through the decompressor.
//
// Each day prefix keeps a cursor: the last key listed there, and whether
// the day is closed. CloudTrail names an object by the time it delivers
// it, so an object arrives at most Late after the time in its key: a later
// run lists a day again only from Late before its last key (StartAfter),
// and not at all once the day ended more than Late before a complete
// listing. Objects listed again in that overlap are skipped by their
// checkpoints, so they cost no GET.
package s3

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/athenawatch/athenawatch/internal/cloudtrail"
	"github.com/athenawatch/athenawatch/internal/source"
)

// API is the part of the S3 client the source uses.
type API interface {
	HeadBucket(ctx context.Context, in *s3.HeadBucketInput, opts ...func(*s3.Options)) (*s3.HeadBucketOutput, error)
	ListObjectsV2(ctx context.Context, in *s3.ListObjectsV2Input, opts ...func(*s3.Options)) (*s3.ListObjectsV2Output, error)
	GetObject(ctx context.Context, in *s3.GetObjectInput, opts ...func(*s3.Options)) (*s3.GetObjectOutput, error)
}

// Defaults of Source.
const (
	// DefaultWorkers is how many objects are read at once: GETs wait on
	// the network more than on the CPU.
	DefaultWorkers = 16
	// DefaultListers is how many prefixes are listed at once.
	DefaultListers = 8
	// DefaultLate is how long after the time in its key an object may
	// still arrive. CloudTrail delivers within minutes; copies made by S3
	// replication can take longer.
	DefaultLate = time.Hour
	// DefaultAttempts is how many times an object is read before it is
	// named as skipped (each GET also has the SDK's own retries).
	DefaultAttempts = 4
	// DefaultObjectTimeout bounds one attempt at one object, body included.
	DefaultObjectTimeout = 10 * time.Minute
	// DefaultListTimeout bounds one listing call, the SDK's retries included.
	DefaultListTimeout = 2 * time.Minute
)

// Source reads the trail objects under one bucket prefix.
type Source struct {
	Bucket string
	Prefix string // without a trailing slash; "" is the whole bucket
	// Region is the bucket's region; "" finds it (HeadBucket).
	Region string
	// Client talks to S3; nil builds one from AWS when Run starts.
	Client API
	// AWS loads the configuration a client is built from.
	AWS func(ctx context.Context) (aws.Config, error)

	Window   source.Window
	Workers  int // objects read at once; 0 = DefaultWorkers
	Listers  int // prefixes listed at once; 0 = DefaultListers
	Late     time.Duration
	Attempts int
	// ObjectTimeout and ListTimeout bound single calls (0: defaults).
	ObjectTimeout, ListTimeout time.Duration
	Reader                     cloudtrail.ReaderOptions
	Logger                     *slog.Logger
	Progress                   *source.Progress
	// Now is the clock that decides which days are closed; nil is time.Now.
	Now func() time.Time

	// retryBase and sdkBackoff shorten the delays before an object or a
	// call is tried again; tests set them.
	retryBase  time.Duration
	sdkBackoff retry.BackoffDelayer
}

func init() { source.Register("s3", Open) }

// Open opens the S3 source of an address "s3://BUCKET[/PREFIX][?late=2h&region=eu-west-1]"
// (addr is what follows "s3:").
func Open(addr string, o source.Options) (source.Source, error) {
	s, err := parseAddress(addr)
	if err != nil {
		return nil, err
	}
	if o.Workers > 0 {
		s.Workers = o.Workers
	}
	s.Window, s.Reader, s.Logger, s.Progress = o.Window, o.Reader, o.Logger, o.Progress
	if o.AWS != nil {
		s.AWS = o.AWS
	}
	return s, nil
}

// bucketName is what S3 accepts as a bucket name (general purpose buckets).
var bucketName = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)

func parseAddress(addr string) (*Source, error) {
	rest, ok := strings.CutPrefix(addr, "//")
	if !ok {
		return nil, errors.New("want s3://BUCKET/PREFIX")
	}
	rest, query, _ := strings.Cut(rest, "?")
	bucket, prefix, _ := strings.Cut(rest, "/")
	if !bucketName.MatchString(bucket) || strings.Contains(bucket, "..") {
		return nil, fmt.Errorf("bucket name %q is not valid: 3 to 63 lowercase letters, digits, dots and hyphens", bucket)
	}
	s := &Source{Bucket: bucket, Prefix: strings.Trim(prefix, "/")}
	if strings.Contains(s.Prefix, "//") {
		return nil, fmt.Errorf("prefix %q has an empty path segment", s.Prefix)
	}
	opts, err := source.AddressOptions(query, "late", "region")
	if err != nil {
		return nil, err
	}
	if v, ok := opts["late"]; ok {
		if s.Late, err = source.DurationOption("late", v, 7*24*time.Hour, "1h"); err != nil {
			return nil, err
		}
	}
	if v, ok := opts["region"]; ok {
		if !regionName.MatchString(v) {
			return nil, fmt.Errorf("region=%q is not a region name", v)
		}
		s.Region = v
	}
	return s, nil
}

var regionName = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-\d{1,2}$`)

// Name implements source.Source: the bucket and prefix, without options,
// so that changing an option keeps the checkpoints.
func (s *Source) Name() string {
	if s.Prefix == "" {
		return "s3://" + s.Bucket
	}
	return "s3://" + s.Bucket + "/" + s.Prefix
}

func (s *Source) late() time.Duration {
	switch {
	case s.Late < 0:
		return 0
	case s.Late == 0:
		return DefaultLate
	}
	return s.Late
}

// rel is a key relative to the prefix: the name checkpoints use.
func (s *Source) rel(key string) string {
	if s.Prefix == "" {
		return key
	}
	return strings.TrimPrefix(key, s.Prefix+"/")
}

// key is the S3 key of a name relative to the prefix.
func (s *Source) key(rel string) string {
	switch {
	case s.Prefix == "":
		return rel
	case rel == "":
		return s.Prefix
	}
	return s.Prefix + "/" + rel
}

// period is the time a YYYY, YYYY/MM or YYYY/MM/DD tail of a prefix
// covers, for pruning by the window.
func period(rel string) (start, end time.Time, ok bool) {
	parts := strings.Split(rel, "/")
	num := func(s string, n int) (int, bool) {
		if len(s) != n {
			return 0, false
		}
		v, err := strconv.Atoi(s)
		return v, err == nil && v >= 0
	}
	// Find the year: the last run of YYYY[/MM[/DD]] at the end.
	for i := max(0, len(parts)-3); i < len(parts); i++ {
		y, ok := num(parts[i], 4)
		if !ok || y < 1970 || y > 9999 {
			continue
		}
		tail := parts[i+1:]
		switch len(tail) {
		case 0:
			s := time.Date(y, 1, 1, 0, 0, 0, 0, time.UTC)
			return s, s.AddDate(1, 0, 0), true
		case 1, 2:
			m, ok := num(tail[0], 2)
			if !ok || m < 1 || m > 12 {
				continue
			}
			if len(tail) == 1 {
				s := time.Date(y, time.Month(m), 1, 0, 0, 0, 0, time.UTC)
				return s, s.AddDate(0, 1, 0), true
			}
			d, ok := num(tail[1], 2)
			if !ok || d < 1 || d > 31 {
				continue
			}
			s := time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC)
			if s.Month() != time.Month(m) {
				continue // 2026/02/30
			}
			return s, s.AddDate(0, 0, 1), true
		}
	}
	return time.Time{}, time.Time{}, false
}

// inWindow reports whether a period may hold events of the window, with
// the slack of source.Window.Contains: keys carry delivery times.
func inWindow(w source.Window, start, end time.Time) bool {
	if !w.Since.IsZero() && !end.After(w.Since.Add(-48*time.Hour)) {
		return false
	}
	if !w.Until.IsZero() && start.After(w.Until.Add(24*time.Hour)) {
		return false
	}
	return true
}

// keyTime is the delivery time CloudTrail writes into a log file's name:
// ACCOUNT_CloudTrail_REGION_20261125T0105Z_UNIQUE.json.gz. It returns the
// part of the name before the time, so a listing can start at an earlier
// time of the same series.
func keyTime(name string) (series string, t time.Time, ok bool) {
	i := strings.Index(name, "_CloudTrail_")
	if i < 0 {
		return "", time.Time{}, false
	}
	rest := name[i+len("_CloudTrail_"):]
	j := strings.IndexByte(rest, '_')
	if j < 0 || len(rest) < j+1+14 {
		return "", time.Time{}, false
	}
	ts := rest[j+1 : j+1+14]
	t, err := time.Parse("20060102T1504Z", ts)
	if err != nil {
		return "", time.Time{}, false
	}
	return name[:i+len("_CloudTrail_")+j+1], t, true
}

// isTrailName accepts the names CloudTrail writes (.json.gz) and the plain,
// NDJSON and gzip variants of exports.
func isTrailName(name string) bool {
	name = strings.TrimSuffix(name, ".gz")
	for _, ext := range []string{".json", ".ndjson", ".jsonl"} {
		if strings.HasSuffix(name, ext) {
			return true
		}
	}
	return false
}

// ignoredPrefix names the prefixes a trail bucket holds that carry no API
// call records: digests (log file integrity) and Insights events.
func ignoredPrefix(name string) bool {
	return name == "CloudTrail-Digest" || name == "CloudTrail-Insight"
}
