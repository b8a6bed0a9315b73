package budget

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/athena"
	athenatypes "github.com/aws/aws-sdk-go-v2/service/athena/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/athenawatch/athenawatch/internal/assume"
	"github.com/athenawatch/athenawatch/internal/config"
	"github.com/athenawatch/athenawatch/internal/store"
)

// Stopper stops a query in its account and region, and disables or
// enables a workgroup.
type Stopper interface {
	Stop(ctx context.Context, account, region, queryID string) error
	SetEnabled(ctx context.Context, account, region, workgroup string, enabled bool) error
	// PutDeny and DeleteDeny attach and remove an inline policy of an IAM
	// user or role (kind "user" or "role") in account.
	PutDeny(ctx context.Context, account, kind, name, policy, document string) error
	DeleteDeny(ctx context.Context, account, kind, name, policy string) error
}

// AthenaStopper stops queries with StopQueryExecution, in each account
// through the role the configuration gives it (the credentials' own
// otherwise).
type AthenaStopper struct {
	AWS   aws.Config
	Roles map[string]string

	mu    sync.Mutex
	creds map[string]aws.CredentialsProvider
}

// Stop implements Stopper.
func (a *AthenaStopper) Stop(ctx context.Context, account, region, queryID string) error {
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	_, err := a.client(account, region).StopQueryExecution(cctx, &athena.StopQueryExecutionInput{QueryExecutionId: aws.String(queryID)})
	return err
}

// Cutoff returns a workgroup's BytesScannedCutoffPerQuery (0: none).
func (a *AthenaStopper) Cutoff(ctx context.Context, account, region, workgroup string) (int64, error) {
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	out, err := a.client(account, region).GetWorkGroup(cctx, &athena.GetWorkGroupInput{WorkGroup: aws.String(workgroup)})
	if err != nil {
		return 0, err
	}
	if c := out.WorkGroup.Configuration; c != nil {
		return aws.ToInt64(c.BytesScannedCutoffPerQuery), nil
	}
	return 0, nil
}

// SetCutoff sets a workgroup's BytesScannedCutoffPerQuery.
func (a *AthenaStopper) SetCutoff(ctx context.Context, account, region, workgroup string, cutoff int64) error {
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	_, err := a.client(account, region).UpdateWorkGroup(cctx, &athena.UpdateWorkGroupInput{WorkGroup: aws.String(workgroup),
		ConfigurationUpdates: &athenatypes.WorkGroupConfigurationUpdates{BytesScannedCutoffPerQuery: aws.Int64(cutoff)}})
	return err
}

// SetEnabled implements Stopper: UpdateWorkGroup State ENABLED or DISABLED.
func (a *AthenaStopper) SetEnabled(ctx context.Context, account, region, workgroup string, enabled bool) error {
	state := athenatypes.WorkGroupStateDisabled
	if enabled {
		state = athenatypes.WorkGroupStateEnabled
	}
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	_, err := a.client(account, region).UpdateWorkGroup(cctx, &athena.UpdateWorkGroupInput{WorkGroup: aws.String(workgroup), State: state})
	return err
}

// PutDeny implements Stopper with IAM PutUserPolicy or PutRolePolicy.
func (a *AthenaStopper) PutDeny(ctx context.Context, account, kind, name, policy, document string) error {
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	c := a.iam(account)
	var err error
	if kind == "user" {
		_, err = c.PutUserPolicy(cctx, &iam.PutUserPolicyInput{UserName: aws.String(name), PolicyName: aws.String(policy), PolicyDocument: aws.String(document)})
	} else {
		_, err = c.PutRolePolicy(cctx, &iam.PutRolePolicyInput{RoleName: aws.String(name), PolicyName: aws.String(policy), PolicyDocument: aws.String(document)})
	}
	return err
}

// DeleteDeny implements Stopper; a policy already gone is not an error.
func (a *AthenaStopper) DeleteDeny(ctx context.Context, account, kind, name, policy string) error {
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	c := a.iam(account)
	var err error
	if kind == "user" {
		_, err = c.DeleteUserPolicy(cctx, &iam.DeleteUserPolicyInput{UserName: aws.String(name), PolicyName: aws.String(policy)})
	} else {
		_, err = c.DeleteRolePolicy(cctx, &iam.DeleteRolePolicyInput{RoleName: aws.String(name), PolicyName: aws.String(policy)})
	}
	var nse *iamtypes.NoSuchEntityException
	if errors.As(err, &nse) {
		return nil
	}
	return err
}

// iam is an IAM client of account (IAM is global: us-east-1 signs it).
func (a *AthenaStopper) iam(account string) *iam.Client {
	creds := a.credentials(account, "us-east-1")
	return iam.NewFromConfig(a.AWS, func(o *iam.Options) {
		o.Region = "us-east-1"
		o.Credentials = creds
	})
}

