package main

import (
	"context"
	"encoding/json"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/athenawatch/athenawatch/internal/awsemu/orgsim"
	"github.com/athenawatch/athenawatch/internal/reconcile"
)

// reconciled runs reconcile --format json and decodes its result.
func (s *simulation) reconciled(t *testing.T, db string, args ...string) *reconcile.Result {
	t.Helper()
	r := s.run(t, db, append([]string{"reconcile", "--format", "json"}, args...)...)
	if r.code != 0 {
		t.Fatalf("reconcile %v: exit %d\n%s", args, r.code, r.stderr)
	}
	var res reconcile.Result
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
		t.Fatalf("decode reconcile: %v\n%s", err, r.stdout)
	}
	return &res
}

// billTruth is what the simulation's bill charges from since (a UTC day)
// on: its line items, and their sum.
func (s *simulation) billTruth(exp orgsim.CURExport, since time.Time) (map[string]float64, float64) {
	lines := map[string]float64{}
	var total float64
	for _, g := range orgsim.CURGroups(s.res) {
		if g.Day.Before(since) {
			continue
		}
		kind := "scan"
		if g.DPU {
			kind = "dpu"
		}
		lines[strings.Join([]string{g.Day.Format(time.DateOnly), g.Account, g.Region, g.Workgroup, kind}, " ")] = exp.USD(g)
		total += exp.USD(g)
	}
	return lines, total
}

func cellKey(c reconcile.Cell) string {
	return strings.Join([]string{c.Day, c.Account, c.Region, c.Workgroup, c.Kind}, " ")
}

// TestReconcileEndToEnd collects the simulated organization's trail at
// the end of its period, writes the organization's bill as a CUR 2.0
// export into a directory and into the emulator's S3, and reconciles:
//
//   - over the last 45 days (every query of it still known to Athena),
//     every cell matches the bill, read from the directory and from S3
//     alike, and the bill's cells and total are the ground truth's;
//   - over all 50 days, the cells of the days whose queries Athena no
//     longer knew when collect asked carry a gap explained as no_stats,
//     and only those;
//   - with one member account's trail left out of what is collected, the
//     output names that account as not collected, its cells carry its
//     whole bill as the gap, and every other cell still matches.
//
// Collect runs at the end of the period, where the bill is written: the
// queries still running then are pending in the store and billed nothing
// yet by the export.
func TestReconcileEndToEnd(t *testing.T) {
	s := simulate(t)
	s.emu.SetNow(s.end)
	dir := t.TempDir()
	db := filepath.Join(dir, "reconcile.db")
	if r := s.run(t, db, "collect", "--source", "dir:"+s.trailDir); r.code != 0 {
		t.Fatalf("collect: exit %d\n%s", r.code, r.stderr)
	}
	exp := orgsim.CURExport{Bucket: "e2e-billing", Prefix: "cur"}
	if _, err := exp.WriteDir(s.res, filepath.Join(dir, "bill")); err != nil {
		t.Fatal(err)
	}
	if err := exp.Put(context.Background(), s.s3Client(), s.res); err != nil {
		t.Fatal(err)
	}

	// The window starts on the first UTC day none of whose queries was
	// beyond Athena's 45-day history at the end of the period.
	known := s.end.Add(-45 * 24 * time.Hour).Truncate(24 * time.Hour).Add(24 * time.Hour)
	for _, q := range s.res.Queries {
		if q.NoStats && !q.Submitted.Before(known) {
			t.Fatalf("query %s of %v is forgotten, yet after %v", q.QueryID, q.Submitted, known)
		}
	}
	truth, truthTotal := s.billTruth(exp, known)
	until := s.end.Format(time.RFC3339)
	for _, src := range []string{"dir:" + filepath.Join(dir, "bill"), "dir:" + filepath.Join(dir, "bill", "cur", "athena-costs"), "s3://e2e-billing/cur"} {
		res := s.reconciled(t, db, "--cur", src, "--since", known.Format(time.DateOnly), "--until", until)
		inBill, dpu := 0, 0
		for _, c := range res.Cells {
			if c.Cause != reconcile.Match || math.Abs(c.GapUSD) >= reconcile.MatchTolerance {
				t.Errorf("%s: cell %s: billed %v, attributed %v, cause %s; want no gap", src, cellKey(c), c.BilledUSD, c.AttributedUSD, c.Cause)
			}
			if c.InBill {
				inBill++
				if c.Kind == "dpu" {
					dpu++
				}
				if want, ok := truth[cellKey(c)]; !ok || math.Abs(c.BilledUSD-want) > 1e-9 {
					t.Errorf("%s: cell %s billed %v, ground truth %v", src, cellKey(c), c.BilledUSD, want)
				}
			}
		}
		if inBill != len(truth) || inBill < 100 || dpu == 0 {
			t.Errorf("%s: %d cells in the bill (%d of provisioned capacity), ground truth %d", src, inBill, dpu, len(truth))
		}
		if math.Abs(res.Total.BilledUSD-truthTotal) > 1e-6 || math.Abs(res.Total.GapUSD) > 1e-6 || len(res.Skipped) != 0 ||
			len(res.NotCollectedAccounts) != 0 || len(res.Days) != 45 {
			t.Errorf("%s: total %+v (ground truth %v), %d days, skipped %v, not collected %v", src, res.Total, truthTotal, len(res.Days),
				res.Skipped, res.NotCollectedAccounts)
		}
	}

	// The whole period: the forgotten queries' cells, and only those, have a gap.
	all := s.reconciled(t, db, "--cur", "s3://e2e-billing/cur", "--since", s.res.Config.Start.Format(time.RFC3339), "--until", until)
	forgotten := 0
	for _, c := range all.Cells {
		switch {
		case c.Cause == reconcile.Match:
		case c.Cause == reconcile.NoStats && c.NoStats > 0 && c.Day < known.Format(time.DateOnly) && c.GapUSD > 0:
			forgotten++
		default:
			t.Errorf("full period: cell %s: gap %v, cause %s, %d no_stats", cellKey(c), c.GapUSD, c.Cause, c.NoStats)
		}
	}
	if forgotten == 0 {
		t.Error("full period: no cell explained by forgotten queries")
	}

	// One member account's trail left out.
	missing := orgsim.EngineeringAccount.ID
	partial := filepath.Join(dir, "partial-trail")
	linkTrailWithout(t, s.trailDir, partial, "AWSLogs/"+missing+"/")
	db2 := filepath.Join(dir, "partial.db")
	if r := s.run(t, db2, "collect", "--source", "dir:"+partial); r.code != 0 {
		t.Fatalf("collect without %s: exit %d\n%s", missing, r.code, r.stderr)
	}
	res := s.reconciled(t, db2, "--cur", "dir:"+filepath.Join(dir, "bill"), "--since", known.Format(time.DateOnly), "--until", until)
	if len(res.NotCollectedAccounts) != 1 || res.NotCollectedAccounts[0] != missing {
		t.Errorf("not collected: %v, want [%s]", res.NotCollectedAccounts, missing)
	}
	var missingBill, gap float64
	for _, c := range res.Cells {
		switch {
		case c.Account == missing:
			if c.Cause != reconcile.AccountNotCollected || c.AttributedUSD != 0 || c.GapUSD != c.BilledUSD || c.GapUSD <= 0 {
				t.Errorf("cell %s of the missing account: billed %v, gap %v, cause %s", cellKey(c), c.BilledUSD, c.GapUSD, c.Cause)
			}
			missingBill += c.BilledUSD
		case c.Cause != reconcile.Match:
			t.Errorf("cell %s: gap %v, cause %s; want no gap", cellKey(c), c.GapUSD, c.Cause)
		}
		gap += c.GapUSD
	}
	var want float64
	for k, usd := range truth {
		if strings.Split(k, " ")[1] == missing {
			want += usd
		}
	}
	if want == 0 || math.Abs(missingBill-want) > 1e-9 || math.Abs(res.Total.GapUSD-want) > 1e-6 {
		t.Errorf("missing account billed %v in the cells, total gap %v; ground truth %v", missingBill, res.Total.GapUSD, want)
	}
	r := s.run(t, db2, "reconcile", "--cur", "dir:"+filepath.Join(dir, "bill"), "--since", known.Format(time.DateOnly), "--until", until)
	if r.code != 0 || !strings.Contains(r.stdout, "account "+missing+" was not collected") || !strings.Contains(r.stdout, "account not collected") {
		t.Errorf("table: exit %d, want the account named as not collected\n%s\n%s", r.code, r.stdout, r.stderr)
	}
}

