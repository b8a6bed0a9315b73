package s3

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/athenawatch/athenawatch/internal/awsemu"
	"github.com/athenawatch/athenawatch/internal/config"
	"github.com/athenawatch/athenawatch/internal/source"
	"github.com/athenawatch/athenawatch/internal/store"
	"github.com/athenawatch/athenawatch/internal/usage"
)

const (
	bucket = "org-trail"
	orgID  = "o-a1b2c3d4e5"
)

// bucketEnv is an emulated S3 bucket holding an organization trail.
type bucketEnv struct {
	t      testing.TB
	emu    *awsemu.Emulator
	cfg    aws.Config
	client *s3.Client
}

func newBucket(t testing.TB) *bucketEnv {
	t.Helper()
	emu := awsemu.New(awsemu.Options{})
	srv := httptest.NewServer(emu)
	t.Cleanup(srv.Close)
	creds := emu.AddUser("999999999999", "collector")
	cfg := aws.Config{
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider(creds.AccessKeyID, creds.SecretAccessKey, ""),
		BaseEndpoint: aws.String(srv.URL),
	}
	b := &bucketEnv{t: t, emu: emu, cfg: cfg, client: s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true })}
	if _, err := b.client.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatal(err)
	}
	return b
}

// put stores body under key, gzip-compressed as CloudTrail writes it.
func (b *bucketEnv) put(key, body string) {
	b.t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write([]byte(body))
	zw.Close()
	if _, err := b.client.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(buf.Bytes())}); err != nil {
		b.t.Fatalf("put %s: %v", key, err)
	}
}

// logKey is the key CloudTrail gives a log file of an organization trail.
func logKey(account, region string, at time.Time, unique string) string {
	return fmt.Sprintf("AWSLogs/%s/%s/CloudTrail/%s/%s/%s_CloudTrail_%s_%s_%s.json.gz",
		orgID, account, region, at.Format("2006/01/02"), account, region, at.Format("20060102T1504Z"), unique)
}

func record(account, region, id string, at time.Time) string {
	return fmt.Sprintf(`{"eventVersion":"1.09","userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::%[1]s:user/alice","accountId":"%[1]s","userName":"alice"},"eventTime":"%[4]s","eventSource":"athena.amazonaws.com","eventName":"StartQueryExecution","awsRegion":"%[2]s","requestParameters":{"queryString":"***OMITTED***"},"responseElements":{"queryExecutionId":"%[3]s"},"eventID":"e-%[3]s","eventType":"AwsApiCall","recipientAccountId":"%[1]s"}`,
		account, region, id, at.UTC().Format(time.RFC3339))
}

// putLog stores a log file delivered at `at` holding queries ids.
func (b *bucketEnv) putLog(account, region string, at time.Time, unique string, ids ...string) string {
	var recs []string
	for _, id := range ids {
		recs = append(recs, record(account, region, id, at.Add(-time.Minute)))
	}
	key := logKey(account, region, at, unique)
	b.put(key, `{"Records":[`+strings.Join(recs, ",")+`]}`)
	return key
}

func (b *bucketEnv) source(prefix string) *Source {
	return &Source{Bucket: bucket, Prefix: prefix, AWS: func(context.Context) (aws.Config, error) { return b.cfg, nil },
		retryBase: time.Millisecond, sdkBackoff: quickBackoff{}}
}

// quickBackoff keeps the SDK's retries of the fault tests short.
type quickBackoff struct{}

func (quickBackoff) BackoffDelay(int, error) (time.Duration, error) { return time.Millisecond, nil }

func (b *bucketEnv) gets() int { return b.emu.S3Calls()[awsemu.S3GetObject] }

func newCollector(t testing.TB) (*source.Collector, *store.Store) {
	t.Helper()
	st, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	cfg, _ := config.Load("")
	return &source.Collector{Store: st, Rules: usage.NewRules(cfg)}, st
}

func collect(t *testing.T, col *source.Collector, src source.Source) *source.Summary {
	t.Helper()
	sum, err := col.Collect(context.Background(), src)
	if err != nil {
		t.Fatal(err)
	}
	return sum
}

var day1 = time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)

