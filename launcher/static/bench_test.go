package static

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"
)

// BenchmarkServe100KB serves a 100 KB CSS file through a real loopback HTTP
// server to keep-alive clients, the figure to hold against nginx.
func BenchmarkServe100KB(b *testing.B) {
	dir := b.TempDir()
	const rule = "body { margin: 0; padding: 0; color: #333; }\n"
	css := bytes.Repeat([]byte(rule), 100*1024/len(rule)+1)[:100*1024]
	if err := os.MkdirAll(filepath.Join(dir, "css"), 0o755); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "css", "app.css"), css, 0o644); err != nil {
		b.Fatal(err)
	}
	s := newServer(b, Mount{Prefix: "/static/", Dir: dir})
	ts := httptest.NewServer(s)
	defer ts.Close()
	tr := &http.Transport{MaxIdleConnsPerHost: 4 * runtime.GOMAXPROCS(0), DisableCompression: true}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	url := ts.URL + "/static/css/app.css"

	b.SetBytes(int64(len(css)))
	b.ReportAllocs()
	b.SetParallelism(4)
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			resp, err := client.Get(url)
			if err != nil {
				b.Error(err)
				return
			}
			n, _ := io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || n != int64(len(css)) {
				b.Errorf("status %d, %d bytes", resp.StatusCode, n)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "req/s")
}

// BenchmarkServeSmall serves a small file in process, without the loopback
// and client costs that dominate BenchmarkServe100KB, so a change to the
// per-request work of ServeHTTP shows.
func BenchmarkServeSmall(b *testing.B) {
	dir := b.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "app.css"), []byte("body{color:red}\n"), 0o644); err != nil {
		b.Fatal(err)
	}
	s := newServer(b, Mount{Prefix: "/static/", Dir: dir})
	r := httptest.NewRequest("GET", "/static/app.css", nil)
	r.Header.Set("Accept-Encoding", "gzip, deflate, br")
	b.ReportAllocs()
	for b.Loop() {
		w := httptest.NewRecorder()
		s.ServeHTTP(w, r)
		if w.Code != 200 {
			b.Fatalf("status %d", w.Code)
		}
	}
}

// BenchmarkMatch is the cost every request pays on a prefix-only mount,
// called through an interface as the edge does: the baseline for
// BenchmarkMatchFallthrough.
func BenchmarkMatch(b *testing.B) {
	var s interface{ Match(string) bool } = newServer(b, Mount{Prefix: "/static/", Dir: b.TempDir()})
	b.ReportAllocs()
	for b.Loop() {
		if !s.Match("/static/css/app.css") || s.Match("/users/42") {
			b.Fatal("wrong match")
		}
	}
}

// BenchmarkMatchFallthrough is what a Fallthrough mount at "/" (a Rails
// public/ directory) adds to every request the edge routes: a look in the
// open-file cache for an asset that is there, an open through the
// os.Root for an app route that is not.
func BenchmarkMatchFallthrough(b *testing.B) {
	dir := b.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "assets"), 0o755); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "assets", "application-0123abcd.css"), []byte("p{}"), 0o644); err != nil {
		b.Fatal(err)
	}
	s := newServer(b, Mount{Prefix: "/", Dir: dir, Fallthrough: true})
	for _, bc := range []struct {
		name, path string
		want       bool
	}{
		{"hit", "/assets/application-0123abcd.css", true},
		{"miss", "/users/42/edit", false},
		{"refused", "/.env", false},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if s.Match(bc.path) != bc.want {
					b.Fatalf("Match(%q) != %v", bc.path, bc.want)
				}
			}
		})
	}
}
