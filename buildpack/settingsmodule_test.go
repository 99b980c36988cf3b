package buildpack

import (
	"strings"
	"testing"
)

func TestSettingsModuleDefault(t *testing.T) {
	for _, tc := range []struct {
		name, src, want string
	}{
		{"django startproject", `#!/usr/bin/env python
"""Django's command-line utility for administrative tasks."""
import os
import sys


def main():
    """Run administrative tasks."""
    os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'mysite.settings')
    try:
        from django.core.management import execute_from_command_line
    except ImportError as exc:
        raise ImportError("Couldn't import Django.") from exc
    execute_from_command_line(sys.argv)
`, "mysite.settings"},
		{"double quotes", `os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mysite.settings")`, "mysite.settings"},
		{"mixed quotes", `os.environ.setdefault("DJANGO_SETTINGS_MODULE", 'a.b')`, "a.b"},
		{"no spaces", `os.environ.setdefault('DJANGO_SETTINGS_MODULE','a.b')`, "a.b"},
		{"lots of spaces", "os . environ . setdefault ( \t'DJANGO_SETTINGS_MODULE' ,  'a.b'  )", "a.b"},
		{"black style", "os.environ.setdefault(\n    \"DJANGO_SETTINGS_MODULE\", \"config.settings.production\"\n)\n", "config.settings.production"},
		{"trailing comma", "os.environ.setdefault(\n    'DJANGO_SETTINGS_MODULE',\n    'config.settings',\n)\n", "config.settings"},
		{"CRLF", "import os\r\nos.environ.setdefault(\r\n'DJANGO_SETTINGS_MODULE',\r\n'a.settings')\r\n", "a.settings"},
		{"line continuation", "os.environ.setdefault('DJANGO_SETTINGS_MODULE', \\\n    'a.settings')", "a.settings"},
		{"from os import environ", "from os import environ\nenviron.setdefault('DJANGO_SETTINGS_MODULE', 'a.settings')", "a.settings"},
		{"raw string", `os.environ.setdefault(r"DJANGO_SETTINGS_MODULE", R'a.settings')`, "a.settings"},
		{"triple quotes", `os.environ.setdefault("""DJANGO_SETTINGS_MODULE""", '''a.settings''')`, "a.settings"},
		{"single name", `os.environ.setdefault("DJANGO_SETTINGS_MODULE", "settings")`, "settings"},
		{"unicode module", `os.environ.setdefault("DJANGO_SETTINGS_MODULE", "café.settings")`, "café.settings"},
		{"first call wins", "os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'first.settings')\nos.environ.setdefault('DJANGO_SETTINGS_MODULE', 'second.settings')", "first.settings"},
		{"after a commented one", "# os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'old.settings')\nos.environ.setdefault('DJANGO_SETTINGS_MODULE', 'new.settings')", "new.settings"},
		{"after a docstring one", "\"\"\"\nos.environ.setdefault('DJANGO_SETTINGS_MODULE', 'doc.settings')\n\"\"\"\nos.environ.setdefault('DJANGO_SETTINGS_MODULE', 'real.settings')", "real.settings"},
		{"hash in a string is no comment", "x = '#'; os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'a.settings')", "a.settings"},
		{"escaped quote before", `x = "it\"s"; os.environ.setdefault("DJANGO_SETTINGS_MODULE", "a.settings")`, "a.settings"},
		{"other key first", "os.environ.setdefault('OTHER', 'x.y')\nos.environ.setdefault('DJANGO_SETTINGS_MODULE', 'a.settings')", "a.settings"},
		{"skips a dynamic one", "os.environ.setdefault('DJANGO_SETTINGS_MODULE', f'{ENV}.settings')\nos.environ.setdefault('DJANGO_SETTINGS_MODULE', 'a.settings')", "a.settings"},

		{"empty", "", ""},
		{"commented out", "# os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'a.settings')", ""},
		{"in a docstring", "'''os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'a.settings')'''", ""},
		{"in a string", `s = "os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'a.settings')"`, ""},
		{"f-string", `os.environ.setdefault("DJANGO_SETTINGS_MODULE", f"{x}.settings")`, ""},
		{"bytes", `os.environ.setdefault("DJANGO_SETTINGS_MODULE", b"a.settings")`, ""},
		{"escape in value", `os.environ.setdefault("DJANGO_SETTINGS_MODULE", "a\x2esettings")`, ""},
		{"variable", `os.environ.setdefault("DJANGO_SETTINGS_MODULE", SETTINGS)`, ""},
		{"concatenation", `os.environ.setdefault("DJANGO_SETTINGS_MODULE", "a" ".settings")`, ""},
		{"expression", `os.environ.setdefault("DJANGO_SETTINGS_MODULE", "a.settings" + x)`, ""},
		{"other key", `os.environ.setdefault("SETTINGS_MODULE", "a.settings")`, ""},
		{"assignment", `os.environ["DJANGO_SETTINGS_MODULE"] = "a.settings"`, ""},
		{"empty value", `os.environ.setdefault("DJANGO_SETTINGS_MODULE", "")`, ""},
		{"path not module", `os.environ.setdefault("DJANGO_SETTINGS_MODULE", "a/settings.py")`, ""},
		{"leading dot", `os.environ.setdefault("DJANGO_SETTINGS_MODULE", ".settings")`, ""},
		{"double dot", `os.environ.setdefault("DJANGO_SETTINGS_MODULE", "a..settings")`, ""},
		{"digit first", `os.environ.setdefault("DJANGO_SETTINGS_MODULE", "1a.settings")`, ""},
		{"space in value", `os.environ.setdefault("DJANGO_SETTINGS_MODULE", "a.settings ")`, ""},
		{"unclosed call", `os.environ.setdefault("DJANGO_SETTINGS_MODULE", "a.settings"`, ""},
		{"unclosed value", `os.environ.setdefault("DJANGO_SETTINGS_MODULE", "a.settings`, ""},
		{"newline in value", "os.environ.setdefault(\"DJANGO_SETTINGS_MODULE\", \"a.\nsettings\")", ""},
		{"three arguments", `os.environ.setdefault("DJANGO_SETTINGS_MODULE", "a.settings", 1)`, ""},
		{"get not setdefault", `os.environ.get("DJANGO_SETTINGS_MODULE", "a.settings")`, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := settingsModuleDefault(tc.src)
			if got != tc.want || ok != (tc.want != "") {
				t.Errorf("settingsModuleDefault(%q) = %q, %v; want %q", tc.src, got, ok, tc.want)
			}
		})
	}
}

