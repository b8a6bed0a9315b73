package main

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// athenaRecord is a StartQueryExecution record as CloudTrail writes it.
func athenaRecord(id string) string {
	return fmt.Sprintf(`{"eventVersion":"1.09","userIdentity":{"type":"IAMUser","principalId":"AIDAEXAMPLE","arn":"arn:aws:iam::111111111111:user/alice","accountId":"111111111111","accessKeyId":"AKIAEXAMPLE","userName":"alice"},"eventTime":"2026-11-20T10:00:00Z","eventSource":"athena.amazonaws.com","eventName":"StartQueryExecution","awsRegion":"us-east-1","sourceIPAddress":"192.0.2.1","userAgent":"aws-cli/2","requestParameters":{"queryString":"***OMITTED***","queryExecutionContext":{"database":"sales"},"workGroup":"primary"},"responseElements":{"queryExecutionId":"%s"},"requestID":"r-%s","eventID":"e-%s","readOnly":false,"eventType":"AwsApiCall","managementEvent":true,"recipientAccountId":"111111111111","eventCategory":"Management"}`, id, id, id)
}

const noiseRecord = `{"eventVersion":"1.09","userIdentity":{"type":"AWSService","invokedBy":"ec2.amazonaws.com"},"eventTime":"2026-11-20T10:00:01Z","eventSource":"sts.amazonaws.com","eventName":"AssumeRole","awsRegion":"us-east-1","sourceIPAddress":"ec2.amazonaws.com","userAgent":"ec2.amazonaws.com","requestParameters":{"roleArn":"arn:aws:iam::111111111111:role/x","roleSessionName":"i-0abc"},"responseElements":null,"eventID":"n-1","eventType":"AwsApiCall","recipientAccountId":"111111111111"}`

func gz(t *testing.T, data []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	w.Write(data)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestBadInputIsNamedSkippedAndNothingGoodIsLost(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name string, data []byte) {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	records := func(recs ...string) []byte { return []byte(`{"Records":[` + strings.Join(recs, ",") + `]}`) }
	prefix := "AWSLogs/111111111111/CloudTrail/us-east-1/2026/11/20/"

	write(prefix+"good_1.json.gz", gz(t, records(noiseRecord, athenaRecord("q-good-1"), noiseRecord, athenaRecord("q-good-2"))))
	write(prefix+"good_2.json", records(athenaRecord("q-good-3")))
	full := gz(t, records(noiseRecord, athenaRecord("q-trunc"), noiseRecord))
	write(prefix+"truncated.json.gz", full[:len(full)/2])
	write(prefix+"notjson.json", []byte("this is not JSON at all\n"))
	write(prefix+"wrongshape.json", []byte(`{"Records": 5}`))
	write(prefix+"empty.json.gz", gz(t, []byte(`{"Records":[]}`)))
	huge := `{"eventVersion":"1.09","eventSource":"s3.amazonaws.com","eventName":"PutObject","requestParameters":{"blob":"` + strings.Repeat("x", 64<<20) + `"}}`
	write(prefix+"huge_record.json.gz", gz(t, records(athenaRecord("q-before-huge"), huge, athenaRecord("q-after-huge"))))
	write(prefix+"digest_named_like_a_log.json.gz", gz(t, []byte(`{"awsAccountId":"111111111111","digestStartTime":"2026-11-20T09:00:00Z","digestEndTime":"2026-11-20T10:00:00Z","digestS3Bucket":"b","digestS3Object":"o","logFiles":[]}`)))
	write("AWSLogs/111111111111/CloudTrail-Digest/us-east-1/2026/11/20/111111111111_CloudTrail-Digest_us-east-1_t_us-east-1_20261120T100000Z.json.gz",
		gz(t, []byte(`{"awsAccountId":"111111111111","digestStartTime":"2026-11-20T09:00:00Z","logFiles":[]}`)))

	db := filepath.Join(t.TempDir(), "bad.db")
	r := athenawatch(t, nil, "--db", db, "collect", "--no-enrich", "--format", "json", "--source", "dir:"+dir)
	if r.code != 0 {
		t.Fatalf("collect with bad input: exit %d, want 0\n%s", r.code, r.stderr)
	}
	for _, name := range []string{"truncated.json.gz", "notjson.json", "wrongshape.json", "empty.json.gz", "huge_record.json.gz", "digest_named_like_a_log.json.gz"} {
		if !strings.Contains(r.stderr, name) {
			t.Errorf("stderr does not name %s:\n%s", name, r.stderr)
		}
	}
	if !strings.Contains(r.stderr, "skipped 5 bad inputs") {
		t.Errorf("stderr lacks the skipped count (truncated, not JSON, wrong shape, empty, huge record):\n%s", r.stderr)
	}
	if !strings.Contains(r.stdout, `"skipped": 5`) {
		t.Errorf("--format json lacks the skipped count:\n%s", r.stdout)
	}

	// Every good event is stored: the good files' and those around the
	// huge record.
	rep := athenawatch(t, nil, "--db", db, "report", "--by", "user", "--since", "2000-01-01", "--format", "json")
	rows := decodeRows(t, "user", rep.stdout)
	if n, _ := rows["alice"]["queries"].Int64(); n != 5 {
		t.Fatalf("stored %d queries of alice, want 5 (q-good-1..3, q-before-huge, q-after-huge):\n%s\n%s", n, rep.stdout, r.stderr)
	}

	// --strict turns skipped input into exit 1, and bad files are tried
	// (and reported) again on every run.
	r = athenawatch(t, nil, "--db", db, "collect", "--no-enrich", "--strict", "--source", "dir:"+dir)
	if r.code != exitError || !strings.Contains(r.stderr, "truncated.json.gz") {
		t.Fatalf("collect --strict: exit %d, want 1\n%s", r.code, r.stderr)
	}
}
