package buildpack

import (
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// pyReqs renders what a requirements file declares: "line name[extras]"
// and "line -r file".
func pyReqs(items []reqItem) []string {
	var out []string
	for _, it := range items {
		s := strconv.Itoa(it.line) + " "
		if it.include != "" {
			s += "-r " + it.include
		} else {
			s += it.name
			if len(it.extras) > 0 {
				s += "[" + strings.Join(it.extras, ",") + "]"
			}
		}
		out = append(out, s)
	}
	return out
}

// TestParseRequirements checks what a requirements file declares, line by line.
func TestParseRequirements(t *testing.T) {
	for _, tc := range []struct {
		src, want string // want: pyReqs joined by "; ", or "error: …"
	}{
		{"flask\ngunicorn==21.2.0\n", "1 flask; 2 gunicorn"},
		{"# comment\n\n  Django >= 4.2 , < 5  # pinned\n", "3 Django"},
		{"uvicorn[standard]>=0.29\n", "1 uvicorn[standard]"},
		{"psycopg [ binary , Pool ] ==3.1\n", "1 psycopg[binary,pool]"},
		{"celery[redis] ; python_version<\"3.8\"\n", "1 celery[redis]"},
		{"zope.interface~=6.0\n", "1 zope.interface"},
		{"foo (>=1.0)\n", "1 foo"},
		{"requests @ https://example.com/r.whl#egg=requests\n", "1 requests"},
		{"gunicorn==21.2.0 \\\n    --hash=sha256:aa \\\n    --hash=sha256:bb\nflask\n", "1 gunicorn; 4 flask"},
		{"gun\\\nicorn\n", "1 gunicorn"},
		{"flask \\\n# a comment\ngunicorn\n", "1 flask; 3 gunicorn"},
		{"flask\\", "1 flask"},
		{"-r base.txt\n--requirement prod.txt\n--requirement=dev.txt\n-rother.txt\n", "1 -r base.txt; 2 -r prod.txt; 3 -r dev.txt; 4 -r other.txt"},
		{"-r https://example.com/reqs.txt\n", ""},
		{"-c constraints.txt\n-e .\n-e git+https://github.com/x/y.git#egg=y\n--index-url https://pypi.org/simple\n-i x\n--pre\n", ""},
		{"git+https://github.com/x/y.git\nhttps://example.com/p.tar.gz\n./local/pkg\n/abs/pkg\n~/pkg\nfile:///x\npkg-1.0-py3-none-any.whl\npkg.tar.gz\nC:\\x\n", ""},
		{"${PKG}\n>=1.0\n[extra]\n", ""},
		{"foo#not-a-comment\nbar #a comment\n", "1 foo; 2 bar"},
		{"a\r\nb\rc\n", "1 a; 2 b; 3 c"},
		{"-r\n", "error: buildpack: requirements.txt:1: -r names no file"},
		{"flask\n--requirement= \n", "error: buildpack: requirements.txt:2: --requirement names no file"},
	} {
		items, err := parseRequirements("requirements.txt", tc.src)
		got := strings.Join(pyReqs(items), "; ")
		if err != nil {
			got = "error: " + err.Error()
		}
		if got != tc.want {
			t.Errorf("parseRequirements(%q) = %q, want %q", tc.src, got, tc.want)
		}
	}
}

// TestNormalizePyName checks PEP 503 normalisation.
func TestNormalizePyName(t *testing.T) {
	for in, want := range map[string]string{
		"Django": "django", "zope.interface": "zope-interface", "Foo__Bar-.baz": "foo-bar-baz",
		"psycopg2_binary": "psycopg2-binary", "": "", "-x-": "x",
	} {
		if got := normalizePyName(in); got != want {
			t.Errorf("normalizePyName(%q) = %q, want %q", in, got, want)
		}
	}
}

// pyDepsOf renders what readPyDeps makes of files: the install step and
// each declaration.
func pyDepsOf(t *testing.T, files map[string]string) (string, []string) {
	t.Helper()
	d := readPyDeps(pyTestApp(t, files))
	if d.unread != nil {
		if d.install != nil || len(d.deps) > 0 {
			t.Errorf("dependencies %+v read from a file that could not be read", d)
		}
		return "unread " + d.file + ": " + d.unread.Error(), nil
	}
	install := ""
	if d.install != nil {
		install = d.install.Command + " [" + d.install.Why.String() + "]"
	}
	var decl []string
	for _, dep := range d.deps {
		decl = append(decl, dep.name+" "+dep.at.String())
	}
	slices.Sort(decl)
	return install, decl
}

// TestReadPyDeps checks which file the dependencies come from, the install step, and where each package is declared.
func TestReadPyDeps(t *testing.T) {
	for _, tc := range []struct {
		name    string
		files   map[string]string
		install string
		decl    string // sorted, joined by "; "
	}{
		{"requirements with nested -r, each file once", map[string]string{
			"requirements.txt":            "-r requirements/prod.txt\nflask\n",
			"requirements/prod.txt":       "-r base.txt\ngunicorn\n-r base.txt\n",
			"requirements/base.txt":       "Django\n-r ../requirements.txt\n-r deeper.txt\n",
			"requirements/deeper.txt":     "-r deepest.txt\ncelery\n",
			"requirements/deepest.txt":    "never-read\n",
			"pyproject.toml":              "not toml at all [",
			"requirements/unrelated.toml": "",
		}, "test -d .venv || python3 -m venv --system-site-packages .venv && .venv/bin/python -m pip install -r requirements.txt [requirements.txt: lists the dependencies (pip, into the virtualenv in .venv, which corral puts first in PATH)]",
			"celery requirements/deeper.txt:2: declares celery; django requirements/base.txt:1: declares Django; flask requirements.txt:2: declares flask; gunicorn requirements/prod.txt:2: declares gunicorn"},
		{"-r leaving the app", map[string]string{
			"requirements.txt": "-r ../outside.txt\n",
		}, "unread requirements.txt: buildpack: requirements.txt:1: -r ../outside.txt: ", ""},
		{"Pipfile", map[string]string{
			"Pipfile":        "[packages]\nDjango = \"*\"\n\"gunicorn\" = {version = \"*\"}\n[dev-packages]\npytest = \"*\"\n",
			"pyproject.toml": "[project]\ndependencies = ['ignored']\n",
		}, "PIPENV_VENV_IN_PROJECT=1 pipenv install --deploy [Pipfile: lists the dependencies (pipenv; the virtualenv in .venv, which corral puts first in PATH)]",
			"django Pipfile:2: declares Django; gunicorn Pipfile:3: declares gunicorn"},
		{"poetry, with [project] too", map[string]string{
			"pyproject.toml": "[project]\nname = 'x'\ndependencies = ['flask>=3']\n\n[tool.poetry]\npackage-mode = false\n\n" +
				"[tool.poetry.dependencies]\npython = '^3.12'\ngunicorn = '*'\nuvicorn.version = '*'\n\n[tool.poetry.dependencies.celery]\nversion = '*'\n",
		}, "POETRY_VIRTUALENVS_IN_PROJECT=true poetry install --only main --no-root [pyproject.toml:5: a poetry project ([tool.poetry]; the virtualenv in .venv, which corral puts first in PATH)]",
			"celery pyproject.toml:13: declares celery; flask pyproject.toml:3: declares flask; gunicorn pyproject.toml:10: declares gunicorn; uvicorn pyproject.toml:11: declares uvicorn"},
		{"poetry dependencies as an inline table", map[string]string{
			"pyproject.toml": "[tool.poetry]\ndependencies = { python = '^3.12', fastapi = { version = '*', extras = ['all'] } }\n",
		}, "POETRY_VIRTUALENVS_IN_PROJECT=true poetry install --only main --no-root [pyproject.toml:1: a poetry project ([tool.poetry]; the virtualenv in .venv, which corral puts first in PATH)]",
			"fastapi pyproject.toml:2: declares fastapi"},
		{"uv", map[string]string{
			"pyproject.toml": "[project]\nname = 'x'\ndependencies = [\n  'fastapi[standard]',\n  # uvicorn comes with it\n]\n[project.optional-dependencies]\ndev = ['pytest']\n",
			"uv.lock":        "version = 1\n",
		}, "uv sync --frozen --no-dev [uv.lock: pins the dependencies (uv, leaving out the dev group; the virtualenv in .venv, which corral puts first in PATH)]",
			"fastapi pyproject.toml:4: declares fastapi[standard]"},
		{"pip install .", map[string]string{
			"pyproject.toml": "# a project\n\n[project]\nname = 'x'\ndependencies = [\"git+https://x/y\", 'bottle', 3]\n",
		}, "test -d .venv || python3 -m venv --system-site-packages .venv && .venv/bin/python -m pip install . [pyproject.toml:3: a [project] table (pip, into the virtualenv in .venv, which corral puts first in PATH)]",
			"bottle pyproject.toml:5: declares bottle"},
		{"dotted [project] key", map[string]string{
			"pyproject.toml": "project.name = 'x'\nproject.dependencies = ['flask']\n",
		}, "test -d .venv || python3 -m venv --system-site-packages .venv && .venv/bin/python -m pip install . [pyproject.toml:1: a [project] table (pip, into the virtualenv in .venv, which corral puts first in PATH)]",
			"flask pyproject.toml:2: declares flask"},
		{"pyproject with tool settings only", map[string]string{
			"pyproject.toml": "[tool.ruff]\nline-length = 100\n",
		}, "", ""},
		{"nothing", map[string]string{}, "", ""},
		{"malformed pyproject.toml", map[string]string{
			"pyproject.toml": "[project]\ndependencies = [\n  'a',\n  'b'\n  'c',\n]\n",
		}, "unread pyproject.toml: buildpack: pyproject.toml:5:3: expected ',' or ']' after array value", ""},
		{"malformed Pipfile", map[string]string{
			"Pipfile":        "[packages]\nflask = *\n",
			"pyproject.toml": "[project]\ndependencies = ['ignored']\n",
		}, "unread Pipfile: buildpack: Pipfile:2:9: unexpected character U+002A '*' at start of value", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			install, decl := pyDepsOf(t, tc.files)
			if strings.HasPrefix(tc.install, "unread ") {
				if !strings.HasPrefix(install, tc.install) {
					t.Fatalf("readPyDeps = %q, want %q…", install, tc.install)
				}
				return
			}
			if install != tc.install || strings.Join(decl, "; ") != tc.decl {
				t.Errorf("readPyDeps = %q\n  %s\nwant %q\n  %s", install, strings.Join(decl, "\n  "), tc.install, strings.ReplaceAll(tc.decl, "; ", "\n  "))
			}
		})
	}
}

