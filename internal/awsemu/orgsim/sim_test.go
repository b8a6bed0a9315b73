package orgsim

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/athenawatch/athenawatch/internal/awsemu"
)

func TestPlanDeterministic(t *testing.T) {
	t.Parallel()
	end := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	cfg := Config{Seed: 7, Start: end.Add(-3 * 24 * time.Hour), End: end, QueriesPerDay: 200}
	a, b := NewPlan(cfg), NewPlan(cfg)
	if len(a.Queries) != len(b.Queries) || len(a.Queries) < 500 {
		t.Fatalf("plans have %d and %d queries, want the same and >= 500", len(a.Queries), len(b.Queries))
	}
	for i := range a.Queries {
		qa, qb := *a.Queries[i], *b.Queries[i]
		if qa.Principal.Name != qb.Principal.Name {
			t.Fatalf("query %d: principal %s vs %s", i, qa.Principal.Name, qb.Principal.Name)
		}
		qa.Principal, qb.Principal = nil, nil
		if !reflect.DeepEqual(qa, qb) {
			t.Fatalf("query %d differs:\n%+v\n%+v", i, qa, qb)
		}
	}
	c := NewPlan(Config{Seed: 8, Start: cfg.Start, End: end, QueriesPerDay: 200})
	if c.Queries[0].Token == a.Queries[0].Token {
		t.Error("another seed gave the same first token")
	}
}

func TestPlanMix(t *testing.T) {
	t.Parallel()
	end := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	p := NewPlan(Config{Seed: 1, Start: end.Add(-60 * 24 * time.Hour), End: end, QueriesPerDay: 200})
	n := float64(len(p.Queries))
	count := func(f func(q *PlannedQuery) bool) float64 {
		c := 0
		for _, q := range p.Queries {
			if f(q) {
				c++
			}
		}
		return float64(c)
	}
	tests := []struct {
		name     string
		match    func(q *PlannedQuery) bool
		min, max float64 // fraction of all queries
	}{
		{"failed", func(q *PlannedQuery) bool { return q.Outcome.State == awsemu.StateFailed }, 0.03, 0.07},
		{"cancelled", func(q *PlannedQuery) bool { return q.Outcome.State == awsemu.StateCancelled }, 0.01, 0.03},
		{"rejected", func(q *PlannedQuery) bool { return q.Rejected() }, 0.003, 0.02},
		{"reused", func(q *PlannedQuery) bool { return q.Outcome.ReusedPreviousResult }, 0.01, 0.06},
		{"ddl", func(q *PlannedQuery) bool { return q.Outcome.StatementType == "DDL" }, 0.01, 0.15},
		{"utility", func(q *PlannedQuery) bool { return q.Outcome.StatementType == "UTILITY" }, 0.01, 0.15},
		{"over 100 GB", func(q *PlannedQuery) bool { return q.Outcome.DataScannedBytes > 100e9 }, 0.0005, 0.05},
		{"under 100 MB", func(q *PlannedQuery) bool {
			return q.Outcome.StatementType == "DML" && q.Outcome.DataScannedBytes < 100e6
		}, 0.2, 0.9},
		{"bi comment user", func(q *PlannedQuery) bool { return strings.HasPrefix(q.QueryText, "-- user: ") }, 0.1, 0.3},
		{"older than 45 days", func(q *PlannedQuery) bool { return end.Sub(q.Time) >= retention }, 0.15, 0.35},
		{"running at end", func(q *PlannedQuery) bool { return q.Completion().After(end) }, 1 / n, 10 / n},
		// Regression: the queries running at the end ran for two hours,
		// and the largest scans beyond Athena's 30-minute query timeout.
		{"running 10 minutes after the end", func(q *PlannedQuery) bool { return q.Completion().After(end.Add(10 * time.Minute)) }, 0, 0},
		{"beyond the 30-minute timeout", func(q *PlannedQuery) bool { return q.Completion().Sub(q.Time) > 30*time.Minute }, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if f := count(tt.match) / n; f < tt.min || f > tt.max {
				t.Errorf("fraction %.4f, want in [%.4f, %.4f]", f, tt.min, tt.max)
			}
		})
	}
}

