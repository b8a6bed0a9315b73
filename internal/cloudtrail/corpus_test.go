package cloudtrail

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata")

// corpusDir finds the shared conformance corpus: $ATHENAWATCH_CORPUS, or
// ../shared/corpus beside the module root (the directory holding go.mod).
func corpusDir(t testing.TB) string {
	t.Helper()
	dir := os.Getenv("ATHENAWATCH_CORPUS")
	if dir == "" {
		wd, err := os.Getwd()
		if err != nil {
			t.Fatal(err)
		}
		for d := wd; ; d = filepath.Dir(d) {
			if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
				dir = filepath.Join(d, "..", "shared", "corpus")
				break
			}
			if filepath.Dir(d) == d {
				break
			}
		}
	}
	if dir != "" {
		if _, err := os.Stat(filepath.Join(dir, "SOURCES.md")); err == nil {
			return dir
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("corpus not found (looked for %q); set ATHENAWATCH_CORPUS", dir)
	}
	t.Skipf("corpus not found (looked for %q); set ATHENAWATCH_CORPUS to run the conformance tests", dir)
	return ""
}

// corpusFiles lists every file under the corpus, slash-separated and sorted.
func corpusFiles(t testing.TB, dir string) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		files = append(files, filepath.ToSlash(rel))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(files)
	return files
}

// unwrapCorpus turns the corpus's [wrapped] NDJSON ({"_source":..,"record":{..}}
// or panther's {"_panther_...":..,"record":{..}}) into NDJSON of the records.
// Other inputs are returned as they are.
func unwrapCorpus(data []byte) ([]byte, bool) {
	first, _, _ := bytes.Cut(data, []byte("\n"))
	var probe map[string]json.RawMessage
	if json.Unmarshal(first, &probe) != nil || probe["record"] == nil {
		return data, false
	}
	if probe["_source"] == nil && probe["_panther_rule_file"] == nil {
		return data, false
	}
	var out bytes.Buffer
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var line struct {
			Record json.RawMessage `json:"record"`
		}
		if json.Unmarshal(sc.Bytes(), &line) != nil || line.Record == nil {
			out.Write(sc.Bytes()) // kept as is: the reader must cope
		} else {
			out.Write(line.Record)
		}
		out.WriteByte('\n')
	}
	return out.Bytes(), true
}

// corpusResult is what one corpus file gives.
type corpusResult struct {
	err    error
	events []string // "query ID user=U" or "rejected EVENTID user=U"
	st     FileStats
}

func readCorpusFile(t testing.TB, r *Reader, name string, data []byte) corpusResult {
	t.Helper()
	var res corpusResult
	rules := IdentityRules{}
	res.st, res.err = r.Read(context.Background(), name, bytes.NewReader(data), func(ev *QueryEvent) error {
		p := rules.ResolveEvent(ev)
		if ev.Rejected() {
			res.events = append(res.events, fmt.Sprintf("rejected %s user=%s role=%s account=%s", ev.EventID, p.User, p.Role, p.Account))
		} else {
			res.events = append(res.events, fmt.Sprintf("query %s user=%s role=%s account=%s", ev.QueryID, p.User, p.Role, p.Account))
		}
		return nil
	})
	return res
}

func (c corpusResult) golden(name string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n", name)
	if c.err != nil {
		kind := "error"
		if errors.Is(c.err, ErrDigest) {
			kind = "ignored"
		}
		fmt.Fprintf(&b, "  %s: %v\n", kind, c.err)
	}
	fmt.Fprintf(&b, "  format=%s records=%d athena=%d queries=%d rejected=%d insights=%d issues=%d\n",
		c.st.Format, c.st.Records, c.st.AthenaRecords, c.st.Queries, c.st.Rejected, c.st.Insights, len(c.st.Issues)+c.st.MoreIssues)
	for _, is := range c.st.Issues {
		fmt.Fprintf(&b, "  issue: %v\n", is)
	}
	for _, e := range c.events {
		fmt.Fprintf(&b, "  %s\n", e)
	}
	return b.String()
}

// invalidAsPublished lists the files SOURCES.md marks INVALID JSON.
func invalidAsPublished(t testing.TB, dir string) []string {
	t.Helper()
	src, err := os.ReadFile(filepath.Join(dir, "SOURCES.md"))
	if err != nil {
		t.Fatal(err)
	}
	var files []string
	row := regexp.MustCompile("^\\| `([^`]+)` \\|")
	for _, line := range strings.Split(string(src), "\n") {
		if m := row.FindStringSubmatch(line); m != nil && strings.Contains(line, "INVALID JSON") {
			files = append(files, m[1])
		}
	}
	return files
}

