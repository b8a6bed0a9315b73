// Package duckdb runs SQL in DuckDB for tests: the usage lake's tests have
// a second engine, not written here, read what export writes. DuckDB comes
// from npm (@duckdb/node-api, pinned in node/package-lock.json), which
// make tools installs; it runs under Node.js.
package duckdb

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
)

// Result is one statement's answer: its column names and DuckDB types,
// and its rows with every value as text (nil for NULL), so that 64-bit
// integers and doubles arrive exactly.
type Result struct {
	Columns []string             `json:"columns"`
	Types   []string             `json:"types"`
	Rows    []map[string]*string `json:"rows"`
}

// Query runs statements in one in-memory DuckDB and returns their answers.
// Under CI a missing Node.js or package fails the test; elsewhere the test
// is skipped.
func Query(t testing.TB, statements ...string) []Result {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	dir := filepath.Join(filepath.Dir(file), "node")
	node, err := exec.LookPath("node")
	_, modErr := os.Stat(filepath.Join(dir, "node_modules", "@duckdb", "node-api"))
	if err != nil || modErr != nil {
		msg := "DuckDB for Node.js is missing: run make tools (npm ci --prefix internal/duckdb/node)"
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
	var res []Result
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("duckdb output: %v\n%s", err, out)
	}
	return res
}
