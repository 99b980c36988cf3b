package edge

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
)

// TestAcceptsGzip covers Accept-Encoding parsing: qvalues, "*", aliases,
// case, malformed values (refusals), and several header lines.
func TestAcceptsGzip(t *testing.T) {
	tests := []struct {
		accept []string
		want   bool
	}{
		{[]string{"gzip"}, true},
		{[]string{"GZIP"}, true},
		{[]string{"x-gzip"}, true},
		{[]string{" gzip ; Q=1 "}, true},
		{[]string{"gzip, deflate, br, zstd"}, true},
		{[]string{"br, gzip;q=0.1"}, true},
		{[]string{"gzip;q=0"}, false},
		{[]string{"gzip; q=0.0"}, false},
		{[]string{"gzip;q=0.000"}, false},
		{[]string{"gzip;q=0."}, false},
		{[]string{"gzip;q=0.001"}, true},
		{[]string{"gzip;q=1.000"}, true},
		{[]string{"gzip;q=0.5;foo=bar"}, true},
		{[]string{"gzip;level"}, true}, // a parameter that is not q is ignored
		{[]string{"*"}, true},
		{[]string{"*;q=0.5"}, true},
		{[]string{"*;q=0"}, false},
		{[]string{"*, gzip;q=0"}, false}, // a named coding wins over *
		{[]string{"gzip;q=0, *"}, false},
		{[]string{"*;q=0, gzip"}, true},
		{[]string{"identity"}, false},
		{[]string{"identity;q=0"}, false},
		{[]string{"gzip, identity;q=0"}, true},
		{[]string{"identity;q=0, *;q=0"}, false},
		{[]string{"br"}, false},
		{[]string{"br", "gzip"}, true}, // two header lines
		{[]string{"br", "gzip;q=0"}, false},
		{[]string{""}, false},
		{nil, false},
		{[]string{" , ,"}, false},
		{[]string{"gzipx, xgzip, gz"}, false},
		{[]string{"gzip;q=x"}, false}, // malformed q: refused
		{[]string{"gzip;q="}, false},
		{[]string{"gzip;q=1.5"}, false},
		{[]string{"gzip;q=1.001"}, false},
		{[]string{"gzip;q=0.0001"}, false},
		{[]string{"gzip;q=-1"}, false},
		{[]string{"gzip;q=1e-3"}, false},
		{[]string{"gzip;q=.5"}, false},
		{[]string{"*;q=NaN"}, false},
		{[]string{"gzip;q=0, gzip;q=0.5"}, true}, // named twice: the best wins
	}
	for _, tt := range tests {
		if got := acceptsGzip(tt.accept); got != tt.want {
			t.Errorf("acceptsGzip(%q) = %v, want %v", tt.accept, got, tt.want)
		}
	}
}

// TestCompressibleType covers the list of types worth compressing.
func TestCompressibleType(t *testing.T) {
	yes := []string{
		"text/html", "text/html; charset=utf-8", "TEXT/HTML;charset=UTF-8", " text/css ",
		"text/plain", "text/javascript", "text/csv", "text/xml", "text/markdown",
		"application/json", "Application/JSON; charset=utf-8", "application/javascript",
		"application/x-javascript", "application/xml", "application/xhtml+xml",
		"application/rss+xml", "application/atom+xml", "application/ld+json",
		"application/manifest+json", "application/problem+json", "application/vnd.api+json",
		"image/svg+xml", "application/wasm", "font/ttf", "font/otf",
		"application/vnd.ms-fontobject",
	}
	no := []string{
		"", ";", "text", "text/", "/html", "html",
		"image/png", "image/jpeg", "image/webp", "image/avif", "image/gif", "image/x-icon",
		"video/mp4", "audio/mpeg", "application/zip", "application/gzip", "application/x-gzip",
		"font/woff", "font/woff2", "application/font-woff", "application/octet-stream",
		"application/pdf", "multipart/form-data; boundary=x", "text/event-stream",
		"application/jsonx", "image/svg+xml-ish", "application/+jsonp",
		"text/" + strings.Repeat("x", 100), // too long to be in the list
	}
	for _, ct := range yes {
		if !compressibleType(ct) {
			t.Errorf("compressibleType(%q) = false, want true", ct)
		}
	}
	for _, ct := range no {
		if compressibleType(ct) {
			t.Errorf("compressibleType(%q) = true, want false", ct)
		}
	}
}

