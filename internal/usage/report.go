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
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/athenawatch/athenawatch/internal/store"
)

// ReportDimensions are the values of report --by, in help order.
var ReportDimensions = []string{"user", "role", "team", "database", "workgroup", "account", "region", "day", "hour", "fingerprint", "query"}

// DefaultQueryTop is how many rows a report by query or by fingerprint
// shows when no top is given: the most expensive ones. Both have about as
// many keys as there are queries (most shapes run once), far more than a
// reader wants, and each row carries details read per row.
const DefaultQueryTop = 20

// timeDimensions are the dimensions whose rows are periods: they sort by
// time, not by cost.
var timeDimensions = map[string]bool{"day": true, "hour": true}

// Row is one line of a report. Its JSON form is the contract of
// `report --format json` and /api/v1/report (DESIGN.md): the dimension named
// by Dimension as a key, then one key per metric of Metrics, in order.
type Row struct {
	Dimension string
	Key       string
	// Values holds one value per metric of Metrics, in the same order.
	Values []Value
	// Details holds the values of the dimension's detail columns
	// (detailColumns), in order: a string, an int64, a float64, a
	// time.Time or nil (unknown). Nil for the total.
	Details []any
	// costUnknown counts the queries whose cost is not in cost_usd.
	costUnknown int64
}

// Value returns the metric with the given key, or the zero Value when no
// metric has that key.
func (r Row) Value(key string) Value {
	if i, ok := metricIndex[key]; ok && i < len(r.Values) {
		return r.Values[i]
	}
	return Value{}
}

// Detail returns the detail column with the given key (see detailColumns),
// or nil when the row has none.
func (r Row) Detail(key string) any {
	for i, c := range detailColumns[r.Dimension] {
		if c.Key == key && i < len(r.Details) {
			return r.Details[i]
		}
	}
	return nil
}

// MarshalJSON writes the row with the dimension as a key, then the metrics.
func (r Row) MarshalJSON() ([]byte, error) {
	if len(r.Values) != len(Metrics) {
		return nil, fmt.Errorf("report row %q has %d values for %d metrics", r.Key, len(r.Values), len(Metrics))
	}
	b := []byte{'{'}
	key, err := json.Marshal(r.Dimension)
	if err != nil {
		return nil, err
	}
	val, err := json.Marshal(r.Key)
	if err != nil {
		return nil, err
	}
	b = append(append(append(b, key...), ':'), val...)
	for i, m := range Metrics {
		v, err := r.Values[i].MarshalJSON()
		if err != nil {
			return nil, fmt.Errorf("metric %s of %q: %w", m.Key, r.Key, err)
		}
		b = append(append(append(b, ",\""...), m.Key...), "\":"...)
		b = append(b, v...)
	}
	for i, c := range detailColumns[r.Dimension] {
		var v any
		if i < len(r.Details) {
			v = r.Details[i]
		}
		if t, ok := v.(time.Time); ok {
			v = t.UTC().Format(time.RFC3339)
		}
		j, err := json.Marshal(v)
		if err != nil {
			return nil, fmt.Errorf("%s of %q: %w", c.Key, r.Key, err)
		}
		b = append(append(append(b, ",\""...), c.Key...), "\":"...)
		b = append(b, j...)
	}
	return append(b, '}'), nil
}

// detailColumn is a column a dimension's rows have beyond the metrics.
type detailColumn struct {
	// Key names it in JSON and CSV, Header in table and markdown.
	Key, Header string
	// text marks query text, which table and markdown shorten to one line.
	text bool
}

// detailColumns are the columns, after the metrics, of the dimensions
// whose rows say more than sums: a query shape (its yearly cost at the
// window's pace, how many users ran it, its latest query and its
// normalized text) and a single query.
var detailColumns = map[string][]detailColumn{
	"fingerprint": {
		{Key: "annualized_cost_usd", Header: "USD/YEAR"},
		{Key: "users", Header: "USERS"},
		{Key: "latest_query_id", Header: "LATEST QUERY"},
		{Key: "latest_region", Header: "LATEST REGION"},
		{Key: "latest_event_time", Header: "LATEST TIME"},
		{Key: "text", Header: "TEXT", text: true},
	},
	"query": {
		{Key: "region", Header: "REGION"},
		{Key: "user", Header: "USER"},
		{Key: "team", Header: "TEAM"},
		{Key: "database", Header: "DATABASE"},
		{Key: "workgroup", Header: "WORKGROUP"},
		{Key: "state", Header: "STATE"},
		{Key: "event_time", Header: "TIME"},
		{Key: "text", Header: "TEXT", text: true},
	},
}

