package source

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/athenawatch/athenawatch/internal/config"
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

func newCollector(t *testing.T) (*Collector, *store.Store) {
	t.Helper()
	st, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	cfg, _ := config.Load("")
	return &Collector{Store: st, Rules: usage.NewRules(cfg)}, st
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
	src := &Dir{Root: d.root, Workers: 2}
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
	win := Window{Since: time.Date(2026, 11, 20, 6, 0, 0, 0, time.UTC), Until: time.Date(2026, 11, 21, 0, 0, 0, 0, time.UTC)}
	sum, err := col.Collect(context.Background(), &Dir{Root: d.root, Window: win})
	if err != nil {
		t.Fatal(err)
	}
	// The day before the window is read too: files are named by delivery
	// time and a day may hold the previous day's last events.
	if sum.Objects != 2 || sum.QueryEvents != 2 {
		t.Fatalf("window read %d files, %d events; want 2 and 2: %+v", sum.Objects, sum.QueryEvents, sum)
	}
}

func TestDirCancelledStopsCleanly(t *testing.T) {
	t.Parallel()
	d := trailDir{t, t.TempDir()}
	for i := range 200 {
		d.write("2026-11-20", fmt.Sprintf("f%03d.json", i), record(fmt.Sprintf("q%d", i), "2026-11-20"))
	}
	col, st := newCollector(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := col.Collect(ctx, &Dir{Root: d.root, Workers: 2})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	// Whatever was committed is consistent: every checkpointed file's
	// query is stored.
	cps, err := st.Checkpoints(context.Background(), (&Dir{Root: d.root}).Name())
	if err != nil {
		t.Fatal(err)
	}
	for name := range cps {
		id := "q" + strings.TrimLeft(strings.TrimSuffix(filepath.Base(name), ".json")[1:], "0")
		if id == "q" {
			id = "q0"
		}
		if _, ok, _ := st.GetQuery(context.Background(), "us-east-1", id); !ok {
			t.Fatalf("file %s is checkpointed but its query %s is not stored", name, id)
		}
	}
}

func TestDirMissingRoot(t *testing.T) {
	t.Parallel()
	col, _ := newCollector(t)
	_, err := col.Collect(context.Background(), &Dir{Root: filepath.Join(t.TempDir(), "nope")})
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
	sum, err := col.Collect(context.Background(), &Dir{Root: link})
	if err != nil || sum.QueryEvents != 1 {
		t.Fatalf("collect through a symlinked root: %+v, %v", sum, err)
	}
}
