package awsemu

import (
	"context"
	"net/http"
	"time"
)

// SetLatency makes every answer wait until d after its request arrived, as
// if the client were far from the region: tests and benchmarks see the round
// trip a client outside AWS sees (150 ms is typical between continents).
// Requests are handled, and quotas charged, on arrival, as AWS does; only
// the answer waits. A request whose client gives up stops waiting. Zero
// turns the delay off.
func (e *Emulator) SetLatency(d time.Duration) { e.latency.Store(int64(max(d, 0))) }

// delayed returns w, holding back the answer to r for the latency set.
func (e *Emulator) delayed(w http.ResponseWriter, r *http.Request) http.ResponseWriter {
	d := time.Duration(e.latency.Load())
	if d <= 0 {
		return w
	}
	return &delayedWriter{ResponseWriter: w, ctx: r.Context(), until: time.Now().Add(d)}
}

// delayedWriter waits until a time, or until the request is cancelled,
// before the first byte of the answer.
type delayedWriter struct {
	http.ResponseWriter
	ctx    context.Context
	until  time.Time
	waited bool
}

func (w *delayedWriter) wait() {
	if w.waited {
		return
	}
	w.waited = true
	t := time.NewTimer(time.Until(w.until))
	defer t.Stop()
	select {
	case <-t.C:
	case <-w.ctx.Done():
	}
}

func (w *delayedWriter) WriteHeader(status int) {
	w.wait()
	w.ResponseWriter.WriteHeader(status)
}

func (w *delayedWriter) Write(b []byte) (int, error) {
	w.wait()
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection (S3's cut
// answers hijack it), after the delay.
func (w *delayedWriter) Unwrap() http.ResponseWriter {
	w.wait()
	return w.ResponseWriter
}