// ReportOptions select a report.
type ReportOptions struct {
	By     string
	Filter store.Filter
	Top    int // 0 = all rows; DefaultQueryTop by query and by fingerprint
	// Now ends a window with no Until (annualized costs); zero: the clock.
	Now time.Time
}

// Report is a computed report.
type Report struct {
	By       string
	Rows     []Row
	Total    Row   // sums over all rows (before --top)
	Rejected int64 // rejected submissions in the same window
	// Rederived counts stored rows whose derived columns (user, team, ...)
	// were computed on read, because they were stored under other rules.
	Rederived int64
	total     *tally
	prices    Prices
	keys      int // rows before --top; -1 when not counted
}

// Source is the part of the store a report reads.
type Source interface {
	Aggregate(ctx context.Context, a store.Aggregation) (store.Aggregated, error)
}

// BuildReport computes a report: the sums of every metric per key, priced
// with prices, as rules derive users and teams (nil: as stored), sorted by
// cost descending then key (by time for day).
//
// By fingerprint, rows also carry their shape's details (src must then be a
// ShapeSource); by query, rows are the top queries by cost (src must be a
// QuerySource).
func BuildReport(ctx context.Context, src Source, rules *Rules, prices Prices, opts ReportOptions) (*Report, error) {
	if rules != nil {
		opts.Filter = rules.AliasUsers(opts.Filter)
	}
	if opts.By == "query" {
		return buildQueryReport(ctx, src, rules, prices, opts)
	}
	if opts.By == "fingerprint" {
		top := opts.Top
		if top == 0 {
			top = DefaultQueryTop
		}
		rep, ok, err := topShapesByBound(ctx, src, rules, prices, opts, top)
		if err != nil {
			return nil, err
		}
		if ok {
			if err := addShapeDetails(ctx, src, rules, opts, rep.Rows); err != nil {
				return nil, err
			}
			return rep, nil
		}
	}
	sums := reportSums()
	a := store.Aggregation{By: opts.By, Filter: opts.Filter, Sums: sums}
	if rules != nil {
		a.Rules = rules
	}
	res, err := src.Aggregate(ctx, a)
	if err != nil {
		return nil, err
	}
	rep := &Report{By: opts.By, Rejected: res.Rejected, Rederived: res.Rederived, total: newTally(), prices: prices}
	rep.Rows = groupRows(opts.By, res.Groups, sums, prices, rep.total)
	sortRows(rep.Rows, opts.By)
	rep.Total = newRow(opts.By, "TOTAL", rep.total, prices)
	rep.keys = len(rep.Rows)
	top := opts.Top
	if top == 0 && opts.By == "fingerprint" {
		top = DefaultQueryTop
	}
	if top > 0 && len(rep.Rows) > top {
		rep.Rows = rep.Rows[:top]
	}
	if opts.By == "fingerprint" {
		if err := addShapeDetails(ctx, src, rules, opts, rep.Rows); err != nil {
			return nil, err
		}
	}
	return rep, nil
}

// groupRows sums groups into one row per key, in the order the keys first
// come, and adds every group to total too when total is not nil.
func groupRows(dimension string, groups []store.Group, sums []store.Sum, prices Prices, total *tally) []Row {
	byKey := map[string]*tally{}
	var keys []string
	for _, g := range groups {
		t := byKey[g.Key]
		if t == nil {
			t = newTally()
			byKey[g.Key] = t
			keys = append(keys, g.Key)
		}
		t.add(g, sums)
		if total != nil {
			total.add(g, sums)
		}
	}
	rows := make([]Row, 0, len(keys))
	for _, k := range keys {
		rows = append(rows, newRow(dimension, k, byKey[k], prices))
	}
	return rows
}

