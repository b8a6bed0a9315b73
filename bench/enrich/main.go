// Command enrich is the enrichment benchmark: it starts the local AWS
// emulator with a round-trip latency and Athena's BatchGetQueryExecution
// quota, starts queries in several regions through the AWS SDK, stores them
// as pending with the store API, runs enrich.EnrichBacklog through the real
// SDK against the emulator, and prints the calls per region, the quota bound
// (the least time the quota allows for those calls), the measured time,
// their ratio, the share of throttled calls and whether every query got its
// statistics right.
//
//	go run ./bench/enrich [-queries 20000] [-regions us-east-1,eu-west-1,ap-southeast-2] [-latency 150ms]
//
// It exits 1 when a query was lost or got wrong statistics; the ratio is
// printed against its target, not enforced (a loaded machine slows it).
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"runtime/pprof"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/athena"
	"github.com/aws/aws-sdk-go-v2/service/athena/types"
	"golang.org/x/sync/errgroup"

	"github.com/athenawatch/athenawatch/internal/awsemu"
	"github.com/athenawatch/athenawatch/internal/cloudtrail"
	"github.com/athenawatch/athenawatch/internal/config"
	"github.com/athenawatch/athenawatch/internal/enrich"
	"github.com/athenawatch/athenawatch/internal/store"
	"github.com/athenawatch/athenawatch/internal/usage"
)

const account = "111111111111"

// profile is where to write a CPU profile of the enrich run ("": none).
var profile string

func main() {
	queries := flag.Int("queries", 20000, "queries to enrich, spread evenly over the regions")
	regionList := flag.String("regions", "us-east-1,eu-west-1,ap-southeast-2", "comma-separated `regions`")
	latency := flag.Duration("latency", 150*time.Millisecond, "round trip of every emulated AWS call")
	quotaRate := flag.Float64("quota-rate", enrich.DefaultRate, "emulated BatchGetQueryExecution quota, calls/s per account-region")
	quotaBurst := flag.Int("quota-burst", enrich.DefaultBurst, "emulated BatchGetQueryExecution burst per account-region")
	dbPath := flag.String("db", "", "SQLite database `path` (default: a temporary one)")
	verbose := flag.Bool("v", false, "log enrich's warnings")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the enrich run to `file`")
	flag.Parse()
	profile = *cpuProfile
	if err := run(*queries, strings.Split(*regionList, ","), *latency, *quotaRate, *quotaBurst, *dbPath, *verbose); err != nil {
		fmt.Fprintln(os.Stderr, "bench enrich:", err)
		os.Exit(1)
	}
}

// callCounter counts BatchGetQueryExecution calls per region from the
// emulator's CloudTrail records.
type callCounter struct {
	mu        sync.Mutex
	on        bool
	calls     map[string]int
	throttled map[string]int
	first     time.Time // when the first call arrived
}