// TestCorpus reads every file of the shared corpus and compares what it
// gives with testdata/corpus.golden (go test -run TestCorpus -update).
func TestCorpus(t *testing.T) {
	t.Parallel()
	dir := corpusDir(t)
	files := corpusFiles(t, dir)
	r := NewReader(ReaderOptions{})
	tiny := NewReader(ReaderOptions{BufferBytes: 7})
	var golden strings.Builder
	results := map[string]corpusResult{}
	for _, name := range files {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		data, _ = unwrapCorpus(data)
		res := readCorpusFile(t, r, name, data)
		results[name] = res
		golden.WriteString(res.golden(name))

		if res.err != nil && !strings.Contains(res.err.Error(), name) {
			t.Errorf("%s: error does not name the file: %v", name, res.err)
		}
		if res.err != nil && !errors.Is(res.err, ErrBadInput) && !errors.Is(res.err, ErrDigest) {
			t.Errorf("%s: error is neither bad input nor ignored: %v", name, res.err)
		}
		// Record boundaries across tiny reads change nothing.
		if got := readCorpusFile(t, tiny, name, data); got.golden(name) != res.golden(name) {
			t.Errorf("%s: 7-byte reads give\n%s\nwant\n%s", name, got.golden(name), res.golden(name))
		}
	}

	goldenPath := filepath.Join("testdata", "corpus.golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(goldenPath, []byte(golden.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(goldenPath)
	if err != nil {
		t.Fatalf("%v (run go test -run TestCorpus -update)", err)
	}
	if golden.String() != string(want) {
		t.Errorf("corpus results differ from %s (go test -run TestCorpus -update, then review the diff):\n%s", goldenPath, firstDiff(golden.String(), string(want)))
	}

	t.Run("invalid as published", func(t *testing.T) {
		invalid := invalidAsPublished(t, dir)
		if len(invalid) < 5 {
			t.Fatalf("SOURCES.md lists %d invalid files; the table format changed?", len(invalid))
		}
		for _, name := range invalid {
			res, ok := results[name]
			if !ok {
				t.Errorf("%s: listed in SOURCES.md but not in the corpus", name)
				continue
			}
			if !errors.Is(res.err, ErrBadInput) || !strings.Contains(res.err.Error(), name) {
				t.Errorf("%s: INVALID JSON as published, but Read gave %v", name, res.err)
			}
		}
	})

	t.Run("query events", func(t *testing.T) {
		const (
			johndoe   = "user=johndoe role= account=123456789012"
			succeeded = "query b621c254-74e0-48e3-9630-78ed857782f9 " + johndoe
			failed    = "rejected 6e1fc69b-d076-477e-8dec-024ee51488c4 " + johndoe
			panther   = "query fc62d701-d474-46a4-b6cf-de6bafdbdb3c user=example-role role=example-role account=123456789012"
		)
		want := map[string][]string{
			"aws-docs/athena-user-guide-2019/monitor-with-cloudtrail@92c9cc6__StartQueryExecution-successful__query-key.json": {succeeded},
			"aws-docs/athena-user-guide-2019/monitor-with-cloudtrail@92c9cc6__StartQueryExecution-failed__query-key.json":     {failed},
			"aws-docs/athena-user-guide-current/monitor-with-cloudtrail__StartQueryExecution-successful__OMITTED.json":        {succeeded},
			"aws-docs/athena-user-guide-current/monitor-with-cloudtrail__StartQueryExecution-failed__OMITTED.json":            {failed},
			"aws-docs/athena-user-guide/monitor-with-cloudtrail__StartQueryExecution-successful.json":                         {succeeded},
			"aws-docs/athena-user-guide/monitor-with-cloudtrail__StartQueryExecution-failed.json":                             {failed},
			"cloudtrail/panther-analysis/panther-analysis_cloudtrail_test_logs.ndjson":                                        {panther},
			"athena-cloudtrail-events/all-athena-cloudtrail-events.ndjson":                                                    {failed, succeeded, failed, succeeded, failed, succeeded, panther},
		}
		got := map[string][]string{}
		for name, res := range results {
			if len(res.events) > 0 {
				got[name] = res.events
			}
		}
		for name, w := range want {
			if fmt.Sprint(got[name]) != fmt.Sprint(w) {
				t.Errorf("%s:\n got %q\nwant %q", name, got[name], w)
			}
		}
		for name, g := range got {
			if want[name] == nil {
				t.Errorf("%s: unexpected query events %q", name, g)
			}
		}
	})

	t.Run("non-record files read or rejected cleanly", func(t *testing.T) {
		for name, res := range results {
			if !strings.HasPrefix(name, "notifications/") && !strings.HasPrefix(name, "models/") && !strings.HasPrefix(name, "athena-api-responses/") {
				continue
			}
			if len(res.events) != 0 {
				t.Errorf("%s: %d query events from a file that holds no records", name, len(res.events))
			}
		}
	})
}

// firstDiff shows where two multi-line texts first differ.
func firstDiff(got, want string) string {
	g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
	for i := 0; i < len(g) || i < len(w); i++ {
		var gl, wl string
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if gl != wl {
			return fmt.Sprintf("line %d:\n got: %s\nwant: %s", i+1, gl, wl)
		}
	}
	return ""
}
