// Package iampolicy writes the least-privilege IAM policies athenawatch
// needs: one for the identity that runs the collector, and one, with its
// trust policy, for the reader role it assumes in each member account.
package iampolicy

import (
	"fmt"
	"slices"
	"strings"
)

// Document is an IAM policy document.
type Document struct {
	Version   string      `json:"Version"`
	Statement []Statement `json:"Statement"`
}

// Statement is one statement of a Document.
type Statement struct {
	Sid       string                    `json:"Sid"`
	Effect    string                    `json:"Effect"`
	Principal map[string]any            `json:"Principal,omitempty"`
	Action    []string                  `json:"Action"`
	Resource  any                       `json:"Resource,omitempty"`
	Condition map[string]map[string]any `json:"Condition,omitempty"`
}

const version = "2012-10-17"

// Bucket is a trail's bucket and key prefix, as an s3:// source names it.
type Bucket struct {
	Name   string
	Prefix string // without slashes at either end; "" for the whole bucket
}

// ParseBucket reads s3://BUCKET[/PREFIX][?options].
func ParseBucket(source string) (Bucket, bool) {
	rest, ok := strings.CutPrefix(source, "s3://")
	if !ok {
		return Bucket{}, false
	}
	rest, _, _ = strings.Cut(rest, "?")
	name, prefix, _ := strings.Cut(rest, "/")
	if name == "" {
		return Bucket{}, false
	}
	return Bucket{Name: name, Prefix: strings.Trim(prefix, "/")}, true
}

// Options say what the collector reads.
type Options struct {
	Buckets []Bucket
	// KMSKeys are the keys trail objects are encrypted with (SSE-KMS).
	KMSKeys []string
	// LookupEvents is set when a lookup-events source reads the event history.
	LookupEvents bool
	// ReaderRoles are the roles the collector assumes in member accounts:
	// ARNs, or one pattern such as arn:aws:iam::*:role/athenawatch-reader.
	ReaderRoles []string
	// Stop is set when a budget stops queries (action stop); Block when a
	// budget disables workgroups (action block).
	Stop, Block bool
	// BlockUsers is set when a budget blocks users (deny policies).
	BlockUsers bool
	// Topics are the SNS topics budget alerts are published to.
	Topics []string
	// Exports are where export writes the usage lake; Bills where
	// reconcile reads the AWS bill (a Data Exports CUR 2.0 export).
	Exports, Bills []Bucket
}

// Collector is the policy of the identity athenawatch runs as.
func Collector(o Options) Document {
	d := Document{Version: version}
	for i, b := range o.Buckets {
		// The source lists its prefix and what lies under it, and
		// HeadBucket (to find the bucket's region) needs ListBucket.
		list := listStatement(fmt.Sprintf("ListTrailBucket%d", i+1), b)
		objects := "arn:aws:s3:::" + b.Name + "/AWSLogs/*"
		if b.Prefix != "" {
			objects = objectsOf(b)
		}
		d.Statement = append(d.Statement, list, Statement{
			Sid: fmt.Sprintf("ReadTrailObjects%d", i+1), Effect: "Allow", Action: []string{"s3:GetObject"}, Resource: objects,
		})
	}
	for i, b := range o.Exports {
		// HeadBucket (the bucket's region) needs ListBucket; a day whose
		// queries are all gone is deleted.
		d.Statement = append(d.Statement, listStatement(fmt.Sprintf("ListUsageLakeBucket%d", i+1), b), Statement{
			Sid: fmt.Sprintf("WriteUsageLake%d", i+1), Effect: "Allow", Action: []string{"s3:PutObject", "s3:DeleteObject"}, Resource: objectsOf(b),
		})
	}
	for i, b := range o.Bills {
		d.Statement = append(d.Statement, listStatement(fmt.Sprintf("ListBillBucket%d", i+1), b), Statement{
			Sid: fmt.Sprintf("ReadBill%d", i+1), Effect: "Allow", Action: []string{"s3:GetObject"}, Resource: objectsOf(b),
		})
	}
	if len(o.KMSKeys) > 0 {
		d.Statement = append(d.Statement, Statement{
			Sid: "DecryptTrailObjects", Effect: "Allow", Action: []string{"kms:Decrypt"}, Resource: oneOrMany(o.KMSKeys),
			// Only for reads through S3.
			Condition: map[string]map[string]any{"StringLike": {"kms:ViaService": "s3.*.amazonaws.com"}},
		})
	}
	d.Statement = append(d.Statement, readerStatements(o.LookupEvents, o.Stop, o.Block)...)
	if o.BlockUsers {
		// Only policies named athenawatch-budget-block*: IAM cannot limit
		// the name, so the statement is as narrow as IAM allows.
		d.Statement = append(d.Statement, Statement{Sid: "BlockUsersOverBudget", Effect: "Allow",
			Action:   []string{"iam:PutUserPolicy", "iam:DeleteUserPolicy", "iam:PutRolePolicy", "iam:DeleteRolePolicy"},
			Resource: []string{"arn:aws:iam::*:user/*", "arn:aws:iam::*:role/*"}})
	}
	if len(o.Topics) > 0 {
		d.Statement = append(d.Statement, Statement{Sid: "PublishBudgetAlerts", Effect: "Allow", Action: []string{"sns:Publish"}, Resource: oneOrMany(o.Topics)})
	}
	if len(o.ReaderRoles) > 0 {
		d.Statement = append(d.Statement, Statement{
			Sid: "AssumeReaderRoles", Effect: "Allow", Action: []string{"sts:AssumeRole"}, Resource: oneOrMany(o.ReaderRoles),
		})
	}
	return d
}

