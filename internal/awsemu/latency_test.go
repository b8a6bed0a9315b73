package awsemu

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/athena"
)

func TestLatency(t *testing.T) {
	t.Parallel()
	en := newEnv(t, fixedEngine)
	c := en.athena("us-east-1", en.emu.AddUser(acctA, "alice"))
	const latency = 200 * time.Millisecond
	en.emu.SetLatency(latency)
	begin := time.Now()
	if _, err := c.ListWorkGroups(context.Background(), &athena.ListWorkGroupsInput{}); err != nil {
		t.Fatal(err)
	}
	// Timers never fire early, so the lower bound is exact.
	if d := time.Since(begin); d < latency {
		t.Errorf("answer after %v, want at least the latency %v", d, latency)
	}
}

// TestLatencyHonoursCancel: a request whose client went away stops waiting;
// with an hour of latency the test would otherwise not end.
func TestLatencyHonoursCancel(t *testing.T) {
	t.Parallel()
	emu := New(Options{Latency: time.Hour})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	req := httptest.NewRequestWithContext(ctx, http.MethodPost, "/", strings.NewReader("{}"))
	rec := httptest.NewRecorder()
	emu.ServeHTTP(rec, req)
	if rec.Code != http.StatusForbidden {
		t.Errorf("status %d, want 403 for an unsigned request", rec.Code)
	}
}