// sortRows puts the rows of a report by dimension in report order: by cost
// descending, then key; by key (time) for a time dimension.
func sortRows(rows []Row, dimension string) {
	cost := metricIndex["cost_usd"]
	sort.Slice(rows, func(i, j int) bool {
		a, b := rows[i], rows[j]
		if !timeDimensions[dimension] {
			if ca, cb := a.Values[cost].Float(), b.Values[cost].Float(); ca != cb {
				return ca > cb
			}
		}
		return a.Key < b.Key
	})
}

func newRow(dimension, key string, t *tally, p Prices) Row {
	r := Row{Dimension: dimension, Key: key, Values: make([]Value, len(Metrics)), costUnknown: t.costUnknown()}
	for i, m := range Metrics {
		r.Values[i] = m.value(t, p)
	}
	return r
}

// Formats report can be written in.
var Formats = []string{"table", "csv", "json", "markdown"}

// Keys is how many rows the report had before its top was taken; -1 when
// the report found its top rows without counting the others (by
// fingerprint).
func (rep *Report) Keys() int { return rep.keys }

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
		hdr := append([]string{rep.By}, MetricKeys()...)
		for _, c := range detailColumns[rep.By] {
			hdr = append(hdr, c.Key)
		}
		cw.Write(hdr)
		for _, r := range rep.Rows {
			fields := []string{CSVCell(r.Key)}
			for _, v := range r.Values {
				fields = append(fields, v.String())
			}
			for i := range detailColumns[rep.By] {
				fields = append(fields, CSVCell(r.detailString(i)))
			}
			cw.Write(fields)
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

// headers are the table and markdown column headers of the metrics and
// of the details of dimension by.
func headers(by string) []string {
	h := make([]string, len(Metrics))
	for i, m := range Metrics {
		h[i] = m.Header
	}
	for _, c := range detailColumns[by] {
		h = append(h, c.Header)
	}
	return h
}

// humanFields renders the row's metrics for a person. A cost that leaves
// out queries whose cost is unknown is marked with a trailing "+": it is a
// lower bound, never a silent $0.
func (r Row) humanFields() []string {
	out := make([]string, len(Metrics))
	for i, m := range Metrics {
		out[i] = m.Unit.human(r.Values[i])
		if m.Unit == USD && r.costUnknown > 0 {
			out[i] += "+"
		}
	}
	for i, c := range detailColumns[r.Dimension] {
		var cell string
		var v any
		if i < len(r.Details) {
			v = r.Details[i]
		}
		switch v := v.(type) {
		case nil:
		case float64: // a cost
			cell = fmt.Sprintf("%.4f", v)
			if r.costUnknown > 0 {
				cell += "+"
			}
		case string:
			if c.text {
				cell = displayText(v)
			} else {
				cell = displayCell(v)
			}
		default:
			cell = r.detailString(i)
		}
		out = append(out, cell)
	}
	return out
}

// detailString is detail i of the row as CSV writes it: exact, times in
// RFC 3339, unknown as empty.
func (r Row) detailString(i int) string {
	if i >= len(r.Details) {
		return ""
	}
	switch v := r.Details[i].(type) {
	case nil:
		return ""
	case string:
		return v
	case int64:
		return strconv.FormatInt(v, 10)
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	case time.Time:
		return v.UTC().Format(time.RFC3339)
	default:
		return fmt.Sprint(v)
	}
}

// maxTextRunes caps query text in table and markdown output; JSON and CSV
// keep it whole.
const maxTextRunes = 80

// displayText is a query text as table and markdown show it: on one line,
// unprintable characters replaced, cut to maxTextRunes with an ellipsis.
func displayText(s string) string {
	return truncateRunes(sanitize(strings.Join(strings.Fields(s), " ")), maxTextRunes)
}

func truncateRunes(s string, max int) string {
	if utf8.RuneCountInString(s) <= max {
		return s
	}
	n := 0
	for i := range s {
		if n == max-1 {
			return s[:i] + "…"
		}
		n++
	}
	return s
}

// displayKey names the empty key in human output.
func displayKey(k string) string {
	if k == "" {
		return "(none)"
	}
	return k
}

// maxCellRunes caps the width of a key in table and markdown output: one
// huge user name (anyone can write one into a SQL comment) must not pad
// every line of the table to its width. JSON and CSV keep the full value.
const maxCellRunes = 60

// displayCell is a key as table and markdown show it: named when empty,
// unprintable characters replaced, cut to maxCellRunes with an ellipsis.
func displayCell(k string) string {
	return truncateRunes(sanitize(displayKey(k)), maxCellRunes)
}

func (rep *Report) writeTable(w io.Writer) error {
	hdr := headers(rep.By)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, strings.ToUpper(rep.By)+"\t"+strings.Join(hdr, "\t")+"\t")
	for _, r := range rep.Rows {
		fmt.Fprintln(tw, displayCell(r.Key)+"\t"+strings.Join(r.humanFields(), "\t")+"\t")
	}
	// A blank line sets the total apart from a row whose key is "TOTAL".
	fmt.Fprintln(tw, strings.Repeat("\t", len(hdr)+1))
	fmt.Fprintln(tw, "TOTAL\t"+strings.Join(rep.Total.humanFields(), "\t")+"\t")
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "%s\n", strings.Join(rep.footer(), "\n"))
	return err
}

