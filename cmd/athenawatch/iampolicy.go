package main

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"

	"github.com/athenawatch/athenawatch/internal/cloudtrail"
	"github.com/athenawatch/athenawatch/internal/config"
	"github.com/athenawatch/athenawatch/internal/iampolicy"
)

func runIAMPolicy(ctx context.Context, g *globals, args []string) error {
	fs := newFlagSet(g, "iam-policy", "[--source SRC ...] [--export s3://BUCKET/PREFIX ...] [--kms-key ARN ...] [--collector-account ID] [--reader-role NAME]")
	var sources, keys, exports multiFlag
	fs.Var(&sources, "source", "a `source` athenawatch collects (repeatable; default: sources in the config)")
	fs.Var(&exports, "export", "`s3://BUCKET/PREFIX` export writes the usage lake to (repeatable; default: export.to in the config)")
	fs.Var(&keys, "kms-key", "`ARN` of the KMS key the trail objects are encrypted with (repeatable)")
	collector := fs.String("collector-account", "", "`id` of the account athenawatch runs in, trusted by the reader role (default: a placeholder)")
	readerRole := fs.String("reader-role", "athenawatch-reader", "`name` of the reader role in member accounts, when the config maps no account to a role")
	format := fs.String("format", "text", "`format`: text (commented JSON documents) or json")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *format != "text" && *format != "json" {
		return usagef("--format %q: text or json", *format)
	}
	if *collector != "" && !cloudtrail.IsAccountID(*collector) {
		return usagef("--collector-account %q: want a 12-digit account id", *collector)
	}
	for _, k := range keys {
		if !strings.HasPrefix(k, "arn:") || !strings.Contains(k, ":kms:") {
			return usagef("--kms-key %q: want a KMS key ARN (arn:aws:kms:REGION:ACCOUNT:key/ID)", k)
		}
	}
	if !regexp.MustCompile(`^[\w+=,.@-]{1,64}$`).MatchString(*readerRole) {
		return usagef("--reader-role %q: not an IAM role name", *readerRole)
	}
	cfg, err := config.Load(g.config)
	if err != nil {
		return err
	}
	if len(sources) == 0 {
		sources = cfg.Sources
	}
	var o iampolicy.Options
	for _, s := range sources {
		switch {
		case strings.HasPrefix(s, "s3://"):
			b, ok := iampolicy.ParseBucket(s)
			if !ok {
				return usagef("--source %q: want s3://BUCKET/PREFIX", s)
			}
			o.Buckets = append(o.Buckets, b)
		case s == "lookup-events" || strings.HasPrefix(s, "lookup-events:"):
			o.LookupEvents = true
		}
	}
	o.KMSKeys = keys
	if len(exports) == 0 && strings.HasPrefix(cfg.Export.To, "s3://") {
		exports = append(exports, cfg.Export.To)
	}
	for _, e := range exports {
		b, ok := iampolicy.ParseBucket(e)
		if !ok {
			return usagef("--export %q: want s3://BUCKET/PREFIX", e)
		}
		o.Exports = append(o.Exports, b)
	}
	if strings.HasPrefix(cfg.Reconcile.CUR, "s3://") {
		if b, ok := iampolicy.ParseBucket(cfg.Reconcile.CUR); ok {
			o.Bills = append(o.Bills, b)
		}
	}
	for _, b := range cfg.Budgets {
		o.Stop = o.Stop || b.Action == "stop"
		if b.Action == "block" {
			if _, ok := b.Scope["user"]; ok {
				o.BlockUsers = true
			} else {
				o.Block = true
			}
		}
	}
	for _, n := range cfg.Notifiers {
		if n.Type == "sns" {
			o.Topics = append(o.Topics, n.TopicARN)
		}
	}
	roles := cfg.Roles()
	for _, id := range slices.Sorted(maps.Keys(roles)) {
		o.ReaderRoles = append(o.ReaderRoles, roles[id])
	}
	if len(o.ReaderRoles) == 0 {
		o.ReaderRoles = []string{"arn:aws:iam::*:role/" + *readerRole}
	}
	account := *collector
	if account == "" {
		account = "COLLECTOR_ACCOUNT_ID"
	}
	docs := []struct {
		key, title string
		doc        iampolicy.Document
	}{
		{"collector", "Policy of the identity athenawatch runs as (the collector)", iampolicy.Collector(o)},
		{"reader", "Permission policy of the reader role in each member account", iampolicy.Reader(o.LookupEvents, o.Stop, o.Block)},
		{"reader_trust", "Trust policy of that role", iampolicy.ReaderTrust(account)},
	}
	if *format == "json" {
		out := map[string]iampolicy.Document{}
		for _, d := range docs {
			out[d.key] = d.doc
		}
		enc := json.NewEncoder(g.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	for i, d := range docs {
		if i > 0 {
			fmt.Fprintln(g.stdout)
		}
		b, err := json.MarshalIndent(d.doc, "", "  ")
		if err != nil {
			return err
		}
		fmt.Fprintf(g.stdout, "# %s:\n%s\n", d.title, b)
	}
	if *collector == "" {
		fmt.Fprintln(g.stderr, "iam-policy: the trust policy names COLLECTOR_ACCOUNT_ID: replace it, or give --collector-account")
	}
	if len(o.Buckets) == 0 {
		fmt.Fprintln(g.stderr, "iam-policy: no s3:// source given or configured: the collector policy has no S3 statements")
	}
	return nil
}
