package cloudtrail

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"
)

const (
	sqeQuery    = `{"eventVersion":"1.08","userIdentity":{"type":"IAMUser","principalId":"AIDAEXAMPLE","arn":"arn:aws:iam::123456789012:user/johndoe","accountId":"123456789012","userName":"johndoe"},"eventTime":"2026-03-01T10:00:00Z","eventSource":"athena.amazonaws.com","eventName":"StartQueryExecution","awsRegion":"eu-west-1","sourceIPAddress":"10.0.0.1","userAgent":"aws-cli/2","requestParameters":{"queryString":"SELECT \"a\\\\\" FROM t -- {[\"","clientRequestToken":"tok-1","queryExecutionContext":{"database":"sales","catalog":"awsdatacatalog"},"workGroup":"analysts"},"responseElements":{"queryExecutionId":"q-1"},"eventID":"e-1","eventType":"AwsApiCall","recipientAccountId":"123456789012"}`
	sqeRejected = `{"eventVersion":"1.08","userIdentity":{"type":"IAMUser","userName":"johndoe","accountId":"123456789012"},"eventTime":"2026-03-01 10:00:01","eventSource":"athena.amazonaws.com","eventName":"StartQueryExecution","awsRegion":"eu-west-1","errorCode":"InvalidRequestException","errorMessage":"bad","requestParameters":{"query":"SELEC 1"},"responseElements":null,"eventID":"e-2","recipientAccountId":"123456789012"}`
	otherAthena = `{"eventVersion":"1.08","eventSource":"athena.amazonaws.com","eventName":"GetQueryExecution","eventTime":"2026-03-01T10:00:02Z","requestParameters":{"queryExecutionId":"q-1"},"eventID":"e-3"}`
	s3ByAthena  = `{"eventVersion":"1.08","eventSource":"s3.amazonaws.com","eventName":"GetObject","eventTime":"2026-03-01T10:00:03Z","userAgent":"athena.amazonaws.com","sourceIPAddress":"athena.amazonaws.com","eventID":"e-4"}`
	ec2Record   = `{"eventVersion":"1.08","eventSource":"ec2.amazonaws.com","eventName":"DescribeInstances","eventTime":"2026-03-01T10:00:04Z","requestParameters":{"filterSet":{"items":[{"name":"tag:x","valueSet":{"items":[{"value":"}]\\\"{["}]}}]}},"eventID":"e-5"}`
	insightRec  = `{"eventVersion":"1.07","eventTime":"2019-11-14T00:51:00Z","awsRegion":"us-east-1","eventID":"i-1","eventType":"AwsCloudTrailInsight","recipientAccountId":"123456789012","insightDetails":{"state":"Start","eventSource":"ssm.amazonaws.com"},"eventCategory":"Insight"}`
)

func trail(recs ...string) string { return `{"Records":[` + strings.Join(recs, ",") + `]}` }

func gz(t testing.TB, s string) string {
	t.Helper()
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	if _, err := w.Write([]byte(s)); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// pretty re-indents JSON with blanks around every token, as some exporters do.
func pretty(s string) string {
	var b strings.Builder
	inStr, esc := false, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		b.WriteByte(c)
		switch {
		case inStr && esc:
			esc = false
		case inStr && c == '\\':
			esc = true
		case c == '"':
			inStr = !inStr
		case !inStr && strings.IndexByte("{}[],:", c) >= 0:
			b.WriteString("\r\n\t  ")
		}
	}
	return " \n" + b.String() + "\n\n"
}

type readResult struct {
	events []string // "q:ID" or "r:EVENTID"
	st     FileStats
	err    error
}

func readAll(t testing.TB, opts ReaderOptions, name, input string) readResult {
	t.Helper()
	var res readResult
	res.st, res.err = NewReader(opts).Read(context.Background(), name, strings.NewReader(input), func(ev *QueryEvent) error {
		if ev.Rejected() {
			res.events = append(res.events, "r:"+ev.EventID)
		} else {
			res.events = append(res.events, "q:"+ev.QueryID)
		}
		return nil
	})
	return res
}

