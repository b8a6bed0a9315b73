package cloudtrail

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/klauspost/compress/gzip"
)

// FuzzRead feeds arbitrary bytes to Read (found inputs are kept under
// testdata/fuzz/FuzzRead). Invariants: no panic; every error is bad input
// or ignored and names the file; events come only from input that names
// athena.amazonaws.com; stats agree with the events; reads of 1 to 13 bytes
// give what one large read gives; leaving records undecoded by their
// top-level keys (classifyRecord) gives the events that decoding every
// record that names Athena gives, and for input that is valid JSON, the
// same stats, issues and error too.
func FuzzRead(f *testing.F) {
	for _, s := range []string{
		trail(withName(`"eventName":"GetQueryExecution",`), sqeQuery, withName(`"eventName":"Start\u0051ueryExecution",`)),
		trail(ec2Record, withName(`"eventName":"GetQueryExecution","EventName":"StartQueryExecution",`), withName(`"eventName":"ListQueryExecutions","eventName":"StartQueryExecution",`)),
		trail(sqeQuery, withName(`"requestParameters":{"eventName":"GetQueryResults","x":[{"eventName":"a"}]},"eventName":"BatchGetQueryExecution",`)),
		trail(ec2Record, `{"eventVersion":"1.07","eventType":"AwsCloudTrailInsight","insightDetails":{"eventSource":"athena.amazonaws.com","eventName":"GetQueryExecution"},"eventCategory":"Insight"}`, sqeQuery),
		pretty(trail(withName(`"eventName":"GetWorkGroup",`), sqeRejected)),
		withName(`"eventName":"GetQueryRuntimeStatistics",`) + "\n" + sqeQuery + "\n" + withName(`"eventName" : "GetQueryExecution" , "x":tru,`) + "\n",
		trail(strings.Replace(withName(`"eventName":"GetQueryExecution",`), `"eventSource"`, `"eventſource"`, 1), withName(`"eventName":null,"eventName":"StartQueryExecution",`)),
		trail(withName(`"eventName":"GetQueryExecution","a":{"b":[1,2,{"c":"\\\""}]},`), withName(`"eventName":"GetQueryExecution",,`)),
		trail(sqeQuery, ec2Record, sqeRejected),
		pretty(trail(sqeQuery, insightRec)),
		sqeQuery + "\n" + sqeRejected,
		`{"Events":[{"CloudTrailEvent":"{\"eventSource\":\"athena.amazonaws.com\",\"eventName\":\"StartQueryExecution\",\"errorCode\":\"X\"}"}]}`,
		`{"detail-type":"AWS API Call via CloudTrail","detail":` + sqeQuery + `}`,
		`{"Records":[]}`, `{"Records":5}`, `[]`, `{"a":"\\\"","Records":[{"b":"\\\\"}]}`,
		`{"awsAccountId":"1","digestStartTime":"x"}`,
		gz(f, trail(sqeQuery)),
	} {
		f.Add([]byte(s))
	}
	// Seed from the corpus when it is there; the fuzz test must not need it.
	{
		if d := findCorpusQuiet(); d != "" {
			for _, name := range []string{
				"cloudtrail/s3-format-files/trailscraper/someRecords.json.gz",
				"cloudtrail/s3-format-files/trailscraper/events-for-smoke-test.json",
				"aws-docs/athena-user-guide/monitor-with-cloudtrail__StartQueryExecution-successful.json",
				"aws-docs/aws-cli-examples/cloudtrail__lookup-events__output.json",
				"aws-docs/cloudtrail-user-guide/cloudtrail-log-file-examples__08__CloudTrail-Insights-event-log-example.json",
				"aws-docs/iam-user-guide/cloudtrail-integration__08__ConsoleLogin__IAMUser.json",
				"eventbridge/awsdocs-step-functions__tutorial-cloudwatch-events-s3__PutObject.json",
			} {
				if data, err := os.ReadFile(filepath.Join(d, name)); err == nil {
					f.Add(data)
				}
			}
		}
	}
	big := NewReader(ReaderOptions{MaxRecordBytes: 4096})
	small := NewReader(ReaderOptions{MaxRecordBytes: 4096})
	decodeAll := NewReader(ReaderOptions{MaxRecordBytes: 4096})
	decodeAll.decodeAll = true
	f.Fuzz(func(t *testing.T, data []byte) {
		got := fuzzRead(t, big, data)
		plain := data
		if len(data) > 2 && data[0] == 0x1f && data[1] == 0x8b {
			zr, err := gzip.NewReader(bytes.NewReader(data))
			if err != nil {
				plain = nil
			} else {
				var b bytes.Buffer
				_, _ = b.ReadFrom(io.LimitReader(zr, 64<<20))
				plain = b.Bytes()
			}
		}
		// A JSON escape can spell the name in a LookupEvents string.
		if len(got.events) > 0 && !bytes.Contains(plain, athenaMarker) && !bytes.Contains(plain, []byte(`\u`)) {
			t.Fatalf("events %v from input that never names athena.amazonaws.com", got.events)
		}
		full := fuzzRead(t, decodeAll, data)
		if fmt.Sprint(full.events) != fmt.Sprint(got.events) {
			t.Fatalf("records left undecoded change the events: %v, decoding all gives %v", got.events, full.events)
		}
		if validJSONStream(plain) && fmt.Sprint(full.st, full.err) != fmt.Sprint(got.st, got.err) {
			t.Fatalf("records left undecoded change the result of valid JSON:\n%+v %v\ndecoding all gives\n%+v %v", got.st, got.err, full.st, full.err)
		}
		small.opts.BufferBytes = 1 + len(data)%13
		again := fuzzRead(t, small, data)
		if fmt.Sprint(again.events, again.st.Records, again.st.Issues, again.err) != fmt.Sprint(got.events, got.st.Records, got.st.Issues, got.err) {
			t.Fatalf("read size %d changes the result:\n%v %d %v %v\nwant\n%v %d %v %v", small.opts.BufferBytes,
				again.events, again.st.Records, again.st.Issues, again.err, got.events, got.st.Records, got.st.Issues, got.err)
		}
	})
}

