package orgsim

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/athenawatch/athenawatch/internal/config"
	"github.com/athenawatch/athenawatch/internal/identitycenter"
	"github.com/athenawatch/athenawatch/internal/source"
	dirsource "github.com/athenawatch/athenawatch/internal/source/dir"
	"github.com/athenawatch/athenawatch/internal/store"
	"github.com/athenawatch/athenawatch/internal/usage"
)

// TestTrailReadsBackAsGroundTruth collects the simulated trail as `collect
// --source dir:` does (the dir source and its reader, the collector, the
// store, the identity and team rules of Result.ConfigYAML) and checks that
// what it stores agrees with the ground truth, which the simulation
// computed on its own. The query text, which the trail omits, is given to
// the rules as enrichment gives it, from Athena.
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

	cfgPath := filepath.Join(t.TempDir(), "athenawatch.yaml")
	if err := os.WriteFile(cfgPath, res.ConfigYAML(), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	rules := usage.NewRules(cfg)
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "readback.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	col := &source.Collector{Store: st, Rules: rules}
	sum, err := col.Collect(ctx, &dirsource.Source{Root: dir, Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	if len(sum.Skipped) != 0 || sum.Ignored != res.Trail.DigestFiles || sum.Objects != res.Trail.Files {
		t.Errorf("collect: %d files read, %d ignored, skipped %v; the trail has %d log files and %d digests",
			sum.Objects, sum.Ignored, sum.Skipped, res.Trail.Files, res.Trail.DigestFiles)
	}

	// What collect does next with identity.resolve_identity_center: the
	// Identity Store names the Identity Center users.
	c := res.CollectorCredentials
	resolver := &identitycenter.Resolver{Store: st, Rules: rules, Region: cfg.Identity.IdentityCenterRegion, AWS: aws.Config{
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider(c.AccessKeyID, c.SecretAccessKey, ""),
		BaseEndpoint: aws.String(srv.URL),
	}}
	if isum, err := resolver.Resolve(ctx); err != nil || isum.Named != 1 || isum.Failed != 0 {
		t.Fatalf("naming Identity Center users: %+v, %v", isum, err)
	}

	truth := make(map[string]Query)
	for _, q := range res.Queries {
		truth[q.Region+"/"+q.QueryID] = q
	}
	stored, err := st.QueriesAfter(ctx, "", "", 10*len(res.Queries)+10)
	if err != nil {
		t.Fatal(err)
	}
	if len(stored) != len(res.Queries) || sum.NewQueries != len(res.Queries) {
		t.Errorf("collect stored %d queries (%d new), truth has %d", len(stored), sum.NewQueries, len(res.Queries))
	}
	for _, row := range stored {
		k := row.Region + "/" + row.QueryID
		q, ok := truth[k]
		if !ok {
			t.Errorf("query %s not in the ground truth", k)
			continue
		}
		// What enrichment does with Athena's answer: the query text comes
		// in and the rules derive the row again.
		row.Stats.QueryText = q.QueryText
		rules.Query(&row)
		if row.User != q.User || row.Role != q.Role || row.Account != q.Account || row.Team != q.Team || row.Identity.ARN != q.PrincipalARN {
			t.Errorf("query %s: stored user %q role %q account %s team %q arn %s; truth %q %q %s %q %s",
				k, row.User, row.Role, row.Account, row.Team, row.Identity.ARN, q.User, q.Role, q.Account, q.Team, q.PrincipalARN)
		}
		if row.Database != q.Database || row.Workgroup != q.Workgroup || row.OwnerAccount != q.Account {
			t.Errorf("query %s: database %s workgroup %s owner %s, truth %s %s %s", k, row.Database, row.Workgroup, row.OwnerAccount, q.Database, q.Workgroup, q.Account)
		}
	}

	storedRejected, err := st.RejectedAfter(ctx, "", 10*len(res.Rejected)+10)
	if err != nil {
		t.Fatal(err)
	}
	rejected := make(map[string]store.Rejected)
	for _, r := range storedRejected {
		rejected[r.EventID] = r
	}
	if len(rejected) != len(res.Rejected) || sum.NewRejected != len(res.Rejected) {
		t.Errorf("collect committed %d rejected submissions (%d new), truth has %d", len(rejected), sum.NewRejected, len(res.Rejected))
	}
	for _, want := range res.Rejected {
		r, ok := rejected[want.EventID]
		if !ok {
			t.Errorf("rejected submission %+v not stored", want)
			continue
		}
		if r.User != want.User || r.Role != want.Role || r.Account != want.Account || r.Team != want.Team || r.Region != want.Region || r.ErrorCode != want.ErrorCode {
			t.Errorf("rejected %s: stored user %q role %q account %s team %q region %s error %s; truth %q %q %s %q %s %s",
				want.EventID, r.User, r.Role, r.Account, r.Team, r.Region, r.ErrorCode, want.User, want.Role, want.Account, want.Team, want.Region, want.ErrorCode)
		}
	}
}
