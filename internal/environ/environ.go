// Package environ reads environments in the form exec uses, a list of
// "KEY=value" strings: the app's environment, which may differ from
// corral's own.
package environ

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// DefaultPath is the search path /bin/sh uses when PATH is unset, so an
// environment without PATH finds programs where its commands would.
const DefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// Lookup returns the value of key in env, the last entry winning as it
// does for exec.
func Lookup(env []string, key string) (string, bool) {
	for i := len(env) - 1; i >= 0; i-- {
		if v, ok := strings.CutPrefix(env[i], key+"="); ok {
			return v, true
		}
	}
	return "", false
}

// LookPath finds an executable in the PATH of env rather than corral's
// own, so that a command gets the program the app's processes would.
// Relative PATH entries are skipped, as exec.LookPath refuses them: they
// would depend on the directory a command happens to run in.
func LookPath(file string, env []string) (string, error) {
	path, ok := Lookup(env, "PATH")
	if !ok {
		path = DefaultPath
	}
	for _, d := range filepath.SplitList(path) {
		if !filepath.IsAbs(d) {
			continue
		}
		p := filepath.Join(d, file)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s not found in PATH %q", file, path)
}
