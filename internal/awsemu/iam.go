package awsemu

import (
	"encoding/json"
	"encoding/xml"
	"net/http"
	"net/url"
	"path"
	"strings"
)

// IAM inline policies (PutUserPolicy, PutRolePolicy and their deletes),
// for the budgets' preventive block. The emulator evaluates their Deny
// statements on StartQueryExecution as AWS does for an explicit deny in an
// identity-based policy: by action, and by the condition keys aws:userid,
// aws:username, aws:PrincipalArn and aws:SourceIdentity with StringEquals
// and StringLike. Allow statements are not evaluated: every principal the
// emulator knows is allowed by default.

func iamService() *service {
	ops := map[string]operation{
		"PutUserPolicy":    {readOnly: false, handle: iamPutPolicy("user")},
		"DeleteUserPolicy": {readOnly: false, handle: iamDeletePolicy("user")},
		"PutRolePolicy":    {readOnly: false, handle: iamPutPolicy("role")},
		"DeleteRolePolicy": {readOnly: false, handle: iamDeletePolicy("role")},
	}
	return &service{
		eventSource: "iam.amazonaws.com",
		protocol:    queryProtocol{version: "2010-05-08", xmlns: "https://iam.amazonaws.com/doc/2010-05-08/", ops: ops},
		ops:         ops,
	}
}

type iamEmpty struct {
	XMLName xml.Name
}

func noSuchEntity(msg string) *apiError {
	return &apiError{Code: "NoSuchEntity", Message: msg, Status: http.StatusNotFound}
}

// iamTarget is the ARN of the user or role a call names, if it exists.
func iamTarget(c *call, kind string, form url.Values) (string, *apiError) {
	param := "UserName"
	if kind == "role" {
		param = "RoleName"
	}
	name := form.Get(param)
	arn := "arn:aws:iam::" + c.account + ":" + kind + "/" + name
	if name == "" {
		return "", &apiError{Code: "ValidationError", Message: param + " is required", Status: http.StatusBadRequest}
	}
	if kind == "role" {
		if _, ok := c.e.roles[arn]; !ok {
			return "", noSuchEntity("The role with name " + name + " cannot be found.")
		}
		return arn, nil
	}
	for _, p := range c.e.keys {
		if p.id.Type == "IAMUser" && p.id.ARN == arn {
			return arn, nil
		}
	}
	return "", noSuchEntity("The user with name " + name + " cannot be found.")
}

func iamPutPolicy(kind string) func(c *call) (any, error) {
	return func(c *call) (any, error) {
		form, _ := url.ParseQuery(string(c.body))
		name, doc := form.Get("PolicyName"), form.Get("PolicyDocument")
		var pd policyDocument
		if name == "" || json.Unmarshal([]byte(doc), &pd) != nil || len(pd.Statement) == 0 {
			return nil, &apiError{Code: "MalformedPolicyDocument", Message: "The policy is not valid JSON, or has no statement", Status: http.StatusBadRequest}
		}
		c.requestParameters = map[string]string{"policyName": name}
		c.e.mu.Lock()
		defer c.e.mu.Unlock()
		arn, apiErr := iamTarget(c, kind, form)
		if apiErr != nil {
			return nil, apiErr
		}
		if c.e.inline[arn] == nil {
			c.e.inline[arn] = map[string]policyDocument{}
		}
		c.e.inline[arn][name] = pd
		return iamEmpty{XMLName: xml.Name{Local: c.op + "Result"}}, nil
	}
}

func iamDeletePolicy(kind string) func(c *call) (any, error) {
	return func(c *call) (any, error) {
		form, _ := url.ParseQuery(string(c.body))
		name := form.Get("PolicyName")
		c.requestParameters = map[string]string{"policyName": name}
		c.e.mu.Lock()
		defer c.e.mu.Unlock()
		arn, apiErr := iamTarget(c, kind, form)
		if apiErr != nil {
			return nil, apiErr
		}
		if _, ok := c.e.inline[arn][name]; !ok {
			return nil, noSuchEntity("The " + kind + " policy with name " + name + " cannot be found.")
		}
		delete(c.e.inline[arn], name)
		return iamEmpty{XMLName: xml.Name{Local: c.op + "Result"}}, nil
	}
}

// policyDocument is an IAM policy; Action, Resource and condition values
// may each be a string or a list.
type policyDocument struct {
	Statement []policyStatement
}

type policyStatement struct {
	Effect    string
	Action    stringList
	Resource  stringList
	Condition map[string]map[string]stringList
}

type stringList []string

func (l *stringList) UnmarshalJSON(b []byte) error {
	var one string
	if json.Unmarshal(b, &one) == nil {
		*l = []string{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return err
	}
	*l = many
	return nil
}

// deniedLocked reports whether an inline policy of the caller (its user,
// or the role of its session) explicitly denies action. Must hold e.mu.
func (c *call) deniedLocked(action string) bool {
	id := c.p.id
	var holder string
	ctx := map[string]string{"aws:userid": id.PrincipalID}
	switch id.Type {
	case "IAMUser":
		holder = id.ARN
		ctx["aws:username"] = id.UserName
		ctx["aws:principalarn"] = id.ARN
	case "AssumedRole":
		if sc := id.SessionContext; sc != nil && sc.SessionIssuer != nil {
			holder = sc.SessionIssuer.ARN
			ctx["aws:principalarn"] = holder
			ctx["aws:sourceidentity"] = sc.SourceIdentity
		}
	}
	for _, pd := range c.e.inline[holder] {
		for _, st := range pd.Statement {
			if st.Effect != "Deny" || !matchAny(st.Action, action, true) || (len(st.Resource) > 0 && !matchAny(st.Resource, "*", false) && !matchAny(st.Resource, "arn:aws:athena:"+c.region+":"+c.account+":workgroup/x", false)) {
				continue
			}
			if conditionsHold(st.Condition, ctx) {
				return true
			}
		}
	}
	return false
}

func matchAny(patterns []string, v string, fold bool) bool {
	for _, p := range patterns {
		if fold {
			p, v = strings.ToLower(p), strings.ToLower(v)
		}
		if ok, _ := path.Match(p, v); ok || p == v || p == "*" {
			return true
		}
	}
	return false
}

// conditionsHold evaluates StringEquals and StringLike; any other operator
// does not hold (the statement does not apply).
func conditionsHold(cond map[string]map[string]stringList, ctx map[string]string) bool {
	for op, keys := range cond {
		for key, want := range keys {
			got, ok := ctx[strings.ToLower(key)]
			if !ok || got == "" {
				return false
			}
			held := false
			for _, w := range want {
				switch op {
				case "StringEquals":
					held = held || got == w
				case "StringLike":
					ok, _ := path.Match(w, got)
					held = held || ok
				}
			}
			if !held {
				return false
			}
		}
	}
	return true
}