// TestChoose checks each rule of choose against a response it would
// compress, changing one thing at a time.
func TestChoose(t *testing.T) {
	base := func() http.Header {
		return http.Header{"Content-Type": {"text/html; charset=utf-8"}}
	}
	with := func(kv ...string) http.Header {
		h := base()
		for i := 0; i < len(kv); i += 2 {
			if kv[i+1] == "" && kv[i] == "Content-Type" {
				delete(h, kv[i])
				continue
			}
			h.Set(kv[i], kv[i+1])
		}
		return h
	}
	gz := []string{"gzip, deflate, br"}
	tests := []struct {
		name    string
		min     int64
		accept  []string
		h       http.Header
		status  int
		size    int64
		want    bool
		explain string
	}{
		{name: "compressed", accept: gz, h: base(), status: 200, size: 2048, want: true},
		{name: "at min size", accept: gz, h: base(), status: 200, size: 1024, want: true},
		{name: "below default min", accept: gz, h: base(), status: 200, size: 1023},
		{name: "empty", accept: gz, h: base(), status: 200, size: 0},
		{name: "negative size", accept: gz, h: base(), status: 200, size: -1},
		{name: "custom min", min: 4096, accept: gz, h: base(), status: 200, size: 4095},
		{name: "custom min met", min: 4096, accept: gz, h: base(), status: 200, size: 4096, want: true},
		{name: "small custom min", min: 10, accept: gz, h: base(), status: 200, size: 10, want: true},
		{name: "no gzip", accept: []string{"br"}, h: base(), status: 200, size: 2048},
		{name: "no accept", h: base(), status: 200, size: 2048},
		{name: "gzip q=0", accept: []string{"gzip;q=0"}, h: base(), status: 200, size: 2048},
		{name: "star", accept: []string{"*"}, h: base(), status: 200, size: 2048, want: true},
		{name: "206", accept: gz, h: base(), status: 206, size: 2048},
		{name: "404", accept: gz, h: base(), status: 404, size: 2048},
		{name: "201", accept: gz, h: base(), status: 201, size: 2048},
		{name: "already gzip", accept: gz, h: with("Content-Encoding", "gzip"), status: 200, size: 2048},
		{name: "already br", accept: gz, h: with("Content-Encoding", "br"), status: 200, size: 2048},
		{name: "unknown encoding", accept: gz, h: with("Content-Encoding", "x-custom"), status: 200, size: 2048},
		{name: "blank encoding", accept: gz, h: with("Content-Encoding", " "), status: 200, size: 2048, want: true},
		{name: "content range", accept: gz, h: with("Content-Range", "bytes 0-2047/4096"), status: 200, size: 2048},
		{name: "content digest", accept: gz, h: with("Content-Digest", "sha-256=:x:"), status: 200, size: 2048},
		{name: "no-transform", accept: gz, h: with("Cache-Control", "public, No-Transform"), status: 200, size: 2048},
		{name: "no-transform alone", accept: gz, h: with("Cache-Control", "no-transform"), status: 200, size: 2048},
		{name: "other cache control", accept: gz, h: with("Cache-Control", "public, max-age=60, no-store"), status: 200, size: 2048, want: true},
		{name: "png", accept: gz, h: with("Content-Type", "image/png"), status: 200, size: 2048},
		{name: "woff2", accept: gz, h: with("Content-Type", "font/woff2"), status: 200, size: 2048},
		{name: "octet stream", accept: gz, h: with("Content-Type", "application/octet-stream"), status: 200, size: 2048},
		{name: "no content type", accept: gz, h: with("Content-Type", ""), status: 200, size: 2048},
		{name: "json", accept: gz, h: with("Content-Type", "application/json"), status: 200, size: 2048, want: true},
		{name: "svg", accept: gz, h: with("Content-Type", "image/svg+xml"), status: 200, size: 2048, want: true},
	}
	for _, tt := range tests {
		c := newCompressor(tt.min)
		if got := c.choose(tt.accept, tt.h, tt.status, tt.size); got != tt.want {
			t.Errorf("%s: choose(%q, %v, %d, %d) = %v, want %v", tt.name, tt.accept, tt.h, tt.status, tt.size, got, tt.want)
		}
		// compressible is choose without the client's half.
		if tt.want && !c.compressible(tt.h, tt.status, tt.size) {
			t.Errorf("%s: chosen but not compressible", tt.name)
		}
	}
}

