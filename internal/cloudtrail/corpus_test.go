package cloudtrail_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/athenawatch/athenawatch/internal/cloudtrail"
	"github.com/athenawatch/athenawatch/internal/config"
	"github.com/athenawatch/athenawatch/internal/source"
	dirsource "github.com/athenawatch/athenawatch/internal/source/dir"
	"github.com/athenawatch/athenawatch/internal/store"
	"github.com/athenawatch/athenawatch/internal/usage"
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

// corpusResult is what one corpus file gives: what the reader says of it,
// and what collect would store from it.
type corpusResult struct {
	err   error // the reader's
	st    cloudtrail.FileStats
	ids   []string // the reader's events: "q:ID" or "r:EVENTID"
	sum   *source.Summary
	batch store.Batch
}

// readCorpusFile reads one corpus file with the reader alone.
func readCorpusFile(t testing.TB, r *cloudtrail.Reader, name string, data []byte) corpusResult {
	t.Helper()
	var res corpusResult
	res.st, res.err = r.Read(context.Background(), name, bytes.NewReader(data), func(ev *cloudtrail.QueryEvent) error {
		if ev.Rejected() {
			res.ids = append(res.ids, "r:"+ev.EventID)
		} else {
			res.ids = append(res.ids, "q:"+ev.QueryID)
		}
		return nil
	})
	return res
}

