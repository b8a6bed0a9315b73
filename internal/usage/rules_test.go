package usage

import (
	"context"
	"flag"
	"path/filepath"
	"strings"
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

func TestRulesQueryShapeAndRedaction(t *testing.T) {
	t.Parallel()
	const comment = "identity: {session_as_user: ['analytics-app-*'], query_comment_user: '--\\s*user:\\s*(\\S+)'}\nteams: [{name: ds, users: [carol]}]\n"
	bi := cloudtrail.Identity{Type: "AssumedRole", AccountID: "111111111111", IssuerType: "Role", IssuerUserName: "analytics-app-bi",
		ARN: "arn:aws:sts::111111111111:assumed-role/analytics-app-bi/superset"}
	const raw = "-- user: carol\nSELECT * FROM t WHERE password = 'hunter2' AND id IN (1, 2, 3)"
	tests := []struct {
		name             string
		yaml             string
		q                store.Query
		wantText, wantCT string
		wantUser         string
	}{
		{"no redaction keeps the text", comment, store.Query{Identity: bi, Stats: store.Stats{QueryText: raw}}, raw, "", "carol"},
		{"redaction keeps the user comment", comment + "redact: {literals: true}", store.Query{Identity: bi, Stats: store.Stats{QueryText: raw}, CTQueryText: raw},
			"-- user: carol\nselect * from t where password = ? and id in (?)", "-- user: carol\nselect * from t where password = ? and id in (?)", "carol"},
		{"redaction without a comment rule", "redact: {literals: true}", store.Query{Identity: bi, Stats: store.Stats{QueryText: raw}},
			"select * from t where password = ? and id in (?)", "", "analytics-app-bi"},
		{"a block comment user is kept as one", "identity: {query_comment_user: '/\\*\\s*user=(\\w+)\\s*\\*/'}\nredact: {literals: true}",
			store.Query{Identity: bi, CTQueryText: "/* user=dave */ SELECT 'x'"}, "", "/* user=dave */ select ?", "dave"},
		{"a match that is no comment becomes one", "identity: {query_comment_user: 'owner:(\\w+)'}\nredact: {literals: true}",
			store.Query{Identity: bi, CTQueryText: "SELECT 'owner:erin'"}, "", "-- owner:erin\nselect ?", "erin"},
		{"omitted text is left alone", comment + "redact: {literals: true}", store.Query{Identity: bi, CTQueryText: OmittedText}, "", OmittedText, "superset"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := NewRules(mustConfig(t, tt.yaml))
			q := tt.q
			wantFP := Fingerprint(q.QueryText())
			r.Query(&q)
			if q.Stats.QueryText != tt.wantText || q.CTQueryText != tt.wantCT || q.User != tt.wantUser {
				t.Fatalf("text %q, CloudTrail text %q, user %q; want %q, %q, %q", q.Stats.QueryText, q.CTQueryText, q.User, tt.wantText, tt.wantCT, tt.wantUser)
			}
			if q.Fingerprint != wantFP {
				t.Errorf("fingerprint %q, want that of the raw text %q", q.Fingerprint, wantFP)
			}
			// Re-deriving from what is stored (a team rule changed) gives
			// the same user, shape and text.
			again := q
			r.Query(&again)
			if again.User != q.User || again.Fingerprint != q.Fingerprint || again.Stats.QueryText != q.Stats.QueryText || again.CTQueryText != q.CTQueryText {
				t.Errorf("re-derived from the stored row: user %q shape %q text %q; was %q %q %q",
					again.User, again.Fingerprint, again.Stats.QueryText, q.User, q.Fingerprint, q.Stats.QueryText)
			}
		})
	}
}

func TestRulesFingerprintCoversRedaction(t *testing.T) {
	t.Parallel()
	plain := NewRules(mustConfig(t, ""))
	redacted := NewRules(mustConfig(t, "redact: {literals: true}"))
	if plain.Fingerprint() == redacted.Fingerprint() {
		t.Fatal("turning redaction on does not change the rules fingerprint: stored texts would never be redacted")
	}
	if !redacted.RedactsLiterals() || plain.RedactsLiterals() {
		t.Fatal("RedactsLiterals")
	}
}

// TestRederiveRedactsStoredTexts: rows stored before redaction was turned
// on lose their literals at the next command that writes, keep their
// comment user, and gain a shape.
func TestRederiveRedactsStoredTexts(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "r.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	const ident = "identity: {query_comment_user: '--\\s*user:\\s*(\\S+)'}\n"
	before := NewRules(mustConfig(t, ident))
	ev := &cloudtrail.QueryEvent{EventID: "e1", EventTime: time.Now(), Region: "us-east-1", QueryID: "q1", RecipientAccount: "111111111111",
		Identity:  cloudtrail.Identity{Type: "IAMUser", UserName: "svc", AccountID: "111111111111"},
		QueryText: "-- user: carol\nSELECT * FROM t WHERE ssn = '123-45-6789'"}
	q := before.NewQuery(ev)
	q.Fingerprint = "" // as an older release stored it
	if _, err := st.Commit(ctx, &store.Batch{Queries: []store.Query{q}}); err != nil {
		t.Fatal(err)
	}
	after := NewRules(mustConfig(t, ident+"redact: {literals: true}"))
	if changed, err := Rederive(ctx, st, after); err != nil || !changed {
		t.Fatalf("Rederive: %v %v", changed, err)
	}
	got, _, err := st.GetQuery(ctx, "us-east-1", "q1")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(got.CTQueryText, "6789") || got.User != "carol" || got.Fingerprint != Fingerprint(ev.QueryText) || got.Fingerprint == "" {
		t.Fatalf("after re-derive: text %q user %q shape %q", got.CTQueryText, got.User, got.Fingerprint)
	}
}

// TestRulesFingerprintIgnoresEmptyLists: a key written as an empty list and
// a key left out configure the same rules; a different fingerprint would
// re-derive every stored row for nothing.
func TestRulesFingerprintIgnoresEmptyLists(t *testing.T) {
	t.Parallel()
	bare := NewRules(mustConfig(t, "teams:\n  - name: data\n    users: ['*@data.example.com']\n"))
	for _, yaml := range []string{
		"teams:\n  - name: data\n    users: ['*@data.example.com']\n    roles: []\n    accounts: []\n    workgroups: []\n",
		"identity: {session_as_user: []}\nteams:\n  - name: data\n    users: ['*@data.example.com']\n",
		"pricing: {provisioned_workgroups: []}\nteams:\n  - name: data\n    users: ['*@data.example.com']\n",
	} {
		if got := NewRules(mustConfig(t, yaml)).Fingerprint(); got != bare.Fingerprint() {
			t.Errorf("rules of\n%s have fingerprint %s, want %s as with the empty lists left out", yaml, got, bare.Fingerprint())
		}
	}
	other := NewRules(mustConfig(t, "teams:\n  - name: data\n    users: ['*@data.example.com']\n    roles: ['etl-*']\n"))
	if other.Fingerprint() == bare.Fingerprint() {
		t.Error("a team's roles do not change the fingerprint")
	}
}
