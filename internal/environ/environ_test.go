package environ

import (
	"os"
	"path/filepath"
	"testing"
)

func TestLookup(t *testing.T) {
	env := []string{"A=1", "B=", "A=2", "C=x=y"}
	for _, tt := range []struct {
		key, want string
		ok        bool
	}{{"A", "2", true}, {"B", "", true}, {"C", "x=y", true}, {"D", "", false}, {"", "", false}} {
		if got, ok := Lookup(env, tt.key); got != tt.want || ok != tt.ok {
			t.Errorf("Lookup(%q) = %q, %v; want %q, %v", tt.key, got, ok, tt.want, tt.ok)
		}
	}
}

func TestLookPath(t *testing.T) {
	dir := t.TempDir()
	exe := filepath.Join(dir, "tool")
	os.WriteFile(exe, []byte("#!/bin/sh\n"), 0o755)
	os.WriteFile(filepath.Join(dir, "plain"), nil, 0o644)
	os.Mkdir(filepath.Join(dir, "sub"), 0o755)
	if got, err := LookPath("tool", []string{"PATH=relative:" + dir}); err != nil || got != exe {
		t.Errorf("LookPath(tool) = %q, %v", got, err)
	}
	for _, name := range []string{"plain", "sub", "missing"} {
		if got, err := LookPath(name, []string{"PATH=" + dir}); err == nil {
			t.Errorf("LookPath(%s) = %q, want an error", name, got)
		}
	}
	if got, err := LookPath("sh", nil); err != nil || got == "" {
		t.Errorf("without PATH, sh not found in the default path: %q, %v", got, err)
	}
}
