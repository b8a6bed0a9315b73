package cloudtrail

import (
	"regexp"
	"testing"
)

func TestResolve(t *testing.T) {
	t.Parallel()
	rules := IdentityRules{SessionAsUser: []string{"analytics-app-*", "bi-?"}}
	assumed := func(role, session string) Identity {
		return Identity{
			Type:           "AssumedRole",
			PrincipalID:    "AROAEXAMPLE:" + session,
			ARN:            "arn:aws:sts::111122223333:assumed-role/" + role + "/" + session,
			AccountID:      "111122223333",
			IssuerType:     "Role",
			IssuerUserName: role,
			IssuerARN:      "arn:aws:iam::111122223333:role/" + role,
		}
	}
	withSource := assumed("DevRole", "Dev1")
	withSource.SourceIdentity = "alice@example.com"
	emptySource := assumed("DevRole", "Dev1")
	emptySource.SourceIdentity = ""
	obo := assumed("AWSReservedSSO_Analyst_0123456789abcdef", "bob@example.com")
	obo.SourceIdentity = "ignored"
	obo.OnBehalfOfUserID = "94482488-3041-7026-18f3-be45837cd0e4"
	obo.OnBehalfOfIdentityStoreARN = "arn:aws:identitystore::111122223333:identitystore/d-9067c7e7e3"
	// As published in the CloudTrail user guide: spaces after the colons.
	oddARN := Identity{
		Type:           "AssumedRole",
		PrincipalID:    "AROAJ45Q7YFFAREXAMPLE: Dev1",
		ARN:            "arn: aws: sts: : 123456789012: assumed-role/DevRole/Dev1",
		AccountID:      "123456789012",
		IssuerUserName: "DevRole",
		SourceIdentity: "source-identity-value-set",
	}
	noIssuer := Identity{Type: "AssumedRole", ARN: "arn:aws:sts::111122223333:assumed-role/etl-runner/i-0abc", PrincipalID: "AROAX:i-0abc"}

	tests := []struct {
		name string
		id   Identity
		want Principal
	}{
		{"onBehalfOf wins over everything", obo, Principal{User: "94482488-3041-7026-18f3-be45837cd0e4", Role: "AWSReservedSSO_Analyst_0123456789abcdef", Account: "111122223333", ARN: obo.ARN}},
		{"sourceIdentity", withSource, Principal{User: "alice@example.com", Role: "DevRole", Account: "111122223333", ARN: withSource.ARN}},
		{"empty sourceIdentity falls through to the role", emptySource, Principal{User: "DevRole", Role: "DevRole", Account: "111122223333", ARN: emptySource.ARN}},
		{"SSO role: session name", assumed("AWSReservedSSO_DevAdmin_635426549a280cc6", "carol@example.com"),
			Principal{User: "carol@example.com", Role: "AWSReservedSSO_DevAdmin_635426549a280cc6", Account: "111122223333", ARN: "arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_DevAdmin_635426549a280cc6/carol@example.com"}},
		{"glob match: session name", assumed("analytics-app-prod", "dave"),
			Principal{User: "dave", Role: "analytics-app-prod", Account: "111122223333", ARN: "arn:aws:sts::111122223333:assumed-role/analytics-app-prod/dave"}},
		{"glob ? match", assumed("bi-1", "erin"),
			Principal{User: "erin", Role: "bi-1", Account: "111122223333", ARN: "arn:aws:sts::111122223333:assumed-role/bi-1/erin"}},
		{"glob miss: role name", assumed("analytics-batch", "i-0123456789"),
			Principal{User: "analytics-batch", Role: "analytics-batch", Account: "111122223333", ARN: "arn:aws:sts::111122223333:assumed-role/analytics-batch/i-0123456789"}},
		{"machine role: role name", assumed("lambda-ingest", "ingest-fn"),
			Principal{User: "lambda-ingest", Role: "lambda-ingest", Account: "111122223333", ARN: "arn:aws:sts::111122223333:assumed-role/lambda-ingest/ingest-fn"}},
		{"odd published ARN with spaces", oddARN, Principal{User: "source-identity-value-set", Role: "DevRole", Account: "123456789012", ARN: oddARN.ARN}},
		{"assumed role without issuer: role from ARN", noIssuer, Principal{User: "etl-runner", Role: "etl-runner", Account: "111122223333", ARN: noIssuer.ARN}},
		{"IAM user", Identity{Type: "IAMUser", PrincipalID: "AIDAEXAMPLE", ARN: "arn:aws:iam::123456789012:user/johndoe", AccountID: "123456789012", UserName: "johndoe"},
			Principal{User: "johndoe", Account: "123456789012", ARN: "arn:aws:iam::123456789012:user/johndoe"}},
		{"SAML user", Identity{Type: "SAMLUser", PrincipalID: "SampleUkh1i4+ExamplexL/jEvs=:SamlExample", UserName: "SamlExample", AccountID: "444455556666"},
			Principal{User: "SamlExample", Account: "444455556666"}},
		{"web identity user", Identity{Type: "WebIdentityUser", PrincipalID: "accounts.google.com:app:user-id", UserName: "user-id"},
			Principal{User: "user-id"}},
		{"federated user", Identity{Type: "FederatedUser", PrincipalID: "123456789012:frank", ARN: "arn:aws:sts::123456789012:federated-user/frank", AccountID: "123456789012"},
			Principal{User: "frank", Account: "123456789012", ARN: "arn:aws:sts::123456789012:federated-user/frank"}},
		{"root", Identity{Type: "Root", PrincipalID: "123456789012", ARN: "arn:aws:iam::123456789012:root", AccountID: "123456789012"},
			Principal{User: "root", Account: "123456789012", ARN: "arn:aws:iam::123456789012:root"}},
		{"AWS service", Identity{Type: "AWSService", InvokedBy: "athena.amazonaws.com"}, Principal{User: "athena.amazonaws.com"}},
		{"AWS account: principalId", Identity{Type: "AWSAccount", PrincipalID: "AIDAQRSTUVWXYZEXAMPLE", AccountID: "111111111111"},
			Principal{User: "AIDAQRSTUVWXYZEXAMPLE", Account: "111111111111"}},
		{"no type (service event): principalId, account from ARN", Identity{PrincipalID: "X", ARN: "arn:aws:iam::222222222222:user/x"},
			Principal{User: "X", Account: "222222222222", ARN: "arn:aws:iam::222222222222:user/x"}},
		{"IAM user without userName: principalId", Identity{Type: "IAMUser", PrincipalID: "AIDAONLY"}, Principal{User: "AIDAONLY"}},
		{"SSO role with no ARN: session from principalId", Identity{Type: "AssumedRole", PrincipalID: "AROAX:gina@example.com", IssuerUserName: "AWSReservedSSO_ReadOnly_1"},
			Principal{User: "gina@example.com", Role: "AWSReservedSSO_ReadOnly_1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := rules.Resolve(tt.id); got != tt.want {
				t.Errorf("Resolve = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestUserFromQuery(t *testing.T) {
	t.Parallel()
	re := regexp.MustCompile(`--\s*user:\s*(\S+)`)
	tests := []struct {
		name   string
		rules  IdentityRules
		text   string
		want   string
		wantOK bool
	}{
		{"match", IdentityRules{QueryCommentUser: re}, "SELECT 1 -- user: jo", "jo", true},
		{"no match", IdentityRules{QueryCommentUser: re}, "SELECT 1", "", false},
		{"no regex", IdentityRules{}, "-- user: jo", "", false},
		{"empty group", IdentityRules{QueryCommentUser: regexp.MustCompile(`user=(\w*)`)}, "user=", "", false},
		{"no group", IdentityRules{QueryCommentUser: regexp.MustCompile(`user`)}, "user", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, ok := tt.rules.UserFromQuery(tt.text)
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("UserFromQuery = %q, %v; want %q, %v", got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

func TestValidateRules(t *testing.T) {
	t.Parallel()
	if err := (IdentityRules{SessionAsUser: []string{"ok-*"}}).Validate(); err != nil {
		t.Errorf("valid glob: %v", err)
	}
	if err := (IdentityRules{SessionAsUser: []string{"bad-["}}).Validate(); err == nil {
		t.Error("malformed glob: no error")
	}
}

func TestIsAccountID(t *testing.T) {
	for s, want := range map[string]bool{
		"111122223333": true, "000000000000": true, "11112222333": false, "1111222233334": false,
		"11112222333x": false, " 11112222333": false, "": false, "١١١١٢٢٢٢٣٣٣٣": false,
	} {
		if got := IsAccountID(s); got != want {
			t.Errorf("IsAccountID(%q) = %v, want %v", s, got, want)
		}
	}
}
