package usage

import (
	"fmt"
	"path"
	"strings"
	"time"

	"github.com/athenawatch/athenawatch/internal/store"
)

// DefaultSince is how far back a report looks when no since is given.
const DefaultSince = "30d"

// FilterKeys are the keys a report can be filtered by, in help order.
var FilterKeys = []string{"user", "role", "team", "database", "workgroup", "account", "region", "day", "hour", "state", "statement_type", "principal_arn", "fingerprint"}

// filterValues are the values of the filter keys that take one of a known
// set: Athena's query states and statement types. They are matched
// case-insensitively.
var filterValues = map[string][]string{
	"state":          {"QUEUED", "RUNNING", "SUCCEEDED", "FAILED", "CANCELLED"},
	"statement_type": {"DDL", "DML", "UTILITY"},
}

// FilterError is a wrong value in a report's selection. It names the
// parameter (the flag of the command line, the query parameter of the HTTP
// API) and the value as given.
type FilterError struct {
	Param  string // "since", "until" or "filter"
	Value  string
	Reason string
}

func (e *FilterError) Error() string {
	return fmt.Sprintf("--%s %q: %s", e.Param, e.Value, e.Reason)
}

// ParseFilter reads a report's selection as a person writes it, on the
// command line (--since, --until, --filter KEY=VALUE) or as the query
// parameters of the HTTP API: since and until are a duration back from now
// (30d, 12h), a date (UTC midnight) or an RFC 3339 instant, empty for no
// bound; each filter is KEY=VALUE with a glob value, a key given twice
// matching either value. Every error is a *FilterError.
func ParseFilter(since, until string, filters []string, now time.Time) (store.Filter, error) {
	f := store.Filter{Match: map[string][]string{}}
	var err error
	if f.Since, err = ParseTime(since, now); err != nil {
		return f, &FilterError{"since", since, err.Error()}
	}
	if f.Until, err = ParseTime(until, now); err != nil {
		return f, &FilterError{"until", until, err.Error()}
	}
	if !f.Since.IsZero() && !f.Until.IsZero() && !f.Until.After(f.Since) {
		return f, &FilterError{"until", until, fmt.Sprintf("not after --since %q (%s is not after %s): the window is empty",
			since, f.Until.Format(time.RFC3339), f.Since.Format(time.RFC3339))}
	}
	for _, kv := range filters {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return f, &FilterError{"filter", kv, "want KEY=VALUE"}
		}
		if _, known := store.Dimensions[k]; !known {
			return f, &FilterError{"filter", kv, fmt.Sprintf("unknown key %q (one of %s)", k, strings.Join(FilterKeys, ", "))}
		}
		if err := checkGlob(v); err != nil {
			return f, &FilterError{"filter", kv, err.Error()}
		}
		if known, ok := filterValues[k]; ok {
			vals := matchKnown(strings.ToUpper(v), known)
			if len(vals) == 0 {
				return f, &FilterError{"filter", kv, fmt.Sprintf("%s %q is none of %s", k, v, strings.Join(known, ", "))}
			}
			f.Match[k] = append(f.Match[k], vals...)
			continue
		}
		f.Match[k] = append(f.Match[k], v)
	}
	return f, nil
}

// checkGlob rejects a glob SQLite would read as matching nothing: a [ that
// opens a character class no ] closes. (A ] right after [ or [^ belongs to
// the class.)
func checkGlob(v string) error {
	for i := 0; i < len(v); i++ {
		if v[i] != '[' {
			continue
		}
		j := i + 1
		if j < len(v) && v[j] == '^' {
			j++
		}
		if j < len(v) && v[j] == ']' {
			j++
		}
		end := strings.IndexByte(v[j:], ']')
		if end < 0 {
			return fmt.Errorf("malformed glob: the [ at byte %d is never closed by ]", i)
		}
		i = j + end
	}
	return nil
}

// matchKnown returns the known values v names: itself, or those its glob
// matches.
func matchKnown(v string, known []string) []string {
	var out []string
	for _, k := range known {
		if ok, _ := path.Match(v, k); ok || v == k {
			out = append(out, k)
		}
	}
	return out
}
