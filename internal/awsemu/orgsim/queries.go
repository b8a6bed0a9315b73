package orgsim

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"golang.org/x/sync/errgroup"
)

// QueryTrailOptions configures GenerateQueryTrail.
type QueryTrailOptions struct {
	// Queries is how many StartQueryExecution events that started a query
	// the trail holds (first deliveries; duplicate deliveries come on top).
	Queries int64
	// DuplicateRate is as in TrailOptions.
	DuplicateRate float64
	Seed          uint64
	// Start is the time of the first record (default 2026-01-05T00:00Z).
	Start time.Time
	// Regions default to DefaultRegions.
	Regions []string
	// QueriesPerSecond is the organization's query rate (default 50), which
	// sets how many records a five-minute file holds.
	QueriesPerSecond float64
	// Concurrency bounds the generating and compressing goroutines
	// (default GOMAXPROCS).
	Concurrency int
	Logger      *slog.Logger
	// SpreadCallers gives every record a source address of its own, as a
	// fleet of hosts or functions with changing addresses calls Athena:
	// no two queries then share a caller (all of userIdentity, address and
	// agent), which is the worst case for an insert that binds a caller's
	// values once for its queries.
	SpreadCallers bool
}

// GenerateQueryTrail writes a trail into dir that holds nothing but
// successful StartQueryExecution records, as CloudTrail writes them, from
// every kind of principal of the organization (IAM users, Identity Center
// sessions, source identities, the BI tool, ETL roles, trusted identity
// propagation) in every account and region, in CloudTrail's layout and file
// sizes. It is the worst case for the store: every record is a query.
func GenerateQueryTrail(ctx context.Context, dir string, opts QueryTrailOptions) (GenerateStats, error) {
	if opts.Queries <= 0 {
		return GenerateStats{}, fmt.Errorf("generate query trail: %d queries, want at least 1", opts.Queries)
	}
	trailDefaults(&opts.Start, &opts.Regions, &opts.Concurrency, &opts.Logger)
	if opts.QueriesPerSecond <= 0 {
		opts.QueriesPerSecond = 50
	}
	org := NewOrg(opts.Regions)

	type scope struct{ account, region string }
	var scopes []scope
	for _, a := range Accounts {
		for _, r := range opts.Regions {
			scopes = append(scopes, scope{a.ID, r})
		}
	}
	shards := int(min(int64(min(opts.Concurrency, len(scopes))), opts.Queries))
	results := make([]GenerateStats, shards)
	g, ctx := errgroup.WithContext(ctx)
	for i := range shards {
		var mine []scope
		for j := i; j < len(scopes); j += shards {
			mine = append(mine, scopes[j])
		}
		// The shards' counts add up to opts.Queries exactly.
		count := opts.Queries / int64(shards)
		if int64(i) < opts.Queries%int64(shards) {
			count++
		}
		share := float64(count) / float64(opts.Queries)
		g.Go(func() error {
			sg := newSynth(org, opts.Seed+uint64(i)*0x9e3779b97f4a7c15)
			sg.spreadIPs = opts.SpreadCallers
			w := NewTrailWriter(dir, TrailOptions{
				NoiseRatio: -1, DuplicateRate: opts.DuplicateRate, Seed: opts.Seed + uint64(i),
				Concurrency: 2, Logger: opts.Logger,
			})
			step := time.Duration(float64(time.Second) / (opts.QueriesPerSecond * share))
			t := opts.Start
			var rec []byte
			for n := range count {
				if n%1024 == 0 && ctx.Err() != nil {
					_, _ = w.Close()
					return ctx.Err()
				}
				sc := mine[sg.rng.IntN(len(mine))]
				rec = sg.appendStartQuery(rec[:0], sc.account, sc.region, t)
				w.AddRecord(sc.account, sc.region, t, rec)
				t = t.Add(step)
			}
			stats, err := w.Close()
			results[i] = GenerateStats{TrailStats: stats, Queries: count, End: t}
			return err
		})
	}
	err := g.Wait()
	var total GenerateStats
	for _, r := range results {
		total.add(r)
	}
	if err != nil {
		return total, fmt.Errorf("generate query trail in %s: %w", dir, err)
	}
	return total, nil
}

// appendStartQuery appends one StartQueryExecution record that started a
// query, with the variations real clients produce: a named or a default
// workgroup, a database with or without a catalog, an explicit result
// location, and console sessions.
func (s *synth) appendStartQuery(b []byte, account, region string, t time.Time) []byte {
	callers := s.callers[account]
	c := &callers[s.rng.IntN(len(callers))]
	p := c.principal
	x := s.rng.IntN(100)
	b = append(b, `{"eventVersion":"1.09","userIdentity":`...)
	b = append(b, c.userIdentity...)
	b = append(b, `,"eventTime":"`...)
	b = appendTime(b, t)
	b = append(b, `","eventSource":"athena.amazonaws.com","eventName":"StartQueryExecution","awsRegion":"`...)
	b = append(b, region...)
	b = append(b, `","sourceIPAddress":"`...)
	if s.spreadIPs {
		b = fmt.Appendf(b, "10.%d.%d.%d", s.rng.IntN(256), s.rng.IntN(256), 1+s.rng.IntN(254))
	} else {
		b = append(b, c.sourceIP...)
	}
	b = append(b, `","userAgent":"`...)
	b = append(b, c.userAgent...)
	b = append(b, `","requestParameters":{"queryString":"***OMITTED***"`...)
	if x >= 5 {
		b = append(b, `,"queryExecutionContext":{"database":"`...)
		b = append(b, p.Databases[s.rng.IntN(len(p.Databases))]...)
		if x >= 15 {
			b = append(b, `","catalog":"AwsDataCatalog`...)
		}
		b = append(b, `"}`...)
	}
	if x < 10 {
		b = append(b, `,"resultConfiguration":{"outputLocation":"s3://aws-athena-query-results-`...)
		b = append(b, account...)
		b = append(b, '-')
		b = append(b, region...)
		b = append(b, `/"}`...)
	}
	if x%10 != 3 {
		// Clients that name no workgroup run in their default one.
		b = append(b, `,"workGroup":"`...)
		b = append(b, p.Workgroups[s.rng.IntN(len(p.Workgroups))]...)
		b = append(b, '"')
	}
	b = append(b, `,"clientRequestToken":"`...)
	b = appendUUID(b, s.rng)
	b = append(b, `"},"responseElements":{"queryExecutionId":"`...)
	b = appendUUID(b, s.rng)
	b = append(b, `"},"requestID":"`...)
	b = appendUUID(b, s.rng)
	b = append(b, `","eventID":"`...)
	b = appendUUID(b, s.rng)
	b = append(b, `","readOnly":false,"eventType":"AwsApiCall","managementEvent":true,"recipientAccountId":"`...)
	b = append(b, account...)
	b = append(b, `","eventCategory":"Management","tlsDetails":{"tlsVersion":"TLSv1.3","cipherSuite":"TLS_AES_128_GCM_SHA256","clientProvidedHostHeader":"athena.`...)
	b = append(b, region...)
	b = append(b, `.amazonaws.com"}`...)
	if c.userAgent == "AWSAthenaConsole" {
		b = append(b, `,"sessionCredentialFromConsole":"true"`...)
	}
	b = append(b, '}')
	return b
}
