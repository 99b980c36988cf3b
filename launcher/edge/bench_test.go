package edge

import (
	"io"
	"net"
	"net/http"
	"runtime"
	"testing"
	"time"
)

// BenchmarkProxySmall measures the edge's cost per small proxied request,
// client, edge and backend all on loopback in this process.
func BenchmarkProxySmall(b *testing.B) {
	backend := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "hello, world\n")
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
	srv := NewServer(Config{Proxy: NewProxy(bal, Options{})})
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	go srv.Serve(ln)
	defer srv.Shutdown(b.Context())

	parallelGets(b, "http://"+ln.Addr().String()+"/")
}

// parallelGets times GETs of url from 16 goroutines over kept-alive
// connections.
func parallelGets(b *testing.B, url string) {
	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	b.SetParallelism(max(1, 16/runtime.GOMAXPROCS(0)))
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			resp, err := client.Get(url)
			if err != nil {
				b.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	})
}