func TestReadFormats(t *testing.T) {
	t.Parallel()
	both := []string{"q:q-1", "r:e-2"}
	lookup := func(recs ...string) string {
		var ev []string
		for _, r := range recs {
			q, _ := jsonString(r)
			ev = append(ev, `{"EventId":"x","EventName":"StartQueryExecution","CloudTrailEvent":`+q+`}`)
		}
		return `{"Events":[` + strings.Join(ev, ",") + `],"NextToken":"abc"}`
	}
	eventBridge := func(rec string) string {
		return `{"version":"0","id":"1","detail-type":"AWS API Call via CloudTrail","source":"aws.athena","detail":` + rec + `}`
	}
	tests := []struct {
		name   string
		input  string
		want   []string
		format string
		stats  FileStats // Records, AthenaRecords, Insights checked
	}{
		{"trail", trail(ec2Record, sqeQuery, s3ByAthena, otherAthena, sqeRejected), both, "trail", FileStats{Records: 5, AthenaRecords: 3}},
		{"trail gzip", gz(t, trail(sqeQuery, ec2Record, sqeRejected)), both, "trail", FileStats{Records: 3, AthenaRecords: 2}},
		{"trail pretty", pretty(trail(ec2Record, sqeQuery, sqeRejected)), both, "trail", FileStats{Records: 3, AthenaRecords: 2}},
		{"Records not first key", `{"v":{"a":[1,"]"]},"Records":[` + sqeQuery + `],"n":null}`, []string{"q:q-1"}, "trail", FileStats{Records: 1, AthenaRecords: 1}},
		{"bare record", sqeQuery, []string{"q:q-1"}, "record", FileStats{Records: 1, AthenaRecords: 1}},
		{"bare record pretty", pretty(sqeRejected), []string{"r:e-2"}, "record", FileStats{Records: 1, AthenaRecords: 1}},
		{"ndjson records", ec2Record + "\n" + sqeQuery + "\n" + sqeRejected + "\n", both, "record", FileStats{Records: 3, AthenaRecords: 2}},
		{"ndjson envelopes", trail(sqeQuery) + "\n" + trail(ec2Record, sqeRejected) + "\n", both, "trail", FileStats{Records: 3, AthenaRecords: 2}},
		{"lookup events", lookup(sqeQuery, ec2Record, sqeRejected), both, "lookup-events", FileStats{Records: 3, AthenaRecords: 2}},
		{"lookup insights skipped", `{"Events":[` + insightRec + `]}`, nil, "lookup-events", FileStats{Records: 1, Insights: 1}},
		{"eventbridge", eventBridge(sqeQuery), []string{"q:q-1"}, "eventbridge", FileStats{Records: 1, AthenaRecords: 1}},
		{"eventbridge ndjson gzip", gz(t, eventBridge(sqeQuery)+"\n"+eventBridge(sqeRejected)), both, "eventbridge", FileStats{Records: 2, AthenaRecords: 2}},
		{"mixed insights in trail", trail(ec2Record, insightRec, sqeQuery), []string{"q:q-1"}, "trail", FileStats{Records: 3, AthenaRecords: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res := readAll(t, ReaderOptions{}, tt.name, tt.input)
			if res.err != nil {
				t.Fatalf("Read: %v", res.err)
			}
			if fmt.Sprint(res.events) != fmt.Sprint(tt.want) {
				t.Errorf("events = %v, want %v", res.events, tt.want)
			}
			if res.st.Format != tt.format {
				t.Errorf("Format = %q, want %q", res.st.Format, tt.format)
			}
			if res.st.Records != tt.stats.Records || res.st.AthenaRecords != tt.stats.AthenaRecords || res.st.Insights != tt.stats.Insights {
				t.Errorf("stats = %+v, want %+v", res.st, tt.stats)
			}
			if len(res.st.Issues) != 0 {
				t.Errorf("issues: %v", res.st.Issues)
			}
			if res.st.Queries+res.st.Rejected != len(res.events) {
				t.Errorf("Queries %d + Rejected %d != %d events", res.st.Queries, res.st.Rejected, len(res.events))
			}
			// Every record boundary across every read size gives the same result.
			for _, size := range []int{1, 2, 3, 5, 7, 16, 61} {
				got := readAll(t, ReaderOptions{BufferBytes: size}, tt.name, tt.input)
				if fmt.Sprint(got.events) != fmt.Sprint(res.events) || got.err != nil || got.st.Records != res.st.Records {
					t.Fatalf("buffer %d: events %v err %v records %d; want %v, %d", size, got.events, got.err, got.st.Records, res.events, res.st.Records)
				}
			}
		})
	}
}

