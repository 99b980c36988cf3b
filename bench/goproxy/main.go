// Command goproxy is the featureless Go reverse proxy bench/proxy.sh
// measures corral's edge against: what the language and its standard
// library reach for a proxied request with nothing else done. It listens
// on 127.0.0.1:$PORT and sends every request to 127.0.0.1:$UPSTREAM_PORT
// over kept-alive connections, copying the status, headers and body back.
//
// It has none of an edge's features on purpose: no request or response
// buffering, no X-Forwarded-* headers, no hop-by-hop header cleanup, no
// retries, no static files, no logs. A real proxy does more per request;
// the ratio of corral to this says what corral's features cost.
package main

import (
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"time"
)

func main() {
	port, up := os.Getenv("PORT"), os.Getenv("UPSTREAM_PORT")
	if port == "" || up == "" {
		log.Fatal("goproxy: PORT and UPSTREAM_PORT must be set")
	}
	upstream := net.JoinHostPort("127.0.0.1", up)
	transport := &http.Transport{
		MaxIdleConns:        1024,
		MaxIdleConnsPerHost: 1024,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		out := r.Clone(r.Context())
		out.URL.Scheme, out.URL.Host = "http", upstream
		out.RequestURI = ""
		if r.ContentLength == 0 {
			out.Body = nil
		}
		resp, err := transport.RoundTrip(out)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		h := w.Header()
		for k, v := range resp.Header {
			h[k] = v
		}
		w.WriteHeader(resp.StatusCode)
		_, _ = io.Copy(w, resp.Body)
	})
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", port))
	if err != nil {
		log.Fatalf("goproxy: %v", err)
	}
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	log.Fatal(srv.Serve(ln))
}
