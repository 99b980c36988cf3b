package edge

import (
	"fmt"
	"html"
	"net/http"
	"strings"
)

// retryAfter is the Retry-After of a 503: booting apps are usually up
// within seconds.
const retryAfter = "5"

// fail answers with an error of the edge's own: a small HTML page, or JSON
// when the client asks for JSON; never a raw Go error string. It returns
// status.
func (p *Proxy) fail(w http.ResponseWriter, r *http.Request, status int, msg string) int {
	h := w.Header()
	for k := range h {
		if k != "X-Request-Id" {
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
