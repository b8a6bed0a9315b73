package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/athenawatch/athenawatch/internal/source"
)

func TestQuoteValue(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"AWSLogs/1/CloudTrail/us-east-1/2026/11/20/a.json.gz", "AWSLogs/1/CloudTrail/us-east-1/2026/11/20/a.json.gz"},
		{"dir:/var/trail", "dir:/var/trail"},
		{"", `""`},
		{"a b", `"a b"`},
		{"k=v", `"k=v"`},
		{`say "hi"`, `"say \"hi\""`},
		{"evil\n  forged.json: looks like another line", `"evil\n  forged.json: looks like another line"`},
		{"red\x1b[31mtext", `"red\x1b[31mtext"`},
		{"cr\rback", `"cr\rback"`},
		{"bell\a", `"bell\a"`},
		{"del\x7f", `"del\x7f"`},
		{"bad\xffutf8", `"bad\xffutf8"`},
		{"rtl\u202eoverride", `"rtl\u202eoverride"`},
		{"café", "café"},
	}
	for _, tt := range tests {
		if got := quoteValue(tt.in); got != tt.want {
			t.Errorf("quoteValue(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

// The skipped list names input files, whose names and reasons come from the
// input: no control character of them reaches the terminal, so a name
// cannot forge lines or colour the output.
func TestPrintSummaryEscapesNamesAndReasons(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	g := &globals{stderr: &out}
	printSummary(g, &source.Summary{
		Source: "dir:/trail",
		Skipped: []source.SkippedItem{
			{Name: "a.json\ncollect dir:/trail: 0 files read", Record: -1, Reason: "bad input at byte 0: not JSON"},
			{Name: "\x1b[2J\x1b[31mred.json", Record: 3, Reason: "awsRegion \"\x1b[0m\" is not an AWS region name"},
			{Name: "plain.json", Record: 1, Reason: "record\r\nforged"},
		},
		MoreSkipped: 2,
	})
	got := out.String()
	if strings.ContainsAny(got, "\x1b\r") {
		t.Errorf("control characters reach the terminal: %q", got)
	}
	want := []string{
		`collect dir:/trail: 0 files read (0 unchanged since the last run, 0 ignored), 0 records, 0.0 MB in 0.0s (0 MB/s): 0 query events (0 new), 0 rejected submissions (0 new)`,
		`collect dir:/trail: skipped 5 bad inputs:`,
		`  "a.json\ncollect dir:/trail: 0 files read": "bad input at byte 0: not JSON"`,
		`  "\x1b[2J\x1b[31mred.json" record 3: "awsRegion \"\x1b[0m\" is not an AWS region name"`,
		`  plain.json record 1: "record\r\nforged"`,
		`  and 2 more bad records (see the warnings above)`,
	}
	if lines := strings.Split(strings.TrimSuffix(got, "\n"), "\n"); strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("summary:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
	}
}

// The same through a real run: a trail file whose name holds a line break
// and an escape sequence.
func TestCollectEscapesHostileFileNames(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	name := "evil\n  forged.json: \x1b[32mall good\x1b[0m.json"
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte("not JSON"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := athenawatch(t, nil, "--db", filepath.Join(t.TempDir(), "h.db"), "collect", "--no-enrich", "--source", "dir:"+dir)
	if r.code != 0 {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	if strings.ContainsAny(r.stderr, "\x1b\r") || strings.Contains(r.stderr, "\n  forged.json") {
		t.Errorf("the file name forged output:\n%s", r.stderr)
	}
	if !strings.Contains(r.stderr, `  "evil\n  forged.json: \x1b[32mall good\x1b[0m.json": `) {
		t.Errorf("the skipped list does not name the file quoted:\n%s", r.stderr)
	}
}
