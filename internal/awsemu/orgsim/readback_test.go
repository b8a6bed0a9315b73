package orgsim

import (
	"context"
	"regexp"
	"testing"
	"time"

	"github.com/athenawatch/athenawatch/internal/cloudtrail"
)

// TestTrailReadsBackAsGroundTruth reads the simulated trail with
// athenawatch's own CloudTrail reader and identity rules (configured as
// Result.ConfigYAML says) and checks that they agree with the ground truth,
// which the simulation computed on its own. The query text, which the trail
// omits, is taken from the ground truth as enrichment would take it from
// Athena.
func TestTrailReadsBackAsGroundTruth(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Second)
	defer cancel()
	end := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	dir := t.TempDir()
	res, _, srv, err := RunLocal(ctx, Config{Seed: 11, Start: end.Add(-24 * time.Hour), End: end, QueriesPerDay: 200, NoiseRatio: 0.95}, dir, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })

	rules := cloudtrail.IdentityRules{
		SessionAsUser:    []string{"analytics-app-*"},
		QueryCommentUser: regexp.MustCompile(QueryCommentUserRegex),
	}
	truth := make(map[string]Query)
	for _, q := range res.Queries {
		truth[q.Region+"/"+q.QueryID] = q
	}
	found := make(map[string]bool)
	rejected := make(map[string]bool)
	eachQueryEvent(t, ctx, dir, func(path string, ev *cloudtrail.QueryEvent) {
		if ev.Rejected() {
			rejected[ev.EventID] = true
			return
		}
		k := ev.Region + "/" + ev.QueryID
		q, ok := truth[k]
		if !ok {
			t.Errorf("%s: query %s not in the ground truth", path, k)
			return
		}
		found[k] = true
		ev.QueryText = q.QueryText
		p := rules.ResolveEvent(ev)
		if p.User != q.User || p.Role != q.Role || p.Account != q.Account || p.ARN != q.PrincipalARN {
			t.Errorf("query %s: reader says %+v, truth user %q role %q account %s arn %s", k, p, q.User, q.Role, q.Account, q.PrincipalARN)
		}
		if ev.Database != q.Database || ev.Workgroup != q.Workgroup {
			t.Errorf("query %s: database %s workgroup %s, truth %s %s", k, ev.Database, ev.Workgroup, q.Database, q.Workgroup)
		}
	})
	if len(found) != len(res.Queries) {
		t.Errorf("reader found %d queries, truth has %d", len(found), len(res.Queries))
	}
	if len(rejected) != len(res.Rejected) {
		t.Errorf("reader found %d rejected submissions, truth has %d", len(rejected), len(res.Rejected))
	}
	for _, r := range res.Rejected {
		if !rejected[r.EventID] {
			t.Errorf("rejected submission %+v not found by the reader", r)
		}
	}
}
