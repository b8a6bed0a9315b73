package lake

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/athenawatch/athenawatch/internal/duckdb"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func TestDDLGolden(t *testing.T) {
	for _, c := range []struct {
		name string
		o    DDLOptions
	}{
		{"account-trail", DDLOptions{Location: "s3://usage-lake/athenawatch/", Trail: "s3://trail-bucket/logs",
			Accounts: []string{"222222222222", "111111111111", "111111111111"}, Regions: []string{"us-east-1", "eu-west-1"}, From: "2026-10-01"}},
		{"organization-trail", DDLOptions{Location: "s3://usage-lake", Trail: "s3://org-trail/AWSLogs/o-a1b2c3d4e5",
			Accounts: []string{"111111111111", "not-an-account"}, Regions: []string{"us-east-1", "eu-west-1'; DROP TABLE x; --"}}},
		{"placeholders", DDLOptions{}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := DDL(c.o)
			if err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join("testdata", "ddl", c.name+".sql")
			if *update {
				if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if got != string(want) {
				t.Errorf("DDL differs from %s (go test -update to accept):\n%s", golden, got)
			}
		})
	}
}

func TestDDLRefusesUnquotable(t *testing.T) {
	for _, o := range []DDLOptions{
		{Location: "s3://bucket/it's"},
		{Location: "https://bucket/x"},
		{Trail: "s3://bucket/${x}"},
		{Trail: "s3://"},
		{Location: "s3://b/p?x=1"},
	} {
		if _, err := DDL(o); err == nil {
			t.Errorf("DDL(%+v) accepted", o)
		}
	}
}

// tableColumns reads the columns of table's CREATE statement in ddl.
func tableColumns(t *testing.T, ddl, table string) []Column {
	t.Helper()
	m := regexp.MustCompile(`(?s)CREATE EXTERNAL TABLE IF NOT EXISTS ` + table + ` \((.*?)\)\nPARTITIONED BY`).FindStringSubmatch(ddl)
	if m == nil {
		t.Fatalf("no table %s in the DDL", table)
	}
	var cols []Column
	for _, line := range strings.Split(m[1], "\n") {
		line = strings.TrimSuffix(strings.TrimSpace(line), ",")
		if line == "" {
			continue
		}
		name, typ, ok := strings.Cut(line, " ")
		if !ok {
			t.Fatalf("column line %q", line)
		}
		cols = append(cols, Column{strings.Trim(name, "`"), strings.ToLower(typ)})
	}
	return cols
}

// TestDDLUsageTableReadsTheExport holds the usage table's DDL to what
// DuckDB reads from the exported Parquet: the same columns, in the same
// order, with the same types; and the seed's table to the seed's columns.
func TestDDLUsageTableReadsTheExport(t *testing.T) {
	t.Parallel()
	ddl, err := os.ReadFile(filepath.Join("testdata", "ddl", "account-trail.sql"))
	if err != nil {
		t.Fatal(err)
	}
	f := newFixture(t)
	f.add(10, 0, 1)
	dir := t.TempDir()
	f.export(Dir{Path: dir}, FormatParquet)
	res := duckdb.Query(t, fmt.Sprintf(`DESCRIBE SELECT * FROM read_parquet('%s', hive_partitioning = true)`, filepath.Join(dir, UsageTable, "*", "*.parquet")))[0]
	cols := tableColumns(t, string(ddl), "athenawatch_usage")
	if len(res.Rows) != len(cols)+1 {
		t.Fatalf("DuckDB reads %d columns, the DDL has %d and dt", len(res.Rows), len(cols))
	}
	for i, c := range cols {
		name, typ := *res.Rows[i]["column_name"], *res.Rows[i]["column_type"]
		if name != c.Name || typ != duckType[c.Type] {
			t.Errorf("column %d: the DDL says %s %s, DuckDB reads %s %s", i, c.Name, c.Type, name, typ)
		}
	}
	seed := tableColumns(t, string(ddl), "athena_api_output")
	if len(seed) != len(seedColumns) {
		t.Fatalf("athena_api_output: %v", seed)
	}
	for i, c := range seed {
		if c.Name != seedColumns[i] || c.Type != APIOutputColumns[i].Type {
			t.Errorf("athena_api_output column %d: %v, the seed's is %s %s", i, c, seedColumns[i], APIOutputColumns[i].Type)
		}
	}
}
