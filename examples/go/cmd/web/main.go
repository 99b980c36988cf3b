// Command web is a Go app with no Procfile: corral builds it with
// `go build -o bin/web ./cmd/web` (when bin/web is missing, or always with
// corral build) and runs bin/web behind its edge.
package main

import (
	"context"
	"errors"
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
	name := os.Getenv("PS")
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "Go, run by corral: served by %s (PORT %s), with no Procfile\n", name, port)
	})
	// HOST is 127.0.0.1 behind corral's edge, and unset (every address) on
	// a platform, which routes to $PORT from outside.
	srv := &http.Server{Addr: net.JoinHostPort(os.Getenv("HOST"), port), Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(shutdown)
	}()
	log.SetFlags(0)
	log.Printf("listening on port %s", port)
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Fatal(err)
	}
}
