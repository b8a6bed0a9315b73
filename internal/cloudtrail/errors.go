package cloudtrail

import (
	"errors"
	"fmt"
)

// Sentinel errors for decisions with errors.Is.
var (
	// ErrBadInput marks input that is not a readable CloudTrail log: corrupt or
	// truncated gzip, text that is not JSON, JSON of the wrong shape, trailing
	// garbage. The error that wraps it names the file and the byte offset in the
	// decompressed stream.
	ErrBadInput = errors.New("bad input")

	// ErrDigest marks a file that is recognised but is not a trail log file:
	// a CloudTrail digest file, or a file of CloudTrail Insights records.
	// Callers usually log it at info level and move on.
	ErrDigest = errors.New("ignored, not a trail log file")

	// ErrNoRecords is the per-file issue of a log file whose Records array is
	// empty. The file is valid; the caller decides whether that is worth saying.
	ErrNoRecords = errors.New("no records")

	// ErrRecordTooLarge is the per-record issue of a record over
	// ReaderOptions.MaxRecordBytes; the record is skipped, the file goes on.
	ErrRecordTooLarge = errors.New("record too large")

	// ErrNotRecord is the per-record issue of a value where a CloudTrail record
	// was expected: a Records element that is not an object, or a JSON object
	// that is neither a record nor a known envelope.
	ErrNotRecord = errors.New("not a CloudTrail record")
)

// BadInputError describes why a file is not a readable CloudTrail log.
// It matches ErrBadInput with errors.Is.
type BadInputError struct {
	Name   string // the file or object name given to Read
	Offset int64  // byte offset in the decompressed stream where the problem was found
	Reason string // what is wrong, e.g. "top level is an array, want an object"
	Err    error  // the underlying cause, if any (a gzip or JSON error)
}

func (e *BadInputError) Error() string {
	msg := fmt.Sprintf("read trail file %s: bad input at byte %d: %s", e.Name, e.Offset, e.Reason)
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Unwrap lets errors.Is find both ErrBadInput and the underlying cause.
func (e *BadInputError) Unwrap() []error {
	if e.Err == nil {
		return []error{ErrBadInput}
	}
	return []error{ErrBadInput, e.Err}
}

// Issue is a problem with one record (or, with Record -1, with the whole file)
// that did not stop the read.
type Issue struct {
	Name   string // the file or object name given to Read
	Record int    // zero-based index of the record in the file; -1 for file-level issues
	Offset int64  // byte offset of the record in the decompressed stream
	Err    error
}

func (i Issue) Error() string {
	if i.Record < 0 {
		return fmt.Sprintf("trail file %s: %v", i.Name, i.Err)
	}
	return fmt.Sprintf("trail file %s: record %d (byte %d): %v", i.Name, i.Record, i.Offset, i.Err)
}

// Unwrap returns the issue's cause, so errors.Is(issue, ErrRecordTooLarge) works.
func (i Issue) Unwrap() error { return i.Err }
