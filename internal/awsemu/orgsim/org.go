// Package orgsim simulates an AWS organization whose people and jobs run
// Athena queries against the local emulator (internal/awsemu), and writes the
// CloudTrail trail of it the way CloudTrail delivers log files to S3: noise of
// other services, duplicate deliveries, digest files and all. It keeps the
// exact ground truth (who ran which query, what it scanned) that athenawatch's
// reports are checked against, computed from its own knowledge of each
// principal rather than from athenawatch's identity rules.
package orgsim

import (
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"time"
)

// Account is one AWS account of the organization.
type Account struct {
	ID   string
	Name string
	// Management marks the organization's management account, which also
	// holds the shared data lake and the athenawatch IAM user.
	Management bool
}

// The fixed accounts of the simulated organization.
var (
	ManagementAccount  = Account{ID: "111111111111", Name: "data", Management: true}
	AnalyticsAccount   = Account{ID: "222222222222", Name: "analytics"}
	EngineeringAccount = Account{ID: "333333333333", Name: "engineering"}
)

// Accounts are the organization's accounts, management account first.
var Accounts = []Account{ManagementAccount, AnalyticsAccount, EngineeringAccount}

// DefaultRegions are the regions the organization runs Athena in.
var DefaultRegions = []string{"us-east-1", "eu-west-1", "eu-west-2"}

// Teams of the organization.
const (
	TeamDataScience  = "data-science"
	TeamAnalytics    = "analytics"
	TeamMarketing    = "marketing"
	TeamFinance      = "finance"
	TeamDataPlatform = "data-platform"
)

// Teams lists every team.
var Teams = []string{TeamDataScience, TeamAnalytics, TeamMarketing, TeamFinance, TeamDataPlatform}

// Databases every account has (in the default AwsDataCatalog).
var Databases = []string{"sales", "logs", "marketing", "finance", "default"}

// Workgroups every account and region has; ProvisionedWorkgroup runs on
// provisioned capacity.
const ProvisionedWorkgroup = "reserved-bi"

// Workgroups lists every workgroup, "primary" first (it exists in every
// account without being created).
var Workgroups = []string{"primary", "analysts", "etl", ProvisionedWorkgroup}

// Names of the IAM principals athenawatch itself uses.
const (
	// CollectorUser is the IAM user in the management account whose access
	// key athenawatch runs with.
	CollectorUser = "athenawatch"
	// ReaderRole is the role in each member account athenawatch assumes to
	// read that account's query executions.
	ReaderRole = "athenawatch-reader"
	// AdminUser is the IAM user in each account that sets up the Athena
	// workgroups (CreateWorkGroup) before anyone queries, as a platform
	// team's infrastructure code would.
	AdminUser = "platform-admin"
	// BIRole is the shared role a BI tool runs every dashboard's queries
	// under, writing the person into a "-- user: NAME" comment.
	BIRole = "analytics-app-bi"
	// BISession is the BI tool's role session name; it is the user of the
	// BI queries that carry no comment (config identity.session_as_user
	// lists the BI role).
	BISession = "superset"
	// QueryCommentUserRegex is the identity.query_comment_user regex that
	// picks the person out of BI queries.
	QueryCommentUserRegex = `--\s*user:\s*(\S+)`
	// IdentityStoreARN is the Identity Center identity store behind trusted
	// identity propagation sessions.
	IdentityStoreARN = "arn:aws:identitystore::111111111111:identitystore/" + IdentityStoreID
	// IdentityStoreID is the id of that identity store.
	IdentityStoreID = "d-9067c1a2b3"
)

// PrincipalKind is how a principal reaches Athena.
type PrincipalKind int

// The ways principals reach Athena, one for each identity rule of DESIGN.md.
const (
	// KindIAMUser is an IAM user with a long-term access key; the user is
	// its userName.
	KindIAMUser PrincipalKind = iota
	// KindSSO is an Identity Center user on an AWSReservedSSO_ role with the
	// session name set to the e-mail; the user is the e-mail.
	KindSSO
	// KindSourceIdentity is a person on a shared role with SourceIdentity set
	// at AssumeRole; the user is the source identity.
	KindSourceIdentity
	// KindBI is the BI tool on BIRole; the user is the comment user, or the
	// session name for uncommented queries.
	KindBI
	// KindETL is a machine role with ephemeral session names; the user is the
	// role name.
	KindETL
	// KindTrustedIdentity is an Identity Center trusted identity propagation
	// session; the user is onBehalfOf.userId.
	KindTrustedIdentity
)