// collectCorpusFile puts one corpus file, under its corpus name, in a
// directory of its own and collects it as `collect --source dir:` does: the
// dir source and its reader, the collector, the identity and team rules of
// rules.
func collectCorpusFile(t testing.TB, rules *usage.Rules, name string, data []byte, res *corpusResult) {
	t.Helper()
	root := t.TempDir()
	p := filepath.Join(root, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "corpus.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	col := &source.Collector{Store: st, Rules: rules}
	src := &dirsource.Source{Root: root, Workers: 1}
	sum, err := col.Collect(context.Background(), src)
	if err != nil {
		t.Fatalf("collect %s: %v", name, err)
	}
	res.sum = sum
	// What collect stored, read back.
	if res.batch.Queries, err = st.QueriesAfter(context.Background(), "", "", 1<<20); err != nil {
		t.Fatal(err)
	}
	if res.batch.Rejected, err = st.RejectedAfter(context.Background(), "", 1<<20); err != nil {
		t.Fatal(err)
	}
	cps, err := st.Checkpoints(context.Background(), src.Name())
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range slices.Sorted(maps.Keys(cps)) {
		res.batch.Checkpoints = append(res.batch.Checkpoints, cps[name])
	}
}

// rows are the stored rows collect derives from the file, one a line.
func (c corpusResult) rows() []string {
	var rows []string
	for _, q := range c.batch.Queries {
		rows = append(rows, fmt.Sprintf("query %s region=%s user=%s role=%s account=%s team=%s database=%s workgroup=%s",
			q.QueryID, q.Region, q.User, q.Role, q.Account, q.Team, q.Database, q.Workgroup))
	}
	for _, r := range c.batch.Rejected {
		rows = append(rows, fmt.Sprintf("rejected %s region=%s user=%s role=%s account=%s team=%s error=%s",
			r.EventID, r.Region, r.User, r.Role, r.Account, r.Team, r.ErrorCode))
	}
	return rows
}

func (c corpusResult) golden(name string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n", name)
	fmt.Fprintf(&b, "  read: format=%s records=%d athena=%d queries=%d rejected=%d insights=%d issues=%d\n",
		c.st.Format, c.st.Records, c.st.AthenaRecords, c.st.Queries, c.st.Rejected, c.st.Insights, len(c.st.Issues)+c.st.MoreIssues)
	switch {
	case len(c.batch.Checkpoints) == 1:
		cp := c.batch.Checkpoints[0]
		fmt.Fprintf(&b, "  collect: checkpoint %s, %d events", cp.Status, cp.Queries)
		if cp.Status == store.CheckpointIgnored {
			fmt.Fprintf(&b, ": %s", cp.Detail)
		}
		b.WriteString("\n")
	case c.sum.Ignored == 1:
		b.WriteString("  collect: ignored, not a trail file by name\n")
		if c.err != nil {
			fmt.Fprintf(&b, "  read error: %v\n", c.err)
		}
	default:
		fmt.Fprintf(&b, "  collect: %d checkpoints, %d ignored\n", len(c.batch.Checkpoints), c.sum.Ignored)
	}
	for _, sk := range c.sum.Skipped {
		if sk.Record >= 0 {
			fmt.Fprintf(&b, "  skipped record %d: %s\n", sk.Record, sk.Reason)
		} else {
			fmt.Fprintf(&b, "  skipped: %s\n", sk.Reason)
		}
	}
	if c.sum.MoreSkipped > 0 {
		fmt.Fprintf(&b, "  skipped %d more records\n", c.sum.MoreSkipped)
	}
	for _, r := range c.rows() {
		fmt.Fprintf(&b, "  %s\n", r)
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

// TestCorpus collects every file of the shared corpus as `collect --source
// dir:` does (the dir source, the reader, the collector and the identity
// and team rules) and compares what it would store, with what the reader
// says of each file, with testdata/corpus.golden (go test -run TestCorpus
// -update).
func TestCorpus(t *testing.T) {
	t.Parallel()
	dir := corpusDir(t)
	files := corpusFiles(t, dir)
	r := cloudtrail.NewReader(cloudtrail.ReaderOptions{})
	tiny := cloudtrail.NewReader(cloudtrail.ReaderOptions{BufferBytes: 7})
	// A team rule, so that the golden results show teams derived too.
	cfgPath := filepath.Join(t.TempDir(), "athenawatch.yaml")
	if err := os.WriteFile(cfgPath, []byte("teams:\n  - {name: docs-examples, users: [johndoe]}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	rules := usage.NewRules(cfg)
	var golden strings.Builder
	results := map[string]corpusResult{}
	for _, name := range files {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		data, _ = unwrapCorpus(data)
		res := readCorpusFile(t, r, name, data)
		collectCorpusFile(t, rules, name, data, &res)
		results[name] = res
		golden.WriteString(res.golden(name))

		if res.err != nil && !strings.Contains(res.err.Error(), name) {
			t.Errorf("%s: error does not name the file: %v", name, res.err)
		}
		if res.err != nil && !errors.Is(res.err, cloudtrail.ErrBadInput) && !errors.Is(res.err, cloudtrail.ErrDigest) {
			t.Errorf("%s: error is neither bad input nor ignored: %v", name, res.err)
		}
		// Record boundaries across tiny reads change nothing.
		got := readCorpusFile(t, tiny, name, data)
		got.st.Bytes = res.st.Bytes // how far the input was read before an error depends on the read size
		if g, w := fmt.Sprint(got.st, got.err, got.ids), fmt.Sprint(res.st, res.err, res.ids); g != w {
			t.Errorf("%s: 7-byte reads give\n%s\nwant\n%s", name, g, w)
		}
		// Collect stores what the reader finds, each event once however
		// often the file repeats it, unless the dir source does not read
		// the file at all.
		distinct := len(slices.Compact(slices.Sorted(slices.Values(res.ids))))
		if stored := len(res.batch.Queries) + len(res.batch.Rejected); stored != distinct && res.sum.Objects > 0 {
			t.Errorf("%s: the reader finds %d distinct events, collect stores %d", name, distinct, stored)
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
			if !errors.Is(res.err, cloudtrail.ErrBadInput) || !strings.Contains(res.err.Error(), name) {
				t.Errorf("%s: INVALID JSON as published, but Read gave %v", name, res.err)
			}
		}
	})

	t.Run("stored rows", func(t *testing.T) {
		const (
			johndoe   = "user=johndoe role= account=123456789012 team=docs-examples"
			succeeded = "query b621c254-74e0-48e3-9630-78ed857782f9 region=us-east-1 " + johndoe + " database= workgroup=primary"
			failed    = "rejected 6e1fc69b-d076-477e-8dec-024ee51488c4 region=us-east-1 " + johndoe + " error=InvalidRequestException"
			panther   = "query fc62d701-d474-46a4-b6cf-de6bafdbdb3c region=us-west-2 user=example-role role=example-role account=123456789012 team=unassigned database=1111 workgroup=Panther"
		)
		want := map[string][]string{
			"aws-docs/athena-user-guide-2019/monitor-with-cloudtrail@92c9cc6__StartQueryExecution-successful__query-key.json": {succeeded},
			"aws-docs/athena-user-guide-2019/monitor-with-cloudtrail@92c9cc6__StartQueryExecution-failed__query-key.json":     {failed},
			"aws-docs/athena-user-guide-current/monitor-with-cloudtrail__StartQueryExecution-successful__OMITTED.json":        {succeeded},
			"aws-docs/athena-user-guide-current/monitor-with-cloudtrail__StartQueryExecution-failed__OMITTED.json":            {failed},
			"aws-docs/athena-user-guide/monitor-with-cloudtrail__StartQueryExecution-successful.json":                         {succeeded},
			"aws-docs/athena-user-guide/monitor-with-cloudtrail__StartQueryExecution-failed.json":                             {failed},
			"cloudtrail/panther-analysis/panther-analysis_cloudtrail_test_logs.ndjson":                                        {panther},
			// The file repeats the doc examples; each is stored once.
			"athena-cloudtrail-events/all-athena-cloudtrail-events.ndjson": {succeeded, panther, failed},
		}
		got := map[string][]string{}
		for name, res := range results {
			if rows := res.rows(); len(rows) > 0 {
				got[name] = rows
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
			if len(res.ids) != 0 || len(res.rows()) != 0 {
				t.Errorf("%s: %d query events, %d rows from a file that holds no records", name, len(res.ids), len(res.rows()))
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