// client is an Athena client of account and region.
func (a *AthenaStopper) client(account, region string) *athena.Client {
	creds := a.credentials(account, region)
	return athena.NewFromConfig(a.AWS, func(o *athena.Options) {
		o.Region = region
		o.Credentials = creds
	})
}

// credentials are those of account: its role's, or the base ones.
func (a *AthenaStopper) credentials(account, region string) aws.CredentialsProvider {
	a.mu.Lock()
	if a.creds == nil {
		a.creds = map[string]aws.CredentialsProvider{}
	}
	creds, ok := a.creds[account]
	if !ok {
		creds = a.AWS.Credentials
		if role := a.Roles[account]; role != "" {
			creds = assume.Role(assume.STS(a.AWS, region), role)
		}
		a.creds[account] = creds
	}
	a.mu.Unlock()
	return creds
}

// Enforcer takes the actions of budgets over their limit. It only acts
// with DryRun false; either way it records, once per query and mode, what
// it did or would have done, and why.
type Enforcer struct {
	Store   *store.Store
	Stopper Stopper
	DryRun  bool
	Logger  *slog.Logger
	// Now is the clock of the records; nil is time.Now.
	Now func() time.Time
}

// EnforceSummary counts what one Enforce did.
type EnforceSummary struct {
	Stopped    int // queries stopped now
	WouldStop  int // queries a dry run would have stopped (newly recorded)
	Failed     int // stops that failed (recorded with the reason)
	Allowed    int // running queries of allowlisted users, left alone
	Blocked    int // workgroups disabled now
	WouldBlock int // workgroups a dry run would have disabled (newly recorded)
	Unblocked  int // workgroups enabled again at their period's reset
	Why        string
}

// Enforce stops the running queries of every scope of a stop budget that
// is over its limit: its queries without final statistics whose state is
// QUEUED, RUNNING or not known yet, in the period, except those of users
// the budget's allowlist names.
func (e *Enforcer) Enforce(ctx context.Context, budgets []config.Budget, statuses []Status) (EnforceSummary, error) {
	var sum EnforceSummary
	now := time.Now
	if e.Now != nil {
		now = e.Now
	}
	byName := map[string]config.Budget{}
	for _, b := range budgets {
		byName[b.Name] = b
	}
	if !e.DryRun {
		if err := e.lift(ctx, byName, now().UTC(), false, &sum); err != nil {
			return sum, err
		}
	}
	for _, s := range statuses {
		b := byName[s.Budget]
		if b.Action == "block" && s.State == StateOver {
			if err := e.block(ctx, b, s, now().UTC(), &sum); err != nil {
				return sum, err
			}
			continue
		}
		if b.Action != "stop" || s.State != StateOver {
			continue
		}
		running, err := e.running(ctx, b, s)
		if err != nil {
			return sum, err
		}
		reason := fmt.Sprintf("%s: %s is at %.0f%% of its limit this %s", b.Name, s.Scope, 100*s.Ratio, s.Period)
		for _, q := range running {
			if allowed(b.Allow, q.User) {
				sum.Allowed++
				continue
			}
			a := store.Action{At: now().UTC(), Budget: b.Name, Scope: s.Scope, PeriodStart: s.PeriodStart, Action: "stop",
				Target: q.Region + "/" + q.QueryID, DryRun: e.DryRun, Reason: reason + "; query by " + q.User}
			if e.DryRun {
				a.Outcome = "would stop (dry run)"
				recorded, err := e.Store.RecordAction(ctx, a)
				if err != nil {
					return sum, err
				}
				if recorded {
					sum.WouldStop++
				}
				continue
			}
			a.Outcome = "stopped"
			if err := e.Stopper.Stop(ctx, q.OwnerAccount, q.Region, q.QueryID); err != nil {
				a.Outcome = "failed: " + err.Error()
				sum.failed(err)
			} else {
				sum.Stopped++
			}
			if _, err := e.Store.RecordAction(context.WithoutCancel(ctx), a); err != nil {
				return sum, err
			}
		}
	}
	return sum, nil
}