// String names the kind.
func (k PrincipalKind) String() string {
	switch k {
	case KindIAMUser:
		return "iam-user"
	case KindSSO:
		return "sso"
	case KindSourceIdentity:
		return "source-identity"
	case KindBI:
		return "bi"
	case KindETL:
		return "etl"
	case KindTrustedIdentity:
		return "trusted-identity"
	}
	return fmt.Sprintf("kind(%d)", int(k))
}

// Principal is one caller of Athena: a person on some kind of credentials,
// the BI tool, or a machine job.
type Principal struct {
	Name    string // stable key within the organization
	Kind    PrincipalKind
	Account string
	// HomeRegion is where most of its queries run.
	HomeRegion string
	// UserName is the IAM user name (KindIAMUser).
	UserName string
	// RoleName is the role assumed (every kind but KindIAMUser); for
	// KindTrustedIdentity the Identity Center application's role.
	RoleName string
	// SessionName is the role session name; empty for ETL, which uses a new
	// ephemeral one for every run.
	SessionName string
	// SourceIdentity is set at AssumeRole (KindSourceIdentity).
	SourceIdentity string
	// OnBehalfOfUserID is the Identity Center user id (KindTrustedIdentity);
	// User is then the user name the Identity Store gives it, and
	// DisplayName its display name.
	OnBehalfOfUserID string
	DisplayName      string
	// People are the comment users of the BI tool (KindBI) with their teams.
	People []Person

	// User is the expected athenawatch user (for KindBI: of uncommented queries).
	User string
	// Team is the expected team of User.
	Team string

	Databases  []string
	Workgroups []string
	// Weight is the share of all queries this principal submits.
	Weight float64
	// MedianScan is the median bytes a DML query of this principal scans.
	MedianScan float64
}

// Person is someone whose name the BI tool writes into query comments.
type Person struct{ User, Team string }

// Role reports the expected athenawatch role: the assumed role's name, empty
// for IAM users and for sessions without a role.
func (p *Principal) Role() string { return p.RoleName }

// Org is the simulated organization: its principals and regions. Build it
// with NewOrg; it is read-only afterwards.
type Org struct {
	Regions    []string
	Principals []*Principal
}

