package identitycenter

import (
	"context"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/athenawatch/athenawatch/internal/awsemu"
	"github.com/athenawatch/athenawatch/internal/cloudtrail"
	"github.com/athenawatch/athenawatch/internal/config"
	"github.com/athenawatch/athenawatch/internal/store"
	"github.com/athenawatch/athenawatch/internal/usage"
)

const (
	home, other = "111111111111", "222222222222"
	u1          = "94482488-3041-7026-18f0-7c5e9a1b2d3f"
	u2          = "a1b2c3d4-0000-7026-18f0-7c5e9a1b2d3f"
)

func query(id, userID, storeARN string) store.Query {
	return store.Query{
		Region: "us-east-1", QueryID: id, EventID: "e-" + id, EventTime: time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC), OwnerAccount: home,
		Identity: cloudtrail.Identity{Type: "AssumedRole", ARN: "arn:aws:sts::" + home + ":assumed-role/tip/s", AccountID: home,
			IssuerUserName: "tip", OnBehalfOfUserID: userID, OnBehalfOfIdentityStoreARN: storeARN},
		StatsStatus: store.StatusPending,
	}
}

func TestResolve(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	emu := awsemu.New(awsemu.Options{})
	srv := httptest.NewServer(emu)
	t.Cleanup(srv.Close)
	c := emu.AddUser(home, "collector")
	emu.AddIdentityCenterUser(home, "d-0123456789", awsemu.IdentityCenterUser{UserID: u1, UserName: "heidi", DisplayName: "Heidi Hopper"})
	emu.AddIdentityCenterUser(other, "d-9999999999", awsemu.IdentityCenterUser{UserID: u2, UserName: "ivan"})

	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	cfg := &config.Config{Identity: config.Identity{ResolveIdentityCenter: true}}
	rules := usage.NewRules(cfg)
	qs := []store.Query{
		query("q1", u1, "arn:aws:identitystore::"+home+":identitystore/d-0123456789"),
		query("q2", u2, "arn:aws:identitystore::"+other+":identitystore/d-9999999999"),
		query("q3", u1, "arn:aws:identitystore::"+home+":identitystore/d-0123456789"),
	}
	for i := range qs {
		rules.Query(&qs[i])
	}
	if _, err := st.Commit(ctx, &store.Batch{Queries: qs}); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 21, 0, 0, 0, 0, time.UTC)
	r := &Resolver{Store: st, Rules: rules, Now: func() time.Time { return now }, AWS: aws.Config{
		Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider(c.AccessKeyID, c.SecretAccessKey, ""), BaseEndpoint: aws.String(srv.URL),
	}}
	user := func(id string) string {
		q, ok, err := st.GetQuery(ctx, "us-east-1", id)
		if err != nil || !ok {
			t.Fatalf("get %s: %v %v", id, ok, err)
		}
		return q.User
	}

	sum, err := r.Resolve(ctx)
	if err != nil || sum.Users != 2 || sum.Asked != 2 || sum.Named != 1 || sum.Failed != 1 || sum.Requery != 2 {
		t.Fatalf("first: %+v, %v", sum, err)
	}
	// The store in another account, with no role for it: denied, said why.
	if !strings.Contains(sum.Why, "access denied") {
		t.Fatalf("why = %q", sum.Why)
	}
	if user("q1") != "heidi" || user("q3") != "heidi" || user("q2") != u2 {
		t.Fatalf("users %q %q %q", user("q1"), user("q3"), user("q2"))
	}
	// The raw id still finds the queries.
	f := rules.AliasUsers(store.Filter{Match: map[string][]string{"user": {u1}}})
	if got := f.Match["user"]; len(got) != 2 || got[1] != "heidi" {
		t.Fatalf("alias of %s: %v", u1, got)
	}

	// At once again: nothing is due.
	if sum, err = r.Resolve(ctx); err != nil || sum.Asked != 0 {
		t.Fatalf("again: %+v, %v", sum, err)
	}
	// Two hours later the failure is tried again; the name is not.
	now = now.Add(2 * time.Hour)
	if sum, err = r.Resolve(ctx); err != nil || sum.Asked != 1 || sum.Failed != 1 {
		t.Fatalf("after an hour: %+v, %v", sum, err)
	}
	// A day later names are asked again, and a new name follows.
	emu.AddIdentityCenterUser(home, "d-0123456789", awsemu.IdentityCenterUser{UserID: u1, UserName: "heidi.hopper"})
	now = now.Add(25 * time.Hour)
	if sum, err = r.Resolve(ctx); err != nil || sum.Renamed != 1 || sum.Requery != 2 {
		t.Fatalf("a day later: %+v, %v", sum, err)
	}
	if user("q1") != "heidi.hopper" {
		t.Fatalf("after the rename: %q", user("q1"))
	}
}

func TestStoreARN(t *testing.T) {
	for _, tt := range []struct{ arn, account, id string }{
		{"arn:aws:identitystore::111111111111:identitystore/d-0123456789", "111111111111", "d-0123456789"},
		{"arn:aws:identitystore:::identitystore/d-0123456789", "", ""},
		{"arn:aws:iam::111111111111:role/x", "", ""},
		{"", "", ""},
	} {
		a, id, ok := storeARN(tt.arn)
		if a != tt.account || id != tt.id || ok != (tt.id != "") {
			t.Errorf("storeARN(%q) = %q %q %v", tt.arn, a, id, ok)
		}
	}
}