func fuzzRead(t *testing.T, r *Reader, data []byte) readResult {
	var res readResult
	res.st, res.err = r.Read(context.Background(), "fuzz.json", bytes.NewReader(data), func(ev *QueryEvent) error {
		if ev.QueryID == "" && ev.ErrorCode == "" {
			t.Fatalf("event with neither query id nor error code: %+v", ev)
		}
		if ev.Rejected() {
			res.events = append(res.events, "r:"+ev.EventID)
		} else {
			res.events = append(res.events, "q:"+ev.QueryID)
		}
		return nil
	})
	if res.err != nil {
		if !errors.Is(res.err, ErrBadInput) && !errors.Is(res.err, ErrDigest) {
			t.Fatalf("error is neither bad input nor ignored: %v", res.err)
		}
		if !strings.Contains(res.err.Error(), "fuzz.json") {
			t.Fatalf("error does not name the file: %v", res.err)
		}
	}
	if res.st.Queries+res.st.Rejected != len(res.events) {
		t.Fatalf("stats %+v disagree with %d events", res.st, len(res.events))
	}
	if res.st.AthenaRecords > res.st.Records || len(res.st.Issues) > maxIssues {
		t.Fatalf("stats out of bounds: %+v", res.st)
	}
	return res
}

// validJSONStream reports whether b is one or more JSON values separated
// by blanks.
func validJSONStream(b []byte) bool {
	dec := json.NewDecoder(bytes.NewReader(b))
	n := 0
	for ; ; n++ {
		var v json.RawMessage
		err := dec.Decode(&v)
		if err == io.EOF {
			return n > 0
		}
		if err != nil {
			return false
		}
	}
}

// findCorpusQuiet is corpusDir without skipping: "" when there is none.
func findCorpusQuiet() string {
	if dir := os.Getenv("ATHENAWATCH_CORPUS"); dir != "" {
		return dir
	}
	wd, err := os.Getwd()
	if err != nil {
		return ""
	}
	for d := wd; filepath.Dir(d) != d; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			c := filepath.Join(d, "..", "shared", "corpus")
			if _, err := os.Stat(c); err == nil {
				return c
			}
			return ""
		}
	}
	return ""
}
