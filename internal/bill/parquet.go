package bill

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/big"
	"strconv"
	"strings"
	"time"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/deprecated"
	"github.com/parquet-go/parquet-go/format"

	"github.com/athenawatch/athenawatch/internal/cloudtrail"
)

// lineItem is one Athena usage line item, as summed into a cell.
type lineItem struct {
	account, region, workgroup string
	start                      time.Time
	kind                       Kind
	cost, amount               float64
}

// keptTypes are the line item types that are Athena usage: on-demand
// (Usage), and usage covered by a reservation or a Savings Plan, whose
// cost is the effective cost of that usage. Tax, credits, refunds, fees,
// discounts and Savings Plan negations are not usage of a query, and a
// Savings Plan's negation would cancel the covered usage it offsets.
// https://docs.aws.amazon.com/cur/latest/userguide/table-dictionary-cur2-line-item.html
var keptTypes = map[string]bool{"Usage": true, "DiscountedUsage": true, "SavingsPlanCoveredUsage": true}

// athenaProductCode is line_item_product_code of Athena's charges.
const athenaProductCode = "AmazonAthena"

// namedRowsPerFile is how many bad line items of one file are named; the
// rest are counted.
const namedRowsPerFile = 5

// What a column is read as.
type valueKind int

const (
	textValue valueKind = iota
	numberValue
	timeValue
)

// columnSpec is a column this reader needs.
type columnSpec struct {
	name     string
	kind     valueKind
	required bool
}

// The columns read, in the order of a row's fields; nothing else of the
// export's hundred-odd columns is decoded.
var columnSpecs = []columnSpec{
	{"line_item_usage_account_id", textValue, true},
	{"line_item_line_item_type", textValue, true},
	{"line_item_product_code", textValue, true},
	{"line_item_usage_type", textValue, true},
	{"line_item_resource_id", textValue, false},
	{"line_item_usage_start_date", timeValue, true},
	{"line_item_usage_amount", numberValue, false},
	{"line_item_unblended_cost", numberValue, true},
	{"product_region_code", textValue, false},
	{"pricing_unit", textValue, false},
}

const (
	fAccount = iota
	fType
	fProduct
	fUsageType
	fResource
	fStart
	fAmount
	fCost
	fRegion
	fUnit
)

// column is a columnSpec as one file holds it, read from its footer.
type column struct {
	columnSpec
	index   int // leaf column index; -1 when the file lacks it
	phys    parquet.Kind
	decimal bool
	scale   int
	unit    time.Duration // of an INT64 timestamp
	date    bool          // INT32 days since the epoch
}

// field is one decoded value.
type field struct {
	text string
	num  float64
	time time.Time
	null bool
	bad  string // why the value cannot be read
}

// readFile reads one data file into sum. A file that cannot be read is
// named in b.Skipped and read no further; a bad line item is skipped
// alone.
func readFile(ctx context.Context, src objectStore, key string, sum *summer, b *Bill, log *slog.Logger) {
	name := src.name(key)
	r, size, err := src.open(ctx, key)
	if err != nil {
		b.Skipped = append(b.Skipped, Skipped{Name: name, Reason: "cannot read: " + err.Error()})
		return
	}
	defer r.Close()
	if err := readParquet(r, size, name, sum, b); err != nil {
		log.Warn("bill data file skipped", slog.String("file", name), slog.Any("err", err))
		b.Skipped = append(b.Skipped, Skipped{Name: name, Reason: err.Error()})
		return
	}
	b.Files = append(b.Files, name)
}

