// Command backend is the tiny, fast upstream app used by bench/proxy.sh: it
// listens on 127.0.0.1:$PORT and answers
//
//	/       200 "hello, world\n" (text/plain)
//	/slow   the same after sleeping 50ms
//	/cached a 2 KiB HTML page marked cacheable by a shared cache
//	        (Cache-Control: public, max-age=3600), as Django's
//	        cache_control(public=True, max_age=3600) marks one
//
// It does not serve /static/: the proxies under test serve those files
// themselves. Standard library only.
package main

import (
	"context"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"
)

var hello = []byte("hello, world\n")

// page is /cached's body: 2 KiB of HTML.
var page = func() []byte {
	b := []byte("<!doctype html>\n<html><head><title>cached</title></head><body>\n")
	for i := 0; len(b) < 2048-len("</body></html>\n"); i++ {
		b = append(b, "<p>a page the app marked cacheable</p>\n"...)
	}
	b = append(b[:2048-len("</body></html>\n")], "</body></html>\n"...)
	return b
}()

func main() {
	port := os.Getenv("PORT")
	if port == "" {
		log.Fatal("backend: PORT is not set")
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/{$}", func(w http.ResponseWriter, r *http.Request) { reply(w) })
	mux.HandleFunc("/cached", func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h["Content-Type"] = []string{"text/html; charset=utf-8"}
		h["Cache-Control"] = []string{"public, max-age=3600"}
		h["Content-Length"] = []string{strconv.Itoa(len(page))}
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(page)
	})
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(50 * time.Millisecond)
		reply(w)
	})
	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
	}
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", port))
	if err != nil {
		log.Fatalf("backend: %v", err)
	}
	log.Printf("backend: listening on %s", ln.Addr())

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	if err := srv.Serve(ln); err != nil && err != http.ErrServerClosed {
		log.Fatalf("backend: %v", err)
	}
}

func reply(w http.ResponseWriter) {
	h := w.Header()
	h["Content-Type"] = []string{"text/plain; charset=utf-8"}
	h["Content-Length"] = []string{strconv.Itoa(len(hello))}
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(hello)
}