// TestChooseDoesNotAllocate: choose runs on every proxied response.
func TestChooseDoesNotAllocate(t *testing.T) {
	c := newCompressor(0)
	h := http.Header{
		"Content-Type":  {"Application/Problem+JSON; charset=utf-8"},
		"Cache-Control": {"public, max-age=60"},
	}
	accept := []string{"br;q=1.0, gzip;q=0.8, *;q=0.1"}
	if n := testing.AllocsPerRun(100, func() {
		if !c.choose(accept, h, 200, 4096) {
			t.Fatal("not chosen")
		}
	}); n != 0 {
		t.Errorf("choose: %v allocations, want 0", n)
	}
}

// gzHTML returns n bytes of HTML-like text: a table of orders, varied
// enough not to compress absurdly well.
func gzHTML(n int) []byte {
	var b bytes.Buffer
	b.WriteString("<!doctype html><html><head><title>Orders</title><link rel=stylesheet href=/static/app.3f9a.css></head><body><table>\n")
	names := []string{"Alice Martin", "Bob Ng", "Chidi Okafor", "Dana Wu", "Émile Zola", "Fatima Khan"}
	for i := 0; b.Len() < n; i++ {
		fmt.Fprintf(&b, "<tr class=\"row-%d\"><td><a href=\"/orders/%d/\">Order #%d</a></td><td>%s</td><td data-total=\"%d.%02d\">$%d.%02d</td></tr>\n",
			i%2, 1000+i*7919%100000, 1000+i*7919%100000, names[i*31%len(names)], i*37%500, i*13%100, i*37%500, i*13%100)
	}
	return b.Bytes()[:n]
}

// gzRead decompresses a whole gzip stream.
func gzRead(t testing.TB, z []byte) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(z))
	if err != nil {
		t.Fatalf("gzip.NewReader: %v", err)
	}
	zr.Multistream(false)
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatalf("decompressing: %v", err)
	}
	if _, err := zr.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("trailing data after the gzip stream: %v", err)
	}
	return out
}

// gzOnlyReader hides a reader's other methods, as a file-backed body would.
type gzOnlyReader struct{ io.Reader }

