package orgsim

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"sync"
	"time"

	"github.com/klauspost/compress/gzip"
	"golang.org/x/sync/errgroup"

	"github.com/athenawatch/athenawatch/internal/awsemu"
)

// deliveryWindow is how much time one CloudTrail log file covers: CloudTrail
// delivers a file per account and region about every five minutes.
const deliveryWindow = 5 * time.Minute

// flushLag is how many windows behind the newest record a window's bucket is
// kept open. Records arrive nearly in time order (the simulation walks time
// forward), noise is placed at most one window before the record that caused
// it, so a bucket two windows old will not receive more records. A late
// record simply opens a new bucket: CloudTrail also writes several files for
// one window.
const flushLag = 2

// Defaults of TrailOptions.
const (
	DefaultNoiseRatio    = 0.99
	DefaultDuplicateRate = 0.005
	// DefaultMaxFileBytes bounds the uncompressed size of one log file; a
	// busier window is split into several files, as CloudTrail does.
	DefaultMaxFileBytes = 16 << 20
	// DefaultTrailName is the trail name digest files carry in their names.
	DefaultTrailName = "org-trail"
	// DefaultBucket is the S3 bucket digests say the logs were delivered to.
	DefaultBucket = "org-cloudtrail-logs"
)

// TrailOptions configures a TrailWriter. The zero value gives the defaults.
type TrailOptions struct {
	// NoiseRatio is the fraction of all records that belong to other services
	// than the ones added (0 means DefaultNoiseRatio; negative means no noise).
	NoiseRatio float64
	// DuplicateRate is the fraction of records delivered a second time, in
	// another file, with the same eventID (0 means DefaultDuplicateRate;
	// negative means none).
	DuplicateRate float64
	// Seed makes noise, duplicates and file names reproducible.
	Seed uint64
	// Concurrency bounds the files compressed and written at once (0 means
	// GOMAXPROCS).
	Concurrency int
	// NoDigests turns off the hourly CloudTrail-Digest files.
	NoDigests bool
	// MaxFileBytes splits a window's records into several files (0 means
	// DefaultMaxFileBytes).
	MaxFileBytes int
	// TrailName and Bucket appear in digest files (defaults DefaultTrailName,
	// DefaultBucket).
	TrailName, Bucket string
	// Logger receives one debug line per file; nil discards.
	Logger *slog.Logger
}

