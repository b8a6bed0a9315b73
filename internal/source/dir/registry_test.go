package dir

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/athenawatch/athenawatch/internal/source"
)

// TestOpenByAddress: importing the package registers dir:, an address
// opens a directory source with the options given, and a bad address is
// an AddressError that says what is wrong.
func TestOpenByAddress(t *testing.T) {
	if !slices.Contains(source.Schemes(), "dir") {
		t.Fatalf("schemes %v, want dir among them", source.Schemes())
	}
	win := source.Window{Since: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)}
	src, err := source.Open("dir:/var/trail", source.Options{Window: win, Workers: 3})
	if err != nil {
		t.Fatal(err)
	}
	d, ok := src.(*Source)
	if !ok || d.Root != "/var/trail" || d.Workers != 3 || !d.Window.Since.Equal(win.Since) || d.Name() != "dir:/var/trail" {
		t.Errorf("dir:/var/trail opened %#v", src)
	}
	tests := []struct {
		address string
		unknown bool
	}{
		{"dir:", false},
		{"nope:/x", true},
		{"/var/trail", true},
		{"", true},
	}
	for _, tt := range tests {
		_, err := source.Open(tt.address, source.Options{})
		var ae *source.AddressError
		if !errors.As(err, &ae) || ae.Address != tt.address || errors.Is(err, source.ErrUnknownScheme) != tt.unknown {
			t.Errorf("Open(%q) = %v; want an AddressError (unknown scheme: %v)", tt.address, err, tt.unknown)
		}
	}
}
