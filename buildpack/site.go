package buildpack

import (
	"fmt"
	"path"
	"slices"
	"strings"
)

// staticBuildDirs returns the directories front-end builds write to, in
// the order they are tried: Vite and Parcel write dist/, Create React App
// build/, Next.js's static export out/. (A function, not a variable: the
// package keeps no mutable state.)
func staticBuildDirs() []string { return []string{"dist", "build", "out"} }

// detectStatic finds a static site, for Detect to call when no server app
// was found. assets is the Node plan of a package.json that builds
// front-end assets and starts no server, or nil. With assets, the site is
// what the build writes; without, it is the first of dist/, build/,
// public/ and the root that holds an index.html. With no index.html
// anywhere and no build that says where it writes, it returns nil, nil:
// Detect then reports that nothing was found (naming the package.json).
func detectStatic(a *appFiles, assets *Plan) (*Plan, error) {
	if assets != nil {
		return staticFromBuild(a, assets), nil
	}
	for _, dir := range []string{"dist", "build", "public"} {
		if index := join(dir, "index.html"); a.isFile(index) {
			why := Evidence{File: index, Says: "a site's index.html, and no server code"}
			return staticPlan(dir, why, nil, []Evidence{why}, nil), nil
		}
	}
	if a.isFile("index.html") {
		why := Evidence{File: "index.html", Says: "a site's index.html at the root, and no server code"}
		note := "the whole app directory is served as the site, every file in it but dotfiles (.git, .env…), " +
			"which corral's static server never serves: move the site into public/ to serve only that"
		return staticPlan(".", why, nil, []Evidence{why}, []string{note}), nil
	}
	return nil, nil
}

// staticFromBuild is the site a front-end build makes: the directory its
// last step says it creates; else an output directory an earlier build
// left with an index.html in it; else dist/, as a guess, when an
// index.html in the source (Vite's at the root, Create React App's in
// public/) says there is a site at all.
func staticFromBuild(a *appFiles, assets *Plan) *Plan {
	evidence := slices.Clone(assets.Evidence)
	notes := slices.Clone(assets.Notes)
	if n := len(assets.Build); n > 0 {
		last := assets.Build[n-1]
		if dir, ok := staticLocalDir(last.Creates); ok {
			why := Evidence{File: last.Why.File, Line: last.Why.Line, Says: fmt.Sprintf("the build writes the site to %s/", dir)}
			return staticPlan(dir, why, assets.Build, append(evidence, why), notes)
		}
	}
	for _, dir := range staticBuildDirs() {
		if index := join(dir, "index.html"); a.isFile(index) {
			why := Evidence{File: index, Says: fmt.Sprintf("an earlier build wrote the site to %s/", dir)}
			return staticPlan(dir, why, assets.Build, append(evidence, why), notes)
		}
	}
	for _, index := range []string{"index.html", "public/index.html", "src/index.html"} {
		if a.isFile(index) {
			why := Evidence{File: index, Says: "the source of a site's index.html"}
			notes = append(notes, "corral guessed the build writes the site to dist/, as Vite and Parcel do: "+
				"nothing says where it writes, and no dist/, build/ or out/ holds an index.html yet")
			return staticPlan("dist", why, assets.Build, append(evidence, why), notes)
		}
	}
	return nil
}

// staticLocalDir cleans a build's output directory, refusing one outside
// the app directory (a guess from a build script must not serve /).
func staticLocalDir(dir string) (string, bool) {
	if dir == "" {
		return "", false
	}
	dir = path.Clean(dir)
	if dir == "." || path.IsAbs(dir) || dir == ".." || strings.HasPrefix(dir, "../") {
		return "", false
	}
	return dir, true
}

// staticPlan is a static site served from dir.
func staticPlan(dir string, why Evidence, build []Step, evidence []Evidence, notes []string) *Plan {
	return &Plan{
		Kind:     Static,
		Title:    "Static site",
		Evidence: evidence,
		Build:    slices.Clone(build),
		Static:   []Mount{{Prefix: "/", Dir: dir, Index: true, Why: why}},
		Notes:    notes,
	}
}
