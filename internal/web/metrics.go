package web

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/athenawatch/athenawatch/internal/budget"
	"github.com/athenawatch/athenawatch/internal/config"
	"github.com/athenawatch/athenawatch/internal/reconcile"
	"github.com/athenawatch/athenawatch/internal/store"
	"github.com/athenawatch/athenawatch/internal/usage"
)

// Usage metrics are all-time totals read from the store, so they are
// counters: monotonic while queries are added and statistics arrive,
// which is what rate() and increase() need. They are read at most once
// per usageTTL; scrapes in between reuse them.
const (
	usageTTL = 30 * time.Second
	// usageTimeout bounds one read of the store for a scrape.
	usageTimeout = 20 * time.Second
	// OtherLabel sums everything beyond the top N of a dimension.
	OtherLabel = "other"
)

// usageDimensions are the dimensions with usage series; each has its own
// families (athenawatch_<dimension>_queries_total, ...), bounded to the
// top N values plus OtherLabel.
var usageDimensions = []string{"team", "workgroup", "database", "user"}

// usageFamilies are the report metrics exposed per dimension value: the
// family name suffix, the report metric key and its help.
var usageFamilies = []struct {
	suffix, key, help string
}{
	{"queries_total", "queries", "Athena queries started"},
	{"scanned_bytes_total", "bytes_scanned", "Bytes Athena scanned (queries with statistics)"},
	{"billed_bytes_total", "billed_bytes", "Bytes Athena billed (whole MiB, 10 MiB minimum, per DML query)"},
	{"cost_usd_total", "cost_usd", "Cost in USD: billed bytes at the configured price per TiB, plus DPU-hours on provisioned capacity"},
}

// metricsCollector reads the store's usage and the background collector's
// health on scrape.
type metricsCollector struct {
	s   *Server
	top int

	usageDescs map[string]*prometheus.Desc // by dimension + "/" + suffix
	pending    *prometheus.Desc
	noStats    *prometheus.Desc
	rejected   *prometheus.Desc
	usageErr   *prometheus.Desc
	usageAge   *prometheus.Desc

	lastEnd, lastSuccess, lastDuration *prometheus.Desc
	rounds, failures, collected        *prometheus.Desc
	skipped                            *prometheus.Desc
	callDuration, throttles, callErrs  *prometheus.Desc
	budgetRatio, budgetScopes          *prometheus.Desc
	billUSD, attributedUSD, gapUSD     *prometheus.Desc
	reconcileAt, reconcileFrom         *prometheus.Desc
	reconcileTo                        *prometheus.Desc

	mu      sync.Mutex
	cached  []prometheus.Metric
	readAt  time.Time
	readErr error
}

