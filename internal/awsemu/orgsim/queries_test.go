package orgsim

import (
	"context"
	"testing"

	"github.com/athenawatch/athenawatch/internal/cloudtrail"
)

func TestGenerateQueryTrail(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		queries int64
		dup     float64
	}{
		{"one query", 1, -1},
		{"several files with duplicates", 20000, 0.01},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			st, err := GenerateQueryTrail(context.Background(), dir, QueryTrailOptions{
				Queries: tt.queries, DuplicateRate: tt.dup, Seed: 5, Concurrency: 2, QueriesPerSecond: 20,
			})
			if err != nil {
				t.Fatal(err)
			}
			if st.Queries != tt.queries || st.Records != tt.queries+st.Duplicates || st.AthenaRecords != st.Records {
				t.Errorf("stats %+v, want %d queries and every record an Athena one", st, tt.queries)
			}
			c := readTrail(t, dir)
			if int64(len(c.records)) != st.Records || c.files != st.Files {
				t.Errorf("read %d records in %d files; stats %+v", len(c.records), c.files, st.TrailStats)
			}
			for _, r := range c.records {
				if r.EventSource != "athena.amazonaws.com" || r.EventName != "StartQueryExecution" || r.ResponseElements.QueryExecutionID == "" {
					t.Fatalf("record %s: %s %s id %q, want a started query", r.EventID, r.EventSource, r.EventName, r.ResponseElements.QueryExecutionID)
				}
			}
			ids, refusals := readQueryEvents(t, dir)
			if int64(len(ids)) != tt.queries || len(refusals) != 0 {
				t.Errorf("cloudtrail reader found %d queries and %d rejected, want %d and 0", len(ids), len(refusals), tt.queries)
			}
			if tt.queries < 1000 {
				return
			}
			// Every identity rule of the organization is exercised.
			kinds := map[string]bool{}
			accounts, regions := map[string]bool{}, map[string]bool{}
			eachQueryEvent(t, context.Background(), dir, func(_ string, ev *cloudtrail.QueryEvent) {
				id := ev.Identity
				switch {
				case id.OnBehalfOfUserID != "":
					kinds["on-behalf-of"] = true
				case id.SourceIdentity != "":
					kinds["source-identity"] = true
				case id.Type == "IAMUser":
					kinds["iam-user"] = true
				case len(id.IssuerUserName) > 15 && id.IssuerUserName[:15] == "AWSReservedSSO_":
					kinds["sso"] = true
				case id.Type == "AssumedRole":
					kinds["assumed-role"] = true
				}
				accounts[ev.RecipientAccount] = true
				regions[ev.Region] = true
			})
			if len(kinds) != 5 || len(accounts) != len(Accounts) || len(regions) != len(DefaultRegions) {
				t.Errorf("identity kinds %v, accounts %v, regions %v: want 5 kinds and every account and region", kinds, accounts, regions)
			}
			if c.files < 2*len(Accounts)*len(DefaultRegions) {
				t.Errorf("%d files, want several per account and region", c.files)
			}
		})
	}
}
