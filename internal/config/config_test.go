package config

import (
	"strings"
	"testing"
)

func TestParseDesignExample(t *testing.T) {
	t.Parallel()
	// The configuration example of DESIGN.md, verbatim.
	const design = `
pricing: {usd_per_tib: 5.0, regions: {eu-west-2: 5.0}}
identity:
  session_as_user: ["analytics-app-*"]          # role globs whose session name is the user
  query_comment_user: '--\s*user:\s*(\S+)'     # regex, group 1 = user
teams:                                           # first match wins; default "unassigned"
  - {name: data-science, users: ["bob@*", carol], roles: [], accounts: [], workgroups: [analysts]}
accounts: {"222222222222": {role_arn: "arn:aws:iam::222222222222:role/athenawatch-reader"}}
sources: ["s3://org-trail-bucket/prefix", "lookup-events:us-east-1,eu-west-1"]
budgets:
  - {name: user-monthly, scope: {user: "*"}, limit_usd: 50, period: month, thresholds: [0.8, 1.0],
     kind: actual, notify: [ops]}                # scope "*" = each user separately
notifiers:
  - {name: ops, type: webhook, url: "https://hooks.example.com/athena", secret_env: OPS_HOOK_SECRET}
`
	c, err := Parse([]byte(design))
	if err != nil {
		t.Fatal(err)
	}
	if c.QueryCommentUser == nil || c.QueryCommentUser.FindStringSubmatch("select 1 -- user: dave")[1] != "dave" {
		t.Fatal("query_comment_user not compiled")
	}
	if c.Roles()["222222222222"] != "arn:aws:iam::222222222222:role/athenawatch-reader" {
		t.Fatalf("roles = %v", c.Roles())
	}
	if c.PriceUSDPerTiB("eu-west-2") != 5 || c.PriceUSDPerTiB("us-east-1") != 5 {
		t.Fatal("prices")
	}
}

func TestParseErrorsNameTheKey(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, yaml, want string
	}{
		{"unknown key", "pricing: {usd_per_tb: 5}", "usd_per_tb"},
		{"bad regex", "identity: {query_comment_user: '(['}", "identity.query_comment_user"},
		{"regex without group", "identity: {query_comment_user: 'user'}", "capture group"},
		{"bad glob", "teams: [{name: a, users: ['[']}]", "teams[0].users"},
		{"team without name", "teams: [{users: [a]}]", "teams[0].name"},
		{"bad account", "accounts: {'12': {role_arn: 'arn:aws:iam::12:role/x'}}", "accounts.12"},
		{"negative price", "pricing: {regions: {us-east-1: -1}}", "pricing.regions.us-east-1"},
		{"NaN enrich rate", "enrich: {rate: .nan}", "enrich.rate"},
		{"infinite enrich rate", "enrich: {rate: .inf}", "enrich.rate"},
		{"negative in flight", "enrich: {in_flight: -1}", "in_flight"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Parse([]byte(tt.yaml))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error = %v, want it to mention %q", err, tt.want)
			}
		})
	}
}

func TestDefaults(t *testing.T) {
	t.Parallel()
	c, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	if c.PriceUSDPerTiB("any") != DefaultUSDPerTiB {
		t.Fatal("default price")
	}
}
