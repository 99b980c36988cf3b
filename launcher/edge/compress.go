package edge

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/corral-run/corral/internal/qvalue"
)

// compressLevel is the gzip level of compressed responses. Measured on real
// HTML, JavaScript and source text with compress/flate, level 5 gives output
// within 0.5% of level 6 (gzip's default) for about 25-30% less CPU, and
// levels 7-9 gain nothing more. Level 1 (nginx's default) is about 2.5 times
// faster, but its output is about 20% larger, and here a buffered response
// is compressed once while every byte saved is saved on each slow mobile
// link it crosses.
const compressLevel = 5

// defaultCompressMin is the smallest body worth compressing when none is
// configured: below about 1 KiB the gzip header and trailer (18 bytes) and
// the lost Range support outweigh the few bytes saved, and the body fits in
// one or two TCP segments anyway. (nginx's gzip_min_length is 20, which
// most configurations raise to about this.)
const defaultCompressMin = 1024

// compressor decides and performs response compression, as nginx's
// "gzip on" with a sensible gzip_types list, on responses the proxy has
// already buffered whole (so their size is known before deciding). It is
// safe for concurrent use. The zero value is unusable; build one with
// newCompressor.
type compressor struct {
	// pool holds *gzipState: a gzip.Writer holds about 800 KiB of match
	// tables, far too much to allocate per response, and a sync.Pool
	// gives it back to the garbage collector when traffic stops.
	pool    sync.Pool
	minSize int64 // smallest body compressed, in bytes
}

// gzipState is what one compression needs, pooled together so that a
// compression in steady state allocates nothing.
type gzipState struct {
	zw  *gzip.Writer
	cw  countWriter // zw writes here; a field, so taking its address is free
	buf []byte      // read buffer for sources that cannot write themselves out
}

// countWriter counts the bytes written through it, which is how compress
// learns the compressed length without holding the output.
type countWriter struct {
	w io.Writer
	n int64
}

// Write writes p to the underlying writer and counts what it took.
func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// newCompressor returns a compressor for bodies of at least minSize bytes
// (defaultCompressMin if minSize <= 0).
func newCompressor(minSize int64) *compressor {
	if minSize <= 0 {
		minSize = defaultCompressMin
	}
	c := &compressor{minSize: minSize}
	c.pool.New = func() any {
		// The flate tables are allocated at the first Write, not here.
		zw, err := gzip.NewWriterLevel(nil, compressLevel)
		if err != nil {
			panic(err) // only for an invalid level: a bug in this file
		}
		return &gzipState{zw: zw, buf: make([]byte, 32<<10)}
	}
	return c
}

// choose reports whether a response with header h (as the app sent it),
// status and a body of size bytes should be gzip-compressed for a request
// whose Accept-Encoding header values are accept.
func (c *compressor) choose(accept []string, h http.Header, status int, size int64) bool {
	return c.compressible(h, status, size) && acceptsGzip(accept)
}

// compressible reports whether the response would be compressed for a
// client that accepts gzip: the half of choose that does not depend on the
// request. When it is true and the client does not accept gzip, the caller
// should still addVary, since another client would get different bytes.
func (c *compressor) compressible(h http.Header, status int, size int64) bool {
	// 200 only, as nginx: a 206 is a slice of the identity body, and the
	// other statuses are small, bodiless, or error pages the app chose.
	if status != http.StatusOK || size < c.minSize {
		return false
	}
	// Already encoded by the app (any value, even one we do not know, as
	// nginx): compressing again would only cost CPU, and clients decode
	// one layer badly often enough.
	for _, v := range h["Content-Encoding"] {
		if strings.TrimSpace(v) != "" {
			return false
		}
	}
	// A Content-Range describes identity bytes; gzip would make it a lie.
	// So would it a digest the app computed over the bytes it sent.
	for _, k := range [...]string{"Content-Range", "Content-Md5", "Digest", "Content-Digest", "Repr-Digest"} {
		if _, ok := h[k]; ok {
			return false
		}
	}
	// RFC 9111, 5.2.2.6: a proxy must not change a no-transform body.
	if hasDirective(h["Cache-Control"], "no-transform") {
		return false
	}
	return compressibleType(first(h, "Content-Type"))
}

