package dir

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/athenawatch/athenawatch/internal/config"
	"github.com/athenawatch/athenawatch/internal/source"
	"github.com/athenawatch/athenawatch/internal/store"
	"github.com/athenawatch/athenawatch/internal/usage"
)

func record(id, day string) string {
	return fmt.Sprintf(`{"eventVersion":"1.09","userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::111111111111:user/alice","accountId":"111111111111","userName":"alice"},"eventTime":"%sT10:00:00Z","eventSource":"athena.amazonaws.com","eventName":"StartQueryExecution","awsRegion":"us-east-1","requestParameters":{"queryString":"***OMITTED***"},"responseElements":{"queryExecutionId":"%s"},"eventID":"e-%s","eventType":"AwsApiCall","recipientAccountId":"111111111111"}`, day, id, id)
}

type trailDir struct {
	t    *testing.T
	root string
}

func (d trailDir) write(day, name string, records ...string) string {
	d.t.Helper()
	rel := "AWSLogs/111111111111/CloudTrail/us-east-1/" + strings.ReplaceAll(day, "-", "/") + "/" + name
	p := filepath.Join(d.root, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		d.t.Fatal(err)
	}
	body := `{"Records":[` + strings.Join(records, ",") + `]}`
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		d.t.Fatal(err)
	}
	return p
}

func newCollector(t *testing.T) (*source.Collector, *store.Store) {
	t.Helper()
	st, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	cfg, _ := config.Load("")
	return &source.Collector{Store: st, Rules: usage.NewRules(cfg)}, st
}

func TestDirCollectIsIncrementalAndExactlyOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := trailDir{t, t.TempDir()}
	d.write("2026-11-20", "a.json", record("q1", "2026-11-20"), record("q2", "2026-11-20"))
	// A duplicate delivery of q2 in another file.
	d.write("2026-11-20", "b.json", record("q2", "2026-11-20"), record("q3", "2026-11-20"))
	bad := d.write("2026-11-20", "c.json", record("q4", "2026-11-20"))
	os.WriteFile(bad, []byte(`{"Records":[`+record("q4", "2026-11-20")+`,{"broken`), 0o644)
	d.write("2026-11-20", "README.txt")

	col, _ := newCollector(t)
	src := &Source{Root: d.root, Workers: 2}
	sum, err := col.Collect(ctx, src)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Objects != 3 || sum.QueryEvents != 5 || sum.NewQueries != 4 || len(sum.Skipped) != 1 || sum.Ignored != 1 {
		t.Fatalf("first run: %+v", sum)
	}
	if !strings.Contains(sum.Skipped[0].Name, "c.json") {
		t.Fatalf("skipped item does not name the file: %+v", sum.Skipped[0])
	}

	// Second run: good files are unchanged and not read; the bad one is
	// read (and reported) again; nothing new is stored.
	sum, err = col.Collect(ctx, src)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Unchanged != 2 || sum.Objects != 1 || sum.NewQueries != 0 || len(sum.Skipped) != 1 {
		t.Fatalf("second run: %+v", sum)
	}

	// A changed file is read again; only its new query is new.
	p := d.write("2026-11-20", "a.json", record("q1", "2026-11-20"), record("q2", "2026-11-20"), record("q5", "2026-11-20"))
	future := time.Now().Add(time.Minute)
	os.Chtimes(p, future, future)
	sum, err = col.Collect(ctx, src)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Unchanged != 1 || sum.NewQueries != 1 {
		t.Fatalf("third run: %+v", sum)
	}
}

func TestDirWindowPrunesDays(t *testing.T) {
	t.Parallel()
	d := trailDir{t, t.TempDir()}
	d.write("2026-10-01", "old.json", record("old", "2026-10-01"))
	d.write("2026-11-19", "slack.json", record("slack", "2026-11-19"))
	d.write("2026-11-20", "in.json", record("in", "2026-11-20"))
	d.write("2026-12-25", "late.json", record("late", "2026-12-25"))
	col, _ := newCollector(t)
	win := source.Window{Since: time.Date(2026, 11, 20, 6, 0, 0, 0, time.UTC), Until: time.Date(2026, 11, 21, 0, 0, 0, 0, time.UTC)}
	sum, err := col.Collect(context.Background(), &Source{Root: d.root, Window: win})
	if err != nil {
		t.Fatal(err)
	}
	// The day before the window is read too: files are named by delivery
	// time and a day may hold the previous day's last events.
	if sum.Objects != 2 || sum.QueryEvents != 2 {
		t.Fatalf("window read %d files, %d events; want 2 and 2: %+v", sum.Objects, sum.QueryEvents, sum)
	}
}

