package usage

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"unicode"

	"github.com/athenawatch/athenawatch/internal/store"
)

// ReportDimensions are the values of report --by, in help order.
var ReportDimensions = []string{"user", "role", "team", "database", "workgroup", "account", "region", "day"}

// Row is one line of a report. Its JSON form is the contract of
// `report --format json` and /api/v1/report (DESIGN.md): the dimension named
// by Dimension as a key, then the metric keys.
type Row struct {
	Dimension    string
	Key          string
	Queries      int64
	Succeeded    int64
	Failed       int64
	Cancelled    int64
	BytesScanned int64
	BilledBytes  int64
	CostUSD      float64
	AvgMBScanned float64
	EngineMs     int64
	NoStats      int64
}

// MarshalJSON writes the row with the dimension as a key.
func (r Row) MarshalJSON() ([]byte, error) {
	var b strings.Builder
	key, _ := json.Marshal(r.Dimension)
	val, _ := json.Marshal(r.Key)
	cost, err := json.Marshal(r.CostUSD)
	if err != nil {
		return nil, err
	}
	avg, err := json.Marshal(r.AvgMBScanned)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(&b, `{%s:%s,"queries":%d,"succeeded":%d,"failed":%d,"cancelled":%d,"bytes_scanned":%d,"billed_bytes":%d,"cost_usd":%s,"avg_mb_scanned":%s,"engine_ms":%d,"no_stats":%d}`,
		key, val, r.Queries, r.Succeeded, r.Failed, r.Cancelled, r.BytesScanned, r.BilledBytes, cost, avg, r.EngineMs, r.NoStats)
	return []byte(b.String()), nil
}

// ReportOptions select a report.
type ReportOptions struct {
	By     string
	Filter store.Filter
	Top    int // 0 = all rows
}

// Report is a computed report.
type Report struct {
	By       string
	Rows     []Row
	Total    Row   // sums over all rows (before --top)
	Rejected int64 // rejected submissions in the same window
	// Provisioned and ProvisionedEngineMs cover queries on provisioned
	// capacity, billed by DPU-hours: they carry no per-byte cost, so their
	// share of engine time is reported instead.
	Provisioned         int64
	ProvisionedEngineMs int64
	keys                int // rows before --top
}

// Aggregator is the part of the store a report reads.
type Aggregator interface {
	Aggregate(ctx context.Context, by string, f store.Filter) ([]store.Group, error)
	RejectedCount(ctx context.Context, f store.Filter) (int64, error)
}

// BuildReport computes a report: sums per key from the store, priced per
// region, sorted by cost descending then key.
func BuildReport(ctx context.Context, agg Aggregator, price func(region string) float64, opts ReportOptions) (*Report, error) {
	groups, err := agg.Aggregate(ctx, opts.By, opts.Filter)
	if err != nil {
		return nil, err
	}
	type acc struct {
		row       Row
		withStats int64
		billed    map[string]int64
	}
	byKey := map[string]*acc{}
	total := &acc{billed: map[string]int64{}}
	rep := &Report{By: opts.By}
	for _, g := range groups {
		rep.Provisioned += g.Provisioned
		rep.ProvisionedEngineMs += g.ProvEngineMs
		a := byKey[g.Key]
		if a == nil {
			a = &acc{row: Row{Dimension: opts.By, Key: g.Key}, billed: map[string]int64{}}
			byKey[g.Key] = a
		}
		for _, t := range []*acc{a, total} {
			t.row.Queries += g.Queries
			t.row.Succeeded += g.Succeeded
			t.row.Failed += g.Failed
			t.row.Cancelled += g.Cancelled
			t.row.BytesScanned += g.BytesScanned
			t.row.BilledBytes += g.BilledBytes
			t.row.EngineMs += g.EngineMs
			t.row.NoStats += g.NoStats
			t.withStats += g.WithStats
			t.billed[g.Region] += g.BilledBytes
		}
	}
	finish := func(a *acc) Row {
		a.row.CostUSD = CostUSD(a.billed, price)
		a.row.AvgMBScanned = AvgMBScanned(a.row.BytesScanned, a.withStats)
		return a.row
	}
	for _, a := range byKey {
		rep.Rows = append(rep.Rows, finish(a))
	}
	sort.Slice(rep.Rows, func(i, j int) bool {
		if rep.Rows[i].CostUSD != rep.Rows[j].CostUSD {
			return rep.Rows[i].CostUSD > rep.Rows[j].CostUSD
		}
		return rep.Rows[i].Key < rep.Rows[j].Key
	})
	total.row.Dimension, total.row.Key = opts.By, "TOTAL"
	rep.Total = finish(total)
	rep.keys = len(rep.Rows)
	if opts.Top > 0 && len(rep.Rows) > opts.Top {
		rep.Rows = rep.Rows[:opts.Top]
	}
	rep.Rejected, err = agg.RejectedCount(ctx, opts.Filter)
	if err != nil {
		return nil, err
	}
	return rep, nil
}

// Formats report can be written in.
var Formats = []string{"table", "csv", "json", "markdown"}

