package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/athenawatch/athenawatch/internal/awsemu/orgsim"
)

func runDemo(ctx context.Context, g *globals, args []string) error {
	fs := newFlagSet(g, "demo", "[flags]")
	addr := fs.String("addr", "127.0.0.1:8080", "dashboard `address` (the dashboard comes with a later version; unused now)")
	noServe := fs.Bool("no-serve", false, "exit after the reports instead of keeping the emulator running")
	emuAddr := fs.String("emulator-addr", "127.0.0.1:4566", "`address` of the local AWS emulator (127.0.0.1:0 picks a free port)")
	days := fs.Int("days", 7, "simulated `days` of Athena use, ending now")
	perDay := fs.Int("queries-per-day", orgsim.DefaultQueriesPerDay, "mean Athena submissions per simulated `day`")
	seed := fs.Uint64("seed", 1, "simulation `seed` (same seed, same organization and queries)")
	workDir := fs.String("dir", "", "keep the trail, database and config in this `directory` (default: a temporary one, removed at exit)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	_ = addr
	if *days < 1 {
		return usagef("--days must be at least 1")
	}
	dir := *workDir
	if dir == "" {
		tmp, err := os.MkdirTemp("", "athenawatch-demo-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		dir = tmp
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	trailDir := filepath.Join(dir, "trail")

	end := time.Now().UTC().Truncate(time.Hour)
	fmt.Fprintf(g.stderr, "demo: simulating %d days of Athena use by an organization on a local AWS emulator (%s)...\n", *days, *emuAddr)
	res, emu, srv, err := orgsim.RunLocal(ctx, orgsim.Config{
		Seed:          *seed,
		Start:         end.Add(-time.Duration(*days) * 24 * time.Hour),
		End:           end,
		QueriesPerDay: *perDay,
		Logger:        g.logger,
	}, trailDir, *emuAddr)
	if err != nil {
		return fmt.Errorf("run the simulated organization: %w", err)
	}
	defer srv.Close()
	fmt.Fprintf(g.stderr, "demo: %d queries and %d rejected submissions; trail of %d files, %d records (%.1f MB) in %s\n",
		len(res.Queries), len(res.Rejected), res.Trail.Files, res.Trail.Records, float64(res.Trail.UncompressedBytes)/1e6, trailDir)

	// athenawatch talks to the emulator exactly as to AWS: through the SDK's
	// own endpoint and credential environment variables.
	env := map[string]string{
		"AWS_ENDPOINT_URL":          srv.URL,
		"AWS_ACCESS_KEY_ID":         res.CollectorCredentials.AccessKeyID,
		"AWS_SECRET_ACCESS_KEY":     res.CollectorCredentials.SecretAccessKey,
		"AWS_REGION":                "us-east-1",
		"AWS_EC2_METADATA_DISABLED": "true",
	}
	for k, v := range env {
		os.Setenv(k, v)
	}
	os.Unsetenv("AWS_SESSION_TOKEN")
	os.Unsetenv("AWS_PROFILE")

	dg := *g
	if !flagSet(g.flags, "db") {
		dg.db = filepath.Join(dir, "athenawatch.db")
	}
	if !flagSet(g.flags, "config") {
		dg.config = filepath.Join(dir, "athenawatch.yaml")
		if err := os.WriteFile(dg.config, res.ConfigYAML(), 0o644); err != nil {
			return err
		}
	}
	if err := runCollect(ctx, &dg, []string{"--source", "dir:" + trailDir}); err != nil {
		return err
	}
	for _, by := range []string{"user", "database", "team"} {
		fmt.Fprintf(g.stdout, "\n== Athena usage by %s, last %d days ==\n", by, *days)
		if err := runReport(ctx, &dg, []string{"--by", by, "--since", fmt.Sprintf("%dd", *days+1), "--top", "15"}); err != nil {
			return err
		}
	}
	fmt.Fprintf(g.stdout, "\nDatabase: %s   Config: %s\n", dg.db, dg.config)
	if *noServe {
		return nil
	}
	// From here on the emulator follows the real clock, so queries started
	// by hand run and finish as they would on AWS.
	emu.SetNow(time.Time{})
	fmt.Fprintf(g.stdout, "\nThe AWS emulator keeps running at %s. Talk to it with any AWS client:\n\n", srv.URL)
	for _, k := range []string{"AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION"} {
		fmt.Fprintf(g.stdout, "  export %s=%s\n", k, env[k])
	}
	fmt.Fprintf(g.stdout, "  aws athena list-work-groups\n  athenawatch --db %s --config %s report --by workgroup\n\nPress Ctrl-C to stop.\n", dg.db, dg.config)
	<-ctx.Done()
	fmt.Fprintln(g.stderr, "demo: stopped")
	return nil
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