func (c *callCounter) record(ev awsemu.CloudTrailEvent) {
	if ev.EventName != "BatchGetQueryExecution" {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.on {
		return
	}
	c.calls[ev.Region]++
	if c.first.IsZero() {
		c.first = time.Now()
	}
	if strings.Contains(string(ev.Record), `"errorCode":"ThrottlingException"`) {
		c.throttled[ev.Region]++
	}
}

func run(n int, regions []string, latency time.Duration, quotaRate float64, quotaBurst int, dbPath string, verbose bool) error {
	ctx := context.Background()
	counter := &callCounter{calls: map[string]int{}, throttled: map[string]int{}}
	emu := awsemu.New(awsemu.Options{OnCloudTrail: counter.record})
	srv, err := emu.Start("127.0.0.1:0")
	if err != nil {
		return err
	}
	defer srv.Close()
	creds := emu.AddUser(account, "athenawatch")
	cfg := func(region string) aws.Config {
		return aws.Config{
			Region:       region,
			Credentials:  credentials.NewStaticCredentialsProvider(creds.AccessKeyID, creds.SecretAccessKey, ""),
			BaseEndpoint: aws.String(srv.URL),
		}
	}

	// Setup, not under test: start the queries without quota or latency.
	emu.SetQuota("StartQueryExecution", 0, 0)
	setupStart := time.Now()
	started, err := startQueries(ctx, cfg, regions, n)
	if err != nil {
		return err
	}
	if dbPath == "" {
		dir, err := os.MkdirTemp("", "athenawatch-bench-enrich-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		dbPath = filepath.Join(dir, "bench.db")
	}
	st, err := store.Open(ctx, dbPath)
	if err != nil {
		return err
	}
	defer st.Close()
	rules := usage.NewRules(&config.Config{})
	if err := storePending(ctx, st, rules, started); err != nil {
		return err
	}
	fmt.Printf("setup: %d queries started in %d regions and stored as pending in %.1fs\n", len(started), len(regions), time.Since(setupStart).Seconds())

	// Under test: every query has finished; Athena answers after the round
	// trip, under its quota.
	emu.SetNow(time.Now().Add(2 * time.Hour))
	emu.SetQuota("BatchGetQueryExecution", quotaRate, quotaBurst)
	emu.SetLatency(latency)
	counter.mu.Lock()
	counter.on = true
	counter.mu.Unlock()

	logger := slog.New(slog.DiscardHandler)
	if verbose {
		logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	e := enrich.New(cfg("us-east-1"), enrich.Options{Logger: logger})
	if profile != "" {
		f, err := os.Create(profile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
	}
	begin := time.Now()
	tb := &timedBacklog{Store: st}
	sum, enrichErr := e.EnrichBacklog(ctx, tb, rules, time.Time{})
	elapsed := time.Since(begin)
	pprof.StopCPUProfile()
	counter.mu.Lock()
	counter.on = false
	counter.mu.Unlock()

	opts := e.Options()
	fmt.Printf("enrich: rate %.0f/s burst %d per account-region, %d calls in flight per account-region; emulated quota %.0f/s burst %d, round trip %v\n",
		opts.Rate, opts.Burst, opts.InFlight, quotaRate, quotaBurst, latency)
	fmt.Printf("summary: %+v\n", sum)
	bound := 0.0
	total, throttled := 0, 0
	sort.Strings(regions)
	for _, r := range regions {
		calls, thr := counter.calls[r], counter.throttled[r]
		ok := calls - thr
		b := math.Max(float64(ok-quotaBurst), 0) / quotaRate
		bound = math.Max(bound, b)
		total += calls
		throttled += thr
		fmt.Printf("  %-16s %4d calls (%d answered, %d throttled); quota bound %.2fs\n", r, calls, ok, thr, b)
	}
	ratio := elapsed.Seconds() / bound
	verdict := "PASS"
	if ratio > 1.1 {
		verdict = "FAIL"
	}
	fmt.Printf("quota bound:   %.2fs  (max over regions of (answered calls - %d) / %.0f per s)\n", bound, quotaBurst, quotaRate)
	fmt.Printf("measured:      %.2fs  (EnrichBacklog, from reading the backlog to the last write)\n", elapsed.Seconds())
	fmt.Printf("ratio:         %.3f  (target <= 1.1: %s)\n", ratio, verdict)
	if !counter.first.IsZero() {
		// Before the first call, STS says whose the credentials are (one
		// round trip) and the backlog is counted.
		fromFirst := begin.Add(elapsed).Sub(counter.first).Seconds()
		fmt.Printf("from 1st call: %.2fs  (ratio %.3f; the rest is the STS identity check and counting the backlog)\n", fromFirst, fromFirst/bound)
	}
	fmt.Printf("throttled:     %.1f%% of %d calls  (target < 10%%)\n", 100*float64(throttled)/math.Max(float64(total), 1), total)
	fmt.Printf("store writes:  %d rows in %d transactions, %.0f µs a row (%.2fs of the run)\n",
		tb.rows, tb.txns, tb.spent.Seconds()*1e6/math.Max(float64(tb.rows), 1), tb.spent.Seconds())
	if enrichErr != nil {
		return fmt.Errorf("enrich: %w", enrichErr)
	}
	lost, wrong, err := verify(ctx, st, emu)
	if err != nil {
		return err
	}
	if lost > 0 || wrong > 0 {
		return fmt.Errorf("%d of %d queries lost (still pending), %d with statistics unlike the emulator's", lost, len(started), wrong)
	}
	fmt.Printf("lost:          none (all %d queries final, statistics equal to the emulator's ground truth)\n", len(started))
	return nil
}

// timedBacklog measures the store writes of a run.
type timedBacklog struct {
	*store.Store
	rows, txns int
	spent      time.Duration
}

func (b *timedBacklog) UpdateQueries(ctx context.Context, qs []store.Query) error {
	begin := time.Now()
	err := b.Store.UpdateQueries(ctx, qs)
	b.spent += time.Since(begin)
	b.rows += len(qs)
	b.txns++
	return err
}

// started is one query the emulator ran.
type started struct {
	region, id string
	at         time.Time
}

// startQueries starts n queries, round-robin over regions, a few calls at a
// time.
func startQueries(ctx context.Context, cfg func(string) aws.Config, regions []string, n int) ([]started, error) {
	clients := map[string]*athena.Client{}
	for _, r := range regions {
		clients[r] = athena.NewFromConfig(cfg(r))
	}
	out := make([]started, n)
	var g errgroup.Group
	g.SetLimit(16)
	for i := range n {
		region := regions[i%len(regions)]
		g.Go(func() error {
			res, err := clients[region].StartQueryExecution(ctx, &athena.StartQueryExecutionInput{
				QueryString:           aws.String(fmt.Sprintf("SELECT * FROM events WHERE id = %d", i)),
				QueryExecutionContext: &types.QueryExecutionContext{Database: aws.String("analytics")},
			})
			if err != nil {
				return fmt.Errorf("start query %d in %s: %w", i, region, err)
			}
			out[i] = started{region: region, id: aws.ToString(res.QueryExecutionId), at: time.Now().UTC()}
			return nil
		})
	}
	return out, g.Wait()
}

// storePending stores the queries as collect would, without statistics.
func storePending(ctx context.Context, st *store.Store, rules *usage.Rules, qs []started) error {
	const batch = 5000
	for off := 0; off < len(qs); off += batch {
		var b store.Batch
		for _, s := range qs[off:min(off+batch, len(qs))] {
			q := store.Query{
				Region: s.region, QueryID: s.id, EventID: "ev-" + s.id, EventTime: s.at, OwnerAccount: account,
				Identity: cloudtrail.Identity{Type: "IAMUser", AccountID: account, UserName: "analyst",
					ARN: "arn:aws:iam::" + account + ":user/analyst"},
				CTDatabase: "analytics",
			}
			rules.Query(&q)
			b.Queries = append(b.Queries, q)
		}
		if _, err := st.Commit(ctx, &b); err != nil {
			return err
		}
	}
	return nil
}

// verify compares every stored query with the emulator's ground truth.
func verify(ctx context.Context, st *store.Store, emu *awsemu.Emulator) (lost, wrong int, err error) {
	for _, x := range emu.Executions() {
		q, ok, err := st.GetQuery(ctx, x.Region, x.QueryID)
		if err != nil {
			return 0, 0, err
		}
		switch {
		case !ok || q.StatsStatus != store.StatusFinal:
			lost++
		case q.Stats.State != x.Outcome.State || q.Stats.DataScannedBytes != x.Outcome.DataScannedBytes ||
			q.Stats.QueryText != x.Request.QueryString:
			wrong++
		}
	}
	return lost, wrong, nil
}
