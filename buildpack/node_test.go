package buildpack

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// planOutcome renders everything a plan decides, one line per decision
// with the file:line of its evidence, so a table test can compare the
// whole outcome at once and a failure shows what differs.
func planOutcome(p *Plan) []string {
	at := func(e Evidence) string {
		if e.Says == "" {
			return "(evidence says nothing)"
		}
		if e.Line > 0 {
			return e.File + ":" + strconv.Itoa(e.Line)
		}
		return e.File
	}
	out := []string{"kind " + string(p.Kind), "title " + p.Title}
	for _, e := range p.Evidence {
		out = append(out, "evidence "+at(e))
	}
	if p.Release != nil {
		out = append(out, "release: "+p.Release.Command+" ("+at(p.Release.Why)+")")
	}
	for _, proc := range p.Processes {
		out = append(out, proc.Type+": "+proc.Command+" ("+at(proc.Why)+")")
	}
	for _, s := range p.Build {
		out = append(out, "build: "+s.Command+" -> "+s.Creates+" ("+at(s.Why)+")")
	}
	for _, m := range p.Static {
		out = append(out, "static: "+m.Prefix+" "+m.Dir+" fallthrough="+strconv.FormatBool(m.Fallthrough)+" index="+strconv.FormatBool(m.Index)+" ("+at(m.Why)+")")
	}
	return out
}

// checkNotes checks that each wanted text is in exactly one note, and that
// there are no other notes.
func checkNotes(t *testing.T, notes, want []string) {
	t.Helper()
	if len(notes) != len(want) {
		t.Errorf("notes = %q, want %d matching %q", notes, len(want), want)
		return
	}
	for _, w := range want {
		if !slices.ContainsFunc(notes, func(n string) bool { return strings.Contains(n, w) }) {
			t.Errorf("no note contains %q; notes = %q", w, notes)
		}
	}
}

