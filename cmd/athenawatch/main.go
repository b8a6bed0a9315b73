// Command athenawatch tells who runs what on Amazon Athena and what it costs.
//
// This package only parses flags and wires the feature packages together.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"

	"github.com/athenawatch/athenawatch/internal/config"
	"github.com/athenawatch/athenawatch/internal/store"
	"github.com/athenawatch/athenawatch/internal/usage"
)

// Exit statuses (DESIGN.md).
const (
	exitOK    = 0
	exitError = 1
	exitUsage = 2
)

// usageError marks errors in how the command was called (exit 2).
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

// errSkipped marks a run that skipped bad input under --strict (exit 1).
var errSkipped = errors.New("bad input was skipped (--strict)")

// globals are the flags every command takes.
type globals struct {
	db       string
	config   string
	logLevel string
	stdout   io.Writer
	stderr   io.Writer
	logger   *slog.Logger
	flags    *flag.FlagSet // the parsed global flags

	// aws is the AWS configuration every command uses, loaded once by
	// awsConfig (the SDK's default chain) unless a caller such as demo set
	// it beforehand.
	aws    *aws.Config
	awsErr error
}

// awsConfig returns the AWS configuration, loading the SDK's default chain
// (environment, profiles, SSO, instance roles) on first use.
func (g *globals) awsConfig(ctx context.Context) (aws.Config, error) {
	if g.aws == nil && g.awsErr == nil {
		cfg, err := awsconfig.LoadDefaultConfig(ctx)
		if err != nil {
			g.awsErr = fmt.Errorf("load AWS configuration: %w", err)
		} else {
			g.aws = &cfg
		}
	}
	if g.awsErr != nil {
		return aws.Config{}, g.awsErr
	}
	return *g.aws, nil
}

type command struct {
	name    string
	summary string
	run     func(ctx context.Context, g *globals, args []string) error
}

var commands = []command{
	{"collect", "read CloudTrail from sources, store Athena query events, enrich them", runCollect},
	{"enrich", "ask Athena for the statistics of queries that have none yet", runEnrich},
	{"report", "usage per user, role, team, database, workgroup, account, region or day", runReport},
	{"demo", "run a local AWS emulator and a simulated organization through the whole pipeline", runDemo},
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	g := &globals{stdout: stdout, stderr: stderr}
	fs := flag.NewFlagSet("athenawatch", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&g.db, "db", envOr("ATHENAWATCH_DB", "athenawatch.db"), "SQLite database `path` (env ATHENAWATCH_DB)")
	fs.StringVar(&g.config, "config", os.Getenv("ATHENAWATCH_CONFIG"), "YAML configuration `file` (env ATHENAWATCH_CONFIG; default: none, built-in defaults)")
	fs.StringVar(&g.logLevel, "log-level", "info", "log `level`: debug, info, warn or error")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: athenawatch [--db PATH] [--config FILE] COMMAND [flags]\n\nCommands:\n")
		for _, c := range commands {
			fmt.Fprintf(stderr, "  %-8s %s\n", c.name, c.summary)
		}
		fmt.Fprintf(stderr, "\nGlobal flags:\n")
		printFlags(stderr, fs)
		fmt.Fprintf(stderr, "\nRun 'athenawatch COMMAND --help' for a command's flags.\n")
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	g.flags = fs
	if fs.NArg() == 0 {
		fs.Usage()
		return exitUsage
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(g.logLevel)); err != nil {
		fmt.Fprintf(stderr, "athenawatch: --log-level: %v\n", err)
		return exitUsage
	}
	g.logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))

	name, rest := fs.Arg(0), fs.Args()[1:]
	for _, c := range commands {
		if c.name != name {
			continue
		}
		err := c.run(ctx, g, rest)
		var ue usageError
		switch {
		case err == nil:
			return exitOK
		case errors.Is(err, flag.ErrHelp):
			return exitOK
		case errors.As(err, &ue):
			fmt.Fprintf(stderr, "athenawatch %s: %v\n", name, err)
			return exitUsage
		default:
			fmt.Fprintf(stderr, "athenawatch %s: %v\n", name, err)
			return exitError
		}
	}
	fmt.Fprintf(stderr, "athenawatch: unknown command %q\n", name)
	fs.Usage()
	return exitUsage
}

// newFlagSet makes a command's flag set with a usage line.
func newFlagSet(g *globals, name, synopsis string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(g.stderr)
	fs.Usage = func() {
		fmt.Fprintf(g.stderr, "Usage: athenawatch %s %s\n\nFlags:\n", name, synopsis)
		printFlags(g.stderr, fs)
	}
	return fs
}

// printFlags lists flags GNU style (--name), as the README and DESIGN.md
// write them; Go's flag package accepts both - and --.
func printFlags(w io.Writer, fs *flag.FlagSet) {
	fs.VisitAll(func(f *flag.Flag) {
		arg, usage := flag.UnquoteUsage(f)
		line := "  --" + f.Name
		if arg != "" {
			line += " " + arg
		}
		fmt.Fprintf(w, "%s\n      %s", line, usage)
		if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "0" {
			fmt.Fprintf(w, " (default %q)", f.DefValue)
		}
		fmt.Fprintln(w)
	})
}

// parseFlags parses and turns flag errors into usage errors.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err.Error()}
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q", fs.Arg(0))
	}
	return nil
}

// open loads the configuration and opens the database for a command that
// writes, re-deriving stored rows when the rules in the configuration
// changed.
func (g *globals) open(ctx context.Context) (*config.Config, *store.Store, *usage.Rules, error) {
	if g.db == "" {
		return nil, nil, nil, errEmptyDB
	}
	cfg, err := config.Load(g.config)
	if err != nil {
		return nil, nil, nil, err
	}
	st, err := store.Open(ctx, g.db)
	if err != nil {
		return nil, nil, nil, err
	}
	rules := usage.NewRules(cfg)
	changed, err := usage.Rederive(ctx, st, rules)
	if err != nil {
		st.Close()
		return nil, nil, nil, err
	}
	if changed {
		g.logger.Info("configuration rules changed: re-derived users, teams and costs of stored queries")
	}
	return cfg, st, rules, nil
}

// openRead loads the configuration and opens the database for a command
// that only reads: it never writes the database (which may be a read-only
// file) and refuses a path that holds no athenawatch database. Rows derived
// under other rules are left as stored; the rules returned derive them on
// read.
func (g *globals) openRead(ctx context.Context) (*config.Config, *store.Store, *usage.Rules, error) {
	if g.db == "" {
		return nil, nil, nil, errEmptyDB
	}
	cfg, err := config.Load(g.config)
	if err != nil {
		return nil, nil, nil, err
	}
	st, err := store.OpenReadOnly(ctx, g.db)
	if err != nil {
		return nil, nil, nil, err
	}
	return cfg, st, usage.NewRules(cfg), nil
}

// errEmptyDB refuses --db "": SQLite would open a temporary database and
// lose everything at exit.
var errEmptyDB = usageError{"--db: empty path (give a database file, or leave --db out for athenawatch.db)"}

// multiFlag collects a repeatable string flag.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}
