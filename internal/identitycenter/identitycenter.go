// Package identitycenter names the IAM Identity Center users of stored
// queries. Queries made through trusted identity propagation carry only
// the user's id (onBehalfOf.userId, such as 94482488-3041-...); with
// identity.resolve_identity_center, the Identity Store's DescribeUser turns
// it into the user name people know. Answers are kept in the store and
// asked again daily; a user the store cannot name keeps its id, and the
// reason is said once per run.
package identitycenter

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/identitystore"
	"github.com/aws/smithy-go"

	"github.com/athenawatch/athenawatch/internal/assume"
	"github.com/athenawatch/athenawatch/internal/store"
	"github.com/athenawatch/athenawatch/internal/usage"
)

// Defaults of Resolver.
const (
	// DefaultRefresh is how long a name is kept before it is asked again.
	DefaultRefresh = 24 * time.Hour
	// DefaultRetry is how long after a failure a user is asked again.
	DefaultRetry = time.Hour
	callTimeout  = 30 * time.Second
)

// Resolver names Identity Center users.
type Resolver struct {
	Store *store.Store
	Rules *usage.Rules
	// AWS is the configuration clients are built from.
	AWS aws.Config
	// Region is the Identity Center instance's region; "" is AWS's.
	Region string
	// Roles maps accounts to the role to assume there: an identity store
	// in another account than the credentials' is read through it.
	Roles  map[string]string
	Logger *slog.Logger
	// Now is the clock of refreshes; nil is time.Now.
	Now func() time.Time
}

// Summary is what one Resolve did.
type Summary struct {
	Users   int // Identity Center users of stored queries
	Asked   int // asked of the Identity Store this run
	Named   int // of those, named
	Failed  int // of those, not named; Why says why (the first reason)
	Renamed int // users whose shown name changed, their queries derived again
	Requery int // queries derived again
	Why     string
}

// storeARN reads arn:aws:identitystore::ACCOUNT:identitystore/d-1234567890.
func storeARN(arn string) (account, id string, ok bool) {
	parts := strings.Split(arn, ":")
	if len(parts) != 6 || parts[0] != "arn" || parts[2] != "identitystore" {
		return "", "", false
	}
	id, ok = strings.CutPrefix(parts[5], "identitystore/")
	if !ok || id == "" || parts[4] == "" {
		return "", "", false
	}
	return parts[4], id, true
}