func TestDetectNode(t *testing.T) {
	for _, tc := range []struct {
		dir   string
		want  []string
		notes []string
	}{
		{"node-npm-start", []string{
			"kind node", "title Node (npm)",
			"evidence package.json:7", "evidence package-lock.json",
			"web: npm start (package.json:7)",
			"build: npm ci -> node_modules (package.json:10)",
		}, []string{`package.json:14: engines.node is ">=20"`}},
		{"node-server-js", []string{
			"kind node", "title Node (npm)",
			"evidence server.js", "evidence package.json",
			"web: node server.js (server.js)",
			"build: npm install -> node_modules (package.json:8)",
		}, nil},
		{"node-yarn", []string{
			"kind node", "title Node (yarn)",
			"evidence package.json:7", "evidence yarn.lock",
			"web: yarn start (package.json:7)",
			"build: yarn install --frozen-lockfile -> node_modules (package.json:9)",
			"build: yarn build ->  (package.json:6)",
		}, nil},
		{"node-pnpm-packagemanager", []string{
			"kind node", "title Node (pnpm)",
			"evidence package.json:6", "evidence package.json:4",
			"web: pnpm start (package.json:6)",
			"build: pnpm install --frozen-lockfile -> node_modules (package.json:8)",
		}, []string{`so yarn.lock (yarn's lock file) is not used`}},
		{"node-worker", []string{
			"kind node", "title Node (npm)",
			"evidence package.json:5", "evidence package-lock.json",
			"web: npm start (package.json:5)",
			"worker: npm run worker (package.json:6)",
			"clock: npm run clock (package.json:7)",
			"build: npm ci -> node_modules (package.json:13)",
			// Heroku runs heroku-postbuild in place of build.
			"build: npm run heroku-postbuild ->  (package.json:10)",
		}, nil},
		{"node-two-lockfiles", []string{
			"kind node", "title Node (npm)",
			"evidence package.json:4", "evidence package-lock.json",
			"web: npm start (package.json:4)",
			"build: npm ci -> node_modules (package.json:6)",
		}, []string{"both package-lock.json (npm) and yarn.lock (yarn) are here; corral uses npm"}},
		{"node-prisma", []string{
			"kind node", "title Node (npm)",
			"evidence package.json:6", "evidence package.json",
			"release: npx prisma migrate deploy (prisma/migrations)",
			"web: npm start (package.json:6)",
			"build: npm install -> node_modules (package.json:8)",
			"build: npm run build ->  (package.json:5)",
		}, nil},
		{"node-nest", []string{
			"kind node", "title Node (npm)",
			"evidence package.json:9", "evidence package-lock.json",
			"web: npm run start:prod (package.json:9)",
			"build: npm ci -> node_modules (package.json:11)",
			"build: npm run build -> dist (package.json:6)",
		}, []string{`package.json:7: scripts.start runs nest start, which compiles the app at each start with the Nest CLI, a dev dependency: corral runs scripts.start:prod, the built server, instead`}},
		{"node-nodemon", []string{
			"kind node", "title Node (npm)",
			"evidence package.json:4", "evidence package.json",
			"web: npm start (package.json:4)",
			"build: npm install -> node_modules (package.json:6)",
		}, nil},
		{"rails-jsbundling", []string{
			"kind rails", "title Ruby (Rails)",
			"evidence config.ru", "evidence config/application.rb",
			// The package.json's evidence follows the Rails app's.
			"evidence package.json:5", "evidence yarn.lock",
			"web: bundle exec rackup -o ${HOST:-0.0.0.0} -p $PORT (config.ru)",
			"worker: bundle exec good_job start (Gemfile:7)",
			// The front end is built first, for assets:precompile to pick up.
			"build: yarn install --frozen-lockfile -> node_modules (package.json:7)",
			"build: yarn build ->  (package.json:5)",
			"build: bundle install ->  (Gemfile)",
			"build: bundle exec rails assets:precompile -> public/assets (app/javascript)",
		}, nil},
	} {
		t.Run(tc.dir, func(t *testing.T) {
			p, err := Detect(filepath.Join("testdata", tc.dir))
			if err != nil {
				t.Fatal(err)
			}
			if got := planOutcome(p); !slices.Equal(got, tc.want) {
				t.Errorf("plan:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(tc.want, "\n  "))
			}
			checkNotes(t, p.Notes, tc.notes)
		})
	}
}

func TestDetectNodeAssetsOnly(t *testing.T) {
	dir := filepath.Join("testdata", "node-assets-only")
	a, err := openAppFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	p, err := detectNode(a)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"kind assets", "title Node assets (npm)",
		"evidence package.json:9", "evidence package-lock.json",
		"build: npm ci -> node_modules (package.json:12)",
		"build: npm run build -> dist (package.json:9)",
	}
	if got := planOutcome(p); !slices.Equal(got, want) {
		t.Errorf("plan:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
	checkNotes(t, p.Notes, []string{`package.json:6: main is "src/main.js", but there is no start script and no server.js`})

	// Building assets starts no server. Detect passes the plan to the
	// static-site detector, which makes a site of what vite writes: the
	// whole path keeps the install and build steps, and serves dist/.
	site, err := Detect(dir)
	if err != nil {
		t.Fatal(err)
	}
	if site.Kind != Static || !slices.Equal(site.Build, p.Build) || len(site.Static) != 1 || site.Static[0].Dir != "dist" {
		t.Errorf("Detect:\n  %s\nwant a static site from dist/ built by %v", strings.Join(planOutcome(site), "\n  "), p.Build)
	}

	// A build whose output corral cannot tell, with no index.html
	// anywhere, is no site: Detect finds nothing to run, and says what
	// it did find.
	a = tempApp(t, map[string]string{
		"package.json": "{\n  \"scripts\": {\n    \"build\": \"webpack --mode production\"\n  }\n}\n",
		"src/index.js": "console.log(1)\n",
	})
	p, err = Detect(a.dir)
	var nf *NotFoundError
	if !errors.As(err, &nf) {
		t.Fatalf("Detect = %v, %v; want a NotFoundError", p, err)
	}
	if nf.Assets == nil || nf.Assets.Kind != Assets {
		t.Errorf("NotFoundError.Assets = %+v, want the assets plan", nf.Assets)
	}
	if !strings.Contains(err.Error(), `package.json:3: scripts.build is "webpack --mode production"`) {
		t.Errorf("error does not point at the build script:\n%v", err)
	}
}

func TestDetectNodeErrors(t *testing.T) {
	for _, tc := range []struct {
		dir, want string
	}{
		{"node-malformed-json", "buildpack: package.json:5:3: invalid JSON: invalid character '}' looking for beginning of object key string"},
		{"node-scripts-wrong-type", "buildpack: package.json:5: scripts.start is an array, not a string"},
	} {
		t.Run(tc.dir, func(t *testing.T) {
			p, err := Detect(filepath.Join("testdata", tc.dir))
			if err == nil || err.Error() != tc.want {
				t.Errorf("Detect = %v, %v; want error %q", p, err, tc.want)
			}
		})
	}
}

func TestDetectNodeNone(t *testing.T) {
	for name, files := range map[string]map[string]string{
		"no package.json":            {"index.js": "x"},
		"a library":                  {"package.json": `{"name": "lib", "main": "index.js", "scripts": {"test": "node --test"}}`, "index.js": "x"},
		"empty start script":         {"package.json": `{"scripts": {"start": " "}}`},
		"null":                       {"package.json": `null`},
		"release is no process type": {"package.json": `{"scripts": {"release": "semantic-release"}}`},
	} {
		t.Run(name, func(t *testing.T) {
			a := tempApp(t, files)
			if p, err := detectNode(a); p != nil || err != nil {
				t.Errorf("detectNode = %+v, %v; want nil, nil", p, err)
			}
		})
	}
}

// tempApp writes files to a new app directory and opens it.
// packageApp is tempApp for files and a package.json holding fields (JSON
// object members), and packageManager set to files["pm"] if there is one.
func packageApp(t *testing.T, files map[string]string, fields string) *appFiles {
	t.Helper()
	all := map[string]string{}
	pm := ""
	for name, content := range files {
		if name == "pm" {
			pm = `"packageManager": "` + content + `", `
			continue
		}
		all[name] = content
	}
	all["package.json"] = "{" + pm + fields + "}"
	return tempApp(t, all)
}

func tempApp(t *testing.T, files map[string]string) *appFiles {
	t.Helper()
	a, err := openAppFiles(testTree(t, files))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	return a
}

func TestDetectNodeTooBig(t *testing.T) {
	big := `{"scripts": {"start": "node index.js"}, "description": "` + strings.Repeat("x", maxFileSize) + `"}`
	a := tempApp(t, map[string]string{"package.json": big})
	p, err := detectNode(a)
	if err == nil || !strings.HasPrefix(err.Error(), "buildpack: package.json: ") || !strings.Contains(err.Error(), "bytes") {
		t.Errorf("detectNode = %v, %v; want an error naming package.json and its size", p, err)
	}
}

func TestNodePackageManager(t *testing.T) {
	const deps = `"dependencies": {"a": "1"}, "scripts": {"start": "node ."}`
	for _, tc := range []struct {
		name    string
		files   map[string]string
		title   string
		install string
		web     string
		note    string
	}{
		{"npm no lock", map[string]string{}, "Node (npm)", "npm install", "npm start", ""},
		{"shrinkwrap", map[string]string{"npm-shrinkwrap.json": "{}"}, "Node (npm)", "npm ci", "npm start", ""},
		{"yarn", map[string]string{"yarn.lock": ""}, "Node (yarn)", "yarn install --frozen-lockfile", "yarn start", ""},
		{"pnpm", map[string]string{"pnpm-lock.yaml": ""}, "Node (pnpm)", "pnpm install --frozen-lockfile", "pnpm start", ""},
		{"bun binary lock", map[string]string{"bun.lockb": ""}, "Node (bun)", "bun install --frozen-lockfile", "bun run start", ""},
		{"bun text lock", map[string]string{"bun.lock": ""}, "Node (bun)", "bun install --frozen-lockfile", "bun run start", ""},
		{"yarn and pnpm", map[string]string{"yarn.lock": "", "pnpm-lock.yaml": ""}, "Node (yarn)", "yarn install --frozen-lockfile", "yarn start",
			"both yarn.lock (yarn) and pnpm-lock.yaml (pnpm) are here; corral uses yarn"},
		{"bun and npm", map[string]string{"bun.lockb": "", "package-lock.json": "{}"}, "Node (npm)", "npm ci", "npm start",
			"both package-lock.json (npm) and bun.lockb (bun) are here; corral uses npm"},
		{"packageManager wins", map[string]string{"pm": "yarn@4.2.2", "package-lock.json": "{}"}, "Node (yarn)", "yarn install", "yarn start",
			`packageManager is "yarn@4.2.2", so package-lock.json (npm's lock file) is not used`},
		{"packageManager bun", map[string]string{"pm": "bun@1.1.12", "bun.lock": ""}, "Node (bun)", "bun install --frozen-lockfile", "bun run start", ""},
		{"packageManager npm", map[string]string{"pm": "npm@10.8.1"}, "Node (npm)", "npm install", "npm start", ""},
		{"unknown packageManager", map[string]string{"pm": "deno@1.44", "pnpm-lock.yaml": ""}, "Node (pnpm)", "pnpm install --frozen-lockfile", "pnpm start",
			`packageManager "deno@1.44" is not npm, yarn, pnpm or bun`},
		{"lock file is a directory", map[string]string{"yarn.lock/x": ""}, "Node (npm)", "npm install", "npm start", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := detectNode(packageApp(t, tc.files, deps))
			if err != nil {
				t.Fatal(err)
			}
			web, _ := p.Web()
			if p.Title != tc.title || len(p.Build) != 1 || p.Build[0].Command != tc.install || web.Command != tc.web {
				t.Errorf("plan:\n  %s\nwant %s, %s, %s", strings.Join(planOutcome(p), "\n  "), tc.title, tc.install, tc.web)
			}
			var want []string
			if tc.note != "" {
				want = []string{tc.note}
			}
			checkNotes(t, p.Notes, want)
		})
	}
}

func TestBuildOutput(t *testing.T) {
	for _, tc := range []struct{ script, want string }{
		{"vite build", "dist"},
		{"tsc && vite build", "dist"},
		{"tsc -b && npx vite build --mode production", "dist"},
		{"vite build --outDir ../server/public", ""},
		{"vite build --outDir=www", "www"},
		{"vite build --outDir 'site/' && echo done", "site"},
		{"vite build --outDir /srv/www", ""},
		{"./node_modules/.bin/vite build", "dist"},
		{"astro check && astro build", "dist"},
		{"parcel build src/index.html", "dist"},
		{"parcel build src/index.html --dist-dir public", "public"},
		{"react-scripts build", "build"},
		{"CI=false react-scripts build", "build"},
		{"next build && next export", "out"},
		{"next build", ""},
		{"vite build && cp -r dist --outDir x", "dist"},
		{"rm -rf www; vite build --outDir www", "www"},
		{"(cd web && vite build)", "dist"},
		{"ng build --configuration production", "dist"},
		{"vite", ""},
		{"tsc -p .", ""},
		{"esbuild app/javascript/*.* --bundle --outdir=app/assets/builds", ""},
		{"npm run build:css", ""},
		{"", ""},
	} {
		if got := buildOutput(tc.script); got != tc.want {
			t.Errorf("buildOutput(%q) = %q, want %q", tc.script, got, tc.want)
		}
	}
}

func TestParsePackageJSON(t *testing.T) {
	for _, tc := range []struct {
		name, src string
		lines     map[string]int // key paths and the lines they must be on
		err       string
	}{
		{"keys", "{\n  \"scripts\": {\n    \"build\": \"x\",\n    \"start\": \"y\"\n  },\n  \"packageManager\": \"npm@10.0.0\"\n}",
			map[string]int{"scripts": 2, "scripts.build": 3, "scripts.start": 4, "packageManager": 6}, ""},
		{"one line", `{"scripts": {"start": "node ."}}`, map[string]int{"scripts.start": 1}, ""},
		{"nested values do not confuse", "{\n\"a\": {\"start\": {\"x\": [1, {\"start\": 2}]}},\n\"scripts\": {\n\"start\": \"s\"}}",
			map[string]int{"a.start": 2, "scripts.start": 4}, ""},
		{"start outside scripts", "{\"config\": {\n\"start\": 1},\n\"scripts\": {\"x\": \"y\",\n\n\"start\": \"z\"}}",
			map[string]int{"config.start": 2, "scripts.start": 5}, ""},
		{"repeated key: the last counts", "{\"scripts\": {\"start\": \"a\",\n\"start\": \"b\"}}", map[string]int{"scripts.start": 2}, ""},
		{"a dotted top-level key is no nested one", "{\"scripts\": {\n\"start\": \"a\"},\n\"scripts.start\": 1}", map[string]int{"scripts.start": 2}, ""},
		{"escaped key", "{\"scripts\": {\n\"st\\u0061rt\": \"a\"}}", map[string]int{"scripts.start": 2}, ""},
		{"byte order mark", "\ufeff{\"scripts\": {\"start\": \"a\"}}", map[string]int{"scripts.start": 1}, ""},
		{"huge number", `{"version": 1e400, "scripts": {"start": "a"}}`, map[string]int{"scripts.start": 1}, ""},
		{"old engines array", `{"engines": ["node >= 0.4"], "main": 1, "scripts": {"start": "a"}}`, map[string]int{"scripts.start": 1}, ""},

		{"empty", "", nil, "buildpack: package.json:1:1: invalid JSON: unexpected end of JSON input"},
		{"truncated", "{\n  \"scripts\": {\n", nil, "buildpack: package.json:2:15: invalid JSON: unexpected end of JSON input"},
		{"trailing comma", "{\n  \"a\": 1,\n}", nil, "buildpack: package.json:3:1: invalid JSON: invalid character '}' looking for beginning of object key string"},
		{"column counts characters", "{\"é\": x}", nil, "buildpack: package.json:1:7: invalid JSON: invalid character 'x' looking for beginning of value"},
		{"comment", "{\n// no comments in JSON\n}", nil, "buildpack: package.json:2:1: invalid JSON: invalid character '/' looking for beginning of object key string"},
		{"second value", "{}\n{}", nil, "buildpack: package.json:2:1: invalid JSON: invalid character '{' after top-level value"},
		{"scripts an array", "{\n\"scripts\": [\"start\"]}", nil, "buildpack: package.json:2: scripts is an array, not an object"},
		{"script a number", "{\"scripts\": {\n\"build\": \"b\",\n\"start\": 1}}", nil, "buildpack: package.json:3: scripts.start is a number, not a string"},
		{"script an object on many lines", "{\"scripts\": {\n\"start\": {\n\"cmd\": \"x\"\n}}}", nil, "buildpack: package.json:2: scripts.start is an object, not a string"},
		{"script a boolean", "{\"scripts\": {\"start\": true}}", nil, "buildpack: package.json:1: scripts.start is a boolean, not a string"},
		{"packageManager an object", "{\n\n\"packageManager\": {\"name\": \"pnpm\"}}", nil, "buildpack: package.json:3: packageManager is an object, not a string"},
		{"dependencies an array", "{\"dependencies\": [\n\"express\"]}", nil, "buildpack: package.json:1: dependencies is an array, not an object"},
		{"top level an array", "\n[1]", nil, "buildpack: package.json:2: the top level is an array, not an object"},
		{"top level a string", `"x"`, nil, "buildpack: package.json:1: the top level is a string, not an object"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pkg, err := parsePackageJSON([]byte(tc.src))
			if tc.err != "" {
				if err == nil || err.Error() != tc.err {
					t.Errorf("err = %v, want %s", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for key, line := range tc.lines {
				if pkg.lines[key] != line {
					t.Errorf("line of %s = %d, want %d (all: %v)", key, pkg.lines[key], line, pkg.lines)
				}
			}
		})
	}
}

func TestParsePackageJSONBig(t *testing.T) {
	// A megabyte of keys: each key's line is counted on from the one
	// before, not from the top (which takes seconds).
	var b strings.Builder
	b.WriteString("{")
	n := 0
	for ; b.Len() < maxFileSize-100; n++ {
		fmt.Fprintf(&b, "\n\"k%d\": %d,", n, n)
	}
	b.WriteString("\n\"scripts\": {\"start\": \"node .\"}}")
	pkg, err := parsePackageJSON([]byte(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	if got := pkg.lines["scripts.start"]; got != n+2 {
		t.Errorf("start on line %d, want %d", got, n+2)
	}
}

func TestParsePackageJSONExactNames(t *testing.T) {
	// npm reads package.json with JavaScript: names are exact, and a
	// repeated key's last value replaces the first whole.
	for _, tc := range []struct{ src, start string }{
		{`{"Scripts": {"start": "a"}}`, ""},
		{`{"scripts": {"Start": "a"}}`, ""},
		{`{"SCRIPTS": {"start": "a"}, "scripts": {"start": "b"}}`, "b"},
		{`{"scripts": {"start": "a"}, "scripts": {"build": "b"}}`, ""},
		{`{"scripts": {"start": "a", "start": "b"}}`, "b"},
	} {
		pkg, err := parsePackageJSON([]byte(tc.src))
		if err != nil {
			t.Fatal(err)
		}
		if got := pkg.scripts["start"]; got != tc.start {
			t.Errorf("%s: start script %q, want %q", tc.src, got, tc.start)
		}
	}
	pkg, err := parsePackageJSON([]byte(`{"PackageManager": "yarn@4", "Dependencies": {"a": "1"}, "engines": {"Node": "20"}}`))
	if err != nil || pkg.packageManager != "" || pkg.dependencies != nil || pkg.engineNode != "" {
		t.Errorf("parsed %+v, %v; want nothing", pkg, err)
	}
}

func TestParsePackageJSONFields(t *testing.T) {
	pkg, err := parsePackageJSON([]byte(`{
  "main": "server.js",
  "packageManager": "pnpm@9.1.0",
  "engines": {"node": "20.x", "npm": ">=10"},
  "scripts": {"start": "node server.js"},
  "dependencies": {"zod": "^3", "express": {"version": "odd but only names count"}},
  "devDependencies": {"vitest": "^1"}
}`))
	if err != nil {
		t.Fatal(err)
	}
	if pkg.main != "server.js" || pkg.packageManager != "pnpm@9.1.0" || pkg.engineNode != "20.x" ||
		pkg.scripts["start"] != "node server.js" ||
		!slices.Equal(pkg.dependencies, []string{"express", "zod"}) || !slices.Equal(pkg.devDependencies, []string{"vitest"}) {
		t.Errorf("parsed %+v", pkg)
	}
}

func FuzzPackageJSON(f *testing.F) {
	// errorLine matches the file:line (and column) an error must start with.
	errorLine := regexp.MustCompile(`^buildpack: package\.json:([0-9]+)(:([0-9]+))?: `)
	for _, dir := range []string{"node-npm-start", "node-worker", "node-malformed-json", "node-scripts-wrong-type", "node-pnpm-packagemanager"} {
		src, err := os.ReadFile(filepath.Join("testdata", dir, "package.json"))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(src)
	}
	for _, s := range []string{
		"", "{}", "null", "[]", `"x"`, "{\n\"scripts\": [1]}", "{\"scripts\": {\n\"start\": 1}}",
		"\ufeff{\"a\": 1e400}", "{\"engines\": {\"node\": 20}, \"main\": [], \"dependencies\": {\"a\": {}}}",
		"{\"a\": {\"b\": {\"c\": [{\"start\": 1}]}}, \"scripts\": {\"st\\u0061rt\": \"x\"}}",
		"{\"é\": \"\xff\"}\n", "{\n\"a\": 1,\n}", "{}\n{}",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		pkg, err := parsePackageJSON(src)
		valid := json.Valid(bytes.TrimPrefix(src, []byte("\ufeff")))
		lines := bytes.Count(src, []byte("\n")) + 1
		if err != nil {
			m := errorLine.FindStringSubmatch(err.Error())
			if m == nil {
				t.Fatalf("error without package.json:LINE: %v", err)
			}
			if line, _ := strconv.Atoi(m[1]); line < 1 || line > lines {
				t.Fatalf("error on line %d of a %d-line input: %v", line, lines, err)
			}
			var syntax bool
			if strings.Contains(err.Error(), "invalid JSON") {
				syntax = true
				if m[3] == "" {
					t.Fatalf("syntax error without a column: %v", err)
				}
			}
			if syntax == valid {
				t.Fatalf("syntax error %v for input valid=%v", err, valid)
			}
			return
		}
		if !valid {
			t.Fatalf("invalid JSON accepted")
		}
		for key, line := range pkg.lines {
			if line < 1 || line > lines {
				t.Fatalf("key %q on line %d of a %d-line input", key, line, lines)
			}
		}
		if pkg.hasScript("start") {
			if line := pkg.lines["scripts.start"]; line < 1 {
				t.Fatalf("start script %q has no line", pkg.scripts["start"])
			}
		}
		// The scripts are the ones JavaScript's JSON.parse would give.
		var ref map[string]any
		dec := json.NewDecoder(bytes.NewReader(bytes.TrimPrefix(src, []byte("\ufeff"))))
		dec.UseNumber()
		if err := dec.Decode(&ref); err != nil {
			t.Fatal(err)
		}
		refScripts, _ := ref["scripts"].(map[string]any)
		if len(refScripts) != len(pkg.scripts) {
			t.Fatalf("scripts %q, want %q", pkg.scripts, refScripts)
		}
		for name, cmd := range pkg.scripts {
			if refScripts[name] != cmd {
				t.Fatalf("script %q is %q, want %q", name, cmd, refScripts[name])
			}
		}
		pkg2, err := parsePackageJSON(src)
		if err != nil || !maps.Equal(pkg.lines, pkg2.lines) || !slices.Equal(pkg.dependencies, pkg2.dependencies) {
			t.Fatalf("a second parse differs: %v", err)
		}
	})
}

// A start script that is corral's own start ("start": "corral start", how
// a Node app runs corral from its npm package) is no web command, or
// corral would run itself: the web command is the one after "--", else
// npm's default, server.js, else main; with none, an error naming the
// line and the fix.
func TestDetectNodeStartRunsCorral(t *testing.T) {
	pkg := func(start, extra string) string {
		return "{\n  \"name\": \"app\",\n" + extra + "  \"scripts\": {\n    \"start\": " + strconv.Quote(start) + "\n  }\n}\n"
	}
	for _, tc := range []struct {
		name    string
		files   map[string]string
		web     string // "" when an error is wanted
		says    string
		wantErr string
	}{
		{"after --", map[string]string{"package.json": pkg("corral start -- node app.js --port $PORT", "")},
			"node app.js --port $PORT", "the web command is the one after --", ""},
		{"server.js", map[string]string{"package.json": pkg("corral start --idle-stop 10m", ""), "server.js": ""},
			"node server.js", "npm's default start, node server.js", ""},
		{"main", map[string]string{"package.json": pkg("exec corral start", "  \"main\": \"lib/index.js\",\n")},
			"node lib/index.js", `runs main, "lib/index.js"`, ""},
		{"through npx", map[string]string{"package.json": pkg("npx corral start", ""), "server.js": ""},
			"node server.js", "npm's default start", ""},
		{"nothing to run", map[string]string{"package.json": pkg("corral start", "")},
			"", "", `package.json:4: scripts.start runs corral itself ("corral start"), so corral needs the server's own command: give it after "--"`},
		{"corral run is no start", map[string]string{"package.json": pkg("corral run -- node app.js", "")},
			"npm start", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Detect(testTree(t, tc.files))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Detect = %v, %v; want an error with %q", p, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			web, ok := p.Web()
			if !ok || web.Command != tc.web || !strings.Contains(web.Why.Says, tc.says) {
				t.Errorf("web %q (%s); want %q, saying %q", web.Command, web.Why.Says, tc.web, tc.says)
			}
		})
	}
}

// TestDevServer checks which start scripts run a development server, and
// which built server corral runs instead.
func TestDevServer(t *testing.T) {
	for _, tc := range []struct {
		scripts map[string]string
		main    string
		web     string // the web command
		warn    bool   // a warning that the start script is no production server
	}{
		{map[string]string{"start": "node server.js"}, "", "npm start", false},
		{map[string]string{"start": "next start"}, "", "npm start", false},
		{map[string]string{"start": "next dev", "build": "next build"}, "", "npm start", true},
		{map[string]string{"start": "NODE_ENV=development nodemon app.js"}, "", "npm start", true},
		{map[string]string{"start": "vite", "build": "vite build"}, "", "npm start", true},
		{map[string]string{"start": "vite preview"}, "", "npm start", false},
		{map[string]string{"start": "nx serve", "build": "nx build"}, "", "npm start", true},
		{map[string]string{"start": "ts-node-dev src/index.ts", "build": "tsc", "serve": "node dist/index.js"}, "", "npm run serve", false},
		{map[string]string{"start": "tsx watch src/main.ts", "build": "tsc", "prod": "cross-env NODE_ENV=production node --enable-source-maps build/main.js"}, "", "npm run prod", false},
		{map[string]string{"start": "nodemon", "build": "tsc"}, "dist/index.js", "node dist/index.js", false},
		{map[string]string{"start": "nodemon"}, "dist/index.js", "npm start", true},
		{map[string]string{"start": "nodemon", "build": "tsc", "x": "node src/index.js"}, "", "npm start", true},
		{map[string]string{"start": "nest start --watch", "build": "nest build", "start:prod": "node dist/main && echo"}, "", "npm start", true},
	} {
		pkg := &packageJSON{scripts: tc.scripts, main: tc.main, lines: map[string]int{}}
		p := &Plan{}
		cmd, _, _ := preferBuilt(pkg, nodeManager{name: "npm"}, p)
		if cmd != tc.web || (len(p.Warnings) > 0) != tc.warn {
			t.Errorf("scripts %v, main %q: web %q, warnings %q; want %q, warning %v", tc.scripts, tc.main, cmd, p.Warnings, tc.web, tc.warn)
		}
	}
}

// TestDetectFrontEndDevServer checks a front end whose start script is its
// development server (Create React App's react-scripts start): corral
// serves the site its build writes, as a platform's static site would.
func TestDetectFrontEndDevServer(t *testing.T) {
	p, err := Detect(filepath.Join("testdata", "node-cra-devserver"))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"kind static", "title Static site",
		"evidence package.json:6", "evidence package.json", "evidence package.json:6",
		"build: npm install -> node_modules (package.json:9)",
		"build: npm run build -> build (package.json:6)",
		"static: / build fallthrough=false index=true (package.json:6)",
	}
	if got := planOutcome(p); !slices.Equal(got, want) {
		t.Errorf("plan:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
	checkNotes(t, p.Notes, []string{"package.json:5: scripts.start runs react-scripts start, the front end's development server: corral serves the site the build writes instead"})
}