// TestRun runs a day of the organization on the emulator and checks the
// ground truth against the emulator's executions and the written trail.
func TestRun(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Second)
	defer cancel()
	end := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	cfg := Config{Seed: 3, Start: end.Add(-24 * time.Hour), End: end, QueriesPerDay: 300, NoiseRatio: 0.9}
	dir := t.TempDir()
	res, emu, srv, err := RunLocal(ctx, cfg, dir, "127.0.0.1:0")
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	t.Cleanup(func() { _ = srv.Close() })

	if len(res.Queries) < 250 {
		t.Fatalf("%d queries, want >= 250", len(res.Queries))
	}
	if len(res.Rejected) == 0 {
		t.Error("no rejected submissions")
	}
	execs := make(map[string]awsemu.Execution)
	for _, x := range emu.Executions() {
		execs[x.Region+"/"+x.QueryID] = x
	}
	if len(execs) != len(res.Queries) {
		t.Errorf("emulator has %d executions, ground truth %d queries", len(execs), len(res.Queries))
	}

	// Every query is in the trail as a StartQueryExecution with its id.
	trail := readTrail(t, dir)
	started := make(map[string]trailRecord)
	rejected := 0
	for _, r := range trail.records {
		if r.EventSource != "athena.amazonaws.com" || r.EventName != "StartQueryExecution" {
			continue
		}
		if r.ResponseElements.QueryExecutionID == "" {
			rejected++
			continue
		}
		started[r.AWSRegion+"/"+r.ResponseElements.QueryExecutionID] = r
	}
	users := make(map[string]bool)
	states := make(map[string]int)
	for _, q := range res.Queries {
		k := q.Region + "/" + q.QueryID
		x, ok := execs[k]
		if !ok {
			t.Errorf("query %s not in the emulator", k)
			continue
		}
		if x.Account != q.Account || x.Outcome.DataScannedBytes != q.DataScannedBytes || !x.Submitted.Equal(q.Submitted) {
			t.Errorf("query %s: emulator %s/%d/%s, truth %s/%d/%s", k, x.Account, x.Outcome.DataScannedBytes, x.Submitted, q.Account, q.DataScannedBytes, q.Submitted)
		}
		r, ok := started[k]
		if !ok {
			t.Errorf("query %s not in the trail", k)
			continue
		}
		if r.RecipientAccountID != q.Account || r.UserIdentity.ARN != q.PrincipalARN {
			t.Errorf("query %s: trail account %s arn %s, truth %s %s", k, r.RecipientAccountID, r.UserIdentity.ARN, q.Account, q.PrincipalARN)
		}
		users[q.User] = true
		states[q.State]++
	}
	// The workgroups were created through the API, in the trail, before
	// the first query of their account and region.
	created := make(map[string]string) // account/region/workgroup → eventTime
	firstStart := make(map[string]string)
	for _, r := range trail.records {
		if r.EventSource != "athena.amazonaws.com" {
			continue
		}
		key := r.RecipientAccountID + "/" + r.AWSRegion
		switch r.EventName {
		case "CreateWorkGroup":
			if r.ErrorCode != "" || r.UserIdentity.ARN != "arn:aws:iam::"+r.RecipientAccountID+":user/"+AdminUser {
				t.Errorf("CreateWorkGroup %s by %s failed: %s", r.RequestParameters.Name, r.UserIdentity.ARN, r.ErrorCode)
			}
			created[key+"/"+r.RequestParameters.Name] = r.EventTime
		case "StartQueryExecution":
			if f, ok := firstStart[key]; !ok || r.EventTime < f {
				firstStart[key] = r.EventTime
			}
		}
	}
	for _, a := range Accounts {
		for _, region := range DefaultRegions {
			for _, wg := range Workgroups[1:] {
				at, ok := created[a.ID+"/"+region+"/"+wg]
				if !ok {
					t.Errorf("no CreateWorkGroup of %s in %s %s in the trail", wg, a.ID, region)
					continue
				}
				if first, ok := firstStart[a.ID+"/"+region]; ok && at >= first {
					t.Errorf("workgroup %s in %s %s created at %s, after the first query at %s", wg, a.ID, region, at, first)
				}
			}
		}
	}
	if len(created) != len(Accounts)*len(DefaultRegions)*(len(Workgroups)-1) {
		t.Errorf("%d workgroups created, want %d", len(created), len(Accounts)*len(DefaultRegions)*(len(Workgroups)-1))
	}

	if rejected < len(res.Rejected) {
		t.Errorf("trail has %d rejected submissions (with duplicates), truth %d", rejected, len(res.Rejected))
	}
	if states[awsemu.StateRunning] == 0 || states[awsemu.StateFailed] == 0 {
		t.Errorf("states %v: want some RUNNING and FAILED", states)
	}
	for _, u := range []string{"alice", "bob@example.com", "carol", "etl-nightly", "heidi", "erin"} {
		if !users[u] {
			t.Errorf("no query of user %s", u)
		}
	}
	noise := float64(res.Trail.NoiseRecords) / float64(res.Trail.Records-res.Trail.Duplicates)
	if noise < 0.88 || noise > 0.92 {
		t.Errorf("noise fraction %.3f, want about 0.9", noise)
	}
	if trail.digests == 0 {
		t.Error("no digest files")
	}

	var conf struct {
		Identity struct {
			QueryCommentUser string `yaml:"query_comment_user"`
		} `yaml:"identity"`
		Teams []struct {
			Name  string   `yaml:"name"`
			Users []string `yaml:"users"`
		} `yaml:"teams"`
		Accounts map[string]struct {
			RoleARN string `yaml:"role_arn"`
		} `yaml:"accounts"`
	}
	if err := yaml.Unmarshal(res.ConfigYAML(), &conf); err != nil {
		t.Fatalf("config YAML: %v\n%s", err, res.ConfigYAML())
	}
	team := make(map[string]string)
	for _, r := range conf.Teams {
		for _, u := range r.Users {
			team[u] = r.Name
		}
	}
	for _, q := range res.Queries {
		if team[q.User] != q.Team {
			t.Errorf("config puts %s in team %q, truth %q", q.User, team[q.User], q.Team)
		}
	}
	if got := conf.Accounts[AnalyticsAccount.ID].RoleARN; got != "arn:aws:iam::222222222222:role/athenawatch-reader" {
		t.Errorf("reader role of the analytics account = %q", got)
	}
	if res.CollectorCredentials.AccessKeyID == "" {
		t.Error("no collector credentials")
	}
}

