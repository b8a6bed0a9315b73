package usage

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/athenawatch/athenawatch/internal/config"
	"github.com/athenawatch/athenawatch/internal/store"
)

// Metric is one column of a report. Metrics is the one list of them: it
// drives the sums the store computes, the keys of JSON and CSV rows and the
// headers and cells of table and markdown output.
type Metric struct {
	// Key names the metric in JSON and CSV (DESIGN.md's contract).
	Key string
	// Header names it in table and markdown output.
	Header string
	// Unit says what the value is and how a person reads it.
	Unit Unit
	// Sums are the store aggregates the value is computed from.
	Sums []store.Sum
	// value computes the metric of one row from its sums.
	value func(t *tally, p Prices) Value
}

// Unit is what a metric's value measures; it decides how table and
// markdown output render it.
type Unit int

// Units of report metrics.
const (
	Count    Unit = iota // a number of queries
	Bytes                // bytes, rendered with binary units
	USD                  // dollars, 4 decimals
	MB                   // megabytes of 2^20 bytes, 1 decimal
	Millis               // a duration in milliseconds
	DPUHours             // DPU-hours, 2 decimals
)

// Metrics are the metric columns of every report, in output order: the
// JSON keys and their order are DESIGN.md's contract.
var Metrics = []Metric{
	sumMetric("queries", "QUERIES", Count, store.SumQueries),
	sumMetric("succeeded", "OK", Count, store.SumSucceeded),
	sumMetric("failed", "FAILED", Count, store.SumFailed),
	sumMetric("cancelled", "CANCELLED", Count, store.SumCancelled),
	// Queries whose statistics are not known yet: their bytes and cost are
	// not in the other columns.
	sumMetric("pending", "PENDING", Count, store.SumPending),
	sumMetric("bytes_scanned", "SCANNED", Bytes, store.SumBytesScanned),
	sumMetric("billed_bytes", "BILLED", Bytes, store.SumBilledBytes),
	{Key: "cost_usd", Header: "COST USD", Unit: USD, Sums: []store.Sum{store.SumBilledBytes, store.SumDPUMillis},
		value: func(t *tally, p Prices) Value {
			return floatValue(t.costUSD(p.USDPerTiB) + dpuHours(t)*p.USDPerDPUHour)
		}},
	{Key: "avg_mb_scanned", Header: "AVG MB", Unit: MB, Sums: []store.Sum{store.SumBytesScanned, store.SumWithStats},
		value: func(t *tally, _ Prices) Value {
			return floatValue(AvgMBScanned(t.sum(store.SumBytesScanned), t.sum(store.SumWithStats)))
		}},
	sumMetric("engine_ms", "ENGINE", Millis, store.SumEngineMs),
	{Key: "dpu_hours", Header: "DPU-HOURS", Unit: DPUHours, Sums: []store.Sum{store.SumDPUMillis},
		value: func(t *tally, _ Prices) Value { return floatValue(dpuHours(t)) }},
	// Queries Athena no longer knows (older than its 45-day history when
	// first asked): their statistics and cost will never be known.
	sumMetric("no_stats", "NO STATS", Count, store.SumNoStats),
}

// sumMetric is a metric that is one store sum as it is.
func sumMetric(key, header string, unit Unit, sum store.Sum) Metric {
	return Metric{Key: key, Header: header, Unit: unit, Sums: []store.Sum{sum},
		value: func(t *tally, _ Prices) Value { return intValue(t.sum(sum)) }}
}

// metricIndex is the position of each metric in Metrics, by key.
var metricIndex = func() map[string]int {
	m := make(map[string]int, len(Metrics))
	for i, mt := range Metrics {
		m[mt.Key] = i
	}
	return m
}()

// MetricKeys are the metrics' JSON and CSV keys, in order.
func MetricKeys() []string {
	keys := make([]string, len(Metrics))
	for i, m := range Metrics {
		keys[i] = m.Key
	}
	return keys
}

// Prices are what a report prices usage with.
type Prices struct {
	// USDPerTiB is the on-demand price per TiB scanned in a region.
	USDPerTiB func(region string) float64
	// USDPerDPUHour prices the DPU-hours of queries on provisioned capacity.
	USDPerDPUHour float64
}

// PricesOf are the prices of a configuration.
func PricesOf(cfg *config.Config) Prices {
	return Prices{USDPerTiB: cfg.PriceUSDPerTiB, USDPerDPUHour: cfg.Pricing.USDPerDPUHour}
}

// msPerHour converts DPU-milliseconds to DPU-hours.
const msPerHour = 3_600_000

func dpuHours(t *tally) float64 { return float64(t.sum(store.SumDPUMillis)) / msPerHour }

// Value is one metric of a row: an exact count, or a quantity (money,
// averages, hours) as a float.
type Value struct {
	i       int64
	f       float64
	isFloat bool
}

func intValue(i int64) Value     { return Value{i: i} }
func floatValue(f float64) Value { return Value{f: f, isFloat: true} }