// Write renders the report in format.
func (rep *Report) Write(w io.Writer, format string) error {
	switch format {
	case "json":
		rows := rep.Rows
		if rows == nil {
			rows = []Row{}
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(rows)
	case "csv":
		cw := csv.NewWriter(w)
		cw.Write(append([]string{rep.By}, metricKeys...))
		for _, r := range rep.Rows {
			cw.Write(r.csvFields())
		}
		cw.Flush()
		return cw.Error()
	case "table":
		return rep.writeTable(w)
	case "markdown":
		return rep.writeMarkdown(w)
	}
	return fmt.Errorf("unknown format %q (one of %s)", format, strings.Join(Formats, ", "))
}

var metricKeys = []string{"queries", "succeeded", "failed", "cancelled", "bytes_scanned", "billed_bytes", "cost_usd", "avg_mb_scanned", "engine_ms", "no_stats"}

func (r Row) csvFields() []string {
	return []string{csvCell(r.Key), i64(r.Queries), i64(r.Succeeded), i64(r.Failed), i64(r.Cancelled), i64(r.BytesScanned),
		i64(r.BilledBytes), strconv.FormatFloat(r.CostUSD, 'f', -1, 64), strconv.FormatFloat(r.AvgMBScanned, 'f', -1, 64),
		i64(r.EngineMs), i64(r.NoStats)}
}

func i64(v int64) string { return strconv.FormatInt(v, 10) }

var tableHeader = []string{"QUERIES", "OK", "FAILED", "CANCELLED", "SCANNED", "BILLED", "COST USD", "AVG MB", "ENGINE", "NO STATS"}

func (r Row) humanFields() []string {
	return []string{i64(r.Queries), i64(r.Succeeded), i64(r.Failed), i64(r.Cancelled), HumanBytes(r.BytesScanned),
		HumanBytes(r.BilledBytes), fmt.Sprintf("%.4f", r.CostUSD), fmt.Sprintf("%.1f", r.AvgMBScanned),
		HumanMillis(r.EngineMs), i64(r.NoStats)}
}

// displayKey names the empty key in human output.
func displayKey(k string) string {
	if k == "" {
		return "(none)"
	}
	return k
}

func (rep *Report) writeTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, strings.ToUpper(rep.By)+"\t"+strings.Join(tableHeader, "\t")+"\t")
	for _, r := range rep.Rows {
		fmt.Fprintln(tw, sanitize(displayKey(r.Key))+"\t"+strings.Join(r.humanFields(), "\t")+"\t")
	}
	// A blank line sets the total apart from a row whose key is "TOTAL".
	fmt.Fprintln(tw, strings.Repeat("\t", len(tableHeader)+1))
	fmt.Fprintln(tw, "TOTAL\t"+strings.Join(rep.Total.humanFields(), "\t")+"\t")
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "%s\n", rep.footer())
	return err
}

func (rep *Report) writeMarkdown(w io.Writer) error {
	fmt.Fprintf(w, "| %s | %s |\n", rep.By, strings.Join(tableHeader, " | "))
	fmt.Fprintf(w, "|---|%s\n", strings.Repeat("---:|", len(tableHeader)))
	for _, r := range rep.Rows {
		fmt.Fprintf(w, "| %s | %s |\n", markdownEscape(displayKey(r.Key)), strings.Join(r.humanFields(), " | "))
	}
	fmt.Fprintf(w, "| **TOTAL** | %s |\n\n%s\n", strings.Join(rep.Total.humanFields(), " | "), rep.footer())
	return nil
}

func (rep *Report) footer() string {
	s := fmt.Sprintf("%d queries", rep.Total.Queries)
	if len(rep.Rows) < rep.keys {
		s += fmt.Sprintf(" (top %d of %d rows shown)", len(rep.Rows), rep.keys)
	}
	s += fmt.Sprintf(", %d rejected submissions (not queries)", rep.Rejected)
	if rep.Total.NoStats > 0 {
		s += fmt.Sprintf(", %d without statistics (Athena no longer knows them)", rep.Total.NoStats)
	}
	if rep.Provisioned > 0 {
		share := 0.0
		if rep.Total.EngineMs > 0 {
			share = 100 * float64(rep.ProvisionedEngineMs) / float64(rep.Total.EngineMs)
		}
		s += fmt.Sprintf("; %d on provisioned capacity (billed by DPU-hours, no per-byte cost): %s engine time, %.1f%% of all",
			rep.Provisioned, HumanMillis(rep.ProvisionedEngineMs), share)
	}
	return s
}

// sanitize keeps control, format (bidi overrides, zero-width) and other
// unprintable characters of stored strings out of terminal output: user
// names come from CloudTrail and from SQL comments anyone can write.
func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		if !unicode.IsPrint(r) || unicode.Is(unicode.Cf, r) {
			return '?'
		}
		return r
	}, s)
}

// csvCell defuses spreadsheet formulas: a cell starting with = + - @ or a
// tab or carriage return is prefixed with a quote, as OWASP advises for
// CSV injection.
func csvCell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

func markdownEscape(s string) string {
	s = sanitize(s)
	r := strings.NewReplacer("|", `\|`, "\\", `\\`, "*", `\*`, "_", `\_`, "`", "\\`", "<", "&lt;", ">", "&gt;", "[", `\[`, "]", `\]`)
	return r.Replace(s)
}

// HumanBytes renders a byte count with binary units.
func HumanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 5; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// HumanMillis renders a duration in milliseconds compactly.
func HumanMillis(ms int64) string {
	switch {
	case ms < 1000:
		return fmt.Sprintf("%dms", ms)
	case ms < 60_000:
		return fmt.Sprintf("%.1fs", float64(ms)/1000)
	case ms < 3_600_000:
		return fmt.Sprintf("%.1fm", float64(ms)/60_000)
	}
	return fmt.Sprintf("%.1fh", float64(ms)/3_600_000)
}
