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
	s := newServer(b, Mount{"/static/", dir})
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
