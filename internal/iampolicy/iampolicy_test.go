package iampolicy

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files")

func TestPolicies(t *testing.T) {
	org, _ := ParseBucket("s3://org-trail/cloudtrail/?region=eu-west-1")
	whole, _ := ParseBucket("s3://account-trail")
	lakeBucket, _ := ParseBucket("s3://usage-lake/athenawatch")
	bill, _ := ParseBucket("s3://billing/cur")
	tests := []struct {
		name string
		doc  Document
	}{
		{"collector-org", Collector(Options{
			Buckets: []Bucket{org}, KMSKeys: []string{"arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"},
			LookupEvents: true, ReaderRoles: []string{"arn:aws:iam::222222222222:role/reader", "arn:aws:iam::333333333333:role/reader"},
			Stop: true, BlockUsers: true, Topics: []string{"arn:aws:sns:eu-west-1:111122223333:athena-budgets"},
		})},
		{"collector-bucket", Collector(Options{Buckets: []Bucket{whole}})},
		{"collector-lake", Collector(Options{Buckets: []Bucket{whole}, Exports: []Bucket{lakeBucket}, Bills: []Bucket{bill}})},
		{"reader", Reader(true, false, false)},
		{"reader-stop", Reader(false, true, true)},
		{"reader-trust", ReaderTrust("111122223333")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := json.MarshalIndent(tt.doc, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join("testdata", tt.name+".json")
			if *update {
				if err := os.WriteFile(golden, append(got, '\n'), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if string(want) != string(got)+"\n" {
				t.Errorf("%s differs from %s:\n%s", tt.name, golden, got)
			}
			// Every statement of a permission policy names a resource.
			for _, st := range tt.doc.Statement {
				if st.Principal == nil && st.Resource == nil {
					t.Errorf("statement %s has no resource", st.Sid)
				}
			}
		})
	}
}

func TestParseBucket(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want Bucket
		ok   bool
	}{
		{"s3://b", Bucket{Name: "b"}, true},
		{"s3://b/p/q/", Bucket{Name: "b", Prefix: "p/q"}, true},
		{"s3://b/p?late=2h", Bucket{Name: "b", Prefix: "p"}, true},
		{"s3://", Bucket{}, false},
		{"dir:/x", Bucket{}, false},
	} {
		got, ok := ParseBucket(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("ParseBucket(%q) = %+v, %v", tt.in, got, ok)
		}
	}
}
