// Package config holds athenawatch's YAML configuration: one typed struct,
// loaded and validated once at start, with errors that name the key.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"net"
	"net/mail"
	"net/url"
	"os"
	"path"
	"regexp"
	"slices"
	"strings"
	"time"

	// Budgets name IANA time zones; the binary carries the database so
	// that they load on machines without one.
	_ "time/tzdata"

	"go.yaml.in/yaml/v3"

	"github.com/athenawatch/athenawatch/internal/location"
)

// DefaultUSDPerTiB is Athena's on-demand (SQL) price per TiB scanned in most
// regions. Source: https://aws.amazon.com/athena/pricing/ ("$5.00 per TB of
// data scanned"; Athena's TB is 2^40 bytes, rounded up to the next MB with a
// 10 MB minimum per query).
const DefaultUSDPerTiB = 5.0

// DefaultUSDPerDPUHour is Athena's provisioned-capacity price per DPU-hour
// in most regions. Source: https://aws.amazon.com/athena/pricing/
// ("$0.30 per DPU hour", billed per minute with a one-hour minimum per
// reservation).
const DefaultUSDPerDPUHour = 0.30

// Defaults of the tuning numbers, applied by the packages that use them
// when the configuration leaves them out (zero).
const (
	DefaultEnrichRate        = 20.0 // BatchGetQueryExecution calls/s per account-region
	DefaultEnrichBurst       = 40
	DefaultEnrichConcurrency = 16
	DefaultMaxRecordMB       = 32
)

// Config is the whole configuration. Every key is optional.
type Config struct {
	Pricing  Pricing            `yaml:"pricing"`
	Identity Identity           `yaml:"identity"`
	Teams    []TeamRule         `yaml:"teams"`
	Accounts map[string]Account `yaml:"accounts"`
	Sources  []string           `yaml:"sources"`
	Enrich   Enrich             `yaml:"enrich"`
	Collect  Collect            `yaml:"collect"`
	Redact   Redact             `yaml:"redact"`
	Metrics  Metrics            `yaml:"metrics"`

	// Budgets and Notifiers are read by the budgets command.
	Budgets   []Budget   `yaml:"budgets"`
	Notifiers []Notifier `yaml:"notifiers"`
	// DashboardURL is the dashboard's address as the people alerted reach
	// it; alerts link to it when set.
	DashboardURL string `yaml:"dashboard_url"`
	// UserEmails maps users to e-mail addresses: an email notifier with
	// to_user also writes to the user an alert is about.
	UserEmails map[string]string `yaml:"user_emails"`
	// BudgetEnforcement makes serve take the budgets' actions; without
	// it serve records what they would do (a dry run).
	BudgetEnforcement bool `yaml:"budget_enforcement"`
	// Digest, when it names notifiers, sends each team's spend of the
	// last calendar week (Monday to Monday in TimeZone) once.
	Digest Digest `yaml:"digest"`
	// Reconcile, when it names a bill export, makes serve reconcile the
	// AWS bill with the attributed cost.
	Reconcile Reconcile `yaml:"reconcile"`
	// Export, when it names a target, makes serve write the usage lake
	// there on an interval (athenawatch export does it by hand).
	Export Export `yaml:"export"`

	// QueryCommentUser is Identity.QueryCommentUser compiled by Validate.
	QueryCommentUser *regexp.Regexp `yaml:"-"`

	// given tells which defaulted numbers the YAML wrote (Parse sets it).
	given presence
}

// Pricing sets the per-byte price of Athena SQL queries.
type Pricing struct {
	// USDPerTiB is the default price per TiB scanned (default 5.00).
	USDPerTiB float64 `yaml:"usd_per_tib"`
	// Regions overrides the price per region.
	Regions map[string]float64 `yaml:"regions"`
	// ProvisionedWorkgroups are globs over workgroup names (or
	// "account/region/workgroup") that run on provisioned capacity: billed by
	// DPU-hours, so their queries carry no per-byte cost.
	ProvisionedWorkgroups []string `yaml:"provisioned_workgroups"`
	// USDPerDPUHour prices the DPU-hours of queries on provisioned
	// capacity: a query's share of its reservation (default 0.30, Athena's
	// provisioned-capacity price per DPU-hour).
	USDPerDPUHour float64 `yaml:"usd_per_dpu_hour"`
}

