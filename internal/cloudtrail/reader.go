package cloudtrail

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/klauspost/compress/gzip"
)

// Defaults of ReaderOptions.
const (
	// DefaultMaxRecordBytes is the largest record kept whole. CloudTrail
	// itself caps an event at 256 KB; the margin is for other exporters.
	DefaultMaxRecordBytes = 32 << 20
	// DefaultBufferBytes is the size of one read from the decompressed stream.
	DefaultBufferBytes = 256 << 10
)

// maxIssues bounds FileStats.Issues; further issues are only counted, so
// adversarial input cannot grow memory through issues.
const maxIssues = 100

// ReaderOptions configures a Reader. The zero value gives the defaults.
type ReaderOptions struct {
	// MaxRecordBytes is the size of the largest record that is kept and
	// examined; a larger one is skipped without being buffered whole and
	// reported as an Issue wrapping ErrRecordTooLarge. 0 means
	// DefaultMaxRecordBytes.
	MaxRecordBytes int
	// BufferBytes is the size of one read; the window grows past it only to
	// hold a large record. 0 means DefaultBufferBytes. Tests use tiny values
	// to put record boundaries across reads.
	BufferBytes int
}

// FileStats describes one Read.
type FileStats struct {
	// Format is what the input was recognised as: "trail" ({"Records":[...]}),
	// "record" (bare record objects, one or many, e.g. NDJSON),
	// "lookup-events", "eventbridge", or a combination joined by "+".
	Format        string
	Records       int   // CloudTrail records seen, Athena or not
	AthenaRecords int   // records whose eventSource is athena.amazonaws.com
	Queries       int   // StartQueryExecution events with a query execution id
	Rejected      int   // StartQueryExecution events refused with an errorCode
	Insights      int   // CloudTrail Insights records (skipped)
	Bytes         int64 // decompressed bytes read
	// Issues are problems that did not stop the read, at most 100;
	// MoreIssues counts those left out.
	Issues     []Issue
	MoreIssues int
}

// Reader reads CloudTrail log files and extracts Athena query events. It
// keeps its buffers and gzip state between files, so a worker should keep
// one Reader for all the files it reads. A Reader is not safe for concurrent
// use.
type Reader struct {
	opts ReaderOptions
	br   *bufio.Reader
	gz   *gzip.Reader
	scan scanner
	src  sourceReader
	// decodeAll turns off classifyRecord, so that tests can check that
	// it changes nothing.
	decodeAll bool
}

// NewReader returns a Reader with opts, defaults filled in.
func NewReader(opts ReaderOptions) *Reader {
	if opts.MaxRecordBytes <= 0 {
		opts.MaxRecordBytes = DefaultMaxRecordBytes
	}
	if opts.BufferBytes <= 0 {
		opts.BufferBytes = DefaultBufferBytes
	}
	return &Reader{opts: opts}
}

// sourceReader remembers the error its reader returned, so that a failing
// source (a network error) is told apart from corrupt gzip data.
type sourceReader struct {
	r   io.Reader
	err error
}

func (s *sourceReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if err != nil && err != io.EOF {
		s.err = err
	}
	return n, err
}

