package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/athenawatch/athenawatch/internal/awsemu"
	"github.com/athenawatch/athenawatch/internal/awsemu/orgsim"
	"github.com/athenawatch/athenawatch/internal/bill"
	"github.com/athenawatch/athenawatch/internal/lake"
	"github.com/athenawatch/athenawatch/internal/reconcile"
	"github.com/athenawatch/athenawatch/internal/store"
	"github.com/athenawatch/athenawatch/internal/usage"
	"github.com/athenawatch/athenawatch/internal/web"
)

// demoRegion is the region the demo's own AWS configuration and the printed
// client settings use; the simulated organization runs in more.
const demoRegion = "us-east-1"

// Where the demo delivers the organization's bill (a CUR 2.0 export named
// orgsim.DefaultExportName).
const (
	demoBillBucket = "org-billing"
	demoBillPrefix = "cur"
)

func runDemo(ctx context.Context, g *globals, args []string) error {
	fs := newFlagSet(g, "demo", "[flags]")
	addr := fs.String("addr", "127.0.0.1:8080", "dashboard `address` (loopback; 127.0.0.1:0 picks a free port)")
	noServe := fs.Bool("no-serve", false, "exit after the reports instead of serving the dashboard and keeping the emulator running")
	emuAddr := fs.String("emulator-addr", "127.0.0.1:4566", "`address` of the local AWS emulator (127.0.0.1:0 picks a free port)")
	days := fs.Int("days", 7, "simulated `days` of Athena use, ending now")
	perDay := fs.Int("queries-per-day", orgsim.DefaultQueriesPerDay, "mean Athena submissions per simulated `day`")
	seed := fs.Uint64("seed", 1, "simulation `seed` (same seed, same organization and queries)")
	workDir := fs.String("dir", "", "keep the trail, database and config in this `directory` (default: a temporary one, removed at exit)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *days < 1 {
		return usagef("--days must be at least 1")
	}
	dir, temporary := *workDir, *workDir == ""
	if temporary {
		tmp, err := os.MkdirTemp("", "athenawatch-demo-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		dir = tmp
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs // printed commands must work from any directory
	}
	trailDir := filepath.Join(dir, "trail")

	end := time.Now().UTC().Truncate(time.Hour)
	sim := orgsim.New(orgsim.Config{
		Seed:          *seed,
		Start:         end.Add(-time.Duration(*days) * 24 * time.Hour),
		End:           end,
		QueriesPerDay: *perDay,
		Logger:        g.logger,
	})
	emu := awsemu.New(sim.EmulatorOptions(g.logger))
	srv, err := emu.Start(*emuAddr)
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			return fmt.Errorf("start the AWS emulator: %w\n"+
				"Another program (an earlier demo, LocalStack, ...) listens there. Pick a free port with --emulator-addr 127.0.0.1:0, or another one such as --emulator-addr 127.0.0.1:4567", err)
		}
		return fmt.Errorf("start the AWS emulator: %w", err)
	}
	defer srv.Close()
	fmt.Fprintf(g.stderr, "demo: simulating %d days of Athena use by an organization on a local AWS emulator (%s)...\n", *days, srv.URL)
	res, err := sim.Run(ctx, emu, srv.URL, trailDir)
	if err != nil {
		return fmt.Errorf("run the simulated organization: %w", err)
	}
	fmt.Fprintf(g.stderr, "demo: %d queries and %d rejected submissions; trail of %d files, %d records (%.1f MB) in %s\n",
		len(res.Queries), len(res.Rejected), res.Trail.Files, res.Trail.Records, float64(res.Trail.UncompressedBytes)/1e6, trailDir)

	// athenawatch talks to the emulator as to AWS, through the SDK, but with
	// an AWS configuration of its own: the user's profiles, keys and
	// endpoint settings neither apply nor change.
	creds := res.CollectorCredentials
	awsCfg := aws.Config{
		Region:       demoRegion,
		Credentials:  credentials.NewStaticCredentialsProvider(creds.AccessKeyID, creds.SecretAccessKey, ""),
		BaseEndpoint: aws.String(srv.URL),
	}
	dg := *g
	dg.aws, dg.awsErr = &awsCfg, nil
	if !flagSet(g.flags, "db") {
		dg.db = filepath.Join(dir, "athenawatch.db")
	}
	if !flagSet(g.flags, "config") {
		dg.config = filepath.Join(dir, "athenawatch.yaml")
		if err := os.WriteFile(dg.config, res.ConfigYAML(), 0o644); err != nil {
			return err
		}
	}
	// The organization trail lands in the emulated bucket, out of order as
	// deliveries for many accounts and regions interleave, and athenawatch
	// reads it from there.
	delivery := orgsim.Delivery{Bucket: orgsim.DefaultBucket, Seed: *seed}
	objects, err := delivery.TrailObjects(trailDir)
	if err != nil {
		return err
	}
	s3c := s3.NewFromConfig(awsCfg, func(o *s3.Options) { o.UsePathStyle = true })
	if err := delivery.Put(ctx, s3c, objects); err != nil {
		return fmt.Errorf("deliver the trail to the emulated bucket: %w", err)
	}
	bucketSource := "s3://" + orgsim.DefaultBucket
	fmt.Fprintf(g.stderr, "demo: delivered %d objects to %s in the organization trail layout (AWSLogs/%s/ACCOUNT/CloudTrail/...)\n",
		len(objects), bucketSource, orgsim.OrganizationID)
	// The organization's bill arrives as the management account's AWS Data
	// Exports (CUR 2.0) export delivers it, in a bucket of its own.
	billExport := orgsim.CURExport{Bucket: demoBillBucket, Prefix: demoBillPrefix}
	if err := billExport.Put(ctx, s3c, res); err != nil {
		return fmt.Errorf("deliver the bill export to the emulated bucket: %w", err)
	}
	if err := execCollect(ctx, &dg, collectOptions{sources: []string{bucketSource}, format: "text"}); err != nil {
		return err
	}
	billSource := "s3://" + demoBillBucket + "/" + demoBillPrefix
	if err := reconcileDemo(ctx, &dg, billSource, reconcile.Days(end.Add(-time.Duration(*days)*24*time.Hour), end)); err != nil {
		return err
	}
	if err := exportDemo(ctx, &dg, filepath.Join(dir, "lake")); err != nil {
		return err
	}
	window := store.Filter{Since: time.Now().Add(-time.Duration(*days+1) * 24 * time.Hour)}
	for _, by := range []string{"user", "database", "team"} {
		fmt.Fprintf(g.stdout, "\n== Athena usage by %s, last %d days ==\n", by, *days)
		if err := report(ctx, &dg, usage.ReportRequest{By: by, Filter: window, Top: 15, Format: "table"}); err != nil {
			return err
		}
	}

	self := selfCommand()
	dbKept := !temporary || flagSet(g.flags, "db")
	fmt.Fprintf(g.stdout, "\nDatabase: %s", dg.db)
	switch {
	case dbKept:
		fmt.Fprintf(g.stdout, " (kept)\n")
	case *noServe:
		fmt.Fprintf(g.stdout, " (in a temporary directory, deleted now that the demo ends; run the demo with --dir DIR to keep it)\n")
	default:
		fmt.Fprintf(g.stdout, " (in a temporary directory, deleted when the demo exits; run the demo with --dir DIR to keep it)\n")
	}
	fmt.Fprintf(g.stdout, "Config:   %s\nTrail:    %s\n", dg.config, trailDir)
	reportCmd := fmt.Sprintf("%s --db %s --config %s report --by workgroup", self, shellQuote(dg.db), shellQuote(dg.config))
	if *noServe {
		if dbKept {
			fmt.Fprintf(g.stdout, "\nReport again with:\n\n  %s\n", reportCmd)
		}
		return nil
	}
	// From here on the emulator follows the real clock, so queries started
	// by hand run and finish as they would on AWS.
	emu.SetNow(time.Time{})
	// The dashboard is the demo's own: loopback, no token, reading the
	// database the demo wrote.
	if err := web.CheckBind(*addr, ""); err != nil {
		return usagef("--addr %s: the demo serves on loopback only (127.0.0.1:PORT)", *addr)
	}
	cfg, st, _, err := dg.open(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	ws, err := web.New(web.Options{Store: st, Config: cfg, Logger: g.logger})
	if err != nil {
		return err
	}
	err = serveHTTP(ctx, g, *addr, ws.Handler(), func(url string) {
		fmt.Fprintf(g.stdout, "\nDashboard: %s\n", url)
		printClientSettings(g.stdout, srv.URL, creds, reportCmd)
	})
	if err != nil {
		return err
	}
	fmt.Fprintln(g.stderr, "demo: stopped")
	return nil
}