func (o TrailOptions) withDefaults() TrailOptions {
	switch {
	case o.NoiseRatio == 0:
		o.NoiseRatio = DefaultNoiseRatio
	case o.NoiseRatio < 0:
		o.NoiseRatio = 0
	case o.NoiseRatio > 0.9999:
		o.NoiseRatio = 0.9999
	}
	switch {
	case o.DuplicateRate == 0:
		o.DuplicateRate = DefaultDuplicateRate
	case o.DuplicateRate < 0:
		o.DuplicateRate = 0
	}
	if o.Concurrency <= 0 {
		o.Concurrency = runtime.GOMAXPROCS(0)
	}
	if o.MaxFileBytes <= 0 {
		o.MaxFileBytes = DefaultMaxFileBytes
	}
	if o.TrailName == "" {
		o.TrailName = DefaultTrailName
	}
	if o.Bucket == "" {
		o.Bucket = DefaultBucket
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// TrailStats counts what a TrailWriter wrote.
type TrailStats struct {
	Files       int // log files (digests not included)
	DigestFiles int
	// Records counts record entries in all log files, duplicate copies included.
	Records int64
	// AthenaRecords counts entries whose eventSource is athena.amazonaws.com,
	// duplicate copies included.
	AthenaRecords int64
	// NoiseRecords counts the generated records of other services.
	NoiseRecords int64
	// Duplicates counts the second deliveries of a record.
	Duplicates       int64
	AthenaDuplicates int64
	// UncompressedBytes and CompressedBytes cover log files only.
	UncompressedBytes int64
	CompressedBytes   int64
}

type bucketKey struct {
	account, region string
	window          int64 // unix seconds of the window start
	dup             bool  // the file that carries second deliveries
}

type bucket struct {
	buf            []byte
	records        int
	athena         int
	oldest, newest time.Time
}

type writtenFile struct {
	account, region string
	key             string // path relative to the trail directory, slash separated
	deliveredAt     time.Time
	oldest, newest  time.Time
	sha256          string // of the uncompressed content, as digests record it
}

// TrailWriter writes CloudTrail log files the way CloudTrail delivers them to
// S3: gzip JSON objects {"Records":[...]} under
// AWSLogs/<account>/CloudTrail/<region>/YYYY/MM/DD/, one file per account,
// region and five-minute window, with noise records of other services mixed
// in, occasional duplicate deliveries and hourly digest files.
//
// A file is named, and filed under the date directory of, its delivery
// time: the end of its window (one window later for the file that carries
// duplicate deliveries). Every record is older than its file's name, and a
// record from the last minutes of a day sits in the next day's directory, as
// with CloudTrail; readers that select files by date need a margin.
//
// Add and AddRecord are safe for concurrent use. Records should arrive in
// roughly ascending time; a record much older than the newest goes into a
// file of its own, which CloudTrail also does for late events.
type TrailWriter struct {
	dir  string
	opts TrailOptions

	mu         sync.Mutex
	rng        *rand.Rand
	noise      *noiseGen
	buckets    map[bucketKey]*bucket
	maxWindow  int64
	noiseCarry float64
	stats      TrailStats
	added      int64 // bytes of records appended to buckets
	closed     bool

	group *errgroup.Group

	filesMu sync.Mutex
	files   []writtenFile
	written TrailStats // per-file counters, updated by workers
}

// NewTrailWriter returns a writer into dir (created as needed).
func NewTrailWriter(dir string, opts TrailOptions) *TrailWriter {
	opts = opts.withDefaults()
	g := new(errgroup.Group)
	g.SetLimit(opts.Concurrency)
	return &TrailWriter{
		dir:     dir,
		opts:    opts,
		rng:     rand.New(rand.NewPCG(opts.Seed, 0x7261696c)),
		noise:   newNoiseGen(opts.Seed ^ 0x6e6f697365),
		buckets: make(map[bucketKey]*bucket),
		group:   g,
	}
}

// AddRecord adds one CloudTrail record (a complete JSON object) of account
// and region at time t, together with its share of noise records and,
// sometimes, a duplicate delivery.
func (w *TrailWriter) AddRecord(account, region string, t time.Time, record []byte) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return
	}
	t = t.UTC()
	w.advance(t)
	athena := isAthenaRecord(record)
	w.appendLocked(account, region, t, record, athena, false)
	if w.opts.NoiseRatio > 0 {
		w.noiseCarry += w.opts.NoiseRatio / (1 - w.opts.NoiseRatio)
		n := int(w.noiseCarry)
		w.noiseCarry -= float64(n)
		w.addNoiseLocked(account, region, t, n)
	}
}

// BytesAdded is the uncompressed size of every record added so far, noise
// and duplicates included; generators use it to stop at a target size.
func (w *TrailWriter) BytesAdded() int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.added
}

// Add files a record the emulator wrote; it has the signature of
// awsemu.Options.OnCloudTrail.
func (w *TrailWriter) Add(ev awsemu.CloudTrailEvent) {
	w.AddRecord(ev.Account, ev.Region, ev.Time, ev.Record)
}

// AddNoise adds n noise records of account and region spread over the five
// minutes before t, without any added record; generators that synthesize
// their own records use it to control the mix exactly.
func (w *TrailWriter) AddNoise(account, region string, t time.Time, n int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return
	}
	t = t.UTC()
	w.advance(t)
	w.addNoiseLocked(account, region, t, n)
}

func (w *TrailWriter) addNoiseLocked(account, region string, t time.Time, n int) {
	for range n {
		// Noise lands in the five minutes before t, so that its window is at
		// most one behind t's and still open.
		at := t.Add(-time.Duration(w.rng.Int64N(int64(deliveryWindow))))
		b := w.bucketLocked(account, region, at, false)
		b.startRecord()
		start := len(b.buf)
		b.buf = w.noise.appendRecord(b.buf, account, region, at)
		w.added += int64(len(b.buf)-start) + 1
		b.finishRecord(at, false)
		w.stats.NoiseRecords++
		w.maybeDuplicateLocked(account, region, at, b.buf[start:], false)
		w.splitIfFullLocked(account, region, at, false)
	}
}

