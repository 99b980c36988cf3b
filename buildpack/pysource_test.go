package buildpack

import (
	"path"
	"strconv"
	"strings"
	"testing"
)

// pyAssignments renders the statements of src that assign a name: "name
// line top", the scanner's answer in a form tests compare.
func pyAssignments(src string) []string {
	var out []string
	for _, s := range pyStatements(src) {
		if name, _, ok := s.assignment(); ok {
			out = append(out, name+" "+strconv.Itoa(s.line())+" "+strconv.FormatBool(s.top))
		}
	}
	return out
}

// TestPyStatements checks how source splits into statements and which assign a name.
func TestPyStatements(t *testing.T) {
	for _, tc := range []struct {
		src  string
		want string // pyAssignments joined by "; "
	}{
		{"a = 1\nb = 2\n", "a 1 true; b 2 true"},
		{"a = 1; b = 2", "a 1 true; b 1 true"},
		{"def f():\n    a = 1\nb = 2\n", "a 2 false; b 3 true"},
		{"x = [\n  1,\n]\ny = 2\n", "x 1 true; y 4 true"},
		{"x = f(a=1,\n      b=2)\n", "x 1 true"},
		{"x = 1 + \\\n    2\ny = 3\n", "x 1 true; y 3 true"},
		{"x = 1 + \\\r\n    2\r\ny = 3\r\n", "x 1 true; y 3 true"},
		{"s = '''\na = 1\n'''\nb = 2\n", "s 1 true; b 4 true"},
		{"s = \"\"\"\\\"\"\"\"\nb = 2\n", "s 1 true; b 2 true"},
		{"# a = 1\nb = 2 # c = 3\n", "b 2 true"},
		{"s = 'a\\'b = 1'\nc = 2\n", "s 1 true; c 2 true"},
		{"s = 'unclosed\nc = 2\n", "s 1 true; c 2 true"},
		{"x = (\n", "x 1 true"},
		{")\nx = 1\n", "x 2 true"},
		{"a == 1\nb <= 2\nc != 3\nd += 4\ne.f = 5\ng[0] = 6\n", ""},
		{"a: int = 1\nb: dict[str, int] = {}\nc: int\n", "a 1 true; b 2 true"},
		{"if x: a = 1\nelse: b = 2\nclass C: pass\n", ""},
		{"a = b = 1\n", "a 1 true"},
		{"x\ry\r\nz = 1\n", "z 3 true"},
		{"\ufeffa = 1\n", "a 1 true"},
		{"  a = 1\n", "a 1 false"},
		{"\ta = 1\n", "a 1 false"},
		{"a = rb'\\x'\nb = f\"{a}\"\n", "a 1 true; b 2 true"},
		{"é = 1\n", "é 1 true"},
		{"lambda = 1\nmatch = 2\n", ""},
	} {
		if got := strings.Join(pyAssignments(tc.src), "; "); got != tc.want {
			t.Errorf("pyStatements(%q) assigns %q, want %q", tc.src, got, tc.want)
		}
	}
}

// TestPyImports checks the modules import statements name.
func TestPyImports(t *testing.T) {
	for _, tc := range []struct {
		src, want string
		star      bool
	}{
		{"import os", "os", false},
		{"import os.path as p, sys", "os.path sys", false},
		{"from flask import Flask", "flask", false},
		{"from .base import *", ".base", true},
		{"from ..a.b import (x,\n y)", "..a.b", false},
		{"from . import views", ".", false},
		{"from import x", "", false},
		{"import", "", false},
		{"x = 1", "", false},
	} {
		s := pyStatements(tc.src)
		mods, star := s[0].imports()
		if got := strings.Join(mods, " "); got != tc.want || star != tc.star {
			t.Errorf("imports(%q) = %q, %v; want %q, %v", tc.src, got, star, tc.want, tc.star)
		}
	}
}

// TestResolveImport checks relative imports made absolute.
func TestResolveImport(t *testing.T) {
	for _, tc := range []struct {
		mod, pkg, want string
	}{
		{"a.b", "x", "a.b"},
		{".base", "config.settings", "config.settings.base"},
		{"..common", "config.settings", "config.common"},
		{"...x", "config.settings", "x"},
		{"....x", "config.settings", ""},
		{".", "config", "config"},
		{".x", "", ""},
		{"..", "config", ""},
	} {
		got, ok := resolveImport(tc.mod, tc.pkg)
		if got != tc.want || ok != (tc.want != "") {
			t.Errorf("resolveImport(%q, %q) = %q, %v; want %q", tc.mod, tc.pkg, got, ok, tc.want)
		}
	}
}