func jsonString(s string) (string, error) {
	b, err := json.Marshal(s)
	return string(b), err
}

func jsonUnmarshalString(q string, s *string) error { return json.Unmarshal([]byte(q), s) }

func TestReadBadInput(t *testing.T) {
	t.Parallel()
	good := gz(t, trail(sqeQuery, ec2Record, sqeRejected, ec2Record, ec2Record))
	big := newTrailGen(7).file(1 << 20)
	bigGz := gz(t, string(big))
	tests := []struct {
		name      string
		file      string
		input     string
		wantErr   error  // nil: no error
		errText   string // substring of the error
		minEvents int
		issue     error // an issue that must be reported
	}{
		{"truncated gzip", "a.json.gz", good[:len(good)-9], ErrBadInput, "byte", 0, nil},
		{"truncated gzip keeps earlier events", "b.json.gz", bigGz[:len(bigGz)*2/3], ErrBadInput, "b.json.gz", 1, nil},
		{"corrupt gzip", "c.json.gz", good[:20] + strings.Repeat("x", 40) + good[60:], ErrBadInput, "gzip", 0, nil},
		{"gzip header only", "h.json.gz", good[:2], ErrBadInput, "gzip", 0, nil},
		{"not JSON", "n.json", "hello world", ErrBadInput, "not JSON", 0, nil},
		{"empty", "e.json", "", ErrBadInput, "empty input", 0, nil},
		{"blank", "e2.json", " \n\t ", ErrBadInput, "empty input", 0, nil},
		{"top level array", "arr.json", `[` + sqeQuery + `]`, ErrBadInput, "array", 0, nil},
		{"Records not an array", "r5.json", `{"Records": 5}`, ErrBadInput, "Records is not an array", 0, nil},
		{"Records an object", "ro.json", `{"Records": {}}`, ErrBadInput, "Records is not an array", 0, nil},
		{"empty Records", "empty.json", `{"Records":[]}`, nil, "", 0, ErrNoRecords},
		{"trailing garbage", "tg.json", trail(sqeQuery) + " garbage", ErrBadInput, "trailing data", 1, nil},
		{"trailing comma after record", "tc.json", sqeQuery + ",\n", ErrBadInput, "trailing data", 1, nil},
		{"trailing comma in Records", "tcr.json", `{"Records":[` + sqeQuery + `,]}`, ErrBadInput, "trailing comma", 1, nil},
		{"truncated JSON", "tj.json", trail(sqeQuery, ec2Record)[:len(trail(sqeQuery, ec2Record))-40], ErrBadInput, "truncated", 1, nil},
		{"unterminated string", "us.json", `{"Records":[{"a":"abc`, ErrBadInput, "truncated", 0, nil},
		{"mismatched brackets", "mb.json", `{"Records":[{"a":[1}]}`, ErrBadInput, "unexpected '}'", 0, nil},
		{"missing comma between records", "mc.json", `{"Records":[` + sqeQuery + sqeQuery + `]}`, ErrBadInput, "expected ','", 1, nil},
		{"raw line break in a string", "lb.json", `{"Records":[{"a":"x` + "\n" + `y"},` + sqeQuery + `]}`, ErrBadInput, "record 0 is not valid JSON", 1, nil},
		{"record not an object", "no.json", `{"Records":[1,"x",[2],` + sqeQuery + `]}`, nil, "", 1, ErrNotRecord},
		{"athena record that does not decode", "nd.json", trail(strings.Replace(sqeQuery, `"q-1"`, `5`, 1), sqeRejected), nil, "", 1, nil},
		{"digest by content", "d.json", `{"awsAccountId":"111122223333","digestStartTime":"2026-03-01T00:00:00Z","digestEndTime":"2026-03-01T01:00:00Z","logFiles":[]}`, ErrDigest, "digest", 0, nil},
		{"digest by name", "AWSLogs/1/CloudTrail-Digest/eu-west-1/2026/03/01/x.json.gz", trail(sqeQuery), ErrDigest, "digest", 0, nil},
		{"insights file", "AWSLogs/1/CloudTrail-Insight/x.json.gz", gz(t, trail(insightRec, insightRec)), ErrDigest, "Insights", 0, nil},
		{"deep nesting", "deep.json", `{"Records":[{"a":` + strings.Repeat("[", 20000) + strings.Repeat("]", 20000) + `}]}`, ErrBadInput, "nesting", 0, nil},
		{"invalid literal at top level", "lit.json", `{"x": tru#, "Records":[]}`, ErrBadInput, "invalid character", 0, nil},
		{"key without colon", "kc.json", `{"Records" []}`, ErrBadInput, "expected ':'", 0, nil},
		{"bare object that is no record", "nr.json", `{"foo":1}`, nil, "", 0, ErrNotRecord},
		{"invalid bare record", "ib.json", `{"eventVersion":"1" "x":2}`, ErrBadInput, "expected ','", 0, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			for _, size := range []int{0, 3} {
				res := readAll(t, ReaderOptions{BufferBytes: size}, tt.file, tt.input)
				if tt.wantErr == nil && res.err != nil {
					t.Fatalf("Read: unexpected error %v", res.err)
				}
				if tt.wantErr != nil {
					if !errors.Is(res.err, tt.wantErr) {
						t.Fatalf("Read error = %v, want %v", res.err, tt.wantErr)
					}
					if !strings.Contains(res.err.Error(), tt.file) || !strings.Contains(res.err.Error(), tt.errText) {
						t.Errorf("error %q does not name the file %q and say %q", res.err, tt.file, tt.errText)
					}
					if errors.Is(res.err, ErrBadInput) && !strings.Contains(res.err.Error(), "at byte") {
						t.Errorf("error %q has no offset", res.err)
					}
				}
				if len(res.events) < tt.minEvents {
					t.Errorf("%d events, want at least %d (found before the error)", len(res.events), tt.minEvents)
				}
				if tt.issue != nil {
					found := false
					for _, is := range res.st.Issues {
						found = found || errors.Is(is, tt.issue)
						if !strings.Contains(is.Error(), tt.file) {
							t.Errorf("issue %q does not name the file", is)
						}
					}
					if !found {
						t.Errorf("issues %v, want one wrapping %v", res.st.Issues, tt.issue)
					}
				}
			}
		})
	}
}

