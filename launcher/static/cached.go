package static

import (
	"bytes"
	"net/http"
)

// fixedHeaders are header values every cached response may carry, made
// once per server so that no request allocates them; their capacity is
// their length (see variant).
type fixedHeaders struct {
	nosniff, acceptRanges, vary, noCache []string
	coding                               [variants][]string // Content-Encoding by variant slot; nil for the file itself
}

func newFixedHeaders() fixedHeaders {
	h := fixedHeaders{nosniff: one("nosniff"), acceptRanges: one("bytes"), vary: one("Accept-Encoding"), noCache: one("no-cache")}
	for _, enc := range siblingEncodings() {
		h.coding[enc.index+1] = one(enc.coding)
	}
	return h
}

// serveCached answers r with the file name in m, or the precompressed
// sibling the client prefers, through the open-file cache: from memory
// when that variant is held, else from disk as serve does. cc, if not
// nil, replaces the Cache-Control the name gets. The error is
// openRegular's when name opens no regular file; nothing is written then.
func (s *Server) serveCached(w http.ResponseWriter, r *http.Request, m *mount, name string, cc []string) error {
	e, err := s.cache.lookup(m, name)
	if err != nil {
		return err
	}
	if cc == nil {
		cc = e.cc
	}
	slot, vary := e.pick(r.Header["Accept-Encoding"])
	v := e.vars[slot]
	if v.body == nil {
		// Too large to hold: opened again, since the disk may have moved on
		// since the entry was made, and sent with sendfile.
		f, fi, err := openRegular(m.root, name)
		if err != nil {
			s.cache.forget(fileKey{m, name})
			return err
		}
		s.serve(w, r, m, name, f, fi, cc[0])
		return nil
	}
	s.serveHeld(w, r, e, slot, vary, cc)
	return nil
}

// pick chooses the variant slot to send for the Accept-Encoding values ae,
// as serve does: the sibling with the higher qvalue (brotli on a tie)
// among those present and accepted, else the file itself. vary says
// whether the choice depended on ae: whether there is any sibling.
func (e *entry) pick(ae []string) (slot int, vary bool) {
	vary = e.vars[brotli] != nil || e.vars[gzipped] != nil
	if !vary {
		return identity, false
	}
	qbr, qgz := acceptedEncodings(ae)
	order, q := siblingEncodings(), [2]float64{qbr, qgz}
	if qgz > qbr {
		order[0], order[1] = order[1], order[0]
		q[0], q[1] = q[1], q[0]
	}
	for i, enc := range order {
		if q[i] > 0 && e.vars[enc.index+1] != nil {
			return enc.index + 1, true
		}
	}
	return identity, true
}

// serveHeld answers r with the held variant slot of e, its header values
// formatted when it was read. The common requests (a plain GET or HEAD, a
// revalidation naming the current ETag) are answered here; anything else
// (a Range, another precondition) is left to http.ServeContent, on the
// held bytes.
func (s *Server) serveHeld(w http.ResponseWriter, r *http.Request, e *entry, slot int, vary bool, cc []string) {
	v, fixed := e.vars[slot], &s.headers
	h := w.Header()
	h["X-Content-Type-Options"] = fixed.nosniff
	h["Cache-Control"] = cc
	if vary {
		if old := h["Vary"]; len(old) > 0 {
			h["Vary"] = append(old, "Accept-Encoding")
		} else {
			h["Vary"] = fixed.vary
		}
	}
	h["Etag"] = v.etag
	rh := r.Header
	if len(rh["Range"])+len(rh["If-Match"])+len(rh["If-Unmodified-Since"])+len(rh["If-Range"]) == 0 {
		inm := rh["If-None-Match"]
		switch {
		case len(inm) == 1 && inm[0] == v.etag[0]:
			// What ServeContent's 304 keeps: no type, length, coding, nor
			// Last-Modified beside the ETag.
			w.WriteHeader(http.StatusNotModified)
			return
		case len(inm) == 0 && len(rh["If-Modified-Since"]) == 0:
			h["Content-Type"] = e.ctype
			if v.lastModified != nil {
				h["Last-Modified"] = v.lastModified
			}
			h["Accept-Ranges"] = fixed.acceptRanges
			h["Content-Length"] = v.length
			if c := fixed.coding[slot]; c != nil {
				h["Content-Encoding"] = c
			}
			w.WriteHeader(http.StatusOK)
			if r.Method != http.MethodHead {
				w.Write(v.body)
			}
			return
		}
	}
	h["Content-Type"] = e.ctype
	if slot != identity {
		w = &encodedWriter{ResponseWriter: w, coding: fixed.coding[slot][0]}
	}
	http.ServeContent(w, r, "", v.fi.ModTime(), bytes.NewReader(v.body))
}
