package buildpack

import (
	"slices"
	"strings"
	"testing"
)

// TestNodeCorepack: a yarn or pnpm app runs its manager where it is on
// PATH; through corepack where only corepack is; and where neither is,
// its plan says what is missing and what to install. npm and bun have no
// corepack to fall back on.
func TestNodeCorepack(t *testing.T) {
	const deps = `"dependencies": {"a": "1"}, "scripts": {"start": "node .", "build": "vite build"}`
	for _, tc := range []struct {
		name    string
		files   map[string]string
		have    []string // the programs on PATH
		install string
		web     string
		build   string
		note    string // a substring of a note; "" for none
		missing string // Missing's String; "" for none
	}{
		{"yarn there", map[string]string{"yarn.lock": ""}, []string{"yarn", "corepack"},
			"yarn install --frozen-lockfile", "yarn start", "yarn build", "", ""},
		{"yarn through corepack", map[string]string{"yarn.lock": ""}, []string{"corepack"},
			"corepack yarn install --frozen-lockfile", "corepack yarn start", "corepack yarn build",
			"yarn is not on PATH, but corepack is: corral runs corepack yarn", ""},
		{"pnpm through corepack", map[string]string{"pnpm-lock.yaml": ""}, []string{"corepack", "npm"},
			"corepack pnpm install --frozen-lockfile", "corepack pnpm start", "corepack pnpm run build",
			"pnpm is not on PATH, but corepack is: corral runs corepack pnpm", ""},
		{"yarn, nor corepack", map[string]string{"yarn.lock": ""}, []string{"npm"},
			"yarn install --frozen-lockfile", "yarn start", "yarn build", "",
			"yarn is not on PATH (yarn.lock: yarn's lock file): neither is corepack, through which corral would run it; install yarn (npm install --global yarn) or a Node.js that comes with corepack (16.9 to 24), or delete yarn.lock to use npm"},
		{"pnpm by packageManager, nor corepack", map[string]string{"pm": "pnpm@9.1.0"}, nil,
			"pnpm install", "pnpm start", "pnpm run build", "",
			`pnpm is not on PATH (package.json:1: sets packageManager to "pnpm@9.1.0"): neither is corepack, through which corral would run it; install pnpm (npm install --global pnpm) or a Node.js that comes with corepack (16.9 to 24), or set packageManager in package.json to npm`},
		{"bun: no corepack for it", map[string]string{"bun.lock": ""}, []string{"corepack"},
			"bun install --frozen-lockfile", "bun run start", "bun run build", "",
			"bun is not on PATH (bun.lock: bun's lock file): install bun (https://bun.sh), or delete bun.lock to use npm"},
		{"npm missing", map[string]string{"package-lock.json": "{}"}, []string{"corepack"},
			"npm ci", "npm start", "npm run build", "",
			"npm is not on PATH (package-lock.json: npm's lock file): install Node.js with its npm (Debian: apt-get install nodejs npm)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := packageApp(t, tc.files, deps)
			a.have = func(name string) bool { return slices.Contains(tc.have, name) }
			p, err := detectNode(a)
			if err != nil {
				t.Fatal(err)
			}
			web, _ := p.Web()
			if len(p.Build) != 2 || p.Build[0].Command != tc.install || p.Build[1].Command != tc.build || web.Command != tc.web {
				t.Errorf("plan:\n  %s\nwant %s, %s, %s", strings.Join(planOutcome(p), "\n  "), tc.install, tc.build, tc.web)
			}
			if tc.note != "" && !slices.ContainsFunc(p.Notes, func(n string) bool { return strings.Contains(n, tc.note) }) {
				t.Errorf("notes %q, want one containing %q", p.Notes, tc.note)
			}
			var missing []string
			for _, m := range p.Missing {
				missing = append(missing, m.String())
			}
			if want := []string{tc.missing}; tc.missing == "" && len(missing) > 0 || tc.missing != "" && !slices.Equal(missing, want) {
				t.Errorf("missing %q\nwant    %q", missing, tc.missing)
			}
		})
	}
}
