package edge

import (
	"fmt"
	"io"
	"net/http"

	"github.com/corral-run/corral/internal/logesc"
)

// InternalFiles serves the files an app names in a response header
// (X-Accel-Redirect, X-Sendfile) in place of the response, from
// directories no client reaches by its own request (package sendfile).
type InternalFiles interface {
	// Match reports whether a client's request path is under an
	// internal prefix: the edge answers it 404, and the app never sees it.
	Match(urlPath string) bool
	// Named reports whether the app's response header names a file.
	Named(app http.Header) bool
	// Serve answers r with the file app names, with app's headers but
	// those about its own body. When no file can be sent it writes
	// nothing, and returns the status to answer with and why.
	Serve(w http.ResponseWriter, r *http.Request, app http.Header) (status int, err error)
}

// sendInternal answers r with the file the response of be names, instead
// of the response: its body is not read (the app sent none, or, from
// django-sendfile2, none under a Content-Length of the file's size) and the
// instance is free at once. It returns what forward does.
func (p *Proxy) sendInternal(w http.ResponseWriter, r *http.Request, resp *http.Response, be *Backend) (status int, n int64, cut bool) {
	if resp.ContentLength == 0 {
		io.Copy(io.Discard, resp.Body) // read to its end, the connection is kept
	}
	resp.Body.Close()
	be.inflight.Add(-1)
	removeHopHeaders(resp.Header)

	var err error
	if rw, ok := w.(*response); ok {
		status, err = p.opts.Internal.Serve(w, r, resp.Header)
		if err == nil {
			status, n = rw.status, rw.written
			cut = rw.length >= 0 && rw.written < rw.length && !rw.noBody
		}
	} else {
		rec := &statusRecorder{ResponseWriter: w}
		status, err = p.opts.Internal.Serve(rec, r, resp.Header)
		if err == nil {
			status, n = rec.status, rec.written
		}
	}
	if err == nil {
		return max(status, http.StatusOK), n, cut
	}
	p.opts.Log.Warn(fmt.Sprintf("edge: %s answered %s %s with %v", be.Name, logesc.String(r.Method), logesc.String(r.RequestURI), err))
	msg := "the app named a file the edge may not send"
	if status == http.StatusNotFound {
		msg = "the file the app named does not exist"
	}
	return p.fail(w, r, status, msg), 0, false
}