// Read streams one file or object, named name in messages, from src. The
// input may be gzip-compressed (detected by its magic bytes, not its name)
// and may be a trail log file {"Records":[...]}, one bare record, NDJSON of
// records or of log files, a LookupEvents output {"Events":[...]} or an
// EventBridge "AWS API Call via CloudTrail" envelope.
//
// fn is called for every Athena StartQueryExecution event: queries and
// rejected submissions (empty QueryID). The event is fn's to keep. An error
// from fn stops the read and is returned as is.
//
// Input that is not a readable log returns an error wrapping ErrBadInput
// (see BadInputError); digest and Insights files return an error wrapping
// ErrDigest. Events found before such an error have already been passed to
// fn. Problems with single records are listed in FileStats.Issues and do not
// stop the read.
func (r *Reader) Read(ctx context.Context, name string, src io.Reader, fn func(*QueryEvent) error) (FileStats, error) {
	var st FileStats
	if strings.Contains(name, "CloudTrail-Digest") {
		return st, fmt.Errorf("read trail file %s: %w: CloudTrail digest file", name, ErrDigest)
	}
	r.src = sourceReader{r: src}
	if r.br == nil {
		r.br = bufio.NewReaderSize(&r.src, 64<<10)
	} else {
		r.br.Reset(&r.src)
	}
	var in io.Reader = r.br
	if head, _ := r.br.Peek(2); len(head) == 2 && head[0] == 0x1f && head[1] == 0x8b {
		var err error
		if r.gz == nil {
			r.gz, err = gzip.NewReader(r.br)
		} else {
			err = r.gz.Reset(r.br)
		}
		if err != nil {
			if r.src.err != nil {
				return st, fmt.Errorf("read trail file %s: %w", name, r.src.err)
			}
			return st, &BadInputError{Name: name, Reason: "corrupt gzip header", Err: err}
		}
		in = r.gz
	}

	f := fileReader{r: r, name: name, fn: fn, st: &st, s: &r.scan}
	f.s.reset(ctx, in, r.opts.BufferBytes, r.opts.MaxRecordBytes)
	err := f.run()
	st.Bytes = f.s.consumed()
	if cap(r.scan.buf) > 4*r.opts.BufferBytes {
		// Do not hold a large record's window between files.
		r.scan.buf = nil
	}
	r.src.r = nil
	if err != nil {
		return st, f.classify(err)
	}
	if f.badRecord != nil {
		return st, f.badRecord
	}
	if st.Records > 0 && st.Insights == st.Records && !f.lookup {
		return st, fmt.Errorf("read trail file %s: %w: CloudTrail Insights records", name, ErrDigest)
	}
	return st, nil
}

// fileReader is the state of one Read.
type fileReader struct {
	r    *Reader
	name string
	fn   func(*QueryEvent) error
	st   *FileStats
	s    *scanner

	formats   []string
	lookup    bool           // Events of a LookupEvents output were seen
	badRecord *BadInputError // first record that is not valid JSON
	fnErr     error          // error from fn, returned as is
	digest    error          // the input is a digest file
}

// classify turns an error that stopped the read into what Read returns.
func (f *fileReader) classify(err error) error {
	switch {
	case f.fnErr != nil:
		return f.fnErr
	case f.digest != nil:
		return f.digest
	}
	var se *scanError
	if errors.As(err, &se) {
		return &BadInputError{Name: f.name, Offset: se.off, Reason: se.reason}
	}
	if ctxErr := f.s.ctx.Err(); ctxErr != nil && errors.Is(err, ctxErr) {
		return fmt.Errorf("read trail file %s: %w", f.name, err)
	}
	if f.r.src.err != nil && errors.Is(err, f.r.src.err) {
		return fmt.Errorf("read trail file %s: %w", f.name, err)
	}
	if errors.Is(err, errTruncated) {
		return &BadInputError{Name: f.name, Offset: f.s.consumed(), Reason: "truncated: input ends inside a value"}
	}
	// Anything else came from the decompressor: the gzip data is corrupt or
	// truncated.
	return &BadInputError{Name: f.name, Offset: f.s.consumed(), Reason: "corrupt gzip data", Err: err}
}

func (f *fileReader) format(name string) {
	for _, n := range f.formats {
		if n == name {
			return
		}
	}
	f.formats = append(f.formats, name)
	f.st.Format = strings.Join(f.formats, "+")
}

func (f *fileReader) issue(record int, off int64, err error) {
	if len(f.st.Issues) >= maxIssues {
		f.st.MoreIssues++
		return
	}
	f.st.Issues = append(f.st.Issues, Issue{Name: f.name, Record: record, Offset: off, Err: err})
}

// invalidRecord notes a record that is not valid JSON. The read goes on (the
// scanner still knows where the record ends) but Read returns ErrBadInput.
//
// The first such record is reported by that error; later ones as issues, so
// each bad record is counted once.
func (f *fileReader) invalidRecord(record int, off int64, err error) {
	if f.badRecord == nil {
		f.badRecord = &BadInputError{Name: f.name, Offset: off, Reason: fmt.Sprintf("record %d is not valid JSON", record), Err: err}
		return
	}
	f.issue(record, off, fmt.Errorf("not valid JSON: %w", err))
}