func TestReadAthenaRecordThatDoesNotDecode(t *testing.T) {
	t.Parallel()
	res := readAll(t, ReaderOptions{}, "nd.json", trail(strings.Replace(sqeQuery, `"q-1"`, `5`, 1), sqeRejected))
	if res.err != nil || fmt.Sprint(res.events) != "[r:e-2]" {
		t.Fatalf("events %v, err %v", res.events, res.err)
	}
	if len(res.st.Issues) != 1 || res.st.Issues[0].Record != 0 || !strings.Contains(res.st.Issues[0].Error(), "record 0") {
		t.Errorf("issues = %v, want one naming record 0", res.st.Issues)
	}
}

// bigRecordFile streams a trail with good records before and after one
// record of size bytes, without holding it in memory.
func bigRecordFile(size int) io.Reader {
	head := `{"Records":[` + sqeQuery + `,{"eventSource":"s3.amazonaws.com","requestParameters":{"blob":"`
	tail := `"}},` + sqeRejected + `]}`
	pad := size - len(`{"eventSource":"s3.amazonaws.com","requestParameters":{"blob":""}}`)
	return io.MultiReader(strings.NewReader(head), io.LimitReader(repeatReader('x'), int64(pad)), strings.NewReader(tail))
}

type repeatReader byte