// Int is the value as an integer (a float is truncated).
func (v Value) Int() int64 {
	if v.isFloat {
		return int64(v.f)
	}
	return v.i
}

// Float is the value as a float.
func (v Value) Float() float64 {
	if v.isFloat {
		return v.f
	}
	return float64(v.i)
}

// MarshalJSON writes a count as an integer and a quantity as a float.
func (v Value) MarshalJSON() ([]byte, error) {
	if v.isFloat {
		return json.Marshal(v.f)
	}
	return strconv.AppendInt(nil, v.i, 10), nil
}

// String is the exact value, as CSV writes it.
func (v Value) String() string {
	if v.isFloat {
		return strconv.FormatFloat(v.f, 'f', -1, 64)
	}
	return strconv.FormatInt(v.i, 10)
}

// human renders a value for a person reading a table.
func (u Unit) human(v Value) string {
	switch u {
	case Bytes:
		return HumanBytes(v.Int())
	case USD:
		return fmt.Sprintf("%.4f", v.Float())
	case MB:
		return fmt.Sprintf("%.1f", v.Float())
	case Millis:
		return HumanMillis(v.Int())
	case DPUHours:
		return fmt.Sprintf("%.2f", v.Float())
	}
	return v.String()
}

// tally is what the store summed for one row, over all its regions. A
// report by shape or user sums thousands of groups into rows: the sums
// sit in an array by sumSlot, and the billed bytes of the few regions in
// a slice kept in order of region, rather than in maps made for each row.
type tally struct {
	sums [nSumSlots]int64
	// billed splits billed bytes by region, priced per region.
	billed []regionBytes
}

type regionBytes struct {
	region string
	bytes  int64
}

func newTally() *tally { return &tally{} }

// nSumSlots is how many sums a tally keeps: one for each store.Sum.
const nSumSlots = 13

// sumSlot is s's place in a tally; -1 for a sum no report asks for.
func sumSlot(s store.Sum) int {
	switch s {
	case store.SumQueries:
		return 0
	case store.SumSucceeded:
		return 1
	case store.SumFailed:
		return 2
	case store.SumCancelled:
		return 3
	case store.SumPending:
		return 4
	case store.SumNoStats:
		return 5
	case store.SumWithStats:
		return 6
	case store.SumBytesScanned:
		return 7
	case store.SumBilledBytes:
		return 8
	case store.SumEngineMs:
		return 9
	case store.SumProvisioned:
		return 10
	case store.SumDPUMillis:
		return 11
	case store.SumProvisionedNoDPU:
		return 12
	}
	return -1
}

// sum is the tally's sum s.
func (t *tally) sum(s store.Sum) int64 {
	if i := sumSlot(s); i >= 0 {
		return t.sums[i]
	}
	return 0
}

// add adds one group, whose sums are in the order of names.
func (t *tally) add(g store.Group, names []store.Sum) {
	for i, name := range names {
		slot := sumSlot(name)
		if slot < 0 {
			continue
		}
		t.sums[slot] += g.Sums[i]
		if name == store.SumBilledBytes {
			t.addBilled(g.Region, g.Sums[i])
		}
	}
}

func (t *tally) addBilled(region string, n int64) {
	i, found := slices.BinarySearchFunc(t.billed, region, func(r regionBytes, region string) int { return strings.Compare(r.region, region) })
	if found {
		t.billed[i].bytes += n
		return
	}
	t.billed = slices.Insert(t.billed, i, regionBytes{region, n})
}

// costUSD prices the tally's billed bytes per region: the sum over regions
// of billed × price-per-TiB / 2^40. Regions are summed in sorted order (the
// order billed keeps) so the float result is the same on every run and in
// every test that recomputes it.
func (t *tally) costUSD(pricePerTiB func(region string) float64) float64 {
	var cost float64
	for _, r := range t.billed {
		cost += float64(r.bytes) * pricePerTiB(r.region) / TiB
	}
	return cost
}

// costUnknown counts the row's queries whose cost is not in cost_usd:
// pending, unknown to Athena, or on provisioned capacity without a DPU count.
func (t *tally) costUnknown() int64 {
	return t.sum(store.SumPending) + t.sum(store.SumNoStats) + t.sum(store.SumProvisionedNoDPU)
}

// reportSums are the store sums a report asks for: those of every metric,
// and those of the footer.
func reportSums() []store.Sum {
	seen := map[store.Sum]bool{}
	var out []store.Sum
	add := func(s store.Sum) {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	for _, m := range Metrics {
		for _, s := range m.Sums {
			add(s)
		}
	}
	for _, s := range footerSums {
		add(s)
	}
	return out
}

// footerSums are the sums the lines under a table speak of besides the
// metrics.
var footerSums = []store.Sum{store.SumPending, store.SumNoStats, store.SumProvisioned, store.SumProvisionedNoDPU, store.SumDPUMillis}
