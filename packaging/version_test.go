package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestGoVersion(t *testing.T) {
	at := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	const rev = "abcdef1234567890abcdef1234567890abcdef12"
	for _, tt := range []struct {
		name          string
		exact, merged []string
		modified      bool
		want          string
	}{
		{name: "no tag", want: "v0.0.0-20260501120000-abcdef123456"},
		{name: "no tag, dirty", modified: true, want: "v0.0.0-20260501120000-abcdef123456+dirty"},
		{name: "tagged", exact: []string{"v1.2.3"}, merged: []string{"v1.2.3"}, want: "v1.2.3"},
		{name: "tagged, dirty", exact: []string{"v1.2.3"}, merged: []string{"v1.2.3"}, modified: true, want: "v1.2.3+dirty"},
		{name: "the highest tag of two", exact: []string{"v1.2.3-rc.1", "v1.2.3"}, want: "v1.2.3"},
		{name: "after a release", merged: []string{"v1.2.2", "v1.2.3", "v1.10.0-rc.1"}, want: "v1.10.0-rc.1.0.20260501120000-abcdef123456"},
		{name: "after a release, not a pre-release", merged: []string{"v1.2.3", "v1.2.3-rc.2"}, want: "v1.2.4-0.20260501120000-abcdef123456"},
		{name: "after a pre-release", merged: []string{"v1.2.3-rc.1"}, want: "v1.2.3-rc.1.0.20260501120000-abcdef123456"},
		{name: "tags Go ignores", exact: []string{"v2.0.0", "1.0.0", "v1.0", "v1.0.0+meta", "release"}, merged: []string{"v0.9.0", "v2.0.0"}, want: "v0.9.1-0.20260501120000-abcdef123456"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := goVersion(gitState{rev: rev, time: at, modified: tt.modified, exact: tt.exact, merged: append(tt.merged, tt.exact...)})
			if got != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
		})
	}
}

// TestReadReleaseAgreesWithGo makes a git repository, tags and changes
// it, and wants readRelease's version to be the one the Go toolchain
// stamps in a binary built there: the version go install gives.
func TestReadReleaseAgreesWithGo(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("needs git")
	}
	dir := t.TempDir()
	env := append(os.Environ(), "GIT_CONFIG_GLOBAL=/dev/null", "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com",
		"GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com", "GOFLAGS=-buildvcs=true", "GOWORK=off")
	run := func(name string, args ...string) string {
		t.Helper()
		cmd := exec.Command(name, args...)
		cmd.Dir, cmd.Env = dir, env
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	write := func(name, content string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	run("git", "init", "-q")
	write("go.mod", "module example.com/m\n\ngo 1.26\n")
	write("main.go", "package main\n\nfunc main() {}\n")
	write(".gitignore", "/m\n")
	check := func(step, want string) {
		t.Helper()
		rel, err := readRelease(context.Background(), dir)
		if err != nil {
			t.Fatal(err)
		}
		if !regexp.MustCompile(want).MatchString(rel.Version) {
			t.Errorf("%s: readRelease says %s, want %s", step, rel.Version, want)
		}
		run("go", "build", "-o", "m", ".")
		info := run("go", "version", "-m", "m")
		if !strings.Contains(info, "\tmod\texample.com/m\t"+rel.Version+"\t") {
			t.Errorf("%s: readRelease says %s, the Go toolchain:\n%s", step, rel.Version, info)
		}
	}
	run("git", "add", ".")
	run("git", "commit", "-qm", "one")
	check("untagged", `^v0\.0\.0-\d{14}-[0-9a-f]{12}$`)
	run("git", "tag", "v1.2.3")
	check("tagged", `^v1\.2\.3$`)
	write("main.go", "package main\n\nfunc main() { println() }\n")
	check("tagged, changed", `^v1\.2\.3\+dirty$`)
	run("git", "commit", "-qam", "two")
	check("after a tag", `^v1\.2\.4-0\.\d{14}-[0-9a-f]{12}$`)
	run("git", "tag", "v1.3.0-rc.1")
	write("main.go", "package main\n\nfunc main() { println(1) }\n")
	run("git", "commit", "-qam", "three")
	check("after a pre-release", `^v1\.3\.0-rc\.1\.0\.\d{14}-[0-9a-f]{12}$`)
}

func TestPEP440Version(t *testing.T) {
	for _, tt := range []struct{ in, want, err string }{
		{in: "v1.2.3", want: "1.2.3"},
		{in: "v1.2.3-rc.1", want: "1.2.3rc1"},
		{in: "v1.2.3-beta.2", want: "1.2.3b2"},
		{in: "v1.2.3-alpha.0", want: "1.2.3a0"},
		{in: "v1.2.3+dirty", want: "1.2.3+dirty"},
		{in: "v0.0.0-20260501120000-abcdef123456", want: "0.0.0.dev20260501120000+abcdef123456"},
		{in: "v0.0.0-20260501120000-abcdef123456+dirty", want: "0.0.0.dev20260501120000+abcdef123456.dirty"},
		{in: "v1.2.4-0.20260501120000-abcdef123456", want: "1.2.4.dev20260501120000+abcdef123456"},
		{in: "v1.2.3-rc.1.0.20260501120000-abcdef123456", want: "1.2.3rc1.dev20260501120000+abcdef123456"},
		{in: "v1.2.3-preview", err: `pre-release "preview" has no PEP 440 form`},
		{in: "v1.2.3-rc.x", err: `pre-release "rc.x" has no PEP 440 form`},
		{in: "v1.2.3-rc.-0", err: `pre-release "rc.-0" has no PEP 440 form`},
		{in: "1.2.3", err: "not semver"},
	} {
		got, err := pep440Version(tt.in)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%s: %q, %v; want error %q", tt.in, got, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("%s: %q, %v; want %q", tt.in, got, err, tt.want)
		}
		if !pep440RE.MatchString(got) {
			t.Errorf("%s: %q is not PEP 440", tt.in, got)
		}
	}
}

// pep440RE is PEP 440's canonical public version, with an optional local
// label (its appendix's regular expression, reduced to the forms used).
var pep440RE = regexp.MustCompile(`^(0|[1-9]\d*)(\.(0|[1-9]\d*))*((a|b|rc)(0|[1-9]\d*))?(\.post(0|[1-9]\d*))?(\.dev(0|[1-9]\d*))?(\+[a-z0-9]+(\.[a-z0-9]+)*)?$`)

// FuzzPEP440Version: whatever semver it is given, pep440Version gives a
// PEP 440 version or an error.
func FuzzPEP440Version(f *testing.F) {
	for _, s := range []string{"v1.2.3", "v1.2.3-rc.1", "v0.0.0-20260501120000-abcdef123456+dirty", "v1.2.3-rc.1.0.20260501120000-abcdef123456", "v1.2.3-beta.2+x.y"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := pep440Version(s)
		if err == nil && !pep440RE.MatchString(got) {
			t.Errorf("%q: %q is not PEP 440", s, got)
		}
	})
}

func TestDebVersion(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"v1.2.3", "1.2.3"},
		{"v1.2.3-rc.1", "1.2.3~rc.1"},
		{"v0.0.0-20260501120000-abcdef123456+dirty", "0.0.0~20260501120000.abcdef123456+dirty"},
		{"v1.2.4-0.20260501120000-abcdef123456", "1.2.4~0.20260501120000.abcdef123456"},
	} {
		if got, err := debVersion(tt.in); err != nil || got != tt.want {
			t.Errorf("%s: %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}
