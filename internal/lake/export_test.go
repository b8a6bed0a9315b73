package lake

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/athenawatch/athenawatch/internal/cloudtrail"
	"github.com/athenawatch/athenawatch/internal/config"
	"github.com/athenawatch/athenawatch/internal/duckdb"
	"github.com/athenawatch/athenawatch/internal/store"
	"github.com/athenawatch/athenawatch/internal/usage"
)

var firstDay = time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)

// fixture is a store of queries of every kind the lake must carry:
// succeeded, failed and cancelled; DML, DDL and UTILITY; reused results;
// provisioned capacity; statistics pending or lost; and names that are
// hostile to CSV, SQL and spreadsheets.
type fixture struct {
	t     testing.TB
	st    *store.Store
	rules *usage.Rules
	cfg   *config.Config
	rng   *rand.Rand
	n     int
}

const fixtureConfig = `
pricing:
  provisioned_workgroups: [reserved]
`

func newFixture(t testing.TB) *fixture {
	t.Helper()
	cfg, err := config.Parse([]byte(fixtureConfig))
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "lake.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return &fixture{t: t, st: st, rules: usage.NewRules(cfg), cfg: cfg, rng: rand.New(rand.NewPCG(14, 14))}
}

var (
	fixtureUsers     = []string{"alice", "bob", "zoë", "o'brien", "eve,\"x\"\n=cmd()", "@admin"}
	fixtureDatabases = []string{"sales", "finance", "a,b", "weird\"db", "", "<script>"}
)

// query makes one query on day d (0-based from firstDay).
func (f *fixture) query(d int) store.Query {
	f.n++
	id := fmt.Sprintf("%08x-0000-4000-8000-%012d", f.n, f.n)
	at := firstDay.AddDate(0, 0, d).Add(time.Duration(f.rng.IntN(86400)) * time.Second).Add(time.Duration(f.rng.IntN(1000)) * time.Millisecond)
	user := fixtureUsers[f.rng.IntN(len(fixtureUsers))]
	db := fixtureDatabases[f.rng.IntN(len(fixtureDatabases))]
	wg := "primary"
	if f.rng.IntN(8) == 0 {
		wg = "reserved"
	}
	region := []string{"us-east-1", "eu-west-1"}[f.rng.IntN(2)]
	q := store.Query{
		Region: region, QueryID: id, EventID: "e-" + id, EventTime: at, OwnerAccount: "111111111111", StatsStatus: store.StatusFinal,
		Identity:   cloudtrail.Identity{Type: "IAMUser", UserName: user, AccountID: "111111111111", ARN: "arn:aws:iam::111111111111:user/" + user},
		CTDatabase: db, CTWorkgroup: wg,
		Stats: store.Stats{
			State:         []string{"SUCCEEDED", "SUCCEEDED", "SUCCEEDED", "FAILED", "CANCELLED"}[f.rng.IntN(5)],
			StatementType: []string{"DML", "DML", "DML", "DDL", "UTILITY"}[f.rng.IntN(5)],
			Database:      db, Catalog: "AwsDataCatalog", Workgroup: wg, QueryText: "SELECT * FROM t WHERE x = " + strconv.Itoa(f.n),
			DataScannedBytes: f.rng.Int64N(1 << 40), EngineMs: f.rng.Int64N(600000), TotalMs: f.rng.Int64N(700000),
			SubmittedAt: at.Add(time.Duration(f.rng.IntN(900)) * time.Millisecond), EngineVersion: "Athena engine version 3",
		},
	}
	q.Stats.CompletedAt = q.Stats.SubmittedAt.Add(time.Duration(q.Stats.TotalMs) * time.Millisecond)
	if wg == "reserved" {
		q.Stats.DPUCount = float64(4 + f.rng.IntN(60))
	}
	switch f.rng.IntN(12) {
	case 0:
		q.StatsStatus, q.Stats = store.StatusPending, store.Stats{}
	case 1:
		q.StatsStatus, q.Stats = store.StatusNoStats, store.Stats{}
	case 2:
		q.Stats.ReusedResult = true
	}
	f.rules.Query(&q)
	return q
}