// pyTOMLKeys renders a document: its headers as "[a.b] line" and its keys
// as "a.b.c=value line", a value as its kind and, for strings, its text.
func pyTOMLKeys(d *tomlDoc) string {
	var out []string
	for _, k := range d.tables {
		out = append(out, "["+strings.Join(k.path, ".")+"] "+strconv.Itoa(k.line))
	}
	var val func(v tomlValue) string
	val = func(v tomlValue) string {
		switch v.kind {
		case tomlString:
			return strconv.Quote(v.str)
		case tomlArray:
			var items []string
			for _, it := range v.items {
				items = append(items, val(it)+"@"+strconv.Itoa(it.line))
			}
			return "[" + strings.Join(items, ",") + "]"
		case tomlTable:
			return "{}"
		}
		return "other"
	}
	for _, k := range d.keys {
		out = append(out, strings.Join(k.path, ".")+"="+val(k.val)+" "+strconv.Itoa(k.line))
	}
	return strings.Join(out, "; ")
}

// TestParseTOML checks the values and lines the TOML reader gives.
func TestParseTOML(t *testing.T) {
	for _, tc := range []struct {
		src, want string
	}{
		{"a = 'x'\nb = \"y\"\n", `a="x" 1; b="y" 2`},
		{"# c\n\n[t] # c\nk = 1 # c\n", `[t] 3; t.k=other 4`},
		{"[a.b]\n[ a . \"c d\" . 'e' ]\nx=true\n", `[a.b] 1; [a.c d.e] 2; a.c d.e.x=other 3`},
		{"[[arr]]\nk = 1\n[[arr]]\nk = 2\n", `[arr] 1; [arr] 3; arr.k=other 2; arr.k=other 4`},
		{"a.b.c = 'x'\n", `a.b.c="x" 1`},
		{"s = \"\\t\\\"\\\\\\u00e9\\U0001F600\\e\"\n", `s="\t\"\\é😀\x1b" 1`},
		{"s = 'C:\\x\\'\n", `s="C:\\x\\" 1`},
		{"s = \"\"\"\nline1\nline2\"\"\"\nt = 1\n", `s="line1\nline2" 1; t=other 4`},
		{"s = \"\"\"a \\\n   b\"\"\"\n", `s="a b" 1`},
		{"s = \"\"\"a\"\"\"\"\"\n", `s="a\"\"" 1`},
		{"s = '''\n\\no escape'''\n", `s="\\no escape" 1`},
		{"s = '''it's'''\n", `s="it's" 1`},
		{"a = [\n  'x', # c\n  [\"y\", 'z'],\n  { k = 'v' },\n  1979-05-27 07:32:00Z,\n]\n", `a=["x"@2,["y"@3,"z"@3]@3,{}@4,other@5] 1`},
		{"a = []\nb = [ ]\nc = [1,]\n", `a=[] 1; b=[] 2; c=[other@3] 3`},
		{"t = { a = 1, b.c = 'x', d = { e = [] } }\n", `t.a=other 1; t.b.c="x" 1; t.d.e=[] 1; t.d={} 1; t={} 1`},
		{"t = {\n  a = 1,\n}\n", `t.a=other 2; t={} 1`},
		{"n = [+1, -2, 3.5e-3, 0x1F, inf, nan, -inf, 1_000, 07:32:00, 1979-05-27]\n", `n=[other@1,other@1,other@1,other@1,other@1,other@1,other@1,other@1,other@1,other@1] 1`},
		{"\ufeffa = 1\r\nb = 2\r\n", `a=other 1; b=other 2`},
		{"", ``},
		{"a = 1", `a=other 1`},
	} {
		d, err := parseTOML("t.toml", []byte(tc.src))
		if err != nil {
			t.Errorf("parseTOML(%q): %v", tc.src, err)
			continue
		}
		if got := pyTOMLKeys(d); got != tc.want {
			t.Errorf("parseTOML(%q) = %s\nwant %s", tc.src, got, tc.want)
		}
	}
}

