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
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/corral-run/corral/internal/qvalue"
)

// Mount maps a URL path prefix to a directory, so that several trees (the
// collected static files, user uploads…) can be served side by side. The
// zero values of the fields after Dir give the plain asset mount the
// --static flag makes; the others let the edge serve a whole static site or
// a Rails app's public/ directory.
type Mount struct {
	Prefix string // URL path prefix, starting and ending with '/': "/static/"
	Dir    string // directory on disk holding the files under Prefix

	// Index serves a directory's index.html for a path naming the directory
	// with a trailing slash ("/" → index.html, "/docs/" → docs/index.html),
	// and redirects the path without the slash there (301, query kept), so
	// the page's relative links resolve. A directory without index.html is
	// a 404: there are never listings.
	Index bool

	// Fallback, when not "", names a file relative to Dir ("index.html")
	// served, with status 200 and no-cache, for a GET or HEAD of a path that
	// names no file and whose last segment has no extension: the routes of
	// a single-page app (/users/42) load the app, while a missing asset
	// (/app.js) stays a clear 404. A missing fallback file is a 404 too.
	Fallback string

	// Fallthrough makes Match report only paths that name a regular file
	// under Dir (or, with Index, a directory's index.html), so every other
	// request goes to the app, as nginx's `try_files $uri @app` does for a
	// Rails app's public/ directory. It costs a stat per request under
	// Prefix; it cannot be combined with Fallback, which answers the very
	// paths Fallthrough hands to the app.
	Fallthrough bool
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
	return ParseMountAs("static mount", "/static/=staticfiles", s)
}

// ParseMountAs is ParseMount for another flag of the same syntax (the
// edge's --internal directories): what names the mount in errors
// ("internal mount"), example is a correct value to show.
func ParseMountAs(what, example, s string) (Mount, error) {
	prefix, dir, ok := strings.Cut(s, "=")
	if !ok {
		return Mount{}, fmt.Errorf("%s %q: missing '=' between the URL prefix and the directory (want %s)", what, s, example)
	}
	if prefix == "" {
		return Mount{}, fmt.Errorf("%s %q: empty URL prefix (want %s)", what, s, example)
	}
	if dir == "" {
		return Mount{}, fmt.Errorf("%s %q: empty directory (want %s)", what, s, example)
	}
	if strings.ContainsRune(dir, 0) {
		return Mount{}, fmt.Errorf("%s %q: directory contains a NUL byte", what, s)
	}
	// The flag cannot set Index or Fallthrough, so "/" stays refused.
	p, err := normalisePrefix(prefix, false)
	if err != nil {
		return Mount{}, fmt.Errorf("%s %q: %w", what, s, err)
	}
	return Mount{Prefix: p, Dir: filepath.Clean(dir)}, nil
}

// normalisePrefix checks that prefix is a clean URL path, matched as is
// against decoded request paths, and makes it end with '/' so "/static"
// never swallows "/staticky". "/" is refused unless allowRoot: only a mount
// that serves a whole site (Index) or hands misses to the app (Fallthrough)
// may sit in front of every path.
func normalisePrefix(prefix string, allowRoot bool) (string, error) {
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
		if allowRoot {
			return prefix, nil
		}
		return "", errors.New("URL prefix \"/\" would hide the whole app: give the static files a prefix of their own, like /static/")
	}
	for _, seg := range strings.Split(prefix[1:len(prefix)-1], "/") {
		if seg == "" || seg == "." || seg == ".." {
			return "", fmt.Errorf("URL prefix %q is not a clean path (empty, '.' or '..' segment)", prefix)
		}
	}
	return prefix, nil
}

// Server serves the files of its mounts. It is safe for concurrent use. What
// it found on disk is remembered for a second (see fileCache): a file
// changed, added or removed is served as it is now by a second later.
type Server struct {
	mounts   []mount // longest prefix first
	siblings siblingCache
	cache    *fileCache
	headers  fixedHeaders
}

// mount is an open Mount.
type mount struct {
	Mount
	root     *os.Root
	fallback string // Fallback as a name inside root; "" for none
}

