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
// prints.
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
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-buildvcs=true", "-ldflags", ldflags, "-o", abs, "./cmd/corral")
	cmd.Dir = root
	// The baseline instruction sets, whatever the builder's environment
	// says: the binary runs on any CPU of its architecture.
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+t.goos, "GOARCH="+t.goarch, "GOAMD64=v1", "GOARM64=v8.0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build for %s/%s: %v\n%s", t.goos, t.goarch, err, out)
	}
	return nil
}
