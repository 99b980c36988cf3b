package main

import (
	_ "embed"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// The npm packages follow esbuild's pattern: the package users install,
// "corral", has an optional dependency on one package per platform
// (@corral-run/linux-x64…), each limited to its platform by its os and
// cpu fields, so that npm installs only the one that runs here, and
// nothing is downloaded at install time but packages. "corral"'s bin is
// a shell script (npm/corral) that execs the platform package's binary:
// corral then runs with no node process above it, gets the platform's
// signals itself and exits with its own status.

// shim is the main package's bin/corral.
//
//go:embed npm/corral
var shim []byte

// packageJSON is the part of package.json the packages use, in npm's
// order.
type packageJSON struct {
	Name                 string            `json:"name"`
	Version              string            `json:"version"`
	Description          string            `json:"description"`
	Homepage             string            `json:"homepage"`
	Repository           map[string]string `json:"repository"`
	Bin                  map[string]string `json:"bin,omitempty"`
	OS                   []string          `json:"os"`
	CPU                  []string          `json:"cpu,omitempty"`
	OptionalDependencies map[string]string `json:"optionalDependencies,omitempty"`
	// PreferUnplugged asks Yarn's Plug'n'Play to unpack the package:
	// a binary cannot run from inside a zip.
	PreferUnplugged bool `json:"preferUnplugged,omitempty"`
}

// npmPlatform is t's platform package's name: @corral-run/linux-x64.
func (t target) npmPlatform() string { return npmScope + "/" + t.npmOS + "-" + t.npmCPU }

// writeNPMPlatform writes t's platform package, holding the binary as
// bin/corral, and returns its path. It has no bin field: the main
// package's shim is the only corral in node_modules/.bin.
func writeNPMPlatform(out, version string, date time.Time, t target, bin string) (string, error) {
	exe, err := os.ReadFile(bin)
	if err != nil {
		return "", err
	}
	pkg := npmPackage(t.npmPlatform(), version, "The "+t.npmOS+" "+t.npmCPU+" binary of corral: install corral, which picks this one on this platform")
	pkg.OS, pkg.CPU = []string{t.npmOS}, []string{t.npmCPU}
	pkg.PreferUnplugged = true
	return writeNPMTarball(out, pkg, date, map[string]npmFile{"bin/corral": {exe, 0o755}})
}

// writeNPMMain writes the package users install, "corral", and returns
// its path.
func writeNPMMain(out, version string, date time.Time) (string, error) {
	pkg := npmPackage(npmName, version, summary)
	pkg.Bin = map[string]string{"corral": "bin/corral"}
	pkg.OptionalDependencies = map[string]string{}
	seen := map[string]bool{}
	for _, t := range targets() {
		pkg.OptionalDependencies[t.npmPlatform()] = version
		if !seen[t.npmOS] {
			pkg.OS, seen[t.npmOS] = append(pkg.OS, t.npmOS), true
		}
	}
	return writeNPMTarball(out, pkg, date, map[string]npmFile{"bin/corral": {shim, 0o755}})
}

// npmPackage is the package.json fields every package has.
func npmPackage(name, version, desc string) packageJSON {
	return packageJSON{
		Name: name, Version: version, Description: desc, Homepage: homepage + "#readme",
		Repository: map[string]string{"type": "git", "url": "git+" + homepage + ".git"},
	}
}

// npmFile is a file of a package, besides package.json and README.md.
type npmFile struct {
	data []byte
	mode int64
}

// writeNPMTarball writes pkg as npm pack would: a gzipped tar of
// package/…, named as npm pack names it (@scope/name-1.0.0 is
// scope-name-1.0.0.tgz), and returns its path.
func writeNPMTarball(out string, pkg packageJSON, date time.Time, files map[string]npmFile) (string, error) {
	manifest, err := json.MarshalIndent(pkg, "", "  ")
	if err != nil {
		return "", err
	}
	files["package.json"] = npmFile{append(manifest, '\n'), 0o644}
	files["README.md"] = npmFile{[]byte("# " + pkg.Name + "\n\n" + pkg.Description + ".\n\n" + description), 0o644}
	var entries []tarEntry
	for _, name := range []string{"package.json", "README.md", "bin/corral"} {
		entries = append(entries, tarEntry{name: "package/" + name, data: files[name].data, mode: files[name].mode})
	}
	tgz, err := tarGz(date, entries)
	if err != nil {
		return "", err
	}
	name := strings.ReplaceAll(strings.TrimPrefix(pkg.Name, "@"), "/", "-") + "-" + pkg.Version + ".tgz"
	path := filepath.Join(out, name)
	return path, os.WriteFile(path, tgz, 0o644)
}