// block disables the workgroups of a scope over its block budget, in each
// account and region where they ran queries this period: a block is
// recorded once per period, so a workgroup enabled by hand (budgets
// unblock) stays enabled until the next period.
func (e *Enforcer) block(ctx context.Context, b config.Budget, s Status, at time.Time, sum *EnforceSummary) error {
	match := Match(b, s.Key)
	if _, ok := match["user"]; ok {
		return e.blockUser(ctx, b, s, match["user"], at, sum)
	}
	locs, err := e.Store.WorkgroupLocations(ctx, match["workgroup"], s.PeriodStart)
	if err != nil {
		return err
	}
	reason := fmt.Sprintf("%s: %s is at %.0f%% of its limit this %s; the workgroup is disabled until the period resets", b.Name, s.Scope, 100*s.Ratio, s.Period)
	for _, l := range locs {
		if g := match["account"]; g != "" {
			if ok, _ := path.Match(g, l.Account); !ok {
				continue
			}
		}
		a := store.Action{At: at, Budget: b.Name, Scope: s.Scope, PeriodStart: s.PeriodStart, Action: "block",
			Target: l.Account + "/" + l.Region + "/" + l.Workgroup, DryRun: e.DryRun, Reason: reason}
		if err := e.takeBlock(ctx, a, func() error {
			return e.Stopper.SetEnabled(ctx, l.Account, l.Region, l.Workgroup, false)
		}, sum); err != nil {
			return err
		}
	}
	return nil
}

// takeBlock takes a block once per period: in a dry run it records that
// it would; else, unless the period's block is recorded already (taken,
// or lifted by hand), it applies it and records it. A failure to apply is
// counted, not recorded: the next round tries again.
func (e *Enforcer) takeBlock(ctx context.Context, a store.Action, apply func() error, sum *EnforceSummary) error {
	if e.DryRun {
		a.Outcome = "would block (dry run)"
		recorded, err := e.Store.RecordAction(ctx, a)
		if recorded {
			sum.WouldBlock++
		}
		return err
	}
	if done, err := e.Store.ActionRecorded(ctx, a); err != nil || done {
		return err
	}
	if err := apply(); err != nil {
		sum.failed(err)
		return nil
	}
	a.Outcome = "blocked"
	if _, err := e.Store.RecordAction(context.WithoutCancel(ctx), a); err != nil {
		return err
	}
	sum.Blocked++
	return nil
}

// failed counts a failed action and keeps the first reason.
func (s *EnforceSummary) failed(err error) {
	s.Failed++
	if s.Why == "" {
		s.Why = err.Error()
	}
}

// blockPolicy names athenawatch's deny policies, so that they are
// recognisably ours.
const blockPolicy = "athenawatch-budget-block"

// blockUser denies a user StartQueryExecution where it applies to that
// person only: an IAM user's inline policy; for a role session, a deny on
// the role conditioned on the session's aws:userid (or aws:SourceIdentity
// when the session carries one). Roles that IAM Identity Center manages
// (AWSReservedSSO_*) cannot be changed: recorded as such.
func (e *Enforcer) blockUser(ctx context.Context, b config.Budget, s Status, user string, at time.Time, sum *EnforceSummary) error {
	qs, err := e.Store.QueriesOfUser(ctx, user, s.PeriodStart, 5000)
	if err != nil {
		return err
	}
	reason := fmt.Sprintf("%s: %s is at %.0f%% of its limit this %s; athena:StartQueryExecution is denied until the period resets", b.Name, s.Scope, 100*s.Ratio, s.Period)
	seen := map[string]bool{}
	for _, q := range qs {
		id := q.Identity
		account := firstNonEmpty(id.AccountID, q.OwnerAccount)
		var kind, name, key, value string
		switch {
		case id.Type == "IAMUser" && id.UserName != "":
			kind, name = "user", id.UserName
		case id.Type == "AssumedRole" && id.IssuerUserName != "":
			kind, name = "role", id.IssuerUserName
			key, value = "aws:userid", id.PrincipalID
			if id.SourceIdentity != "" {
				key, value = "aws:SourceIdentity", id.SourceIdentity
			}
		default:
			kind, name = "other", id.ARN
		}
		policy := blockPolicy
		if kind == "role" {
			h := sha256.Sum256([]byte(value))
			policy += "-" + hex.EncodeToString(h[:6])
		}
		target := "iam:" + account + "/" + kind + "/" + name + "/" + policy
		if seen[target] {
			continue
		}
		seen[target] = true
		a := store.Action{At: at, Budget: b.Name, Scope: s.Scope, PeriodStart: s.PeriodStart, Action: "block", Target: target, DryRun: e.DryRun, Reason: reason}
		cannot := ""
		switch {
		case kind == "other":
			cannot = "cannot block: an " + id.Type + " identity has no policy athenawatch may change"
		case kind == "role" && strings.HasPrefix(name, "AWSReservedSSO_"):
			cannot = "cannot block: IAM Identity Center manages role " + name + " (a service control policy is the organization-wide route)"
		case kind == "role" && value == "":
			cannot = "cannot block: the session has no id to condition a deny on"
		}
		if cannot != "" {
			a.Outcome = cannot
			if _, err := e.Store.RecordAction(ctx, a); err != nil {
				return err
			}
			continue
		}
		st := map[string]any{"Sid": "AthenawatchBudgetBlock", "Effect": "Deny", "Action": "athena:StartQueryExecution", "Resource": "*"}
		if key != "" {
			st["Condition"] = map[string]any{"StringEquals": map[string]string{key: value}}
		}
		doc, _ := json.Marshal(map[string]any{"Version": "2012-10-17", "Statement": []any{st}})
		if err := e.takeBlock(ctx, a, func() error {
			return e.Stopper.PutDeny(ctx, account, kind, name, policy, string(doc))
		}, sum); err != nil {
			return err
		}
	}
	return nil
}