// run reads the top-level values: one object, or several (NDJSON).
func (f *fileReader) run() error {
	s := f.s
	for n := 0; ; n++ {
		c, ok, err := s.peek()
		if err != nil {
			return err
		}
		if !ok {
			if n == 0 {
				return &scanError{off: s.offset(), reason: "empty input"}
			}
			return nil
		}
		if c != '{' {
			switch {
			case n > 0:
				return s.fail("trailing data after the top-level object: " + quoteByte(c))
			case c == '[':
				return s.fail("top level is an array, want an object")
			default:
				return s.fail("not JSON: starts with " + quoteByte(c))
			}
		}
		if err := f.topObject(); err != nil {
			return err
		}
	}
}

// topObject reads one top-level object. A "Records" array in it is streamed
// record by record; any other object is kept whole (up to MaxRecordBytes)
// and then recognised as a record, a LookupEvents output, an EventBridge
// envelope or a digest file.
func (f *fileReader) topObject() error {
	s := f.s
	start := s.offset()
	s.keep()
	s.newlines = 0
	s.pos++ // '{'
	trail := false
	for first := true; ; first = false {
		c, err := s.mustPeek()
		if err != nil {
			return err
		}
		if c == '}' && first {
			s.pos++
			break
		}
		if c != '"' {
			return s.fail("expected an object key, found " + quoteByte(c))
		}
		isRecords, err := s.readKey()
		if err != nil {
			return err
		}
		if c, err = s.mustPeek(); err != nil {
			return err
		}
		if c != ':' {
			return s.fail("expected ':' after object key, found " + quoteByte(c))
		}
		s.pos++
		if c, err = s.mustPeek(); err != nil {
			return err
		}
		if isRecords {
			if c != '[' {
				return s.fail("Records is not an array")
			}
			if !trail {
				trail = true
				f.format("trail")
				s.mark = -1 // the records are kept one by one instead
			}
			s.pos++
			if err := f.records(); err != nil {
				return err
			}
		} else if err := s.skipValue(); err != nil {
			return err
		}
		if c, err = s.mustPeek(); err != nil {
			return err
		}
		s.pos++
		if c == '}' {
			break
		}
		if c != ',' {
			s.pos--
			return s.fail("expected ',' or '}' in object, found " + quoteByte(c))
		}
	}
	if trail {
		s.mark = -1
		return nil
	}
	obj := s.kept()
	if obj == nil {
		f.st.Records++
		f.issue(f.st.Records-1, start, fmt.Errorf("%w: object over %d bytes", ErrRecordTooLarge, s.maxKeep))
		return nil
	}
	return f.object(obj, start)
}

// records streams the elements of a Records array; the '[' was consumed.
func (f *fileReader) records() error {
	s := f.s
	c, err := s.mustPeek()
	if err != nil {
		return err
	}
	if c == ']' {
		s.pos++
		f.issue(-1, s.offset(), ErrNoRecords)
		return nil
	}
	for {
		if c, err = s.mustPeek(); err != nil {
			return err
		}
		off := s.offset()
		idx := f.st.Records
		f.st.Records++
		if c == '{' {
			s.keep()
			s.newlines = 0
			s.pos++
			s.stack = append(s.stack[:0], '}')
			if err := s.scanComposite(0); err != nil {
				return err
			}
			if rec := s.kept(); rec != nil {
				if err := f.trailRecord(rec, idx, off); err != nil {
					return err
				}
			} else {
				f.issue(idx, off, fmt.Errorf("%w: %d bytes, limit %d", ErrRecordTooLarge, s.offset()-off, s.maxKeep))
			}
		} else {
			if err := s.skipValue(); err != nil {
				return err
			}
			f.issue(idx, off, fmt.Errorf("%w: Records element is not an object", ErrNotRecord))
		}
		if c, err = s.mustPeek(); err != nil {
			return err
		}
		s.pos++
		if c == ']' {
			return nil
		}
		if c != ',' {
			s.pos--
			return s.fail("expected ',' or ']' after a record, found " + quoteByte(c))
		}
		if c, err = s.mustPeek(); err != nil {
			return err
		}
		if c == ']' {
			return s.fail("trailing comma in Records")
		}
	}
}