// Identity tunes the rules that turn a CloudTrail userIdentity into a user.
type Identity struct {
	// SessionAsUser are role-name globs whose role session name is the user.
	SessionAsUser []string `yaml:"session_as_user"`
	// QueryCommentUser is a regex whose group 1, found in the query text,
	// names the user (BI tools that run every query under one role).
	QueryCommentUser string `yaml:"query_comment_user"`
	// ResolveIdentityCenter turns the ids of IAM Identity Center users
	// (onBehalfOf.userId) into their Identity Store user names.
	ResolveIdentityCenter bool `yaml:"resolve_identity_center" json:",omitempty"`
	// IdentityCenterRegion is the region of the Identity Center instance
	// (the Identity Store is regional; its ARN names no region). Default:
	// the AWS configuration's region.
	IdentityCenterRegion string `yaml:"identity_center_region" json:"-"`
}

// TeamRule assigns a team. A rule matches a query when any glob in any of its
// lists matches; rules are tried in order and the first match wins.
type TeamRule struct {
	Name       string   `yaml:"name"`
	Users      []string `yaml:"users"`
	Roles      []string `yaml:"roles"`
	Accounts   []string `yaml:"accounts"`
	Workgroups []string `yaml:"workgroups"`
}

// Redact says what of a query's text is kept in the store. Query texts can
// hold secrets (passwords in CREATE statements, personal data in WHERE
// clauses).
type Redact struct {
	// Literals stores only the normalized text of every query (string and
	// number literals replaced by ?, comments dropped, case folded), the
	// text its shape is computed from (default false: the text as Athena
	// and CloudTrail give it).
	Literals bool `yaml:"literals"`
}

// Account says how to reach one AWS account.
type Account struct {
	// RoleARN is assumed (STS AssumeRole) to read that account's queries.
	RoleARN string `yaml:"role_arn"`
	// Name is a display name.
	Name string `yaml:"name"`
}

// Enrich tunes the BatchGetQueryExecution client (enrich.Options).
type Enrich struct {
	// Rate is calls per second per account-region (default 20).
	Rate float64 `yaml:"rate"`
	// Burst is the token bucket size (default 40).
	Burst int `yaml:"burst"`
	// Concurrency is how many account-regions are asked at once (default
	// 16); each has its own quota.
	Concurrency int `yaml:"concurrency"`
	// InFlight is how many calls to one account-region may be in flight
	// at once (default: enough to hide a half-second round trip at rate,
	// rate/2 and at least 4); the rate limit still paces when each starts.
	InFlight int `yaml:"in_flight"`
}

// Collect tunes reading trail files.
type Collect struct {
	// Workers reading files in parallel (default: number of CPUs).
	Workers int `yaml:"workers"`
	// MaxRecordMB is the largest CloudTrail record accepted (default 32);
	// larger records are reported and skipped.
	MaxRecordMB int `yaml:"max_record_mb"`
}

// Metrics tunes serve's /metrics.
type Metrics struct {
	// Top is how many users, databases, workgroups and teams get series
	// of their own, the most expensive first; the rest are summed under
	// "other", so that the series count stays bounded (default 50).
	Top int `yaml:"top"`
}

// DefaultMetricsTop and MaxMetricsTop bound Metrics.Top.
const (
	DefaultMetricsTop = 50
	MaxMetricsTop     = 500
)