// TestPyModuleFile checks the module and package a file is.
func TestPyModuleFile(t *testing.T) {
	for _, tc := range []struct{ file, module, pkg string }{
		{"settings.py", "settings", ""},
		{"mysite/settings.py", "mysite.settings", "mysite"},
		{"config/settings/__init__.py", "config.settings", "config.settings"},
		{"config/settings/base.py", "config.settings.base", "config.settings"},
	} {
		if m, p := pyModuleFile(tc.file); m != tc.module || p != tc.pkg {
			t.Errorf("pyModuleFile(%q) = %q, %q; want %q, %q", tc.file, m, p, tc.module, tc.pkg)
		}
	}
}

// TestStmtSays checks how a statement is quoted in evidence.
func TestStmtSays(t *testing.T) {
	for _, tc := range []struct{ src, want string }{
		{"STATIC_ROOT = BASE_DIR / 'x'  # collected\n", "STATIC_ROOT = BASE_DIR / 'x'"},
		{"DATABASES = {\n    'default': {},\n}\n", "DATABASES = { …"},
		{"X = '" + strings.Repeat("é", 80) + "'\n", "X = '" + strings.Repeat("é", 47) + " …"},
	} {
		if got := stmtSays(tc.src, pyStatements(tc.src)[0]); got != tc.want {
			t.Errorf("stmtSays(%q) = %q, want %q", tc.src, got, tc.want)
		}
	}
}

// pyStaticRoot is what the detector makes of the last STATIC_ROOT of a
// settings file: the directory, or "?" when not evaluable.
func pyStaticRoot(file, src string) string {
	f := &pyFile{name: file, src: src, stmts: pyStatements(src)}
	ds := &djangoSettings{file: file}
	if err := ds.add(f, func(string) error { return nil }); err != nil {
		return "error " + err.Error()
	}
	i := ds.last("STATIC_ROOT", len(ds.list))
	if i < 0 {
		return "none"
	}
	if dir, ok := ds.evalPath(i); ok {
		return dir
	}
	return "?"
}

