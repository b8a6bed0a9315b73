package orgsim

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

var (
	logFileName    = regexp.MustCompile(`^AWSLogs/(\d{12})/CloudTrail/([a-z0-9-]+)/(\d{4})/(\d{2})/(\d{2})/(\d{12})_CloudTrail_([a-z0-9-]+)_(\d{8}T\d{4}Z)_[A-Za-z0-9]{16}\.json\.gz$`)
	digestFileName = regexp.MustCompile(`^AWSLogs/(\d{12})/CloudTrail-Digest/([a-z0-9-]+)/(\d{4})/(\d{2})/(\d{2})/(\d{12})_CloudTrail-Digest_([a-z0-9-]+)_[A-Za-z0-9-]+_([a-z0-9-]+)_(\d{8}T\d{6}Z)\.json\.gz$`)
)

type trailContents struct {
	files   int
	digests int
	records []trailRecord
	// fileOf maps the index of a record to the file it came from.
	fileOf []string
	// sizes are the lengths of the raw records.
	sizes []int
}

// readTrail reads a trail directory as a trail reader would, checking the
// layout of every file on the way.
func readTrail(t *testing.T, dir string) trailContents {
	t.Helper()
	var c trailContents
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		rel = filepath.ToSlash(rel)
		raw := gunzip(t, path)
		if m := digestFileName.FindStringSubmatch(rel); m != nil {
			c.digests++
			var dg struct {
				Records  json.RawMessage `json:"Records"`
				Account  string          `json:"awsAccountId"`
				LogFiles []struct {
					S3Object string `json:"s3Object"`
				} `json:"logFiles"`
			}
			if err := json.Unmarshal(raw, &dg); err != nil {
				t.Errorf("digest %s: %v", rel, err)
			}
			if dg.Records != nil || dg.Account != m[1] || len(dg.LogFiles) == 0 {
				t.Errorf("digest %s: records %s account %s files %d", rel, dg.Records, dg.Account, len(dg.LogFiles))
			}
			for _, f := range dg.LogFiles {
				if _, err := os.Stat(filepath.Join(dir, filepath.FromSlash(f.S3Object))); err != nil {
					t.Errorf("digest %s lists %s: %v", rel, f.S3Object, err)
				}
			}
			return nil
		}
		m := logFileName.FindStringSubmatch(rel)
		if m == nil {
			t.Errorf("unexpected file %s", rel)
			return nil
		}
		if m[1] != m[6] || m[2] != m[7] || m[3]+m[4]+m[5] != m[8][:8] {
			t.Errorf("file %s: directory and name disagree", rel)
		}
		delivered, _ := time.Parse("20060102T1504Z", m[8])
		c.files++
		var file struct {
			Records []json.RawMessage `json:"Records"`
		}
		if err := json.Unmarshal(raw, &file); err != nil {
			t.Errorf("file %s: %v", rel, err)
			return nil
		}
		if len(file.Records) == 0 {
			t.Errorf("file %s has no records", rel)
		}
		for _, r := range file.Records {
			var rec trailRecord
			if err := json.Unmarshal(r, &rec); err != nil {
				t.Errorf("file %s: record %s: %v", rel, r, err)
				continue
			}
			if rec.RecipientAccountID != m[1] {
				t.Errorf("file %s: record of account %s", rel, rec.RecipientAccountID)
			}
			if et, err := time.Parse(time.RFC3339, rec.EventTime); err != nil || et.After(delivered) {
				t.Errorf("file %s delivered %s: record time %s", rel, delivered, rec.EventTime)
			}
			c.records = append(c.records, rec)
			c.fileOf = append(c.fileOf, rel)
			c.sizes = append(c.sizes, len(r))
		}
		return nil
	})
	if err != nil {
		t.Fatalf("walk trail: %v", err)
	}
	return c
}

func gunzip(t *testing.T, path string) []byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatalf("gunzip %s: %v", path, err)
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		t.Fatalf("gunzip %s: %v", path, err)
	}
	return b
}

func athenaTestRecord(account, region string, t time.Time, id int) []byte {
	return fmt.Appendf(nil, `{"eventVersion":"1.09","userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::%s:user/alice","accountId":"%s","userName":"alice"},"eventTime":"%s","eventSource":"athena.amazonaws.com","eventName":"StartQueryExecution","awsRegion":"%s","requestParameters":{"queryString":"***OMITTED***"},"responseElements":{"queryExecutionId":"q-%d"},"eventID":"ev-%d","recipientAccountId":"%s"}`,
		account, account, t.Format(time.RFC3339), region, id, id, account)
}