// NewOrg returns the organization used in the given regions (nil means
// DefaultRegions). Principals' home regions rotate over the regions.
func NewOrg(regions []string) *Org {
	if len(regions) == 0 {
		regions = DefaultRegions
	}
	region := func(i int) string { return regions[i%len(regions)] }
	mgmt, analytics, eng := ManagementAccount.ID, AnalyticsAccount.ID, EngineeringAccount.ID
	ps := []*Principal{
		{Name: "alice", Kind: KindIAMUser, Account: mgmt, HomeRegion: region(0), UserName: "alice",
			User: "alice", Team: TeamDataScience, Databases: []string{"sales", "logs", "default"}, Workgroups: []string{"analysts", "primary"},
			Weight: 10, MedianScan: 2e9},
		{Name: "grace", Kind: KindIAMUser, Account: analytics, HomeRegion: region(1), UserName: "grace",
			User: "grace", Team: TeamAnalytics, Databases: []string{"sales", "marketing"}, Workgroups: []string{"primary"},
			Weight: 6, MedianScan: 5e8},
		{Name: "bob", Kind: KindSSO, Account: mgmt, HomeRegion: region(0), RoleName: "AWSReservedSSO_DataScientist_3f9a1c2b7d4e5a60",
			SessionName: "bob@example.com", User: "bob@example.com", Team: TeamDataScience,
			Databases: []string{"sales", "logs"}, Workgroups: []string{"analysts"}, Weight: 12, MedianScan: 5e9},
		{Name: "dave", Kind: KindSSO, Account: analytics, HomeRegion: region(2), RoleName: "AWSReservedSSO_FinanceAnalyst_8c2e4f6a1b3d5e7f",
			SessionName: "dave@example.com", User: "dave@example.com", Team: TeamFinance,
			Databases: []string{"finance", "sales"}, Workgroups: []string{"analysts", "primary"}, Weight: 8, MedianScan: 1e8},
		{Name: "ivan", Kind: KindSSO, Account: eng, HomeRegion: region(0), RoleName: "AWSReservedSSO_PowerUser_0d1e2f3a4b5c6d7e",
			SessionName: "ivan@example.com", User: "ivan@example.com", Team: TeamDataPlatform,
			Databases: []string{"logs", "default"}, Workgroups: []string{"primary"}, Weight: 5, MedianScan: 3e9},
		{Name: "carol", Kind: KindSourceIdentity, Account: mgmt, HomeRegion: region(1), RoleName: "analyst-access",
			SessionName: "carol-session", SourceIdentity: "carol", User: "carol", Team: TeamDataScience,
			Databases: []string{"sales", "marketing", "logs"}, Workgroups: []string{"analysts"}, Weight: 7, MedianScan: 1e9},
		{Name: "judy", Kind: KindSourceIdentity, Account: analytics, HomeRegion: region(0), RoleName: "analyst-access",
			SessionName: "cli-judy", SourceIdentity: "judy", User: "judy", Team: TeamMarketing,
			Databases: []string{"marketing"}, Workgroups: []string{"primary"}, Weight: 4, MedianScan: 2e8},
		{Name: "bi", Kind: KindBI, Account: analytics, HomeRegion: region(0), RoleName: BIRole,
			SessionName: BISession, User: BISession, Team: TeamAnalytics,
			People:    []Person{{"erin", TeamMarketing}, {"frank", TeamAnalytics}, {"mallory", TeamFinance}, {"niaj", TeamMarketing}},
			Databases: []string{"sales", "marketing", "finance"}, Workgroups: []string{ProvisionedWorkgroup, "primary"},
			Weight: 25, MedianScan: 3e8},
		{Name: "etl-nightly", Kind: KindETL, Account: mgmt, HomeRegion: region(0), RoleName: "etl-nightly",
			User: "etl-nightly", Team: TeamDataPlatform, Databases: []string{"logs", "sales", "default"}, Workgroups: []string{"etl"},
			Weight: 12, MedianScan: 2e10},
		{Name: "glue-compaction", Kind: KindETL, Account: eng, HomeRegion: region(1), RoleName: "glue-compaction-job",
			User: "glue-compaction-job", Team: TeamDataPlatform, Databases: []string{"logs"}, Workgroups: []string{"etl"},
			Weight: 5, MedianScan: 5e10},
		{Name: "heidi", Kind: KindTrustedIdentity, Account: mgmt, HomeRegion: region(0),
			RoleName: "quicksight-tip-access", SessionName: "quicksight-tip-heidi",
			OnBehalfOfUserID: "94482488-3041-7026-18f0-7c5e9a1b2d3f", User: "heidi", DisplayName: "Heidi Hopper", Team: TeamFinance,
			Databases: []string{"finance"}, Workgroups: []string{"primary"}, Weight: 4, MedianScan: 1e8},
	}
	return &Org{Regions: regions, Principals: ps}
}

// UserTeams maps every user the organization can produce (including BI
// comment users) to its team.
func (o *Org) UserTeams() map[string]string {
	m := make(map[string]string)
	for _, p := range o.Principals {
		m[p.User] = p.Team
		for _, person := range p.People {
			m[person.User] = person.Team
		}
	}
	return m
}

// roleARN is the ARN of a role in an account.
func roleARN(account, role string) string {
	return "arn:aws:iam::" + account + ":role/" + role
}

// retention is how long Athena answers for a query execution.
const retention = 45 * 24 * time.Hour

// newRand returns a generator seeded from a name, for identifiers that must
// not change between runs.
func newRand(name string) *rand.Rand {
	h := fnv.New64a()
	h.Write([]byte(name))
	return rand.New(rand.NewPCG(h.Sum64(), 0x6f7267))
}
