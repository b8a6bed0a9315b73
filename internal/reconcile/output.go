package reconcile

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"unicode"
)

// Formats are the output formats of a reconciliation.
var Formats = []string{"table", "json"}

// Write writes the result as a table or as JSON.
func (r *Result) Write(w io.Writer, format string) error {
	if format == "json" {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(r)
	}
	return r.writeTable(w)
}

// writeTable writes the cells with a gap (those that match are counted),
// the totals per day and over the window, and what was not collected.
// Names from the bill or the store are quoted when they hold anything
// but printable text.
func (r *Result) writeTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	matched := 0
	header := false
	for _, c := range r.Cells {
		if c.Cause == Match {
			matched++
			continue
		}
		if !header {
			fmt.Fprintln(tw, "DAY\tACCOUNT\tREGION\tWORKGROUP\tKIND\tBILLED\tATTRIBUTED\tGAP\tQUERIES\tPENDING\tNO STATS\tCAUSE\t")
			header = true
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%d\t%d\t%s\t\n", c.Day, clean(c.Account), clean(c.Region), clean(WorkgroupName(c.Workgroup)),
			c.Kind, money(c.BilledUSD), money(c.AttributedUSD), money(c.GapUSD), c.Queries, c.Pending, c.NoStats, c.Cause.Text())
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if header {
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "%d of %d cells (account, region, workgroup, day, kind) match the bill.\n\n", matched, len(r.Cells))
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "DAY\tBILLED\tATTRIBUTED\tGAP\t")
	for _, d := range r.Days {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t\n", d.Day, money(d.BilledUSD), money(d.AttributedUSD), money(d.GapUSD))
	}
	fmt.Fprintf(tw, "TOTAL\t%s\t%s\t%s\t\n", money(r.Total.BilledUSD), money(r.Total.AttributedUSD), money(r.Total.GapUSD))
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, a := range r.NotCollectedAccounts {
		fmt.Fprintf(w, "account %s was not collected: the bill charges it, but athenawatch holds none of its queries and read none of its trail "+
			"for the window (add its trail or lookup-events, and accounts.%s.role_arn).\n", clean(a), clean(a))
	}
	for _, ar := range r.NotCollectedRegions {
		fmt.Fprintf(w, "region %s was not collected: the bill charges it, but athenawatch read nothing of it for the window.\n", clean(ar))
	}
	if r.BillLastDay != "" {
		fmt.Fprintf(w, "The bill has Athena usage up to %s (%s, %d data files).\n", r.BillLastDay, clean(r.Source), r.Files)
	} else {
		fmt.Fprintf(w, "The bill has no Athena usage in the window (%s, %d data files).\n", clean(r.Source), r.Files)
	}
	return nil
}

// money is an amount in USD to a hundredth of a cent: gaps under a cent
// are what rounding explains.
func money(v float64) string {
	if v > -0.00005 && v < 0.00005 {
		v = 0 // no "-0.0000"
	}
	return strconv.FormatFloat(v, 'f', 4, 64)
}

// clean quotes s when it holds anything but printable characters, so that
// a hostile name cannot move the terminal's cursor.
func clean(s string) string {
	if strings.IndexFunc(s, func(r rune) bool { return !unicode.IsPrint(r) }) >= 0 {
		return strconv.Quote(s)
	}
	return s
}