var (
	athenaMarker  = []byte(athenaSource)
	insightMarker = []byte(insightEventType)
	// athenaTail is athenaMarker without its first two bytes. Searching for
	// it is several times faster: bytes.Index jumps to candidates with
	// IndexByte on the first byte, and 'a' is everywhere in JSON, 'h' is not.
	athenaTail = athenaMarker[2:]
)

// sourcedFromAthena reports whether some "eventSource" key in b has the
// value athena.amazonaws.com. Records that only mention Athena (S3, Glue
// and KMS calls Athena makes for a query) are common in a busy account and
// are not decoded.
func sourcedFromAthena(b []byte) bool {
	const key = `"eventSource"`
	for i := 0; i < len(b); {
		j := bytes.Index(b[i:], []byte(key))
		if j < 0 {
			return false
		}
		i += j + len(key)
		k := skipBlanks(b, i)
		if k < len(b) && b[k] == ':' {
			k = skipBlanks(b, k+1)
			if k < len(b) && b[k] == '"' && bytes.HasPrefix(b[k+1:], athenaMarker) &&
				k+1+len(athenaMarker) < len(b) && b[k+1+len(athenaMarker)] == '"' {
				return true
			}
		}
	}
	return false
}

func skipBlanks(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\n' || b[i] == '\r' || b[i] == '\t') {
		i++
	}
	return i
}

// mentionsAthena reports whether b contains athenaMarker.
func mentionsAthena(b []byte) bool {
	for i := 2; i < len(b); {
		j := bytes.Index(b[i:], athenaTail)
		if j < 0 {
			return false
		}
		i += j
		if b[i-2] == 'a' && b[i-1] == 't' {
			return true
		}
		i++
	}
	return false
}

// trailRecord examines one element of a Records array. Only
// StartQueryExecution records, Insights records and records whose kind a
// look at their top-level keys cannot tell are decoded: a fraction of the
// records that name Athena, which are about 1% of a busy account's trail
// and up to a third where clients poll Athena.
func (f *fileReader) trailRecord(rec []byte, idx int, off int64) error {
	if f.s.newlines != bytes.Count(rec, []byte{'\n'}) {
		// A raw line break inside a string: JSON does not allow it, and
		// CloudTrail never writes it.
		f.invalidRecord(idx, off, errors.New("line break inside a string"))
		return nil
	}
	// Insights files hold nothing but Insights records, so looking for them
	// in the first record (and then in all) is enough.
	insights := (idx == 0 || f.st.Insights > 0) && bytes.Contains(rec, insightMarker)
	if !insights {
		if !mentionsAthena(rec) || !sourcedFromAthena(rec) {
			return nil
		}
		switch f.classOf(rec) {
		case classOther:
			return nil
		case classAthenaCall:
			f.st.AthenaRecords++
			return nil
		}
	}
	return f.record(rec, idx, off)
}

// classOf is classifyRecord unless the Reader decodes every candidate.
func (f *fileReader) classOf(rec []byte) recordClass {
	if f.r.decodeAll {
		return classUnsure
	}
	return classifyRecord(rec)
}

// record decodes a record that may be an Athena or Insights record and
// passes query events to fn.
func (f *fileReader) record(rec []byte, idx int, off int64) error {
	ev, kind, err := parseRecord(rec)
	switch kind {
	case kindInsight:
		f.st.Insights++
		return nil
	case kindInvalid:
		f.invalidRecord(idx, off, err)
		return nil
	case kindOther:
		return nil
	}
	f.st.AthenaRecords++
	if err != nil {
		f.issue(idx, off, err)
	}
	if ev == nil {
		return nil
	}
	if ev.Rejected() {
		f.st.Rejected++
	} else {
		f.st.Queries++
	}
	if err := f.fn(ev); err != nil {
		f.fnErr = err
		return err
	}
	return nil
}

