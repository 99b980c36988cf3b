package buildpack

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// BenchmarkDetect times Detect on fixture apps of each kind: it runs on
// every corral start with no Procfile (and, for the static files, with
// one), before the edge binds the port.
func BenchmarkDetect(b *testing.B) {
	for _, name := range []string{"django-startproject", "flask-basic", "fastapi-gunicorn-uvicorn", "fastapi-src-uv", "python-poetry", "node-npm-start", "rails-app", "go-root", "static-dist", "none-readme", "monorepo-backend", "flask-root-module"} {
		dir := filepath.Join("testdata", name)
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Detect(dir); err != nil && name != "none-readme" {
					b.Fatal(err)
				}
			}
		})
	}
	// A pyproject.toml of the size a real project's reaches (poetry's
	// dependency tables, dev groups and a dozen tools' settings: about
	// 300 lines), where the TOML reader's cost shows.
	dir := b.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "pyproject.toml"), []byte(benchPyproject()), 0o644); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "main.py"), []byte("from fastapi import FastAPI\napp = FastAPI()\n"), 0o644); err != nil {
		b.Fatal(err)
	}
	b.Run("pyproject-300-lines", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := Detect(dir); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// benchPyproject writes a poetry project's pyproject.toml of about 300
// lines.
func benchPyproject() string {
	var s strings.Builder
	s.WriteString("[tool.poetry]\nname = \"bench\"\nversion = \"0.1.0\"\ndescription = \"A benchmark\"\nauthors = [\"A <a@example.com>\"]\n\n[tool.poetry.dependencies]\npython = \"^3.12\"\nfastapi = { version = \"^0.110\", extras = [\"all\"] }\nuvicorn = \"^0.29\"\n")
	for i := range 60 {
		fmt.Fprintf(&s, "package-%d = \"^%d.%d\"\n", i, i%7, i%5)
	}
	s.WriteString("\n[tool.poetry.group.dev.dependencies]\n")
	for i := range 40 {
		fmt.Fprintf(&s, "dev-package-%d = { version = \"^%d.0\", optional = true }\n", i, i%9)
	}
	for i := range 20 {
		fmt.Fprintf(&s, "\n[tool.tool%d]\nline-length = 100\nselect = [\"E\", \"F\", \"W\", 'I']\nexclude = [\n  \".git\",\n  \"build\", # generated\n]\nenabled = true\n", i)
	}
	s.WriteString("\n[build-system]\nrequires = [\"poetry-core>=1.0.0\"]\nbuild-backend = \"poetry.core.masonry.api\"\n")
	return s.String()
}
