package buildpack

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// siteTestRun opens dir and runs detectStatic on it with assets.
func siteTestRun(t *testing.T, dir string, assets *Plan) *Plan {
	t.Helper()
	a, err := openAppFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	p, err := detectStatic(a, assets)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// siteTestAssets is a plan like the Node detector's for a package.json
// that builds assets and starts no server; creates is its build step's
// output directory.
func siteTestAssets(creates string) *Plan {
	return &Plan{
		Kind:     Assets,
		Title:    "Node (npm) front-end assets",
		Evidence: []Evidence{{File: "package.json", Line: 7, Says: `scripts.build is "vite build", and there is no start script`}},
		Build: []Step{
			{Command: "npm ci", Why: Evidence{File: "package-lock.json", Says: "npm's lockfile"}},
			{Command: "npm run build", Creates: creates, Why: Evidence{File: "package.json", Line: 7, Says: "the build script"}},
		},
		Notes: []string{"a note of the Node detector"},
	}
}

// siteTestCheck checks a static site plan served from dir, with the
// mount's evidence and the plan's evidence as given.
func siteTestCheck(t *testing.T, p *Plan, dir, why string, evidence []string) {
	t.Helper()
	if p == nil {
		t.Fatal("no plan")
	}
	if p.Kind != Static || p.Title != "Static site" {
		t.Errorf("kind %q, title %q; want static, Static site", p.Kind, p.Title)
	}
	if p.Processes != nil || p.Release != nil {
		t.Errorf("processes %+v, release %+v; want none", p.Processes, p.Release)
	}
	want := Mount{Prefix: "/", Dir: dir, Index: true}
	if len(p.Static) != 1 {
		t.Fatalf("static %+v; want one mount of %s", p.Static, dir)
	}
	m := p.Static[0]
	if got := m.Why.String(); got != why {
		t.Errorf("mount's evidence %q; want %q", got, why)
	}
	m.Why = Evidence{}
	if m != want {
		t.Errorf("mount %+v; want %+v", m, want)
	}
	if got := goTestEvidence(p.Evidence); !slices.Equal(got, evidence) {
		t.Errorf("evidence:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(evidence, "\n"))
	}
}

// TestDetectStatic runs detectStatic on the static fixtures, with no
// front-end build.
func TestDetectStatic(t *testing.T) {
	tests := []struct {
		dir   string
		site  string
		why   string
		notes []string // substrings, one per note
	}{
		{"static-dist", "dist", "dist/index.html: a site's index.html, and no server code", nil},
		{"static-public", "public", "public/index.html: a site's index.html, and no server code", nil},
		{"static-root", ".", "index.html: a site's index.html at the root, and no server code",
			[]string{"the whole app directory is served as the site, every file in it but dotfiles"}},
	}
	for _, tt := range tests {
		t.Run(tt.dir, func(t *testing.T) {
			p := siteTestRun(t, filepath.Join("testdata", tt.dir), nil)
			siteTestCheck(t, p, tt.site, tt.why, []string{tt.why})
			if p.Build != nil {
				t.Errorf("build %+v; want none", p.Build)
			}
			if len(p.Notes) != len(tt.notes) {
				t.Fatalf("notes %q; want %d", p.Notes, len(tt.notes))
			}
			for i, want := range tt.notes {
				if !strings.Contains(p.Notes[i], want) {
					t.Errorf("note %q; want it to contain %q", p.Notes[i], want)
				}
			}
		})
	}
	t.Run("none-readme", func(t *testing.T) {
		if p := siteTestRun(t, filepath.Join("testdata", "none-readme"), nil); p != nil {
			t.Errorf("plan %+v; want none", p)
		}
	})
}

// TestDetectStaticOrder checks which index.html wins when there are
// several, and that an index.html that is no file does not count.
func TestDetectStaticOrder(t *testing.T) {
	const page = "<!doctype html>\n"
	tests := []struct {
		files map[string]string
		site  string // "" for no plan
	}{
		{map[string]string{"index.html": page, "public/index.html": page, "build/index.html": page, "dist/index.html": page}, "dist"},
		{map[string]string{"index.html": page, "public/index.html": page, "build/index.html": page}, "build"},
		{map[string]string{"index.html": page, "public/index.html": page, "out/index.html": page}, "public"},
		{map[string]string{"index.html/x": page, "dist/index.html/x": page}, ""},
		{map[string]string{"src/index.html": page, "docs/index.html": page}, ""},
	}
	for _, tt := range tests {
		p := siteTestRun(t, testTree(t, tt.files), nil)
		switch {
		case tt.site == "" && p != nil:
			t.Errorf("%v: plan %+v; want none", tt.files, p)
		case tt.site != "" && (p == nil || p.Static[0].Dir != tt.site):
			t.Errorf("%v: plan %+v; want the site in %s", tt.files, p, tt.site)
		}
	}
}

// TestDetectStaticFromBuild covers detectStatic with a front-end build:
// the site is what the build writes.
func TestDetectStaticFromBuild(t *testing.T) {
	assetsEv := `package.json:7: scripts.build is "vite build", and there is no start script`
	tests := []struct {
		name    string
		dir     string // a fixture, or "" for files
		files   map[string]string
		creates string
		site    string // "" for no plan
		why     string
		guess   bool // a note says dist/ is a guess
	}{
		{name: "the build says", dir: "static-vite", creates: "dist", site: "dist",
			why: "package.json:7: the build writes the site to dist/"},
		{name: "cleaned", dir: "none-readme", creates: "./build/", site: "build",
			why: "package.json:7: the build writes the site to build/"},
		{name: "trusted with no index.html", dir: "none-readme", creates: "out", site: "out",
			why: "package.json:7: the build writes the site to out/"},
		{name: "an earlier build's dist", dir: "static-dist", site: "dist",
			why: "dist/index.html: an earlier build wrote the site to dist/"},
		{name: "build before out", files: map[string]string{"out/index.html": "x", "build/index.html": "x", "public/index.html": "x"},
			site: "build", why: "build/index.html: an earlier build wrote the site to build/"},
		{name: "a guess from index.html", dir: "static-root", site: "dist",
			why: "index.html: the source of a site's index.html", guess: true},
		{name: "a guess from public/index.html", dir: "static-public", site: "dist",
			why: "public/index.html: the source of a site's index.html", guess: true},
		{name: "outside the app is not trusted", dir: "static-public", creates: "../site", site: "dist",
			why: "public/index.html: the source of a site's index.html", guess: true},
		{name: "nor is the root", dir: "none-readme", creates: "."},
		{name: "nor an absolute path", dir: "none-readme", creates: "/var/www"},
		{name: "no site at all", dir: "none-readme"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join("testdata", tt.dir)
			if tt.dir == "" {
				dir = testTree(t, tt.files)
			}
			assets := siteTestAssets(tt.creates)
			p := siteTestRun(t, dir, assets)
			if tt.site == "" {
				if p != nil {
					t.Fatalf("plan %+v; want none", p)
				}
				return
			}
			siteTestCheck(t, p, tt.site, tt.why, []string{assetsEv, tt.why})
			if !slices.Equal(p.Build, assets.Build) {
				t.Errorf("build %+v; want the assets' %+v", p.Build, assets.Build)
			}
			// The plan owns its slices: a later change (Detect appends)
			// must not write into the assets plan.
			p.Build[0].Command = "changed"
			p.Evidence[0].Says = "changed"
			if assets.Build[0].Command != "npm ci" || assets.Evidence[0].Says == "changed" {
				t.Error("the plan shares the assets plan's slices")
			}
			wantNotes := 1
			if tt.guess {
				wantNotes = 2
			}
			if len(p.Notes) != wantNotes || p.Notes[0] != "a note of the Node detector" {
				t.Fatalf("notes %q; want the Node detector's and %d more", p.Notes, wantNotes-1)
			}
			if tt.guess && !strings.Contains(p.Notes[1], "corral guessed the build writes the site to dist/") {
				t.Errorf("note %q; want it to say dist/ is a guess", p.Notes[1])
			}
		})
	}
}

// TestDetectStaticVite runs Detect on a Vite project: package.json builds
// the site and starts no server, and the index.html at the root is Vite's
// source, so the site is dist/, built by the Node detector's steps. (It
// needs the Node detector's assets plan.)
func TestDetectStaticVite(t *testing.T) {
	p, err := Detect(filepath.Join("testdata", "static-vite"))
	if err != nil {
		t.Fatal(err)
	}
	if p.Kind != Static || len(p.Static) != 1 || p.Static[0].Dir != "dist" || !p.Static[0].Index {
		t.Fatalf("plan %+v; want a static site in dist/", p)
	}
	if len(p.Build) == 0 {
		t.Fatal("no build steps")
	}
	last := p.Build[len(p.Build)-1]
	if last.Creates != "dist" || !strings.Contains(last.Command, "build") {
		t.Errorf("last build step %+v; want the build script, creating dist", last)
	}
	if !slices.ContainsFunc(p.Evidence, func(e Evidence) bool { return e.File == "package.json" }) {
		t.Errorf("evidence %q; want package.json in it", goTestEvidence(p.Evidence))
	}
	if p.Static[0].Why.File != "package.json" {
		t.Errorf("mount's evidence %v; want package.json's build", p.Static[0].Why)
	}
}

// TestDetectStaticLinks checks that an index.html linked out of the app
// is not a site: corral's static server would not serve it either.
func TestDetectStaticLinks(t *testing.T) {
	outside := testTree(t, map[string]string{"index.html": "<!doctype html>\n"})
	dir := testTree(t, map[string]string{"public/index.html": "<!doctype html>\n"})
	if err := os.MkdirAll(filepath.Join(dir, "dist"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(outside, "index.html"), filepath.Join(dir, "dist", "index.html")); err != nil {
		t.Fatal(err)
	}
	p := siteTestRun(t, dir, nil)
	siteTestCheck(t, p, "public", "public/index.html: a site's index.html, and no server code",
		[]string{"public/index.html: a site's index.html, and no server code"})
}