func (rep *Report) writeMarkdown(w io.Writer) error {
	hdr := headers(rep.By)
	fmt.Fprintf(w, "| %s | %s |\n", rep.By, strings.Join(hdr, " | "))
	fmt.Fprintf(w, "|---|%s\n", strings.Repeat("---:|", len(hdr)))
	for _, r := range rep.Rows {
		fmt.Fprintf(w, "| %s | %s |\n", markdownEscape(displayCell(r.Key)), strings.Join(escapeAll(r.humanFields()), " | "))
	}
	_, err := fmt.Fprintf(w, "| **TOTAL** | %s |\n\n%s\n", strings.Join(escapeAll(rep.Total.humanFields()), " | "), strings.Join(rep.footer(), "\n\n"))
	return err
}

func escapeAll(cells []string) []string {
	for i, c := range cells {
		cells[i] = markdownEscape(c)
	}
	return cells
}

// footer says, under a table, what the rows count and what they leave out:
// rejected submissions, and every query whose cost is unknown, with what to
// do about it.
func (rep *Report) footer() []string {
	t := rep.total
	s := fmt.Sprintf("%d queries", t.sum(store.SumQueries))
	if len(rep.Rows) < rep.keys {
		s += fmt.Sprintf(" (top %d of %d rows shown)", len(rep.Rows), rep.keys)
	}
	s += fmt.Sprintf(", %d rejected submissions (not queries).", rep.Rejected)
	lines := []string{s}
	if n := t.sum(store.SumPending); n > 0 {
		lines = append(lines, fmt.Sprintf("%d queries still lack statistics (pending): their bytes and cost are unknown, not $0. "+
			"Run 'athenawatch enrich' with AWS credentials that can read their accounts.", n))
	}
	if n := t.sum(store.SumNoStats); n > 0 {
		lines = append(lines, fmt.Sprintf("%d queries without statistics (Athena no longer knows them): their cost is unknown.", n))
	}
	if n := t.sum(store.SumProvisioned); n > 0 {
		s := fmt.Sprintf("%d queries on provisioned capacity, billed by DPU-hours, not bytes: %.2f DPU-hours at %.2f USD each = %.4f USD, in the cost above",
			n, dpuHours(t), rep.prices.USDPerDPUHour, dpuHours(t)*rep.prices.USDPerDPUHour)
		if m := t.sum(store.SumProvisionedNoDPU); m > 0 {
			s += fmt.Sprintf("; %d of them without a DPU count from Athena: their cost is unknown", m)
		}
		lines = append(lines, s+".")
	}
	if t.costUnknown() > 0 {
		lines = append(lines, "A cost marked + leaves out the queries whose cost is unknown.")
	}
	return lines
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

// CSVCell defuses spreadsheet formulas: a cell starting with = + - @ or a
// tab or carriage return is prefixed with a quote, as OWASP advises for
// CSV injection.
func CSVCell(s string) string {
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
