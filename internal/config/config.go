// Package config holds athenawatch's YAML configuration: one typed struct,
// loaded and validated once at start, with errors that name the key.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path"
	"regexp"
	"strings"

	"go.yaml.in/yaml/v3"
)

// DefaultUSDPerTiB is Athena's on-demand (SQL) price per TiB scanned in most
// regions. Source: https://aws.amazon.com/athena/pricing/ ("$5.00 per TB of
// data scanned"; Athena's TB is 2^40 bytes, rounded up to the next MB with a
// 10 MB minimum per query).
const DefaultUSDPerTiB = 5.0

// Config is the whole configuration. Every key is optional.
type Config struct {
	Pricing  Pricing            `yaml:"pricing"`
	Identity Identity           `yaml:"identity"`
	Teams    []TeamRule         `yaml:"teams"`
	Accounts map[string]Account `yaml:"accounts"`
	Sources  []string           `yaml:"sources"`
	Enrich   Enrich             `yaml:"enrich"`
	Collect  Collect            `yaml:"collect"`

	// Budgets and Notifiers are read by the budgets command (a later part);
	// they are parsed here so one file serves every command.
	Budgets   []Budget   `yaml:"budgets"`
	Notifiers []Notifier `yaml:"notifiers"`

	// QueryCommentUser is Identity.QueryCommentUser compiled by Validate.
	QueryCommentUser *regexp.Regexp `yaml:"-"`
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

// Budget is a spending limit (evaluated by the budgets command).
type Budget struct {
	Name       string            `yaml:"name"`
	Scope      map[string]string `yaml:"scope"`
	LimitUSD   float64           `yaml:"limit_usd"`
	LimitBytes int64             `yaml:"limit_bytes"`
	Period     string            `yaml:"period"`
	Thresholds []float64         `yaml:"thresholds"`
	Kind       string            `yaml:"kind"`
	Notify     []string          `yaml:"notify"`
}

// Notifier is an alert destination (used by the budgets command).
type Notifier struct {
	Name      string `yaml:"name"`
	Type      string `yaml:"type"`
	URL       string `yaml:"url"`
	SecretEnv string `yaml:"secret_env"`
}

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
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return c, nil
}

var accountIDPattern = regexp.MustCompile(`^\d{12}$`)

// Validate fills defaults and checks every key, naming the first bad one.
func (c *Config) Validate() error {
	if c.Pricing.USDPerTiB == 0 {
		c.Pricing.USDPerTiB = DefaultUSDPerTiB
	}
	if c.Pricing.USDPerTiB < 0 {
		return fmt.Errorf("pricing.usd_per_tib: must not be negative")
	}
	for r, p := range c.Pricing.Regions {
		if p < 0 {
			return fmt.Errorf("pricing.regions.%s: must not be negative", r)
		}
	}
	if err := checkGlobs("pricing.provisioned_workgroups", c.Pricing.ProvisionedWorkgroups); err != nil {
		return err
	}
	if err := checkGlobs("identity.session_as_user", c.Identity.SessionAsUser); err != nil {
		return err
	}
	if c.Identity.QueryCommentUser != "" {
		re, err := regexp.Compile(c.Identity.QueryCommentUser)
		if err != nil {
			return fmt.Errorf("identity.query_comment_user: %w", err)
		}
		if re.NumSubexp() < 1 {
			return fmt.Errorf("identity.query_comment_user: needs a capture group for the user")
		}
		c.QueryCommentUser = re
	}
	for i, t := range c.Teams {
		key := fmt.Sprintf("teams[%d]", i)
		if strings.TrimSpace(t.Name) == "" {
			return fmt.Errorf("%s.name: missing", key)
		}
		for _, g := range []struct {
			name  string
			globs []string
		}{{"users", t.Users}, {"roles", t.Roles}, {"accounts", t.Accounts}, {"workgroups", t.Workgroups}} {
			if err := checkGlobs(key+"."+g.name, g.globs); err != nil {
				return err
			}
		}
	}
	for id, a := range c.Accounts {
		if !accountIDPattern.MatchString(id) {
			return fmt.Errorf("accounts.%s: an account id has 12 digits", id)
		}
		if a.RoleARN != "" && !strings.HasPrefix(a.RoleARN, "arn:") {
			return fmt.Errorf("accounts.%s.role_arn: %q is not an ARN", id, a.RoleARN)
		}
	}
	if r := c.Enrich.Rate; r < 0 || math.IsNaN(r) || math.IsInf(r, 0) {
		return fmt.Errorf("enrich.rate: %v is not a number of calls per second", r)
	}
	if c.Enrich.Burst < 0 || c.Enrich.Concurrency < 0 || c.Enrich.InFlight < 0 {
		return fmt.Errorf("enrich: burst, concurrency and in_flight must not be negative")
	}
	if c.Collect.Workers < 0 || c.Collect.MaxRecordMB < 0 {
		return fmt.Errorf("collect: workers and max_record_mb must not be negative")
	}
	return nil
}

func checkGlobs(key string, globs []string) error {
	for _, g := range globs {
		if _, err := path.Match(g, ""); err != nil {
			return fmt.Errorf("%s: bad glob %q: %w", key, g, err)
		}
	}
	return nil
}

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