func TestS3OrganizationTrail(t *testing.T) {
	t.Parallel()
	b := newBucket(t)
	n := 0
	id := func() string { n++; return fmt.Sprintf("q%04d", n) }
	for _, acct := range []string{"111111111111", "222222222222"} {
		for _, region := range []string{"us-east-1", "eu-west-1"} {
			for d := range 2 {
				for h := range 3 {
					b.putLog(acct, region, day1.AddDate(0, 0, d).Add(time.Duration(h)*time.Hour+5*time.Minute), fmt.Sprintf("U%d%d", d, h), id(), id())
				}
			}
		}
		b.put("AWSLogs/"+orgID+"/"+acct+"/CloudTrail-Digest/us-east-1/2026/11/20/"+acct+"_CloudTrail-Digest_us-east-1_org_us-east-1_20261120T010000Z.json.gz", `{}`)
		b.put("AWSLogs/"+orgID+"/"+acct+"/ConfigWritabilityCheckFile", "")
	}
	// A duplicate delivery of a query in another object.
	b.putLog("111111111111", "us-east-1", day1.Add(5*time.Hour), "DUP", "q0001")

	col, st := newCollector(t)
	src := b.source("")
	sum := collect(t, col, src)
	if sum.Objects != 25 || sum.QueryEvents != 49 || sum.NewQueries != 48 || sum.Ignored != 2 || len(sum.Skipped) != 0 {
		t.Fatalf("first collect: %+v", sum)
	}
	cursors, err := st.CursorsIn(context.Background(), src.Name(), "AWSLogs/"+orgID+"/111111111111/CloudTrail/us-east-1/2026/11")
	if err != nil {
		t.Fatal(err)
	}
	if v := cursors["AWSLogs/"+orgID+"/111111111111/CloudTrail/us-east-1/2026/11/20"]; !strings.HasPrefix(v, "closed ") {
		t.Fatalf("the day, long over, is not closed: cursors %v", cursors)
	}

	// Nothing changed: no object is read, closed days are not even listed.
	gets, lists := b.gets(), b.emu.S3Calls()[awsemu.S3ListObjects]
	sum = collect(t, col, src)
	if sum.Objects != 0 || sum.NewQueries != 0 || b.gets() != gets {
		t.Fatalf("second collect read objects: %+v, %d GETs", sum, b.gets()-gets)
	}
	// root, AWSLogs, org, 2 accounts, 2 CloudTrail, 4 regions, 4 years, 4 months.
	if l := b.emu.S3Calls()[awsemu.S3ListObjects] - lists; l != 19 {
		t.Fatalf("second collect made %d listings, want 19 (no day prefix)", l)
	}

	// The same prefix given deeper reads the same objects under other
	// names: a source of its own.
	sum = collect(t, col, b.source("AWSLogs/"+orgID+"/222222222222"))
	if sum.Objects != 12 || sum.NewQueries != 0 {
		t.Fatalf("one account: %+v", sum)
	}
}

func TestS3LateObjectsInAnOpenDay(t *testing.T) {
	t.Parallel()
	b := newBucket(t)
	const acct, region = "111111111111", "us-east-1"
	now := day1.Add(12 * time.Hour)
	b.putLog(acct, region, day1.Add(10*time.Hour), "A", "a1")
	b.putLog(acct, region, day1.Add(11*time.Hour+50*time.Minute), "B", "b1")
	col, st := newCollector(t)
	src := b.source("")
	src.Now = func() time.Time { return now }
	if sum := collect(t, col, src); sum.NewQueries != 2 {
		t.Fatalf("first: %+v", sum)
	}
	dayRel := "AWSLogs/" + orgID + "/" + acct + "/CloudTrail/" + region + "/2026/11/20"
	cur, _ := st.CursorsIn(context.Background(), src.Name(), parent(dayRel))
	if v := cur[dayRel]; !strings.HasPrefix(v, "open ") || !strings.Contains(v, "T1150Z_B") {
		t.Fatalf("cursor = %q", v)
	}

	// Late: an object whose key sorts before the last one, within the
	// overlap, and one after it.
	b.putLog(acct, region, day1.Add(11*time.Hour+20*time.Minute), "C", "c1", "a1")
	b.putLog(acct, region, day1.Add(11*time.Hour+55*time.Minute), "D", "d1")
	gets := b.gets()
	sum := collect(t, col, src)
	if sum.NewQueries != 2 || sum.Objects != 2 || sum.Unchanged != 1 || b.gets()-gets != 2 {
		t.Fatalf("second: %+v, %d GETs", sum, b.gets()-gets)
	}

	// Again: nothing new, nothing read; the object at 10:00 is before
	// the overlap and not even listed.
	gets = b.gets()
	sum = collect(t, col, src)
	if sum.NewQueries != 0 || sum.Objects != 0 || sum.Unchanged != 3 || b.gets() != gets {
		t.Fatalf("third: %+v, %d GETs", sum, b.gets()-gets)
	}

	// The next day the day closes.
	now = day1.Add(26 * time.Hour)
	collect(t, col, src)
	cur, _ = st.CursorsIn(context.Background(), src.Name(), parent(dayRel))
	if v := cur[dayRel]; !strings.HasPrefix(v, "closed ") {
		t.Fatalf("cursor after the day = %q", v)
	}
	if qs, err := st.QueriesAfter(context.Background(), "", "", 100); err != nil || len(qs) != 4 {
		t.Fatalf("stored %d queries (%v), want 4", len(qs), err)
	}
}

