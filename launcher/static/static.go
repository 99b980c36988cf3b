// Package static is the edge's static file server: it answers for the URL
// prefixes the app's files live under (Django's collected static files, a
// bundler's output…) so those requests never occupy an app worker, the way
// nginx's `location /static/ { alias …; }` or WhiteNoise would.
//
// Files are opened through [os.Root], so no request can read outside a
// mount's directory, not even through a symlink.
package static

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Mount maps a URL path prefix to a directory, so that several trees (the
// collected static files, user uploads…) can be served side by side.
type Mount struct {
	Prefix string // URL path prefix, starting and ending with '/': "/static/"
	Dir    string // directory on disk holding the files under Prefix
}

// String gives the mount back in the --static flag syntax, so errors and logs
// show it the way the user wrote it.
func (m Mount) String() string { return m.Prefix + "=" + m.Dir }

// ParseMount parses the --static flag syntax "/static/=staticfiles" (URL
// prefix, '=', directory), so a bad flag is refused with a reason before
// anything starts. The prefix is normalised to end with '/'; the directory is
// cleaned but left relative, for the caller to resolve against the app
// directory.
func ParseMount(s string) (Mount, error) {
	prefix, dir, ok := strings.Cut(s, "=")
	if !ok {
		return Mount{}, fmt.Errorf("static mount %q: missing '=' between the URL prefix and the directory (want /static/=staticfiles)", s)
	}
	if prefix == "" {
		return Mount{}, fmt.Errorf("static mount %q: empty URL prefix (want /static/=staticfiles)", s)
	}
	if dir == "" {
		return Mount{}, fmt.Errorf("static mount %q: empty directory (want /static/=staticfiles)", s)
	}
	if strings.ContainsRune(dir, 0) {
		return Mount{}, fmt.Errorf("static mount %q: directory contains a NUL byte", s)
	}
	p, err := normalisePrefix(prefix)
	if err != nil {
		return Mount{}, fmt.Errorf("static mount %q: %w", s, err)
	}
	return Mount{Prefix: p, Dir: filepath.Clean(dir)}, nil
}

// normalisePrefix checks that prefix is a clean URL path, matched as is
// against decoded request paths, and makes it end with '/' so "/static"
// never swallows "/staticky".
func normalisePrefix(prefix string) (string, error) {
	if prefix == "" {
		return "", errors.New("empty URL prefix")
	}
	if prefix[0] != '/' {
		return "", fmt.Errorf("URL prefix %q does not start with '/'", prefix)
	}
	for _, c := range prefix {
		switch {
		case c <= ' ' || c == 0x7f:
			return "", fmt.Errorf("URL prefix %q contains a space or control character", prefix)
		case c == '?' || c == '#':
			return "", fmt.Errorf("URL prefix %q contains %q: it must be a path only", prefix, c)
		case c == '%':
			return "", fmt.Errorf("URL prefix %q contains '%%': write it decoded, it is matched against decoded paths", prefix)
		case c == '\\':
			return "", fmt.Errorf("URL prefix %q contains a backslash", prefix)
		}
	}
	if !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	if prefix == "/" {
		return "", errors.New("URL prefix \"/\" would hide the whole app: give the static files a prefix of their own, like /static/")
	}
	for _, seg := range strings.Split(prefix[1:len(prefix)-1], "/") {
		if seg == "" || seg == "." || seg == ".." {
			return "", fmt.Errorf("URL prefix %q is not a clean path (empty, '.' or '..' segment)", prefix)
		}
	}
	return prefix, nil
}

// Server serves the files of its mounts. It is safe for concurrent use. A
// file changed on disk is served changed on the next request; only which
// precompressed siblings a file has is remembered, for a second.
type Server struct {
	mounts   []mount // longest prefix first
	siblings siblingCache
}

type mount struct {
	Mount
	root *os.Root
}

// New opens each mount's directory up front, so a missing or misspelt
// directory stops the boot with a clear error instead of turning every
// static request into a 404. Longest prefix wins when mounts overlap.
func New(mounts []Mount) (*Server, error) {
	s := &Server{siblings: siblingCache{ttl: time.Second, max: 4096}}
	fail := func(err error) (*Server, error) {
		s.Close()
		return nil, err
	}
	for _, m := range mounts {
		p, err := normalisePrefix(m.Prefix)
		if err != nil {
			return fail(fmt.Errorf("static mount %s: %w", m, err))
		}
		m.Prefix = p
		if m.Dir == "" {
			return fail(fmt.Errorf("static mount %s: empty directory", m))
		}
		for _, o := range s.mounts {
			if o.Prefix == p {
				return fail(fmt.Errorf("static mount %s: prefix %s is already mounted from %s", m, p, o.Dir))
			}
		}
		fi, err := os.Stat(m.Dir)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return fail(fmt.Errorf("static mount %s: directory %s does not exist", m, m.Dir))
		case err != nil:
			return fail(fmt.Errorf("static mount %s: %w", m, err))
		case !fi.IsDir():
			return fail(fmt.Errorf("static mount %s: %s is not a directory", m, m.Dir))
		}
		root, err := os.OpenRoot(m.Dir)
		if err != nil {
			return fail(fmt.Errorf("static mount %s: %w", m, err))
		}
		s.mounts = append(s.mounts, mount{Mount: m, root: root})
	}
	slices.SortStableFunc(s.mounts, func(a, b mount) int { return cmp.Compare(len(b.Prefix), len(a.Prefix)) })
	return s, nil
}

