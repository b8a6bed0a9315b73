package usage

import (
	"errors"
	"maps"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/athenawatch/athenawatch/internal/store"
)

func TestParseFilter(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name         string
		since, until string
		filters      []string
		wantSince    time.Time
		wantUntil    time.Time
		wantMatch    map[string][]string
		wantErr      string // the error names the flag and the value
	}{
		{name: "window", since: "30d", until: "2026-11-30", wantSince: now.Add(-30 * 24 * time.Hour), wantUntil: time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC), wantMatch: map[string][]string{}},
		{name: "unbounded", wantMatch: map[string][]string{}},
		{name: "globs and repeated keys", filters: []string{"user=bob@*", "user=carol", "team=data-[sx]*", "user="},
			wantMatch: map[string][]string{"user": {"bob@*", "carol", ""}, "team": {"data-[sx]*"}}},
		{name: "state is case-insensitive", filters: []string{"state=failed", "statement_type=Dml"},
			wantMatch: map[string][]string{"state": {"FAILED"}, "statement_type": {"DML"}}},
		{name: "state glob names known states", filters: []string{"state=*ed"},
			wantMatch: map[string][]string{"state": {"QUEUED", "SUCCEEDED", "FAILED", "CANCELLED"}}},
		{name: "value with =", filters: []string{"principal_arn=arn:aws:iam::1:user/a=b"}, wantMatch: map[string][]string{"principal_arn": {"arn:aws:iam::1:user/a=b"}}},
		{name: "class with ] first", filters: []string{"user=[]a]x"}, wantMatch: map[string][]string{"user": {"[]a]x"}}},
		{name: "bad since", since: "yesterday", wantErr: `--since "yesterday"`},
		{name: "bad until", until: "soon", wantErr: `--until "soon"`},
		{name: "until before since", since: "2026-11-02", until: "2026-11-01", wantErr: `--until "2026-11-01": not after --since "2026-11-02"`},
		{name: "until equal to since", since: "2026-11-01", until: "2026-11-01T00:00:00Z", wantErr: `--until "2026-11-01T00:00:00Z": not after --since "2026-11-01"`},
		{name: "not KEY=VALUE", filters: []string{"nope"}, wantErr: `--filter "nope": want KEY=VALUE`},
		{name: "empty key", filters: []string{"=x"}, wantErr: `--filter "=x": want KEY=VALUE`},
		{name: "unknown key", filters: []string{"colour=red"}, wantErr: `--filter "colour=red": unknown key "colour"`},
		{name: "unknown state", filters: []string{"state=DONE"}, wantErr: `--filter "state=DONE": state "DONE" is none of QUEUED, RUNNING, SUCCEEDED, FAILED, CANCELLED`},
		{name: "empty state", filters: []string{"state="}, wantErr: `--filter "state="`},
		{name: "unknown statement type", filters: []string{"statement_type=select"}, wantErr: `--filter "statement_type=select": statement_type "select" is none of DDL, DML, UTILITY`},
		{name: "state glob matching nothing", filters: []string{"state=X*"}, wantErr: `--filter "state=X*"`},
		{name: "malformed glob", filters: []string{"user=[abc"}, wantErr: `--filter "user=[abc": malformed glob`},
		{name: "malformed glob after a class", filters: []string{"user=[a]b[^"}, wantErr: `--filter "user=[a]b[^": malformed glob`},
		{name: "malformed glob in an enumerated key", filters: []string{"state=[FAILED"}, wantErr: `--filter "state=[FAILED": malformed glob`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f, err := ParseFilter(tt.since, tt.until, tt.filters, now)
			if tt.wantErr != "" {
				var fe *FilterError
				if err == nil || !errors.As(err, &fe) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want a *FilterError containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !f.Since.Equal(tt.wantSince) || !f.Until.Equal(tt.wantUntil) {
				t.Errorf("window %v..%v, want %v..%v", f.Since, f.Until, tt.wantSince, tt.wantUntil)
			}
			if !maps.EqualFunc(f.Match, tt.wantMatch, slices.Equal) {
				t.Errorf("match %v, want %v", f.Match, tt.wantMatch)
			}
		})
	}
}

// TestFilterKeysAreTheStoreDimensions: the keys listed in help and errors
// are exactly those the store filters by.
func TestFilterKeysAreTheStoreDimensions(t *testing.T) {
	t.Parallel()
	got := slices.Clone(FilterKeys)
	sort.Strings(got)
	want := slices.Sorted(maps.Keys(store.Dimensions))
	if !slices.Equal(got, want) {
		t.Fatalf("FilterKeys %v, store dimensions %v", got, want)
	}
}
