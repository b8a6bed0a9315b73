package web

import (
	"sync"
	"time"
)

// Health is what the background collector last did: serve's pages and
// /metrics report it. Safe for concurrent use.
type Health struct {
	mu          sync.Mutex
	lastCollect time.Time
	lastErr     error
}

// Collected records the end of a collect and enrich round.
func (h *Health) Collected(at time.Time, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.lastCollect, h.lastErr = at, err
}

// Last returns when the last round ended and how.
func (h *Health) Last() (time.Time, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.lastCollect, h.lastErr
}
