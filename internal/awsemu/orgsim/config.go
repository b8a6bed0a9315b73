package orgsim

import (
	"fmt"
	"sort"

	"go.yaml.in/yaml/v3"
)

// athenawatchConfig is the part of athenawatch's configuration file
// (DESIGN.md "Configuration") that a simulated organization needs.
type athenawatchConfig struct {
	Pricing struct {
		ProvisionedWorkgroups []string `yaml:"provisioned_workgroups"`
	} `yaml:"pricing"`
	Identity struct {
		SessionAsUser         []string `yaml:"session_as_user"`
		QueryCommentUser      string   `yaml:"query_comment_user"`
		ResolveIdentityCenter bool     `yaml:"resolve_identity_center"`
		IdentityCenterRegion  string   `yaml:"identity_center_region"`
	} `yaml:"identity"`
	Teams    []teamRule                `yaml:"teams"`
	Accounts map[string]accountSetting `yaml:"accounts"`
}

type teamRule struct {
	Name  string   `yaml:"name"`
	Users []string `yaml:"users"`
}

type accountSetting struct {
	RoleARN string `yaml:"role_arn"`
}

// ConfigYAML is the athenawatch configuration under which athenawatch's
// attribution equals the ground truth: the BI role's session name is a user,
// the BI comment names the user, one team rule per team lists every user of
// it, and each member account names the role to assume.
func (r *Result) ConfigYAML() []byte {
	var c athenawatchConfig
	c.Pricing.ProvisionedWorkgroups = []string{ProvisionedWorkgroup}
	c.Identity.SessionAsUser = []string{"analytics-app-*"}
	c.Identity.QueryCommentUser = QueryCommentUserRegex
	// Trusted identity propagation records user ids; the Identity Store
	// of the management account names them.
	c.Identity.ResolveIdentityCenter = true
	c.Identity.IdentityCenterRegion = DefaultRegions[0]
	byTeam := make(map[string][]string)
	for user, team := range r.UserTeams {
		byTeam[team] = append(byTeam[team], user)
	}
	for _, team := range Teams {
		users := byTeam[team]
		if len(users) == 0 {
			continue
		}
		sort.Strings(users)
		c.Teams = append(c.Teams, teamRule{Name: team, Users: users})
	}
	c.Accounts = make(map[string]accountSetting, len(r.ReaderRoles))
	for account, arn := range r.ReaderRoles {
		c.Accounts[account] = accountSetting{RoleARN: arn}
	}
	b, err := yaml.Marshal(&c)
	if err != nil {
		// Marshalling plain strings, slices and maps cannot fail; keep the
		// signature simple for callers and say what happened if it ever does.
		return fmt.Appendf(nil, "# marshal athenawatch config: %v\n", err)
	}
	return b
}
