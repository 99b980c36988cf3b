package main

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"time"
)

// The release build (packaging/build) sets these with -ldflags -X, from
// the commit it builds: the version (a tag, or a Go pseudo-version), the
// commit and its date. They are constants in all but syntax: nothing
// assigns them at run time. Other builds leave them empty, and corral
// reads what the Go toolchain recorded instead.
var (
	linkVersion string
	linkCommit  string
	linkDate    string
)

// buildInfo is what corral knows of its own build.
type buildInfo struct {
	version string // v1.2.3, a pseudo-version, or "devel"
	commit  string // "" when unknown
	date    string // the commit's date, RFC 3339; "" when unknown
}

// readBuildInfo is the release build's values, else the Go toolchain's:
// the module version of go install …@v1.2.3, and the VCS stamping of a
// go build in a checkout.
func readBuildInfo() buildInfo {
	if linkVersion != "" {
		return buildInfo{linkVersion, linkCommit, linkDate}
	}
	b := buildInfo{version: "devel"}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return b
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		b.version = v
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			b.commit = s.Value
		case "vcs.time":
			b.date = s.Value
		}
	}
	return b
}

// version is corral's version, as --version and corral version print it
// first.
func version() string { return readBuildInfo().version }

// String is the line corral version prints:
// corral v1.2.3 (commit 0123456789ab, 2026-05-01T12:00:00Z; go1.26.8, linux/amd64).
func (b buildInfo) String() string {
	built := ""
	if b.commit != "" {
		built = "commit " + b.commit[:min(12, len(b.commit))] + ", "
	}
	if t, err := time.Parse(time.RFC3339, b.date); err == nil {
		built += t.UTC().Format(time.RFC3339) + "; "
	}
	return fmt.Sprintf("corral %s (%s%s, %s/%s)", b.version, built, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}
