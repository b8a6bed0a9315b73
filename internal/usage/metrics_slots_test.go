package usage

import (
	"testing"

	"github.com/athenawatch/athenawatch/internal/store"
)

// Every sum a report asks the store for has its own place in a tally: a
// sum without one would be dropped from every row. A tally keeps each
// region's billed bytes once, and prices them in order of region.
func TestEverySumHasASlot(t *testing.T) {
	seen := map[int]store.Sum{}
	sums := append(reportSums(), store.SumQueries, store.SumSucceeded, store.SumFailed, store.SumCancelled, store.SumPending,
		store.SumNoStats, store.SumWithStats, store.SumBytesScanned, store.SumBilledBytes, store.SumEngineMs, store.SumProvisioned,
		store.SumDPUMillis, store.SumProvisionedNoDPU)
	for _, s := range sums {
		i := sumSlot(s)
		if i < 0 || i >= nSumSlots {
			t.Fatalf("sum %q has slot %d, want 0 to %d", s, i, nSumSlots-1)
		}
		if other, ok := seen[i]; ok && other != s {
			t.Fatalf("sums %q and %q share slot %d", other, s, i)
		}
		seen[i] = s
	}
	var tl tally
	tl.add(store.Group{Region: "us-east-1", Sums: []int64{5, 7}}, []store.Sum{store.SumBilledBytes, store.SumQueries})
	tl.add(store.Group{Region: "eu-west-1", Sums: []int64{3, 1}}, []store.Sum{store.SumBilledBytes, store.SumQueries})
	tl.add(store.Group{Region: "us-east-1", Sums: []int64{1, 1}}, []store.Sum{store.SumBilledBytes, store.SumQueries})
	if tl.sum(store.SumQueries) != 9 || tl.sum(store.SumBilledBytes) != 9 {
		t.Fatalf("tally sums: queries %d, billed %d; want 9 and 9", tl.sum(store.SumQueries), tl.sum(store.SumBilledBytes))
	}
	// eu-west-1 first: regions are priced in sorted order.
	want := float64(3)*7/TiB + float64(6)*5/TiB
	if got := tl.costUSD(func(r string) float64 { return map[string]float64{"us-east-1": 5, "eu-west-1": 7}[r] }); got != want {
		t.Fatalf("tally cost %v, want %v", got, want)
	}
}
