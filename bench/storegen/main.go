// Command storegen builds a database of generated Athena query history
// (package storegen) for benchmarks: build the 1M and 10M databases once,
// then point benchmarks, serve and report at copies of them.
//
//	go run ./bench/storegen -queries 1000000 -db /tmp/bench/1m.db
//
// It writes what it generated as JSON to PATH.json (the window, counts and
// the busiest user, team, database, ... that benchmarks filter by), and the
// configuration its rules derived teams and costs with to PATH.yaml: give
// it to report and serve with --config, or they re-derive every row on read.
// -config-only writes PATH.yaml alone.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"time"

	"github.com/athenawatch/athenawatch/internal/store"
	"github.com/athenawatch/athenawatch/internal/store/storegen"
	"go.yaml.in/yaml/v3"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "storegen:", err)
		os.Exit(1)
	}
}

func run() error {
	var o storegen.Options
	db := flag.String("db", "", "database to create or add to (required)")
	end := flag.String("end", "", "end of the history, RFC 3339 or \"now\" (default 2026-12-01T00:00:00Z)")
	flag.IntVar(&o.Queries, "queries", 1_000_000, "queries to generate")
	flag.IntVar(&o.Days, "days", 30, "days of history before -end")
	flag.IntVar(&o.Users, "users", 2000, "users")
	flag.IntVar(&o.Teams, "teams", 12, "teams")
	flag.IntVar(&o.Databases, "databases", 60, "databases")
	flag.IntVar(&o.Workgroups, "workgroups", 20, "workgroups")
	flag.IntVar(&o.Accounts, "accounts", 4, "accounts")
	flag.IntVar(&o.Regions, "regions", 3, "regions (at most 8)")
	flag.Int64Var(&o.Seed, "seed", 1, "seed: the same flags give the same database")
	configOnly := flag.Bool("config-only", false, "write PATH.yaml only")
	flag.Parse()
	if *db == "" || flag.NArg() > 0 {
		flag.Usage()
		os.Exit(2)
	}
	if err := writeConfig(*db+".yaml", o); err != nil {
		return err
	}
	if *configOnly {
		return nil
	}
	switch *end {
	case "":
	case "now":
		o.End = time.Now().UTC().Truncate(time.Hour).Add(time.Hour)
	default:
		t, err := time.Parse(time.RFC3339, *end)
		if err != nil {
			return fmt.Errorf("-end: %w", err)
		}
		o.End = t
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	st, err := store.Open(ctx, *db)
	if err != nil {
		return err
	}
	defer st.Close()
	stats, err := storegen.Generate(ctx, st, o)
	if err != nil {
		return err
	}
	if err := st.Close(); err != nil {
		return err
	}
	if err := storegen.WriteStats(*db, stats); err != nil {
		return err
	}
	fmt.Printf("%d queries in %s (%.0f queries/s) into %s\n", stats.Queries, stats.Elapsed.Round(time.Millisecond),
		float64(stats.Queries)/stats.Elapsed.Seconds(), *db)
	return nil
}

// writeConfig writes the parts of the generator's configuration its rules
// read: prices, capacity and teams. Keys left out take their defaults, as
// the generator's rules did.
func writeConfig(path string, o storegen.Options) error {
	cfg := o.Config()
	var teams []map[string]any
	for _, t := range cfg.Teams {
		teams = append(teams, map[string]any{"name": t.Name, "users": t.Users, "roles": t.Roles})
	}
	out, err := yaml.Marshal(map[string]any{
		"pricing": map[string]any{"regions": cfg.Pricing.Regions, "provisioned_workgroups": cfg.Pricing.ProvisionedWorkgroups},
		"teams":   teams,
	})
	if err != nil {
		return err
	}
	return os.WriteFile(path, out, 0o644)
}