// listStatement allows listing b under its prefix (all of it without one).
func listStatement(sid string, b Bucket) Statement {
	st := Statement{Sid: sid, Effect: "Allow", Action: []string{"s3:ListBucket"}, Resource: "arn:aws:s3:::" + b.Name}
	if b.Prefix != "" {
		st.Condition = map[string]map[string]any{"StringLike": {"s3:prefix": []string{b.Prefix + "/*"}}}
	}
	return st
}

// objectsOf is the ARN of the objects under b's prefix.
func objectsOf(b Bucket) string {
	if b.Prefix == "" {
		return "arn:aws:s3:::" + b.Name + "/*"
	}
	return "arn:aws:s3:::" + b.Name + "/" + b.Prefix + "/*"
}

// readerStatements ask Athena about queries, read the event history and
// stop queries of scopes over a stop budget.
func readerStatements(lookupEvents, stop, block bool) []Statement {
	out := []Statement{{
		Sid: "ReadQueryStatistics", Effect: "Allow", Action: []string{"athena:BatchGetQueryExecution"},
		Resource: "arn:aws:athena:*:*:workgroup/*",
	}}
	if stop {
		out = append(out, Statement{Sid: "StopQueriesOverBudget", Effect: "Allow", Action: []string{"athena:StopQueryExecution"},
			Resource: "arn:aws:athena:*:*:workgroup/*"})
	}
	if block {
		out = append(out, Statement{Sid: "BlockWorkgroupsOverBudget", Effect: "Allow", Action: []string{"athena:UpdateWorkGroup"},
			Resource: "arn:aws:athena:*:*:workgroup/*"})
	}
	if lookupEvents {
		// LookupEvents has no resource-level permissions.
		out = append(out, Statement{Sid: "ReadEventHistory", Effect: "Allow", Action: []string{"cloudtrail:LookupEvents"}, Resource: "*"})
	}
	return out
}

// Reader is the permission policy of the reader role in a member account.
func Reader(lookupEvents, stop, block bool) Document {
	return Document{Version: version, Statement: readerStatements(lookupEvents, stop, block)}
}

// ReaderTrust is the reader role's trust policy: the collector's account
// may assume it (its own IAM policy then says which identity may).
func ReaderTrust(collectorAccount string) Document {
	return Document{Version: version, Statement: []Statement{{
		Sid: "AthenawatchCollector", Effect: "Allow", Action: []string{"sts:AssumeRole"},
		Principal: map[string]any{"AWS": "arn:aws:iam::" + collectorAccount + ":root"},
	}}}
}

func oneOrMany(v []string) any {
	v = slices.Clone(v)
	slices.Sort(v)
	v = slices.Compact(v)
	if len(v) == 1 {
		return v[0]
	}
	return v
}
