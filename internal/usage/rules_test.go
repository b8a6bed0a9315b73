package usage

import (
	"context"
	"flag"
	"path/filepath"
	"testing"
	"time"

	"github.com/athenawatch/athenawatch/internal/cloudtrail"
	"github.com/athenawatch/athenawatch/internal/config"
	"github.com/athenawatch/athenawatch/internal/store"
)

var update = flag.Bool("update", false, "rewrite golden files")

func mustConfig(t *testing.T, yaml string) *config.Config {
	t.Helper()
	c, err := config.Parse([]byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

const rulesYAML = `
pricing: {provisioned_workgroups: [reserved-*]}
identity:
  session_as_user: ["analytics-app-*"]
  query_comment_user: '--\s*user:\s*(\S+)'
teams:
  - {name: data-science, users: ["bob@*", carol], workgroups: [analysts]}
  - {name: platform, roles: ["etl-*"]}
  - {name: finance, accounts: ["333333333333"]}
`

func TestRulesQuery(t *testing.T) {
	t.Parallel()
	r := NewRules(mustConfig(t, rulesYAML))
	iam := func(name string) cloudtrail.Identity {
		return cloudtrail.Identity{Type: "IAMUser", UserName: name, AccountID: "111111111111", ARN: "arn:aws:iam::111111111111:user/" + name}
	}
	role := func(role, session, account string) cloudtrail.Identity {
		return cloudtrail.Identity{Type: "AssumedRole", AccountID: account, IssuerType: "Role", IssuerUserName: role,
			ARN: "arn:aws:sts::" + account + ":assumed-role/" + role + "/" + session}
	}
	tests := []struct {
		name                 string
		q                    store.Query
		user, role, team, wg string
		provisioned          bool
		billed               int64
	}{
		{"IAM user by name glob", store.Query{Identity: iam("bob@example.com")}, "bob@example.com", "", "data-science", "primary", false, 0},
		{"workgroup rule", store.Query{Identity: iam("zed"), CTWorkgroup: "analysts"}, "zed", "", "data-science", "analysts", false, 0},
		{"role rule", store.Query{Identity: role("etl-nightly", "i-0abc", "111111111111")}, "etl-nightly", "etl-nightly", "platform", "primary", false, 0},
		{"account rule", store.Query{Identity: iam("ann"), OwnerAccount: "333333333333"}, "ann", "", "unassigned", "primary", false, 0},
		{"account rule on identity account", store.Query{Identity: cloudtrail.Identity{Type: "IAMUser", UserName: "ann", AccountID: "333333333333"}}, "ann", "", "finance", "primary", false, 0},
		{"comment user wins once the text is known", store.Query{Identity: role("analytics-app-bi", "superset", "111111111111"),
			Stats: store.Stats{QueryText: "-- user: carol\nSELECT 1"}}, "carol", "analytics-app-bi", "data-science", "primary", false, 0},
		{"service principal takes the recipient account", store.Query{Identity: cloudtrail.Identity{Type: "AWSService", InvokedBy: "quicksight.amazonaws.com"}, OwnerAccount: "333333333333"},
			"quicksight.amazonaws.com", "", "finance", "primary", false, 0},
		{"BI session without comment", store.Query{Identity: role("analytics-app-bi", "superset", "111111111111")}, "superset", "analytics-app-bi", "unassigned", "primary", false, 0},
		{"Athena's workgroup wins over CloudTrail's", store.Query{Identity: iam("zed"), CTWorkgroup: "x", Stats: store.Stats{Workgroup: "analysts"}}, "zed", "", "data-science", "analysts", false, 0},
		{"final DML is billed", store.Query{Identity: iam("zed"), StatsStatus: store.StatusFinal,
			Stats: store.Stats{State: "SUCCEEDED", StatementType: "DML", DataScannedBytes: 1}}, "zed", "", "unassigned", "primary", false, MinBilledBytes},
		{"provisioned is not billed by bytes", store.Query{Identity: iam("zed"), StatsStatus: store.StatusFinal, CTWorkgroup: "reserved-bi",
			Stats: store.Stats{State: "SUCCEEDED", StatementType: "DML", DataScannedBytes: 1}}, "zed", "", "unassigned", "reserved-bi", true, 0},
		{"pending is not billed", store.Query{Identity: iam("zed"), StatsStatus: store.StatusPending,
			Stats: store.Stats{State: "RUNNING", StatementType: "DML", DataScannedBytes: 100 * MiB}}, "zed", "", "unassigned", "primary", false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			q := tt.q
			r.Query(&q)
			if q.User != tt.user || q.Role != tt.role || q.Team != tt.team || q.Workgroup != tt.wg || q.Provisioned != tt.provisioned || q.BilledBytes != tt.billed {
				t.Fatalf("got user=%q role=%q team=%q wg=%q prov=%v billed=%d", q.User, q.Role, q.Team, q.Workgroup, q.Provisioned, q.BilledBytes)
			}
		})
	}
}

func TestRederiveOnConfigChange(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "r.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	before := NewRules(mustConfig(t, ""))
	if changed, err := Rederive(ctx, st, before); err != nil || changed {
		t.Fatalf("first Rederive on an empty store: %v %v", changed, err)
	}
	ev := &cloudtrail.QueryEvent{EventID: "e1", EventTime: time.Now(), Region: "us-east-1", QueryID: "q1", RecipientAccount: "111111111111",
		Identity: cloudtrail.Identity{Type: "IAMUser", UserName: "carol", AccountID: "111111111111"}}
	rej := &cloudtrail.QueryEvent{EventID: "e2", EventTime: time.Now(), Region: "us-east-1", ErrorCode: "InvalidRequestException",
		Identity: cloudtrail.Identity{Type: "IAMUser", UserName: "carol", AccountID: "111111111111"}}
	if _, err := st.Commit(ctx, &store.Batch{Queries: []store.Query{before.NewQuery(ev)}, Rejected: []store.Rejected{before.NewRejected(rej)}}); err != nil {
		t.Fatal(err)
	}
	after := NewRules(mustConfig(t, rulesYAML))
	if changed, err := Rederive(ctx, st, after); err != nil || !changed {
		t.Fatalf("Rederive after a team change: %v %v", changed, err)
	}
	q, ok, err := st.GetQuery(ctx, "us-east-1", "q1")
	if err != nil || !ok {
		t.Fatalf("GetQuery after re-derive: %v, %v", ok, err)
	}
	if q.Team != "data-science" {
		t.Fatalf("team after re-derive = %q", q.Team)
	}
	res, err := st.Aggregate(ctx, store.Aggregation{By: "team", Sums: []store.Sum{store.SumQueries}})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Groups) != 1 || res.Groups[0].Key != "data-science" {
		t.Fatalf("groups = %+v", res.Groups)
	}
	res, err = st.Aggregate(ctx, store.Aggregation{By: "team", Filter: store.Filter{Match: map[string][]string{"team": {"data-science"}}}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Rejected != 1 {
		t.Fatalf("rejected submissions of data-science = %d", res.Rejected)
	}
	changed, err := Rederive(ctx, st, after)
	if err != nil {
		t.Fatalf("Rederive with unchanged rules: %v", err)
	}
	if changed {
		t.Fatal("Rederive with unchanged rules rewrote rows")
	}
}
