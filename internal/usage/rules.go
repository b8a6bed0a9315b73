package usage

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"path"

	"github.com/athenawatch/athenawatch/internal/cloudtrail"
	"github.com/athenawatch/athenawatch/internal/config"
	"github.com/athenawatch/athenawatch/internal/store"
)

// DefaultTeam is the team of a query no team rule matches.
const DefaultTeam = "unassigned"

// DefaultWorkgroup is the workgroup Athena uses when a call names none.
const DefaultWorkgroup = "primary"

// Rules derive a stored query's user, role, account, team, effective database
// and workgroup, capacity and billed bytes from its raw CloudTrail and Athena
// fields. They are pure: the same query and configuration always give the
// same result, so a configuration change is applied by re-deriving every row.
type Rules struct {
	identity    cloudtrail.IdentityRules
	teams       []config.TeamRule
	provisioned []string
	fingerprint string
	// prices set each query's own cost. They are not in fingerprint: a
	// price change reprices the stored rows in place (Reprice) instead of
	// re-deriving every one.
	prices      Prices
	pricesPrint string
}

// NewRules builds the rules of cfg.
func NewRules(cfg *config.Config) *Rules {
	r := &Rules{
		identity: cloudtrail.IdentityRules{
			SessionAsUser:    cfg.Identity.SessionAsUser,
			QueryCommentUser: cfg.QueryCommentUser,
		},
		teams:       cfg.Teams,
		provisioned: cfg.Pricing.ProvisionedWorkgroups,
		prices:      PricesOf(cfg),
		pricesPrint: pricesFingerprint(cfg.Pricing),
	}
	// The fingerprint covers exactly the configuration the derived columns
	// depend on, except prices: reports price at read time, and the stored
	// per-query cost is repriced set-wise (Reprice).
	data, _ := json.Marshal(struct {
		V           int
		Identity    config.Identity
		Teams       []config.TeamRule
		Provisioned []string
	}{1, cfg.Identity, cfg.Teams, cfg.Pricing.ProvisionedWorkgroups})
	sum := sha256.Sum256(data)
	r.fingerprint = hex.EncodeToString(sum[:])
	return r
}

// Fingerprint identifies the rules; stored beside the rows derived with them.
func (r *Rules) Fingerprint() string { return r.fingerprint }

// Query fills the derived columns of q.
func (r *Rules) Query(q *store.Query) {
	p := r.identity.Resolve(q.Identity)
	if user, ok := r.identity.UserFromQuery(q.QueryText()); ok {
		p.User = user
	}
	if p.Account == "" {
		p.Account = q.OwnerAccount
	}
	q.User, q.Role, q.Account = p.User, p.Role, p.Account
	q.RulesFingerprint = r.fingerprint

	q.Database = firstNonEmpty(q.Stats.Database, q.CTDatabase)
	q.Workgroup = firstNonEmpty(q.Stats.Workgroup, q.CTWorkgroup, DefaultWorkgroup)
	q.Provisioned = r.isProvisioned(q.OwnerAccount, q.Region, q.Workgroup)
	q.Team = r.Team(q.User, q.Role, q.Account, q.Workgroup)
	if q.StatsStatus == store.StatusFinal {
		q.BilledBytes = BilledBytes(q.Stats.State, q.Stats.StatementType, q.Stats.DataScannedBytes, q.Stats.ReusedResult, q.Provisioned)
	} else {
		q.BilledBytes = 0
	}
	q.CostUSD = QueryCostUSD(q, r.prices)
}

// Rejected fills the derived columns of a rejected submission.
func (r *Rules) Rejected(rj *store.Rejected) {
	p := r.identity.Resolve(rj.Identity)
	if p.Account == "" {
		p.Account = rj.OwnerAccount
	}
	rj.User, rj.Role, rj.Account = p.User, p.Role, p.Account
	rj.RulesFingerprint = r.fingerprint
	rj.Team = r.Team(rj.User, rj.Role, rj.Account, firstNonEmpty(rj.Workgroup, DefaultWorkgroup))
}

// Team is the first team rule matching any of the query's user, role, account
// or workgroup, else DefaultTeam.
func (r *Rules) Team(user, role, account, workgroup string) string {
	for _, t := range r.teams {
		if anyMatch(t.Users, user) || anyMatch(t.Roles, role) || anyMatch(t.Accounts, account) || anyMatch(t.Workgroups, workgroup) {
			return t.Name
		}
	}
	return DefaultTeam
}

func (r *Rules) isProvisioned(account, region, workgroup string) bool {
	return anyMatch(r.provisioned, workgroup) || anyMatch(r.provisioned, account+"/"+region+"/"+workgroup)
}

func anyMatch(globs []string, value string) bool {
	if value == "" {
		return false
	}
	for _, g := range globs {
		// Globs were validated when the configuration was loaded.
		if ok, _ := path.Match(g, value); ok {
			return true
		}
	}
	return false
}

func firstNonEmpty(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}