// Close releases the mounts' directories; the server answers 404 after it.
func (s *Server) Close() error {
	var errs []error
	for _, m := range s.mounts {
		if err := m.root.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Match reports whether urlPath (the decoded path, r.URL.Path) falls under a
// mount prefix. The edge sends such requests here and never to the app, even
// when no file answers them, so a missing asset cannot wake a worker and a
// path the server refuses cannot reach the app by another route.
func (s *Server) Match(urlPath string) bool {
	return s.find(urlPath) != nil
}

func (s *Server) find(urlPath string) *mount {
	for i := range s.mounts {
		if strings.HasPrefix(urlPath, s.mounts[i].Prefix) {
			return &s.mounts[i]
		}
	}
	return nil
}

// encoding is a precompressed sibling: name+ext holds the file compressed
// with coding.
type encoding struct {
	coding string // Content-Encoding value
	ext    string // file name suffix
	tag    string // ETag suffix, keeping each variant's ETag distinct
	index  int    // in a siblingEntry
}

// ServeHTTP answers GET and HEAD with the file the path names under its
// mount, preferring a precompressed sibling the client accepts, with
// validators, ranges and a cache lifetime that suits the name; anything
// else gets a small plain error from the edge itself.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		plainError(w, http.StatusMethodNotAllowed)
		return
	}
	m := s.find(r.URL.Path)
	if m == nil {
		plainError(w, http.StatusNotFound)
		return
	}
	name, code := cleanName(r.URL.Path[len(m.Prefix):])
	if code != 0 {
		plainError(w, code)
		return
	}

	f, fi, err := openRegular(m.root, name)
	if err != nil {
		plainError(w, errorCode(err))
		return
	}
	defer func() { f.Close() }()

	h := w.Header()
	h.Set("Content-Type", contentType(name))
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", cacheControl(name))

	tag := ""
	qbr, qgz := acceptedEncodings(r.Header.Values("Accept-Encoding"))
	order := [2]encoding{{"br", ".br", "-br", 0}, {"gzip", ".gz", "-gz", 1}}
	q := [2]float64{qbr, qgz}
	if qgz > qbr {
		order[0], order[1] = order[1], order[0]
		q[0], q[1] = q[1], q[0]
	}
	vary := false
	now := time.Now()
	key := siblingKey{m, name}
	known := s.siblings.get(key, now)
	found := known
	for i, e := range order {
		switch known[e.index] {
		case siblingAbsent:
			continue
		case siblingPresent:
			if q[i] <= 0 {
				vary = true // no need to open what will not be sent
				continue
			}
		}
		vf, vfi, err := openRegular(m.root, name+e.ext)
		if err != nil {
			found[e.index] = siblingAbsent
			continue
		}
		found[e.index] = siblingPresent
		vary = true
		if q[i] <= 0 {
			vf.Close()
			continue
		}
		f.Close()
		f, fi, tag = vf, vfi, e.tag
		w = &encodedWriter{ResponseWriter: w, coding: e.coding}
		break
	}
	if found != known {
		s.siblings.put(key, found, now)
	}
	if vary {
		h.Add("Vary", "Accept-Encoding")
	}
	h.Set("Etag", etag(fi, tag))
	// ServeContent evaluates If-None-Match, If-Modified-Since, If-Range and
	// Range, and copies an *os.File with sendfile(2).
	http.ServeContent(w, r, name, fi.ModTime(), f)
}

// encodedWriter adds Content-Encoding as the status is written, only to
// the responses that carry the variant's bytes (200, 206). Set before
// ServeContent, the header would stop it sending Content-Length (and so
// turn the response chunked, off the sendfile path); errors and 304s must
// not carry it either.
type encodedWriter struct {
	http.ResponseWriter
	coding string
	wrote  bool
}

func (w *encodedWriter) WriteHeader(code int) {
	if !w.wrote && (code == http.StatusOK || code == http.StatusPartialContent) {
		w.Header().Set("Content-Encoding", w.coding)
	}
	w.wrote = true
	w.ResponseWriter.WriteHeader(code)
}

func (w *encodedWriter) Write(b []byte) (int, error) {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}