// readParquet sums the Athena usage of one Parquet file. Line items are
// summed only once the whole file has read, so that a file broken half
// way adds nothing.
func readParquet(r io.ReaderAt, size int64, name string, sum *summer, b *Bill) (err error) {
	// A corrupt file must cost the run that file only, whatever the
	// Parquet library makes of it.
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("not a readable Parquet file: %v", p)
		}
	}()
	// The footer's length is the 4 bytes before the closing magic. The
	// Parquet library allocates it before it checks it against the file:
	// 8 bytes of "PAR1PAR1" cost it 800 MB. Check it here.
	var tail [8]byte
	if size < 12 {
		return fmt.Errorf("not a readable Parquet file: %d bytes", size)
	}
	if _, err := r.ReadAt(tail[:], size-8); err != nil {
		return fmt.Errorf("read Parquet footer: %w", err)
	}
	if footer := binary.LittleEndian.Uint32(tail[:4]); string(tail[4:]) != "PAR1" || int64(footer) > size-12 {
		return fmt.Errorf("not a readable Parquet file: a footer of %d bytes in a file of %d", footer, size)
	}
	f, err := parquet.OpenFile(r, size, parquet.SkipPageIndex(true), parquet.SkipBloomFilters(true))
	if err != nil {
		return fmt.Errorf("not a readable Parquet file: %w", err)
	}
	cols, err := resolveColumns(f)
	if err != nil {
		return err
	}
	var items []lineItem
	var ignored, badRows int64
	var bad []Skipped
	row := int64(0)
	for _, rg := range f.RowGroups() {
		n := rg.NumRows()
		if n < 0 || n > 1<<31 {
			return fmt.Errorf("row group of %d rows", n)
		}
		fields := make([][]field, len(cols))
		for i, c := range cols {
			if c.index < 0 {
				continue
			}
			if fields[i], err = c.read(rg, int(n)); err != nil {
				return fmt.Errorf("column %s: %w", c.name, err)
			}
		}
		for j := range int(n) {
			row++
			get := func(i int) field {
				if fields[i] == nil {
					return field{null: true}
				}
				return fields[i][j]
			}
			li, keep, why := lineItemOf(get, sum)
			switch {
			case why != "":
				badRows++
				if len(bad) < namedRowsPerFile {
					bad = append(bad, Skipped{Name: fmt.Sprintf("%s row %d", name, row), Reason: why})
				}
			case keep:
				items = append(items, li)
			default:
				ignored++
			}
		}
	}
	for _, li := range items {
		sum.add(li)
	}
	b.LineItems += int64(len(items))
	b.Ignored += ignored
	b.SkippedRows += badRows
	b.Skipped = append(b.Skipped, bad...)
	if badRows > int64(len(bad)) {
		b.Skipped = append(b.Skipped, Skipped{Name: name, Reason: fmt.Sprintf("%d more bad line items", badRows-int64(len(bad)))})
	}
	return nil
}

// lineItemOf reads one row: keep is whether it is Athena usage in the
// window; why, when not empty, is why the row is bad.
func lineItemOf(get func(int) field, sum *summer) (li lineItem, keep bool, why string) {
	// Other services' and other types' line items are left alone, however
	// odd the rest of their row.
	if get(fProduct).text != athenaProductCode || !keptTypes[get(fType).text] {
		return li, false, ""
	}
	for _, i := range []int{fAccount, fUsageType, fResource, fStart, fAmount, fCost, fRegion, fUnit} {
		if f := get(i); f.bad != "" {
			return li, false, columnSpecs[i].name + ": " + f.bad
		}
	}
	start := get(fStart)
	if start.null {
		return li, false, "line_item_usage_start_date: missing"
	}
	if !sum.inWindow(start.time) {
		return li, false, ""
	}
	account, ok := accountID(get(fAccount).text)
	if !ok {
		return li, false, fmt.Sprintf("line_item_usage_account_id: %q is not an account id", get(fAccount).text)
	}
	cost := get(fCost)
	switch {
	case cost.null:
		return li, false, "line_item_unblended_cost: missing"
	case math.IsNaN(cost.num) || math.IsInf(cost.num, 0):
		return li, false, fmt.Sprintf("line_item_unblended_cost: %v is not an amount", cost.num)
	case cost.num < 0:
		return li, false, fmt.Sprintf("line_item_unblended_cost: %v is negative on a usage line item", cost.num)
	}
	amount := get(fAmount)
	if !amount.null && !(amount.num >= 0 && !math.IsInf(amount.num, 0)) {
		return li, false, fmt.Sprintf("line_item_usage_amount: %v is not a usage amount", amount.num)
	}
	resource := strings.TrimSpace(get(fResource).text)
	region := strings.TrimSpace(get(fRegion).text)
	if region == "" {
		region = arnRegion(resource)
	}
	return lineItem{
		account: account, region: region, workgroup: workgroupOf(resource), start: start.time.UTC(),
		kind: kindOf(get(fUsageType).text, get(fUnit).text), cost: cost.num, amount: amount.num,
	}, true, ""
}

// accountID is a usage account id: 12 digits.
func accountID(s string) (string, bool) {
	s = strings.TrimSpace(s)
	return s, cloudtrail.IsAccountID(s)
}

// workgroupOf is the workgroup a resource id names: the name in a
// workgroup ARN (arn:aws:athena:REGION:ACCOUNT:workgroup/NAME), a bare
// name as it is, and another Athena resource (a capacity reservation) as
// TYPE/NAME.
func workgroupOf(resource string) string {
	if !strings.HasPrefix(resource, "arn:") {
		return resource
	}
	parts := strings.SplitN(resource, ":", 6)
	if len(parts) < 6 {
		return resource
	}
	if name, ok := strings.CutPrefix(parts[5], "workgroup/"); ok {
		return name
	}
	return parts[5]
}

// arnRegion is the region of an ARN, or "".
func arnRegion(resource string) string {
	parts := strings.SplitN(resource, ":", 6)
	if len(parts) < 6 || parts[0] != "arn" {
		return ""
	}
	return parts[3]
}

