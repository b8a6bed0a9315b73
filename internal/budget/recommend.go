package budget

import (
	"context"
	"math"
	"time"

	"github.com/athenawatch/athenawatch/internal/store"
)

// Cutoff bounds of Athena's BytesScannedCutoffPerQuery.
const (
	MinCutoff = 10_000_000 // Athena's minimum, 10 MB
	// MinSample is how many queries a workgroup needs for a recommendation:
	// the p99.9 of fewer is the largest query, not a tail.
	MinSample = 100
)

// Recommendation is a per-query cutoff for one workgroup.
type Recommendation struct {
	Account   string `json:"account"`
	Region    string `json:"region"`
	Workgroup string `json:"workgroup"`
	Queries   int    `json:"queries"`
	P999      int64  `json:"p999_bytes"`
	Max       int64  `json:"max_bytes"`
	Cutoff    int64  `json:"cutoff_bytes"`
	// WouldCut are the queries that scanned more than the cutoff: the ones
	// it would have cancelled (the largest few).
	WouldCut      []store.Query `json:"-"`
	WouldCutCount int           `json:"would_cut"`
	Note          string        `json:"note,omitempty"`
}

// Recommend chooses, for each workgroup with at least MinSample queries
// since since, a BytesScannedCutoffPerQuery above the p99.9 of its
// queries' bytes scanned (rounded up: to 10 MB under 1 GB, to 1 GB above),
// never below Athena's 10 MB, and lists the queries it would have cut.
func Recommend(ctx context.Context, st *store.Store, since time.Time) ([]Recommendation, error) {
	scans, err := st.ScansByWorkgroup(ctx, since)
	if err != nil {
		return nil, err
	}
	var out []Recommendation
	for _, w := range scans {
		n := len(w.Bytes)
		r := Recommendation{Account: w.Account, Region: w.Region, Workgroup: w.Workgroup, Queries: n, Max: w.Bytes[n-1]}
		if n < MinSample {
			r.Note = "too few queries for a tail"
			out = append(out, r)
			continue
		}
		r.P999 = w.Bytes[int(math.Ceil(0.999*float64(n)))-1]
		r.Cutoff = roundCutoff(r.P999 + 1)
		for _, b := range w.Bytes {
			if b > r.Cutoff {
				r.WouldCutCount++
			}
		}
		if r.WouldCutCount > 0 {
			if r.WouldCut, err = st.LargestScans(ctx, w.Account, w.Region, w.Workgroup, since, r.Cutoff, 5); err != nil {
				return nil, err
			}
		}
		out = append(out, r)
	}
	return out, nil
}

// roundCutoff rounds a cutoff up: to 10 MB under 1 GB, to 1 GB above; never
// below MinCutoff.
func roundCutoff(b int64) int64 {
	const mb10, gb = 10_000_000, 1 << 30
	step := int64(mb10)
	if b > gb {
		step = gb
	}
	c := (b + step - 1) / step * step
	return max(c, MinCutoff)
}
