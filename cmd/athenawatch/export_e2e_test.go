package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/athenawatch/athenawatch/internal/duckdb"
	"github.com/athenawatch/athenawatch/internal/lake"
	"github.com/athenawatch/athenawatch/internal/versitygw"
)

// slowPuts stands in front of an S3 server and holds every PutObject a
// while, counting those that completed: a test can kill an export midway,
// between two partitions or in the middle of one.
type slowPuts struct {
	next  http.Handler
	delay time.Duration
	done  atomic.Int64
}

func (p *slowPuts) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPut {
		time.Sleep(p.delay)
		p.next.ServeHTTP(w, r)
		p.done.Add(1)
		return
	}
	p.next.ServeHTTP(w, r)
}

// download copies every object under prefix in bucket into dir, keeping
// the key's path.
func download(t *testing.T, c *s3.Client, bucket, prefix, dir string) int {
	t.Helper()
	ctx := context.Background()
	n := 0
	p := s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String(prefix)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range page.Contents {
			out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: o.Key})
			if err != nil {
				t.Fatal(err)
			}
			data, err := io.ReadAll(out.Body)
			out.Body.Close()
			if err != nil {
				t.Fatal(err)
			}
			dst := filepath.Join(dir, filepath.FromSlash(strings.TrimPrefix(*o.Key, prefix)))
			if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(dst, data, 0o644); err != nil {
				t.Fatal(err)
			}
			n++
		}
	}
	return n
}

// lakeSums are DuckDB's per-key sums over the Parquet lake under dir, in
// the report's JSON form.
func lakeSums(t *testing.T, dir, by string) map[string]map[string]json.Number {
	t.Helper()
	col := by
	if by == "day" {
		col = "dt"
	}
	res := duckdb.Query(t, fmt.Sprintf(`SELECT CAST(%q AS VARCHAR) AS k, count(*) AS queries, sum(bytes_scanned) AS bytes_scanned, sum(billed_bytes) AS billed_bytes, round(sum(cost_usd), 2) AS cost
		FROM read_parquet('%s', hive_partitioning = true) GROUP BY 1`, col, filepath.Join(dir, "usage", "*", "*.parquet")))[0]
	out := map[string]map[string]json.Number{}
	for _, r := range res.Rows {
		out[*r["k"]] = map[string]json.Number{"queries": json.Number(*r["queries"]), "bytes_scanned": json.Number(*r["bytes_scanned"]),
			"billed_bytes": json.Number(*r["billed_bytes"]), "cost": json.Number(*r["cost"])}
	}
	return out
}

// sameSums holds DuckDB's sums equal to the store's report: queries and
// bytes to the byte, cost to the cent.
func sameSums(t *testing.T, by string, lakeRows, store map[string]map[string]json.Number) {
	t.Helper()
	if len(lakeRows) != len(store) {
		t.Fatalf("by %s: the lake has %d keys, the store %d", by, len(lakeRows), len(store))
	}
	for k, want := range store {
		got, ok := lakeRows[k]
		if !ok {
			t.Fatalf("by %s: %q not in the lake", by, k)
		}
		for _, m := range []string{"queries", "bytes_scanned", "billed_bytes"} {
			if got[m].String() != want[m].String() {
				t.Errorf("by %s %q: %s = %s in the lake, %s in the store", by, k, m, got[m], want[m])
			}
		}
		var c, w float64
		fmt.Sscan(got["cost"].String(), &c)
		fmt.Sscan(want["cost_usd"].String(), &w)
		if fmt.Sprintf("%.2f", c) != fmt.Sprintf("%.2f", w) {
			t.Errorf("by %s %q: cost %.2f in the lake, %.2f in the store", by, k, c, w)
		}
	}
}