// TestCompressRoundTrip compresses bodies held in memory, in a file, and
// behind a plain reader, and checks the reported length and the bytes.
func TestCompressRoundTrip(t *testing.T) {
	c := newCompressor(0)
	rnd := make([]byte, 100<<10)
	for i := range rnd {
		rnd[i] = byte(rand.Uint32())
	}
	bodies := map[string][]byte{
		"empty":       {},
		"1KiB":        gzHTML(1 << 10),
		"1MiB":        gzHTML(1 << 20),
		"random100K":  rnd, // incompressible: stored blocks
		"odd size":    gzHTML(32<<10 + 17),
		"exactly buf": gzHTML(32 << 10),
	}
	for name, src := range bodies {
		f, err := os.CreateTemp(t.TempDir(), "body")
		if err != nil {
			t.Fatal(err)
		}
		f.Write(src)
		readers := map[string]io.Reader{
			"bytes.Reader":  bytes.NewReader(src),
			"bytes.Buffer":  bytes.NewBuffer(slices.Clone(src)),
			"SectionReader": io.NewSectionReader(f, 0, int64(len(src))),
			"plain":         gzOnlyReader{bytes.NewReader(src)},
		}
		for rname, r := range readers {
			var dst bytes.Buffer
			n, err := c.compress(&dst, r)
			if err != nil {
				t.Fatalf("%s/%s: %v", name, rname, err)
			}
			if n != int64(dst.Len()) {
				t.Errorf("%s/%s: returned %d, wrote %d", name, rname, n, dst.Len())
			}
			if got := gzRead(t, dst.Bytes()); !bytes.Equal(got, src) {
				t.Errorf("%s/%s: round trip gave %d bytes, want the %d sent", name, rname, len(got), len(src))
			}
			if strings.HasPrefix(name, "1MiB") && n > int64(len(src))/4 {
				t.Errorf("%s/%s: compressed to %d bytes of %d: level too low?", name, rname, n, len(src))
			}
		}
		f.Close()
	}
}

// gzFailWriter fails after accepting limit bytes.
type gzFailWriter struct{ limit int }

func (w *gzFailWriter) Write(p []byte) (int, error) {
	if len(p) > w.limit {
		n := w.limit
		w.limit = 0
		return n, errors.New("disk full")
	}
	w.limit -= len(p)
	return len(p), nil
}

// gzFailReader returns data, then an error.
type gzFailReader struct{ n int }

func (r *gzFailReader) Read(p []byte) (int, error) {
	if r.n <= 0 {
		return 0, errors.New("upstream reset")
	}
	n := min(len(p), r.n)
	clear(p[:n])
	r.n -= n
	return n, nil
}

// TestCompressErrors checks that a failing destination or source is
// reported, and that the pooled writer it used still works afterwards.
func TestCompressErrors(t *testing.T) {
	c := newCompressor(0)
	src := gzHTML(256 << 10)
	if _, err := c.compress(&gzFailWriter{limit: 100}, bytes.NewReader(src)); err == nil {
		t.Error("failing writer: no error")
	}
	if _, err := c.compress(io.Discard, &gzFailReader{n: 50 << 10}); err == nil || err.Error() != "upstream reset" {
		t.Errorf("failing reader: %v, want upstream reset", err)
	}
	// The same goroutine gets the same pooled state back (usually): it
	// must not carry the failure, or the old destination, over.
	for range 4 {
		var dst bytes.Buffer
		n, err := c.compress(&dst, bytes.NewReader(src))
		if err != nil || n != int64(dst.Len()) || !bytes.Equal(gzRead(t, dst.Bytes()), src) {
			t.Fatalf("after failures: n=%d len=%d err=%v", n, dst.Len(), err)
		}
	}
}