// ReadFrom keeps the sendfile path of the underlying writer reachable.
func (w *encodedWriter) ReadFrom(src io.Reader) (int64, error) {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	return io.Copy(w.ResponseWriter, src)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *encodedWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// cleanName turns the part of the URL path after the prefix into a name
// inside the mount, or says which error status refuses it. Dotfiles and dot
// directories (.env, .git/) are refused anywhere in the path, which also
// covers "." and ".." segments; os.Root would stop an escape anyway, but a
// path that cannot name a servable file is cheaper refused here.
func cleanName(rel string) (name string, code int) {
	if strings.ContainsAny(rel, "\x00\\") {
		return "", http.StatusBadRequest
	}
	if rel == "" {
		return "", http.StatusNotFound // the prefix itself: no listings
	}
	for seg := range strings.SplitSeq(rel, "/") {
		if seg == "" || seg[0] == '.' {
			return "", http.StatusNotFound
		}
	}
	return filepath.FromSlash(rel), 0
}

// openRegular opens name in root, refusing anything but a regular file:
// a directory gets no listing, and a FIFO or device must not block or be read.
func openRegular(root *os.Root, name string) (*os.File, fs.FileInfo, error) {
	f, err := root.OpenFile(name, openFlags, 0)
	if err != nil {
		return nil, nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, nil, fs.ErrNotExist
	}
	return f, fi, nil
}

// errorCode maps an open error to a status. Everything but a permission
// problem reads as "not found": a path that escapes the root, loops or
// names something that is not a file tells the client nothing more.
func errorCode(err error) int {
	if errors.Is(err, fs.ErrPermission) {
		return http.StatusForbidden
	}
	return http.StatusNotFound
}

// plainError writes a short text error from the edge itself, so a refused
// static request never looks like (or reaches) the app.
func plainError(w http.ResponseWriter, code int) {
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	fmt.Fprintf(w, "%d %s\n", code, http.StatusText(code))
}

// etag derives a strong validator from size and modification time, as nginx
// does, without reading the file; tag keeps an encoded variant's ETag apart
// from the original's so a cache never mixes their bytes, even for ranges.
func etag(fi fs.FileInfo, tag string) string {
	b := make([]byte, 0, 48)
	b = append(b, '"')
	b = strconv.AppendInt(b, fi.ModTime().UnixNano(), 16)
	b = append(b, '-')
	b = strconv.AppendInt(b, fi.Size(), 16)
	b = append(b, tag...)
	b = append(b, '"')
	return string(b)
}

// acceptedEncodings returns the qvalues the Accept-Encoding header values
// give brotli and gzip (0 when refused or not offered), following RFC 9110
// section 12.5.3: an explicit coding wins over "*", "x-gzip" means gzip, and
// a malformed qvalue counts as a refusal rather than risk bytes the client
// cannot decode.
func acceptedEncodings(values []string) (br, gz float64) {
	br, gz, star := -1.0, -1.0, -1.0
	for _, v := range values {
		for elem := range strings.SplitSeq(v, ",") {
			coding, params, _ := strings.Cut(elem, ";")
			coding = strings.TrimSpace(coding)
			q := 1.0
			for p := range strings.SplitSeq(params, ";") {
				k, val, ok := strings.Cut(p, "=")
				if !ok || !strings.EqualFold(strings.TrimSpace(k), "q") {
					continue
				}
				q = parseQ(strings.TrimSpace(val))
			}
			switch {
			case strings.EqualFold(coding, "br"):
				br = max(br, q)
			case strings.EqualFold(coding, "gzip"), strings.EqualFold(coding, "x-gzip"):
				gz = max(gz, q)
			case coding == "*":
				star = max(star, q)
			}
		}
	}
	if br < 0 {
		br = star
	}
	if gz < 0 {
		gz = star
	}
	return max(br, 0), max(gz, 0)
}

// parseQ parses an RFC 9110 qvalue: "0", "0.5", "1", "1.000"; anything else
// is 0.
func parseQ(s string) float64 {
	if s == "" || len(s) > 5 || (s[0] != '0' && s[0] != '1') {
		return 0
	}
	if len(s) > 1 && s[1] != '.' {
		return 0
	}
	for _, c := range s[min(2, len(s)):] {
		if c < '0' || c > '9' {
			return 0
		}
	}
	q, err := strconv.ParseFloat(s, 64)
	if err != nil || q > 1 {
		return 0
	}
	return q
}

// cacheControl lets browsers and CDNs keep content-hashed names for a year
// without asking again (a new build gets new names), and keeps every other
// name fresh for only a minute, WhiteNoise's default, so a redeploy shows.
func cacheControl(name string) string {
	if hashedName(filepath.Base(name)) {
		return "public, max-age=31536000, immutable"
	}
	return "public, max-age=60"
}

// hashedName reports whether base carries a content hash just before its
// extension: Django's ManifestStaticFilesStorage writes
// "name.0123abcd89ef.css" (12 hex digits), webpack and vite
// "name.[hash].js" or "name-[hash].js" (8 or more). A precompressed
// sibling's .br/.gz suffix is looked through.
func hashedName(base string) bool {
	for _, z := range []string{".br", ".gz"} {
		base = strings.TrimSuffix(base, z)
	}
	ext := filepath.Ext(base)
	if ext == "" || ext == "." {
		return false
	}
	stem := base[:len(base)-len(ext)]
	i := strings.LastIndexAny(stem, ".-")
	if i <= 0 {
		return false
	}
	hash := stem[i+1:]
	if len(hash) < 8 || len(hash) > 64 {
		return false
	}
	for i := 0; i < len(hash); i++ {
		if c := hash[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
