package s3

import (
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/athenawatch/athenawatch/internal/versitygw"
)

// newVersityBucket starts versitygw, a real S3 server, and creates the
// trail bucket in it.
func newVersityBucket(t *testing.T) *bucketEnv {
	t.Helper()
	cfg := versitygw.Start(t, bucket)
	return &bucketEnv{t: t, cfg: cfg, client: s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true })}
}

// TestVersitygw runs the s3 source against a real S3 server: an
// organization trail, incremental runs, late objects in an open day.
func TestVersitygw(t *testing.T) {
	t.Parallel()
	b := newVersityBucket(t)
	const region = "eu-west-1"
	want := 0
	for _, acct := range []string{"111111111111", "222222222222"} {
		for d := range 2 {
			for h := range 4 {
				ids := []string{fmt.Sprintf("%s-%d-%d-a", acct, d, h), fmt.Sprintf("%s-%d-%d-b", acct, d, h)}
				want += len(ids)
				b.putLog(acct, region, day1.AddDate(0, 0, d).Add(time.Duration(h)*time.Hour+7*time.Minute), fmt.Sprintf("V%d%d", d, h), ids...)
			}
		}
		b.put("AWSLogs/"+orgID+"/"+acct+"/CloudTrail-Digest/"+region+"/2026/11/20/"+acct+"_CloudTrail-Digest_"+region+"_org_"+region+"_20261120T010000Z.json.gz", `{}`)
	}
	b.put("AWSLogs/"+orgID+"/ConfigWritabilityCheckFile", "")
	col, _ := newCollector(t)
	src := b.source("")
	now := day1.Add(24*time.Hour + 5*time.Hour) // the second day is open
	src.Now = func() time.Time { return now }
	sum := collect(t, col, src)
	if sum.Objects != 16 || sum.NewQueries != want || sum.Ignored != 1 || sum.IgnoredPrefixes != 2 || sum.SkippedCount() != 0 {
		t.Fatalf("first collect: %+v", sum)
	}
	// A late object in the open day, sorting before its last key.
	b.putLog("111111111111", region, day1.Add(24*time.Hour+2*time.Hour+30*time.Minute), "LATE", "late-1")
	sum = collect(t, col, src)
	if sum.Objects != 1 || sum.NewQueries != 1 {
		t.Fatalf("late object: %+v", sum)
	}
	sum = collect(t, col, src)
	if sum.Objects != 0 || sum.NewQueries != 0 {
		t.Fatalf("unchanged bucket: %+v", sum)
	}
}
