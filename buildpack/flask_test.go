package buildpack

import (
	"strconv"
	"strings"
	"testing"
)

// TestDotenvLookup checks FLASK_APP read from .flaskenv and .env as
// python-dotenv reads them.
func TestDotenvLookup(t *testing.T) {
	for _, tc := range []struct {
		src, want string // want "value line", "" for none
	}{
		{"FLASK_APP=app.py\n", "app.py 1"},
		{"# c\nFLASK_DEBUG=1\nexport FLASK_APP = 'shop:create_app(\"x\")'\n", `shop:create_app("x") 3`},
		{"FLASK_APP=\"a\\\"b\"\n", `a"b 1`},
		{"FLASK_APP=blog # the blog\n", "blog 1"},
		{"FLASK_APP=a\r\nFLASK_APP=b\r\n", "b 2"},
		{"FLASK_APPX=a\nflask_app=b\n", ""},
		{"FLASK_APP\n", ""},
		{"FLASK_APP='unclosed\n", "'unclosed 1"},
	} {
		v, line, ok := dotenvLookup(tc.src, "FLASK_APP")
		got := ""
		if ok {
			got = v + " " + strconv.Itoa(line)
		}
		if got != tc.want {
			t.Errorf("dotenvLookup(%q) = %q, want %q", tc.src, got, tc.want)
		}
	}
}

// TestParseFlaskApp checks FLASK_APP's forms as Flask's cli reads them.
func TestParseFlaskApp(t *testing.T) {
	pkgs := map[string]bool{"pkg": true, "src/pkg": true}
	isPkg := func(dir string) bool { return pkgs[dir] }
	for _, tc := range []struct {
		v, want string // "module|pathDir|attr", "" when refused
	}{
		{"app", "app||"},
		{"app.py", "app||"},
		{"microblog.py", "microblog||"},
		{"shop:create_app('production')", "shop||create_app('production')"},
		{"shop:app", "shop||app"},
		{"blog.web:application", "blog.web||application"},
		{"pkg/web.py", "pkg.web||"},
		{"pkg/__init__.py", "pkg||"},
		{"src/pkg/web.py:app", "pkg.web|src|app"},
		{"other/web.py", "web|other|"},
		{"./app.py", "app||"},
		{"../app.py", ""},
		{"/srv/app.py", ""},
		{"app:", "app||"},
		{"app:create_app(", ""},
		{"app:create_app())", ""},
		{"app:a.b", ""},
		{"app:x()y", ""},
		{"app:create_app(\"$HOME\")", ""},
		{"app:create_app(`x`)", ""},
		{"my app", ""},
		{"C:\\app.py", ""},
	} {
		f, ok := parseFlaskApp(tc.v, isPkg)
		got := ""
		if ok {
			got = f.module + "|" + f.pathDir + "|" + f.attr
		}
		if got != tc.want {
			t.Errorf("parseFlaskApp(%q) = %q, want %q", tc.v, got, tc.want)
		}
	}
}

// FuzzFlaskApp checks the FLASK_APP readers on any input: a value read
// from a dotenv file sits on a line of it, and a FLASK_APP taken gives a
// valid module, a directory inside the app, and a name or call that a
// shell's double quotes leave as it is.
func FuzzFlaskApp(f *testing.F) {
	for _, seed := range []string{
		"FLASK_APP=microblog.py\n",
		"export FLASK_APP='shop:create_app(\"production\")'\n",
		"FLASK_APP=src/pkg/web.py:app # c\r\n",
		"FLASK_APP=\"a\\\"b\"\nFLASK_APP=x:y(1, [2], {'a': (3)})\n",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, src string) {
		v, line, ok := dotenvLookup(src, "FLASK_APP")
		if !ok {
			return
		}
		if line < 1 || line > len(splitLines(src)) {
			t.Fatalf("line %d of %d", line, len(splitLines(src)))
		}
		fa, ok := parseFlaskApp(v, func(dir string) bool { return len(dir)%2 == 0 })
		if !ok {
			return
		}
		if !validModule(fa.module) {
			t.Fatalf("module %q from %q", fa.module, v)
		}
		if fa.pathDir != "" && (strings.HasPrefix(fa.pathDir, "/") || strings.HasPrefix(fa.pathDir, "..")) {
			t.Fatalf("directory %q from %q", fa.pathDir, v)
		}
		if strings.ContainsAny(fa.attr, "\"\\$`!\n\r") {
			t.Fatalf("attribute %q from %q", fa.attr, v)
		}
	})
}

// TestRequiredParams checks which parameters of a def a call must give.
func TestRequiredParams(t *testing.T) {
	for _, tc := range []struct {
		src, want string
	}{
		{"def create_app(): pass", ""},
		{"def create_app(config_name):", "config_name"},
		{"def create_app(config_name=None):", ""},
		{"def create_app(a, b=1, *args, c, d=2, **kw):", "a, c"},
		{"def create_app(a, /, b):", "a, b"},
		{"async def create_app(settings: dict[str, int]) -> Flask:", "settings"},
		{"def create_app(x=f(a, b=2), y=(1, 2)):", ""},
		{"def create_app(\n    config,\n    testing=False,\n):", "config"},
		{"def create_app(", ""},
	} {
		stmts := pyStatements(tc.src)
		if got := strings.Join(stmts[0].requiredParams(), ", "); got != tc.want {
			t.Errorf("requiredParams(%q) = %q, want %q", tc.src, got, tc.want)
		}
	}
}
