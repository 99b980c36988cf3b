package metrics

import (
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/corral-run/corral/internal/httpbench"
	"github.com/corral-run/corral/launcher/edge"
)

// BenchmarkProxySmall is the edge's BenchmarkProxySmall with and without
// the metrics as its Observer: what counting costs per proxied request.
func BenchmarkProxySmall(b *testing.B) {
	for _, tt := range []struct {
		name string
		obs  func() edge.Observer
	}{
		{"none", func() edge.Observer { return nil }},
		{"metrics", func() edge.Observer { return New(Options{}) }},
	} {
		b.Run(tt.name, func(b *testing.B) { benchProxy(b, tt.obs()) })
	}
}

// benchProxy times small GETs through an edge reporting to obs, client,
// edge and backend all on loopback in this process.
func benchProxy(b *testing.B, obs edge.Observer) {
	backend := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "hello, world\n")
	})}
	bln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go backend.Serve(bln)
	defer backend.Close()

	bal := edge.NewBalancer(edge.TCPProber, 10*time.Millisecond, nil)
	defer bal.Close()
	bal.Add("web.1", bln.Addr().String())
	for bal.ReadyCount() == 0 {
		time.Sleep(time.Millisecond)
	}
	srv := edge.NewServer(edge.Config{Proxy: edge.NewProxy(bal, edge.Options{Observer: obs}), Observer: obs})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go srv.Serve(ln)
	defer srv.Shutdown(b.Context())

	httpbench.ParallelGets(b, "http://"+ln.Addr().String()+"/")
}
