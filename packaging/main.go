// Command packaging builds every release artifact of corral into one
// directory (packaging/build runs it, from the repository's root): static
// binaries for Linux and macOS on amd64 and arm64, a Python wheel and an
// npm package for each, the npm package that picks one, a .deb for each
// Linux architecture, and SHA256SUMS of them all. Each is written with
// the standard library (zip, tar, ar), so the build needs nothing but Go
// and git, works offline, and gives the same bytes for the same commit.
//
// Every artifact carries one version, the commit's Go module version
// (readRelease): a tag v1.2.3 releases 1.2.3 everywhere.
package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"
)

func main() {
	fs := flag.NewFlagSet("packaging/build", flag.ContinueOnError)
	out := fs.String("o", "dist", "the directory to write the artifacts to (relative to the repository's root); it is replaced")
	if err := fs.Parse(os.Args[1:]); err != nil {
		os.Exit(2)
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "packaging/build: unexpected arguments %q (the only flag is -o DIR)\n", fs.Args())
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := build(ctx, ".", *out, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "packaging/build:", err)
		os.Exit(1)
	}
}

// target is one platform corral is released for, with its name in each
// ecosystem.
type target struct {
	goos, goarch string
	// npmOS and npmCPU are Node's process.platform and process.arch,
	// which npm matches against a package's os and cpu.
	npmOS, npmCPU string
	// wheelPlatform is the wheel's platform tag, compressed (a.b: either).
	// A static binary needs no libc, so one Linux wheel is both manylinux
	// (glibc: Debian, Render's and Heroku's images) and musllinux
	// (Alpine); macOS 12 is the oldest Go 1.26 runs on.
	wheelPlatform string
	debArch       string // the .deb's architecture; "" for none
}

// targets are the platforms of a release.
func targets() []target {
	return []target{
		{"linux", "amd64", "linux", "x64", "manylinux_2_17_x86_64.manylinux2014_x86_64.musllinux_1_1_x86_64", "amd64"},
		{"linux", "arm64", "linux", "arm64", "manylinux_2_17_aarch64.manylinux2014_aarch64.musllinux_1_1_aarch64", "arm64"},
		{"darwin", "amd64", "darwin", "x64", "macosx_12_0_x86_64", ""},
		{"darwin", "arm64", "darwin", "arm64", "macosx_12_0_arm64", ""},
	}
}

// binaryName is the file name of t's binary in the output directory.
func (t target) binaryName() string { return "corral-" + t.goos + "-" + t.goarch }

// Names and words the artifacts share.
const (
	pythonName = "corral-launcher" // PyPI: see the README's Install section for why
	npmName    = "corral"
	npmScope   = "@corral-run" // the platform packages: @corral-run/linux-x64…
	homepage   = "https://github.com/corral-run/corral"
	summary    = "Run a web app's Procfile in production, behind its own edge proxy"
	// maintainer is the .deb's Maintainer field.
	maintainer = "corral maintainers <maintainers@users.noreply.github.com>"
)

// description is the long description of every package.
const description = `corral runs a web app in production from one command. It reads the app's
Procfile (or detects a Django, Flask, FastAPI, Node, Rails, Go or static
app) and $PORT, like Heroku or Render, and runs the whole process formation
behind its own edge proxy, with HTTPS certificates when it owns the domain.

This package holds the corral binary itself (a static Go program): install
it, then make "corral start" the app's start command.

Documentation: ` + homepage + `#readme
`

// build writes every artifact of the checkout in root into out.
func build(ctx context.Context, root, out string, log io.Writer) error {
	begin := time.Now()
	rel, err := readRelease(ctx, root)
	if err != nil {
		return err
	}
	if err := replaceable(out); err != nil {
		return err
	}
	// The artifacts are written next to out, and take its place once
	// all are there: out never holds half a build.
	if err := os.MkdirAll(filepath.Dir(filepath.Clean(out)), 0o755); err != nil {
		return err
	}
	final := out
	out, err = os.MkdirTemp(filepath.Dir(filepath.Clean(out)), "."+filepath.Base(out)+"-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(out)
	fmt.Fprintf(log, "corral %s (commit %s, %s)\n", rel.Version, rel.Commit, rel.Time.Format(time.RFC3339))
	pyVersion, err := pep440Version(rel.Version)
	if err != nil {
		return err
	}
	debVer, err := debVersion(rel.Version)
	if err != nil {
		return err
	}
	var files []string
	for _, t := range targets() {
		start := time.Now()
		bin := filepath.Join(out, t.binaryName())
		if err := buildBinary(ctx, root, rel, t, bin); err != nil {
			return err
		}
		fmt.Fprintf(log, "built %s in %.1fs\n", t.binaryName(), time.Since(start).Seconds())
		files = append(files, bin)
		whl, err := writeWheel(out, pyVersion, rel.Time, t, bin)
		if err != nil {
			return err
		}
		tgz, err := writeNPMPlatform(out, npmVersion(rel.Version), rel.Time, t, bin)
		if err != nil {
			return err
		}
		files = append(files, whl, tgz)
		if t.debArch != "" {
			deb, err := writeDeb(out, debVer, rel.Time, t, bin)
			if err != nil {
				return err
			}
			files = append(files, deb)
		}
	}
	tgz, err := writeNPMMain(out, npmVersion(rel.Version), rel.Time)
	if err != nil {
		return err
	}
	files = append(files, tgz)
	sums, err := writeSums(out, files)
	if err != nil {
		return err
	}
	files = append(files, sums)
	for _, f := range files {
		fi, err := os.Stat(f)
		if err != nil {
			return err
		}
		size := fmt.Sprintf("%.1f MB", float64(fi.Size())/1e6)
		if fi.Size() < 1e6 {
			size = fmt.Sprintf("%.1f kB", float64(fi.Size())/1e3)
		}
		fmt.Fprintf(log, "%9s  %s\n", size, filepath.Base(f))
	}
	if err := os.RemoveAll(final); err != nil {
		return err
	}
	if err := os.Chmod(out, 0o755); err != nil { // MkdirTemp's is 0700
		return err
	}
	if err := os.Rename(out, final); err != nil {
		return err
	}
	fmt.Fprintf(log, "%d artifacts in %s, in %.0fs\n", len(files), final, time.Since(begin).Seconds())
	return nil
}

// sumsFile is the checksum file, also the mark of an output directory
// this program made and may replace.
const sumsFile = "SHA256SUMS"

// replaceable says whether out may be replaced: it does not exist, is
// empty, or this program made it. A mistyped -o must not delete
// someone's work.
func replaceable(out string) error {
	entries, err := os.ReadDir(out)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil
	case err != nil:
		return err
	case len(entries) == 0 || slices.ContainsFunc(entries, func(e os.DirEntry) bool { return e.Name() == sumsFile }):
		return nil
	}
	return fmt.Errorf("-o %s: the directory exists, and holds no %s: it was not made by packaging/build, so it is left alone (remove it, or give another -o)", out, sumsFile)
}

// writeSums writes SHA256SUMS for files, all in out, in sha256sum's
// format: sha256sum -c SHA256SUMS checks them.
func writeSums(out string, files []string) (string, error) {
	var b strings.Builder
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return "", err
		}
		sum := sha256.Sum256(data)
		fmt.Fprintf(&b, "%s  %s\n", hex.EncodeToString(sum[:]), filepath.Base(f))
	}
	path := filepath.Join(out, sumsFile)
	return path, os.WriteFile(path, []byte(b.String()), 0o644)
}
