package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// buildBinary builds corral for t into path: static (no cgo), with no
// build paths in it (-trimpath) and no symbol table (-s -w: a third
// smaller; panics still print their stacks), and rel's version, commit
// and date set in cmd/corral's link-time variables, which corral version
// prints. The urfave_cli_no_docs tag leaves out urfave/cli's man page and
// Markdown generators, which corral never calls: their packages (go-md2man,
// blackfriday) would otherwise initialise at every start, before the edge
// binds the port (1-2 ms, 200 KB of allocations and 90 page faults of
// each start; bench/boot.sh builds the same way).
func buildBinary(ctx context.Context, root string, rel Release, t target, path string) error {
	abs, err := filepath.Abs(path)
	if err != nil {
		return err
	}
	ldflags := strings.Join([]string{
		"-s", "-w",
		"-X", "main.linkVersion=" + rel.Version,
		"-X", "main.linkCommit=" + rel.Commit,
		"-X", "main.linkDate=" + rel.Time.UTC().Format(time.RFC3339),
	}, " ")
	// -buildvcs=true, whatever GOFLAGS says: where Go finds the git
	// repository (a clone; not a git worktree), it records the same
	// version itself, which go version -m shows.
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-buildvcs=true", "-tags", "urfave_cli_no_docs", "-ldflags", ldflags, "-o", abs, "./cmd/corral")
	cmd.Dir = root
	// The baseline instruction sets, whatever the builder's environment
	// says: the binary runs on any CPU of its architecture.
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+t.goos, "GOARCH="+t.goarch, "GOAMD64=v1", "GOARM64=v8.0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build for %s/%s: %v\n%s", t.goos, t.goarch, err, out)
	}
	return nil
}