// exportDemo writes the usage lake (Parquet) under dir, as export does.
func exportDemo(ctx context.Context, g *globals, dir string) error {
	_, st, _, err := g.open(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	sum, err := execExport(ctx, g, st, exportOptions{to: "dir:" + dir, format: lake.FormatParquet, compression: lake.CompressionZstd})
	if err != nil {
		return fmt.Errorf("export the usage lake: %w", err)
	}
	fmt.Fprintf(g.stderr, "demo: usage lake: %d rows in %d daily Parquet partitions under %s (athenawatch ddl prints its Athena table)\n", sum.Rows, sum.Written, dir)
	return nil
}

// reconcileDemo reconciles the bill at src with what was collected, for
// the dashboard's Bill page, and says in one line how they compare.
func reconcileDemo(ctx context.Context, g *globals, src string, w reconcile.Window) error {
	_, st, _, err := g.open(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	loc, err := bill.ParseLocation(src)
	if err != nil {
		return err
	}
	reader, err := billReader(ctx, g, loc)
	if err != nil {
		return err
	}
	res, err := reconcile.Run(ctx, st, reader, w)
	if err != nil {
		return fmt.Errorf("reconcile the bill: %w", err)
	}
	fmt.Fprintf(g.stderr, "demo: %s (bill: the CUR 2.0 export in %s)\n", res.Summary(), src)
	return nil
}

// printClientSettings tells how to talk to the emulator with the AWS CLI,
// boto3 or an SDK. AWS CLI v1 reads only AWS_DEFAULT_REGION, not
// AWS_REGION; AWS_ENDPOINT_URL needs AWS CLI v1.29.0 or v2.13.0 and later
// (older ones, such as the v2.9 of some Linux distributions, ignore it), so
// the examples also name the endpoint on the command line.
func printClientSettings(w io.Writer, endpoint string, creds awsemu.Credentials, reportCmd string) {
	fmt.Fprintf(w, "\nThe AWS emulator keeps running at %s. Talk to it with any AWS client:\n\n", endpoint)
	fmt.Fprintf(w, "  export AWS_ENDPOINT_URL=%s\n", endpoint)
	fmt.Fprintf(w, "  export AWS_ACCESS_KEY_ID=%s\n", creds.AccessKeyID)
	fmt.Fprintf(w, "  export AWS_SECRET_ACCESS_KEY=%s\n", creds.SecretAccessKey)
	fmt.Fprintf(w, "  export AWS_REGION=%s AWS_DEFAULT_REGION=%s\n", demoRegion, demoRegion)
	fmt.Fprintf(w, "  unset AWS_SESSION_TOKEN AWS_PROFILE\n")
	fmt.Fprintf(w, "  aws athena list-work-groups\n")
	fmt.Fprintf(w, "\nAWS CLI releases before v1.29.0 and v2.13.0 ignore AWS_ENDPOINT_URL; with those, name the endpoint:\n\n")
	fmt.Fprintf(w, "  aws --endpoint-url %s athena list-work-groups\n", endpoint)
	fmt.Fprintf(w, "  aws --endpoint-url %s athena start-query-execution --query-string 'SELECT 1'\n", endpoint)
	fmt.Fprintf(w, "\nathenawatch's database stays readable meanwhile:\n\n  %s\n\nPress Ctrl-C to stop.\n", reportCmd)
}

// selfCommand is how to run this athenawatch again from a shell.
func selfCommand() string {
	exe, err := os.Executable()
	if err != nil {
		return "athenawatch"
	}
	cwd, _ := os.Getwd()
	bi, _ := debug.ReadBuildInfo()
	return commandFor(exe, cwd, bi, exec.LookPath)
}

// commandFor is selfCommand's decision. Under `go run` the executable lives
// in a temporary build directory that is gone after the run, so the
// command is `go run` again: ./cmd/athenawatch from the repository root,
// the package path elsewhere in the module, and the package at the version
// that ran outside it. Otherwise it is the plain name when PATH finds this
// very executable, and the executable's absolute path when it does not.
func commandFor(exe, cwd string, bi *debug.BuildInfo, lookPath func(string) (string, error)) string {
	if isGoRunBuild(exe) {
		pkg, module, version := "github.com/athenawatch/athenawatch/cmd/athenawatch", "github.com/athenawatch/athenawatch", ""
		if bi != nil {
			if bi.Path != "" {
				pkg, module = bi.Path, bi.Main.Path
			}
			if v := bi.Main.Version; v != "" && v != "(devel)" && !strings.HasSuffix(v, "+dirty") {
				version = v
			}
		}
		root, ok := moduleRoot(cwd, module)
		switch {
		case ok && root == cwd:
			return "go run ./" + strings.TrimPrefix(strings.TrimPrefix(pkg, module), "/")
		case ok:
			return "go run " + pkg
		case version != "":
			return "go run " + pkg + "@" + version
		}
		return "go run " + pkg + "@latest"
	}
	if p, err := lookPath("athenawatch"); err == nil && sameFile(p, exe) {
		return "athenawatch"
	}
	return shellQuote(exe)
}

// moduleRoot finds the directory at or above dir whose go.mod declares
// module.
func moduleRoot(dir, module string) (string, bool) {
	for dir != "" {
		if data, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil {
			for _, line := range strings.Split(string(data), "\n") {
				if f := strings.Fields(line); len(f) == 2 && f[0] == "module" && strings.Trim(f[1], `"`) == module {
					return dir, true
				}
			}
			return "", false // the directory belongs to another module
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			break
		}
		dir = parent
	}
	return "", false
}

// isGoRunBuild reports whether exe was built by `go run`: it sits in
// $WORK/b001/exe/ of a go-build work directory.
func isGoRunBuild(exe string) bool {
	exeDir := filepath.Dir(exe)
	work := filepath.Dir(filepath.Dir(exeDir))
	return filepath.Base(exeDir) == "exe" && strings.HasPrefix(filepath.Base(work), "go-build")
}

func sameFile(a, b string) bool {
	fa, err := os.Stat(a)
	if err != nil {
		return false
	}
	fb, err := os.Stat(b)
	return err == nil && os.SameFile(fa, fb)
}

var shellSafe = regexp.MustCompile(`^[A-Za-z0-9_./:=@%+,-]+$`)

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if shellSafe.MatchString(s) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// flagSet reports whether the global flag name was given on the command line.
func flagSet(fs *flag.FlagSet, name string) bool {
	found := false
	if fs != nil {
		fs.Visit(func(f *flag.Flag) {
			if f.Name == name {
				found = true
			}
		})
	}
	return found
}
