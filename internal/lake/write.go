package lake

import (
	"bufio"
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress"
	"github.com/parquet-go/parquet-go/compress/snappy"
	"github.com/parquet-go/parquet-go/compress/zstd"

	"github.com/athenawatch/athenawatch/internal/store"
	"github.com/athenawatch/athenawatch/internal/usage"
)

// Formats of an export, and the compressions of Parquet.
const (
	FormatParquet = "parquet"
	FormatCSV     = "csv"

	CompressionZstd   = "zstd"
	CompressionSnappy = "snappy"
)

// Tables of the lake: the folder each holds its partitions in.
const (
	// UsageTable is the usage table in Parquet, what ddl describes.
	UsageTable = "usage"
	// UsageCSVTable is the usage table as CSV with a header, for
	// spreadsheets and tools without Parquet; in its own folder so that a
	// table over usage/ never meets a CSV file.
	UsageCSVTable = "usage_csv"
	// APIOutputTable is the seed's athena_api_output: what its collector
	// wrote of each BatchGetQueryExecution answer.
	APIOutputTable = "athena_api_output"
)

// rowsPerGroup bounds a Parquet row group: the writer holds one in memory,
// and readers split work by row group.
const rowsPerGroup = 128 * 1024

// dayWriter writes one day of one table to w.
type dayWriter interface {
	add(q *store.Query) error
	close() error
}

// parquetWriter writes the usage table as Parquet.
type parquetWriter struct {
	w   *parquet.GenericWriter[Row]
	buf []Row
}

func newParquetWriter(w io.Writer, compression string) (*parquetWriter, error) {
	var codec compress.Codec
	switch compression {
	case "", CompressionZstd:
		codec = &zstd.Codec{Level: zstd.SpeedDefault}
	case CompressionSnappy:
		codec = &snappy.Codec{}
	default:
		return nil, fmt.Errorf("compression %q: want zstd or snappy", compression)
	}
	return &parquetWriter{
		w:   parquet.NewGenericWriter[Row](w, parquet.Compression(codec), parquet.MaxRowsPerRowGroup(rowsPerGroup), parquet.CreatedBy("athenawatch", "", "")),
		buf: make([]Row, 0, 1024),
	}, nil
}

func (p *parquetWriter) add(q *store.Query) error {
	p.buf = append(p.buf, rowOf(q))
	if len(p.buf) == cap(p.buf) {
		return p.flush()
	}
	return nil
}

func (p *parquetWriter) flush() error {
	if _, err := p.w.Write(p.buf); err != nil {
		return fmt.Errorf("encode parquet: %w", err)
	}
	p.buf = p.buf[:0]
	return nil
}

func (p *parquetWriter) close() error {
	if err := p.flush(); err != nil {
		return err
	}
	if err := p.w.Close(); err != nil {
		return fmt.Errorf("encode parquet: %w", err)
	}
	return nil
}

// csvTime is how the CSV usage table writes a timestamp: the literal form
// Athena, Trino and DuckDB all read as a timestamp.
const csvTime = "2006-01-02 15:04:05.000"

// usageCSVWriter writes the usage table as CSV (RFC 4180) with a header,
// its cells defused against spreadsheet formulas.
type usageCSVWriter struct {
	bw  *bufio.Writer
	w   *csv.Writer
	rec []string
}

func newUsageCSVWriter(w io.Writer) (*usageCSVWriter, error) {
	bw := bufio.NewWriterSize(w, 256<<10)
	c := &usageCSVWriter{bw: bw, w: csv.NewWriter(bw), rec: make([]string, len(Columns))}
	for i, col := range Columns {
		c.rec[i] = col.Name
	}
	if err := c.w.Write(c.rec); err != nil {
		return nil, fmt.Errorf("write CSV header: %w", err)
	}
	return c, nil
}

