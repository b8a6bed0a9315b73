package orgsim

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// The mixed shape must stay the trail it always was for a seed: benchmark
// figures are compared across versions on it. The hash covers every file's
// name and uncompressed content.
func TestGenerateTrailMixedShapeIsUnchanged(t *testing.T) {
	t.Parallel()
	const want = "95922a1a85195cf6ca58e5cd9621568de6dde0c4e5cc84506df44fc80c4dbe94"
	for _, shape := range []Shape{"", ShapeMixed} {
		dir := t.TempDir()
		if _, err := GenerateTrail(context.Background(), dir, GenerateOptions{Size: 1 << 20, Seed: 9, Concurrency: 2, Shape: shape}); err != nil {
			t.Fatal(err)
		}
		if got := trailHash(t, dir); got != want {
			t.Errorf("shape %q: trail hash %s, want %s: the mixed trail of a seed changed", shape, got, want)
		}
	}
}

func trailHash(t *testing.T, dir string) string {
	t.Helper()
	var names []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			names = append(names, p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(names)
	h := sha256.New()
	for _, p := range names {
		rel, _ := filepath.Rel(dir, p)
		h.Write([]byte(filepath.ToSlash(rel) + "\n"))
		h.Write(gunzip(t, p))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// heavyRecord is what the athena-heavy test reads of a record.
type heavyRecord struct {
	EventID      string `json:"eventID"`
	EventTime    string `json:"eventTime"`
	EventSource  string `json:"eventSource"`
	EventName    string `json:"eventName"`
	AWSRegion    string `json:"awsRegion"`
	UserAgent    string `json:"userAgent"`
	SourceIP     string `json:"sourceIPAddress"`
	ErrorCode    string `json:"errorCode"`
	ReadOnly     bool   `json:"readOnly"`
	UserIdentity struct {
		ARN string `json:"arn"`
	} `json:"userIdentity"`
	RequestParameters struct {
		QueryExecutionID  string   `json:"queryExecutionId"`
		QueryExecutionIDs []string `json:"queryExecutionIds"`
		WorkGroup         string   `json:"workGroup"`
		MaxResults        int      `json:"maxResults"`
	} `json:"requestParameters"`
	ResponseElements   json.RawMessage `json:"responseElements"`
	RecipientAccountID string          `json:"recipientAccountId"`
}

func TestGenerateTrailAthenaHeavy(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	st, err := GenerateTrail(context.Background(), dir, GenerateOptions{Size: 3 << 20, Seed: 5, Concurrency: 2, Shape: ShapeAthenaHeavy})
	if err != nil {
		t.Fatal(err)
	}
	c := readTrail(t, dir) // checks the layout of every file
	if int64(len(c.records)) != st.Records {
		t.Fatalf("read %d records, stats %d", len(c.records), st.Records)
	}

	type caller struct{ arn, agent, ip string }
	type start struct {
		at time.Time
		by caller
	}
	callers := map[caller]bool{}
	started := map[string]start{} // account/region/id
	var reads []heavyRecord
	var all int
	readOnly := map[string]bool{}
	for _, r := range athenaReads {
		readOnly[r.name] = true
	}
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.Contains(p, "CloudTrail-Digest") {
			return err
		}
		var file struct{ Records []heavyRecord }
		if err := json.Unmarshal(gunzip(t, p), &file); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		for _, r := range file.Records {
			all++
			if r.EventSource != "athena.amazonaws.com" {
				continue
			}
			by := caller{r.UserIdentity.ARN, r.UserAgent, r.SourceIP}
			if r.EventName == "StartQueryExecution" {
				callers[by] = true
				if r.ErrorCode == "" {
					var resp struct{ QueryExecutionID string }
					_ = json.Unmarshal(r.ResponseElements, &resp)
					at, _ := time.Parse(time.RFC3339, r.EventTime)
					started[r.RecipientAccountID+"/"+r.AWSRegion+"/"+resp.QueryExecutionID] = start{at, by}
				}
				continue
			}
			reads = append(reads, r)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if share := float64(len(reads)) / float64(all); share < 0.33 || share > 0.38 {
		t.Errorf("Athena read calls are %.3f of all records, want about %.2f", share, athenaReadShare)
	}
	// The polling of the queries they started, by the callers that started
	// them. A few read calls (the mixed shape's own, about 0.2% of all
	// records) name random ids; they are not counted as polling.
	names := map[string]int{}
	polling := 0
	for _, r := range reads {
		names[r.EventName]++
		if !r.ReadOnly || string(r.ResponseElements) != "null" || r.ErrorCode != "" {
			t.Errorf("read call %s %s: readOnly %v, responseElements %s", r.EventName, r.EventID, r.ReadOnly, r.ResponseElements)
		}
		by := caller{r.UserIdentity.ARN, r.UserAgent, r.SourceIP}
		ids := r.RequestParameters.QueryExecutionIDs
		if id := r.RequestParameters.QueryExecutionID; id != "" {
			ids = append(ids, id)
		}
		ok := callers[by]
		for _, id := range ids {
			s, found := started[r.RecipientAccountID+"/"+r.AWSRegion+"/"+id]
			called, _ := time.Parse(time.RFC3339, r.EventTime)
			ok = ok && found && !called.Before(s.at) && s.by == by
		}
		if ok {
			polling++
		}
		switch r.EventName {
		case "GetQueryExecution", "GetQueryResults", "GetQueryRuntimeStatistics":
			if r.RequestParameters.QueryExecutionID == "" {
				t.Errorf("%s %s without a queryExecutionId", r.EventName, r.EventID)
			}
		case "BatchGetQueryExecution":
			if len(r.RequestParameters.QueryExecutionIDs) == 0 {
				t.Errorf("%s without queryExecutionIds", r.EventID)
			}
		case "ListQueryExecutions", "GetWorkGroup":
			if r.RequestParameters.WorkGroup == "" {
				t.Errorf("%s %s without a workGroup", r.EventName, r.EventID)
			}
		}
	}
	if f := float64(polling) / float64(len(reads)); f < 0.98 {
		t.Errorf("%d of %d read calls are about queries their caller started before in the same account and region, want nearly all", polling, len(reads))
	}
	for name := range readOnly {
		if names[name] == 0 {
			t.Errorf("no %s call among %d read calls", name, len(reads))
		}
	}
	// The read calls change nothing of what athenawatch finds.
	ids, refusals := readQueryEvents(t, dir)
	if int64(len(ids)) != st.Queries || int64(len(refusals)) != st.Rejected || len(ids) == 0 {
		t.Errorf("cloudtrail reader found %d queries and %d rejected; stats %d and %d", len(ids), len(refusals), st.Queries, st.Rejected)
	}
}

func TestParseShape(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"mixed", "athena-heavy"} {
		if sh, err := ParseShape(s); err != nil || string(sh) != s {
			t.Errorf("ParseShape(%q) = %q, %v", s, sh, err)
		}
	}
	for _, s := range []string{"", "Mixed", "heavy"} {
		if _, err := ParseShape(s); err == nil {
			t.Errorf("ParseShape(%q): no error", s)
		}
	}
	if _, err := GenerateTrail(context.Background(), t.TempDir(), GenerateOptions{Size: 1, Shape: "odd"}); err == nil || !strings.Contains(err.Error(), "odd") {
		t.Errorf("GenerateTrail with an unknown shape: %v", err)
	}
}
