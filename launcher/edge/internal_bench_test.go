package edge

import (
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/corral-run/corral/internal/httpbench"
	"github.com/corral-run/corral/launcher/sendfile"
	"github.com/corral-run/corral/launcher/static"
)

// BenchmarkInternalRedirect compares three ways one 64 KiB file reaches a
// client through the edge: the app names it with X-Accel-Redirect and the
// edge sends it; the edge serves it as a static file (no app at all, the
// floor); the app sends the bytes itself (what X-Accel-Redirect spares).
func BenchmarkInternalRedirect(b *testing.B) {
	dir := b.TempDir()
	file := filepath.Join(dir, "report.pdf")
	if err := os.WriteFile(file, []byte(strings.Repeat("x", 64<<10)), 0o644); err != nil {
		b.Fatal(err)
	}
	backend := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/self" {
			http.ServeFile(w, r, file)
			return
		}
		w.Header().Set("X-Accel-Redirect", "/protected/report.pdf")
		w.Header().Set("Content-Type", "application/pdf")
		w.Header().Set("Content-Disposition", `attachment; filename="report.pdf"`)
		w.Header().Set("Content-Length", "0")
	})}
	bln, _ := net.Listen("tcp", "127.0.0.1:0")
	go backend.Serve(bln)
	defer backend.Close()

	bal := NewBalancer(TCPProber, 10*time.Millisecond, nil)
	defer bal.Close()
	bal.Add("web.1", bln.Addr().String())
	for bal.ReadyCount() == 0 {
		time.Sleep(time.Millisecond)
	}
	internal, err := sendfile.New([]static.Mount{{Prefix: "/protected/", Dir: dir}})
	if err != nil {
		b.Fatal(err)
	}
	defer internal.Close()
	files, err := static.New([]static.Mount{{Prefix: "/files/", Dir: dir}})
	if err != nil {
		b.Fatal(err)
	}
	defer files.Close()
	srv := NewServer(Config{Proxy: NewProxy(bal, Options{Internal: internal}), Static: files})
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	go srv.Serve(ln)
	defer srv.Shutdown(b.Context())
	base := "http://" + ln.Addr().String()

	for _, bb := range []struct{ name, path string }{
		{"x-accel-redirect", "/download/1"},
		{"static", "/files/report.pdf"},
		{"app-sends-it", "/self"},
	} {
		b.Run(bb.name, func(b *testing.B) {
			resp, err := http.Get(base + bb.path)
			if err != nil || resp.StatusCode != 200 || resp.ContentLength != 64<<10 {
				b.Fatalf("%s: %v %v", bb.path, resp, err)
			}
			resp.Body.Close()
			b.SetBytes(64 << 10)
			httpbench.ParallelGets(b, base+bb.path)
		})
	}
}
