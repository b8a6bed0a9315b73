package store

import (
	"context"
	"database/sql"
	"sync"
	"sync/atomic"
	"time"
)

// SQLite copies committed pages from the write-ahead log into the database
// file (a checkpoint) on the connection that commits, once the log holds
// 1000 pages: after every large transaction of a collect. A Writer moves
// that copying to a goroutine of its own, which checkpoints on another
// connection while the next transaction is written; a checkpoint that
// does not wait for writers or readers (PASSIVE) can run beside a writer.
//
// The log is only rewound from its start when it was checkpointed to its
// end before a transaction begins, which a checkpoint running beside the
// writer never achieves. So once the log holds walRewindFrames pages, the
// writer checkpoints the rest itself between two transactions.
const (
	walRewindFrames       = 64 << 10 // pages: 256 MiB with 4 KiB pages
	defaultAutoCheckpoint = 1000     // SQLite's default, restored on Close
)

// checkpointer runs PASSIVE checkpoints for a Writer.
type checkpointer struct {
	db     *sql.DB
	wake   chan struct{}
	done   chan struct{}
	mu     sync.Mutex   // held while a checkpoint runs
	frames atomic.Int64 // pages in the log at the last checkpoint
}

func startCheckpointer(db *sql.DB) *checkpointer {
	c := &checkpointer{db: db, wake: make(chan struct{}, 1), done: make(chan struct{})}
	go c.run()
	return c
}

func (c *checkpointer) run() {
	defer close(c.done)
	for range c.wake {
		c.mu.Lock()
		// An error (a busy database, a failing disk) is left to the next
		// checkpoint; committed data is safe in the log meanwhile.
		c.checkpoint(c.db.QueryRowContext)
		c.mu.Unlock()
	}
}

// checkpoint runs one PASSIVE checkpoint through query and records the
// size of the log.
func (c *checkpointer) checkpoint(query func(context.Context, string, ...any) *sql.Row) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var busy, frames, copied int64
	if err := query(ctx, "PRAGMA wal_checkpoint(PASSIVE)").Scan(&busy, &frames, &copied); err != nil {
		return err
	}
	c.frames.Store(frames)
	return nil
}

// committed is called by the writer after each commit: it wakes the
// goroutine, or, when the log has grown long, checkpoints on the writer's
// own connection so that the next transaction rewinds the log.
func (c *checkpointer) committed(conn *sql.Conn) {
	if c.frames.Load() < walRewindFrames {
		select {
		case c.wake <- struct{}{}:
		default: // a checkpoint is pending already
		}
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.checkpoint(conn.QueryRowContext)
	c.frames.Store(0)
}

// stop waits for the goroutine to finish and checkpoints what is left on
// conn.
func (c *checkpointer) stop(conn *sql.Conn) {
	close(c.wake)
	<-c.done
	c.checkpoint(conn.QueryRowContext)
}