// TestParseTOMLErrors checks that broken TOML is an error at the right
// line and column, in go-toml's words.
func TestParseTOMLErrors(t *testing.T) {
	for _, tc := range []struct {
		src, want string
	}{
		{"a = 'x", "1:6: unterminated literal string"},
		{"a = \"x\ny\"", "1:7: basic strings cannot have new lines"},
		{"\n\na = \"\"\"x\n", "3:9: multiline basic string not terminated by \"\"\""},
		{"a = \"\\q\"", "1:6: invalid escape character U+0071 'q'"},
		{"a = \"\\uD800\"", "1:6: escape sequence is not a valid unicode code point"},
		{"a = bare", "1:5: unexpected character U+0062 'b' at start of value"},
		{"a = \n", "1:5: unexpected character U+000A at start of value"},
		{"a 'x'", "1:3: expected '=' after key"},
		{"= 1", "1:1: invalid character at start of key: U+003D '='"},
		{"a = 1 b = 2", "1:7: expected newline but got U+0062 'b'"},
		{"[[t]", "1:4: expected ']]' to close array table name"},
		{"a = [1 2]", "1:8: expected ',' or ']' after array value"},
		{"a = {b = 1 c = 2}", "1:12: expected ',' or '}' after inline table key-value"},
		{"a = 1\r", "1:6: expected newline but got U+000D"},
		{"a = 1\na = 2", "2:1: key a is already defined"},
		{"[t]\na = 1\n[u]\n[t]\n", "4:2: table t already exists"},
		{"a = " + strings.Repeat("[", 100), "1:104: array is incomplete"},
		{"x = 1\n[tool.poetry]\nname = \"p\"\nversion = 0.1.0.x\n", "4:14: expected newline but got U+002E '.'"},
	} {
		_, err := parseTOML("pyproject.toml", []byte(tc.src))
		want := "buildpack: pyproject.toml:" + tc.want
		if err == nil || err.Error() != want {
			t.Errorf("parseTOML(%q) = %v, want %s", tc.src, err, want)
		}
	}
}

