package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Release is the version every artifact of one build carries, and what
// corral version prints: the commit's Go module version, which is what
// go install …@version and the Go toolchain's own VCS stamping give the
// same commit, so a binary reads the same whichever way it was installed.
type Release struct {
	// Version is the Go module version: the commit's tag (v1.2.3,
	// v1.2.3-rc.1) or a pseudo-version (v1.2.4-0.20260501120000-abcdef123456),
	// with +dirty when the work tree has changes.
	Version string
	Commit  string    // the full commit hash
	Time    time.Time // the commit's time: the build date, so that a rebuild is byte for byte the same
}

// gitState is what readRelease learns from git about HEAD.
type gitState struct {
	rev      string
	time     time.Time
	modified bool
	exact    []string // tags pointing at HEAD
	merged   []string // tags reachable from HEAD (exact ones too)
}

// readRelease reads the version of the checkout in dir from git: the one
// place a version comes from (tag a commit v1.2.3 to release it).
func readRelease(ctx context.Context, dir string) (Release, error) {
	git := func(args ...string) (string, error) {
		cmd := exec.CommandContext(ctx, "git", args...)
		cmd.Dir = dir
		out, err := cmd.Output()
		if err != nil {
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				err = fmt.Errorf("%v: %s", err, strings.TrimSpace(string(ee.Stderr)))
			}
			return "", fmt.Errorf("git %s in %s: %w (the version comes from git: build from a git clone)", strings.Join(args, " "), dir, err)
		}
		return strings.TrimSpace(string(out)), nil
	}
	var s gitState
	head, err := git("log", "-1", "--format=%H %ct")
	if err != nil {
		return Release{}, err
	}
	rev, secs, _ := strings.Cut(head, " ")
	unix, err := strconv.ParseInt(secs, 10, 64)
	if err != nil {
		return Release{}, fmt.Errorf("git log: commit time %q: %v", secs, err)
	}
	s.rev, s.time = rev, time.Unix(unix, 0).UTC()
	status, err := git("status", "--porcelain")
	if err != nil {
		return Release{}, err
	}
	s.modified = status != ""
	exact, err := git("tag", "--points-at", "HEAD")
	if err != nil {
		return Release{}, err
	}
	merged, err := git("tag", "--merged", "HEAD")
	if err != nil {
		return Release{}, err
	}
	s.exact, s.merged = strings.Fields(exact), strings.Fields(merged)
	return Release{Version: goVersion(s), Commit: s.rev, Time: s.time}, nil
}

// goVersion is the Go toolchain's rule for the main module's version at
// a commit (cmd/go's VCS stamping, modfetch's pseudo-versions): the
// highest release tag on the commit; else a pseudo-version after the
// highest tag the commit descends from (vX.Y.(Z+1)-0.TIME-REV after a
// release, vX.Y.Z-pre.0.TIME-REV after a pre-release, v0.0.0-TIME-REV
// with none); +dirty when the work tree has changes. Only canonical
// v0 and v1 tags count, as the module path has no /vN suffix.
func goVersion(s gitState) string {
	highest := func(tags []string) (semver, bool) {
		var best semver
		found := false
		for _, t := range tags {
			v, ok := parseSemver(t)
			if !ok || v.build != "" || v.major > 1 || v.String() != t {
				continue
			}
			if !found || compareSemver(v, best) > 0 {
				best, found = v, true
			}
		}
		return best, found
	}
	var v string
	if tag, ok := highest(s.exact); ok {
		v = tag.String()
	} else {
		stamp := s.time.UTC().Format("20060102150405") + "-" + s.rev[:min(12, len(s.rev))]
		switch base, ok := highest(s.merged); {
		case !ok:
			v = "v0.0.0-" + stamp
		case len(base.pre) == 0:
			base.patch++
			v = base.String() + "-0." + stamp
		default:
			v = base.String() + ".0." + stamp
		}
	}
	if s.modified {
		v += "+dirty"
	}
	return v
}

// semver is a semantic version, as Go writes it (v1.2.3-rc.1+meta).
type semver struct {
	major, minor, patch int
	pre                 []string // dot-separated pre-release identifiers
	build               string   // build metadata, without "+"
}

// semverRE is semver.org's grammar, with Go's "v" in front.
var semverRE = regexp.MustCompile(`^v(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)` +
	`(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?` +
	`(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$`)

func parseSemver(s string) (semver, bool) {
	m := semverRE.FindStringSubmatch(s)
	if m == nil {
		return semver{}, false
	}
	var v semver
	var errs [3]error
	v.major, errs[0] = strconv.Atoi(m[1])
	v.minor, errs[1] = strconv.Atoi(m[2])
	v.patch, errs[2] = strconv.Atoi(m[3])
	if errors.Join(errs[:]...) != nil { // out of int's range
		return semver{}, false
	}
	if m[4] != "" {
		v.pre = strings.Split(m[4], ".")
	}
	v.build = m[5]
	return v, true
}

// String is v as Go writes it, with its "v".
func (v semver) String() string {
	s := fmt.Sprintf("v%d.%d.%d", v.major, v.minor, v.patch)
	if len(v.pre) > 0 {
		s += "-" + strings.Join(v.pre, ".")
	}
	if v.build != "" {
		s += "+" + v.build
	}
	return s
}

