package awsemu

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/athena"
	"github.com/aws/aws-sdk-go-v2/service/athena/types"
)

// TestWorkGroups checks that workgroups exist per account and region once
// created, that primary exists without being created, and that queries in a
// workgroup that does not exist are refused as Athena refuses them.
func TestWorkGroups(t *testing.T) {
	t.Parallel()
	en := newEnv(t, fixedEngine)
	ctx := context.Background()
	admin := en.emu.AddUser(acctA, "admin")
	east, west := en.athena("us-east-1", admin), en.athena("eu-west-1", admin)
	other := en.athena("us-east-1", en.emu.AddUser(acctB, "admin"))

	startIn := func(c *athena.Client, wg string) error {
		_, err := c.StartQueryExecution(ctx, &athena.StartQueryExecutionInput{QueryString: aws.String("SELECT 1"), WorkGroup: aws.String(wg)})
		return err
	}
	create := func(c *athena.Client, name string) error {
		_, err := c.CreateWorkGroup(ctx, &athena.CreateWorkGroupInput{
			Name: aws.String(name), Description: aws.String("analysts of " + name),
			Configuration: &types.WorkGroupConfiguration{
				ResultConfiguration:           &types.ResultConfiguration{OutputLocation: aws.String("s3://results/" + name)},
				EnforceWorkGroupConfiguration: aws.Bool(true),
			},
		})
		return err
	}
	getWG := func(c *athena.Client, name string) (*types.WorkGroup, error) {
		out, err := c.GetWorkGroup(ctx, &athena.GetWorkGroupInput{WorkGroup: aws.String(name)})
		if err != nil {
			return nil, err
		}
		return out.WorkGroup, nil
	}

	en.emu.SetNow(t0.Add(time.Hour))
	tests := []struct {
		name string
		call func() error
		want string // substring of the InvalidRequestException message; empty = success
	}{
		{"query in a workgroup not created yet", func() error { return startIn(east, "analysts") }, "WorkGroup is not found."},
		{"get a workgroup not created yet", func() error { _, err := getWG(east, "analysts"); return err }, "WorkGroup is not found."},
		{"primary exists without being created", func() error { return startIn(east, "primary") }, ""},
		{"get primary", func() error { _, err := getWG(west, "primary"); return err }, ""},
		{"create", func() error { return create(east, "analysts") }, ""},
		{"query in the created workgroup", func() error { return startIn(east, "analysts") }, ""},
		{"create again", func() error { return create(east, "analysts") }, "WorkGroup is already created."},
		{"create primary", func() error { return create(east, "primary") }, "primary workGroup could not be created"},
		{"bad name", func() error { return create(east, "no spaces") }, "Member must satisfy regular expression pattern"},
		{"other region does not see it", func() error { return startIn(west, "analysts") }, "WorkGroup is not found."},
		{"other account does not see it", func() error { return startIn(other, "analysts") }, "WorkGroup is not found."},
		{"list queries of an unknown workgroup", func() error {
			_, err := west.ListQueryExecutions(ctx, &athena.ListQueryExecutionsInput{WorkGroup: aws.String("analysts")})
			return err
		}, "WorkGroup is not found."},
	}
	for _, tt := range tests {
		err := tt.call()
		if tt.want == "" {
			if err != nil {
				t.Errorf("%s: %v", tt.name, err)
			}
			continue
		}
		var invalid *types.InvalidRequestException
		if !errors.As(err, &invalid) || !strings.Contains(invalid.ErrorMessage(), tt.want) {
			t.Errorf("%s: error %v, want InvalidRequestException %q", tt.name, err, tt.want)
		}
	}

	wg, err := getWG(east, "analysts")
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(wg.Description) != "analysts of analysts" || wg.State != types.WorkGroupStateEnabled ||
		!aws.ToTime(wg.CreationTime).Equal(t0.Add(time.Hour)) ||
		aws.ToString(wg.Configuration.ResultConfiguration.OutputLocation) != "s3://results/analysts/" ||
		!aws.ToBool(wg.Configuration.EnforceWorkGroupConfiguration) {
		t.Errorf("GetWorkGroup = %+v", wg)
	}
	list, err := east.ListWorkGroups(ctx, &athena.ListWorkGroupsInput{})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range list.WorkGroups {
		names = append(names, aws.ToString(s.Name))
	}
	if !slices.Equal(names, []string{"analysts", "primary"}) {
		t.Errorf("ListWorkGroups = %v, want analysts and primary", names)
	}

	// The workgroup enforces its result location over the query's.
	out, err := east.StartQueryExecution(ctx, &athena.StartQueryExecutionInput{
		QueryString: aws.String("SELECT 2"), WorkGroup: aws.String("analysts"),
		ResultConfiguration: &types.ResultConfiguration{OutputLocation: aws.String("s3://mine/")},
	})
	if err != nil {
		t.Fatal(err)
	}
	if loc := aws.ToString(got(t, east, aws.ToString(out.QueryExecutionId)).ResultConfiguration.OutputLocation); !strings.HasPrefix(loc, "s3://results/analysts/") {
		t.Errorf("output location %s, want the workgroup's", loc)
	}

	// CreateWorkGroup is in the trail like any management call.
	var created []string
	for _, ev := range en.trail() {
		if ev.EventName != "CreateWorkGroup" {
			continue
		}
		var rec struct {
			ErrorCode         string `json:"errorCode"`
			RequestParameters struct {
				Name string `json:"name"`
			} `json:"requestParameters"`
			ReadOnly bool `json:"readOnly"`
		}
		if err := json.Unmarshal(ev.Record, &rec); err != nil {
			t.Fatal(err)
		}
		if rec.ReadOnly {
			t.Error("CreateWorkGroup recorded as read-only")
		}
		created = append(created, rec.RequestParameters.Name+"/"+rec.ErrorCode)
	}
	want := []string{"analysts/", "analysts/InvalidRequestException", "primary/InvalidRequestException", "no spaces/InvalidRequestException"}
	if !slices.Equal(created, want) {
		t.Errorf("CreateWorkGroup records %v, want %v", created, want)
	}
}

