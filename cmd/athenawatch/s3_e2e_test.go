package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/athenawatch/athenawatch/internal/awsemu"
	"github.com/athenawatch/athenawatch/internal/awsemu/orgsim"
)

// s3Client talks to the simulation's emulated S3 as the collector.
func (s *simulation) s3Client() *s3.Client {
	c := s.res.CollectorCredentials
	return s3.NewFromConfig(aws.Config{
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider(c.AccessKeyID, c.SecretAccessKey, ""),
		BaseEndpoint: aws.String(s.srv.URL),
	}, func(o *s3.Options) { o.UsePathStyle = true })
}

// deliver puts the simulation's trail into bucket as an organization trail
// under prefix, the objects for which keep returns true.
func (s *simulation) deliver(t *testing.T, d orgsim.Delivery, keep func(key string) bool) int {
	t.Helper()
	all, err := d.TrailObjects(s.trailDir)
	if err != nil {
		t.Fatal(err)
	}
	objs := map[string]string{}
	for k, p := range all {
		if keep(k) {
			objs[k] = p
		}
	}
	if err := d.Put(context.Background(), s.s3Client(), objs); err != nil {
		t.Fatal(err)
	}
	return len(objs)
}

// keyDay is the YYYY/MM/DD of a trail key.
func keyDay(key string) string {
	_, rest, _ := strings.Cut(key, "/CloudTrail")
	parts := strings.Split(rest, "/")
	if len(parts) < 5 {
		return ""
	}
	return strings.Join(parts[2:5], "/")
}

// TestEndToEndS3 delivers the organization's trail to an emulated bucket
// in the organization layout, in two deliveries out of key order, and
// collects from the bucket after each: the store ends equal to the ground
// truth, a third collect reads nothing, and the same trail read from disk
// as well adds nothing.
func TestEndToEndS3(t *testing.T) {
	s := simulate(t)
	s.emu.SetNow(s.settled)
	db := filepath.Join(t.TempDir(), "s3.db")
	d := orgsim.Delivery{Bucket: "e2e-org-trail", Prefix: "cloudtrail", Seed: 3}
	split := s.end.AddDate(0, 0, -20).Format("2006/01/02")
	first := s.deliver(t, d, func(k string) bool { return keyDay(k) < split })
	src := "s3://e2e-org-trail/cloudtrail"
	r := s.run(t, db, "collect", "--source", src)
	if r.code != 0 || !strings.Contains(r.stderr, "objects read") {
		t.Fatalf("collect from the bucket: exit %d\n%s", r.code, r.stderr)
	}
	second := s.deliver(t, d, func(k string) bool { return keyDay(k) >= split })
	if first == 0 || second == 0 {
		t.Fatalf("deliveries of %d and %d objects: the split proves nothing", first, second)
	}
	r = s.run(t, db, "collect", "--source", src)
	if r.code != 0 {
		t.Fatalf("second collect: exit %d\n%s", r.code, r.stderr)
	}
	for _, by := range []string{"user", "database", "team", "region"} {
		assertEqualTruth(t, by, s.reportRows(t, db, by), s.expected(by, forgottenAt(s.settled)))
	}

	gets := s.emu.S3Calls()[awsemu.S3GetObject]
	r = s.run(t, db, "collect", "--source", src)
	if r.code != 0 || !strings.Contains(r.stderr, " 0 objects read") || s.emu.S3Calls()[awsemu.S3GetObject] != gets {
		t.Fatalf("collect over an unchanged bucket: exit %d, %d GETs\n%s", r.code, s.emu.S3Calls()[awsemu.S3GetObject]-gets, r.stderr)
	}
	// The same trail from disk: other objects, the same queries.
	r = s.run(t, db, "collect", "--source", "dir:"+s.trailDir)
	if r.code != 0 || !strings.Contains(r.stderr, "(0 new)") {
		t.Fatalf("collect of the same trail from disk: exit %d\n%s", r.code, r.stderr)
	}
	assertEqualTruth(t, "user", s.reportRows(t, db, "user"), s.expected("user", forgottenAt(s.settled)))
}