// compareSemver orders versions by semver.org's precedence (build
// metadata does not count).
func compareSemver(a, b semver) int {
	if c := cmp.Or(cmp.Compare(a.major, b.major), cmp.Compare(a.minor, b.minor), cmp.Compare(a.patch, b.patch)); c != 0 {
		return c
	}
	switch {
	case len(a.pre) == 0 && len(b.pre) == 0:
		return 0
	case len(a.pre) == 0:
		return 1 // a release follows its pre-releases
	case len(b.pre) == 0:
		return -1
	}
	for i := range min(len(a.pre), len(b.pre)) {
		x, errX := strconv.Atoi(a.pre[i])
		y, errY := strconv.Atoi(b.pre[i])
		var c int
		switch {
		case errX == nil && errY == nil:
			c = cmp.Compare(x, y)
		case errX == nil:
			c = -1 // numeric identifiers come first
		case errY == nil:
			c = 1
		default:
			c = strings.Compare(a.pre[i], b.pre[i])
		}
		if c != 0 {
			return c
		}
	}
	return cmp.Compare(len(a.pre), len(b.pre))
}

// npmVersion is the version of the npm packages: the Go version without
// its "v" (npm's versions are semver too).
func npmVersion(goVersion string) string { return strings.TrimPrefix(goVersion, "v") }

// pseudoRE is the tail of a pseudo-version's pre-release: its commit time
// and hash, after a "0." when it follows a tag.
var pseudoRE = regexp.MustCompile(`^(?:(?:(.+)\.)?0\.)?(\d{14})-([0-9a-f]{12})$`)

// pep440Version is the version of the Python wheels, in PEP 440's terms:
//
//	v1.2.3                           1.2.3
//	v1.2.3-rc.1, -beta.2, -alpha.3   1.2.3rc1, 1.2.3b2, 1.2.3a3
//	v1.2.4-0.20260501120000-abcdef123456      1.2.4.dev20260501120000+abcdef123456
//	v1.2.3-rc.1.0.20260501120000-abcdef123456 1.2.3rc1.dev20260501120000+abcdef123456
//	v0.0.0-20260501120000-abcdef123456        0.0.0.dev20260501120000+abcdef123456
//	…+dirty                          …+dirty, or +abcdef123456.dirty
//
// A pseudo-version is a dev release of the version it precedes, as in
// semver; its commit is a local version label, which pip accepts in a
// wheel but PyPI refuses: only tagged releases are published. Any other
// pre-release tag has no PEP 440 form, and is an error.
func pep440Version(goVersion string) (string, error) {
	v, ok := parseSemver(goVersion)
	if !ok {
		return "", fmt.Errorf("version %q is not semver (vX.Y.Z)", goVersion)
	}
	out := fmt.Sprintf("%d.%d.%d", v.major, v.minor, v.patch)
	pre, dev := strings.Join(v.pre, "."), ""
	var local []string
	if m := pseudoRE.FindStringSubmatch(pre); m != nil {
		// PEP 440's normal form writes its numbers without leading
		// zeros: a commit time of 00000000000000 is dev0.
		pre, dev = m[1], ".dev"+canonicalNumber(m[2])
		local = append(local, m[3])
	}
	if pre != "" {
		kind, n, ok := strings.Cut(pre, ".")
		short := map[string]string{"alpha": "a", "a": "a", "beta": "b", "b": "b", "rc": "rc"}[kind]
		// Digits only: strconv.Atoi would take "-0" or "+1", which PEP
		// 440 has no form for.
		if !ok || n == "" || strings.Trim(n, "0123456789") != "" || short == "" {
			return "", fmt.Errorf("version %q: pre-release %q has no PEP 440 form: tag vX.Y.Z-rc.N, -beta.N or -alpha.N", goVersion, pre)
		}
		out += short + canonicalNumber(n)
	}
	out += dev
	// PEP 440's normal form of a local label: lower-case alphanumeric
	// parts, joined by ".".
	for _, p := range strings.FieldsFunc(v.build, func(r rune) bool { return r == '.' || r == '-' }) {
		local = append(local, strings.ToLower(p))
	}
	if len(local) > 0 {
		out += "+" + strings.Join(local, ".")
	}
	return out, nil
}

// canonicalNumber is the run of digits n without its leading zeros ("0"
// for none but zeros), as PEP 440's normal form writes numbers.
func canonicalNumber(n string) string {
	if t := strings.TrimLeft(n, "0"); t != "" {
		return t
	}
	return "0"
}

// debVersion is the version of the .deb: the semver with "~" before the
// pre-release, which sorts it before the release in dpkg's order as "-"
// does in semver's, and "." for the pre-release's own "-" (a "-" would
// start a Debian revision).
func debVersion(goVersion string) (string, error) {
	v, ok := parseSemver(goVersion)
	if !ok {
		return "", fmt.Errorf("version %q is not semver (vX.Y.Z)", goVersion)
	}
	out := fmt.Sprintf("%d.%d.%d", v.major, v.minor, v.patch)
	if len(v.pre) > 0 {
		out += "~" + strings.ReplaceAll(strings.Join(v.pre, "."), "-", ".")
	}
	if v.build != "" {
		out += "+" + strings.ReplaceAll(v.build, "-", ".")
	}
	return out, nil
}
