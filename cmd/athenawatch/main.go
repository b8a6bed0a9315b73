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
	"strconv"
	"strings"
	"syscall"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"

	"github.com/athenawatch/athenawatch/internal/config"
	"github.com/athenawatch/athenawatch/internal/enrich"
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
	flags    *flag.FlagSet     // the parsed global flags
	usage    func(w io.Writer) // prints athenawatch's usage

	// aws is the AWS configuration every command uses, loaded once by
	// awsConfig (the SDK's default chain) unless a caller such as demo set
	// it beforehand.
	aws    *aws.Config
	awsErr error

	// athenaCalls, when set, is told of every Athena call enrich makes
	// (serve reports them on /metrics).
	athenaCalls enrich.CallObserver
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

// commandList is every command, in the order help lists them. It is a
// function, not a variable, because the commands' help looks it up.
func commandList() []command {
	return []command{
		{"collect", "read CloudTrail from sources, store Athena query events, enrich them", runCollect},
		{"enrich", "ask Athena for the statistics of queries that have none yet", runEnrich},
		{"report", "usage per user, role, team, database, workgroup, account, region or day", runReport},
		{"serve", "serve the dashboard, the JSON API and /metrics; collect in the background", runServe},
		{"budgets", "budgets check: where each budget's scopes stand in the current period", runBudgets},
		{"reconcile", "compare the AWS bill (a CUR 2.0 export) with the attributed cost, per account, region, workgroup and day", runReconcile},
		{"export", "write the usage lake (Parquet or CSV, partitioned by day) to a directory or S3", runExport},
		{"ddl", "print Athena DDL for the CloudTrail table, the seed's tables and the exported usage table", runDDL},
		{"iam-policy", "print the least-privilege IAM policies for the collector and the reader role", runIAMPolicy},
		{"demo", "run a local AWS emulator and a simulated organization through the whole pipeline", runDemo},
		{"help", "show help for athenawatch or one command", runHelp},
		{"version", "print the version, revision and Go version", runVersion},
	}
}

func lookupCommand(name string) (command, bool) {
	for _, c := range commandList() {
		if c.name == name {
			return c, true
		}
	}
	return command{}, false
}

func main() {
	ctx, stop := notifyInterrupt(context.Background(), os.Stderr)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// interruption is the cause of a context that a signal ended.
type interruption struct{ sig os.Signal }

func (i interruption) Error() string { return "interrupted by " + signalName(i.sig) }

// exitCode is 128 + the signal's number, as shells report a command a
// signal stopped: 130 for Ctrl-C (SIGINT), 143 for SIGTERM.
func (i interruption) exitCode() int {
	if s, ok := i.sig.(syscall.Signal); ok && s > 0 {
		return 128 + int(s)
	}
	return exitError
}

func signalName(sig os.Signal) string {
	switch sig {
	case os.Interrupt:
		return "SIGINT"
	case syscall.SIGTERM:
		return "SIGTERM"
	}
	return sig.String()
}

// notifyInterrupt returns a context that ends, with an interruption as its
// cause, at the first SIGINT or SIGTERM. Commands then stop after the
// commit under way, so that what they read is kept. A second signal is not
// caught: it ends the process at once, which loses nothing committed.
func notifyInterrupt(parent context.Context, stderr io.Writer) (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(parent)
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case sig := <-ch:
			signal.Stop(ch)
			fmt.Fprintf(stderr, "\nathenawatch: %s received, stopping (send it again to stop at once)\n", signalName(sig))
			cancel(interruption{sig})
		case <-done:
		}
	}()
	return ctx, func() {
		signal.Stop(ch)
		close(done)
		cancel(nil)
	}
}

// levels are the accepted --log-level values.
var levels = map[string]slog.Level{"debug": slog.LevelDebug, "info": slog.LevelInfo, "warn": slog.LevelWarn, "error": slog.LevelError}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	g := &globals{stdout: stdout, stderr: stderr}
	fs := flag.NewFlagSet("athenawatch", flag.ContinueOnError)
	// The flag package prints nothing itself: help goes to stdout, usage
	// errors to stderr, both written here.
	fs.SetOutput(io.Discard)
	fs.StringVar(&g.db, "db", envOr("ATHENAWATCH_DB", "athenawatch.db"), "SQLite database `path` (env ATHENAWATCH_DB)")
	fs.StringVar(&g.config, "config", os.Getenv("ATHENAWATCH_CONFIG"), "YAML configuration `file` (env ATHENAWATCH_CONFIG; default: none, built-in defaults)")
	fs.StringVar(&g.logLevel, "log-level", "info", "log `level`: debug, info, warn or error")
	help := addHelpFlag(fs)
	g.usage = func(w io.Writer) {
		fmt.Fprintf(w, "Usage: athenawatch [--db PATH] [--config FILE] [--log-level LEVEL] COMMAND [flags]\n\nCommands:\n")
		for _, c := range commandList() {
			fmt.Fprintf(w, "  %-8s %s\n", c.name, c.summary)
		}
		fmt.Fprintf(w, "\nGlobal flags:\n")
		printFlags(w, fs)
		fmt.Fprintf(w, "\nRun 'athenawatch help COMMAND' for a command's flags.\n")
	}
	err := fs.Parse(args)
	switch {
	case help.asked:
		g.usage(stdout)
		return exitOK
	case err != nil:
		fmt.Fprintf(stderr, "athenawatch: %v\nRun 'athenawatch help' for usage.\n", err)
		return exitUsage
	case fs.NArg() == 0:
		g.usage(stderr)
		return exitUsage
	}
	g.flags = fs
	level, ok := levels[strings.ToLower(g.logLevel)]
	if !ok {
		fmt.Fprintf(stderr, "athenawatch: --log-level %q: want debug, info, warn or error\n", g.logLevel)
		return exitUsage
	}
	g.logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))

	name, rest := fs.Arg(0), fs.Args()[1:]
	c, ok := lookupCommand(name)
	if !ok {
		fmt.Fprintf(stderr, "athenawatch: unknown command %q\n\n", name)
		g.usage(stderr)
		return exitUsage
	}
	err = c.run(ctx, g, rest)
	var ue usageError
	var intr interruption
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, flag.ErrHelp):
		return exitOK
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "athenawatch %s: %v\nRun 'athenawatch help %s' for usage.\n", name, err, name)
		return exitUsage
	case ctx.Err() != nil && errors.As(context.Cause(ctx), &intr):
		fmt.Fprintf(stderr, "athenawatch %s: %v\n", name, intr)
		return intr.exitCode()
	default:
		fmt.Fprintf(stderr, "athenawatch %s: %v\n", name, err)
		return exitError
	}
}