// Budget is a spending limit (evaluated by the budgets command). Validate
// fills in the defaults of the keys left out.
type Budget struct {
	Name string `yaml:"name"`
	// Scope selects the queries: keys user, team, workgroup, account; glob
	// values; "*" makes a budget of each value separately. Empty: all.
	Scope      map[string]string `yaml:"scope"`
	LimitUSD   float64           `yaml:"limit_usd"`
	LimitBytes int64             `yaml:"limit_bytes"`
	// Period is day, week (from Monday) or month (default), calendar
	// periods in TimeZone (an IANA name; default UTC).
	Period   string `yaml:"period"`
	TimeZone string `yaml:"time_zone"`
	// Thresholds are fractions of the limit that alert (default [1.0]),
	// sorted.
	Thresholds []float64 `yaml:"thresholds"`
	// Kind is actual (default), forecast (projected to pass the limit by
	// the period's end) or anomaly (a day's spend over AnomalyFactor ×
	// the trailing median day).
	Kind          string   `yaml:"kind"`
	AnomalyFactor float64  `yaml:"anomaly_factor"`
	Notify        []string `yaml:"notify"`
	// Action is notify (default), stop or block.
	Action string `yaml:"action"`
	// Allow are user globs the budget's actions never touch.
	Allow []string `yaml:"allow"`
}

// Reconcile configures serve's reconciliation of the AWS bill (an AWS
// Data Exports CUR 2.0 export in Parquet) with the attributed cost.
type Reconcile struct {
	// CUR is where the export is: s3://BUCKET/PREFIX or dir:PATH, at or
	// above the export's own folder.
	CUR string `yaml:"cur"`
	// Every is how often serve reconciles (default 24h; the export is
	// refreshed about once a day).
	Every time.Duration `yaml:"every"`
}

// DefaultReconcileEvery is Reconcile.Every's default; minReconcileEvery
// and maxReconcileEvery bound it.
const (
	DefaultReconcileEvery = 24 * time.Hour
	minReconcileEvery     = 5 * time.Minute
	maxReconcileEvery     = 31 * 24 * time.Hour
)

// Digest configures the weekly digest per team.
type Digest struct {
	Notify   []string `yaml:"notify"`
	TimeZone string   `yaml:"time_zone"`
}

// Export configures serve's export of the usage lake.
type Export struct {
	// To is dir:PATH or s3://BUCKET/PREFIX, as export --to.
	To string `yaml:"to"`
	// Format is parquet (the default) or csv; Compression zstd (the
	// default) or snappy.
	Format      string `yaml:"format"`
	Compression string `yaml:"compression"`
	// Every is how often (default 1h; 1m to 168h).
	Every time.Duration `yaml:"every"`
}

// Budget scope keys, periods, kinds and actions.
var (
	BudgetScopeKeys = []string{"user", "team", "workgroup", "account"}
	BudgetPeriods   = []string{"day", "week", "month"}
	BudgetKinds     = []string{"actual", "forecast", "anomaly"}
	BudgetActions   = []string{"notify", "stop", "block"}
)

// DefaultAnomalyFactor is how many times the trailing median day a day's
// spend must be to be an anomaly.
const DefaultAnomalyFactor = 3

// Notifier is an alert destination (used by the budgets command).
// Secrets come from the environment or a file only, never from this file:
// a webhook's signing secret (SecretEnv, SecretFile) and a Slack incoming
// webhook's URL, which is itself a secret (URLEnv, URLFile).
type Notifier struct {
	Name     string `yaml:"name"`
	Type     string `yaml:"type"`      // webhook, slack, sns or email
	TopicARN string `yaml:"topic_arn"` // sns
	// email: the SMTP server (host:port, STARTTLS required unless the host
	// is a loopback address), the sender, the recipients, whether the
	// user an alert is about gets it too, and the login's variables.
	SMTP        string   `yaml:"smtp"`
	From        string   `yaml:"from"`
	To          []string `yaml:"to"`
	ToUser      bool     `yaml:"to_user"`
	UsernameEnv string   `yaml:"username_env"`
	PasswordEnv string   `yaml:"password_env"`
	URL         string   `yaml:"url"`
	URLEnv      string   `yaml:"url_env"`
	URLFile     string   `yaml:"url_file"`
	SecretEnv   string   `yaml:"secret_env"`
	SecretFile  string   `yaml:"secret_file"`
}

// NotifierTypes are the notifier types of this version.
var NotifierTypes = []string{"webhook", "slack", "sns", "email"}

// Load reads and validates the YAML file at name. An empty name yields the
// defaults.
func Load(name string) (*Config, error) {
	if name == "" {
		c := &Config{}
		return c, c.Validate()
	}
	data, err := os.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	c, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", name, err)
	}
	return c, nil
}