// kindOf tells the kind of an Athena charge by its usage type
// ("USE1-DataScannedInTB"; the region code may be absent) or unit.
func kindOf(usageType, unit string) Kind {
	switch {
	case strings.HasSuffix(usageType, "DataScannedInTB"):
		return Scan
	case strings.Contains(strings.ToUpper(usageType), "DPU"), strings.Contains(strings.ToUpper(unit), "DPU"):
		return DPU
	}
	return Other
}

// resolveColumns finds the columns in a file's footer, with their
// physical and logical types: exports differ (timestamps as INT64 millis
// or micros or INT96, costs as DOUBLE or DECIMAL).
func resolveColumns(f *parquet.File) ([]column, error) {
	elems := topLevel(f.Metadata().Schema)
	cols := make([]column, len(columnSpecs))
	for i, spec := range columnSpecs {
		c := column{columnSpec: spec, index: -1}
		e, ok := elems[spec.name]
		leaf, found := f.Schema().Lookup(spec.name)
		phys, leafType := e.Type.Get()
		switch {
		case !ok || !found || !leafType:
			if spec.required {
				return nil, fmt.Errorf("missing column %s", spec.name)
			}
			cols[i] = c
			continue
		case leaf.MaxRepetitionLevel > 0:
			return nil, fmt.Errorf("column %s is repeated, not one value per line item", spec.name)
		}
		c.index = leaf.ColumnIndex
		c.phys = kindOfPhysical(phys)
		ct, hasCT := e.ConvertedType.Get()
		switch lt := e.LogicalType.Value.(type) {
		case *format.DecimalType:
			c.decimal, c.scale = true, int(lt.Scale)
		case *format.TimestampType:
			if lt.Unit.Value != nil {
				c.unit = lt.Unit.Value.Duration()
			}
		case *format.DateType:
			c.date = true
		}
		switch {
		case hasCT && ct == deprecated.Decimal && !c.decimal:
			scale, _ := e.Scale.Get()
			c.decimal, c.scale = true, int(scale)
		case hasCT && ct == deprecated.TimestampMillis && c.unit == 0:
			c.unit = time.Millisecond
		case hasCT && ct == deprecated.TimestampMicros && c.unit == 0:
			c.unit = time.Microsecond
		case hasCT && ct == deprecated.Date:
			c.date = true
		}
		if c.scale < 0 || c.scale > 38 {
			return nil, fmt.Errorf("column %s: decimal scale %d", spec.name, c.scale)
		}
		if err := c.check(); err != nil {
			return nil, fmt.Errorf("column %s: %w", spec.name, err)
		}
		cols[i] = c
	}
	return cols, nil
}

func kindOfPhysical(t format.Type) parquet.Kind {
	switch t {
	case format.Boolean:
		return parquet.Boolean
	case format.Int32:
		return parquet.Int32
	case format.Int64:
		return parquet.Int64
	case format.Int96:
		return parquet.Int96
	case format.Float:
		return parquet.Float
	case format.Double:
		return parquet.Double
	case format.ByteArray:
		return parquet.ByteArray
	}
	return parquet.FixedLenByteArray
}

// check refuses a column whose type cannot hold what it is read as.
func (c column) check() error {
	ok := false
	switch c.kind {
	case textValue:
		ok = c.phys == parquet.ByteArray || c.phys == parquet.FixedLenByteArray || c.phys == parquet.Int32 || c.phys == parquet.Int64
	case numberValue:
		ok = c.phys != parquet.Boolean && c.phys != parquet.Int96
	case timeValue:
		ok = c.phys == parquet.Int96 || c.phys == parquet.ByteArray || (c.phys == parquet.Int64 && c.unit > 0) || (c.phys == parquet.Int32 && c.date)
	}
	if !ok {
		return fmt.Errorf("type %s cannot hold a %s", c.phys, [...]string{"text", "number", "timestamp"}[c.kind])
	}
	return nil
}

// topLevel maps the names of the schema's top-level fields to their
// elements (the schema is flattened depth first; the root comes first).
func topLevel(schema []format.SchemaElement) map[string]format.SchemaElement {
	out := map[string]format.SchemaElement{}
	if len(schema) == 0 {
		return out
	}
	// skip returns the index after the subtree at i, or len(schema) for a
	// footer whose counts run past its end.
	var skip func(i, depth int) int
	skip = func(i, depth int) int {
		if i >= len(schema) || depth > 64 {
			return len(schema)
		}
		n, _ := schema[i].NumChildren.Get()
		i++
		for range max(n, 0) {
			i = skip(i, depth+1)
		}
		return i
	}
	n, _ := schema[0].NumChildren.Get()
	i := 1
	for range max(n, 0) {
		if i >= len(schema) {
			break
		}
		out[schema[i].Name] = schema[i]
		i = skip(i, 1)
	}
	return out
}