// TestQueryWithoutTable is the regression test of SELECT 1 taking 36 s and
// scanning 14 MB on the emulator: a query that reads no table scans nothing
// and finishes within about a second.
func TestQueryWithoutTable(t *testing.T) {
	t.Parallel()
	en := newEnv(t, nil)
	c := en.athena("us-east-1", en.emu.AddUser(acctA, "alice"))
	tests := []struct {
		query   string
		noTable bool
	}{
		{"SELECT 1", true},
		{"select now()", true},
		{"-- ad hoc\nSELECT 1 AS one, 'x' AS y", true},
		{"VALUES (1, 2), (3, 4)", true},
		{"SELECT * FROM sales.orders WHERE dt = '2026-11-01'", false},
		{"select count(*)\nfrom logs.alb_logs", false},
	}
	for _, tt := range tests {
		en.emu.SetNow(t0)
		id := start(t, c, tt.query)
		en.emu.SetNow(t0.Add(time.Second))
		qe := got(t, c, id)
		scanned := aws.ToInt64(qe.Statistics.DataScannedInBytes)
		if !tt.noTable {
			// The contrast: a query over a table scans something and,
			// with this text, is not done within a second.
			final := en.emu.Executions()
			if o := final[len(final)-1].Outcome; o.DataScannedBytes == 0 || o.EngineTime < time.Second {
				t.Errorf("%q: outcome %+v, want a scan", tt.query, o)
			}
			continue
		}
		if qe.Status.State != types.QueryExecutionStateSucceeded || scanned != 0 || aws.ToInt64(qe.Statistics.TotalExecutionTimeInMillis) >= 1000 {
			t.Errorf("%q after 1 s: %s, %d bytes, %d ms total; want SUCCEEDED, 0 bytes, under a second",
				tt.query, qe.Status.State, scanned, aws.ToInt64(qe.Statistics.TotalExecutionTimeInMillis))
		}
	}
}
