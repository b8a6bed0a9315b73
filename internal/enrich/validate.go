package enrich

import (
	"fmt"
	"math"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/athenawatch/athenawatch/internal/store"
)

// Bounds on what Athena can say about one query. Athena's answers are
// untrusted input like any other: a value outside its bound is never stored
// as is, because one impossible number (bytes scanned near 2^63) would make
// every later sum, hence every report, fail with an integer overflow.
const (
	// MaxQueryTextBytes is Athena's limit on a query string: 262,144 bytes
	// of UTF-8, not adjustable (Athena User Guide, Service Quotas, "Query
	// string length"). Longer text is cut to it.
	MaxQueryTextBytes = 262144

	// MaxDataScannedBytes is the most one query can scan: 1 PiB. A query
	// runs at most 240 minutes (the DML query timeout can be raised no
	// further; Athena User Guide, Service Quotas), and reading a petabyte
	// in that time would take 70 GB/s for four hours. Stored values being
	// at most 2^50, int64 sums stay exact up to 8,192 queries at the bound
	// and over any number of queries averaging under 9 TB each.
	MaxDataScannedBytes int64 = 1 << 50

	// MaxDurationMs bounds each time statistic (engine, total, queue,
	// planning, service times): 7 days, far beyond the 240-minute DML and
	// 600-minute DDL timeouts even with queueing. Sums stay within int64
	// over 15 billion queries at the bound.
	MaxDurationMs int64 = 7 * 24 * 60 * 60 * 1000

	// MaxDPUCount bounds the DPUs of a query on provisioned capacity.
	// Capacity reservations are sized in the hundreds of DPUs; a hundred
	// thousand is beyond any account.
	MaxDPUCount = 100000.0

	// maxTextBytes bounds every other text field (state change reason,
	// error message, names, locations), none of which Athena makes longer
	// than a few kilobytes.
	maxTextBytes = 64 << 10

	// maxClockSkew is how far in the future a submission or completion
	// time may be: clocks disagree, but not by more than this.
	maxClockSkew = 24 * time.Hour
)

// minTime is the earliest plausible submission or completion time: Athena
// opened in 2016, and anything before 2000 is a broken clock or a zero
// value in another encoding.
var minTime = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// checkStats brings every field of st within its bound, in place, and says
// what it changed. now is the time the answer arrived.
//
// What is done with an impossible value depends on what it feeds:
//   - bytes scanned below 0 or above MaxDataScannedBytes, engine time above
//     MaxDurationMs, and a DPU count that is not a number, negative or above
//     MaxDPUCount are the bases of cost. They are set to 0 and the answer is
//     unusable: the query stays pending, so reports count it as pending
//     instead of showing a made-up cost, and the next run asks again.
//   - other times below 0 (clock skew) or above MaxDurationMs are clamped to
//     the nearest bound, as is a negative engine time (0).
//   - submission and completion times before 2000 or more than a day in the
//     future become unknown (zero).
//   - text that is not UTF-8 is repaired (U+FFFD); query text longer than
//     MaxQueryTextBytes and other text longer than 64 KiB is cut short at a
//     character boundary.
//   - negative error category and type become 0.
func checkStats(st *store.Stats, now time.Time) (problems []string, unusable bool) {
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }

	if b := st.DataScannedBytes; b < 0 || b > MaxDataScannedBytes {
		bad("bytes scanned %d outside 0..%d", b, MaxDataScannedBytes)
		st.DataScannedBytes, unusable = 0, true
	}
	if ms := st.EngineMs; ms > MaxDurationMs {
		bad("engine time %d ms above %d", ms, MaxDurationMs)
		st.EngineMs, unusable = 0, true
	}
	if d := st.DPUCount; math.IsNaN(d) || d < 0 || d > MaxDPUCount {
		bad("DPU count %v outside 0..%v", d, MaxDPUCount)
		st.DPUCount, unusable = 0, true
	}
	for _, f := range []struct {
		name string
		v    *int64
	}{
		{"engine time", &st.EngineMs}, {"total time", &st.TotalMs}, {"queue time", &st.QueueMs},
		{"planning time", &st.PlanningMs}, {"service preprocessing time", &st.ServicePreprocessingMs},
		{"service processing time", &st.ServiceProcessingMs},
	} {
		if c := min(max(*f.v, 0), MaxDurationMs); c != *f.v {
			bad("%s %d ms clamped to %d", f.name, *f.v, c)
			*f.v = c
		}
	}
	for _, f := range []struct {
		name string
		t    *time.Time
	}{{"submission time", &st.SubmittedAt}, {"completion time", &st.CompletedAt}} {
		if t := *f.t; !t.IsZero() && (t.Before(minTime) || t.After(now.Add(maxClockSkew))) {
			bad("%s %s implausible; stored as unknown", f.name, t.Format(time.RFC3339))
			*f.t = time.Time{}
		}
	}
	for _, f := range []struct {
		name string
		v    *int32
	}{{"error category", &st.ErrorCategory}, {"error type", &st.ErrorType}} {
		if *f.v < 0 {
			bad("%s %d clamped to 0", f.name, *f.v)
			*f.v = 0
		}
	}
	for _, f := range []struct {
		name string
		s    *string
		max  int
	}{
		{"query text", &st.QueryText, MaxQueryTextBytes},
		{"state", &st.State, maxTextBytes}, {"state change reason", &st.StateChangeReason, maxTextBytes},
		{"statement type", &st.StatementType, maxTextBytes}, {"substatement type", &st.SubstatementType, maxTextBytes},
		{"database", &st.Database, maxTextBytes}, {"catalog", &st.Catalog, maxTextBytes},
		{"workgroup", &st.Workgroup, maxTextBytes}, {"error message", &st.ErrorMessage, maxTextBytes},
		{"output location", &st.OutputLocation, maxTextBytes}, {"engine version", &st.EngineVersion, maxTextBytes},
	} {
		if !utf8.ValidString(*f.s) {
			bad("%s is not valid UTF-8; repaired", f.name)
			*f.s = strings.ToValidUTF8(*f.s, "\uFFFD")
		}
		if len(*f.s) > f.max {
			bad("%s of %d bytes cut to %d", f.name, len(*f.s), f.max)
			*f.s = truncateUTF8(*f.s, f.max)
		}
	}
	return problems, unusable
}

// truncateUTF8 cuts s to at most n bytes without splitting a character.
func truncateUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
