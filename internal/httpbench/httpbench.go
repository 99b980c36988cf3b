// Package httpbench holds what the HTTP benchmarks of several packages
// share.
package httpbench

import (
	"io"
	"net/http"
	"runtime"
	"testing"
)

// ParallelGets times GETs of url from 16 goroutines over kept-alive
// connections.
func ParallelGets(b *testing.B, url string) {
	ParallelGetsOver(b, &http.Transport{MaxIdleConnsPerHost: 64}, url)
}

// ParallelGetsOver is ParallelGets through tr (HTTP/2's, say), which it
// closes the idle connections of when done.
func ParallelGetsOver(b *testing.B, tr *http.Transport, url string) {
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