func (r repeatReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(r)
	}
	return len(p), nil
}

func TestReadHugeRecord(t *testing.T) {
	// Not parallel: it measures allocation.
	const size = 64 << 20
	r := NewReader(ReaderOptions{})
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	var events []string
	st, err := r.Read(context.Background(), "huge.json", bigRecordFile(size), func(ev *QueryEvent) error {
		events = append(events, ev.EventID)
		return nil
	})
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	if fmt.Sprint(events) != "[e-1 e-2]" {
		t.Errorf("events = %v, want the records before and after the huge one", events)
	}
	if len(st.Issues) != 1 || !errors.Is(st.Issues[0], ErrRecordTooLarge) || st.Issues[0].Record != 1 ||
		!strings.Contains(st.Issues[0].Error(), "huge.json") {
		t.Errorf("issues = %v, want record 1 too large", st.Issues)
	}
	if st.Records != 3 || st.Bytes < size {
		t.Errorf("stats = %+v", st)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc >= size {
		t.Errorf("allocated %d MiB reading a %d MiB record", alloc>>20, size>>20)
	}
	// A small limit must not buffer much at all.
	runtime.ReadMemStats(&before)
	st, err = NewReader(ReaderOptions{MaxRecordBytes: 1 << 20}).Read(context.Background(), "huge.json", bigRecordFile(size), func(*QueryEvent) error { return nil })
	runtime.ReadMemStats(&after)
	if err != nil || st.Queries != 1 || st.Rejected != 1 {
		t.Fatalf("small limit: %+v, %v", st, err)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc >= 8<<20 {
		t.Errorf("allocated %d MiB with a 1 MiB record limit", alloc>>20)
	}
}

func TestReadStops(t *testing.T) {
	t.Parallel()
	input := trail(sqeQuery, sqeRejected)
	stop := errors.New("stop")
	n := 0
	_, err := NewReader(ReaderOptions{}).Read(context.Background(), "s.json", strings.NewReader(input), func(*QueryEvent) error {
		n++
		return stop
	})
	if err != stop || n != 1 {
		t.Errorf("fn error: got %v after %d events, want it returned as is after 1", err, n)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = NewReader(ReaderOptions{}).Read(ctx, "c.json", strings.NewReader(input), func(*QueryEvent) error { return nil })
	if !errors.Is(err, context.Canceled) || errors.Is(err, ErrBadInput) {
		t.Errorf("cancelled: %v", err)
	}

	broken := errors.New("connection reset")
	src := io.MultiReader(strings.NewReader(`{"Records":[`+sqeQuery), errReader{broken})
	_, err = NewReader(ReaderOptions{}).Read(context.Background(), "io.json", src, func(*QueryEvent) error { return nil })
	if !errors.Is(err, broken) || errors.Is(err, ErrBadInput) || !strings.Contains(err.Error(), "io.json") {
		t.Errorf("source error: %v", err)
	}
	zsrc := io.MultiReader(strings.NewReader(gz(t, trail(sqeQuery))[:30]), errReader{broken})
	_, err = NewReader(ReaderOptions{}).Read(context.Background(), "io.json.gz", zsrc, func(*QueryEvent) error { return nil })
	if !errors.Is(err, broken) || errors.Is(err, ErrBadInput) {
		t.Errorf("source error under gzip: %v", err)
	}
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

// TestReaderReuse reads many files with one Reader, alternating formats and
// failures, and checks nothing leaks from one file into the next.
func TestReaderReuse(t *testing.T) {
	t.Parallel()
	r := NewReader(ReaderOptions{BufferBytes: 64})
	inputs := []struct {
		in   string
		want string
	}{
		{gz(t, trail(sqeQuery)), "[q:q-1]"},
		{`{"Records":[{"a":"unterminated`, "[]"},
		{trail(sqeRejected), "[r:e-2]"},
		{gz(t, trail(sqeQuery))[:40], "[]"},
		{sqeQuery + "\n" + sqeRejected, "[q:q-1 r:e-2]"},
	}
	for i, in := range inputs {
		var got []string
		r.Read(context.Background(), fmt.Sprint(i), strings.NewReader(in.in), func(ev *QueryEvent) error {
			if ev.Rejected() {
				got = append(got, "r:"+ev.EventID)
			} else {
				got = append(got, "q:"+ev.QueryID)
			}
			return nil
		})
		if fmt.Sprint(got) != in.want {
			t.Errorf("file %d: %v, want %s", i, got, in.want)
		}
	}
}

func TestParseRecordFields(t *testing.T) {
	t.Parallel()
	ev, ok, err := ParseRecord([]byte(sqeQuery))
	if err != nil || !ok {
		t.Fatalf("ParseRecord: %v, %v", ok, err)
	}
	want := QueryEvent{
		EventID: "e-1", EventTime: time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC), Region: "eu-west-1",
		RecipientAccount: "123456789012", QueryID: "q-1", QueryText: `SELECT "a\\" FROM t -- {["`,
		Database: "sales", Catalog: "awsdatacatalog", Workgroup: "analysts", ClientRequestToken: "tok-1",
		SourceIPAddress: "10.0.0.1", UserAgent: "aws-cli/2",
		Identity: Identity{Type: "IAMUser", PrincipalID: "AIDAEXAMPLE", ARN: "arn:aws:iam::123456789012:user/johndoe", AccountID: "123456789012", UserName: "johndoe"},
	}
	if *ev != want {
		t.Errorf("ParseRecord =\n%+v\nwant\n%+v", *ev, want)
	}

	tests := []struct {
		name    string
		in      string
		ok      bool
		wantErr bool
		check   func(*QueryEvent) string
	}{
		{"rejected with query key and space time", sqeRejected, true, false, func(ev *QueryEvent) string {
			if !ev.Rejected() || ev.ErrorCode != "InvalidRequestException" || ev.QueryText != "SELEC 1" ||
				!ev.EventTime.Equal(time.Date(2026, 3, 1, 10, 0, 1, 0, time.UTC)) {
				return fmt.Sprintf("%+v", ev)
			}
			return ""
		}},
		{"omitted text", strings.Replace(sqeQuery, `"queryString":"SELECT \"a\\\\\" FROM t -- {[\""`, `"queryString":"***OMITTED***"`, 1), true, false, func(ev *QueryEvent) string {
			if ev.QueryText != "" {
				return "QueryText = " + ev.QueryText
			}
			return ""
		}},
		{"fractional time", strings.Replace(sqeQuery, `2026-03-01T10:00:00Z`, `2026-03-01T10:00:00.123456Z`, 1), true, false, func(ev *QueryEvent) string {
			if ev.EventTime.Nanosecond() != 123456000 {
				return ev.EventTime.String()
			}
			return ""
		}},
		{"space time with nanos", strings.Replace(sqeQuery, `2026-03-01T10:00:00Z`, `2021-10-19 04:50:27.123456789`, 1), true, false, func(ev *QueryEvent) string {
			if !ev.EventTime.Equal(time.Date(2021, 10, 19, 4, 50, 27, 123456789, time.UTC)) {
				return ev.EventTime.String()
			}
			return ""
		}},
		{"offset time", strings.Replace(sqeQuery, `2026-03-01T10:00:00Z`, `2026-03-01T11:00:00+01:00`, 1), true, false, func(ev *QueryEvent) string {
			if !ev.EventTime.Equal(time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)) || ev.EventTime.Location() != time.UTC {
				return ev.EventTime.String()
			}
			return ""
		}},
		{"unreadable time", strings.Replace(sqeQuery, `2026-03-01T10:00:00Z`, `redacted`, 1), false, true, nil},
		{"impossible region", strings.Replace(sqeQuery, `"eu-west-1"`, `"../../etc"`, 1), false, true, nil},
		{"sso identity", strings.Replace(sqeQuery, `"userIdentity":{"type":"IAMUser"`, `"userIdentity":{"onBehalfOf":{"userId":"u-1","identityStoreArn":"arn:aws:identitystore::1:identitystore/d-1"},"sessionContext":{"sourceIdentity":"src","sessionIssuer":{"type":"Role","userName":"AWSReservedSSO_X_1","arn":"arn:aws:iam::1:role/AWSReservedSSO_X_1"}},"invokedBy":"svc","type":"AssumedRole"`, 1), true, false, func(ev *QueryEvent) string {
			id := ev.Identity
			if id.OnBehalfOfUserID != "u-1" || id.OnBehalfOfIdentityStoreARN == "" || id.SourceIdentity != "src" || id.IssuerUserName != "AWSReservedSSO_X_1" || id.IssuerType != "Role" || id.IssuerARN == "" || id.InvokedBy != "svc" || id.Type != "AssumedRole" {
				return fmt.Sprintf("%+v", id)
			}
			return ""
		}},
		{"other athena call", otherAthena, false, false, nil},
		{"other service", ec2Record, false, false, nil},
		{"insights", insightRec, false, false, nil},
		{"neither id nor error", strings.Replace(sqeQuery, `"q-1"`, `""`, 1), false, true, nil},
		{"id of the wrong type", strings.Replace(sqeQuery, `"q-1"`, `7`, 1), false, true, nil},
		{"wrong type elsewhere in another service", strings.Replace(ec2Record, `"e-5"`, `5`, 1), false, false, nil},
		{"not JSON", `{"eventSource":`, false, true, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ev, ok, err := ParseRecord([]byte(tt.in))
			if ok != tt.ok || (err != nil) != tt.wantErr {
				t.Fatalf("ParseRecord: ok %v err %v; want ok %v, error %v", ok, err, tt.ok, tt.wantErr)
			}
			if tt.check != nil {
				if msg := tt.check(ev); msg != "" {
					t.Error(msg)
				}
			}
		})
	}
}

func TestParseEnvelopes(t *testing.T) {
	t.Parallel()
	q, _ := jsonString(sqeQuery)
	var s string
	if err := jsonUnmarshalString(q, &s); err != nil {
		t.Fatal(err)
	}
	ev, ok, err := ParseLookupEvent(s)
	if err != nil || !ok || ev.QueryID != "q-1" {
		t.Errorf("ParseLookupEvent: %v %v %v", ev, ok, err)
	}
	ev, ok, err = ParseEventBridge([]byte(`{"detail-type":"AWS API Call via CloudTrail","detail":` + sqeRejected + `}`))
	if err != nil || !ok || ev.EventID != "e-2" {
		t.Errorf("ParseEventBridge: %v %v %v", ev, ok, err)
	}
	if _, ok, err := ParseEventBridge([]byte(`{"detail-type":"Object Created","detail":{}}`)); ok || err != nil {
		t.Errorf("ParseEventBridge of another event: %v %v", ok, err)
	}
	if _, _, err := ParseEventBridge([]byte(`{"detail-type":`)); !errors.Is(err, ErrBadInput) {
		t.Errorf("ParseEventBridge of broken JSON: %v", err)
	}
}
