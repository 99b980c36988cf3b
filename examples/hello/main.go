// Command hello is the smallest web app corral can run: it answers every
// request with a greeting naming the instance that served it, and logs each
// request to stdout, where corral prefixes it with "web.N |".
package main

import (
	"context"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	port := os.Getenv("PORT")
	if port == "" {
		port = "5000"
	}
	name := os.Getenv("PS") // set by corral: web.1, web.2, …
	greeting := os.Getenv("GREETING")
	if greeting == "" {
		greeting = "hello"
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		log.Printf("%s %s from %s", r.Method, r.URL.Path, r.RemoteAddr)
		fmt.Fprintf(w, "%s from %s\n", greeting, name)
	})
	// HOST is 127.0.0.1 behind corral's edge, and unset (every address) on
	// a platform, which routes to $PORT from outside.
	srv := &http.Server{Addr: net.JoinHostPort(os.Getenv("HOST"), port), Handler: mux, ReadHeaderTimeout: 10 * time.Second}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	go func() {
		<-ctx.Done()
		log.Printf("shutting down")
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(shutdown)
	}()
	log.SetFlags(0)
	log.Printf("listening on http://localhost:%s", port)
	if err := srv.ListenAndServe(); err != nil && err != http.ErrServerClosed {
		log.Fatal(err)
	}
}
