package edge

import (
	"context"
	"errors"
	"fmt"
	"html"
	"net/http"
	"strings"
)

// retryAfter is the Retry-After of a 503: booting apps are usually up
// within seconds.
const retryAfter = "5"

// errShutdown is the cause of the context of a request that Server.Shutdown
// gave up on, its deadline passed: unlike a client that left, its client
// still waits for an answer.
var errShutdown = errors.New("edge: the server shut down before the request was answered")

// abandoned reports whether ctx, a request's, ended because Shutdown gave
// up on the request.
func abandoned(ctx context.Context) bool {
	return errors.Is(context.Cause(ctx), errShutdown)
}

// ended answers a request whose context ended before its response began,
// and returns the status for the log: a request Shutdown gave up on gets
// a 503; nothing is written for a client that left (499, as nginx logs it).
func (p *Proxy) ended(w http.ResponseWriter, r *http.Request) int {
	if !abandoned(r.Context()) {
		return statusClientGone
	}
	return p.stopping(w, r)
}

// stopping answers 503 for a request no instance will answer as corral
// stops, and closes the connection: the client may ask again in a moment,
// of the app's next run.
func (p *Proxy) stopping(w http.ResponseWriter, r *http.Request) int {
	w.Header().Set("Connection", "close")
	return p.fail(w, r, http.StatusServiceUnavailable, "the app is stopping")
}

// fail answers with an error of the edge's own: a small HTML page, or JSON
// when the client asks for JSON; never a raw Go error string. It returns
// status.
func (p *Proxy) fail(w http.ResponseWriter, r *http.Request, status int, msg string) int {
	if rec, ok := w.(*cacheRecorder); ok {
		rec.edgeMade = true // not the app's: the cache says so
	}
	h := w.Header()
	for k := range h {
		// Kept: the request's id, and the Connection: close of stopping.
		if k != "X-Request-Id" && k != "Connection" {
			delete(h, k)
		}
	}
	switch status {
	case http.StatusServiceUnavailable:
		h.Set("Retry-After", retryAfter)
	case http.StatusRequestEntityTooLarge, http.StatusRequestTimeout, http.StatusBadRequest:
		// The rest of the request was not read, or cannot be trusted: the
		// connection cannot be reused.
		h.Set("Connection", "close")
	}
	h.Set("Cache-Control", "no-store")
	writeError(w, r, status, msg)
	return status
}

// writeError writes an error body, JSON or HTML by the request's Accept.
func writeError(w http.ResponseWriter, r *http.Request, status int, msg string) {
	h := w.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	if wantsJSON(r) {
		h.Set("Content-Type", "application/json")
		w.WriteHeader(status)
		fmt.Fprintf(w, "{\"error\":%q,\"status\":%d}\n", msg, status)
		return
	}
	h.Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	title := fmt.Sprintf("%d %s", status, http.StatusText(status))
	fmt.Fprintf(w, "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>%s</title></head>\n"+
		"<body style=\"font-family:sans-serif;max-width:40em;margin:4em auto\"><h1>%s</h1><p>%s.</p></body></html>\n",
		title, title, html.EscapeString(msg))
}

func wantsJSON(r *http.Request) bool {
	accept := first(r.Header, "Accept")
	return strings.Contains(accept, "application/json") && !strings.Contains(accept, "text/html")
}
