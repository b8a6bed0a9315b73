package lake

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// duckResult is one statement's answer from DuckDB: every value as text.
type duckResult struct {
	Columns []string             `json:"columns"`
	Types   []string             `json:"types"`
	Rows    []map[string]*string `json:"rows"`
}

// duckdb runs statements in DuckDB (the @duckdb/node-api package that
// make tools installs under testdata/duckdb) and returns their answers.
// Under CI a missing Node.js or package fails the test.
func duckdb(t *testing.T, statements ...string) []duckResult {
	t.Helper()
	dir, err := filepath.Abs(filepath.Join("testdata", "duckdb"))
	if err != nil {
		t.Fatal(err)
	}
	node, err := exec.LookPath("node")
	_, modErr := os.Stat(filepath.Join(dir, "node_modules", "@duckdb", "node-api"))
	if err != nil || modErr != nil {
		msg := "DuckDB for Node.js is missing: run make tools (npm ci --prefix internal/lake/testdata/duckdb)"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	in, err := json.Marshal(statements)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(node, filepath.Join(dir, "query.mjs"))
	cmd.Dir = dir
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("duckdb: %v\n%s", err, stderr.String())
	}
	var res []duckResult
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("duckdb output: %v\n%s", err, out)
	}
	return res
}
