package launcher

import (
	"strings"
	"testing"
)

// TestUnbuilt: with a Procfile, corral start builds nothing; a command
// that names what a build step makes, while it is missing, gets a line
// that says to run corral build first. One that does not need it (go run)
// gets none, nor does an app with no Procfile, whose start builds it.
func TestUnbuilt(t *testing.T) {
	goFiles := map[string]string{"go.mod": "module example.com/go-getting-started\n\ngo 1.22\n", "main.go": "package main\n\nfunc main() {}\n"}
	viteFiles := map[string]string{"package.json": `{"scripts": {"build": "vite build", "start": "node dist/server.js"}}`}
	for _, tt := range []struct {
		name  string
		files map[string]string
		want  string // a substring of the one line; "" for none
	}{
		{"bare name of bin/X", with(goFiles, "Procfile", "web: go-getting-started\n"),
			"Procfile:1: web runs bin/go-getting-started, which is missing: with a Procfile corral start runs what it says and builds nothing"},
		{"path to bin/X", with(goFiles, "Procfile", "release: echo hi\nweb: exec ./bin/go-getting-started --port $PORT\n"), "Procfile:2: web runs bin/go-getting-started"},
		{"built", with(with(goFiles, "Procfile", "web: go-getting-started\n"), "bin/go-getting-started", ""), ""},
		{"go run needs no build", with(goFiles, "Procfile", "web: go run .\n"), ""},
		{"a file in a build's output", with(viteFiles, "Procfile", "web: node dist/server.js\n"), "web runs dist, which is missing"},
		{"a word like it is no path", with(viteFiles, "Procfile", "web: echo distance\n"), ""},
		{"no Procfile: start builds it", goFiles, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			plan, err := Load(Config{Dir: appDirWith(t, tt.files), Port: 5000, SysRoot: freeTier(t)})
			if err != nil {
				t.Fatal(err)
			}
			lines := plan.unbuilt()
			switch {
			case tt.want == "" && len(lines) > 0:
				t.Errorf("lines %q, want none", lines)
			case tt.want != "" && (len(lines) != 1 || !strings.Contains(lines[0], tt.want)):
				t.Errorf("lines %q, want one containing %q", lines, tt.want)
			}
		})
	}
}