// Parse decodes and validates YAML. Unknown keys are errors: a misspelt key
// would otherwise silently do nothing.
func Parse(data []byte) (*Config, error) {
	c := &Config{}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(c); err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	// A second, lenient decode tells a key that is absent (the default
	// applies) from one written as 0 (which must then be valid on its own).
	var given presence
	if err := yaml.Unmarshal(data, &given); err != nil {
		return nil, err
	}
	c.given = given
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return c, nil
}

// presence records which numbers the YAML wrote, as written: it tells a
// key that is absent from one written as 0, and a whole number from one
// with a fraction (which the YAML decoder would silently truncate into an
// int).
type presence struct {
	Pricing struct {
		USDPerTiB     *float64 `yaml:"usd_per_tib"`
		USDPerDPUHour *float64 `yaml:"usd_per_dpu_hour"`
	} `yaml:"pricing"`
	Enrich struct {
		Rate        *float64 `yaml:"rate"`
		Burst       *float64 `yaml:"burst"`
		Concurrency *float64 `yaml:"concurrency"`
		InFlight    *float64 `yaml:"in_flight"`
	} `yaml:"enrich"`
	Collect struct {
		Workers     *float64 `yaml:"workers"`
		MaxRecordMB *float64 `yaml:"max_record_mb"`
	} `yaml:"collect"`
	Budgets []struct {
		LimitUSD   *float64 `yaml:"limit_usd"`
		LimitBytes *float64 `yaml:"limit_bytes"`
	} `yaml:"budgets"`
}

// wholeNumbers names the integer keys written with a fraction.
func (p presence) wholeNumbers() []error {
	var errs []error
	check := func(key string, v *float64) {
		if v != nil && *v != math.Trunc(*v) {
			errs = append(errs, fmt.Errorf("%s: %v is not a whole number", key, *v))
		}
	}
	check("enrich.burst", p.Enrich.Burst)
	check("enrich.concurrency", p.Enrich.Concurrency)
	check("enrich.in_flight", p.Enrich.InFlight)
	check("collect.workers", p.Collect.Workers)
	check("collect.max_record_mb", p.Collect.MaxRecordMB)
	for i, b := range p.Budgets {
		check(fmt.Sprintf("budgets[%d].limit_bytes", i), b.LimitBytes)
	}
	return errs
}

var accountIDPattern = regexp.MustCompile(`^\d{12}$`)