func (c *usageCSVWriter) add(q *store.Query) error {
	r := rowOf(q)
	ts := func(t *time.Time) string {
		if t == nil {
			return ""
		}
		return t.Format(csvTime)
	}
	i64 := func(v int64) string { return strconv.FormatInt(v, 10) }
	f64 := func(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
	s := usage.CSVCell
	copy(c.rec, []string{
		s(r.QueryID), s(r.Region), s(r.Account), s(r.User), s(r.Role), s(r.Team), s(r.PrincipalARN), s(r.Database), s(r.Workgroup),
		s(r.State), s(r.StatementType), i64(r.BytesScanned), i64(r.BilledBytes), f64(r.CostUSD), i64(r.EngineMs), f64(r.DPUHours),
		ts(r.SubmittedAt), ts(r.CompletedAt), s(r.Fingerprint), r.EventTime.Format(csvTime), s(r.QueryAccount),
		s(r.IdentityType), s(r.SourceIdentity), s(r.Catalog), s(r.StatsStatus), i64(r.TotalMs), i64(r.QueueMs), i64(r.PlanningMs),
		i64(r.ServiceProcessMs), strconv.FormatBool(r.Provisioned), f64(r.DPUCount), strconv.FormatBool(r.ReusedResult),
		s(r.EngineVersion), strconv.FormatBool(r.CostKnown), strconv.FormatInt(int64(r.ErrorCategory), 10),
	})
	if err := c.w.Write(c.rec); err != nil {
		return fmt.Errorf("write CSV row: %w", err)
	}
	return nil
}

func (c *usageCSVWriter) close() error {
	c.w.Flush()
	if err := c.w.Error(); err != nil {
		return fmt.Errorf("write CSV: %w", err)
	}
	if err := c.bw.Flush(); err != nil {
		return fmt.Errorf("write CSV: %w", err)
	}
	return nil
}

// APIOutputColumns are the seed's athena_api_output columns, in its order.
var APIOutputColumns = []Column{
	{"queryid", "string"}, {"querydatabase", "string"}, {"executiontime", "bigint"}, {"datascanned", "bigint"},
	{"status", "string"}, {"submissiondatetime", "string"}, {"completiondatetime", "string"},
}

// apiOutputWriter writes the seed's athena_api_output CSV as its
// collector did: comma-separated, no header, no quoting; executiontime is
// the engine time in ms, datascanned bytes, the times Python's str() of
// the SDK's datetime ("2026-11-03 09:15:02.345000+00:00"), and a value
// Athena did not give the text null. The seed's table reads it with
// LazySimpleSerDe, which knows no quoting: a comma or line break inside a
// value (a hostile database name) would shift columns or split the row, so
// each becomes a space. The seed's files ended with an empty line, which
// that table reads as a row of nulls; these do not.
type apiOutputWriter struct {
	w *bufio.Writer
}

func newAPIOutputWriter(w io.Writer) *apiOutputWriter {
	return &apiOutputWriter{w: bufio.NewWriterSize(w, 256<<10)}
}

var seedUnsafe = strings.NewReplacer(",", " ", "\n", " ", "\r", " ")

func (a *apiOutputWriter) add(q *store.Query) error {
	null := func(s string) string {
		if s == "" {
			return "null"
		}
		return seedUnsafe.Replace(s)
	}
	exec, scanned := "null", "null"
	if q.StatsStatus != store.StatusNoStats && q.Stats.State != "" {
		exec, scanned = strconv.FormatInt(q.Stats.EngineMs, 10), strconv.FormatInt(q.Stats.DataScannedBytes, 10)
	}
	_, err := fmt.Fprintf(a.w, "%s,%s,%s,%s,%s,%s,%s\n", null(q.QueryID), null(q.Stats.Database), exec, scanned,
		null(q.Stats.State), pythonTime(q.Stats.SubmittedAt), pythonTime(q.Stats.CompletedAt))
	return err
}

func (a *apiOutputWriter) close() error { return a.w.Flush() }

// pythonTime is str() of a UTC datetime in Python, as the seed wrote
// times: microseconds only when not zero; "null" for no time.
func pythonTime(t time.Time) string {
	if t.IsZero() {
		return "null"
	}
	t = t.UTC()
	if t.Nanosecond()/1000 == 0 {
		return t.Format("2006-01-02 15:04:05") + "+00:00"
	}
	return t.Format("2006-01-02 15:04:05.000000") + "+00:00"
}