func parent(rel string) string { return rel[:strings.LastIndexByte(rel, '/')] }

func TestS3FaultsAreRetried(t *testing.T) {
	t.Parallel()
	b := newBucket(t)
	want := 0
	for h := range 24 {
		var ids []string
		for i := range 20 {
			ids = append(ids, fmt.Sprintf("h%02d-%02d", h, i))
		}
		want += len(ids)
		b.putLog("111111111111", "us-east-1", day1.Add(time.Duration(h)*time.Hour), "F", ids...)
	}
	// Every object: two GETs refused with 503 SlowDown (the SDK tries
	// again), then two cut in the middle of the body (the source reads
	// the object again), then the object.
	b.emu.SetS3Faults(awsemu.S3Faults{SlowDownFirst: 2, ResetFirst: 2})
	col, _ := newCollector(t)
	src := b.source("")
	src.Workers = 4
	sum := collect(t, col, src)
	if sum.NewQueries != want || sum.Objects != 24 || sum.SkippedCount() != 0 {
		t.Fatalf("with faults: %+v", sum)
	}
	if g := b.gets(); g != 24*5 {
		t.Fatalf("%d GETs for 24 objects, want 5 each: the faults did not happen as set", g)
	}
}

func TestS3ObjectThatStaysBrokenIsNamedAndReadLater(t *testing.T) {
	t.Parallel()
	b := newBucket(t)
	b.putLog("111111111111", "us-east-1", day1.Add(time.Hour), "A", "a1", "a2")
	b.putLog("111111111111", "us-east-1", day1.Add(2*time.Hour), "B", "b1")
	b.emu.SetS3Faults(awsemu.S3Faults{ResetEvery: 1})
	col, st := newCollector(t)
	src := b.source("")
	src.Attempts = 2
	sum := collect(t, col, src)
	if sum.NewQueries != 0 || len(sum.Skipped) != 2 || !strings.Contains(sum.Skipped[0].Name, "_CloudTrail_us-east-1_") ||
		!strings.Contains(sum.Skipped[0].Reason, "gave up after 2 attempts") {
		t.Fatalf("broken objects: %+v", sum)
	}
	// The day is not closed while objects in it are bad.
	dayRel := "AWSLogs/" + orgID + "/111111111111/CloudTrail/us-east-1/2026/11/20"
	cur, _ := st.CursorsIn(context.Background(), src.Name(), parent(dayRel))
	if v, ok := cur[dayRel]; ok && strings.HasPrefix(v, "closed") {
		t.Fatalf("day closed with bad objects: %q", v)
	}
	b.emu.SetS3Faults(awsemu.S3Faults{})
	sum = collect(t, col, src)
	if sum.NewQueries != 3 || sum.SkippedCount() != 0 {
		t.Fatalf("after the fault: %+v", sum)
	}
	cur, _ = st.CursorsIn(context.Background(), src.Name(), parent(dayRel))
	if v := cur[dayRel]; !strings.HasPrefix(v, "closed") {
		t.Fatalf("day not closed after every object was read: %q", v)
	}
}