// regionPattern is the form of an AWS region name.
var regionPattern = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-\d{1,2}$`)

// Ranges of the tuning numbers. They keep a typo (1e8 calls per second, a
// burst of a billion) from turning the client into a busy loop or a memory
// hog, and are wide enough for any real account's quotas.
const (
	minEnrichRate, maxEnrichRate = 0.5, 1000 // BatchGetQueryExecution calls/s per account-region
	maxEnrichBurst               = 1000
	maxEnrichConcurrency         = 256
	maxEnrichInFlight            = 64
	MaxCollectWorkers            = 1024 // also bounds collect --workers
	maxRecordMB                  = 1024
	maxBudgetThreshold           = 100 // a fraction of the limit; 100 = 10,000 %
)

// Validate fills defaults and checks every key. The error names each bad key
// with what is wrong and what is accepted.
//
// A key that is absent takes its default. Prices written as 0 are honoured
// (the queries they price then cost nothing); other numbers written as 0
// that have no meaning as 0 are errors rather than silently defaulted.
func (c *Config) Validate() error {
	errs := c.given.wholeNumbers()
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	// Prices: finite and not negative; absent means Athena's list price.
	price := func(key string, v float64) {
		switch {
		case math.IsNaN(v) || math.IsInf(v, 0):
			bad("%s: %v is not a price (want a finite number of USD, 0 or more)", key, v)
		case v < 0:
			bad("%s: %v must not be negative", key, v)
		}
	}
	if c.Pricing.USDPerTiB == 0 && c.given.Pricing.USDPerTiB == nil {
		c.Pricing.USDPerTiB = DefaultUSDPerTiB
	}
	price("pricing.usd_per_tib", c.Pricing.USDPerTiB)
	for _, r := range sortedKeys(c.Pricing.Regions) {
		price("pricing.regions."+r, c.Pricing.Regions[r])
	}
	if c.Pricing.USDPerDPUHour == 0 && c.given.Pricing.USDPerDPUHour == nil {
		c.Pricing.USDPerDPUHour = DefaultUSDPerDPUHour
	}
	price("pricing.usd_per_dpu_hour", c.Pricing.USDPerDPUHour)
	if err := checkGlobs("pricing.provisioned_workgroups", c.Pricing.ProvisionedWorkgroups); err != nil {
		errs = append(errs, err)
	}

	switch {
	case c.Metrics.Top == 0:
		c.Metrics.Top = DefaultMetricsTop
	case c.Metrics.Top < 0 || c.Metrics.Top > MaxMetricsTop:
		bad("metrics.top: %d out of range 1..%d", c.Metrics.Top, MaxMetricsTop)
	}

	if err := checkGlobs("identity.session_as_user", c.Identity.SessionAsUser); err != nil {
		errs = append(errs, err)
	}
	if r := c.Identity.IdentityCenterRegion; r != "" && !regionPattern.MatchString(r) {
		bad("identity.identity_center_region: %q is not a region name", r)
	}
	if c.Identity.QueryCommentUser != "" {
		re, err := regexp.Compile(c.Identity.QueryCommentUser)
		switch {
		case err != nil:
			bad("identity.query_comment_user: %w", err)
		case re.NumSubexp() < 1:
			bad("identity.query_comment_user: needs a capture group for the user")
		default:
			c.QueryCommentUser = re
		}
	}
	for i, t := range c.Teams {
		key := fmt.Sprintf("teams[%d]", i)
		if strings.TrimSpace(t.Name) == "" {
			bad("%s.name: missing", key)
		}
		for _, g := range []struct {
			name  string
			globs []string
		}{{"users", t.Users}, {"roles", t.Roles}, {"accounts", t.Accounts}, {"workgroups", t.Workgroups}} {
			if err := checkGlobs(key+"."+g.name, g.globs); err != nil {
				errs = append(errs, err)
			}
		}
	}
	for _, id := range sortedKeys(c.Accounts) {
		a := c.Accounts[id]
		if !accountIDPattern.MatchString(id) {
			bad("accounts.%s: an account id has 12 digits", id)
		}
		if a.RoleARN != "" && !strings.HasPrefix(a.RoleARN, "arn:") {
			bad("accounts.%s.role_arn: %q is not an ARN", id, a.RoleARN)
		}
	}

	// Tuning numbers: absent (or, in Go, zero) means the consumer's
	// default; written, they must be in range.
	if c.Enrich.Rate != 0 || c.given.Enrich.Rate != nil {
		if r := c.Enrich.Rate; !(r >= minEnrichRate && r <= maxEnrichRate) { // also catches NaN
			bad("enrich.rate: %v is out of range: want %v to %v calls per second (default %v)", r, minEnrichRate, maxEnrichRate, DefaultEnrichRate)
		}
	}
	intRange := func(key string, v, lo, hi, def int, given bool) {
		if (v != 0 || given) && (v < lo || v > hi) {
			bad("%s: %d is out of range: want %d to %d (default %d)", key, v, lo, hi, def)
		}
	}
	intRange("enrich.burst", c.Enrich.Burst, 1, maxEnrichBurst, DefaultEnrichBurst, c.given.Enrich.Burst != nil)
	intRange("enrich.concurrency", c.Enrich.Concurrency, 1, maxEnrichConcurrency, DefaultEnrichConcurrency, c.given.Enrich.Concurrency != nil)
	if v := c.Enrich.InFlight; (v != 0 || c.given.Enrich.InFlight != nil) && (v < 1 || v > maxEnrichInFlight) {
		bad("enrich.in_flight: %d is out of range: want 1 to %d (default: enough calls to hide a half-second round trip at the rate)", v, maxEnrichInFlight)
	}
	if w := c.Collect.Workers; w < 0 || w > MaxCollectWorkers {
		bad("collect.workers: %d is out of range: want 0 (one per CPU) to %d", w, MaxCollectWorkers)
	}
	intRange("collect.max_record_mb", c.Collect.MaxRecordMB, 1, maxRecordMB, DefaultMaxRecordMB, c.given.Collect.MaxRecordMB != nil)

	for i := range c.Notifiers {
		c.validateNotifier(i, bad)
	}
	for _, n := range c.Digest.Notify {
		if !slices.ContainsFunc(c.Notifiers, func(x Notifier) bool { return x.Name == n }) {
			bad("digest.notify: no notifier named %q", n)
		}
	}
	if c.Digest.TimeZone == "" {
		c.Digest.TimeZone = "UTC"
	}
	if _, err := time.LoadLocation(c.Digest.TimeZone); err != nil {
		bad("digest.time_zone: %q is not a time zone (want an IANA name such as Europe/Berlin)", c.Digest.TimeZone)
	}
	c.validateExport(bad)
	c.validateReconcile(bad)
	for _, u := range slices.Sorted(maps.Keys(c.UserEmails)) {
		if _, err := mail.ParseAddress(c.UserEmails[u]); err != nil {
			bad("user_emails.%s: %q is not an e-mail address", u, c.UserEmails[u])
		}
	}
	for i, b := range c.Budgets {
		key := fmt.Sprintf("budgets[%d]", i)
		if b.Name != "" {
			key = fmt.Sprintf("budgets[%d] (%s)", i, b.Name)
		}
		switch l := b.LimitUSD; {
		case math.IsNaN(l) || math.IsInf(l, 0):
			bad("%s.limit_usd: %v is not an amount (want a finite number of USD, 0 or more)", key, l)
		case l < 0:
			bad("%s.limit_usd: %v must not be negative", key, l)
		}
		if b.LimitBytes < 0 {
			bad("%s.limit_bytes: %d must not be negative", key, b.LimitBytes)
		}
		for j, th := range b.Thresholds {
			if !(th > 0 && th <= maxBudgetThreshold) { // also catches NaN
				bad("%s.thresholds[%d]: %v is out of range: want a fraction of the limit above 0 and at most %d (0.8 = 80 %%)", key, j, th, maxBudgetThreshold)
			}
		}
		c.validateBudget(i, key, bad)
	}
	return errors.Join(errs...)
}

// validateReconcile checks the reconcile section and fills in its
// default.
func (c *Config) validateReconcile(bad func(string, ...any)) {
	r := &c.Reconcile
	if r.CUR == "" {
		if r.Every != 0 {
			bad("reconcile.every: no reconcile.cur to reconcile with")
		}
		return
	}
	if _, err := location.Parse(r.CUR); err != nil {
		bad("reconcile.cur: %v", err)
	}
	switch {
	case r.Every == 0:
		r.Every = DefaultReconcileEvery
	case r.Every < minReconcileEvery || r.Every > maxReconcileEvery:
		bad("reconcile.every: %v is out of range: want %v to %v (default %v)", r.Every, minReconcileEvery, maxReconcileEvery, DefaultReconcileEvery)
	}
}

// validateNotifier checks notifier i.
func (c *Config) validateNotifier(i int, bad func(string, ...any)) {
	n := c.Notifiers[i]
	key := fmt.Sprintf("notifiers[%d]", i)
	if n.Name == "" {
		bad("%s.name: a notifier needs a name (budgets name it in notify)", key)
	} else {
		key = fmt.Sprintf("notifiers[%d] (%s)", i, n.Name)
	}
	for j := range i {
		if n.Name != "" && c.Notifiers[j].Name == n.Name {
			bad("%s.name: %q is the name of notifiers[%d] too", key, n.Name, j)
		}
	}
	if !slices.Contains(NotifierTypes, n.Type) {
		bad("%s.type: %q is none of %s", key, n.Type, strings.Join(NotifierTypes, ", "))
	}
	if n.Type == "email" {
		if host, port, err := net.SplitHostPort(n.SMTP); err != nil || host == "" || port == "" {
			bad("%s.smtp: %q is not HOST:PORT of an SMTP server", key, n.SMTP)
		}
		if _, err := mail.ParseAddress(n.From); err != nil {
			bad("%s.from: %q is not an e-mail address", key, n.From)
		}
		for _, to := range n.To {
			if _, err := mail.ParseAddress(to); err != nil {
				bad("%s.to: %q is not an e-mail address", key, to)
			}
		}
		if len(n.To) == 0 && !n.ToUser {
			bad("%s: no recipient: give to, or to_user with user_emails", key)
		}
		if (n.UsernameEnv == "") != (n.PasswordEnv == "") {
			bad("%s: username_env and password_env go together", key)
		}
		return
	}
	if n.Type == "sns" {
		if parts := strings.Split(n.TopicARN, ":"); len(parts) != 6 || parts[0] != "arn" || parts[2] != "sns" || !regionPattern.MatchString(parts[3]) ||
			!accountIDPattern.MatchString(parts[4]) || parts[5] == "" {
			bad("%s.topic_arn: %q is not an SNS topic ARN (arn:aws:sns:REGION:ACCOUNT:NAME)", key, n.TopicARN)
		}
		if n.URL != "" || n.URLEnv != "" || n.URLFile != "" || n.SecretEnv != "" || n.SecretFile != "" {
			bad("%s: an sns notifier takes topic_arn only (its credentials are athenawatch's AWS credentials)", key)
		}
		return
	}
	if n.TopicARN != "" {
		bad("%s.topic_arn: only for type sns", key)
	}
	urls := 0
	for _, v := range []string{n.URL, n.URLEnv, n.URLFile} {
		if v != "" {
			urls++
		}
	}
	if urls != 1 {
		bad("%s: want exactly one of url, url_env, url_file", key)
	}
	if n.Type == "slack" && n.URL != "" {
		bad("%s.url: a Slack webhook URL is a secret: give url_env or url_file, not the URL itself", key)
	}
	if n.URL != "" {
		if u, err := url.Parse(n.URL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			bad("%s.url: %q is not an http(s) URL", key, n.URL)
		} else if u.User != nil {
			bad("%s.url: credentials in the URL: give a signing secret with secret_env or secret_file instead", key)
		}
	}
	if n.SecretEnv != "" && n.SecretFile != "" {
		bad("%s: secret_env and secret_file both set", key)
	}
}

// limitGiven reports whether the YAML wrote a limit of budget i.
func (c *Config) limitGiven(i int) bool {
	if i >= len(c.given.Budgets) {
		return false
	}
	g := c.given.Budgets[i]
	return g.LimitUSD != nil || g.LimitBytes != nil
}

// validateBudget checks the keys of budget i and fills in their defaults.
func (c *Config) validateBudget(i int, key string, bad func(string, ...any)) {
	b := &c.Budgets[i]
	if b.Name == "" {
		bad("%s.name: a budget needs a name (alerts are kept by it)", key)
	}
	if b.Name == "weekly-digest" {
		bad("%s.name: weekly-digest is the name of the digests", key)
	}
	for j := range i {
		if b.Name != "" && c.Budgets[j].Name == b.Name {
			bad("%s.name: %q is the name of budgets[%d] too", key, b.Name, j)
		}
	}
	stars := 0
	for k, v := range b.Scope {
		if !slices.Contains(BudgetScopeKeys, k) {
			bad("%s.scope.%s: unknown key (want %s)", key, k, strings.Join(BudgetScopeKeys, ", "))
		}
		if v == "*" {
			stars++
		}
		if err := checkGlobs(key+".scope."+k, []string{v}); err != nil {
			bad("%v", err)
		}
	}
	if stars > 1 {
		bad("%s.scope: at most one key may be \"*\" (each value separately)", key)
	}
	switch {
	case b.LimitUSD > 0 && b.LimitBytes > 0:
		bad("%s: limit_usd and limit_bytes both set: a budget has one limit", key)
	case b.LimitUSD == 0 && b.LimitBytes == 0 && b.Kind != "anomaly" && !c.limitGiven(i):
		bad("%s: no limit: set limit_usd or limit_bytes (an explicit 0 alerts on any spend)", key)
	}
	oneOf := func(field string, v *string, allowed []string, def string) {
		if *v == "" {
			*v = def
		}
		if !slices.Contains(allowed, *v) {
			bad("%s.%s: %q is none of %s", key, field, *v, strings.Join(allowed, ", "))
		}
	}
	oneOf("period", &b.Period, BudgetPeriods, "month")
	oneOf("kind", &b.Kind, BudgetKinds, "actual")
	oneOf("action", &b.Action, BudgetActions, "notify")
	if b.Action == "block" {
		// A workgroup is blocked by disabling it, a user by a deny policy.
		_, wg := b.Scope["workgroup"]
		_, user := b.Scope["user"]
		switch {
		case wg && (len(b.Scope) == 1 || len(b.Scope) == 2 && b.Scope["account"] != ""):
		case user && len(b.Scope) == 1:
		default:
			bad("%s.action: block works on a workgroup scope (scope: {workgroup: ..., account: ...}) or a user scope (scope: {user: ...})", key)
		}
	}
	if b.Kind == "anomaly" {
		if b.Period != "day" {
			bad("%s.period: an anomaly budget compares days: want day", key)
		}
		switch f := b.AnomalyFactor; {
		case f == 0:
			b.AnomalyFactor = DefaultAnomalyFactor
		case !(f > 1 && f <= 1000):
			bad("%s.anomaly_factor: %v is out of range: want more than 1 and at most 1000", key, f)
		}
	} else if b.AnomalyFactor != 0 {
		bad("%s.anomaly_factor: only for kind anomaly", key)
	}
	if b.TimeZone == "" {
		b.TimeZone = "UTC"
	}
	if _, err := time.LoadLocation(b.TimeZone); err != nil {
		bad("%s.time_zone: %q is not a time zone (want an IANA name such as Europe/Berlin)", key, b.TimeZone)
	}
	if len(b.Thresholds) == 0 {
		b.Thresholds = []float64{1}
	}
	b.Thresholds = slices.Compact(slices.Sorted(slices.Values(b.Thresholds)))
	if err := checkGlobs(key+".allow", b.Allow); err != nil {
		bad("%v", err)
	}
	for _, n := range b.Notify {
		if !slices.ContainsFunc(c.Notifiers, func(x Notifier) bool { return x.Name == n }) {
			bad("%s.notify: no notifier named %q", key, n)
		}
	}
}

func checkGlobs(key string, globs []string) error {
	for _, g := range globs {
		if _, err := path.Match(g, ""); err != nil {
			return fmt.Errorf("%s: bad glob %q: %w", key, g, err)
		}
	}
	return nil
}

// sortedKeys lets Validate name bad map keys in a stable order.
func sortedKeys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }

// PriceUSDPerTiB is the price per TiB scanned in region.
func (c *Config) PriceUSDPerTiB(region string) float64 {
	if p, ok := c.Pricing.Regions[region]; ok {
		return p
	}
	return c.Pricing.USDPerTiB
}

// Roles maps account ids to the role to assume in them.
func (c *Config) Roles() map[string]string {
	roles := make(map[string]string, len(c.Accounts))
	for id, a := range c.Accounts {
		if a.RoleARN != "" {
			roles[id] = a.RoleARN
		}
	}
	return roles
}

// validateExport checks the export section and fills its defaults.
func (c *Config) validateExport(bad func(string, ...any)) {
	e := &c.Export
	if e.To == "" {
		if e.Format != "" || e.Compression != "" || e.Every != 0 {
			bad("export: to is required when format, compression or every is set (dir:PATH or s3://BUCKET/PREFIX)")
		}
		return
	}
	if _, err := location.Parse(e.To); err != nil {
		bad("export.to: %v", err)
	}
	switch e.Format {
	case "":
		e.Format = "parquet"
	case "parquet", "csv":
	default:
		bad("export.format: %q: want parquet or csv", e.Format)
	}
	switch e.Compression {
	case "":
		e.Compression = "zstd"
	case "zstd", "snappy":
	default:
		bad("export.compression: %q: want zstd or snappy", e.Compression)
	}
	switch {
	case e.Every == 0:
		e.Every = time.Hour
	case e.Every < time.Minute || e.Every > 7*24*time.Hour:
		bad("export.every: %v is out of range: want 1m to 168h (default 1h)", e.Every)
	}
}
