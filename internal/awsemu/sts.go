package awsemu

import (
	"encoding/xml"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
)

func stsService() *service {
	ops := map[string]operation{
		// CloudTrail marks both STS calls read-only.
		"AssumeRole":        {readOnly: true, handle: stsAssumeRole},
		"GetCallerIdentity": {readOnly: true, handle: stsGetCallerIdentity},
	}
	return &service{
		eventSource: "sts.amazonaws.com",
		protocol:    queryProtocol{version: "2011-06-15", xmlns: "https://sts.amazonaws.com/doc/2011-06-15/", ops: ops},
		ops:         ops,
	}
}

func stsValidation(msg string) *apiError {
	return &apiError{Code: "ValidationError", Message: msg, Status: http.StatusBadRequest}
}

var (
	sessionNamePattern    = regexp.MustCompile(`^[\w+=,.@-]{2,64}$`)
	sourceIdentityPattern = regexp.MustCompile(`^[\w+=,.@-]{2,64}$`)
)

type assumeRoleResult struct {
	XMLName         xml.Name `xml:"AssumeRoleResult"`
	SourceIdentity  string   `xml:"SourceIdentity,omitempty"`
	AssumedRoleUser struct {
		AssumedRoleID string `xml:"AssumedRoleId"`
		Arn           string `xml:"Arn"`
	} `xml:"AssumedRoleUser"`
	Credentials struct {
		AccessKeyID     string `xml:"AccessKeyId"`
		SecretAccessKey string `xml:"SecretAccessKey"`
		SessionToken    string `xml:"SessionToken"`
		Expiration      string `xml:"Expiration"`
	} `xml:"Credentials"`
}

// stsAssumeRole lets any known principal assume any role the emulator knows
// (no trust policies are modelled). The temporary credentials act as an
// AssumedRole identity with the role as session issuer; a source identity set
// here, or carried by the calling session, sticks to the new session as AWS
// does for role chaining.
func stsAssumeRole(c *call) (any, error) {
	form, _ := url.ParseQuery(string(c.body))
	roleARN := form.Get("RoleArn")
	sessionName := form.Get("RoleSessionName")
	sourceIdentity := form.Get("SourceIdentity")
	duration := 3600
	params := map[string]any{"roleArn": roleARN, "roleSessionName": sessionName}
	c.requestParameters = params
	if v := form.Get("DurationSeconds"); v != "" {
		d, err := strconv.Atoi(v)
		if err != nil || d < 900 || d > 43200 {
			return nil, stsValidation("1 validation error detected: Value '" + v + "' at 'durationSeconds' failed to satisfy constraint: Member must have value greater than or equal to 900 and less than or equal to 43200")
		}
		duration = d
		params["durationSeconds"] = d
	}
	if sourceIdentity != "" {
		params["sourceIdentity"] = sourceIdentity
	}
	if len(roleARN) < 20 {
		return nil, stsValidation("1 validation error detected: Value '" + roleARN + "' at 'roleArn' failed to satisfy constraint: Member must have length greater than or equal to 20")
	}
	if !sessionNamePattern.MatchString(sessionName) {
		return nil, stsValidation("1 validation error detected: Value '" + sessionName + "' at 'roleSessionName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]*")
	}
	if sourceIdentity != "" && !sourceIdentityPattern.MatchString(sourceIdentity) {
		return nil, stsValidation("1 validation error detected: Value '" + sourceIdentity + "' at 'sourceIdentity' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]*")
	}
	if inherited := callerSourceIdentity(c.p.id); inherited != "" {
		if sourceIdentity != "" && sourceIdentity != inherited {
			return nil, &apiError{Code: "AccessDenied", Status: http.StatusForbidden,
				Message: "User: " + c.p.id.ARN + " is not authorized to perform: sts:SetSourceIdentity on resource: " + roleARN}
		}
		sourceIdentity = inherited
	}

	e := c.e
	e.mu.Lock()
	r := e.roles[roleARN]
	e.mu.Unlock()
	if r == nil {
		return nil, &apiError{Code: "AccessDenied", Status: http.StatusForbidden,
			Message: "User: " + c.p.id.ARN + " is not authorized to perform: sts:AssumeRole on resource: " + roleARN}
	}
	c.resources = []trailResource{{AccountID: r.account, Type: "AWS::IAM::Role", ARN: r.arn}}
	c.sharedWith = r.account

	sessionID := e.newID()
	expires := c.now.Add(time.Duration(duration) * time.Second).UTC()
	creds := Credentials{
		AccessKeyID:     stableID("ASIA", 16, "session", sessionID),
		SecretAccessKey: stableSecret("session", sessionID),
		SessionToken:    "FwoGZXIvYXdzE" + stableSecret("token", sessionID) + stableSecret("token2", sessionID),
	}
	assumedARN := "arn:aws:sts::" + r.account + ":assumed-role/" + r.name + "/" + sessionName
	id := Identity{
		Type:        "AssumedRole",
		PrincipalID: r.roleID + ":" + sessionName,
		ARN:         assumedARN,
		AccountID:   r.account,
		SessionContext: &SessionContext{
			SessionIssuer: &SessionIssuer{
				Type: "Role", PrincipalID: r.roleID, ARN: r.arn, AccountID: r.account, UserName: r.name,
			},
			WebIDFederationData: &struct{}{},
			Attributes: &SessionAttributes{
				CreationDate:     c.now.UTC().Format(time.RFC3339),
				MFAAuthenticated: "false",
			},
			SourceIdentity: sourceIdentity,
		},
	}
	e.mu.Lock()
	e.keys[creds.AccessKeyID] = &principal{account: r.account, creds: creds, id: id, expires: expires}
	e.mu.Unlock()

	var res assumeRoleResult
	res.SourceIdentity = sourceIdentity
	res.AssumedRoleUser.AssumedRoleID = id.PrincipalID
	res.AssumedRoleUser.Arn = assumedARN
	res.Credentials.AccessKeyID = creds.AccessKeyID
	res.Credentials.SecretAccessKey = creds.SecretAccessKey
	res.Credentials.SessionToken = creds.SessionToken
	res.Credentials.Expiration = expires.Format(time.RFC3339)

	resp := map[string]any{
		"credentials": map[string]string{
			"accessKeyId":  creds.AccessKeyID,
			"sessionToken": creds.SessionToken,
			// CloudTrail writes this one timestamp in a human format.
			"expiration": expires.Format("Jan 2, 2006, 3:04:05 PM"),
		},
		"assumedRoleUser": map[string]string{"assumedRoleId": id.PrincipalID, "arn": assumedARN},
	}
	if sourceIdentity != "" {
		resp["sourceIdentity"] = sourceIdentity
	}
	c.responseElements = resp
	return res, nil
}

func callerSourceIdentity(id Identity) string {
	if id.SessionContext == nil {
		return ""
	}
	return id.SessionContext.SourceIdentity
}

type getCallerIdentityResult struct {
	XMLName xml.Name `xml:"GetCallerIdentityResult"`
	Arn     string   `xml:"Arn"`
	UserID  string   `xml:"UserId"`
	Account string   `xml:"Account"`
}

func stsGetCallerIdentity(c *call) (any, error) {
	id := c.p.id
	userID := id.PrincipalID
	if id.Type == "Root" {
		userID = c.account
	}
	arn := id.ARN
	if arn == "" {
		arn = "arn:aws:iam::" + c.account + ":" + strings.ToLower(id.Type)
	}
	return getCallerIdentityResult{Arn: arn, UserID: userID, Account: c.account}, nil
}
