package buildpack

import (
	"path/filepath"
	"testing"
)

// BenchmarkDetect times Detect on fixture apps of each kind: it runs on
// every corral start with no Procfile (and, for the static files, with
// one), before the edge binds the port.
func BenchmarkDetect(b *testing.B) {
	for _, name := range []string{"django-startproject", "flask-basic", "fastapi-gunicorn-uvicorn", "node-npm-start", "rails-app", "go-root", "static-dist", "none-readme"} {
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
}