// add stores n queries on each of days.
func (f *fixture) add(n int, days ...int) []store.Query {
	f.t.Helper()
	var qs []store.Query
	for _, d := range days {
		for range n {
			qs = append(qs, f.query(d))
		}
	}
	if _, err := f.st.Commit(context.Background(), &store.Batch{Queries: qs}); err != nil {
		f.t.Fatal(err)
	}
	return qs
}

func (f *fixture) export(target Target, format string) Summary {
	f.t.Helper()
	e := &Exporter{Store: f.st, Target: target, Format: format}
	sum, err := e.Export(context.Background(), "", "")
	if err != nil {
		f.t.Fatalf("export: %v (%+v)", err, sum)
	}
	return sum
}

// report is the store's report by dimension, as report --format json
// prints it: key → metric → value.
func (f *fixture) report(by string) map[string]map[string]float64 {
	f.t.Helper()
	rep, err := usage.BuildReport(context.Background(), f.st, f.rules, usage.PricesOf(f.cfg), usage.ReportOptions{By: by})
	if err != nil {
		f.t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := rep.Write(&buf, "json"); err != nil {
		f.t.Fatal(err)
	}
	var rows []map[string]any
	if err := json.Unmarshal(buf.Bytes(), &rows); err != nil {
		f.t.Fatal(err)
	}
	out := map[string]map[string]float64{}
	for _, r := range rows {
		m := map[string]float64{}
		for _, k := range []string{"queries", "bytes_scanned", "billed_bytes", "cost_usd"} {
			v, _ := r[k].(float64)
			m[k] = v
		}
		out[r[by].(string)] = m
	}
	return out
}

func num(t *testing.T, s *string) float64 {
	t.Helper()
	if s == nil {
		return 0
	}
	v, err := strconv.ParseFloat(*s, 64)
	if err != nil {
		t.Fatalf("number %q: %v", *s, err)
	}
	return v
}

// checkSums has DuckDB read the Parquet lake under dir and holds its
// per-user and per-database sums equal to the store's report: queries,
// bytes scanned and billed to the byte, cost to the cent.
func checkSums(t *testing.T, f *fixture, dir string) {
	t.Helper()
	glob := filepath.Join(dir, UsageTable, "*", "*.parquet")
	for _, by := range []string{"user", "database"} {
		want := f.report(by)
		res := duckdb.Query(t, fmt.Sprintf(`SELECT "%s" AS k, count(*) AS queries, sum(bytes_scanned) AS bytes_scanned, sum(billed_bytes) AS billed_bytes, sum(cost_usd) AS cost_usd
			FROM read_parquet('%s', hive_partitioning = true) GROUP BY 1`, by, glob))[0]
		if len(res.Rows) != len(want) {
			t.Fatalf("by %s: DuckDB has %d keys, the store %d", by, len(res.Rows), len(want))
		}
		for _, r := range res.Rows {
			k := *r["k"]
			w, ok := want[k]
			if !ok {
				t.Fatalf("by %s: DuckDB key %q not in the store's report", by, k)
			}
			for _, m := range []string{"queries", "bytes_scanned", "billed_bytes"} {
				if got := num(t, r[m]); got != w[m] {
					t.Errorf("by %s %q: %s = %v in DuckDB, %v in the store", by, k, m, got, w[m])
				}
			}
			if got := num(t, r["cost_usd"]); math.Round(got*100) != math.Round(w["cost_usd"]*100) {
				t.Errorf("by %s %q: cost_usd = %.6f in DuckDB, %.6f in the store", by, k, got, w["cost_usd"])
			}
		}
	}
}

// duckType is the DuckDB type of an Athena column type.
var duckType = map[string]string{
	"string": "VARCHAR", "bigint": "BIGINT", "double": "DOUBLE", "timestamp": "TIMESTAMP", "boolean": "BOOLEAN", "int": "INTEGER",
}

func TestExportParquetReadByDuckDB(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.add(60, 0, 1, 2, 3, 4)
	dir := t.TempDir()
	sum := f.export(Dir{Path: dir}, FormatParquet)
	if sum.Written != 5 || sum.Rows != 300 || sum.Days != 5 {
		t.Fatalf("summary %+v", sum)
	}
	checkSums(t, f, dir)

	// Column types: as Columns (the DDL's) say, and dt from the path.
	res := duckdb.Query(t, fmt.Sprintf(`DESCRIBE SELECT * FROM read_parquet('%s', hive_partitioning = true)`, filepath.Join(dir, UsageTable, "*", "*.parquet")))[0]
	if len(res.Rows) != len(Columns)+1 {
		t.Fatalf("DuckDB sees %d columns, want %d and dt", len(res.Rows), len(Columns))
	}
	for i, c := range Columns {
		name, typ := *res.Rows[i]["column_name"], *res.Rows[i]["column_type"]
		if name != c.Name || typ != duckType[c.Type] {
			t.Errorf("column %d: DuckDB reads %s %s, want %s %s", i, name, typ, c.Name, duckType[c.Type])
		}
	}
	if last := res.Rows[len(Columns)]; *last["column_name"] != "dt" {
		t.Errorf("partition column: %s", *last["column_name"])
	}

	// Every value of one query: hostile text intact, times UTC, nulls
	// where Athena gave no time.
	res = duckdb.Query(t, fmt.Sprintf(`SELECT query_id, "user", database, strftime(event_time, '%%Y-%%m-%%d %%H:%%M:%%S.%%g') AS event_time, submitted_at IS NULL AS no_submit, cost_known, dt
		FROM read_parquet('%s', hive_partitioning = true) ORDER BY query_id`, filepath.Join(dir, UsageTable, "*", "*.parquet")))[0]
	var stored []store.Query
	for _, d := range []string{"2026-11-20", "2026-11-21", "2026-11-22", "2026-11-23", "2026-11-24"} {
		if _, err := f.st.DayQueries(context.Background(), d, func(q *store.Query) error { stored = append(stored, *q); return nil }); err != nil {
			t.Fatal(err)
		}
	}
	byID := map[string]store.Query{}
	for _, q := range stored {
		byID[q.QueryID] = q
	}
	if len(res.Rows) != len(stored) {
		t.Fatalf("%d rows, %d stored", len(res.Rows), len(stored))
	}
	for _, r := range res.Rows {
		q := byID[*r["query_id"]]
		if *r["user"] != q.User || *r["database"] != q.Database || *r["dt"] != store.Day(q.EventTime) ||
			*r["event_time"] != q.EventTime.UTC().Format("2006-01-02 15:04:05.000") ||
			(*r["no_submit"] == "true") != q.Stats.SubmittedAt.IsZero() || (*r["cost_known"] == "true") != (q.StatsStatus == store.StatusFinal) {
			t.Fatalf("row %v, stored %+v", r, q)
		}
	}
}

// mtimes maps every file under dir to its modification time and size.
func mtimes(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		out[p] = fmt.Sprint(fi.ModTime().UnixNano(), fi.Size())
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestExportIncremental(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.add(20, 0, 1, 2)
	dir := t.TempDir()
	for _, format := range []string{FormatParquet, FormatCSV} {
		f.export(Dir{Path: dir}, format)
	}
	before := mtimes(t, dir)
	for _, format := range []string{FormatParquet, FormatCSV} {
		if sum := f.export(Dir{Path: dir}, format); sum.Written != 0 || sum.Unchanged != 3 {
			t.Fatalf("re-export with no new data (%s): %+v", format, sum)
		}
	}
	if after := mtimes(t, dir); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Fatalf("re-export with no new data changed files:\nbefore %v\nafter  %v", before, after)
	}

	// One new query rewrites exactly its day's partition.
	f.add(1, 1)
	if sum := f.export(Dir{Path: dir}, FormatParquet); sum.Written != 1 || sum.Unchanged != 2 || sum.Rows != 21 {
		t.Fatalf("one new query: %+v", sum)
	}
	after := mtimes(t, dir)
	changed := 0
	for p, m := range after {
		if before[p] != m {
			changed++
			if !strings.Contains(p, "dt=2026-11-21") || !strings.HasSuffix(p, ".parquet") {
				t.Errorf("changed: %s", p)
			}
		}
	}
	if changed != 1 {
		t.Errorf("%d files changed, want 1", changed)
	}
	checkSums(t, f, dir)

	// Enrichment of a pending query changes its day; an update that
	// changes no exported column (another ask of a query still running)
	// does not.
	var pending store.Query
	for d := range 3 {
		f.st.DayQueries(context.Background(), firstDay.AddDate(0, 0, d).Format(time.DateOnly), func(q *store.Query) error {
			if q.StatsStatus == store.StatusPending && pending.QueryID == "" {
				pending = *q
			}
			return nil
		})
	}
	if pending.QueryID == "" {
		t.Fatal("the fixture has no pending query")
	}
	still := pending
	still.AskAttempts++
	still.LastAsked = time.Now()
	if err := f.st.UpdateQueries(context.Background(), []store.Query{still}); err != nil {
		t.Fatal(err)
	}
	if sum := f.export(Dir{Path: dir}, FormatParquet); sum.Written != 0 {
		t.Fatalf("an ask that changed nothing exported: %+v", sum)
	}
	done := pending
	done.StatsStatus = store.StatusFinal
	done.Stats = store.Stats{State: "SUCCEEDED", StatementType: "DML", DataScannedBytes: 12345678, EngineMs: 100, Workgroup: "primary"}
	f.rules.Query(&done)
	if err := f.st.UpdateQueries(context.Background(), []store.Query{done}); err != nil {
		t.Fatal(err)
	}
	if sum := f.export(Dir{Path: dir}, FormatParquet); sum.Written != 1 {
		t.Fatalf("an enriched query: %+v", sum)
	}
	checkSums(t, f, dir)
}

// failingTarget is a target that fails (as a killed process stops) at
// its nth Put.
type failingTarget struct {
	Dir
	n    int
	mu   sync.Mutex
	puts int
}

var errKilled = errors.New("killed")

func (ft *failingTarget) Put(ctx context.Context, key string, f *os.File, size int64) error {
	ft.mu.Lock()
	ft.puts++
	fail := ft.puts == ft.n
	ft.mu.Unlock()
	if fail {
		// Half the object reaches the temporary file, then the process
		// dies: nothing is renamed.
		tmp, err := os.CreateTemp(filepath.Dir(ft.Location(key)), "."+filepath.Base(key)+".tmp-*")
		if err == nil {
			tmp.Write([]byte("PAR1 half"))
			tmp.Close()
		}
		return errKilled
	}
	return ft.Dir.Put(ctx, key, f, size)
}

func TestExportInterruptedLeavesPartitionsWhole(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.add(30, 0, 1, 2, 3)
	dir := t.TempDir()
	f.export(Dir{Path: dir}, FormatParquet)
	// Every day changes; the export dies at its third partition.
	f.add(5, 0, 1, 2, 3)
	e := &Exporter{Store: f.st, Target: &failingTarget{Dir: Dir{Path: dir}, n: 3}, Format: FormatParquet}
	sum, err := e.Export(context.Background(), "", "")
	if err == nil || len(sum.Failed) != 1 || sum.Written != 3 {
		t.Fatalf("interrupted export: %v %+v", err, sum)
	}
	// Every partition is whole: DuckDB reads each, with the old or the new
	// rows, never part of either.
	res := duckdb.Query(t, fmt.Sprintf(`SELECT dt, count(*) AS n FROM read_parquet('%s', hive_partitioning = true) GROUP BY dt ORDER BY dt`, filepath.Join(dir, UsageTable, "*", "*.parquet")))[0]
	if len(res.Rows) != 4 {
		t.Fatalf("partitions: %v", res.Rows)
	}
	for _, r := range res.Rows {
		if n := *r["n"]; n != "30" && n != "35" {
			t.Errorf("partition %s holds %s rows: neither the old 30 nor the new 35", *r["dt"], n)
		}
	}
	// The next run writes only what the killed one did not, and then the
	// lake equals the store.
	sum = f.export(Dir{Path: dir}, FormatParquet)
	if sum.Written != 1 || sum.Unchanged != 3 {
		t.Fatalf("re-run: %+v", sum)
	}
	checkSums(t, f, dir)
}

// seedColumns are the seed's athena_api_output columns, in its order.
var seedColumns = []string{"queryid", "querydatabase", "executiontime", "datascanned", "status", "submissiondatetime", "completiondatetime"}

func TestExportCSV(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	qs := f.add(40, 0, 1)
	dir := t.TempDir()
	sum := f.export(Dir{Path: dir}, FormatCSV)
	if sum.Written != 2 || sum.Rows != 80 {
		t.Fatalf("summary %+v", sum)
	}
	for i, c := range APIOutputColumns {
		if c.Name != seedColumns[i] {
			t.Fatalf("athena_api_output column %d is %s, the seed's is %s", i, c.Name, seedColumns[i])
		}
	}
	byID := map[string]store.Query{}
	for _, q := range qs {
		byID[q.QueryID] = q
	}
	// The seed's layout: seven comma-separated fields a line, no header,
	// no quoting, null for what Athena did not give.
	rows := 0
	for _, day := range []string{"2026-11-20", "2026-11-21"} {
		data, err := os.ReadFile(filepath.Join(dir, APIOutputTable, "dt="+day, APIOutputTable+".csv"))
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(strings.TrimSuffix(string(data), "\n"), "\n") {
			rows++
			fields := strings.Split(line, ",")
			if len(fields) != len(seedColumns) {
				t.Fatalf("line %q: %d fields", line, len(fields))
			}
			q, ok := byID[fields[0]]
			if !ok {
				t.Fatalf("line %q: unknown query", line)
			}
			wantScanned := "null"
			if q.StatsStatus == store.StatusFinal {
				wantScanned = strconv.FormatInt(q.Stats.DataScannedBytes, 10)
			}
			if fields[3] != wantScanned || fields[2] == "" {
				t.Errorf("line %q: datascanned %s, want %s", line, fields[3], wantScanned)
			}
			if q.StatsStatus == store.StatusFinal && fields[5] != pythonTime(q.Stats.SubmittedAt) {
				t.Errorf("line %q: submissiondatetime, want %s", line, pythonTime(q.Stats.SubmittedAt))
			}
		}
	}
	if rows != 80 {
		t.Fatalf("%d rows", rows)
	}
	// The seed's DDL reads it: DuckDB with the same columns and types.
	res := duckdb.Query(t, fmt.Sprintf(`SELECT count(*) AS n, sum(datascanned) AS b FROM read_csv('%s', header = false, delim = ',', quote = '', escape = '', nullstr = 'null',
		columns = {'queryid': 'VARCHAR', 'querydatabase': 'VARCHAR', 'executiontime': 'BIGINT', 'datascanned': 'BIGINT', 'status': 'VARCHAR', 'submissiondatetime': 'VARCHAR', 'completiondatetime': 'VARCHAR'})`,
		filepath.Join(dir, APIOutputTable, "*", "*.csv")))[0]
	var want int64
	for _, q := range qs {
		if q.StatsStatus == store.StatusFinal {
			want += q.Stats.DataScannedBytes
		}
	}
	if *res.Rows[0]["n"] != "80" || *res.Rows[0]["b"] != strconv.FormatInt(want, 10) {
		t.Fatalf("DuckDB reads %v, want 80 rows and %d bytes", res.Rows[0], want)
	}

	// The usage CSV: a header of Columns, and cells defused.
	data, err := os.ReadFile(filepath.Join(dir, UsageCSVTable, "dt=2026-11-20", UsageCSVTable+".csv"))
	if err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(bytes.NewReader(data)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range Columns {
		if recs[0][i] != c.Name {
			t.Fatalf("header %v", recs[0])
		}
	}
	for _, r := range recs[1:] {
		for _, cell := range r {
			if cell != "" && strings.ContainsRune("=+@", rune(cell[0])) {
				t.Errorf("cell %q can run as a formula", cell)
			}
		}
	}
}

func TestPythonTime(t *testing.T) {
	for _, c := range []struct {
		t    time.Time
		want string
	}{
		{time.Time{}, "null"},
		{time.Date(2026, 11, 3, 9, 15, 2, 0, time.UTC), "2026-11-03 09:15:02+00:00"},
		{time.Date(2026, 11, 3, 9, 15, 2, 345e6, time.UTC), "2026-11-03 09:15:02.345000+00:00"},
		{time.Date(2026, 11, 3, 10, 15, 2, 345e6, time.FixedZone("CET", 3600)), "2026-11-03 09:15:02.345000+00:00"},
	} {
		if got := pythonTime(c.t); got != c.want {
			t.Errorf("pythonTime(%v) = %q, want %q", c.t, got, c.want)
		}
	}
}
