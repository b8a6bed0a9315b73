package orgsim

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/athenawatch/athenawatch/internal/cloudtrail"
)

func TestGenerateTrail(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		size   int64
		athena float64
	}{
		{"default mix", 4 << 20, 0},
		{"athena heavy", 1 << 20, 0.2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			st, err := GenerateTrail(context.Background(), dir, GenerateOptions{Size: tt.size, AthenaFraction: tt.athena, Seed: 9, Concurrency: 2})
			if err != nil {
				t.Fatal(err)
			}
			if st.UncompressedBytes < tt.size {
				t.Errorf("%d bytes, want >= %d", st.UncompressedBytes, tt.size)
			}
			c := readTrail(t, dir)
			if int64(len(c.records)) != st.Records || c.files != st.Files || c.digests != st.DigestFiles {
				t.Errorf("read %d records %d files %d digests; stats %+v", len(c.records), c.files, c.digests, st.TrailStats)
			}
			seen := make(map[string]bool)
			var athena, queries, rejected int64
			for _, r := range c.records {
				if r.EventSource != "athena.amazonaws.com" {
					continue
				}
				athena++
				if seen[r.EventID] {
					continue
				}
				seen[r.EventID] = true
				if r.EventName != "StartQueryExecution" {
					continue
				}
				if r.ErrorCode != "" && r.ResponseElements.QueryExecutionID == "" {
					rejected++
				} else if r.ResponseElements.QueryExecutionID != "" {
					queries++
				}
			}
			if athena != st.AthenaRecords || queries != st.Queries || rejected != st.Rejected {
				t.Errorf("read %d athena records, %d queries, %d rejected; stats %d, %d, %d",
					athena, queries, rejected, st.AthenaRecords, st.Queries, st.Rejected)
			}
			// athenawatch's own reader finds the same queries and refusals.
			ids, refusals := readQueryEvents(t, dir)
			if int64(len(ids)) != st.Queries || int64(len(refusals)) != st.Rejected {
				t.Errorf("cloudtrail reader found %d queries and %d rejected; stats %d and %d", len(ids), len(refusals), st.Queries, st.Rejected)
			}
			want := tt.athena
			if want == 0 {
				want = 0.01
			}
			if f := float64(athena) / float64(len(c.records)); f < want*0.8 || f > want*1.2 {
				t.Errorf("athena fraction %.4f, want about %.4f", f, want)
			}
		})
	}
}

// readQueryEvents reads a trail directory with the cloudtrail reader and
// returns the distinct query ids (region/id) and rejected event ids.
func readQueryEvents(t *testing.T, dir string) (queries, rejected map[string]bool) {
	t.Helper()
	queries, rejected = make(map[string]bool), make(map[string]bool)
	eachQueryEvent(t, context.Background(), dir, func(_ string, ev *cloudtrail.QueryEvent) {
		if ev.Rejected() {
			rejected[ev.EventID] = true
		} else {
			queries[ev.Region+"/"+ev.QueryID] = true
		}
	})
	return queries, rejected
}

// eachQueryEvent reads every file of a trail directory with the cloudtrail reader
// and calls fn for each query event. Digest files are expected under
// CloudTrail-Digest and nowhere else; any other read error fails the test.
func eachQueryEvent(t *testing.T, ctx context.Context, dir string, fn func(path string, ev *cloudtrail.QueryEvent)) {
	t.Helper()
	reader := cloudtrail.NewReader(cloudtrail.ReaderOptions{})
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = reader.Read(ctx, path, f, func(ev *cloudtrail.QueryEvent) error {
			fn(path, ev)
			return nil
		})
		if errors.Is(err, cloudtrail.ErrDigest) && strings.Contains(path, "CloudTrail-Digest") {
			return nil
		}
		return err
	})
	if err != nil {
		t.Fatalf("read trail %s: %v", dir, err)
	}
}
