package cloudtrail

import (
	"context"
	"strings"
	"testing"
)

// A query whose id and region are readable is kept even when another field
// has an unexpected type; one without a region cannot be keyed or enriched
// and is reported.
func TestReadKeepsQueryDespiteOddField(t *testing.T) {
	t.Parallel()
	rec := func(extra string) string {
		return `{"eventSource":"athena.amazonaws.com","eventName":"StartQueryExecution",` + extra +
			`"eventTime":"2026-11-20T10:00:00Z","eventID":"e1","userIdentity":{"type":"IAMUser","userName":"a"},` +
			`"responseElements":{"queryExecutionId":"q1"}}`
	}
	tests := []struct {
		name    string
		record  string
		queries int
		issue   string
	}{
		{"catalog is a number", rec(`"awsRegion":"us-east-1","requestParameters":{"queryExecutionContext":{"catalog":5}},`), 1, "decode StartQueryExecution"},
		{"no region", rec(``), 0, "no awsRegion"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var got []*QueryEvent
			st, err := NewReader(ReaderOptions{}).Read(context.Background(), "f.json", strings.NewReader(`{"Records":[`+tt.record+`]}`),
				func(ev *QueryEvent) error { got = append(got, ev); return nil })
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != tt.queries || len(st.Issues) != 1 || !strings.Contains(st.Issues[0].Error(), tt.issue) {
				t.Fatalf("events %d (want %d), issues %v (want one with %q)", len(got), tt.queries, st.Issues, tt.issue)
			}
		})
	}
}
