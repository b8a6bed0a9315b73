package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/athenawatch/athenawatch/internal/awsemu"
	"github.com/athenawatch/athenawatch/internal/awsemu/orgsim"
)

// gate stands in front of the emulator and, while closed, holds every
// BatchGetQueryExecution call until the caller goes away, telling the test
// when the first one arrives. It lets a test signal collect at a known
// point: after the trail is committed, while enrichment waits on Athena.
type gate struct {
	next    http.Handler
	arrived chan struct{}
	release chan struct{} // closed when the test ends

	mu     sync.Mutex
	closed bool
}

func (g *gate) setClosed(closed bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.closed = closed
}

func (g *gate) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	g.mu.Lock()
	hold := g.closed && r.Header.Get("X-Amz-Target") == "AmazonAthena.BatchGetQueryExecution"
	g.mu.Unlock()
	if hold {
		select {
		case g.arrived <- struct{}{}:
		default:
		}
		// The server notices a client that went away only once the body
		// is read.
		_, _ = io.Copy(io.Discard, r.Body)
		select {
		case <-r.Context().Done():
		case <-g.release:
		}
		return
	}
	g.next.ServeHTTP(w, r)
}

// TestInterruptedCollectSaysWhatWasKept is the regression test of a
// SIGTERM during collect ending with "context canceled" and exit 1: the
// run must say it was interrupted, what it committed, that running it
// again continues, and exit 143; running it again then reads no file twice
// and asks Athena about every query it had not got to.
func TestInterruptedCollectSaysWhatWasKept(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir := t.TempDir()
	trailDir := filepath.Join(dir, "trail")
	end := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	sim := orgsim.New(orgsim.Config{Seed: 5, Start: end.Add(-24 * time.Hour), End: end, QueriesPerDay: 60})
	emu := awsemu.New(sim.EmulatorOptions(nil))
	g := &gate{next: emu, arrived: make(chan struct{}, 1), release: make(chan struct{})}
	srv := httptest.NewServer(g)
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(g.release) }) // runs first
	res, err := sim.Run(ctx, emu, srv.URL, trailDir)
	if err != nil {
		t.Fatal(err)
	}
	configPath := filepath.Join(dir, "athenawatch.yaml")
	if err := os.WriteFile(configPath, res.ConfigYAML(), 0o644); err != nil {
		t.Fatal(err)
	}
	env := append(scrubbedEnv(),
		"AWS_ENDPOINT_URL="+srv.URL,
		"AWS_ACCESS_KEY_ID="+res.CollectorCredentials.AccessKeyID,
		"AWS_SECRET_ACCESS_KEY="+res.CollectorCredentials.SecretAccessKey,
		"AWS_REGION=us-east-1")
	db := filepath.Join(dir, "i.db")
	args := []string{"--db", db, "--config", configPath, "collect", "--source", "dir:" + trailDir}

	g.setClosed(true)
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Env = env
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-g.arrived:
	case <-ctx.Done():
		t.Fatalf("collect never asked Athena for statistics:\n%s", stderr.String())
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	err = cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 143 {
		t.Fatalf("collect after SIGTERM: %v, want exit 143\n%s", err, stderr.String())
	}
	files := 0
	filepath.WalkDir(trailDir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && !strings.Contains(p, "Digest") {
			files++
		}
		return nil
	})
	for _, want := range []string{
		"interrupted by SIGTERM while asking Athena for statistics",
		fmt.Sprintf("Kept: %d files read and committed, with %d new queries and %d new rejected submissions", files, len(res.Queries), len(res.Rejected)),
		"Run the same command again to continue where it stopped.",
		"athenawatch collect: interrupted by SIGTERM",
	} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr.String())
		}
	}

	// Running it again continues: no file is read twice, and every query
	// is asked about (none had statistics yet).
	g.setClosed(false)
	r := athenawatch(t, env[len(env)-4:], args...)
	if r.code != 0 || !strings.Contains(r.stderr, "0 files read") || !strings.Contains(r.stderr, fmt.Sprintf("asked Athena about %d queries", len(res.Queries))) {
		t.Fatalf("collect again: exit %d\n%s", r.code, r.stderr)
	}
}