func TestTrailWriter(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name          string
		noise, dup    float64
		wantNoise     float64
		wantDuplicate bool
	}{
		{"defaults", 0, 0, DefaultNoiseRatio, true},
		{"no noise", -1, -1, 0, false},
		{"half noise many duplicates", 0.5, 0.2, 0.5, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			w := NewTrailWriter(dir, TrailOptions{NoiseRatio: tt.noise, DuplicateRate: tt.dup, Seed: 42, Concurrency: 2})
			start := time.Date(2026, 3, 1, 23, 30, 0, 0, time.UTC)
			const n = 400
			accounts := []string{"111111111111", "222222222222"}
			regions := []string{"us-east-1", "eu-west-2"}
			for i := range n {
				at := start.Add(time.Duration(i) * 9 * time.Second)
				a, r := accounts[i%2], regions[(i/2)%2]
				w.AddRecord(a, r, at, athenaTestRecord(a, r, at, i))
			}
			stats, err := w.Close()
			if err != nil {
				t.Fatal(err)
			}
			c := readTrail(t, dir)
			if c.files != stats.Files || int64(len(c.records)) != stats.Records {
				t.Errorf("read %d files %d records, stats say %d and %d", c.files, len(c.records), stats.Files, stats.Records)
			}
			if c.digests == 0 || c.digests != stats.DigestFiles {
				t.Errorf("%d digests, stats %d", c.digests, stats.DigestFiles)
			}
			// Athena records: each once, or twice in different files.
			seen := make(map[string][]string)
			athena, noise := 0, 0
			for i, r := range c.records {
				seen[r.EventID] = append(seen[r.EventID], c.fileOf[i])
				if r.EventSource == "athena.amazonaws.com" {
					athena++
				} else {
					noise++
				}
			}
			dups := 0
			for id, files := range seen {
				switch {
				case len(files) == 2 && files[0] != files[1]:
					dups++
				case len(files) != 1:
					t.Errorf("event %s delivered in %v", id, files)
				}
			}
			if int64(dups) != stats.Duplicates || (dups > 0) != tt.wantDuplicate {
				t.Errorf("%d duplicates, stats %d, want some: %v", dups, stats.Duplicates, tt.wantDuplicate)
			}
			if int64(athena) != stats.AthenaRecords || athena != n+int(stats.AthenaDuplicates) {
				t.Errorf("%d athena records, stats %d, added %d", athena, stats.AthenaRecords, n)
			}
			unique := float64(int64(len(c.records)) - stats.Duplicates)
			got := float64(stats.NoiseRecords) / unique
			if got < tt.wantNoise-0.01 || got > tt.wantNoise+0.01 {
				t.Errorf("noise fraction %.4f, want %.4f", got, tt.wantNoise)
			}
			if stats.CompressedBytes <= 0 || stats.CompressedBytes >= stats.UncompressedBytes {
				t.Errorf("compressed %d of %d bytes", stats.CompressedBytes, stats.UncompressedBytes)
			}
		})
	}
}

// TestNoiseRealism checks the generated records of other services: valid
// JSON with the fields readers key on, many services and identities, sizes
// of real records.
func TestNoiseRealism(t *testing.T) {
	t.Parallel()
	g := newNoiseGen(1)
	at := time.Date(2026, 5, 5, 10, 0, 0, 0, time.UTC)
	services := make(map[string]int)
	types := make(map[string]bool)
	var small, large, total int
	const n = 20000
	var buf []byte
	for i := range n {
		buf = g.appendRecord(buf[:0], "222222222222", "eu-west-1", at.Add(time.Duration(i)*time.Second))
		var rec struct {
			EventVersion string `json:"eventVersion"`
			EventID      string `json:"eventID"`
			EventTime    string `json:"eventTime"`
			EventSource  string `json:"eventSource"`
			EventName    string `json:"eventName"`
			UserIdentity struct {
				Type string `json:"type"`
			} `json:"userIdentity"`
			RecipientAccountID string `json:"recipientAccountId"`
		}
		dec := json.NewDecoder(bytes.NewReader(buf))
		if err := dec.Decode(&rec); err != nil {
			t.Fatalf("record %d does not parse: %v\n%s", i, err, buf)
		}
		if dec.More() {
			t.Fatalf("record %d has trailing data", i)
		}
		if rec.EventVersion == "" || len(rec.EventID) != 36 || rec.EventName == "" || rec.RecipientAccountID != "222222222222" {
			t.Fatalf("record %d lacks fields: %s", i, buf)
		}
		if rec.EventSource == "athena.amazonaws.com" {
			t.Fatalf("noise record of Athena: %s", buf)
		}
		if _, err := time.Parse(time.RFC3339, rec.EventTime); err != nil {
			t.Fatalf("record %d time %q", i, rec.EventTime)
		}
		services[rec.EventSource]++
		types[rec.UserIdentity.Type] = true
		total += len(buf)
		if len(buf) < 500 {
			small++
		}
		if len(buf) > 3000 {
			large++
		}
	}
	if len(services) < 10 {
		t.Errorf("%d services: %v", len(services), services)
	}
	for _, typ := range []string{"IAMUser", "AssumedRole", "AWSService"} {
		if !types[typ] {
			t.Errorf("no %s identity", typ)
		}
	}
	if avg := total / n; avg < 700 || avg > 2200 {
		t.Errorf("average record %d bytes", avg)
	}
	if small > n/50 || large > n/50 {
		t.Errorf("%d records under 500 bytes, %d over 3000", small, large)
	}
	if !strings.Contains(string(buf), "222222222222") {
		t.Error("record does not name its account")
	}
}

func TestLogFileKey(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 1, 2, 3, 5, 0, 0, time.UTC)
	got := LogFileKey("111111111111", "eu-west-2", at, "AbCdEfGhIjKlMnOp")
	want := "AWSLogs/111111111111/CloudTrail/eu-west-2/2026/01/02/111111111111_CloudTrail_eu-west-2_20260102T0305Z_AbCdEfGhIjKlMnOp.json.gz"
	if got != want {
		t.Errorf("LogFileKey = %s, want %s", got, want)
	}
	got = DigestFileKey("111111111111", "eu-west-2", "org-trail", at)
	want = "AWSLogs/111111111111/CloudTrail-Digest/eu-west-2/2026/01/02/111111111111_CloudTrail-Digest_eu-west-2_org-trail_eu-west-2_20260102T030500Z.json.gz"
	if got != want {
		t.Errorf("DigestFileKey = %s, want %s", got, want)
	}
}