// TestCompressConcurrent shares one compressor between goroutines, each
// with its own body; run with -race. Crossed pooled state would show as a
// wrong body or length.
func TestCompressConcurrent(t *testing.T) {
	c := newCompressor(0)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 8 {
		wg.Go(func() {
			for i := range 20 {
				src := gzHTML(1024 + (g*20+i)*997%(48<<10))
				src = append(src, fmt.Sprintf("<!-- %d.%d -->", g, i)...)
				var dst bytes.Buffer
				var r io.Reader = bytes.NewReader(src)
				if i%2 == 1 {
					r = gzOnlyReader{r}
				}
				n, err := c.compress(&dst, r)
				if err != nil {
					errs <- err
					return
				}
				zr, err := gzip.NewReader(&dst)
				if err != nil {
					errs <- err
					return
				}
				got, err := io.ReadAll(zr)
				if err != nil || !bytes.Equal(got, src) || n <= 0 {
					errs <- fmt.Errorf("goroutine %d, body %d: n=%d err=%v equal=%v", g, i, n, err, bytes.Equal(got, src))
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestPrepareHeader checks the header of a compressed response.
func TestPrepareHeader(t *testing.T) {
	tests := []struct {
		name string
		in   http.Header
		want http.Header
	}{
		{
			name: "plain",
			in:   http.Header{"Content-Type": {"text/html"}, "Content-Length": {"5000"}, "Accept-Ranges": {"bytes"}},
			want: http.Header{"Content-Type": {"text/html"}, "Content-Length": {"1234"}, "Content-Encoding": {"gzip"}, "Vary": {"Accept-Encoding"}},
		},
		{
			name: "strong etag weakened",
			in:   http.Header{"Etag": {`"abc123"`}},
			want: http.Header{"Etag": {`W/"abc123"`}, "Content-Length": {"1234"}, "Content-Encoding": {"gzip"}, "Vary": {"Accept-Encoding"}},
		},
		{
			name: "weak etag kept",
			in:   http.Header{"Etag": {`W/"abc123"`}},
			want: http.Header{"Etag": {`W/"abc123"`}, "Content-Length": {"1234"}, "Content-Encoding": {"gzip"}, "Vary": {"Accept-Encoding"}},
		},
		{
			name: "malformed etag dropped",
			in:   http.Header{"Etag": {`abc123`}},
			want: http.Header{"Content-Length": {"1234"}, "Content-Encoding": {"gzip"}, "Vary": {"Accept-Encoding"}},
		},
		{
			name: "vary merged",
			in:   http.Header{"Vary": {"Cookie"}},
			want: http.Header{"Vary": {"Cookie, Accept-Encoding"}, "Content-Length": {"1234"}, "Content-Encoding": {"gzip"}},
		},
		{
			name: "vary already lists it",
			in:   http.Header{"Vary": {"Cookie, accept-encoding"}},
			want: http.Header{"Vary": {"Cookie, accept-encoding"}, "Content-Length": {"1234"}, "Content-Encoding": {"gzip"}},
		},
		{
			name: "blank content encoding replaced",
			in:   http.Header{"Content-Encoding": {""}},
			want: http.Header{"Content-Length": {"1234"}, "Content-Encoding": {"gzip"}, "Vary": {"Accept-Encoding"}},
		},
	}
	for _, tt := range tests {
		prepareHeader(tt.in, 1234)
		if fmt.Sprint(tt.in) != fmt.Sprint(tt.want) {
			t.Errorf("%s:\n got %v\nwant %v", tt.name, tt.in, tt.want)
		}
	}
}

// TestAddVary checks the Vary merge on its own, as the proxy uses it for
// responses it did not compress.
func TestAddVary(t *testing.T) {
	tests := []struct {
		in   []string // nil: no Vary
		want []string
	}{
		{nil, []string{"Accept-Encoding"}},
		{[]string{""}, []string{"Accept-Encoding"}},
		{[]string{" , "}, []string{"Accept-Encoding"}},
		{[]string{"Cookie"}, []string{"Cookie, Accept-Encoding"}},
		{[]string{"Cookie, "}, []string{"Cookie, Accept-Encoding"}},
		{[]string{"Origin", "Cookie"}, []string{"Origin", "Cookie, Accept-Encoding"}},
		{[]string{"Accept-Encoding"}, []string{"Accept-Encoding"}},
		{[]string{"ACCEPT-ENCODING"}, []string{"ACCEPT-ENCODING"}},
		{[]string{"Origin", "Cookie,Accept-Encoding"}, []string{"Origin", "Cookie,Accept-Encoding"}},
		{[]string{"*"}, []string{"*"}},
		{[]string{"Cookie, *"}, []string{"Cookie, *"}},
		{[]string{"Accept-Encodings"}, []string{"Accept-Encodings, Accept-Encoding"}},
	}
	for _, tt := range tests {
		h := http.Header{}
		if tt.in != nil {
			h["Vary"] = slices.Clone(tt.in)
		}
		addVary(h)
		addVary(h) // twice is once
		if !slices.Equal(h["Vary"], tt.want) {
			t.Errorf("addVary(%q) = %q, want %q", tt.in, h["Vary"], tt.want)
		}
	}
}

// FuzzChoose feeds choose random Accept-Encoding, Content-Type and Vary
// values: it must not panic, must never choose gzip for a client that did
// not mention gzip or "*", and must agree with its two halves; the header
// edits must leave Vary covering Accept-Encoding.
func FuzzChoose(f *testing.F) {
	for _, s := range [][3]string{
		{"gzip", "text/html", ""},
		{"br, gzip;q=0.1", "application/json; charset=utf-8", "Cookie"},
		{"*;q=0.5", "IMAGE/SVG+XML", "*"},
		{"gzip;q=0", "text/plain", "Accept-Encoding"},
		{"identity;q=0, *;q=0", "application/problem+json", ","},
		{"x-gzip;q=1.000, gzip;q=", "font/woff2", " , Origin ,"},
		{"gzip;q=0.5;q=0", "text/", "accept-encoding"},
		{";;,,=;q", ";", ""},
	} {
		f.Add(s[0], s[1], s[2])
	}
	c := newCompressor(0)
	f.Fuzz(func(t *testing.T, accept, ctype, vary string) {
		h := http.Header{"Content-Type": {ctype}}
		if vary != "" {
			h["Vary"] = []string{vary}
		}
		acc := []string{accept}
		got := c.choose(acc, h, 200, 4096)
		low := strings.ToLower(accept)
		if got && !strings.Contains(low, "gzip") && !strings.Contains(accept, "*") {
			t.Fatalf("chose gzip for Accept-Encoding %q", accept)
		}
		if got != (acceptsGzip(acc) && compressibleType(ctype)) {
			t.Fatalf("choose = %v, halves disagree", got)
		}
		// Split across lines the same way, the answer is the same.
		if split := strings.Split(accept, ","); acceptsGzip(split) != acceptsGzip(acc) {
			t.Fatalf("Accept-Encoding %q as %d lines changed the answer", accept, len(split))
		}
		if got {
			prepareHeader(h, 100)
			if h.Get("Content-Encoding") != "gzip" || h.Get("Content-Length") != "100" {
				t.Fatalf("header after prepareHeader: %v", h)
			}
		} else {
			addVary(h)
		}
		if !hasDirective(h["Vary"], "Accept-Encoding") && !hasDirective(h["Vary"], "*") {
			t.Fatalf("Vary %q does not cover Accept-Encoding (was %q)", h["Vary"], vary)
		}
	})
}

// BenchmarkCompress64KiB measures compressing a 64 KiB HTML page held in
// memory, as most buffered responses are. In steady state the pool should
// make it allocation-free.
func BenchmarkCompress64KiB(b *testing.B) {
	gzBenchCompress(b, 64<<10)
}

// BenchmarkCompress1KiB measures the smallest body compressed by default,
// where the cost of resetting the pooled writer shows most.
func BenchmarkCompress1KiB(b *testing.B) {
	gzBenchCompress(b, 1<<10)
}

// gzBenchCompress compresses an n-byte HTML-like body per iteration.
func gzBenchCompress(b *testing.B, n int) {
	c := newCompressor(0)
	src := gzHTML(n)
	var dst bytes.Buffer
	c.compress(&dst, bytes.NewReader(src)) // warm the pool and dst
	r := bytes.NewReader(src)
	b.SetBytes(int64(n))
	b.ReportAllocs()
	for b.Loop() {
		dst.Reset()
		r.Reset(src)
		if _, err := c.compress(&dst, r); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(dst.Len())/float64(n), "ratio")
}
