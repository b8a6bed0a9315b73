package location

import "testing"

func TestParse(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want Location
		err  bool
	}{
		{in: "dir:/tmp/lake", want: Location{Dir: "/tmp/lake"}},
		{in: "dir:lake", want: Location{Dir: "lake"}},
		{in: "s3://org-billing/cur/athena-costs/", want: Location{Bucket: "org-billing", Prefix: "cur/athena-costs"}},
		{in: "s3://usage-lake", want: Location{Bucket: "usage-lake"}},
		{in: "s3:///cur", err: true},
		{in: "s3://b?x", err: true},
		{in: "s3://bucket/p?region=eu-west-1", err: true},
		{in: "s3://bucket/p#x", err: true},
		{in: "s3://key:secret@bucket/p", err: true},
		{in: "s3://Upper_Case/p", err: true},
		{in: "dir:", err: true},
		{in: "/tmp/lake", err: true},
		{in: "https://bucket/p", err: true},
	} {
		got, err := Parse(tt.in)
		if (err != nil) != tt.err || got != tt.want {
			t.Errorf("Parse(%q) = %+v, %v", tt.in, got, err)
		}
		if err == nil && got.String() != tt.in && got.String()+"/" != tt.in {
			t.Errorf("Parse(%q).String() = %q", tt.in, got.String())
		}
	}
}