// TestStaticRootEval checks which STATIC_ROOT forms evaluate, and to what, for settings files at different depths.
func TestStaticRootEval(t *testing.T) {
	const (
		pathBase = "from pathlib import Path\nBASE_DIR = Path(__file__).resolve().parent.parent\n"
		osBase   = "import os\nBASE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))\n"
	)
	for _, tc := range []struct {
		file, src, want string
	}{
		{"mysite/settings.py", pathBase + "STATIC_ROOT = BASE_DIR / 'staticfiles'\n", "staticfiles"},
		{"mysite/settings.py", pathBase + "STATIC_ROOT = BASE_DIR / 'static' / 'root'\n", "static/root"},
		{"mysite/settings.py", pathBase + "STATIC_ROOT = str(BASE_DIR / 'staticfiles')\n", "staticfiles"},
		{"mysite/settings.py", pathBase + "STATIC_ROOT = os.path.join(BASE_DIR, 'staticfiles')\n", "staticfiles"},
		{"mysite/settings.py", pathBase + "STATIC_ROOT = BASE_DIR.joinpath('a', 'b')\n", "a/b"},
		{"mysite/settings.py", pathBase + "STATIC_ROOT = Path(BASE_DIR, 'static')\n", "static"},
		{"mysite/settings.py", pathBase + "STATIC_ROOT = (BASE_DIR / 'a') / 'b/'\n", "a/b"},
		{"mysite/settings.py", osBase + "STATIC_ROOT = os.path.join(BASE_DIR, 'static', 'root')\n", "static/root"},
		{"mysite/settings.py", osBase + "STATIC_ROOT = os.path.join(BASE_DIR, 'static',)\n", "static"},
		{"mysite/settings.py", "BASE_DIR = Path(__file__).resolve().parents[1]\nSTATIC_ROOT = BASE_DIR / 'static'\n", "static"},
		{"mysite/settings.py", "BASE_DIR = Path(__file__).resolve(strict=True).parent.parent\nSTATIC_ROOT = BASE_DIR / 'static'\n", "static"},
		{"mysite/settings.py", "BASE_DIR = pathlib.Path(__file__).absolute().parent.parent\nSTATIC_ROOT = BASE_DIR / 'static'\n", "static"},
		{"mysite/settings.py", "PROJECT = Path(__file__).resolve().parent\nSTATIC_ROOT = PROJECT.parent / 'static'\n", "static"},
		{"mysite/settings.py", "HERE = os.path.dirname(__file__)\nSTATIC_ROOT = os.path.join(HERE, 'static')\n", "mysite/static"},
		{"mysite/settings.py", "STATIC_ROOT = os.path.join(os.path.dirname(os.path.dirname(__file__)), 'static')\n", "static"},
		// The settings file's depth decides where BASE_DIR is.
		{"config/settings/base.py", pathBase + "STATIC_ROOT = BASE_DIR / 'staticfiles'\n", "config/staticfiles"},
		{"config/settings/base.py", "BASE_DIR = Path(__file__).resolve().parent.parent.parent\nSTATIC_ROOT = BASE_DIR / 'staticfiles'\n", "staticfiles"},
		{"config/settings/base.py", "BASE_DIR = Path(__file__).resolve().parents[2]\nSTATIC_ROOT = BASE_DIR / 'staticfiles'\n", "staticfiles"},
		{"settings.py", "BASE_DIR = Path(__file__).resolve().parent\nSTATIC_ROOT = BASE_DIR / 'static'\n", "static"},
		{"settings.py", pathBase + "STATIC_ROOT = BASE_DIR / 'static'\n", "?"}, // the app's parent
		{"mysite/settings.py", "STATIC_ROOT = 'staticfiles'\n", "staticfiles"},
		{"mysite/settings.py", "STATIC_ROOT = \"./public/static/\"\n", "public/static"},
		{"mysite/settings.py", "STATIC_ROOT = r'static'\n", "static"},
		// Names are looked up as they are before the assignment.
		{"mysite/settings.py", pathBase + "STATIC_ROOT = BASE_DIR / 'a'\nBASE_DIR = '/elsewhere'\n", "a"},
		{"mysite/settings.py", pathBase + "BASE_DIR = BASE_DIR / 'src'\nSTATIC_ROOT = BASE_DIR / 'a'\n", "src/a"},
		{"mysite/settings.py", "A = A / 'x'\nSTATIC_ROOT = A\n", "?"},
		{"mysite/settings.py", "STATIC_ROOT = 'a'\nSTATIC_ROOT = 'b'\n", "b"},

		{"mysite/settings.py", "STATIC_ROOT = '/var/www/static'\n", "?"},
		{"mysite/settings.py", "STATIC_ROOT = '~/static'\n", "?"},
		{"mysite/settings.py", "STATIC_ROOT = ''\n", "?"},
		{"mysite/settings.py", "STATIC_ROOT = '.'\n", "?"},
		{"mysite/settings.py", "STATIC_ROOT = '../static'\n", "?"},
		{"mysite/settings.py", pathBase + "STATIC_ROOT = BASE_DIR / '..' / 'static'\n", "?"},
		{"mysite/settings.py", pathBase + "STATIC_ROOT = BASE_DIR\n", "?"},
		{"mysite/settings.py", pathBase + "STATIC_ROOT = os.path.join(BASE_DIR, '/srv/static')\n", "?"},
		{"mysite/settings.py", pathBase + "STATIC_ROOT = f'{BASE_DIR}/static'\n", "?"},
		{"mysite/settings.py", pathBase + "STATIC_ROOT = BASE_DIR / 'static' if DEBUG else None\n", "?"},
		{"mysite/settings.py", pathBase + "STATIC_ROOT = BASE_DIR // 'static'\n", "?"},
		{"mysite/settings.py", pathBase + "STATIC_ROOT = BASE_DIR / 'a\\\\b'\n", "?"},
		{"mysite/settings.py", pathBase + "STATIC_ROOT = BASE_DIR / b'static'\n", "?"},
		{"mysite/settings.py", pathBase + "STATIC_ROOT = BASE_DIR / 'static' + 'x'\n", "?"},
		{"mysite/settings.py", pathBase + "STATIC_ROOT = BASE_DIR.parents[x] / 's'\n", "?"},
		{"mysite/settings.py", pathBase + "STATIC_ROOT = BASE_DIR.stem\n", "?"},
		{"mysite/settings.py", pathBase + "STATIC_ROOT = (BASE_DIR / 's'\n", "?"},
		{"mysite/settings.py", pathBase + "STATIC_ROOT = str()\n", "?"},
		{"mysite/settings.py", pathBase + "STATIC_ROOT = Path()\n", "?"},
		{"mysite/settings.py", "STATIC_ROOT = env('STATIC_ROOT')\n", "?"},
		{"mysite/settings.py", "STATIC_ROOT = os.environ.get('STATIC_ROOT', 'static')\n", "?"},
		{"mysite/settings.py", "BASE_DIR = Path(os.environ['APP'])\nSTATIC_ROOT = BASE_DIR / 'static'\n", "?"},
		{"mysite/settings.py", "if X:\n    BASE_DIR = Path(__file__).parent.parent\nSTATIC_ROOT = BASE_DIR / 's'\n", "?"},
		{"mysite/settings.py", pathBase + "if not DEBUG:\n    STATIC_ROOT = BASE_DIR / 's'\n", "?"},
		{"mysite/settings.py", pathBase + "STATIC_ROOT = BASE_DIR / 's'\nif X:\n    STATIC_ROOT = 'b'\n", "?"},
		{"mysite/settings.py", "DEBUG = True\n", "none"},
		{"mysite/settings.py", "STATIC_ROOT = " + strings.Repeat("(", 100) + "'s'" + strings.Repeat(")", 100) + "\n", "?"},
		{"mysite/settings.py", "STATIC_ROOT = " + strings.Repeat("(", 10) + "'s'" + strings.Repeat(")", 10) + "\n", "s"},
	} {
		if got := pyStaticRoot(tc.file, tc.src); got != tc.want {
			t.Errorf("%s:\n%s\nSTATIC_ROOT = %q, want %q", tc.file, tc.src, got, tc.want)
		}
	}
}