// hasDirective reports whether the comma-separated lists vals contain the
// directive name, with or without an argument, ignoring case.
func hasDirective(vals []string, name string) bool {
	for _, v := range vals {
		for v != "" {
			var d string
			d, v, _ = strings.Cut(v, ",")
			d, _, _ = strings.Cut(d, "=")
			if strings.EqualFold(strings.TrimSpace(d), name) {
				return true
			}
		}
	}
	return false
}

// compressibleTypes are the media types, other than text/*, +json and +xml,
// that compress well: text in all but name, and the font formats that are
// not compressed inside (woff and woff2 are). Images, audio, video and
// archives are compressed already, and application/octet-stream could be
// anything, so none of those are here.
var compressibleTypes = map[string]bool{
	"application/json":              true,
	"application/javascript":        true,
	"application/x-javascript":      true, // the pre-RFC 9239 name old apps still send
	"application/ecmascript":        true,
	"application/xml":               true,
	"application/xhtml+xml":         true,
	"application/rss+xml":           true,
	"application/atom+xml":          true,
	"application/ld+json":           true,
	"application/manifest+json":     true,
	"image/svg+xml":                 true,
	"application/wasm":              true,
	"font/ttf":                      true,
	"font/otf":                      true,
	"application/vnd.ms-fontobject": true,
}

// compressibleType reports whether a body of Content-Type ct is worth
// compressing. Parameters are ignored and case does not matter. It does not
// allocate: this runs for every proxied response.
func compressibleType(ct string) bool {
	mt, _, _ := strings.Cut(ct, ";")
	mt = strings.TrimSpace(mt)
	var low [64]byte // longer media types are not in the list anyway
	if mt == "" || len(mt) > len(low) {
		return false
	}
	for i := 0; i < len(mt); i++ {
		b := mt[i]
		if 'A' <= b && b <= 'Z' {
			b += 'a' - 'A'
		}
		low[i] = b
	}
	t := low[:len(mt)]
	typ, sub, ok := bytes.Cut(t, []byte("/"))
	if !ok || len(sub) == 0 {
		return false
	}
	switch string(typ) {
	case "text":
		// Event streams are relayed unbuffered and never reach here; if one
		// did, compressing it would hold back every event until the end.
		return string(sub) != "event-stream"
	case "application":
		// Structured syntax suffixes (RFC 6839): application/problem+json,
		// application/vnd.api+json, application/soap+xml are all text.
		if bytes.HasSuffix(sub, []byte("+json")) || bytes.HasSuffix(sub, []byte("+xml")) {
			return true
		}
	}
	return compressibleTypes[string(t)] // no allocation: the compiler sees the conversion is only a lookup key
}

// acceptsGzip reports whether Accept-Encoding header values accept allow a
// gzip-coded response (RFC 9110, 12.5.3): gzip (or its alias x-gzip) with a
// qvalue above 0, or, when gzip is not named, "*" with one. A named coding
// wins over "*", so "*, gzip;q=0" refuses. A malformed qvalue counts as a
// refusal rather than risk bytes the client cannot decode (as the static
// file server does). No header, or an empty one, means identity: RFC 9110
// would allow any coding, but neither nginx nor browsers take it so.
// "identity;q=0" does not matter here: without gzip offered, the body is
// sent as it is, as nginx does, rather than as a 406.
func acceptsGzip(accept []string) bool {
	gz, star := -1, -1 // thousandths; -1 while not named
	for _, v := range accept {
		for v != "" {
			var coding string
			var q int
			coding, q, v = qvalue.Next(v)
			isGzip := strings.EqualFold(coding, "gzip") || strings.EqualFold(coding, "x-gzip")
			if !isGzip && coding != "*" {
				continue
			}
			// Named twice: the most favourable wins, as in the static files.
			if isGzip {
				gz = max(gz, q)
			} else {
				star = max(star, q)
			}
		}
	}
	if gz < 0 {
		gz = star
	}
	return gz > 0
}