// New opens each mount's directory up front, so a missing or misspelt
// directory stops the boot with a clear error instead of turning every
// static request into a 404. Longest prefix wins when mounts overlap.
func New(mounts []Mount) (*Server, error) {
	s := &Server{siblings: siblingCache{ttl: time.Second, max: 4096}, cache: newFileCache(), headers: newFixedHeaders()}
	fail := func(err error) (*Server, error) {
		s.Close()
		return nil, err
	}
	for _, m := range mounts {
		p, err := normalisePrefix(m.Prefix, m.Index || m.Fallthrough)
		if err != nil {
			return fail(fmt.Errorf("static mount %s: %w", m, err))
		}
		m.Prefix = p
		if m.Dir == "" {
			return fail(fmt.Errorf("static mount %s: empty directory", m))
		}
		fallback := ""
		if m.Fallback != "" {
			if m.Fallthrough {
				return fail(fmt.Errorf("static mount %s: Fallback %q and Fallthrough both claim the paths that name no file: choose one", m, m.Fallback))
			}
			// "/index.html" is accepted too, the way try_files writes it.
			name, code := cleanName(strings.TrimPrefix(m.Fallback, "/"))
			if code != 0 {
				return fail(fmt.Errorf("static mount %s: Fallback %q is not a file name inside the directory (no empty, '.', '..' or dot segment, no backslash)", m, m.Fallback))
			}
			fallback = name
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
		s.mounts = append(s.mounts, mount{Mount: m, root: root, fallback: fallback})
	}
	slices.SortStableFunc(s.mounts, func(a, b mount) int { return cmp.Compare(len(b.Prefix), len(a.Prefix)) })
	return s, nil
}

// Close releases the mounts' directories; the server answers 404 after it.
func (s *Server) Close() error {
	s.cache.close()
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
// path the server refuses cannot reach the app by another route. Only the
// longest matching prefix is asked: on a Fallthrough mount, Match is true
// only when the path names a regular file there, and every other path,
// refused names included, goes to the app rather than to a shorter mount.
func (s *Server) Match(urlPath string) bool {
	m := s.find(urlPath)
	return m != nil && (!m.Fallthrough || s.exists(m, urlPath[len(m.Prefix):]))
}

// exists reports whether rel names a regular file in m (with Index, a
// directory's index.html), found as ServeHTTP finds it: through the
// open-file cache, so that the request Match hands to ServeHTTP finds the
// file loaded, and a file asked for again costs no look at the disk.
// Paths that name no file (the app's routes) are looked for on each
// request.
func (s *Server) exists(m *mount, rel string) bool {
	name, code := m.name(rel)
	if code != 0 {
		return false
	}
	_, err := s.cache.lookup(m, name)
	return err == nil
}

// find returns the mount with the longest prefix of urlPath, or nil.
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
// validators, ranges and a cache lifetime that suits the name; a mount's
// Index and Fallback answer the paths that name a directory or nothing;
// anything else gets a small plain error from the edge itself.
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
	rel := r.URL.Path[len(m.Prefix):]
	name, code := m.name(rel)
	if code != 0 {
		plainError(w, code)
		return
	}
	if err := s.serveCached(w, r, m, name, nil); err != nil {
		s.miss(w, r, m, rel, name, err)
	}
}

// miss answers a path whose name opened no regular file (err says why): a
// directory named without its slash is redirected to it when Index has an
// index.html to serve there, a path without an extension gets the mount's
// Fallback, and anything else the error's status.
func (s *Server) miss(w http.ResponseWriter, r *http.Request, m *mount, rel, name string, err error) {
	code := errorCode(err)
	if code != http.StatusNotFound {
		plainError(w, code)
		return
	}
	var nr notRegularError
	if m.Index && errors.As(err, &nr) && nr.dir && !strings.HasSuffix(rel, "/") && rel != "" {
		// Checked first, so a directory without an index is a 404 (or the
		// fallback) here rather than a redirect to one.
		if fi, err := m.root.Stat(filepath.Join(name, "index.html")); err == nil && fi.Mode().IsRegular() {
			redirect(w, r)
			return
		}
	}
	if m.fallback != "" && path.Ext(rel[strings.LastIndexByte(rel, '/')+1:]) == "" {
		// The app shell must revalidate whatever its name, so a deploy
		// reaches every client route at once.
		if err := s.serveCached(w, r, m, m.fallback, s.headers.noCache); err != nil {
			plainError(w, errorCode(err))
		}
		return
	}
	plainError(w, code)
}

// redirect sends the client to the request's path with a slash added, the
// query kept, as nginx does for a directory: 301, since only GET and HEAD
// get here. The path comes from the request, already checked by cleanName
// (so it starts with one '/' and a name, never "//host"), and is escaped;
// the query's bytes outside printable ASCII are escaped so the Location
// header cannot be split.
func redirect(w http.ResponseWriter, r *http.Request) {
	loc := r.URL.EscapedPath() + "/"
	if q := r.URL.RawQuery; q != "" {
		loc += "?" + escapeCTL(q)
	}
	w.Header().Set("Location", loc)
	plainError(w, http.StatusMovedPermanently)
}

// escapeCTL percent-escapes the bytes of s outside printable ASCII (and
// space), leaving everything else as the client sent it.
func escapeCTL(s string) string {
	const hex = "0123456789ABCDEF"
	var b []byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c > ' ' && c < 0x7f {
			if b != nil {
				b = append(b, c)
			}
			continue
		}
		if b == nil {
			b = append(make([]byte, 0, len(s)+8), s[:i]...)
		}
		b = append(b, '%', hex[c>>4], hex[c&15])
	}
	if b == nil {
		return s
	}
	return string(b)
}

