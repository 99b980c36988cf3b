package envfile

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func write(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestReadFiles(t *testing.T) {
	dir := t.TempDir()
	a := write(t, dir, "a.env", "# comment\nA=1\nSHARED=from-a\nexport B='two words'\nMULTI=\"line1\nline2\"\n")
	b := write(t, dir, "b.env", "SHARED=from-b\r\nD=d\r\nC=${D}x\r\n")
	got, err := ReadFiles(a, b)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"A": "1", "SHARED": "from-b", "B": "two words", "MULTI": "line1\nline2", "C": "dx", "D": "d"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestReadFileErrors(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name, content, want string
	}{
		{"bad key", "A=1\nB=2\nNOT VALID\n", "bad.env:3: "},
		{"after multi-line value", "A=\"x\ny\"\n\n# c\nB-C=1\n", "bad.env:5: "},
		{"space in key", "A=1\n\n  B C = 1\n", `bad.env:3: "B C" is not a valid variable name`},
		{"empty key", "=1\n", `bad.env:1: "" is not a valid variable name`},
		{"digit first", "A=1\nexport 1A=2\n", `bad.env:2: "1A" is not a valid variable name`},
		{"unterminated quote", "A=1\nB=\"open\nC=3\n", "bad.env:2: "},
		{"binary", "A=1\n\x00\x00", "bad.env:2: binary data"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := write(t, dir, "bad.env", tt.content)
			_, err := ReadFile(p)
			if err == nil || !strings.HasPrefix(err.Error(), filepath.Join(dir, tt.want)) {
				t.Errorf("err = %v, want prefix %q", err, tt.want)
			}
		})
	}
	_, err := ReadFile(filepath.Join(dir, "missing.env"))
	if err == nil || !strings.Contains(err.Error(), "missing.env: cannot read env file: no such file") {
		t.Errorf("missing file: err = %v", err)
	}
	_, err = ReadFile(dir)
	if err == nil || !strings.Contains(err.Error(), "cannot read env file: is a directory") {
		t.Errorf("directory: err = %v", err)
	}
}

func TestMerge(t *testing.T) {
	files := map[string]string{"SECRET": "stale", "ONLY_FILE": "f"}
	own := []string{"SECRET=from-platform", "PATH=/bin", "EMPTY=", "=weird"}
	got := Merge(files, own)
	want := []string{"EMPTY=", "ONLY_FILE=f", "PATH=/bin", "SECRET=from-platform"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Merge = %q, want %q", got, want)
	}
}
