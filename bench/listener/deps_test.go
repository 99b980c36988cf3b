package main

import (
	"go/parser"
	"go/token"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// TestDepsMatchCorral checks that deps.go blank-imports exactly the packages
// outside corral that corral's own packages import: a dependency added to
// corral or dropped from it must change the ceiling boot.sh measures.
func TestDepsMatchCorral(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go tool on PATH")
	}
	const module = "github.com/corral-run/corral"
	own, err := exec.Command(goTool, "list", "-deps", module+"/cmd/corral").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	var pkgs []string
	for _, p := range strings.Fields(string(own)) {
		if p == module || strings.HasPrefix(p, module+"/") {
			pkgs = append(pkgs, p)
		}
	}
	out, err := exec.Command(goTool, append([]string{"list", "-f", `{{join .Imports "\n"}}`}, pkgs...)...).Output()
	if err != nil {
		t.Fatalf("go list -f .Imports: %v", err)
	}
	var want []string
	for _, p := range strings.Fields(string(out)) {
		if p != module && !strings.HasPrefix(p, module+"/") && !slices.Contains(want, p) {
			want = append(want, p)
		}
	}
	slices.Sort(want)

	f, err := parser.ParseFile(token.NewFileSet(), "deps.go", nil, parser.ImportsOnly)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, imp := range f.Imports {
		p, err := strconv.Unquote(imp.Path.Value)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, p)
	}
	slices.Sort(got)
	for _, p := range want {
		if !slices.Contains(got, p) {
			t.Errorf("corral imports %s; deps.go does not (add it)", p)
		}
	}
	for _, p := range got {
		if !slices.Contains(want, p) {
			t.Errorf("deps.go imports %s; corral no longer does (remove it)", p)
		}
	}
}
