package cloudtrail

import (
	"fmt"
	"path"
	"regexp"
	"strings"
)

// ssoRolePrefix starts the names of the roles IAM Identity Center creates for
// its permission sets; their session name is the person who signed in.
const ssoRolePrefix = "AWSReservedSSO_"

// IdentityRules turn a CloudTrail userIdentity into a Principal, as DESIGN.md
// "Who is the user" says. The zero value applies the built-in rules only.
type IdentityRules struct {
	// SessionAsUser are path.Match globs of role names whose role session
	// name is the user (config identity.session_as_user), as it is for
	// AWSReservedSSO_* roles. Sessions of other roles are machines, whose
	// session names are ephemeral, so the role name is the user.
	SessionAsUser []string
	// QueryCommentUser, when set, takes the user from the query text (group
	// 1), for BI tools that run every query under one role and write the
	// person into a comment (config identity.query_comment_user). A match
	// wins over the userIdentity.
	QueryCommentUser *regexp.Regexp
}

// Validate reports a malformed SessionAsUser glob.
func (r IdentityRules) Validate() error {
	for _, g := range r.SessionAsUser {
		if _, err := path.Match(g, ""); err != nil {
			return fmt.Errorf("identity.session_as_user %q: %w", g, err)
		}
	}
	return nil
}

// Resolve applies the rules to a userIdentity. The first that applies gives
// the user: onBehalfOf.userId; sessionContext.sourceIdentity; the role
// session name of an AssumedRole whose role is AWSReservedSSO_* or matches
// SessionAsUser; the role name of other AssumedRoles; userName (IAMUser,
// SAMLUser, WebIdentityUser); the name after federated-user/
// (FederatedUser); "root" (Root); invokedBy (AWSService); else principalId.
// Account is userIdentity.accountId, or the account in the ARN when that is
// empty; usage.Rules falls back to the recipient account.
func (r IdentityRules) Resolve(id Identity) Principal {
	p := Principal{ARN: id.ARN, Account: strings.TrimSpace(id.AccountID)}
	if p.Account == "" {
		p.Account = arnAccount(id.ARN)
	}
	if id.Type == "AssumedRole" {
		p.Role = id.IssuerUserName
		if p.Role == "" {
			p.Role = assumedRoleName(id.ARN)
		}
	}
	p.User = r.user(id, p.Role)
	return p
}

// UserFromQuery returns group 1 of QueryCommentUser in text, if it matches
// with a non-empty group.
func (r IdentityRules) UserFromQuery(text string) (string, bool) {
	if r.QueryCommentUser == nil || text == "" {
		return "", false
	}
	m := r.QueryCommentUser.FindStringSubmatch(text)
	if len(m) < 2 || m[1] == "" {
		return "", false
	}
	return m[1], true
}

func (r IdentityRules) user(id Identity, role string) string {
	if u := strings.TrimSpace(id.OnBehalfOfUserID); u != "" {
		return u
	}
	if u := strings.TrimSpace(id.SourceIdentity); u != "" {
		return u
	}
	switch id.Type {
	case "AssumedRole":
		if r.sessionIsUser(role) {
			if s := sessionName(id); s != "" {
				return s
			}
		}
		if role != "" {
			return role
		}
	case "IAMUser", "SAMLUser", "WebIdentityUser":
		if id.UserName != "" {
			return id.UserName
		}
	case "FederatedUser":
		if _, name, ok := strings.Cut(id.ARN, "federated-user/"); ok && name != "" {
			return strings.TrimSpace(name)
		}
	case "Root":
		return "root"
	case "AWSService":
		if id.InvokedBy != "" {
			return id.InvokedBy
		}
	}
	return id.PrincipalID
}

func (r IdentityRules) sessionIsUser(role string) bool {
	if role == "" {
		return false
	}
	if strings.HasPrefix(role, ssoRolePrefix) {
		return true
	}
	for _, g := range r.SessionAsUser {
		if ok, _ := path.Match(g, role); ok {
			return true
		}
	}
	return false
}

// sessionName is the role session name: the last path segment of the
// assumed-role ARN, or what follows the colon in the principal id
// ("AROAEXAMPLE:session") when the ARN has none.
func sessionName(id Identity) string {
	if i := strings.LastIndexByte(id.ARN, '/'); i >= 0 {
		if s := strings.TrimSpace(id.ARN[i+1:]); s != "" {
			return s
		}
	}
	if _, s, ok := strings.Cut(id.PrincipalID, ":"); ok {
		return strings.TrimSpace(s)
	}
	return ""
}

// assumedRoleName is ROLE in arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION.
func assumedRoleName(arn string) string {
	_, rest, ok := strings.Cut(arn, "assumed-role/")
	if !ok {
		return ""
	}
	role, _, _ := strings.Cut(rest, "/")
	return strings.TrimSpace(role)
}

// arnAccount is the account field of an ARN (arn:partition:service:region:account:resource).
// Some published examples put spaces after the colons; they are trimmed.
func arnAccount(arn string) string {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) < 6 || strings.TrimSpace(parts[0]) != "arn" {
		return ""
	}
	return strings.TrimSpace(parts[4])
}

// IsAccountID reports whether s is an AWS account id: 12 digits.
func IsAccountID(s string) bool {
	if len(s) != 12 {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
