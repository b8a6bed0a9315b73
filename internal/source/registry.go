package source

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/athenawatch/athenawatch/internal/cloudtrail"
)

// Options are what every source is opened with, whatever its kind.
type Options struct {
	Window  Window
	Workers int // objects read in parallel; 0 = the source's default
	Reader  cloudtrail.ReaderOptions
	Logger  *slog.Logger
	// Progress, when set, learns how many objects there are to read.
	Progress *Progress
	// AWS loads the AWS configuration (credentials, region, endpoints) for
	// sources that call AWS; it is called when the source runs, not when
	// it is opened, so that a bad address is told before credentials are
	// looked for. nil: the SDK's default chain.
	AWS func(ctx context.Context) (aws.Config, error)
	// Roles maps the accounts a source reads besides the caller's own to
	// the role it assumes there (config accounts.<id>.role_arn).
	Roles map[string]string
}

// Opener opens a source from the part of its address after the scheme
// and its colon ("/var/trail" of "dir:/var/trail", "//bucket/prefix" of
// "s3://bucket/prefix"). An error says what is wrong with the address.
type Opener func(addr string, o Options) (Source, error)

var (
	registryMu sync.RWMutex
	registry   = map[string]Opener{}
)

// Register makes a kind of source available under scheme, as each source's
// package does when it is imported. Registering a scheme twice panics: two
// packages claim the same addresses.
func Register(scheme string, open Opener) {
	registryMu.Lock()
	defer registryMu.Unlock()
	if _, dup := registry[scheme]; dup {
		panic("source: scheme " + scheme + " registered twice")
	}
	registry[scheme] = open
}

// Schemes are the registered schemes, sorted.
func Schemes() []string {
	registryMu.RLock()
	defer registryMu.RUnlock()
	out := make([]string, 0, len(registry))
	for s := range registry {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

// AddressError is a source address that names no registered scheme, or
// that its scheme's source rejected.
type AddressError struct {
	Address string
	Err     error
}

func (e *AddressError) Error() string { return fmt.Sprintf("source %q: %v", e.Address, e.Err) }

func (e *AddressError) Unwrap() error { return e.Err }

// ErrUnknownScheme is the cause of an AddressError whose scheme no source
// registered.
var ErrUnknownScheme = fmt.Errorf("unknown source")

// Open opens the source an address names: SCHEME:REST, such as
// "dir:/var/trail". The scheme is what comes before the first colon; an
// address without one is all scheme ("lookup-events").
func Open(address string, o Options) (Source, error) {
	scheme, rest, _ := strings.Cut(address, ":")
	registryMu.RLock()
	open := registry[scheme]
	registryMu.RUnlock()
	if open == nil {
		return nil, &AddressError{Address: address, Err: fmt.Errorf("%w (want one of %s)", ErrUnknownScheme, strings.Join(addressForms(), ", "))}
	}
	src, err := open(rest, o)
	if err != nil {
		return nil, &AddressError{Address: address, Err: err}
	}
	return src, nil
}

// addressForms are the registered schemes as address prefixes.
func addressForms() []string {
	var out []string
	for _, s := range Schemes() {
		out = append(out, s+":")
	}
	return out
}
