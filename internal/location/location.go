// Package location reads the places athenawatch writes its usage lake to
// and reads the AWS bill from: dir:PATH or s3://BUCKET[/PREFIX]. The
// commands, their configuration keys (export.to, reconcile.cur) and the
// IAM policy all read them here, so that what the configuration accepts
// is what the commands can use.
package location

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"
)

// Location is a directory or an S3 bucket and prefix.
type Location struct {
	Dir            string
	Bucket, Prefix string
}

// bucketName is what S3 accepts as a bucket name (general purpose
// buckets: 3 to 63 lower-case letters, digits, dots and hyphens).
var bucketName = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)

// Parse reads dir:PATH or s3://BUCKET[/PREFIX].
func Parse(s string) (Location, error) {
	switch {
	case strings.HasPrefix(s, "dir:"):
		p := strings.TrimPrefix(s, "dir:")
		if p == "" {
			return Location{}, fmt.Errorf("%q names no directory (want dir:PATH)", s)
		}
		return Location{Dir: p}, nil
	case strings.HasPrefix(s, "s3://"):
		u, err := url.Parse(s)
		if err != nil || u.User != nil || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" {
			return Location{}, fmt.Errorf("%q: want s3://BUCKET/PREFIX, with no options", s)
		}
		if !bucketName.MatchString(u.Host) {
			return Location{}, fmt.Errorf("%q names no bucket (want s3://BUCKET/PREFIX)", s)
		}
		return Location{Bucket: u.Host, Prefix: strings.Trim(u.Path, "/")}, nil
	}
	return Location{}, fmt.Errorf("%q: want dir:PATH or s3://BUCKET/PREFIX", s)
}

// String is the location as Parse reads it.
func (l Location) String() string {
	switch {
	case l.Dir != "":
		return "dir:" + l.Dir
	case l.Prefix == "":
		return "s3://" + l.Bucket
	}
	return "s3://" + l.Bucket + "/" + l.Prefix
}