// compress gzips all of src into dst and returns the number of bytes it
// wrote to dst. On an error, dst may hold part of a gzip stream. It
// allocates nothing in steady state: writer and read buffer are pooled.
func (c *compressor) compress(dst io.Writer, src io.Reader) (int64, error) {
	g := c.pool.Get().(*gzipState)
	defer func() {
		// Drop dst so a pooled writer does not keep the response alive.
		// zw still points at g.cw, which is fine: Reset replaces it.
		g.cw = countWriter{}
		c.pool.Put(g)
	}()
	g.cw = countWriter{w: dst}
	g.zw.Reset(&g.cw) // also clears an error a failed dst left behind

	var err error
	switch s := src.(type) {
	case *bytes.Reader: // a response held in memory: no copy through buf
		_, err = s.WriteTo(g.zw)
	case *bytes.Buffer:
		_, err = s.WriteTo(g.zw)
	default:
		// Not io.Copy: a WriterTo such as *os.File or io.MultiReader would
		// allocate a buffer of its own for each call, since gzip.Writer
		// has no ReadFrom.
		err = copyThrough(g.zw, src, g.buf)
	}
	if cerr := g.zw.Close(); err == nil {
		err = cerr
	}
	return g.cw.n, err
}

// copyThrough copies r to w through buf until r is exhausted.
func copyThrough(w io.Writer, r io.Reader, buf []byte) error {
	for {
		n, rerr := r.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return werr
			}
		}
		if rerr == io.EOF {
			return nil
		}
		if rerr != nil {
			return rerr
		}
	}
}

// prepareHeader edits the header of a response whose body was compressed
// to n bytes. The ETag becomes weak, as nginx makes it, because the bytes
// it named changed while the content did not: a strong ETag must not match
// two different byte sequences, and a weak one still lets If-None-Match
// revalidate. Accept-Ranges goes because ranges over the gzip bytes are not
// offered (a 206 is never compressed). Vary tells caches the coding
// depends on Accept-Encoding.
func prepareHeader(h http.Header, n int64) {
	h.Set("Content-Encoding", "gzip")
	h.Set("Content-Length", strconv.FormatInt(n, 10))
	h.Del("Accept-Ranges")
	if etags, ok := h["Etag"]; ok {
		et := ""
		if len(etags) > 0 {
			et = strings.TrimSpace(etags[0])
		}
		switch {
		case strings.HasPrefix(et, "W/"):
			// already weak: still true of the compressed bytes
		case strings.HasPrefix(et, `"`):
			h["Etag"] = []string{"W/" + et}
		default:
			// Malformed: nginx drops it too rather than guess what it
			// meant and claim it still holds.
			delete(h, "Etag")
		}
	}
	addVary(h)
}

// addVary adds Accept-Encoding to the Vary header unless it already lists
// it or "*" (which already covers it). prepareHeader calls it for a
// compressed response; the proxy calls it for a response that would have
// been compressed (compressible) but was not because the client did not
// accept gzip, so that a shared cache does not hand this identity copy to
// clients that would have got gzip, or the reverse. It joins the value to
// the app's last Vary line rather than add a line, so the header stays one
// list however it is logged or compared.
func addVary(h http.Header) {
	vary := h["Vary"]
	for _, v := range vary {
		for v != "" {
			var f string
			f, v, _ = strings.Cut(v, ",")
			f = strings.TrimSpace(f)
			if f == "*" || strings.EqualFold(f, "Accept-Encoding") {
				return
			}
		}
	}
	if len(vary) == 0 {
		h["Vary"] = []string{"Accept-Encoding"}
		return
	}
	last := strings.TrimRight(vary[len(vary)-1], " \t,")
	if strings.TrimLeft(last, " \t,") == "" {
		vary[len(vary)-1] = "Accept-Encoding"
	} else {
		vary[len(vary)-1] = last + ", Accept-Encoding"
	}
}