func newMetricsCollector(s *Server, top int) *metricsCollector {
	if top <= 0 {
		top = config.DefaultMetricsTop
	}
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc("athenawatch_"+name, help, labels, nil)
	}
	c := &metricsCollector{s: s, top: top, usageDescs: map[string]*prometheus.Desc{},
		pending:      d("pending_queries", "Queries waiting for statistics from Athena (the enrichment backlog): their bytes and cost are not in the totals yet"),
		noStats:      d("no_stats_queries", "Queries Athena no longer knew when first asked: their cost is unknown"),
		rejected:     d("rejected_submissions_total", "StartQueryExecution calls Athena refused (not queries)"),
		usageErr:     d("usage_read_error", "1 when the last read of usage from the store failed (the usage series are then missing), else 0"),
		usageAge:     d("usage_read_timestamp_seconds", "When the usage series were read from the store"),
		lastEnd:      d("collect_last_end_timestamp_seconds", "When the last background collect and enrich round ended"),
		lastSuccess:  d("collect_last_success", "1 when the last background round succeeded, 0 when it failed"),
		lastDuration: d("collect_last_duration_seconds", "How long the last background round took"),
		rounds:       d("collect_rounds_total", "Background collect and enrich rounds ended since start"),
		failures:     d("collect_failures_total", "Background rounds that failed since start"),
		collected:    d("collected_queries_total", "Queries the background rounds stored for the first time since start"),
		skipped:      d("skipped_inputs_total", "Bad inputs (files, records) the background rounds skipped since start, named in the log"),
		callDuration: d("athena_call_duration_seconds", "Latency of BatchGetQueryExecution calls"),
		throttles:    d("athena_throttles_total", "BatchGetQueryExecution calls Athena throttled"),
		callErrs:     d("athena_call_errors_total", "BatchGetQueryExecution calls that failed other than by throttling"),
		budgetRatio: d("budget_ratio", fmt.Sprintf("What each budget's thresholds compare, per scope, in its current period: spent / limit (actual), forecast / limit (forecast), today / (factor x usual day) (anomaly); the %d highest scopes of each budget", top),
			"budget", "scope"),
		budgetScopes: d("budget_scopes", "Scopes of each budget in its current period (budget_ratio has the highest only)", "budget"),
		billUSD: d("bill_usd", fmt.Sprintf("What the AWS bill (CUR 2.0 export) charges for Athena, in USD, summed over the window of the last reconciliation "+
			"(athenawatch_reconcile_window_start_timestamp_seconds to _end_; reconcile --since/--until, 30 days in serve); the %d largest account and workgroup pairs, the rest as %q", top, OtherLabel),
			"account", "workgroup"),
		attributedUSD: d("attributed_usd", "What athenawatch attributes to the queries of the same account (the one they ran in) and workgroup, in USD, summed over the window of the last reconciliation",
			"account", "workgroup"),
		gapUSD: d("reconcile_gap_usd", "athenawatch_bill_usd - athenawatch_attributed_usd: billed but not attributed (negative: attributed but not billed yet), summed over the window of the last reconciliation",
			"account", "workgroup"),
		reconcileAt:   d("reconcile_timestamp_seconds", "When the last reconciliation of the bill with the attributed cost ran"),
		reconcileFrom: d("reconcile_window_start_timestamp_seconds", "Start of the last reconciliation's window (a UTC midnight)"),
		reconcileTo:   d("reconcile_window_end_timestamp_seconds", "End of the last reconciliation's window, exclusive (a UTC midnight)"),
	}
	for _, dim := range usageDimensions {
		for _, f := range usageFamilies {
			c.usageDescs[dim+"/"+f.suffix] = d(dim+"_"+f.suffix, fmt.Sprintf("%s by %s (the top %d; the rest as %q)", f.help, dim, top, OtherLabel), dim)
		}
	}
	return c
}

// Describe sends every descriptor.
func (c *metricsCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.usageDescs {
		ch <- d
	}
	for _, d := range []*prometheus.Desc{c.pending, c.noStats, c.rejected, c.usageErr, c.usageAge, c.lastEnd, c.lastSuccess, c.lastDuration,
		c.rounds, c.failures, c.collected, c.skipped, c.callDuration, c.throttles, c.callErrs, c.budgetRatio, c.budgetScopes,
		c.billUSD, c.attributedUSD, c.gapUSD, c.reconcileAt, c.reconcileFrom, c.reconcileTo} {
		ch <- d
	}
}

