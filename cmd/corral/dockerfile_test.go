package main

import (
	"bufio"
	"encoding/json"
	goversion "go/version"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/corral-run/corral/procfile"
)

// instruction is one instruction of a Dockerfile: its keyword, upper-cased,
// and its arguments, with continuation lines joined.
type instruction struct {
	cmd, args string
	line      int
}

// readDockerfile reads the instructions of the Dockerfile at path.
func readDockerfile(t *testing.T, path string) []instruction {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var ins []instruction
	var cur strings.Builder
	start := 0
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if cur.Len() == 0 {
			start = n
		}
		more := strings.HasSuffix(line, `\`)
		cur.WriteString(strings.TrimSuffix(line, `\`))
		if more {
			cur.WriteByte(' ')
			continue
		}
		cmd, args, _ := strings.Cut(cur.String(), " ")
		ins = append(ins, instruction{strings.ToUpper(cmd), strings.Join(strings.Fields(args), " "), start})
		cur.Reset()
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return ins
}

// TestDjangoDockerfile checks examples/django/Dockerfile against the
// repository, as no Docker engine builds it here: its first stage builds
// this module's corral, with the Go that go.mod asks for, statically;
// the image copies that binary onto PATH, installs what the Procfile
// runs, copies files that exist, listens where it says and where
// README's fly.toml points, and runs corral start as PID 1.
func TestDjangoDockerfile(t *testing.T) {
	dir := filepath.Join("..", "..", "examples", "django")
	gomod, err := os.ReadFile(filepath.Join("..", "..", "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	module := regexp.MustCompile(`(?m)^module (\S+)$`).FindSubmatch(gomod)
	goVersion := regexp.MustCompile(`(?m)^go (\S+)$`).FindSubmatch(gomod)
	if module == nil || goVersion == nil {
		t.Fatalf("go.mod names no module or go version:\n%s", gomod)
	}
	var fromStages []string // the stages named by AS, in order
	var builder string      // the stage that builds corral
	var copied, cmd, port, exposed, packages string
	for _, in := range readDockerfile(t, filepath.Join(dir, "Dockerfile")) {
		switch in.cmd {
		case "FROM":
			image, name, _ := strings.Cut(in.args, " AS ")
			fromStages = append(fromStages, name)
			if name != "" {
				// golang:1.26 is the latest 1.26.x, enough for go 1.26.8.
				tag, ok := strings.CutPrefix(image, "golang:")
				tag, _, _ = strings.Cut(tag, "-") // 1.26-bookworm
				if ok && goversion.Compare(goversion.Lang("go"+tag), goversion.Lang("go"+string(goVersion[1]))) < 0 {
					t.Errorf("Dockerfile:%d: %s, but go.mod asks for Go %s", in.line, image, goVersion[1])
				}
			}
		case "RUN":
			if strings.Contains(in.args, "go install "+string(module[1])+"/cmd/corral@") {
				builder = fromStages[len(fromStages)-1]
				if !strings.Contains(in.args, "CGO_ENABLED=0") {
					t.Errorf("Dockerfile:%d: corral is built without CGO_ENABLED=0, so not static: %s", in.line, in.args)
				}
			}
			if _, rest, ok := strings.Cut(in.args, "apt-get install"); ok {
				packages, _, _ = strings.Cut(rest, "&&")
			}
		case "COPY":
			f := strings.Fields(in.args)
			if from, ok := strings.CutPrefix(f[0], "--from="); ok {
				if from == builder && len(f) == 3 {
					copied = f[1] + " " + f[2]
				}
				continue
			}
			for _, src := range f[:len(f)-1] {
				if _, err := os.Stat(filepath.Join(dir, src)); err != nil {
					t.Errorf("Dockerfile:%d: COPY %s: %v", in.line, src, err)
				}
			}
		case "CMD":
			cmd = in.args
		case "ENV":
			if m := regexp.MustCompile(`(?:^| )PORT=(\d+)`).FindStringSubmatch(in.args); m != nil {
				port = m[1]
			}
		case "EXPOSE":
			exposed = in.args
		}
	}
	if builder == "" || fromStages[len(fromStages)-1] == builder {
		t.Errorf("no stage before the image's runs go install %s/cmd/corral@…", module[1])
	}
	// go install puts it in GOPATH/bin, /go/bin in the golang image.
	if copied != "/go/bin/corral /usr/local/bin/corral" {
		t.Errorf("the image copies %q from stage %q; want /go/bin/corral to /usr/local/bin/corral", copied, builder)
	}
	var argv []string
	if err := json.Unmarshal([]byte(cmd), &argv); err != nil || !slices.Equal(argv, []string{"corral", "start"}) {
		t.Errorf(`CMD %s; want ["corral", "start"], the exec form: corral itself is PID 1, not a shell`, cmd)
	}
	if port == "" || exposed != port {
		t.Errorf("ENV PORT=%s but EXPOSE %s", port, exposed)
	}
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(readme), "internal_port = "+port) {
		t.Errorf("README's fly.toml has no internal_port = %s, the Dockerfile's PORT", port)
	}

	pf, err := procfile.ParseFile(filepath.Join(dir, "Procfile"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range pf.Entries {
		prog := strings.Fields(e.Command)[0]
		if !slices.Contains(strings.Fields(packages), prog) {
			t.Errorf("Procfile:%d: %s runs %s, which apt-get does not install (%s)", e.Line, e.Name, prog, packages)
		}
	}

	// What a local run leaves in the directory stays out of the image.
	ignore, err := os.ReadFile(filepath.Join(dir, ".dockerignore"))
	if err != nil {
		t.Fatal(err)
	}
	gitignore, err := os.ReadFile(filepath.Join(dir, ".gitignore"))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Fields(string(gitignore)) {
		if !slices.Contains(strings.Fields(string(ignore)), l) {
			t.Errorf(".dockerignore lacks %s, which .gitignore has", l)
		}
	}
}