// TestParseTOMLDeepKeys checks that keys deeper than detection reads are
// valid TOML, left out of the document rather than refused.
func TestParseTOMLDeepKeys(t *testing.T) {
	for _, src := range []string{
		"[t]\n" + strings.Repeat("a.", 16) + "a = 1\nb = 2",
		"\n[" + strings.Repeat("a.", 16) + "a]\nb = 2\n[t]\nb = 2",
		"t = " + strings.Repeat("{a = ", 20) + "1" + strings.Repeat("}", 20) + "\n[t2]\nb = 2",
	} {
		d, err := parseTOML("pyproject.toml", []byte(src))
		if err != nil {
			t.Errorf("parseTOML(%q): %v", src, err)
			continue
		}
		for _, k := range slices.Concat(d.tables, d.keys) {
			if len(k.path) > maxTOMLKeyParts {
				t.Errorf("parseTOML(%q) keeps %d parts: %q", src, len(k.path), k.path)
			}
		}
		if _, ok := d.has("t"); !ok && !strings.Contains(src, "[t2]") {
			t.Errorf("parseTOML(%q) lost [t]: %s", src, pyTOMLKeys(d))
		}
		if _, ok := d.has("t2", "b"); strings.Contains(src, "[t2]") && !ok {
			t.Errorf("parseTOML(%q) lost t2.b: %s", src, pyTOMLKeys(d))
		}
	}
}