func (w *TrailWriter) appendLocked(account, region string, t time.Time, record []byte, athena, dup bool) {
	b := w.bucketLocked(account, region, t, dup)
	b.startRecord()
	b.buf = append(b.buf, record...)
	w.added += int64(len(record)) + 1
	b.finishRecord(t, athena)
	if !dup {
		w.maybeDuplicateLocked(account, region, t, record, athena)
	}
	w.splitIfFullLocked(account, region, t, dup)
}

func (w *TrailWriter) maybeDuplicateLocked(account, region string, t time.Time, record []byte, athena bool) {
	if w.opts.DuplicateRate <= 0 || w.rng.Float64() >= w.opts.DuplicateRate {
		return
	}
	w.stats.Duplicates++
	if athena {
		w.stats.AthenaDuplicates++
	}
	// The record may alias a bucket buffer that the append below grows; copy.
	w.appendLocked(account, region, t, bytes.Clone(record), athena, true)
}

func (b *bucket) startRecord() {
	if b.records > 0 {
		b.buf = append(b.buf, ',')
	}
}

func (b *bucket) finishRecord(t time.Time, athena bool) {
	b.records++
	if athena {
		b.athena++
	}
	if b.oldest.IsZero() || t.Before(b.oldest) {
		b.oldest = t
	}
	if t.After(b.newest) {
		b.newest = t
	}
}

func windowOf(t time.Time) int64 {
	s := t.Unix()
	return s - s%int64(deliveryWindow/time.Second)
}

func (w *TrailWriter) bucketLocked(account, region string, t time.Time, dup bool) *bucket {
	k := bucketKey{account: account, region: region, window: windowOf(t), dup: dup}
	b := w.buckets[k]
	if b == nil {
		b = &bucket{buf: make([]byte, 0, 64<<10)}
		b.buf = append(b.buf, `{"Records":[`...)
		w.buckets[k] = b
	}
	return b
}

func (w *TrailWriter) splitIfFullLocked(account, region string, t time.Time, dup bool) {
	k := bucketKey{account: account, region: region, window: windowOf(t), dup: dup}
	if b := w.buckets[k]; b != nil && len(b.buf) >= w.opts.MaxFileBytes {
		delete(w.buckets, k)
		w.flushLocked(k, b)
	}
}

// advance flushes the buckets that are flushLag windows older than t.
func (w *TrailWriter) advance(t time.Time) {
	win := windowOf(t)
	if win <= w.maxWindow {
		return
	}
	w.maxWindow = win
	limit := win - flushLag*int64(deliveryWindow/time.Second)
	var old []bucketKey
	for k := range w.buckets {
		if k.window <= limit {
			old = append(old, k)
		}
	}
	sortKeys(old)
	for _, k := range old {
		b := w.buckets[k]
		delete(w.buckets, k)
		w.flushLocked(k, b)
	}
}

func sortKeys(keys []bucketKey) {
	sort.Slice(keys, func(i, j int) bool {
		a, b := keys[i], keys[j]
		if a.window != b.window {
			return a.window < b.window
		}
		if a.account != b.account {
			return a.account < b.account
		}
		if a.region != b.region {
			return a.region < b.region
		}
		return !a.dup && b.dup
	})
}

const alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// LogFileKey returns the object key CloudTrail gives a log file of account
// and region delivered at t, with the 16-character random suffix.
func LogFileKey(account, region string, t time.Time, suffix string) string {
	t = t.UTC()
	return fmt.Sprintf("AWSLogs/%s/CloudTrail/%s/%s/%s_CloudTrail_%s_%s_%s.json.gz",
		account, region, t.Format("2006/01/02"), account, region, t.Format("20060102T1504Z"), suffix)
}

// DigestFileKey returns the object key of the digest file that CloudTrail
// log file integrity validation writes for account and region at t.
func DigestFileKey(account, region, trailName string, t time.Time) string {
	t = t.UTC()
	return fmt.Sprintf("AWSLogs/%s/CloudTrail-Digest/%s/%s/%s_CloudTrail-Digest_%s_%s_%s_%s.json.gz",
		account, region, t.Format("2006/01/02"), account, region, trailName, region, t.Format("20060102T150405Z"))
}