// TestExportEndToEnd exports the simulated organization's usage to a
// directory and to versitygw, a real S3 server; kills an export to S3
// midway with SIGKILL and runs it again; and has DuckDB read each lake:
// every partition whole, sums equal to the store's reports.
func TestExportEndToEnd(t *testing.T) {
	s := simulate(t)
	s.emu.SetNow(s.settled)
	db := filepath.Join(t.TempDir(), "export.db")
	if r := s.run(t, db, "collect", "--source", "dir:"+s.trailDir); r.code != 0 {
		t.Fatalf("collect: exit %d\n%s", r.code, r.stderr)
	}
	byDay := s.reportRows(t, db, "day")

	// To a directory.
	dir := t.TempDir()
	r := s.run(t, db, "export", "--to", "dir:"+dir, "--output", "json")
	var sum lake.Summary
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &sum) != nil || sum.Written != len(byDay) {
		t.Fatalf("export to a directory: exit %d, %+v\n%s", r.code, sum, r.stderr)
	}
	for _, by := range []string{"user", "database", "day"} {
		sameSums(t, by, lakeSums(t, dir, by), s.reportRows(t, db, by))
	}

	// To versitygw, through a proxy that slows each PutObject so that the
	// export is killed with partitions written and partitions not.
	cfg := versitygw.Start(t, "usage-lake")
	creds, err := cfg.Credentials.Retrieve(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	backend, _ := url.Parse(*cfg.BaseEndpoint)
	proxy := &slowPuts{next: httputil.NewSingleHostReverseProxy(backend), delay: 150 * time.Millisecond}
	srv := httptest.NewServer(proxy)
	defer srv.Close()
	env := append(append([]string{}, s.env...), "AWS_ENDPOINT_URL_S3="+srv.URL,
		"AWS_ACCESS_KEY_ID="+creds.AccessKeyID, "AWS_SECRET_ACCESS_KEY="+creds.SecretAccessKey)
	args := []string{"--db", db, "--config", s.configPath, "export", "--to", "s3://usage-lake/athenawatch", "--output", "json"}
	cmd := exec.Command(binary, args...)
	cmd.Env = append(scrubbedEnv(), env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(time.Minute)
	for proxy.done.Load() < 3 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	// Killed while later PutObjects are held at the proxy (days are put
	// two at a time).
	cmd.Process.Kill()
	cmd.Wait()
	killedAfter := int(proxy.done.Load())
	if killedAfter < 3 || killedAfter >= len(byDay) {
		t.Fatalf("killed after %d of %d partitions: proves nothing\n%s", killedAfter, len(byDay), stderr.String())
	}
	client := s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true })
	partial := t.TempDir()
	n := download(t, client, "usage-lake", "athenawatch/", partial)
	if n < killedAfter {
		t.Fatalf("%d objects after %d puts", n, killedAfter)
	}
	// Every partition there is whole and equal to the store's day.
	for day, got := range lakeSums(t, partial, "day") {
		if got["queries"].String() != byDay[day]["queries"].String() {
			t.Errorf("partition %s after the kill: %s rows, the store has %s", day, got["queries"], byDay[day]["queries"])
		}
	}
	// The re-run writes the partitions the killed one did not record.
	r = athenawatch(t, env, args...)
	sum = lake.Summary{}
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &sum) != nil || sum.Written+sum.Unchanged != len(byDay) || sum.Written < len(byDay)-n {
		t.Fatalf("re-run: exit %d, %+v\n%s", r.code, sum, r.stderr)
	}
	full := t.TempDir()
	if n := download(t, client, "usage-lake", "athenawatch/", full); n != len(byDay) {
		t.Fatalf("%d objects, %d days", n, len(byDay))
	}
	for _, by := range []string{"user", "database", "day"} {
		sameSums(t, by, lakeSums(t, full, by), s.reportRows(t, db, by))
	}
	// And a third run has nothing to write.
	r = athenawatch(t, env, args...)
	sum = lake.Summary{}
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &sum) != nil || sum.Written != 0 || sum.Unchanged != len(byDay) {
		t.Fatalf("third run: exit %d, %+v\n%s", r.code, sum, r.stderr)
	}
}