// TestKillMidCollectS3 kills collects from the bucket with SIGKILL at
// growing delays, under S3 faults, then lets one finish: the store must
// equal the ground truth.
func TestKillMidCollectS3(t *testing.T) {
	s := simulate(t)
	s.emu.SetNow(s.settled)
	db := filepath.Join(t.TempDir(), "kill-s3.db")
	d := orgsim.Delivery{Bucket: "kill-org-trail", Seed: 5}
	total := s.deliver(t, d, func(k string) bool { return !strings.Contains(k, "Digest") })
	s.emu.SetS3Faults(awsemu.S3Faults{SlowDownEvery: 40, ResetEvery: 60})
	defer s.emu.SetS3Faults(awsemu.S3Faults{})
	src := "s3://kill-org-trail"
	s.killCollects(t, db, total, 400*time.Millisecond, 200*time.Millisecond, "--workers", "2", "--source", src)
	// The last run reads whatever a killed run left, or named as bad
	// after the faults, without faults of its own.
	s.emu.SetS3Faults(awsemu.S3Faults{})
	r := s.run(t, db, "collect", "--source", src)
	if r.code != 0 {
		t.Fatalf("collect after kills: exit %d\n%s", r.code, r.stderr)
	}
	for _, by := range []string{"user", "database"} {
		assertEqualTruth(t, by, s.reportRows(t, db, by), s.expected(by, forgottenAt(s.settled)))
	}
}

// TestEndToEndLookupEvents reads the organization's Athena events from
// CloudTrail's event history, in every account (through the reader roles
// of the configuration) and region: the store ends equal to the ground
// truth; the trail's bucket read into the same store adds nothing.
func TestEndToEndLookupEvents(t *testing.T) {
	s := simulate(t)
	s.emu.SetNow(s.settled)
	db := filepath.Join(t.TempDir(), "lookup.db")
	src := "lookup-events:" + strings.Join(orgsim.DefaultRegions, ",")
	r := s.run(t, db, "collect", "--source", src)
	if r.code != 0 || strings.Contains(r.stderr, "skipped") {
		t.Fatalf("collect from the event history: exit %d\n%s", r.code, r.stderr)
	}
	for _, by := range []string{"user", "database", "team"} {
		assertEqualTruth(t, by, s.reportRows(t, db, by), s.expected(by, forgottenAt(s.settled)))
	}
	calls, throttled := s.emu.CallCounts("LookupEvents")
	if throttled*10 > calls {
		t.Fatalf("%d of %d LookupEvents calls throttled", throttled, calls)
	}

	s.deliver(t, orgsim.Delivery{Bucket: "both-org-trail", Seed: 9}, func(string) bool { return true })
	r = s.run(t, db, "collect", "--source", "s3://both-org-trail", "--source", src)
	if r.code != 0 || strings.Count(r.stderr, "(0 new)") != 4 {
		t.Fatalf("the bucket and the history again: exit %d, want nothing new\n%s", r.code, r.stderr)
	}
	assertEqualTruth(t, "user", s.reportRows(t, db, "user"), s.expected("user", forgottenAt(s.settled)))
}

// TestCollectSaysWhichAccountsItReaches: without reader roles for the
// member accounts, collect names each account and region it found queries
// in, and why the statistics of the member accounts stay pending.
func TestCollectSaysWhichAccountsItReaches(t *testing.T) {
	s := simulate(t)
	s.emu.SetNow(s.settled)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "no-roles.yaml")
	if err := os.WriteFile(cfg, []byte("pricing:\n  usd_per_tib: 5\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := athenawatch(t, s.env, "--db", filepath.Join(dir, "a.db"), "--config", cfg, "collect", "--source", "dir:"+s.trailDir)
	if r.code != 0 {
		t.Fatalf("collect: exit %d\n%s", r.code, r.stderr)
	}
	if !strings.Contains(r.stderr, "collect: by account and region") {
		t.Fatalf("no table by account and region:\n%s", r.stderr)
	}
	for member := range s.res.ReaderRoles {
		var line string
		for l := range strings.SplitSeq(r.stderr, "\n") {
			if strings.HasPrefix(strings.TrimSpace(l), member+" ") && strings.Contains(l, "not reached") {
				line = l
				break
			}
		}
		if !strings.Contains(line, "no accounts."+member+".role_arn in the configuration") {
			t.Errorf("member account %s is not named as not reached, with why:\n%s", member, r.stderr)
		}
	}
	if !strings.Contains(r.stderr, s.res.ManagementAccount+" ") {
		t.Errorf("the management account is not in the table:\n%s", r.stderr)
	}
}