func firstNonEmpty(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}

// lift enables again the workgroups blocked in a period that has ended
// (or by a budget no longer configured), or, with all, every block.
func (e *Enforcer) lift(ctx context.Context, budgets map[string]config.Budget, at time.Time, all bool, sum *EnforceSummary) error {
	blocks, err := e.Store.ActiveBlocks(ctx)
	if err != nil {
		return err
	}
	for _, bl := range blocks {
		b, ok := budgets[bl.Budget]
		reason := "lifted by hand (budgets unblock)"
		if !all {
			if ok && b.Action == "block" {
				loc, err := time.LoadLocation(b.TimeZone)
				if err != nil {
					return err
				}
				if !PeriodAt(b.Period, at, loc).Start.After(bl.PeriodStart) {
					continue // its period goes on
				}
				reason = "the period reset"
			} else {
				reason = "the budget no longer blocks"
			}
		}
		var err error
		if iamTarget, ok := strings.CutPrefix(bl.Target, "iam:"); ok {
			parts := strings.SplitN(iamTarget, "/", 4) // ACCOUNT/KIND/NAME/POLICY
			if len(parts) != 4 {
				continue
			}
			err = e.Stopper.DeleteDeny(ctx, parts[0], parts[1], parts[2], parts[3])
		} else {
			parts := strings.SplitN(bl.Target, "/", 3)
			if len(parts) != 3 {
				continue
			}
			err = e.Stopper.SetEnabled(ctx, parts[0], parts[1], parts[2], true)
		}
		if err != nil {
			sum.failed(err)
			continue
		}
		if _, err := e.Store.RecordAction(context.WithoutCancel(ctx), store.Action{At: at, Budget: bl.Budget, Scope: bl.Scope, PeriodStart: bl.PeriodStart,
			Action: "unblock", Target: bl.Target, Outcome: "unblocked", Reason: reason}); err != nil {
			return err
		}
		sum.Unblocked++
	}
	return nil
}

// Unblock enables every workgroup a budget disabled, now.
func (e *Enforcer) Unblock(ctx context.Context, budgets []config.Budget) (EnforceSummary, error) {
	var sum EnforceSummary
	now := time.Now
	if e.Now != nil {
		now = e.Now
	}
	byName := map[string]config.Budget{}
	for _, b := range budgets {
		byName[b.Name] = b
	}
	err := e.lift(ctx, byName, now().UTC(), true, &sum)
	return sum, err
}

// running are the queries of a scope in its period that may still run.
func (e *Enforcer) running(ctx context.Context, b config.Budget, s Status) ([]store.Query, error) {
	match := Match(b, s.Key)
	counts, err := e.Store.PendingCounts(ctx, s.PeriodStart)
	if err != nil {
		return nil, err
	}
	var out []store.Query
	for _, c := range counts {
		var after store.PendingKey
		for {
			page, err := e.Store.PendingQueries(ctx, s.PeriodStart, c.Account, c.Region, after, 1000)
			if err != nil {
				return nil, err
			}
			for _, q := range page {
				if st := q.Stats.State; (st == "" || st == "QUEUED" || st == "RUNNING") && matches(match, q) {
					out = append(out, q)
				}
			}
			if len(page) < 1000 {
				break
			}
			last := page[len(page)-1]
			after = store.PendingKey{Time: last.EventTime, QueryID: last.QueryID}
		}
	}
	return out, nil
}

// matches reports whether a query is in a scope (key to glob).
func matches(match map[string]string, q store.Query) bool {
	for k, glob := range match {
		var v string
		switch k {
		case "user":
			v = q.User
		case "team":
			v = q.Team
		case "workgroup":
			v = q.Workgroup
		case "account":
			v = q.Account
		}
		if ok, _ := path.Match(glob, v); !ok && glob != v {
			return false
		}
	}
	return true
}

// allowed reports whether a user is on an allowlist of globs.
func allowed(globs []string, user string) bool {
	for _, g := range globs {
		if ok, _ := path.Match(g, user); ok || strings.EqualFold(g, user) {
			return true
		}
	}
	return false
}