// Resolve asks the Identity Store about the users not named yet, named
// more than a day ago, or whose last attempt failed more than an hour ago,
// records the answers, gives the names to the rules and derives again the
// queries of every user whose shown name changed.
func (r *Resolver) Resolve(ctx context.Context) (Summary, error) {
	var sum Summary
	log := r.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	now := time.Now
	if r.Now != nil {
		now = r.Now
	}
	users, err := r.Store.IdentityCenterUsers(ctx)
	if err != nil {
		return sum, err
	}
	sum.Users = len(users)
	known, err := r.Store.IdentityNames(ctx)
	if err != nil {
		return sum, err
	}
	type key struct{ store, user string }
	before := map[key]store.IdentityName{}
	for _, n := range known {
		before[key{n.StoreID, n.UserID}] = n
	}
	clients := map[string]*identitystore.Client{}
	var answers []store.IdentityName
	at := now().UTC()
	for _, u := range users {
		account, storeID, ok := storeARN(u.StoreARN)
		if !ok {
			storeID = u.StoreARN
		}
		prev, seen := before[key{storeID, u.UserID}]
		switch {
		case !seen:
		case prev.Error == "" && at.Sub(prev.ResolvedAt) < DefaultRefresh:
			continue
		case prev.Error != "" && at.Sub(prev.ResolvedAt) < DefaultRetry:
			continue
		}
		sum.Asked++
		n := store.IdentityName{StoreID: storeID, UserID: u.UserID, ResolvedAt: at}
		if !ok {
			n.Error = fmt.Sprintf("identity store ARN %q is not valid", u.StoreARN)
		} else {
			c := clients[account]
			if c == nil {
				c = r.client(account)
				clients[account] = c
			}
			cctx, cancel := context.WithTimeout(ctx, callTimeout)
			out, err := c.DescribeUser(cctx, &identitystore.DescribeUserInput{IdentityStoreId: aws.String(storeID), UserId: aws.String(u.UserID)})
			cancel()
			switch {
			case ctx.Err() != nil:
				return sum, ctx.Err()
			case err != nil:
				n.Error = describeError(err)
			case aws.ToString(out.UserName) == "":
				n.Error = "the Identity Store gave no user name"
			default:
				n.UserName, n.DisplayName = aws.ToString(out.UserName), aws.ToString(out.DisplayName)
			}
		}
		if n.Error != "" {
			sum.Failed++
			if sum.Why == "" {
				sum.Why = n.Error
			}
			// A failure after a success keeps the name known until the
			// next success.
			if seen && prev.UserName != "" {
				n.UserName, n.DisplayName = prev.UserName, prev.DisplayName
			}
		} else {
			sum.Named++
		}
		answers = append(answers, n)
	}
	if len(answers) > 0 {
		if err := r.Store.PutIdentityNames(ctx, answers); err != nil {
			return sum, err
		}
	}
	if sum.Failed > 0 {
		log.Warn("could not name Identity Center users; their queries show the user id",
			slog.Int("users", sum.Failed), slog.String("why", sum.Why))
	}
	if err := usage.LoadIdentityNames(ctx, r.Store, r.Rules); err != nil {
		return sum, err
	}
	for _, n := range answers {
		if n.UserName == before[key{n.StoreID, n.UserID}].UserName {
			continue
		}
		sum.Renamed++
		k, err := r.rederive(ctx, n.UserID)
		sum.Requery += k
		if err != nil {
			return sum, err
		}
	}
	return sum, nil
}

// rederive derives again the queries and rejected submissions of one
// Identity Center user, with the names the rules now have.
func (r *Resolver) rederive(ctx context.Context, userID string) (int, error) {
	n := 0
	var region, id string
	for {
		page, err := r.Store.QueriesOnBehalfOf(ctx, userID, region, id, 2000)
		if err != nil {
			return n, fmt.Errorf("derive again the queries of %s: %w", userID, err)
		}
		if len(page) == 0 {
			break
		}
		for i := range page {
			r.Rules.Query(&page[i])
		}
		if _, err := r.Store.UpdateDerived(ctx, page); err != nil {
			return n, fmt.Errorf("derive again the queries of %s: %w", userID, err)
		}
		n += len(page)
		last := page[len(page)-1]
		region, id = last.Region, last.QueryID
	}
	rs, err := r.Store.RejectedOnBehalfOf(ctx, userID)
	if err != nil {
		return n, err
	}
	for i := range rs {
		r.Rules.Rejected(&rs[i])
	}
	if len(rs) > 0 {
		if err := r.Store.UpdateRejectedTeams(ctx, rs); err != nil {
			return n, err
		}
	}
	return n, nil
}

// client is an Identity Store client for a store in account: through the
// account's role when the configuration names one.
func (r *Resolver) client(account string) *identitystore.Client {
	cfg := r.AWS.Copy()
	region := r.Region
	if region == "" {
		region = cfg.Region
	}
	if role := r.Roles[account]; role != "" {
		cfg.Credentials = assume.Role(assume.STS(cfg, region), role)
	}
	return identitystore.NewFromConfig(cfg, func(o *identitystore.Options) {
		if region != "" {
			o.Region = region
		}
	})
}

// describeError says why DescribeUser failed, in a line.
func describeError(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		switch ae.ErrorCode() {
		case "ResourceNotFoundException":
			return "the Identity Store does not know the user (deleted, or another identity store)"
		case "AccessDeniedException", "AccessDenied":
			return "access denied: the credentials need identitystore:DescribeUser in the identity store's account (" + ae.ErrorMessage() + ")"
		}
		return ae.ErrorCode() + ": " + ae.ErrorMessage()
	}
	return err.Error()
}
