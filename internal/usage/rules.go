package usage

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"maps"
	"path"
	"slices"
	"strings"
	"sync/atomic"

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
	// redactLiterals stores the normalized text only (config redact).
	redactLiterals bool
	// resolveIC turns Identity Center user ids into the user names of
	// names (identity.resolve_identity_center); names is replaced whole
	// by SetIdentityNames while the rules are in use.
	resolveIC bool
	names     atomic.Pointer[map[string]string]
}

// NewRules builds the rules of cfg.
func NewRules(cfg *config.Config) *Rules {
	r := &Rules{
		identity: cloudtrail.IdentityRules{
			SessionAsUser:    cfg.Identity.SessionAsUser,
			QueryCommentUser: cfg.QueryCommentUser,
		},
		teams:          cfg.Teams,
		provisioned:    cfg.Pricing.ProvisionedWorkgroups,
		prices:         PricesOf(cfg),
		pricesPrint:    pricesFingerprint(cfg.Pricing),
		redactLiterals: cfg.Redact.Literals,
		resolveIC:      cfg.Identity.ResolveIdentityCenter,
	}
	// The fingerprint covers exactly the configuration the derived columns
	// depend on, except prices: reports price at read time, and the stored
	// per-query cost is repriced set-wise (Reprice). V counts changes of the
	// derivation itself: 2 added the query's shape (FingerprintVersion) and
	// redaction, so rows stored before gain both.
	data, _ := json.Marshal(struct {
		V           int
		Shape       string
		Identity    config.Identity
		Teams       []config.TeamRule
		Provisioned []string
		Redact      config.Redact
	}{2, FingerprintVersion, normalIdentity(cfg.Identity), normalTeams(cfg.Teams), orNil(cfg.Pricing.ProvisionedWorkgroups), cfg.Redact})
	sum := sha256.Sum256(data)
	r.fingerprint = hex.EncodeToString(sum[:])
	return r
}

// orNil is list, or nil when it is empty: a key written as an empty list
// (`accounts: []`) and a key left out configure the same rules, and must
// give the same fingerprint.
func orNil(list []string) []string {
	if len(list) == 0 {
		return nil
	}
	return list
}

func normalIdentity(id config.Identity) config.Identity {
	id.SessionAsUser = orNil(id.SessionAsUser)
	return id
}

func normalTeams(teams []config.TeamRule) []config.TeamRule {
	if len(teams) == 0 {
		return nil
	}
	out := make([]config.TeamRule, len(teams))
	for i, t := range teams {
		t.Users, t.Roles, t.Accounts, t.Workgroups = orNil(t.Users), orNil(t.Roles), orNil(t.Accounts), orNil(t.Workgroups)
		out[i] = t
	}
	return out
}

// Fingerprint identifies the rules; stored beside the rows derived with them.
func (r *Rules) Fingerprint() string { return r.fingerprint }

// Query fills the derived columns of q. With redaction on, it also
// replaces q's texts by their normalized form, after it took the user and
// the shape from the text as given.
func (r *Rules) Query(q *store.Query) {
	p := r.identity.Resolve(q.Identity)
	r.nameIdentityCenterUser(&p, q.Identity)
	text := q.QueryText()
	if user, ok := r.identity.UserFromQuery(text); ok {
		p.User = user
	}
	q.Fingerprint = Fingerprint(text)
	if r.redactLiterals {
		q.Stats.QueryText = r.redact(q.Stats.QueryText)
		q.CTQueryText = r.redact(q.CTQueryText)
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

// SetIdentityNames gives the rules the user names of Identity Center
// users, by user id. It takes effect only with
// identity.resolve_identity_center; rows derived before keep their user
// until they are derived again.
func (r *Rules) SetIdentityNames(names map[string]string) {
	m := maps.Clone(names)
	r.names.Store(&m)
}

// LoadIdentityNames gives r the Identity Center user names recorded in st,
// when identity.resolve_identity_center is on.
func LoadIdentityNames(ctx context.Context, st *store.Store, r *Rules) error {
	if !r.resolveIC || !st.HasIdentityNames() {
		return nil
	}
	names, err := st.IdentityNames(ctx)
	if err != nil {
		return err
	}
	m := make(map[string]string, len(names))
	for _, n := range names {
		if n.Error == "" && n.UserName != "" {
			m[n.UserID] = n.UserName
		}
	}
	r.SetIdentityNames(m)
	return nil
}

// AliasUsers returns f where a user value that is the id of an Identity
// Center user whose name is known also matches the name: queries stay
// found by the raw id once they show the name.
func (r *Rules) AliasUsers(f store.Filter) store.Filter {
	if r == nil || !r.resolveIC || len(f.Match["user"]) == 0 {
		return f
	}
	m := r.names.Load()
	if m == nil {
		return f
	}
	var extra []string
	for _, v := range f.Match["user"] {
		if name := (*m)[v]; name != "" && !slices.Contains(f.Match["user"], name) {
			extra = append(extra, name)
		}
	}
	if len(extra) == 0 {
		return f
	}
	match := maps.Clone(f.Match)
	match["user"] = append(slices.Clone(f.Match["user"]), extra...)
	f.Match = match
	return f
}

// ResolvesIdentityCenter reports whether identity.resolve_identity_center is on.
func (r *Rules) ResolvesIdentityCenter() bool { return r.resolveIC }

// nameIdentityCenterUser puts the user name of an Identity Center user in
// place of its id, when the user is the id and the name is known: the id
// is still in the stored identity, and the query is found by either.
func (r *Rules) nameIdentityCenterUser(p *cloudtrail.Principal, id cloudtrail.Identity) {
	if !r.resolveIC {
		return
	}
	uid := strings.TrimSpace(id.OnBehalfOfUserID)
	if uid == "" || p.User != uid {
		return
	}
	if m := r.names.Load(); m != nil {
		if name := (*m)[uid]; name != "" {
			p.User = name
		}
	}
}

// Rejected fills the derived columns of a rejected submission.
func (r *Rules) Rejected(rj *store.Rejected) {
	p := r.identity.Resolve(rj.Identity)
	r.nameIdentityCenterUser(&p, rj.Identity)
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

// RedactsLiterals reports whether the rules store normalized texts only.
func (r *Rules) RedactsLiterals() bool { return r.redactLiterals }

// redact is the text stored for text under redact.literals: its normalized
// form. The part of a comment that named the user (identity
// query_comment_user) is kept in front of it as a comment, so that a later
// re-derivation from the stored text (a team rule changed) still finds the
// same user; being a comment, it leaves the shape as it is. Redacting a
// redacted text changes nothing.
func (r *Rules) redact(text string) string {
	if text == "" || text == OmittedText {
		return text
	}
	norm := NormalizeSQL(text)
	re := r.identity.QueryCommentUser
	if re == nil {
		return norm
	}
	m := re.FindStringSubmatch(text)
	if len(m) < 2 || m[1] == "" {
		return norm
	}
	return asComment(m[0]) + norm
}

// asComment writes s as an SQL comment followed by a separator: as it is
// when it already is one line comment or one block comment, else as a line
// comment with its line breaks turned into spaces.
func asComment(s string) string {
	oneLine := !strings.ContainsAny(s, "\r\n")
	switch {
	case strings.HasPrefix(s, "--") && oneLine:
		return s + "\n"
	case strings.HasPrefix(s, "/*") && strings.HasSuffix(s, "*/") && len(s) >= 4 && strings.Index(s[2:], "*/") == len(s)-4:
		return s + " "
	}
	return "-- " + strings.NewReplacer("\r", " ", "\n", " ").Replace(s) + "\n"
}
