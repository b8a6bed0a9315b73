package awsemu

import (
	"crypto/sha256"
	"encoding/base32"
	"encoding/hex"
	"strconv"
	"strings"
	"time"
)

// Credentials are an access key the emulator accepts. SessionToken is set for
// temporary credentials, which must send it as X-Amz-Security-Token.
type Credentials struct{ AccessKeyID, SecretAccessKey, SessionToken string }

// Identity is a CloudTrail userIdentity, tagged as CloudTrail writes it. The
// emulator puts it, with accessKeyId filled in from the key that signed the
// call, into the record of every call made with its credentials.
type Identity struct {
	Type           string          `json:"type"`
	PrincipalID    string          `json:"principalId,omitempty"`
	ARN            string          `json:"arn,omitempty"`
	AccountID      string          `json:"accountId,omitempty"`
	AccessKeyID    string          `json:"accessKeyId,omitempty"`
	UserName       string          `json:"userName,omitempty"`
	InvokedBy      string          `json:"invokedBy,omitempty"`
	SessionContext *SessionContext `json:"sessionContext,omitempty"`
	OnBehalfOf     *OnBehalfOf     `json:"onBehalfOf,omitempty"`
}

// SessionContext is userIdentity.sessionContext of temporary credentials.
type SessionContext struct {
	SessionIssuer *SessionIssuer `json:"sessionIssuer,omitempty"`
	// WebIDFederationData is written as {} for assumed roles, as CloudTrail does.
	WebIDFederationData *struct{}          `json:"webIdFederationData,omitempty"`
	Attributes          *SessionAttributes `json:"attributes,omitempty"`
	SourceIdentity      string             `json:"sourceIdentity,omitempty"`
}

// SessionIssuer is who issued temporary credentials (the role, for AssumedRole).
type SessionIssuer struct {
	Type        string `json:"type"`
	PrincipalID string `json:"principalId"`
	ARN         string `json:"arn"`
	AccountID   string `json:"accountId"`
	UserName    string `json:"userName"`
}

// SessionAttributes are sessionContext.attributes.
type SessionAttributes struct {
	CreationDate     string `json:"creationDate"`
	MFAAuthenticated string `json:"mfaAuthenticated"`
}

// OnBehalfOf is IAM Identity Center trusted identity propagation.
type OnBehalfOf struct {
	UserID           string `json:"userId"`
	IdentityStoreARN string `json:"identityStoreArn"`
}

// principal is what an access key stands for.
type principal struct {
	account string
	creds   Credentials
	id      Identity
	// expires is set for temporary credentials (emulator clock).
	expires time.Time
}

// role is an IAM role that callers may assume.
type role struct {
	account, name, arn, roleID string
}

// stableID derives a deterministic AWS-looking identifier (AKIA..., AIDA...,
// AROA...) so runs, and therefore golden records, are reproducible.
func stableID(prefix string, n int, parts ...string) string {
	sum := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	enc := base32.StdEncoding.EncodeToString(sum[:])
	return prefix + enc[:n]
}

func stableSecret(parts ...string) string {
	sum := sha256.Sum256([]byte("secret\x00" + strings.Join(parts, "\x00")))
	return hex.EncodeToString(sum[:])[:40]
}

// AddUser creates the IAM user arn:aws:iam::ACCOUNT:user/NAME with one access
// key and returns the key.
func (e *Emulator) AddUser(account, userName string) Credentials {
	creds := Credentials{
		AccessKeyID:     stableID("AKIA", 16, "user", account, userName),
		SecretAccessKey: stableSecret("user", account, userName),
	}
	id := Identity{
		Type:        "IAMUser",
		PrincipalID: stableID("AIDA", 17, "user", account, userName),
		ARN:         "arn:aws:iam::" + account + ":user/" + userName,
		AccountID:   account,
		UserName:    userName,
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.keys[creds.AccessKeyID] = &principal{account: account, creds: creds, id: id}
	return creds
}

// AddRole creates the IAM role arn:aws:iam::ACCOUNT:role/NAME. Any principal
// the emulator knows may assume it with STS AssumeRole; the temporary
// credentials then act as an AssumedRole identity of that role.
func (e *Emulator) AddRole(account, roleName string) (roleARN string) {
	r := &role{
		account: account,
		name:    roleName,
		arn:     "arn:aws:iam::" + account + ":role/" + roleName,
		roleID:  stableID("AROA", 17, "role", account, roleName),
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.roles[r.arn] = r
	return r.arn
}

// AddCredentials creates an access key for any other identity (Root,
// SAMLUser, FederatedUser, sessions with onBehalfOf, ...). The key acts in
// id.AccountID. A SessionContext in id makes the key temporary (ASIA...) with
// a session token, as AWS issues for such sessions.
func (e *Emulator) AddCredentials(id Identity) Credentials {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.credSeq++
	parts := []string{"creds", id.Type, id.ARN, id.PrincipalID, id.AccountID, strconv.Itoa(e.credSeq)}
	creds := Credentials{SecretAccessKey: stableSecret(parts...)}
	if id.SessionContext != nil {
		creds.AccessKeyID = stableID("ASIA", 16, parts...)
		creds.SessionToken = stableSecret(append(parts, "token")...) + stableSecret(append(parts, "token2")...)
	} else {
		creds.AccessKeyID = stableID("AKIA", 16, parts...)
	}
	e.keys[creds.AccessKeyID] = &principal{account: id.AccountID, creds: creds, id: id}
	return creds
}
