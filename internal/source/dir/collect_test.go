package dir

import (
	"context"
	"fmt"
	"testing"
)

// TestCollectBatchesAndTransactions: whatever the batch and transaction
// bounds, every query is stored and counted once, every file is
// checkpointed, and a second run finds nothing new.
func TestCollectBatchesAndTransactions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name                            string
		batchUnits, batchEvents, txEvts int
	}{
		{"defaults", 0, 0, 0},
		{"one file a batch, one batch a transaction", 1, 0, 1},
		{"small batches in larger transactions", 2, 5, 7},
		{"batches bounded by events", 0, 4, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			d := trailDir{t, t.TempDir()}
			const files = 40
			for i := range files {
				// Each file repeats the last query of the one before: a
				// duplicate delivery, in another batch or transaction.
				var recs []string
				for j := range 3 {
					recs = append(recs, record(fmt.Sprintf("q%03d", 2*i+j), "2026-11-20"))
				}
				d.write("2026-11-20", fmt.Sprintf("f%03d.json", i), recs...)
			}
			col, st := newCollector(t)
			col.BatchUnits, col.BatchEvents, col.TxEvents = tt.batchUnits, tt.batchEvents, tt.txEvts
			src := &Source{Root: d.root, Workers: 3}
			sum, err := col.Collect(ctx, src)
			if err != nil {
				t.Fatal(err)
			}
			wantQueries := 2*files + 1
			if sum.Objects != files || sum.QueryEvents != 3*files || sum.NewQueries != wantQueries {
				t.Fatalf("first run: %d files, %d events, %d new; want %d, %d, %d", sum.Objects, sum.QueryEvents, sum.NewQueries, files, 3*files, wantQueries)
			}
			cps, err := st.Checkpoints(ctx, src.Name())
			if err != nil {
				t.Fatal(err)
			}
			if len(cps) != files {
				t.Fatalf("%d checkpoints, want %d", len(cps), files)
			}
			for i := range wantQueries {
				if _, ok, err := st.GetQuery(ctx, "us-east-1", fmt.Sprintf("q%03d", i)); !ok || err != nil {
					t.Fatalf("query q%03d not stored: %v", i, err)
				}
			}
			sum, err = col.Collect(ctx, src)
			if err != nil {
				t.Fatal(err)
			}
			if sum.Unchanged != files || sum.NewQueries != 0 || sum.Objects != 0 {
				t.Fatalf("second run: %+v", sum)
			}
		})
	}
}