func TestDirCancelledMidRunCommitsWholeUnitsAndResumes(t *testing.T) {
	t.Parallel()
	const files = 200
	d := trailDir{t, t.TempDir()}
	for i := range files {
		d.write("2026-11-20", fmt.Sprintf("f%03d.json", i), record(fmt.Sprintf("q%d", i), "2026-11-20"))
	}
	col, st := newCollector(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// The run is cancelled once its first transaction committed: a cancel
	// at a known point in the middle of the run.
	commits := 0
	col.Committed = func(store.CommitResult) {
		if commits++; commits == 1 {
			cancel()
		}
	}
	// Transactions of 10 files, so that the cancel after the first one
	// comes while most of the trail is unread: at most a batch, the units
	// queued to the committer and one per worker are read by then.
	col.BatchUnits, col.TxEvents = 10, 10
	src := &Source{Root: d.root, Workers: 2}
	first, err := col.Collect(ctx, src)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}

	// What was committed is consistent: exactly the checkpointed files'
	// queries are stored, and the summary counts them.
	cps, err := st.Checkpoints(context.Background(), src.Name())
	if err != nil {
		t.Fatal(err)
	}
	stored, err := st.QueriesAfter(context.Background(), "", "", 10*files)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{}
	for name := range cps {
		n, err := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(path.Base(name), "f"), ".json"))
		if err != nil {
			t.Fatalf("checkpoint %s: %v", name, err)
		}
		want[fmt.Sprintf("q%d", n)] = true
	}
	got := map[string]bool{}
	for _, q := range stored {
		got[q.QueryID] = true
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("stored queries %v, checkpointed files' queries %v", got, want)
	}
	if len(cps) < 10 || len(cps) >= files || first.NewQueries != len(cps) || first.Objects != len(cps) {
		t.Fatalf("cancelled run committed %d files (summary: %d read, %d new); want at least the first batch of 10 and not all %d",
			len(cps), first.Objects, first.NewQueries, files)
	}

	// A re-run reads exactly the rest, and every query is stored once.
	col.Committed = nil
	second, err := col.Collect(context.Background(), src)
	if err != nil {
		t.Fatal(err)
	}
	if second.Unchanged != len(cps) || second.Objects != files-len(cps) || second.NewQueries != files-len(cps) || second.QueryEvents != files-len(cps) {
		t.Fatalf("re-run after %d committed files: %+v", len(cps), second)
	}
	if all, _ := st.QueriesAfter(context.Background(), "", "", 10*files); len(all) != files {
		t.Fatalf("%d queries stored, want %d", len(all), files)
	}
}

func TestDirMissingRoot(t *testing.T) {
	t.Parallel()
	col, _ := newCollector(t)
	_, err := col.Collect(context.Background(), &Source{Root: filepath.Join(t.TempDir(), "nope")})
	if err == nil || !strings.Contains(err.Error(), "nope") {
		t.Fatalf("err = %v", err)
	}
}

func TestDirSymlinkedRoot(t *testing.T) {
	t.Parallel()
	d := trailDir{t, t.TempDir()}
	d.write("2026-11-20", "a.json", record("q1", "2026-11-20"))
	link := filepath.Join(t.TempDir(), "trail")
	if err := os.Symlink(d.root, link); err != nil {
		t.Fatal(err)
	}
	col, _ := newCollector(t)
	sum, err := col.Collect(context.Background(), &Source{Root: link})
	if err != nil || sum.QueryEvents != 1 {
		t.Fatalf("collect through a symlinked root: %+v, %v", sum, err)
	}
}

// symlink makes link point at target, failing the test when it cannot.
func symlink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(link), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
}

