package cloudtrail

import (
	"strings"
	"testing"
)

func TestValidRegion(t *testing.T) {
	t.Parallel()
	tests := []struct {
		region string
		want   bool
	}{
		// Every partition's regions.
		{"us-east-1", true}, {"us-west-2", true}, {"eu-central-2", true}, {"ap-southeast-5", true},
		{"ap-southeast-7", true}, {"ap-northeast-3", true}, {"ap-east-2", true}, {"mx-central-1", true},
		{"il-central-1", true}, {"me-central-1", true}, {"af-south-1", true}, {"sa-east-1", true},
		{"ca-west-1", true}, {"cn-north-1", true}, {"cn-northwest-1", true}, {"us-gov-west-1", true},
		{"us-gov-east-1", true}, {"us-iso-east-1", true}, {"us-isob-east-1", true}, {"us-isof-south-1", true},
		{"eu-isoe-west-1", true}, {"eusc-de-east-1", true},
		// Not region names.
		{"", false}, {"../../etc", false}, {"us-east-1 ", false}, {" us-east-1", false}, {"US-EAST-1", false},
		{"Us-east-1", false}, {"us-east-1\n", false}, {"us-east", false}, {"us-east-", false}, {"useast1", false},
		{"us_east_1", false}, {"us-east-1a", false}, {"us-east-123", false}, {"xx-east-1", false},
		{"aws-global", false}, {"us-east-1/../x", false}, {"us-еast-1", false}, // Cyrillic е
		{"us-gov-west-1-x", false}, {"eusc-fr-east-1", false}, {strings.Repeat("us-east-", 10) + "1", false},
	}
	for _, tt := range tests {
		if got := ValidRegion(tt.region); got != tt.want {
			t.Errorf("ValidRegion(%q) = %v, want %v", tt.region, got, tt.want)
		}
	}
}

// A query event in an impossible region or without a readable time is a bad
// record: reported by file and record index, not passed on, and the rest of
// the file is read.
func TestReadBadRegionOrTimeIsABadRecord(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, old, new, issue string
	}{
		{"path as region", `"awsRegion":"eu-west-1"`, `"awsRegion":"../../etc"`, `awsRegion "../../etc" is not an AWS region name`},
		{"trailing space", `"awsRegion":"eu-west-1"`, `"awsRegion":"eu-west-1 "`, `awsRegion "eu-west-1 " is not`},
		{"upper case", `"awsRegion":"eu-west-1"`, `"awsRegion":"EU-WEST-1"`, `awsRegion "EU-WEST-1" is not`},
		{"empty region", `"awsRegion":"eu-west-1"`, `"awsRegion":""`, `has no awsRegion`},
		{"control character", `"awsRegion":"eu-west-1"`, `"awsRegion":"eu-west-1\u001b[31m"`, `awsRegion "eu-west-1\x1b[31m" is not`},
		{"unreadable time", `"eventTime":"2026-03-01T10:00:00Z"`, `"eventTime":"yesterday"`, `unreadable eventTime "yesterday"`},
		{"missing time", `"eventTime":"2026-03-01T10:00:00Z",`, ``, `missing or unreadable eventTime ""`},
		{"time of the wrong type", `"eventTime":"2026-03-01T10:00:00Z"`, `"eventTime":20260301`, `unreadable eventTime`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			bad := strings.Replace(sqeQuery, tt.old, tt.new, 1)
			if bad == sqeQuery {
				t.Fatalf("%q not in the record", tt.old)
			}
			badRejected := strings.Replace(strings.Replace(sqeRejected, "2026-03-01 10:00:01", "2026-03-01T10:00:00Z", 1), tt.old, tt.new, 1)
			good := strings.Replace(sqeQuery, `"q-1"`, `"q-2"`, 1)
			res := readAll(t, ReaderOptions{}, "f.json", trail(ec2Record, bad, badRejected, good))
			if res.err != nil {
				t.Fatalf("Read: %v", res.err)
			}
			if strings.Join(res.events, " ") != "q:q-2" {
				t.Errorf("events %v, want only q:q-2", res.events)
			}
			if len(res.st.Issues) != 2 || res.st.Queries != 1 || res.st.Rejected != 0 {
				t.Fatalf("stats %+v, want two issues and one query", res.st)
			}
			for i, is := range res.st.Issues {
				if is.Name != "f.json" || is.Record != i+1 || !strings.Contains(is.Error(), tt.issue) {
					t.Errorf("issue %d = %q (record %d), want record %d of f.json with %q", i, is.Error(), is.Record, i+1, tt.issue)
				}
			}
		})
	}
}

// Region and time are checked whatever the format the record came in.
func TestReadBadRegionInEveryFormat(t *testing.T) {
	t.Parallel()
	bad := strings.Replace(sqeQuery, `"eu-west-1"`, `"../../etc"`, 1)
	q, _ := jsonString(bad)
	for name, input := range map[string]string{
		"record":        bad,
		"ndjson":        bad + "\n" + ec2Record + "\n",
		"lookup-events": `{"Events":[{"CloudTrailEvent":` + q + `}]}`,
		"eventbridge":   `{"detail-type":"AWS API Call via CloudTrail","detail":` + bad + `}`,
	} {
		res := readAll(t, ReaderOptions{}, "f.json", input)
		if res.err != nil || len(res.events) != 0 || len(res.st.Issues) != 1 || !strings.Contains(res.st.Issues[0].Error(), "not an AWS region") {
			t.Errorf("%s: events %v, issues %v, err %v", name, res.events, res.st.Issues, res.err)
		}
	}
	if _, ok, err := ParseRecord([]byte(bad)); ok || err == nil {
		t.Errorf("ParseRecord of an impossible region: ok %v, err %v", ok, err)
	}
}