// runHelp prints the usage of athenawatch, or of one command.
func runHelp(ctx context.Context, g *globals, args []string) error {
	switch len(args) {
	case 0:
		g.usage(g.stdout)
		return nil
	case 1:
	default:
		return usagef("help takes at most one command, got %q", strings.Join(args, " "))
	}
	if args[0] == "help" {
		g.usage(g.stdout)
		return nil
	}
	c, ok := lookupCommand(args[0])
	if !ok {
		return usagef("unknown command %q", args[0])
	}
	// A command asked for --help prints its flags and does nothing else.
	return c.run(ctx, g, []string{"--help"})
}

// newFlagSet makes a command's flag set with a usage line. --help (and -h)
// print the command's help to stdout; flag errors are left to parseFlags.
func newFlagSet(g *globals, name, synopsis string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	addHelpFlag(fs).print = func() {
		fmt.Fprintf(g.stdout, "Usage: athenawatch %s %s\n", name, synopsis)
		if c, ok := lookupCommand(name); ok {
			fmt.Fprintf(g.stdout, "\n%s.\n", upperFirst(c.summary))
		}
		fmt.Fprintf(g.stdout, "\nFlags:\n")
		printFlags(g.stdout, fs)
	}
	return fs
}

// helpFlag is --help and -h as an ordinary boolean flag, so that asking for
// help is told apart from a flag error (the flag package calls Usage for
// both), with what prints the help.
type helpFlag struct {
	asked bool
	print func()
}

func (h *helpFlag) String() string     { return strconv.FormatBool(h != nil && h.asked) }
func (h *helpFlag) IsBoolFlag() bool   { return true }
func (h *helpFlag) Set(v string) error { b, err := strconv.ParseBool(v); h.asked = b; return err }

func addHelpFlag(fs *flag.FlagSet) *helpFlag {
	h := &helpFlag{}
	fs.Var(h, "help", "show this help")
	fs.Var(h, "h", "show this help")
	return h
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// printFlags lists flags GNU style (--name), as the README and DESIGN.md
// write them; Go's flag package accepts both - and --.
func printFlags(w io.Writer, fs *flag.FlagSet) {
	fs.VisitAll(func(f *flag.Flag) {
		if f.Name == "h" {
			return // listed with --help
		}
		arg, usage := flag.UnquoteUsage(f)
		line := "  --" + f.Name
		if f.Name == "help" {
			line = "  -h, --help"
		}
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

// parseFlags parses a command's flags. Asked for help, it prints it to
// stdout and returns flag.ErrHelp (exit 0); flag errors become usage errors
// (exit 2).
func parseFlags(fs *flag.FlagSet, args []string) error {
	err := fs.Parse(args)
	if h, ok := fs.Lookup("help").Value.(*helpFlag); ok && h.asked {
		if h.print != nil {
			h.print()
		}
		return flag.ErrHelp
	}
	if err != nil {
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
	if err := usage.LoadIdentityNames(ctx, st, rules); err != nil {
		st.Close()
		return nil, nil, nil, err
	}
	changed, err := usage.Rederive(ctx, st, rules)
	if err != nil {
		st.Close()
		return nil, nil, nil, err
	}
	if changed {
		g.logger.Info("configuration rules changed: re-derived users, teams and costs of stored queries")
	}
	repriced, err := usage.Reprice(ctx, st, rules)
	if err != nil {
		st.Close()
		return nil, nil, nil, err
	}
	if repriced > 0 {
		g.logger.Info("prices changed: repriced stored queries", slog.Int64("queries", repriced))
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
	rules := usage.NewRules(cfg)
	if err := usage.LoadIdentityNames(ctx, st, rules); err != nil {
		st.Close()
		return nil, nil, nil, err
	}
	return cfg, st, rules, nil
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
