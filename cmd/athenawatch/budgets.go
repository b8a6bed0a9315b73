package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/athenawatch/athenawatch/internal/budget"
	"github.com/athenawatch/athenawatch/internal/config"
	"github.com/athenawatch/athenawatch/internal/store"
	"github.com/athenawatch/athenawatch/internal/usage"
)

func runBudgets(ctx context.Context, g *globals, args []string) error {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") && args[0] != "-h" && args[0] != "--help" {
		return usagef("budgets: want a subcommand: check, recommend or unblock")
	}
	switch args[0] {
	case "check":
		return runBudgetsCheck(ctx, g, args[1:])
	case "recommend":
		return runBudgetsRecommend(ctx, g, args[1:])
	case "unblock":
		return runBudgetsUnblock(ctx, g, args[1:])
	case "-h", "--help", "help":
		return runBudgetsCheck(ctx, g, []string{"--help"})
	}
	return usagef("budgets %s: unknown subcommand (want check, recommend or unblock)", args[0])
}

func runBudgetsCheck(ctx context.Context, g *globals, args []string) error {
	fs := newFlagSet(g, "budgets check", "[--at TIME] [--format table|json]")
	atFlag := fs.String("at", "", "evaluate as of this `time` (RFC 3339 or a date; default: now)")
	format := fs.String("format", "table", "`format`: table or json")
	notify := fs.Bool("notify", false, "record the alerts the budgets call for and send those due to their notifiers; record what stop budgets would do")
	enforce := fs.Bool("enforce", false, "take the budgets' actions: stop the running queries of scopes over a stop budget")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *format != "table" && *format != "json" {
		return usagef("--format %q: table or json", *format)
	}
	now := time.Now()
	at := now
	if *atFlag != "" {
		t, err := usage.ParseTime(*atFlag, now)
		if err != nil {
			return usagef("--at: %v", err)
		}
		at = t
	}
	open := g.openRead
	if *notify || *enforce {
		open = g.open // alerts and actions are recorded
	}
	cfg, st, rules, err := open(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	if len(cfg.Budgets) == 0 && (!*notify || len(cfg.Digest.Notify) == 0) {
		return usagef("budgets check: no budgets in the configuration (see budgets: in the README)")
	}
	e := &budget.Evaluator{Src: st, Rules: rules, Prices: usage.PricesOf(cfg)}
	statuses, err := e.Evaluate(ctx, cfg.Budgets, at)
	if err != nil {
		return err
	}
	var notifyErr error
	if *notify {
		notifyErr = sendAlerts(ctx, g, cfg, st, e, statuses, at)
	}
	if *notify || *enforce {
		if err := enforceBudgets(ctx, g, cfg, st, statuses, !*enforce); err != nil && notifyErr == nil {
			notifyErr = err
		}
	}
	if *format == "json" {
		if statuses == nil {
			statuses = []budget.Status{}
		}
		enc := json.NewEncoder(g.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(statuses); err != nil {
			return err
		}
		return notifyErr
	}
	printBudgets(g, statuses, at)
	return notifyErr
}

// enforceBudgets stops the running queries of the scopes over a stop
// budget, or, in a dry run, records what it would stop.
func enforceBudgets(ctx context.Context, g *globals, cfg *config.Config, st *store.Store, statuses []budget.Status, dryRun bool) error {
	acts := false
	for _, b := range cfg.Budgets {
		acts = acts || b.Action == "stop" || b.Action == "block"
	}
	if !acts {
		return nil
	}
	e := &budget.Enforcer{Store: st, DryRun: dryRun, Logger: g.logger}
	if !dryRun {
		awsCfg, err := g.awsConfig(ctx)
		if err != nil {
			return err
		}
		e.Stopper = &budget.AthenaStopper{AWS: awsCfg, Roles: cfg.Roles()}
	}
	sum, err := e.Enforce(ctx, cfg.Budgets, statuses)
	if err != nil {
		return err
	}
	switch {
	case dryRun && sum.WouldStop+sum.WouldBlock > 0:
		fmt.Fprintf(g.stderr, "budgets: dry run: %d running queries would be stopped and %d workgroups disabled (recorded; --enforce acts)\n", sum.WouldStop, sum.WouldBlock)
	case !dryRun && sum.Stopped+sum.Blocked+sum.Unblocked+sum.Failed > 0:
		fmt.Fprintf(g.stderr, "budgets: stopped %d running queries, disabled %d workgroups, enabled %d again at their period's reset, %d actions failed",
			sum.Stopped, sum.Blocked, sum.Unblocked, sum.Failed)
		if sum.Why != "" {
			fmt.Fprintf(g.stderr, " (%s)", quoteNote(sum.Why))
		}
		fmt.Fprintln(g.stderr)
	}
	if sum.Allowed > 0 {
		fmt.Fprintf(g.stderr, "budgets: %d running queries of allowlisted users left alone\n", sum.Allowed)
	}
	return nil
}

// sendAlerts records the alerts the statuses call for, each once, with a
// delivery to each of its budget's notifiers, then sends every delivery
// that is due. A notifier whose secret is missing keeps its deliveries
// queued and makes the run fail.
func sendAlerts(ctx context.Context, g *globals, cfg *config.Config, st *store.Store, e *budget.Evaluator, statuses []budget.Status, at time.Time) error {
	alerts, err := e.Alerts(ctx, cfg.Budgets, statuses, at, cfg.DashboardURL)
	if err != nil {
		return err
	}
	notify := map[string][]string{budget.DigestName: cfg.Digest.Notify}
	for _, b := range cfg.Budgets {
		notify[b.Name] = b.Notify
	}
	if len(cfg.Digest.Notify) > 0 {
		digests, err := e.Digests(ctx, cfg.Digest, at, cfg.DashboardURL)
		if err != nil {
			return err
		}
		alerts = append(alerts, digests...)
	}
	fired, err := st.RecordAlerts(ctx, alerts, func(a store.Alert) []string { return notify[a.Budget] })
	if err != nil {
		return err
	}
	senders, sendersErr := budget.Senders(cfg, budget.Env{Getenv: os.Getenv, AWS: g.awsConfig})
	broken := map[string]error{}
	for _, n := range cfg.Notifiers {
		if _, ok := senders[n.Name]; !ok {
			broken[n.Name] = sendersErr
		}
	}
	d := &budget.Deliverer{Store: st, Senders: senders, Broken: broken, Logger: g.logger}
	sum, err := d.Run(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(g.stderr, "budgets: %d new alerts; %d deliveries sent, %d to try again later, %d given up, %d waiting for a notifier that cannot send",
		len(fired), sum.Sent, sum.Failed, sum.GivenUp, sum.Waiting)
	if sum.Why != "" {
		fmt.Fprintf(g.stderr, " (%s)", quoteNote(sum.Why))
	}
	fmt.Fprintln(g.stderr)
	if sendersErr != nil {
		return fmt.Errorf("budgets: notifiers that cannot send, their alerts wait: %w", sendersErr)
	}
	return nil
}

// printBudgets writes the statuses as a table. Scope values come from the
// store (user names can come from SQL comments): they are quoted as log
// values are.
func printBudgets(g *globals, statuses []budget.Status, at time.Time) {
	tw := tabwriter.NewWriter(g.stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "BUDGET\tSCOPE\tPERIOD\tSPENT\tLIMIT\t%\tFORECAST\tSTATE\tPENDING\t")
	amount := func(s budget.Status, v float64) string {
		if s.Unit == "bytes" {
			return usage.HumanBytes(int64(v))
		}
		return strconv.FormatFloat(v, 'f', 2, 64)
	}
	for _, s := range statuses {
		period := s.Period + " from " + s.PeriodStart.Format("2006-01-02")
		limit, pct := amount(s, s.Limit), fmt.Sprintf("%.0f", 100*s.Ratio)
		if s.Kind == "anomaly" {
			limit = fmt.Sprintf("usual %s", amount(s, s.UsualDay))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t\n", quoteNote(s.Budget), quoteNote(s.Scope), period,
			amount(s, s.Spent), limit, pct, amount(s, s.Forecast), s.State, s.Pending)
	}
	tw.Flush()
	pending := 0
	for _, s := range statuses {
		if s.Pending > 0 {
			pending++
		}
	}
	fmt.Fprintf(g.stdout, "%d scopes of budgets as of %s.", len(statuses), at.UTC().Format(time.RFC3339))
	if pending > 0 {
		fmt.Fprintf(g.stdout, " In %d of them, PENDING queries still lack statistics: their cost is not in SPENT yet (run 'athenawatch enrich').", pending)
	}
	fmt.Fprintln(g.stdout)
	for _, s := range statuses {
		if s.Note != "" {
			fmt.Fprintf(g.stdout, "%s %s: %s\n", quoteNote(s.Budget), quoteNote(s.Scope), s.Note)
		}
	}
}

func runBudgetsRecommend(ctx context.Context, g *globals, args []string) error {
	fs := newFlagSet(g, "budgets recommend", "[--since 30d] [--format table|json] [--apply]")
	sinceFlag := fs.String("since", "30d", "the history to learn from (`time`: 30d, 2026-11-01, RFC 3339)")
	format := fs.String("format", "table", "`format`: table or json")
	apply := fs.Bool("apply", false, "set the recommended cutoffs on the workgroups (UpdateWorkGroup), after printing what changes")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *format != "table" && *format != "json" {
		return usagef("--format %q: table or json", *format)
	}
	since, err := usage.ParseTime(*sinceFlag, time.Now())
	if err != nil {
		return usagef("--since: %v", err)
	}
	cfg, st, _, err := g.openRead(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	recs, err := budget.Recommend(ctx, st, since)
	if err != nil {
		return err
	}
	if *format == "json" {
		if recs == nil {
			recs = []budget.Recommendation{}
		}
		enc := json.NewEncoder(g.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(recs); err != nil {
			return err
		}
	} else {
		tw := tabwriter.NewWriter(g.stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "ACCOUNT\tREGION\tWORKGROUP\tQUERIES\tP99.9\tMAX\tCUTOFF\tWOULD CUT\t")
		for _, r := range recs {
			cutoff := usage.HumanBytes(r.Cutoff)
			if r.Cutoff == 0 {
				cutoff = r.Note
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\t%s\t%d\t\n", quoteNote(r.Account), quoteNote(r.Region), quoteNote(r.Workgroup), r.Queries,
				usage.HumanBytes(r.P999), usage.HumanBytes(r.Max), cutoff, r.WouldCutCount)
		}
		tw.Flush()
		for _, r := range recs {
			for _, q := range r.WouldCut {
				fmt.Fprintf(g.stdout, "would have cut %s %s/%s: %s by %s\n", quoteNote(r.Workgroup), q.Region, q.QueryID, usage.HumanBytes(q.Stats.DataScannedBytes), quoteNote(q.User))
			}
		}
	}
	if !*apply {
		return nil
	}
	awsCfg, err := g.awsConfig(ctx)
	if err != nil {
		return err
	}
	a := &budget.AthenaStopper{AWS: awsCfg, Roles: cfg.Roles()}
	failed := 0
	for _, r := range recs {
		if r.Cutoff == 0 {
			continue
		}
		before, err := a.Cutoff(ctx, r.Account, r.Region, r.Workgroup)
		if err == nil && before == r.Cutoff {
			continue
		}
		was := "none"
		if before > 0 {
			was = usage.HumanBytes(before)
		}
		if err == nil {
			err = a.SetCutoff(ctx, r.Account, r.Region, r.Workgroup, r.Cutoff)
		}
		if err != nil {
			failed++
			fmt.Fprintf(g.stderr, "budgets recommend: %s %s %s: %s\n", r.Account, r.Region, quoteNote(r.Workgroup), quoteNote(err.Error()))
			continue
		}
		fmt.Fprintf(g.stderr, "budgets recommend: %s %s %s: cutoff %s -> %s\n", r.Account, r.Region, quoteNote(r.Workgroup), was, usage.HumanBytes(r.Cutoff))
	}
	if failed > 0 {
		return fmt.Errorf("budgets recommend: %d workgroups could not be changed", failed)
	}
	return nil
}

// runBudgetsUnblock enables again every workgroup a budget disabled; they
// stay enabled until the next period of their budget.
func runBudgetsUnblock(ctx context.Context, g *globals, args []string) error {
	fs := newFlagSet(g, "budgets unblock", "")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg, st, _, err := g.open(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	awsCfg, err := g.awsConfig(ctx)
	if err != nil {
		return err
	}
	e := &budget.Enforcer{Store: st, Stopper: &budget.AthenaStopper{AWS: awsCfg, Roles: cfg.Roles()}, Logger: g.logger}
	sum, err := e.Unblock(ctx, cfg.Budgets)
	if err != nil {
		return err
	}
	fmt.Fprintf(g.stderr, "budgets unblock: enabled %d workgroups again (until their budget's next period)", sum.Unblocked)
	if sum.Failed > 0 {
		fmt.Fprintf(g.stderr, "; %d failed (%s)\n", sum.Failed, quoteNote(sum.Why))
		return fmt.Errorf("budgets unblock: %d workgroups could not be enabled", sum.Failed)
	}
	fmt.Fprintln(g.stderr)
	return nil
}
