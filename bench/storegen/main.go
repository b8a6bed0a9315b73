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
//
// Into a new database the queries are loaded before the query table's
// indexes exist, and the indexes are built at the end: each index of a
// large store then costs one sort rather than an insert at a random place
// for every query, which with ten million queries is the difference
// between hours and minutes. The database is the same either way, as
// REINDEX would leave it; -incremental-indexes keeps them throughout.
package main

import (
	"context"
	"database/sql"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime/pprof"
	"time"

	_ "modernc.org/sqlite"

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
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the generation to `file`")
	incremental := flag.Bool("incremental-indexes", false, "keep the query table's indexes while loading a new database (slower)")
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
	fresh := true
	if fi, err := os.Stat(*db); err == nil && fi.Size() > 0 {
		fresh = false
	}
	var indexes []string
	if fresh && !*incremental {
		// Created and migrated first: the indexes the migrations made come
		// off until the queries are in.
		created, err := store.Open(ctx, *db)
		if err != nil {
			return err
		}
		if err := created.Close(); err != nil {
			return err
		}
		if indexes, err = dropQueryIndexes(ctx, *db); err != nil {
			return err
		}
	}
	st, err := store.Open(ctx, *db)
	if err != nil {
		return err
	}
	defer st.Close()
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	stats, err := storegen.Generate(ctx, st, o)
	if err != nil {
		return err
	}
	if err := st.Close(); err != nil {
		return err
	}
	if len(indexes) > 0 {
		start := time.Now()
		if err := createIndexes(ctx, *db, indexes); err != nil {
			return err
		}
		took := time.Since(start)
		fmt.Printf("built %d indexes of the query table in %s\n", len(indexes), took.Round(time.Millisecond))
		stats.Elapsed += took
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

// dropQueryIndexes drops the indexes of the query table that its schema
// declares (not the primary key's, which finds a query delivered twice)
// and returns the statements that create them again.
func dropQueryIndexes(ctx context.Context, path string) ([]string, error) {
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(30000)")
	if err != nil {
		return nil, err
	}
	defer db.Close()
	rows, err := db.QueryContext(ctx, "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'queries' AND sql IS NOT NULL ORDER BY name")
	if err != nil {
		return nil, fmt.Errorf("list the query table's indexes: %w", err)
	}
	var names, creates []string
	for rows.Next() {
		var name, create string
		if err := rows.Scan(&name, &create); err != nil {
			rows.Close()
			return nil, err
		}
		names, creates = append(names, name), append(creates, create)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for _, name := range names {
		// The name comes from the schema, not from input.
		if _, err := db.ExecContext(ctx, `DROP INDEX "`+name+`"`); err != nil {
			return nil, fmt.Errorf("drop index %s: %w", name, err)
		}
	}
	return creates, nil
}

// createIndexes runs the statements dropQueryIndexes returned, with a
// page cache and sorter memory large enough to build each in few passes.
func createIndexes(ctx context.Context, path string, creates []string) error {
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(30000)&_pragma=cache_size(-1048576)&_pragma=temp_store(FILE)")
	if err != nil {
		return err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	for _, create := range creates {
		if _, err := db.ExecContext(ctx, create); err != nil {
			return fmt.Errorf("create index: %s: %w", create, err)
		}
	}
	return db.Close()
}
