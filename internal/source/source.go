// Package source reads CloudTrail from where it lives (a directory of trail
// files now; S3, LookupEvents, SQS and Athena SQL share the same shape) and
// commits the Athena query events it finds, exactly once, with checkpoints.
//
// A Source turns input objects into Units: the query events read from one
// object plus the checkpoint that says the object is done. The Collector
// commits units in batches, each batch's rows and checkpoints in one
// transaction, so a crash never loses an acknowledged unit nor counts one
// twice (rows are keyed by region + query id and inserted idempotently).
//
// Each kind of source lives in a subpackage that registers the scheme of
// its addresses (Register), as internal/source/dir registers "dir:"; Open
// turns an address such as "dir:/var/trail" into a Source.
package source

import (
	"context"
	"time"

	"github.com/athenawatch/athenawatch/internal/cloudtrail"
	"github.com/athenawatch/athenawatch/internal/store"
)

// Source yields units until its input is exhausted or ctx is cancelled.
type Source interface {
	// Name identifies the source in checkpoints and messages, e.g. "dir:/var/trail".
	Name() string
	// Run reads the input and calls emit for every finished unit. Run must
	// not emit a unit whose checkpoint in done is finished and unchanged.
	Run(ctx context.Context, done Checkpoints, emit func(context.Context, *Unit) error) (RunStats, error)
}

// Acknowledger is a Source that tells its upstream what is stored, as a
// queue deletes the messages a consumer has processed. After each
// transaction commits, the collector calls Acknowledge with the checkpoints
// of the units the transaction holds, in the order they were emitted, on
// the goroutine that commits (the next transaction waits for it: bound its
// network calls with a timeout). A unit is acknowledged only once its rows
// and checkpoint are durable. An error is logged and counted in the
// Summary; the upstream delivers those units again, and the store leaves
// their rows as they are.
type Acknowledger interface {
	Acknowledge(ctx context.Context, committed []store.Checkpoint) error
}

// Checkpoints looks up what earlier runs finished, one directory (key
// prefix) at a time, so memory stays bounded by the largest directory and
// not by the history of the whole trail.
type Checkpoints interface {
	// In returns the checkpoints of the objects directly under dir, by
	// name; dir is "" for the top level, else a slash-separated path.
	In(ctx context.Context, dir string) (map[string]store.Checkpoint, error)
	// Cursors returns the source's cursors (Unit.Cursors) whose keys lie
	// directly under dir, by key, as In does for checkpoints.
	Cursors(ctx context.Context, dir string) (map[string]string, error)
}

// RunStats counts input a source passed over without emitting it.
type RunStats struct {
	Unchanged int // done in an earlier run and unchanged since
	Ignored   int // not trail log files by name (digests, other files)
	// IgnoredPrefixes counts key prefixes not even listed because they
	// hold no API call records (CloudTrail-Digest, CloudTrail-Insight).
	IgnoredPrefixes int
	// Skipped lists input that could not even be listed (an unreadable
	// directory, a link that leads nowhere or back into itself); the rest
	// of the source was still read.
	Skipped []SkippedItem
}

// Unit is what one input object yielded.
//
// A unit whose Checkpoint has no Name carries no object: it holds events
// that no one object owns (a page of an API's answer) or only Cursors.
type Unit struct {
	Checkpoint store.Checkpoint
	// Cursors are the source's own progress (a last key, a watermark),
	// committed in the same transaction as the unit's rows, and after
	// every unit emitted before it: a cursor may cover all of them. Keys
	// are slash-separated paths of the source's choosing; values are
	// opaque to the collector and the store.
	Cursors []Cursor
	Events  []*cloudtrail.QueryEvent
	// Records is how many CloudTrail records the object held; Bytes its
	// decompressed size.
	Records int
	Bytes   int64
	// Err is set when the object was bad input (or ignored): the events
	// before the problem are kept and the checkpoint records the problem.
	Err error
	// Issues are per-record problems that did not stop the object;
	// MoreIssues counts those the reader did not list one by one.
	Issues     []cloudtrail.Issue
	MoreIssues int
}

// Cursor is one key and value of a source's own progress.
type Cursor struct{ Key, Value string }

// Window bounds what a source reads. Sources prune by the dates in object
// names; events inside an object that is read are all kept, so a checkpoint
// always covers the whole object.
type Window struct {
	Since, Until time.Time
}

// Contains reports whether day (UTC midnight) may hold events in the window,
// allowing a day of slack on each side: CloudTrail files are named by their
// delivery time, which trails event times.
func (w Window) Contains(day time.Time) bool {
	if !w.Since.IsZero() && day.Before(w.Since.Add(-48*time.Hour)) {
		return false
	}
	if !w.Until.IsZero() && day.After(w.Until.Add(24*time.Hour)) {
		return false
	}
	return true
}