// serve sends f (fi, opened as name under m) or a precompressed sibling the
// client accepts, with validators, ranges and the Cache-Control cc; it
// closes f.
func (s *Server) serve(w http.ResponseWriter, r *http.Request, m *mount, name string, f *os.File, fi fs.FileInfo, cc string) {
	defer func() { f.Close() }()

	h := w.Header()
	if _, ok := h["Content-Type"]; !ok { // ServeFile's caller may have chosen one
		h.Set("Content-Type", contentType(name))
	}
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", cc)

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

// name is cleanName for m: with Index, a path naming a directory with its
// trailing slash (or the prefix itself) names the directory's index.html.
func (m *mount) name(rel string) (string, int) {
	if m.Index && (rel == "" || rel[len(rel)-1] == '/') {
		rel += "index.html"
	}
	return cleanName(rel)
}

// notRegularError is openRegular's refusal of something that is not a
// regular file. It reads as fs.ErrNotExist, so it is a 404 like any missing
// file; dir lets Index redirect a directory named without its slash.
type notRegularError struct{ dir bool }

// Error says what was found instead of a file.
func (e notRegularError) Error() string {
	if e.dir {
		return "is a directory"
	}
	return "not a regular file"
}

// Is makes errors.Is(err, fs.ErrNotExist) true, the status it gets.
func (e notRegularError) Is(target error) bool { return target == fs.ErrNotExist }

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
		return nil, nil, notRegularError{dir: fi.IsDir()}
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
		for v != "" {
			var coding string
			var thousandths int
			coding, thousandths, v = qvalue.Next(v)
			q := float64(thousandths) / 1000
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

// cacheControl lets browsers and CDNs keep content-hashed names for a year
// without asking again (a new build gets new names), makes HTML pages
// revalidate on every use (a page names the build's assets, so a stale page
// would keep the old build alive; the ETag makes asking a cheap 304), and
// keeps every other name fresh for only a minute, WhiteNoise's default, so
// a redeploy shows.
func cacheControl(name string) string {
	base := filepath.Base(name)
	if hashedName(base) {
		return "public, max-age=31536000, immutable"
	}
	if isHTML(base) {
		return "no-cache"
	}
	return "public, max-age=60"
}

// isHTML reports whether base names an HTML page, or a precompressed
// sibling of one requested directly.
func isHTML(base string) bool {
	for _, z := range []string{".br", ".gz"} {
		base = strings.TrimSuffix(base, z)
	}
	ext := filepath.Ext(base)
	return strings.EqualFold(ext, ".html") || strings.EqualFold(ext, ".htm")
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