// Collect sends the usage series (read at most once per usageTTL) and the
// health of the background collector.
func (c *metricsCollector) Collect(ch chan<- prometheus.Metric) {
	usageMetrics, readAt, err := c.usage()
	for _, m := range usageMetrics {
		ch <- m
	}
	failed := 0.0
	if err != nil {
		failed = 1
	}
	ch <- prometheus.MustNewConstMetric(c.usageErr, prometheus.GaugeValue, failed)
	if !readAt.IsZero() {
		ch <- prometheus.MustNewConstMetric(c.usageAge, prometheus.GaugeValue, float64(readAt.UnixMilli())/1000)
	}

	var h HealthState
	if c.s.opts.Health != nil {
		h = c.s.opts.Health.State()
	}
	if !h.Last.Ended.IsZero() {
		ok := 1.0
		if h.Last.Err != nil {
			ok = 0
		}
		ch <- prometheus.MustNewConstMetric(c.lastEnd, prometheus.GaugeValue, float64(h.Last.Ended.UnixMilli())/1000)
		ch <- prometheus.MustNewConstMetric(c.lastSuccess, prometheus.GaugeValue, ok)
		ch <- prometheus.MustNewConstMetric(c.lastDuration, prometheus.GaugeValue, h.Last.Ended.Sub(h.Last.Started).Seconds())
	}
	ch <- prometheus.MustNewConstMetric(c.rounds, prometheus.CounterValue, float64(h.Rounds))
	ch <- prometheus.MustNewConstMetric(c.failures, prometheus.CounterValue, float64(h.Failures))
	ch <- prometheus.MustNewConstMetric(c.collected, prometheus.CounterValue, float64(h.Collected))
	ch <- prometheus.MustNewConstMetric(c.skipped, prometheus.CounterValue, float64(h.Skipped))
	buckets := make(map[float64]uint64, len(CallBuckets))
	for i, ub := range CallBuckets {
		if i < len(h.Calls.Buckets) {
			buckets[ub] = h.Calls.Buckets[i]
		} else {
			buckets[ub] = 0
		}
	}
	ch <- prometheus.MustNewConstHistogram(c.callDuration, h.Calls.Count, h.Calls.Sum, buckets)
	ch <- prometheus.MustNewConstMetric(c.throttles, prometheus.CounterValue, float64(h.Calls.Throttled))
	ch <- prometheus.MustNewConstMetric(c.callErrs, prometheus.CounterValue, float64(h.Calls.Failed))
}

// usage returns the usage series, reading the store when the cached ones
// are older than usageTTL. Concurrent scrapes wait for one read.
func (c *metricsCollector) usage() ([]prometheus.Metric, time.Time, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := time.Now()
	if !c.readAt.IsZero() && now.Sub(c.readAt) < usageTTL {
		return c.cached, c.readAt, c.readErr
	}
	ctx, cancel := context.WithTimeout(context.Background(), usageTimeout)
	defer cancel()
	ms, err := c.readUsage(ctx)
	if err != nil {
		c.s.opts.Logger.Error("read usage for /metrics", "err", err)
		ms = nil
	}
	c.cached, c.readAt, c.readErr = ms, now, err
	return ms, now, err
}

// readUsage reads the all-time totals per dimension: one report each, the
// first top rows (by cost) as their own series, the rest summed as other.
func (c *metricsCollector) readUsage(ctx context.Context) ([]prometheus.Metric, error) {
	var out []prometheus.Metric
	for i, dim := range usageDimensions {
		rep, err := usage.BuildReport(ctx, c.s.opts.Store, c.s.rules, c.s.prices, usage.ReportOptions{By: dim, Filter: store.Filter{}})
		if err != nil {
			return nil, fmt.Errorf("usage by %s: %w", dim, err)
		}
		if i == 0 {
			out = append(out,
				prometheus.MustNewConstMetric(c.pending, prometheus.GaugeValue, rep.Total.Value("pending").Float()),
				prometheus.MustNewConstMetric(c.noStats, prometheus.GaugeValue, rep.Total.Value("no_stats").Float()),
				prometheus.MustNewConstMetric(c.rejected, prometheus.CounterValue, float64(rep.Rejected)))
		}
		var labels []string
		sums := map[string][]float64{}
		for n, row := range rep.Rows {
			label := row.Key
			if n >= c.top {
				label = OtherLabel
			}
			if _, ok := sums[label]; !ok {
				labels = append(labels, label)
				sums[label] = make([]float64, len(usageFamilies))
			}
			for j, f := range usageFamilies {
				sums[label][j] += row.Value(f.key).Float()
			}
		}
		for _, label := range labels {
			for j, f := range usageFamilies {
				out = append(out, prometheus.MustNewConstMetric(c.usageDescs[dim+"/"+f.suffix], prometheus.CounterValue, sums[label][j], label))
			}
		}
	}
	rec, err := c.reconcileMetrics(ctx)
	if err != nil {
		return nil, fmt.Errorf("reconciliation: %w", err)
	}
	out = append(out, rec...)
	if len(c.s.opts.Config.Budgets) == 0 {
		return out, nil
	}
	statuses, _, err := c.s.budgetStatuses(ctx)
	if err != nil {
		return nil, fmt.Errorf("budgets: %w", err)
	}
	byBudget := map[string][]budget.Status{}
	for _, st := range statuses {
		byBudget[st.Budget] = append(byBudget[st.Budget], st)
	}
	for _, b := range c.s.opts.Config.Budgets {
		sts := byBudget[b.Name]
		sort.SliceStable(sts, func(i, j int) bool { return sts[i].Ratio > sts[j].Ratio })
		out = append(out, prometheus.MustNewConstMetric(c.budgetScopes, prometheus.GaugeValue, float64(len(sts)), b.Name))
		for i, st := range sts {
			if i == c.top {
				break
			}
			out = append(out, prometheus.MustNewConstMetric(c.budgetRatio, prometheus.GaugeValue, st.Ratio, b.Name, st.Scope))
		}
	}
	return out, nil
}