// trailRecord is the part of a CloudTrail record the tests look at.
type trailRecord struct {
	EventID      string `json:"eventID"`
	EventSource  string `json:"eventSource"`
	EventName    string `json:"eventName"`
	EventTime    string `json:"eventTime"`
	AWSRegion    string `json:"awsRegion"`
	ErrorCode    string `json:"errorCode"`
	UserIdentity struct {
		Type      string `json:"type"`
		ARN       string `json:"arn"`
		AccountID string `json:"accountId"`
	} `json:"userIdentity"`
	RequestParameters struct {
		Name string `json:"name"`
	} `json:"requestParameters"`
	ResponseElements struct {
		QueryExecutionID string `json:"queryExecutionId"`
	} `json:"responseElements"`
	RecipientAccountID string `json:"recipientAccountId"`
}

func TestBilledBytes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		q    Query
		want int64
	}{
		{"small scan pays the minimum", Query{StatementType: "DML", State: "SUCCEEDED", DataScannedBytes: 1}, 10 << 20},
		{"rounded up to a MiB", Query{StatementType: "DML", State: "SUCCEEDED", DataScannedBytes: 20<<20 + 1}, 21 << 20},
		{"cancelled pays", Query{StatementType: "DML", State: "CANCELLED", DataScannedBytes: 30 << 20}, 30 << 20},
		{"failed is free", Query{StatementType: "DML", State: "FAILED", DataScannedBytes: 30 << 20}, 0},
		{"ddl is free", Query{StatementType: "DDL", State: "SUCCEEDED"}, 0},
		{"reuse is free", Query{StatementType: "DML", State: "SUCCEEDED", Reused: true}, 0},
		{"provisioned is not per byte", Query{StatementType: "DML", State: "SUCCEEDED", DataScannedBytes: 1 << 30, Provisioned: true}, 0},
		{"running has no cost yet", Query{StatementType: "DML", State: "RUNNING", DataScannedBytes: 1 << 30}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.q.BilledBytes(); got != tt.want {
				t.Errorf("BilledBytes = %d, want %d", got, tt.want)
			}
		})
	}
}
