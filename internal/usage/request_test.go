package usage

import (
	"errors"
	"net/url"
	"testing"
	"time"
)

func TestParseReportRequest(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name      string
		query     string // URL query: the same parameters as the flags
		wantBy    string
		wantTop   int
		wantFmt   string
		wantSince time.Time
		wantUntil time.Time
		wantMatch map[string][]string
		wantParam string // the parameter the error names
	}{
		{name: "defaults", query: "", wantBy: "user", wantFmt: "table", wantSince: now.Add(-30 * 24 * time.Hour)},
		{name: "empty since is all time", query: "since=", wantBy: "user", wantFmt: "table"},
		{name: "everything", query: "by=team&since=2026-11-01&until=2026-11-15&top=3&format=json&filter=user=a*&filter=user=b&filter=state=failed",
			wantBy: "team", wantTop: 3, wantFmt: "json",
			wantSince: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), wantUntil: time.Date(2026, 11, 15, 0, 0, 0, 0, time.UTC),
			wantMatch: map[string][]string{"user": {"a*", "b"}, "state": {"FAILED"}}},
		{name: "top zero is all", query: "top=0", wantBy: "user", wantFmt: "table", wantSince: now.Add(-30 * 24 * time.Hour)},
		{name: "unknown dimension", query: "by=colour", wantParam: "by"},
		{name: "unknown format", query: "format=xml", wantParam: "format"},
		{name: "negative top", query: "top=-1", wantParam: "top"},
		{name: "top not a number", query: "top=ten", wantParam: "top"},
		{name: "huge top", query: "top=99999999999999999999", wantParam: "top"},
		{name: "bad since", query: "since=yesterday", wantParam: "since"},
		{name: "bad filter", query: "filter=colour=red", wantParam: "filter"},
		{name: "unknown parameter", query: "sort=cost", wantParam: "sort"},
		{name: "by twice", query: "by=user&by=team", wantParam: "by"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			params, err := url.ParseQuery(tt.query)
			if err != nil {
				t.Fatal(err)
			}
			req, err := ParseReportRequest(params, now)
			if tt.wantParam != "" {
				var fe *FilterError
				if !errors.As(err, &fe) || fe.Param != tt.wantParam {
					t.Fatalf("error %v, want a *FilterError naming %q", err, tt.wantParam)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if req.By != tt.wantBy || req.Top != tt.wantTop || req.Format != tt.wantFmt {
				t.Errorf("by %q top %d format %q, want %q %d %q", req.By, req.Top, req.Format, tt.wantBy, tt.wantTop, tt.wantFmt)
			}
			if !req.Filter.Since.Equal(tt.wantSince) || !req.Filter.Until.Equal(tt.wantUntil) {
				t.Errorf("window %v..%v, want %v..%v", req.Filter.Since, req.Filter.Until, tt.wantSince, tt.wantUntil)
			}
			if len(req.Filter.Match) != len(tt.wantMatch) {
				t.Errorf("match %v, want %v", req.Filter.Match, tt.wantMatch)
			}
			for k, want := range tt.wantMatch {
				got := req.Filter.Match[k]
				if len(got) != len(want) {
					t.Errorf("match %s = %v, want %v", k, got, want)
					continue
				}
				for i := range want {
					if got[i] != want[i] {
						t.Errorf("match %s = %v, want %v", k, got, want)
					}
				}
			}
		})
	}
}