// FuzzPythonAssignments checks the Python scanner and the path evaluator on
// any input: token positions lie within the input and in order, a blank
// line added before the source moves every statement down one line and
// changes nothing else, CRLF line ends read as LF ones, and a STATIC_ROOT
// evaluates, if at all, to a clean path below the app directory.
func FuzzPythonAssignments(f *testing.F) {
	for _, seed := range []string{
		"from flask import Flask\napp = Flask(__name__)\n",
		"BASE_DIR = Path(__file__).resolve().parent.parent\nSTATIC_ROOT = BASE_DIR / 'staticfiles'\n",
		"BASE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))\nSTATIC_ROOT = os.path.join(BASE_DIR, 'static')\n",
		"STATIC_ROOT = str(BASE_DIR.parents[1] / 'a' / '..' / 'b')\n",
		"def f():\n    x = 1\nif y: z = 2\na: int = 3; b = [\n1]\n",
		"s = '''\napp = 1\n'''\nt = 'a\\\nb'\n",
		"x = 1 \\\r\n  + 2\r\ny = 3\r\n",
		"\ufeffapp = FastAPI()\n",
		"from .base import *\nDATABASES['default'] = dj_database_url.config()\n",
		"a = (((((\n",
		"a = rb'\\'' f\"x\" u'y'\n",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, src string) {
		stmts := pyStatements(src)
		lines := 1 + strings.Count(strings.ReplaceAll(src, "\r\n", "\n"), "\n") + strings.Count(strings.ReplaceAll(src, "\r\n", ""), "\r")
		prevEnd, prevLine := 0, 1
		for _, s := range stmts {
			if len(s.toks) == 0 {
				t.Fatal("a statement with no tokens")
			}
			for _, tok := range s.toks {
				if tok.off < prevEnd || tok.end <= tok.off || tok.end > len(src) || tok.line < prevLine || tok.line > lines || tok.col < 0 {
					t.Fatalf("token %+v out of place (previous end %d, line %d, %d lines)", tok, prevEnd, prevLine, lines)
				}
				prevEnd, prevLine = tok.end, tok.line
			}
			if name, value, ok := s.assignment(); ok && (!validModule(name) || strings.Contains(name, ".") || len(value) == 0) {
				t.Fatalf("assignment to %q of %d tokens", name, len(value))
			}
			_ = stmtSays(src, s)
		}
		if !strings.HasPrefix(src, "\ufeff") {
			want := pyAssignments(src)
			got := pyAssignments("\n" + src)
			if len(got) != len(want) {
				t.Fatalf("a leading blank line changes the assignments: %q, then %q", want, got)
			}
			for i := range want {
				f := strings.Fields(want[i])
				n, _ := strconv.Atoi(f[1])
				if moved := f[0] + " " + strconv.Itoa(n+1) + " " + f[2]; got[i] != moved {
					t.Fatalf("a leading blank line makes %q %q, want %q", want[i], got[i], moved)
				}
			}
		}
		// scanString reads a backslash and the byte after it as one, so a
		// backslash before \r\n is left out of this check.
		if !strings.ContainsAny(src, "\r\\") {
			if want, got := pyAssignments(src), pyAssignments(strings.ReplaceAll(src, "\n", "\r\n")); strings.Join(want, ";") != strings.Join(got, ";") {
				t.Fatalf("CRLF line ends change the assignments: %q, then %q", want, got)
			}
		}
		for _, file := range []string{"settings.py", "a/b/settings.py"} {
			got := pyStaticRoot(file, src)
			if got == "none" || got == "?" {
				continue
			}
			if got != path.Clean(got) || got == "." || strings.HasPrefix(got, "../") || got == ".." || path.IsAbs(got) {
				t.Fatalf("STATIC_ROOT evaluates to %q, not a clean path below the app", got)
			}
		}
		for _, wsgi := range []bool{true, false} {
			pf := &pyFile{name: "m.py", src: src, stmts: stmts}
			if e, ok := pyEntryIn(pf, "m", wsgi); ok && (e.at.Line < 1 || e.at.Line > lines || e.attr == "") {
				t.Fatalf("entry %+v out of place", e)
			}
		}
	})
}
