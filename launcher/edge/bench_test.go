package edge

import (
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/corral-run/corral/internal/httpbench"
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

	httpbench.ParallelGets(b, "http://"+ln.Addr().String()+"/")
}