// tomlErrorPos matches the position an error gives.
var tomlErrorPos = regexp.MustCompile(`^buildpack: pyproject\.toml:(\d+):(\d+): `)

// FuzzTOML checks the TOML reader on any input: an error names the file,
// a line within the input and a column; keys sit on lines within it; and a
// blank line added in front moves every line, of an error or a key, down
// by one and changes nothing else.
func FuzzTOML(f *testing.F) {
	for _, seed := range []string{
		"[project]\nname = \"x\"\ndependencies = [\n  \"fastapi>=0.110\",\n  'uvicorn[standard]; python_version>\"3.8\"',\n]\n",
		"[tool.poetry.dependencies]\npython = \"^3.11\"\ngunicorn = { version = \"^21\", extras = [\"gevent\"] }\n",
		"[[source]]\nurl = \"https://pypi.org/simple\"\nverify_ssl = true\n[packages]\ndjango = \"*\"\n",
		"s = \"\"\"\nmulti \\\n  line\"\"\"\nt = '''lit'''\nd = 1979-05-27 07:32:00Z\n",
		"a = \"\\u00e9\\U0001F600\"\nb.c.'d' = [1, [2, 3], {x = 1}]\n",
		"a = 'unterminated\n",
		"[t]\na = 1\n[t]\n",
		"a = [\r\n1,\r\n]\r\n",
	} {
		f.Add(seed)
	}
	lineCount := func(s string) int { return 1 + strings.Count(s, "\n") }
	first := regexp.MustCompile(`\(first at line \d+\)`)
	f.Fuzz(func(t *testing.T, src string) {
		d, err := parseTOML("pyproject.toml", []byte(src))
		if err != nil {
			m := tomlErrorPos.FindStringSubmatch(err.Error())
			if m == nil {
				t.Fatalf("error %q does not name the file, line and column", err)
			}
			line, _ := strconv.Atoi(m[1])
			col, _ := strconv.Atoi(m[2])
			if line < 1 || line > lineCount(src) || col < 1 || col > len(src)+1 {
				t.Fatalf("error %q outside the input's %d lines", err, lineCount(src))
			}
		} else {
			for _, k := range slices.Concat(d.tables, d.keys) {
				if k.line < 1 || k.line > lineCount(src) || len(k.path) == 0 {
					t.Fatalf("key %q at line %d of %d", k.path, k.line, lineCount(src))
				}
			}
		}
		if strings.HasPrefix(src, "\ufeff") {
			return
		}
		d2, err2 := parseTOML("pyproject.toml", []byte("\n"+src))
		switch {
		case (err == nil) != (err2 == nil):
			t.Fatalf("a leading blank line changes %v to %v", err, err2)
		case err != nil:
			m, m2 := tomlErrorPos.FindStringSubmatch(err.Error()), tomlErrorPos.FindStringSubmatch(err2.Error())
			l, _ := strconv.Atoi(m[1])
			if m2 == nil || m2[1] != strconv.Itoa(l+1) || m2[2] != m[2] ||
				first.ReplaceAllString(err.Error()[len(m[0]):], "") != first.ReplaceAllString(err2.Error()[len(m2[0]):], "") {
				t.Fatalf("a leading blank line changes %q to %q", err, err2)
			}
		default:
			want := strings.Split(pyTOMLKeys(d), "; ")
			got := strings.Split(pyTOMLKeys(d2), "; ")
			if len(want) != len(got) {
				t.Fatalf("a leading blank line changes %q to %q", want, got)
			}
		}
	})
}