func (w *TrailWriter) flushLocked(k bucketKey, b *bucket) {
	if b.records == 0 {
		return
	}
	b.buf = append(b.buf, "]}"...)
	suffix := make([]byte, 16)
	for i := range suffix {
		suffix[i] = alnum[w.rng.IntN(len(alnum))]
	}
	// CloudTrail names a file by its delivery time, which is after every
	// record it holds; a duplicate delivery comes one window later.
	delivered := time.Unix(k.window, 0).UTC().Add(deliveryWindow)
	if k.dup {
		delivered = delivered.Add(deliveryWindow)
	}
	f := writtenFile{
		account:     k.account,
		region:      k.region,
		key:         LogFileKey(k.account, k.region, delivered, string(suffix)),
		deliveredAt: delivered,
		oldest:      b.oldest,
		newest:      b.newest,
	}
	w.stats.Records += int64(b.records)
	w.stats.AthenaRecords += int64(b.athena)
	w.group.Go(func() error { return w.writeFile(f, b.buf) })
}

var gzipPool = sync.Pool{New: func() any {
	zw, _ := gzip.NewWriterLevel(nil, gzip.BestSpeed)
	return zw
}}

type countingWriter struct {
	w *bufio.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// writeGzip writes content gzip-compressed to dir/key and returns the
// compressed size.
func writeGzip(dir, key string, content []byte) (int64, error) {
	path := filepath.Join(dir, filepath.FromSlash(key))
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return 0, fmt.Errorf("create trail directory for %s: %w", key, err)
	}
	file, err := os.Create(path)
	if err != nil {
		return 0, fmt.Errorf("create trail file %s: %w", key, err)
	}
	cw := &countingWriter{w: bufio.NewWriterSize(file, 256<<10)}
	zw := gzipPool.Get().(*gzip.Writer)
	defer gzipPool.Put(zw)
	zw.Reset(cw)
	_, err = zw.Write(content)
	if err == nil {
		err = zw.Close()
	}
	if err == nil {
		err = cw.w.Flush()
	}
	if cerr := file.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return 0, fmt.Errorf("write trail file %s: %w", key, err)
	}
	return cw.n, nil
}

func (w *TrailWriter) writeFile(f writtenFile, content []byte) error {
	sum := sha256.Sum256(content)
	f.sha256 = hex.EncodeToString(sum[:])
	n, err := writeGzip(w.dir, f.key, content)
	if err != nil {
		return err
	}
	w.opts.Logger.Debug("wrote trail file", slog.String("file", f.key), slog.Int("bytes", len(content)))
	w.filesMu.Lock()
	defer w.filesMu.Unlock()
	w.files = append(w.files, f)
	w.written.Files++
	w.written.UncompressedBytes += int64(len(content))
	w.written.CompressedBytes += n
	return nil
}

// Close flushes every open file, writes the digest files and returns what
// was written. The writer accepts no records after Close.
func (w *TrailWriter) Close() (TrailStats, error) {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return w.statsLocked(), nil
	}
	w.closed = true
	keys := make([]bucketKey, 0, len(w.buckets))
	for k := range w.buckets {
		keys = append(keys, k)
	}
	sortKeys(keys)
	for _, k := range keys {
		w.flushLocked(k, w.buckets[k])
		delete(w.buckets, k)
	}
	w.mu.Unlock()

	err := w.group.Wait()
	if err == nil && !w.opts.NoDigests {
		err = w.writeDigests()
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.statsLocked(), err
}

func (w *TrailWriter) statsLocked() TrailStats {
	s := w.stats
	w.filesMu.Lock()
	defer w.filesMu.Unlock()
	s.Files = w.written.Files
	s.DigestFiles = w.written.DigestFiles
	s.UncompressedBytes = w.written.UncompressedBytes
	s.CompressedBytes = w.written.CompressedBytes
	return s
}

type digestGroup struct {
	account, region string
	hour            int64
}