// A trail assembled from links is read whole: linked files and directories
// are followed and keep the names of their links; a directory reached twice
// is read once; loops and links that lead nowhere are named as skipped.
func TestDirFollowsSymlinks(t *testing.T) {
	t.Parallel()
	d := trailDir{t, t.TempDir()}
	outside := trailDir{t, t.TempDir()}
	d.write("2026-11-20", "a.json", record("q-real", "2026-11-20"))
	linkedFile := outside.write("2026-11-20", "c.json", record("q-linked-file", "2026-11-20"))
	day := filepath.Join(d.root, "AWSLogs", "111111111111", "CloudTrail", "us-east-1", "2026", "11", "20")
	symlink(t, linkedFile, filepath.Join(day, "c.json"))

	// Accounts kept elsewhere and linked in; one of them linked twice.
	acct := func(id, q string) string {
		o := trailDir{t, t.TempDir()}
		o.write("2026-11-20", "x.json", record(q, "2026-11-20"))
		return filepath.Join(o.root, "AWSLogs", "111111111111")
	}
	symlink(t, acct("222", "q-account-222"), filepath.Join(d.root, "AWSLogs", "222222222222"))
	twice := acct("333", "q-account-333")
	symlink(t, twice, filepath.Join(d.root, "AWSLogs", "333333333333"))
	symlink(t, twice, filepath.Join(d.root, "AWSLogs", "333333333334"))

	// A loop back to an ancestor, a link to nothing, and links to each other.
	symlink(t, filepath.Join(d.root, "AWSLogs"), filepath.Join(day, "loop"))
	symlink(t, filepath.Join(d.root, "nonexistent.json"), filepath.Join(day, "gone.json"))
	symlink(t, filepath.Join(d.root, "y"), filepath.Join(d.root, "x"))
	symlink(t, filepath.Join(d.root, "x"), filepath.Join(d.root, "y"))

	col, st := newCollector(t)
	src := &Source{Root: d.root, Workers: 2}
	sum, err := col.Collect(context.Background(), src)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Objects != 4 || sum.QueryEvents != 4 || sum.NewQueries != 4 {
		t.Errorf("read %d files, %d query events (%d new); want 4 of each: %+v", sum.Objects, sum.QueryEvents, sum.NewQueries, sum)
	}
	const dayDir = "AWSLogs/111111111111/CloudTrail/us-east-1/2026/11/20/"
	wantSkipped := map[string]string{
		dayDir + "loop":      "symbolic link loop: leads back to AWSLogs",
		dayDir + "gone.json": "symbolic link leads nowhere: no such file or directory",
		"x":                  "symbolic link leads nowhere: too many levels of symbolic links",
		"y":                  "symbolic link leads nowhere: too many levels of symbolic links",
	}
	gotSkipped := map[string]string{}
	for _, sk := range sum.Skipped {
		gotSkipped[sk.Name] = sk.Reason
	}
	if fmt.Sprint(gotSkipped) != fmt.Sprint(wantSkipped) {
		t.Errorf("skipped %v\nwant %v", gotSkipped, wantSkipped)
	}

	// source.Checkpoints are keyed by the names under the root.
	cps, err := st.Checkpoints(context.Background(), src.Name())
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for name := range cps {
		names = append(names, name)
	}
	slices.Sort(names)
	wantNames := []string{
		dayDir + "a.json",
		dayDir + "c.json",
		"AWSLogs/222222222222/CloudTrail/us-east-1/2026/11/20/x.json",
		"AWSLogs/333333333333/CloudTrail/us-east-1/2026/11/20/x.json",
	}
	if fmt.Sprint(names) != fmt.Sprint(wantNames) {
		t.Errorf("checkpoints %v\nwant %v", names, wantNames)
	}

	// Nothing changed: nothing is read again; the broken links are named again.
	sum, err = col.Collect(context.Background(), src)
	if err != nil || sum.Objects != 0 || sum.Unchanged != 4 || len(sum.Skipped) != 4 {
		t.Fatalf("second run: %+v, %v", sum, err)
	}
	// A linked file whose target changed is read again.
	os.WriteFile(linkedFile, []byte(`{"Records":[`+record("q-linked-file", "2026-11-20")+`,`+record("q-new", "2026-11-20")+`]}`), 0o644)
	future := time.Now().Add(time.Minute)
	os.Chtimes(linkedFile, future, future)
	sum, err = col.Collect(context.Background(), src)
	if err != nil || sum.Objects != 1 || sum.NewQueries != 1 {
		t.Fatalf("after the linked file changed: %+v, %v", sum, err)
	}
}

// Digest files are ignored and counted, wherever they are, as are files that
// are not trail log files by name.
func TestDirCountsDigestFiles(t *testing.T) {
	t.Parallel()
	d := trailDir{t, t.TempDir()}
	d.write("2026-11-20", "a.json", record("q1", "2026-11-20"))
	d.write("2026-11-20", "notes.txt")
	digest := `{"awsAccountId":"111111111111","digestStartTime":"2026-11-20T09:00:00Z","logFiles":[]}`
	digestDir := filepath.Join(d.root, "AWSLogs", "111111111111", "CloudTrail-Digest", "us-east-1", "2026", "11", "20")
	if err := os.MkdirAll(digestDir, 0o755); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		name := fmt.Sprintf("111111111111_CloudTrail-Digest_us-east-1_trail_us-east-1_20261120T0%d0000Z.json.gz", i)
		if err := os.WriteFile(filepath.Join(digestDir, name), []byte(digest), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// A digest where the logs are, and one only its content gives away.
	d.write("2026-11-20", "111111111111_CloudTrail-Digest_us-east-1_trail_us-east-1_20261120T100000Z.json.gz")
	if err := os.WriteFile(filepath.Join(d.root, "AWSLogs", "111111111111", "CloudTrail", "us-east-1", "2026", "11", "20", "renamed.json"), []byte(digest), 0o644); err != nil {
		t.Fatal(err)
	}

	col, _ := newCollector(t)
	sum, err := col.Collect(context.Background(), &Source{Root: d.root})
	if err != nil {
		t.Fatal(err)
	}
	// 3 in CloudTrail-Digest, 1 by name elsewhere, 1 by content, notes.txt.
	if sum.Ignored != 6 || sum.Objects != 1 || sum.QueryEvents != 1 || len(sum.Skipped) != 0 {
		t.Fatalf("ignored %d, want 6: %+v", sum.Ignored, sum)
	}
}