// reconcileMetrics are the last reconciliation's sums per account and
// workgroup (none before the first), the top pairs by bill as their own
// series and the rest summed as other.
func (c *metricsCollector) reconcileMetrics(ctx context.Context) ([]prometheus.Metric, error) {
	res, err := reconcile.Load(ctx, c.s.opts.Store)
	if err != nil || res == nil {
		return nil, err
	}
	type pair struct{ account, workgroup string }
	type sums struct{ billed, attributed float64 }
	byPair := map[pair]*sums{}
	var pairs []pair
	for _, cell := range res.Cells {
		p := pair{cell.Account, reconcile.WorkgroupName(cell.Workgroup)}
		if byPair[p] == nil {
			byPair[p] = &sums{}
			pairs = append(pairs, p)
		}
		byPair[p].billed += cell.BilledUSD
		byPair[p].attributed += cell.AttributedUSD
	}
	sort.SliceStable(pairs, func(i, j int) bool { return byPair[pairs[i]].billed > byPair[pairs[j]].billed })
	if len(pairs) > c.top {
		other := &sums{}
		for _, p := range pairs[c.top:] {
			other.billed += byPair[p].billed
			other.attributed += byPair[p].attributed
		}
		pairs = append(pairs[:c.top], pair{OtherLabel, OtherLabel})
		byPair[pair{OtherLabel, OtherLabel}] = other
	}
	out := []prometheus.Metric{
		prometheus.MustNewConstMetric(c.reconcileAt, prometheus.GaugeValue, float64(res.RanAt.UnixMilli())/1000),
		prometheus.MustNewConstMetric(c.reconcileFrom, prometheus.GaugeValue, float64(res.Since.Unix())),
		prometheus.MustNewConstMetric(c.reconcileTo, prometheus.GaugeValue, float64(res.Until.Unix())),
	}
	for _, p := range pairs {
		s := byPair[p]
		out = append(out,
			prometheus.MustNewConstMetric(c.billUSD, prometheus.GaugeValue, s.billed, p.account, p.workgroup),
			prometheus.MustNewConstMetric(c.attributedUSD, prometheus.GaugeValue, s.attributed, p.account, p.workgroup),
			prometheus.MustNewConstMetric(c.gapUSD, prometheus.GaugeValue, s.billed-s.attributed, p.account, p.workgroup))
	}
	return out, nil
}

// metricsHandler serves /metrics: usage, health, build information and the
// Go runtime's and process's own metrics, from a registry of the server's
// own (nothing global).
func (s *Server) metricsHandler() http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		newMetricsCollector(s, s.opts.Config.Metrics.Top),
		collectors.NewBuildInfoCollector(),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		ErrorLog:      slog.NewLogLogger(s.opts.Logger.Handler(), slog.LevelError),
		ErrorHandling: promhttp.ContinueOnError,
		Timeout:       usageTimeout + 5*time.Second,
	})
}