// FuzzRequirements checks the requirements reader on any input: an error
// names the file and a line within the input; every name read is one PEP
// 508 allows, on a line of the input; and a blank line added in front
// moves every line down by one and changes nothing else.
func FuzzRequirements(f *testing.F) {
	for _, seed := range []string{
		"Django>=4.2,<5.0\ngunicorn==21.2.0\n",
		"# comment\n-r base.txt\n--requirement=dev.txt\n-c constraints.txt\n-e .\n",
		"uvicorn[standard]>=0.29 ; python_version >= \"3.8\"\n",
		"gunicorn==21.2.0 \\\n    --hash=sha256:abc\n",
		"requests @ https://example.com/r.whl#egg=requests\ngit+https://github.com/x/y\n",
		"a\r\nb\rc\\",
		"-r\n",
	} {
		f.Add(seed)
	}
	name := regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?$`)
	pos := regexp.MustCompile(`^buildpack: requirements\.txt:(\d+): `)
	f.Fuzz(func(t *testing.T, src string) {
		lines := len(splitLines(src))
		items, err := parseRequirements("requirements.txt", src)
		if err != nil {
			m := pos.FindStringSubmatch(err.Error())
			if m == nil {
				t.Fatalf("error %q does not name the file and line", err)
			}
			if l, _ := strconv.Atoi(m[1]); l < 1 || l > lines {
				t.Fatalf("error %q outside the input's %d lines", err, lines)
			}
		}
		for _, it := range items {
			if it.line < 1 || it.line > lines {
				t.Fatalf("%+v outside the input's %d lines", it, lines)
			}
			if it.include == "" && !name.MatchString(it.name) {
				t.Fatalf("%q is no package name", it.name)
			}
			if n := normalizePyName(it.name); it.include == "" && (n == "" || normalizePyName(n) != n) {
				t.Fatalf("%q normalises to %q", it.name, n)
			}
		}
		items2, err2 := parseRequirements("requirements.txt", "\n"+src)
		if (err == nil) != (err2 == nil) || len(items) != len(items2) {
			t.Fatalf("a leading blank line changes %v, %v to %v, %v", pyReqs(items), err, pyReqs(items2), err2)
		}
		for i := range items {
			moved := items[i]
			moved.line++
			if !slices.Equal(pyReqs([]reqItem{moved}), pyReqs(items2[i:i+1])) {
				t.Fatalf("a leading blank line changes %v to %v", pyReqs(items[i:i+1]), pyReqs(items2[i:i+1]))
			}
		}
	})
}