// object recognises a whole top-level object that has no Records array.
func (f *fileReader) object(obj []byte, off int64) error {
	idx := f.st.Records
	isEnvelope := bytes.Contains(obj, []byte(`"Events"`)) ||
		bytes.Contains(obj, []byte(`"detail-type"`)) ||
		bytes.Contains(obj, []byte(`"digestStartTime"`))
	if !isEnvelope {
		// The common case of NDJSON: one record per line.
		f.format("record")
		f.st.Records++
		insight := bytes.Contains(obj, insightMarker)
		candidate := insight || mentionsAthena(obj)
		class := classUnsure
		if candidate && !insight {
			class = f.classOf(obj)
		}
		if candidate && class == classUnsure {
			return f.record(obj, idx, off)
		}
		// Records on their own lines are each checked to be JSON, as
		// decoding would.
		if !json.Valid(obj) {
			f.invalidRecord(idx, off, json.Unmarshal(obj, new(struct{})))
			return nil
		}
		if candidate {
			if class == classAthenaCall {
				f.st.AthenaRecords++
			}
			return nil
		}
		if !bytes.Contains(obj, []byte(`"eventVersion"`)) && !bytes.Contains(obj, []byte(`"eventSource"`)) {
			f.issue(idx, off, ErrNotRecord)
		}
		return nil
	}
	var env struct {
		Events          json.RawMessage `json:"Events"`
		DetailType      *string         `json:"detail-type"`
		Detail          json.RawMessage `json:"detail"`
		DigestStartTime json.RawMessage `json:"digestStartTime"`
	}
	if err := json.Unmarshal(obj, &env); err != nil {
		var typeErr *json.UnmarshalTypeError
		if !errors.As(err, &typeErr) {
			f.st.Records++
			f.invalidRecord(idx, off, err)
			return nil
		}
	}
	switch {
	case env.DigestStartTime != nil:
		f.digest = fmt.Errorf("read trail file %s: %w: CloudTrail digest file", f.name, ErrDigest)
		return f.digest
	case env.Events != nil:
		return f.lookupEvents(env.Events, off)
	case env.DetailType != nil:
		f.format("eventbridge")
		f.st.Records++
		if *env.DetailType != eventBridgeCloudTrail || len(env.Detail) == 0 || env.Detail[0] != '{' {
			f.issue(idx, off, fmt.Errorf("%w: EventBridge event of type %q", ErrNotRecord, *env.DetailType))
			return nil
		}
		if !mentionsAthena(env.Detail) {
			return nil
		}
		return f.record(env.Detail, idx, off)
	}
	// A record that happens to mention one of the envelope keys.
	f.format("record")
	f.st.Records++
	return f.record(obj, idx, off)
}

// lookupEvents reads the Events of a LookupEvents output: each carries its
// record as a JSON string in CloudTrailEvent. Insights lookups carry the
// Insights records as objects; those are skipped.
func (f *fileReader) lookupEvents(raw json.RawMessage, off int64) error {
	var events []json.RawMessage
	if err := json.Unmarshal(raw, &events); err != nil {
		return &scanError{off: off, reason: "Events is not an array of events"}
	}
	f.format("lookup-events")
	f.lookup = true
	for _, e := range events {
		idx := f.st.Records
		f.st.Records++
		var le struct {
			CloudTrailEvent *string `json:"CloudTrailEvent"`
			EventType       string  `json:"eventType"`
			EventCategory   string  `json:"EventCategory"`
		}
		if err := json.Unmarshal(e, &le); err != nil {
			f.issue(idx, off, fmt.Errorf("%w: lookup event: %v", ErrNotRecord, err))
			continue
		}
		switch {
		case le.CloudTrailEvent != nil:
			if !strings.Contains(*le.CloudTrailEvent, athenaSource) {
				continue
			}
			if err := f.record([]byte(*le.CloudTrailEvent), idx, off); err != nil {
				return err
			}
		case le.EventType == insightEventType || le.EventCategory == "Insight":
			f.st.Insights++
		default:
			f.issue(idx, off, fmt.Errorf("%w: lookup event without CloudTrailEvent", ErrNotRecord))
		}
	}
	return nil
}