// read decodes the column's values in a row group: one per row.
func (c column) read(rg parquet.RowGroup, rows int) ([]field, error) {
	chunks := rg.ColumnChunks()
	if c.index >= len(chunks) {
		return nil, errors.New("not in the row group")
	}
	r := parquet.NewColumnChunkValueReader(chunks[c.index])
	defer r.Close()
	// The row count comes from the file's footer: untrusted. Memory grows
	// with the values actually decoded, not with what the footer claims.
	out := make([]field, 0, min(rows, 1<<16))
	buf := make([]parquet.Value, 512)
	for {
		n, err := r.ReadValues(buf)
		for _, v := range buf[:n] {
			if len(out) == rows {
				return nil, fmt.Errorf("more values than the row group's %d rows", rows)
			}
			out = append(out, c.decode(v))
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
	}
	if len(out) != rows {
		return nil, fmt.Errorf("%d values for %d rows", len(out), rows)
	}
	return out, nil
}

// decode reads one value as the column's kind. Byte arrays are copied:
// the page they point into is reused.
func (c column) decode(v parquet.Value) field {
	if v.IsNull() {
		return field{null: true}
	}
	switch c.kind {
	case textValue:
		// An account id written as an integer has lost its leading zeros.
		switch v.Kind() {
		case parquet.Int32:
			return field{text: fmt.Sprintf("%012d", v.Int32())}
		case parquet.Int64:
			return field{text: fmt.Sprintf("%012d", v.Int64())}
		}
		// Names go on to pages, JSON and metric labels, which need UTF-8.
		return field{text: strings.ToValidUTF8(string(v.ByteArray()), "\uFFFD")}
	case numberValue:
		return c.number(v)
	}
	return c.timestamp(v)
}

func (c column) number(v parquet.Value) field {
	pow := math.Pow10(c.scale)
	switch v.Kind() {
	case parquet.Double:
		return field{num: v.Double()}
	case parquet.Float:
		return field{num: float64(v.Float())}
	case parquet.Int32:
		if c.decimal {
			return field{num: float64(v.Int32()) / pow}
		}
		return field{num: float64(v.Int32())}
	case parquet.Int64:
		if c.decimal {
			return field{num: float64(v.Int64()) / pow}
		}
		return field{num: float64(v.Int64())}
	case parquet.ByteArray, parquet.FixedLenByteArray:
		b := v.ByteArray()
		if c.decimal {
			if len(b) == 0 || len(b) > 32 {
				return field{bad: fmt.Sprintf("a decimal of %d bytes", len(b))}
			}
			n := new(big.Int).SetBytes(b)
			if b[0]&0x80 != 0 { // two's complement
				n.Sub(n, new(big.Int).Lsh(big.NewInt(1), uint(8*len(b))))
			}
			f, _ := new(big.Float).Quo(new(big.Float).SetInt(n), big.NewFloat(pow)).Float64()
			return field{num: f}
		}
		f, err := strconv.ParseFloat(strings.TrimSpace(string(b)), 64)
		if err != nil {
			return field{bad: fmt.Sprintf("%q is not a number", truncate(string(b)))}
		}
		return field{num: f}
	}
	return field{bad: "not a number"}
}

// julianUnixEpoch is the Julian day number of 1970-01-01, for INT96
// timestamps (nanoseconds of the day, then the Julian day).
const julianUnixEpoch = 2440588

func (c column) timestamp(v parquet.Value) field {
	switch v.Kind() {
	case parquet.Int64:
		n := v.Int64()
		switch c.unit {
		case time.Millisecond:
			return field{time: time.UnixMilli(n).UTC()}
		case time.Microsecond:
			return field{time: time.UnixMicro(n).UTC()}
		}
		return field{time: time.Unix(0, n).UTC()}
	case parquet.Int32:
		return field{time: time.Unix(int64(v.Int32())*86400, 0).UTC()}
	case parquet.Int96:
		i := v.Int96()
		nanos := int64(uint64(i[1])<<32 | uint64(i[0]))
		days := int64(i[2]) - julianUnixEpoch
		if nanos < 0 || nanos >= int64(24*time.Hour) || days < -1e6 || days > 1e6 {
			return field{bad: "an INT96 timestamp out of range"}
		}
		return field{time: time.Unix(days*86400, nanos).UTC()}
	case parquet.ByteArray:
		s := strings.TrimSpace(string(v.ByteArray()))
		for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02 15:04:05", time.DateOnly} {
			if t, err := time.Parse(layout, s); err == nil {
				return field{time: t.UTC()}
			}
		}
		return field{bad: fmt.Sprintf("%q is not a time", truncate(s))}
	}
	return field{bad: "not a timestamp"}
}

func truncate(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}
