package main

import (
	"context"
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"
)

// Set at link time to override what the Go toolchain records in the binary,
// for builds outside a module checkout or with a release tag of their own:
//
//	go build -ldflags "-X main.version=v1.2.0 -X main.revision=3d99ee5 -X main.commitTime=2026-11-20T10:00:00Z" ./cmd/athenawatch
var (
	version    string
	revision   string
	commitTime string
)

func runVersion(ctx context.Context, g *globals, args []string) error {
	fs := newFlagSet(g, "version", "")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	bi, _ := debug.ReadBuildInfo()
	fmt.Fprintln(g.stdout, versionLine(bi))
	return nil
}

// versionLine says which athenawatch this is: the module version (a tag for
// `go install ...@v1.2.0`, a pseudo-version or "devel" for a checkout), the
// VCS revision and commit time the binary was built from, and the Go
// version and platform. Values set with -ldflags -X win over the build
// information.
func versionLine(bi *debug.BuildInfo) string {
	v, rev, at, modified := version, revision, commitTime, false
	goVersion := runtime.Version()
	if bi != nil {
		if v == "" {
			v = bi.Main.Version
		}
		if bi.GoVersion != "" {
			goVersion = bi.GoVersion
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				if revision == "" {
					rev = s.Value
				}
			case "vcs.time":
				if at == "" {
					at = s.Value
				}
			case "vcs.modified":
				modified = revision == "" && s.Value == "true"
			}
		}
	}
	if v == "" || v == "(devel)" {
		v = "devel"
	}
	var details []string
	if rev != "" {
		details = append(details, "revision "+rev)
	}
	if at != "" {
		details = append(details, "committed "+at)
	}
	if modified {
		details = append(details, "with local changes")
	}
	line := "athenawatch " + v
	if len(details) > 0 {
		line += " (" + strings.Join(details, ", ") + ")"
	}
	return line + " " + goVersion + " " + runtime.GOOS + "/" + runtime.GOARCH
}