func TestValidModule(t *testing.T) {
	for s, want := range map[string]bool{
		"a": true, "a.b": true, "_a.b_2": true, "mysite.settings.prod": true, "é": true,
		"": false, ".": false, "a.": false, ".a": false, "a..b": false, "2a": false, "a.2b": false,
		"a-b": false, "a b": false, "a/b": false, "\xff": false,
	} {
		if got := validModule(s); got != want {
			t.Errorf("validModule(%q) = %v, want %v", s, got, want)
		}
	}
}

func FuzzSettingsModuleDefault(f *testing.F) {
	for _, seed := range []struct{ src, extra string }{
		{"os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'mysite.settings')", ""},
		{"os.environ.setdefault(\n    \"DJANGO_SETTINGS_MODULE\", \"a.b\",\n)\n", "x = '''"},
		{"'''\nos.environ.setdefault('DJANGO_SETTINGS_MODULE', 'a.b')\n'''", "# c"},
		{`x = "\"#"; environ.setdefault(r'DJANGO_SETTINGS_MODULE', """a""")`, `"`},
		{"f'{x}' rb'\\'' 1.5e3 \\\n", "environ.setdefault('DJANGO_SETTINGS_MODULE','z')"},
		{"", ""},
	} {
		f.Add(seed.src, seed.extra)
	}
	f.Fuzz(func(t *testing.T, src, extra string) {
		m, ok := settingsModuleDefault(src)
		if ok != (m != "") {
			t.Fatalf("(%q, %v): ok and an empty module disagree", m, ok)
		}
		if !ok {
			return
		}
		if !validModule(m) {
			t.Fatalf("invalid module %q accepted", m)
		}
		if !strings.Contains(src, m) {
			t.Fatalf("module %q is not in the source", m)
		}
		// Python runs the first call: whatever follows it cannot change
		// the answer.
		if m2, _ := settingsModuleDefault(src + "\n" + extra); m2 != m {
			t.Fatalf("appending %q changed %q to %q", extra, m, m2)
		}
		// The same source as one comment names nothing.
		flat := strings.NewReplacer("\n", " ", "\r", " ").Replace(src)
		if m3, ok := settingsModuleDefault("#" + flat); ok {
			t.Fatalf("found %q in a comment", m3)
		}
	})
}