func TestS3WindowPrunesByKeyLayout(t *testing.T) {
	t.Parallel()
	b := newBucket(t)
	b.putLog("111111111111", "us-east-1", time.Date(2025, 3, 1, 1, 0, 0, 0, time.UTC), "Y", "old-year")
	b.putLog("111111111111", "us-east-1", time.Date(2026, 10, 1, 1, 0, 0, 0, time.UTC), "M", "old-month")
	b.putLog("111111111111", "us-east-1", day1.Add(-24*time.Hour+time.Hour), "S", "slack")
	b.putLog("111111111111", "us-east-1", day1.Add(time.Hour), "I", "in")
	b.putLog("111111111111", "us-east-1", time.Date(2026, 12, 25, 1, 0, 0, 0, time.UTC), "L", "later")
	col, _ := newCollector(t)
	src := b.source("AWSLogs")
	src.Window = source.Window{Since: day1.Add(6 * time.Hour), Until: day1.Add(24 * time.Hour)}
	lists := b.emu.S3Calls()[awsemu.S3ListObjects]
	sum := collect(t, col, src)
	if sum.Objects != 2 || sum.NewQueries != 2 {
		t.Fatalf("window read %+v; want the day and the day before", sum)
	}
	// AWSLogs, org, account, CloudTrail, region, 2026, 2026/11, 2 days:
	// 2025 and 2026/10 and 2026/12 are never listed.
	if l := b.emu.S3Calls()[awsemu.S3ListObjects] - lists; l != 9 {
		t.Fatalf("%d listings, want 9", l)
	}
}

func TestParseAddress(t *testing.T) {
	tests := []struct {
		addr, name, err string
		late            time.Duration
		region          string
	}{
		{addr: "//bucket", name: "s3://bucket"},
		{addr: "//bucket/", name: "s3://bucket"},
		{addr: "//bucket/AWSLogs/o-abc/", name: "s3://bucket/AWSLogs/o-abc"},
		{addr: "//my.bucket-1/p?late=30m&region=eu-west-1", name: "s3://my.bucket-1/p", late: 30 * time.Minute, region: "eu-west-1"},
		{addr: "//bucket?late=0s", name: "s3://bucket", late: -1},
		{addr: "bucket/p", err: "want s3://BUCKET/PREFIX"},
		{addr: "//Bucket", err: "bucket name"},
		{addr: "//ab", err: "bucket name"},
		{addr: "//a..b", err: "bucket name"},
		{addr: "//", err: "bucket name"},
		{addr: "//bucket/a//b", err: "empty path segment"},
		{addr: "//bucket?late=forever", err: "late="},
		{addr: "//bucket?late=-1h", err: "late="},
		{addr: "//bucket?region=mars", err: "region="},
		{addr: "//bucket?colour=red", err: "unknown option"},
		{addr: "//bucket?%zz", err: "options"},
	}
	for _, tt := range tests {
		s, err := parseAddress(tt.addr)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("parseAddress(%q) error = %v, want %q", tt.addr, err, tt.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("parseAddress(%q): %v", tt.addr, err)
			continue
		}
		if s.Name() != tt.name || s.Late != tt.late || s.Region != tt.region {
			t.Errorf("parseAddress(%q) = %s late %v region %q", tt.addr, s.Name(), s.Late, s.Region)
		}
	}
}

func TestPeriodAndKeyTime(t *testing.T) {
	periods := []struct {
		rel        string
		start, end string
	}{
		{"AWSLogs/1/CloudTrail/us-east-1/2026", "2026-01-01", "2027-01-01"},
		{"AWSLogs/1/CloudTrail/us-east-1/2026/02", "2026-02-01", "2026-03-01"},
		{"AWSLogs/1/CloudTrail/us-east-1/2026/02/28", "2026-02-28", "2026-03-01"},
		{"AWSLogs/1/CloudTrail/us-east-1/2026/02/30", "", ""},
		{"AWSLogs/1/CloudTrail/us-east-1/2026/13", "", ""},
		{"AWSLogs/111122223333", "", ""},
		{"AWSLogs", "", ""},
		{"", "", ""},
	}
	for _, p := range periods {
		s, e, ok := period(p.rel)
		got := ""
		if ok {
			got = s.Format("2006-01-02") + " " + e.Format("2006-01-02")
		}
		if want := strings.TrimSpace(p.start + " " + p.end); got != want {
			t.Errorf("period(%q) = %q, want %q", p.rel, got, want)
		}
	}
	series, at, ok := keyTime("111122223333_CloudTrail_us-east-1_20261125T0105Z_abcDEF0123456789.json.gz")
	if !ok || series != "111122223333_CloudTrail_us-east-1_" || !at.Equal(time.Date(2026, 11, 25, 1, 5, 0, 0, time.UTC)) {
		t.Errorf("keyTime = %q %v %v", series, at, ok)
	}
	for _, bad := range []string{"x.json.gz", "1_CloudTrail_us-east-1_2026.json", "1_CloudTrail_us-east-1_20261325T0105Z_x.json"} {
		if _, _, ok := keyTime(bad); ok {
			t.Errorf("keyTime(%q) ok", bad)
		}
	}
}