// writeDigests writes one digest per account, region and hour that has log
// files, listing those files as CloudTrail log file validation does. The
// signature fields hold random hex: nothing verifies them, readers only have
// to recognise and skip digests.
func (w *TrailWriter) writeDigests() error {
	w.filesMu.Lock()
	groups := make(map[digestGroup][]writtenFile)
	for _, f := range w.files {
		h := f.deliveredAt.Unix() - f.deliveredAt.Unix()%3600
		k := digestGroup{f.account, f.region, h}
		groups[k] = append(groups[k], f)
	}
	w.filesMu.Unlock()

	keys := make([]digestGroup, 0, len(groups))
	for k := range groups {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		a, b := keys[i], keys[j]
		if a.hour != b.hour {
			return a.hour < b.hour
		}
		if a.account != b.account {
			return a.account < b.account
		}
		return a.region < b.region
	})
	prev := make(map[[2]string]string)
	g := new(errgroup.Group)
	g.SetLimit(w.opts.Concurrency)
	for _, k := range keys {
		files := groups[k]
		sort.Slice(files, func(i, j int) bool { return files[i].key < files[j].key })
		start := time.Unix(k.hour, 0).UTC()
		end := start.Add(time.Hour)
		key := DigestFileKey(k.account, k.region, w.opts.TrailName, end)
		content := w.digestJSON(k, start, end, key, prev[[2]string{k.account, k.region}], files)
		prev[[2]string{k.account, k.region}] = key
		g.Go(func() error {
			if _, err := writeGzip(w.dir, key, content); err != nil {
				return err
			}
			w.filesMu.Lock()
			w.written.DigestFiles++
			w.filesMu.Unlock()
			return nil
		})
	}
	return g.Wait()
}

func (w *TrailWriter) digestJSON(k digestGroup, start, end time.Time, key, prevKey string, files []writtenFile) []byte {
	const ts = "2006-01-02T15:04:05Z"
	var b []byte
	b = append(b, `{"awsAccountId":"`...)
	b = append(b, k.account...)
	b = append(b, `","digestStartTime":"`...)
	b = start.AppendFormat(b, ts)
	b = append(b, `","digestEndTime":"`...)
	b = end.AppendFormat(b, ts)
	b = append(b, `","digestS3Bucket":"`...)
	b = append(b, w.opts.Bucket...)
	b = append(b, `","digestS3Object":"`...)
	b = append(b, key...)
	b = append(b, `","digestPublicKeyFingerprint":"`...)
	b = w.appendHexLocked(b, 16)
	b = append(b, `","digestSignatureAlgorithm":"SHA256withRSA","newestEventTime":"`...)
	newest, oldest := files[0].newest, files[0].oldest
	for _, f := range files {
		if f.newest.After(newest) {
			newest = f.newest
		}
		if f.oldest.Before(oldest) {
			oldest = f.oldest
		}
	}
	b = newest.AppendFormat(b, ts)
	b = append(b, `","oldestEventTime":"`...)
	b = oldest.AppendFormat(b, ts)
	if prevKey == "" {
		b = append(b, `","previousDigestS3Bucket":null,"previousDigestS3Object":null,"previousDigestHashValue":null,"previousDigestHashAlgorithm":null,"previousDigestSignature":null`...)
	} else {
		b = append(b, `","previousDigestS3Bucket":"`...)
		b = append(b, w.opts.Bucket...)
		b = append(b, `","previousDigestS3Object":"`...)
		b = append(b, prevKey...)
		b = append(b, `","previousDigestHashValue":"`...)
		b = w.appendHexLocked(b, 32)
		b = append(b, `","previousDigestHashAlgorithm":"SHA-256","previousDigestSignature":"`...)
		b = w.appendHexLocked(b, 128)
		b = append(b, '"')
	}
	b = append(b, `,"logFiles":[`...)
	for i, f := range files {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"s3Bucket":"`...)
		b = append(b, w.opts.Bucket...)
		b = append(b, `","s3Object":"`...)
		b = append(b, f.key...)
		b = append(b, `","hashValue":"`...)
		b = append(b, f.sha256...)
		b = append(b, `","hashAlgorithm":"SHA-256","newestEventTime":"`...)
		b = f.newest.AppendFormat(b, ts)
		b = append(b, `","oldestEventTime":"`...)
		b = f.oldest.AppendFormat(b, ts)
		b = append(b, `"}`...)
	}
	b = append(b, "]}"...)
	return b
}

func (w *TrailWriter) appendHexLocked(b []byte, n int) []byte {
	w.mu.Lock()
	defer w.mu.Unlock()
	return appendHex(b, w.rng, n)
}

// isAthenaRecord reports whether a record's eventSource is Athena, without
// parsing the record.
func isAthenaRecord(record []byte) bool {
	i := bytes.Index(record, []byte(`"eventSource"`))
	if i < 0 {
		return false
	}
	rest := bytes.TrimLeft(record[i+len(`"eventSource"`):], " \t\r\n")
	rest = bytes.TrimPrefix(rest, []byte(":"))
	rest = bytes.TrimLeft(rest, " \t\r\n")
	return bytes.HasPrefix(rest, []byte(`"athena.amazonaws.com"`))
}