// linkTrailWithout makes dst a trail directory of src's files but those
// under the prefix, hard-linked (copied where links fail).
func linkTrailWithout(t *testing.T, src, dst, prefix string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil || strings.HasPrefix(filepath.ToSlash(rel), prefix) {
			return err
		}
		out := filepath.Join(dst, rel)
		if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
			return err
		}
		if os.Link(p, out) == nil {
			return nil
		}
		in, err := os.Open(p)
		if err != nil {
			return err
		}
		defer in.Close()
		f, err := os.Create(out)
		if err != nil {
			return err
		}
		if _, err := io.Copy(f, in); err != nil {
			f.Close()
			return err
		}
		return f.Close()
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestReconcileUsageErrors: a missing or malformed location and bad
// flags exit 2 before anything is opened.
func TestReconcileUsageErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	db := filepath.Join(dir, "a.db")
	for _, args := range [][]string{
		{"reconcile"},
		{"reconcile", "--cur", "/no/scheme"},
		{"reconcile", "--cur", "dir:" + dir, "--format", "csv"},
		{"reconcile", "--cur", "dir:" + dir, "--since", "yesterday"},
		{"reconcile", "--cur", "dir:" + dir, "--since", "2026-11-02", "--until", "2026-11-01"},
	} {
		r := athenawatch(t, nil, append([]string{"--db", db}, args...)...)
		if r.code != exitUsage {
			t.Errorf("%v: exit %d, want %d\n%s", args, r.code, exitUsage, r.stderr)
		}
	}
	// An export that is not there is an error, not a usage error.
	r := athenawatch(t, nil, "--db", db, "reconcile", "--cur", "dir:"+filepath.Join(dir, "nothing"))
	if r.code != exitError || !strings.Contains(r.stderr, "nothing") {
		t.Errorf("missing export: exit %d\n%s", r.code, r.stderr)
	}
}
