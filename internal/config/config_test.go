package config

import (
	"slices"
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
redact: {literals: true}                         # strip literals from stored query text
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
	if !c.Redact.Literals {
		t.Fatal("redact.literals not read")
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
		{"export without a target", "export: {every: 1h}", "export: to is required"},
		{"export to a bare path", "export: {to: /data/lake}", "export.to"},
		{"export format", "export: {to: 'dir:/l', format: orc}", "export.format"},
		{"export compression", "export: {to: 'dir:/l', compression: lz4}", "export.compression"},
		{"export too often", "export: {to: 'dir:/l', every: 1s}", "export.every"},
		{"reconcile without an export", "reconcile: {every: 1h}", "reconcile.every: no reconcile.cur"},
		{"reconcile from a bare path", "reconcile: {cur: /data/cur}", "reconcile.cur"},
		{"reconcile from no bucket", "reconcile: {cur: 's3:///cur'}", "reconcile.cur"},
		{"reconcile too often", "reconcile: {cur: 's3://b/cur', every: 1s}", "reconcile.every: 1s is out of range"},
		{"reconcile every day, written as a day", "reconcile: {cur: 's3://b/cur', every: 1d}", "1d"},
		{"unknown redact key", "redact: {literal: true}", "literal"},
		{"redact not a bool", "redact: {literals: maybe}", "maybe"},
		{"bad regex", "identity: {query_comment_user: '(['}", "identity.query_comment_user"},
		{"regex without group", "identity: {query_comment_user: 'user'}", "capture group"},
		{"bad glob", "teams: [{name: a, users: ['[']}]", "teams[0].users"},
		{"team without name", "teams: [{users: [a]}]", "teams[0].name"},
		{"bad account", "accounts: {'12': {role_arn: 'arn:aws:iam::12:role/x'}}", "accounts.12"},
		{"negative price", "pricing: {regions: {us-east-1: -1}}", "pricing.regions.us-east-1"},

		// Numbers that are not numbers, or out of range. A rate of NaN, Inf
		// or 1e8 made the enrich limiter spin at full CPU and ignore Ctrl-C.
		{"price NaN", "pricing: {usd_per_tib: .nan}", "pricing.usd_per_tib: NaN is not a price"},
		{"price Inf", "pricing: {usd_per_tib: .inf}", "pricing.usd_per_tib: +Inf is not a price"},
		{"price -Inf", "pricing: {usd_per_tib: -.inf}", "pricing.usd_per_tib: -Inf is not a price"},
		{"price negative", "pricing: {usd_per_tib: -5}", "pricing.usd_per_tib: -5 must not be negative"},
		{"region price NaN", "pricing: {regions: {eu-west-2: .NaN}}", "pricing.regions.eu-west-2: NaN"},
		{"region price Inf", "pricing: {regions: {eu-west-2: .Inf}}", "pricing.regions.eu-west-2: +Inf"},
		{"dpu price NaN", "pricing: {usd_per_dpu_hour: .nan}", "pricing.usd_per_dpu_hour: NaN"},
		{"dpu price Inf", "pricing: {usd_per_dpu_hour: .inf}", "pricing.usd_per_dpu_hour: +Inf"},
		{"dpu price negative", "pricing: {usd_per_dpu_hour: -0.3}", "pricing.usd_per_dpu_hour: -0.3 must not be negative"},
		{"rate NaN", "enrich: {rate: .nan}", "enrich.rate: NaN is out of range: want 0.5 to 1000"},
		{"rate Inf", "enrich: {rate: .inf}", "enrich.rate: +Inf is out of range"},
		{"rate -Inf", "enrich: {rate: -.inf}", "enrich.rate: -Inf is out of range"},
		{"rate 1e8", "enrich: {rate: 1e8}", "enrich.rate: 1e+08 is out of range: want 0.5 to 1000 calls per second"},
		{"rate explicit 0", "enrich: {rate: 0}", "enrich.rate: 0 is out of range"},
		{"rate too slow", "enrich: {rate: 0.1}", "enrich.rate: 0.1 is out of range"},
		{"rate negative", "enrich: {rate: -1}", "enrich.rate: -1 is out of range"},
		{"burst explicit 0", "enrich: {burst: 0}", "enrich.burst: 0 is out of range: want 1 to 1000"},
		{"burst negative", "enrich: {burst: -1}", "enrich.burst: -1 is out of range"},
		{"burst huge", "enrich: {burst: 100000000}", "enrich.burst: 100000000 is out of range"},
		{"burst with a fraction", "enrich: {burst: 1.5}", "enrich.burst: 1.5 is not a whole number"},
		{"burst not a number", "enrich: {burst: lots}", "line 1: cannot unmarshal !!str `lots`"},
		{"workers with a fraction", "collect: {workers: 2.5}", "collect.workers: 2.5 is not a whole number"},
		{"concurrency with a fraction", "enrich: {concurrency: 0.5}", "enrich.concurrency: 0.5 is not a whole number"},
		{"max record with a fraction", "collect: {max_record_mb: 8.5}", "collect.max_record_mb: 8.5 is not a whole number"},
		{"budget bytes with a fraction", "budgets: [{limit_bytes: 1.5}]", "budgets[0].limit_bytes: 1.5 is not a whole number"},
		{"concurrency explicit 0", "enrich: {concurrency: 0}", "enrich.concurrency: 0 is out of range: want 1 to 256"},
		{"concurrency negative", "enrich: {concurrency: -4}", "enrich.concurrency: -4 is out of range"},
		{"concurrency huge", "enrich: {concurrency: 100000}", "enrich.concurrency: 100000 is out of range"},
		{"workers negative", "collect: {workers: -1}", "collect.workers: -1 is out of range: want 0 (one per CPU) to 1024"},
		{"workers huge", "collect: {workers: 1000000}", "collect.workers: 1000000 is out of range"},
		{"max record explicit 0", "collect: {max_record_mb: 0}", "collect.max_record_mb: 0 is out of range: want 1 to 1024"},
		{"max record negative", "collect: {max_record_mb: -1}", "collect.max_record_mb: -1 is out of range"},
		{"max record huge", "collect: {max_record_mb: 1048576}", "collect.max_record_mb: 1048576 is out of range"},
		{"budget limit NaN", "budgets: [{name: b, limit_usd: .nan}]", "budgets[0] (b).limit_usd: NaN is not an amount"},
		{"budget limit Inf", "budgets: [{name: b, limit_usd: .inf}]", "budgets[0] (b).limit_usd: +Inf is not an amount"},
		{"budget limit negative", "budgets: [{limit_usd: -1}]", "budgets[0].limit_usd: -1 must not be negative"},
		{"budget bytes negative", "budgets: [{limit_bytes: -1}]", "budgets[0].limit_bytes: -1 must not be negative"},
		{"threshold NaN", "budgets: [{limit_usd: 5, thresholds: [0.8, .nan]}]", "budgets[0].thresholds[1]: NaN is out of range"},
		{"threshold Inf", "budgets: [{limit_usd: 5, thresholds: [.inf]}]", "budgets[0].thresholds[0]: +Inf is out of range"},
		{"threshold zero", "budgets: [{limit_usd: 5, thresholds: [0]}]", "budgets[0].thresholds[0]: 0 is out of range"},
		{"budget without name", "budgets: [{limit_usd: 5}]", "budgets[0].name: a budget needs a name"},
		{"budget names twice", "budgets: [{name: b, limit_usd: 5}, {name: b, limit_usd: 6}]", `budgets[1] (b).name: "b" is the name of budgets[0] too`},
		{"budget scope key", "budgets: [{name: b, limit_usd: 5, scope: {colour: red}}]", "budgets[0] (b).scope.colour: unknown key"},
		{"budget two stars", `budgets: [{name: b, limit_usd: 5, scope: {user: "*", team: "*"}}]`, `at most one key may be "*"`},
		{"budget no limit", "budgets: [{name: b}]", "budgets[0] (b): no limit"},
		{"budget two limits", "budgets: [{name: b, limit_usd: 5, limit_bytes: 10}]", "both set"},
		{"budget period", "budgets: [{name: b, limit_usd: 5, period: year}]", `budgets[0] (b).period: "year" is none of day, week, month`},
		{"budget kind", "budgets: [{name: b, limit_usd: 5, kind: hope}]", `budgets[0] (b).kind: "hope" is none of`},
		{"budget action", "budgets: [{name: b, limit_usd: 5, action: shout}]", `budgets[0] (b).action: "shout" is none of notify, stop, block`},
		{"budget block", "budgets: [{name: b, limit_usd: 5, action: block, scope: {team: data}}]", "block works on a workgroup scope"},
		{"budget time zone", "budgets: [{name: b, limit_usd: 5, time_zone: Mars/Olympus}]", `budgets[0] (b).time_zone: "Mars/Olympus" is not a time zone`},
		{"anomaly period", "budgets: [{name: b, kind: anomaly, period: month}]", "an anomaly budget compares days"},
		{"anomaly factor", "budgets: [{name: b, kind: anomaly, period: day, anomaly_factor: 1}]", "anomaly_factor: 1 is out of range"},
		{"budget notifier", "budgets: [{name: b, limit_usd: 5, notify: [nobody]}]", `no notifier named "nobody"`},
		{"sns topic", "notifiers: [{name: t, type: sns, topic_arn: arn:aws:sqs:us-east-1:111111111111:q}]", "is not an SNS topic ARN"},
		{"sns with url", "notifiers: [{name: t, type: sns, topic_arn: arn:aws:sns:us-east-1:111111111111:t, url: https://x.example.com}]", "takes topic_arn only"},
		{"slack url inline", "notifiers: [{name: s, type: slack, url: https://hooks.slack.com/services/T/B/X}]", "a Slack webhook URL is a secret"},
		{"notifier type", "notifiers: [{name: m, type: pager}]", `"pager" is none of webhook, slack, sns, email`},
		{"email smtp", "notifiers: [{name: m, type: email, smtp: mail.example.com, from: a@example.com, to: [b@example.com]}]", `smtp: "mail.example.com" is not HOST:PORT`},
		{"email to", "notifiers: [{name: m, type: email, smtp: \"mail.example.com:587\", from: a@example.com, to: [nobody]}]", `to: "nobody" is not an e-mail address`},
		{"email login", "notifiers: [{name: m, type: email, smtp: \"m.example.com:587\", from: a@example.com, to: [b@example.com], username_env: U}]", "go together"},
		{"user email", "user_emails: {alice: not-an-address}", `user_emails.alice: "not-an-address" is not an e-mail address`},
		{"threshold negative", "budgets: [{limit_usd: 5, thresholds: [-0.5]}]", "budgets[0].thresholds[0]: -0.5 is out of range"},
		{"threshold huge", "budgets: [{limit_usd: 5, thresholds: [1000]}]", "budgets[0].thresholds[0]: 1000 is out of range"},
		{"in flight explicit 0", "enrich: {in_flight: 0}", "enrich.in_flight: 0 is out of range: want 1 to 64"},
		{"in flight negative", "enrich: {in_flight: -1}", "enrich.in_flight: -1 is out of range"},
		{"in flight huge", "enrich: {in_flight: 1000}", "enrich.in_flight: 1000 is out of range"},
		{"in flight with a fraction", "enrich: {in_flight: 2.5}", "enrich.in_flight: 2.5 is not a whole number"},
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

func TestEveryBadKeyIsNamed(t *testing.T) {
	t.Parallel()
	_, err := Parse([]byte("pricing: {usd_per_tib: .nan}\nenrich: {rate: 1e8, burst: 0}\ncollect: {workers: -1}\n"))
	for _, key := range []string{"pricing.usd_per_tib", "enrich.rate", "enrich.burst", "collect.workers"} {
		if err == nil || !strings.Contains(err.Error(), key) {
			t.Errorf("error %v does not name %s", err, key)
		}
	}
}

func TestDefaults(t *testing.T) {
	t.Parallel()
	for _, src := range []struct{ name, yaml string }{
		{"no file", ""},
		{"empty sections", "pricing: {}\nenrich: {}\ncollect: {}\n"},
		{"null values", "pricing: {usd_per_tib: ~, usd_per_dpu_hour: ~}\nenrich: {rate: ~, burst: ~}\n"},
	} {
		t.Run(src.name, func(t *testing.T) {
			t.Parallel()
			c, err := Parse([]byte(src.yaml))
			if err != nil {
				t.Fatal(err)
			}
			if c.PriceUSDPerTiB("any") != DefaultUSDPerTiB || c.Pricing.USDPerTiB != DefaultUSDPerTiB {
				t.Errorf("usd_per_tib = %v, want the default %v", c.Pricing.USDPerTiB, DefaultUSDPerTiB)
			}
			if c.Pricing.USDPerDPUHour != DefaultUSDPerDPUHour {
				t.Errorf("usd_per_dpu_hour = %v, want the default %v", c.Pricing.USDPerDPUHour, DefaultUSDPerDPUHour)
			}
			// Tuning numbers left out stay zero: their consumers default them.
			if c.Enrich != (Enrich{}) || c.Collect != (Collect{}) {
				t.Errorf("enrich %+v collect %+v, want zero values", c.Enrich, c.Collect)
			}
		})
	}
	c, err := Load("")
	if err != nil || c.Pricing.USDPerTiB != DefaultUSDPerTiB || c.Pricing.USDPerDPUHour != DefaultUSDPerDPUHour {
		t.Fatalf("Load(\"\") = %+v, %v", c, err)
	}
}

// TestExplicitZeroPriceIsHonoured is the regression test of pricing turning
// an explicit 0 into the default 5.00 without a word.
func TestExplicitZeroPriceIsHonoured(t *testing.T) {
	t.Parallel()
	c, err := Parse([]byte("pricing: {usd_per_tib: 0, regions: {eu-west-2: 0}, usd_per_dpu_hour: 0}"))
	if err != nil {
		t.Fatal(err)
	}
	if c.PriceUSDPerTiB("us-east-1") != 0 || c.PriceUSDPerTiB("eu-west-2") != 0 || c.Pricing.USDPerDPUHour != 0 {
		t.Fatalf("explicit zero prices became %v, %v, %v", c.PriceUSDPerTiB("us-east-1"), c.PriceUSDPerTiB("eu-west-2"), c.Pricing.USDPerDPUHour)
	}
}

func TestInRangeNumbersAreKept(t *testing.T) {
	t.Parallel()
	c, err := Parse([]byte(`
pricing: {usd_per_tib: 6.75, regions: {sa-east-1: 9.0}, usd_per_dpu_hour: 0.36}
enrich: {rate: 0.5, burst: 1000, concurrency: 256}
collect: {workers: 0, max_record_mb: 1024}
budgets: [{name: team, limit_usd: 0, thresholds: [0.5, 1, 1.5]}]
`))
	if err != nil {
		t.Fatal(err)
	}
	want := Enrich{Rate: 0.5, Burst: 1000, Concurrency: 256}
	if c.Enrich != want || c.Collect.MaxRecordMB != 1024 || c.PriceUSDPerTiB("x") != 6.75 || c.PriceUSDPerTiB("sa-east-1") != 9 || c.Pricing.USDPerDPUHour != 0.36 {
		t.Fatalf("numbers changed: %+v", c)
	}
}

func TestBudgetDefaults(t *testing.T) {
	t.Parallel()
	c, err := Parse([]byte("budgets: [{name: b, limit_usd: 5, thresholds: [1, 0.5, 1]}, {name: spikes, kind: anomaly, period: day}]"))
	if err != nil {
		t.Fatal(err)
	}
	b := c.Budgets[0]
	if b.Period != "month" || b.Kind != "actual" || b.Action != "notify" || b.TimeZone != "UTC" || !slices.Equal(b.Thresholds, []float64{0.5, 1}) {
		t.Fatalf("defaults: %+v", b)
	}
	if a := c.Budgets[1]; a.AnomalyFactor != DefaultAnomalyFactor || !slices.Equal(a.Thresholds, []float64{1}) {
		t.Fatalf("anomaly defaults: %+v", a)
	}
}

func TestReconcileSection(t *testing.T) {
	t.Parallel()
	c, err := Parse([]byte("reconcile: {cur: 's3://org-billing/cur'}"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Reconcile.CUR != "s3://org-billing/cur" || c.Reconcile.Every != DefaultReconcileEvery {
		t.Errorf("reconcile = %+v, want the export and the default interval", c.Reconcile)
	}
	c, err = Parse([]byte("reconcile: {cur: 'dir:/data/cur', every: 6h}"))
	if err != nil || c.Reconcile.Every.Hours() != 6 {
		t.Errorf("reconcile = %+v (%v), want every 6h", c.Reconcile, err)
	}
	if c, err := Parse(nil); err != nil || c.Reconcile.CUR != "" || c.Reconcile.Every != 0 {
		t.Errorf("no reconcile section: %+v (%v)", c.Reconcile, err)
	}
}
