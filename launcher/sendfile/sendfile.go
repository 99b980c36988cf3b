// Package sendfile serves the files an app hands to the edge instead of
// sending them itself: a response carrying X-Accel-Redirect (nginx's
// header: django-sendfile2's nginx backend, Rails' x_accel_redirect) or
// X-Sendfile (Apache's mod_xsendfile: django-sendfile2's xsendfile
// backend, Rails' x_sendfile_header) is replaced by the file it names, so
// the app checks who may download a file and the edge does the sending,
// with validators and ranges, without a worker held for the transfer.
//
// The files live in internal directories (--internal /protected/=DIR):
// clients never reach them by their own requests, and nothing outside
// them is served, whatever the header says: no traversal, no symlink out
// (os.Root, through package static).
package sendfile

import (
	"errors"
	"fmt"
	"io/fs"
	"mime"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/corral-run/corral/launcher/static"
)

// The response headers an app names a file with.
const (
	AccelRedirect = "X-Accel-Redirect" // a URL path under an internal prefix, percent-encoded
	Sendfile      = "X-Sendfile"       // an absolute file path inside an internal directory
)

// Named reports whether an app's response header names a file for the
// edge to send: the test the edge makes of every response. It does, with
// no internal directory too: such a response is an error, not the app's
// empty answer passed on.
func (f *Files) Named(h http.Header) bool {
	return h[AccelRedirect] != nil || h[Sendfile] != nil
}

// ParseMount parses the --internal flag syntax, the same as --static's:
// "/protected/=private_media" (URL prefix, '=', directory). The directory
// is left as written, for the caller to resolve against the app directory.
func ParseMount(s string) (static.Mount, error) {
	return static.ParseMountAs("internal mount", "/protected/=private_media", s)
}

// Files serves the files of the internal directories. It is safe for
// concurrent use.
type Files struct {
	srv    *static.Server
	mounts []mount // longest prefix first
}

// mount is an internal directory, with the absolute paths an X-Sendfile
// may name it by.
type mount struct {
	static.Mount
	dirs []string // the directory as given (absolute), and with its symlinks resolved
}

// New opens the internal directories, which must exist, so that a
// misspelt one stops the start rather than turning every download into a
// 404. Relative directories are taken from the working directory: give
// them resolved.
func New(mounts []static.Mount) (*Files, error) {
	f := &Files{}
	for _, m := range mounts {
		dir, err := filepath.Abs(m.Dir)
		if err != nil {
			return nil, fmt.Errorf("internal mount %s: %w", m, err)
		}
		fi, err := os.Stat(dir)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return nil, fmt.Errorf("internal mount %s: directory %s does not exist", m, dir)
		case err != nil:
			return nil, fmt.Errorf("internal mount %s: %w", m, err)
		case !fi.IsDir():
			return nil, fmt.Errorf("internal mount %s: %s is not a directory", m, dir)
		}
		dirs := []string{dir}
		// An app may name a file by the directory's real path (Python's
		// Path.resolve, Ruby's File.realpath) or by the one it was given.
		if real, err := filepath.EvalSymlinks(dir); err == nil && real != dir {
			dirs = append(dirs, real)
		}
		m.Dir = dir
		f.mounts = append(f.mounts, mount{Mount: m, dirs: dirs})
	}
	plain := make([]static.Mount, len(f.mounts))
	for i, m := range f.mounts {
		plain[i] = m.Mount
	}
	srv, err := static.New(plain)
	if err != nil {
		return nil, fmt.Errorf("internal %w", err) // "internal static mount …: prefix … is already mounted"
	}
	f.srv = srv
	slices.SortStableFunc(f.mounts, func(a, b mount) int { return len(b.Prefix) - len(a.Prefix) })
	return f, nil
}

// Close releases the directories.
func (f *Files) Close() error { return f.srv.Close() }

// Mounts returns the internal directories, resolved, longest prefix first.
func (f *Files) Mounts() []static.Mount {
	ms := make([]static.Mount, len(f.mounts))
	for i, m := range f.mounts {
		ms[i] = m.Mount
	}
	return ms
}

// Match reports whether a client's request path (decoded) falls under an
// internal prefix: the edge answers it 404 itself, as nginx answers a
// request for an `internal` location, and the app never sees it.
func (f *Files) Match(urlPath string) bool {
	for _, m := range f.mounts {
		if strings.HasPrefix(urlPath, m.Prefix) {
			return true
		}
	}
	return false
}

// Error is a file the edge could not send in place of the app's response:
// the status to answer with, and why, for the log.
type Error struct {
	Status int
	Header string // the header that named it
	Value  string // its value, as the app sent it (raw: escape it to log it)
	Reason string
}

func (e *Error) Error() string {
	return fmt.Sprintf("%s %q: %s", e.Header, e.Value, e.Reason)
}

// Serve answers r with the file the app's response header names (see
// Resolve) and the app's headers but those about the app's own body
// (Content-Length, ETag…) and the X-Accel-* and X-Sendfile controls, as
// nginx's internal redirect to a static location would. The file comes
// with its validators and ranges, answering the client's conditional and
// Range headers; a request of any method but HEAD gets it as a GET would,
// as nginx makes the redirect a GET. The app's Content-Type wins over the
// one the name suggests; its Cache-Control too, and without one the
// answer is "private, no-cache": these are the files the app guards, which
// no shared cache may keep and a browser revalidates (with the ETag, a
// cheap 304) through the app's checks each time.
//
// When no file can be sent, Serve writes nothing and returns the status
// to answer with and an *Error saying why: 500 for a header naming a path that is no file of an internal directory
// (outside them, traversal, a symlink out), 404 for a file that does not
// exist, as nginx answers.
func (f *Files) Serve(w http.ResponseWriter, r *http.Request, app http.Header) (int, error) {
	urlPath, err := f.Resolve(app)
	if err != nil {
		return http.StatusInternalServerError, err
	}
	file, err := f.srv.OpenFile(urlPath)
	if err != nil {
		e := refusal(app)
		e.Status, e.Reason = http.StatusInternalServerError, err.Error()
		if errors.Is(err, fs.ErrNotExist) {
			e.Status, e.Reason = http.StatusNotFound, "no such file: "+err.Error()
		}
		return e.Status, e
	}
	cc := strings.Join(app["Cache-Control"], ", ")
	if cc == "" {
		cc = "private, no-cache"
	}
	h := w.Header()
	for k, v := range app {
		if !bodyHeader(k) {
			h[k] = v
		}
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		get := *r
		get.Method = http.MethodGet
		r = &get
	}
	f.srv.ServeFile(w, r, file, cc)
	return 0, nil
}

// bodyHeader reports whether the app's header k describes the body the
// app sent (empty, or the file's bytes it did not send) or controls the
// edge, rather than the answer: the file's own replace it.
func bodyHeader(k string) bool {
	switch k {
	case "Content-Length", "Content-Encoding", "Content-Range", "Transfer-Encoding",
		"Etag", "Last-Modified", "Accept-Ranges", "Cache-Control", Sendfile:
		return true
	}
	return strings.HasPrefix(k, "X-Accel-")
}

// refusal is an Error about the header in app that names the file.
func refusal(app http.Header) *Error {
	if v := app[AccelRedirect]; v != nil {
		return &Error{Header: AccelRedirect, Value: strings.Join(v, ", ")}
	}
	return &Error{Header: Sendfile, Value: strings.Join(app[Sendfile], ", ")}
}

// Resolve returns the URL path, under an internal prefix, of the file the
// app's response header names, or an *Error (status 500) saying why the
// header names no file the edge may send.
//
// X-Accel-Redirect holds a URL path: a query after '?' is dropped (nginx
// passes it to the location it redirects to, which for files is
// nothing), the path is percent-decoded once (django-sendfile2 quotes
// each name), and runs of '/' count as one (SENDFILE_URL with a trailing
// slash makes "//"). X-Sendfile holds an absolute file path, not encoded,
// inside an internal directory. Either way the path must not hold NUL, a
// backslash, a "." or ".." segment or a dotfile, nor, in
// X-Accel-Redirect, an encoded '/' or '\', which no file name holds and
// which could only hide a path from a check.
func (f *Files) Resolve(app http.Header) (string, error) {
	a, s := app[AccelRedirect], app[Sendfile]
	fail := func(format string, args ...any) (string, error) {
		e := refusal(app)
		e.Status, e.Reason = http.StatusInternalServerError, fmt.Sprintf(format, args...)
		return "", e
	}
	switch {
	case a != nil && s != nil:
		return fail("the response also carries %s: name the file with one header", Sendfile)
	case len(a) > 1 || len(s) > 1:
		return fail("the header is given more than once")
	}
	if len(f.mounts) == 0 {
		return fail("no --internal directory is declared: start corral with --internal PREFIX=DIR (e.g. --internal /protected/=private_media) for the edge to send the app's files")
	}
	if a != nil {
		p, why := accelPath(a[0])
		if why != "" {
			return fail("%s", why)
		}
		for _, m := range f.mounts {
			if strings.HasPrefix(p, m.Prefix) {
				return p, nil
			}
		}
		return fail("%s is under no --internal prefix (%s)", p, f.prefixes())
	}
	p, why := cleanPath(wsgiValue(s[0]))
	if why != "" {
		return fail("%s", why)
	}
	for _, m := range f.mounts {
		for _, d := range m.dirs {
			if rel, ok := strings.CutPrefix(p, d); ok && strings.HasPrefix(rel, "/") {
				return m.Prefix + rel[1:], nil
			}
		}
	}
	return fail("%s is in no --internal directory (%s)", p, f.dirList())
}

// wsgiValue gives back the path a WSGI app (Django's xsendfile backend)
// put in X-Sendfile: a header value is latin-1 there, so a name Django
// could encode in latin-1 comes as those bytes (not UTF-8), and any other
// as an RFC 2047 encoded word. A path that is valid UTF-8 (Rails', any
// ASCII one) is as it came; names on disk are taken to be UTF-8.
func wsgiValue(v string) string {
	if strings.HasPrefix(v, "=?") {
		if d, err := new(mime.WordDecoder).DecodeHeader(v); err == nil {
			return d
		}
		return v
	}
	if utf8.ValidString(v) {
		return v
	}
	b := make([]rune, 0, len(v))
	for i := 0; i < len(v); i++ {
		b = append(b, rune(v[i]))
	}
	return string(b)
}

// accelPath decodes an X-Accel-Redirect value into a clean URL path, or
// says why it is none.
func accelPath(v string) (p, why string) {
	if strings.HasPrefix(v, "@") {
		return "", "a named location is nginx's: corral sends only files under an --internal prefix"
	}
	v, _, _ = strings.Cut(v, "?")
	for rest := v; ; rest = rest[1:] {
		i := strings.IndexByte(rest, '%')
		if i < 0 || i+2 >= len(rest) {
			break
		}
		rest = rest[i:]
		if enc := strings.ToLower(rest[1:3]); enc == "2f" || enc == "5c" || enc == "00" {
			return "", "an encoded '/', '\\' or NUL (%" + enc + "), which no file name holds"
		}
	}
	d, err := url.PathUnescape(v)
	if err != nil {
		return "", "not a percent-encoded path: " + err.Error()
	}
	return cleanPath(d)
}

// cleanPath checks that p is an absolute path with no NUL, backslash, "."
// or ".." segment or dotfile, and folds runs of '/' into one.
func cleanPath(p string) (string, string) {
	switch {
	case p == "":
		return "", "empty"
	case p[0] != '/':
		return "", "not an absolute path"
	case strings.ContainsAny(p, "\x00\\"):
		return "", "a NUL or backslash in the path"
	}
	folded := false
	for seg := range strings.SplitSeq(p[1:], "/") {
		switch {
		case seg == "":
			folded = true
			continue
		case seg == "." || seg == "..":
			return "", "a '.' or '..' segment: no path may climb out of an internal directory"
		case seg[0] == '.':
			return "", "a dotfile or dot directory (" + seg + "), which the edge never serves"
		}
	}
	if strings.HasSuffix(p, "/") {
		return "", "names a directory, not a file"
	}
	if !folded {
		return p, "" // already clean: the common case costs nothing
	}
	b := make([]byte, 0, len(p))
	for seg := range strings.SplitSeq(p[1:], "/") {
		if seg != "" {
			b = append(append(b, '/'), seg...)
		}
	}
	return string(b), ""
}

// prefixes lists the internal prefixes, for an error.
func (f *Files) prefixes() string {
	var ps []string
	for _, m := range f.mounts {
		ps = append(ps, m.Prefix)
	}
	return strings.Join(ps, ", ")
}

// dirList lists the internal directories, for an error.
func (f *Files) dirList() string {
	var ds []string
	for _, m := range f.mounts {
		ds = append(ds, m.dirs...)
	}
	return strings.Join(ds, ", ")
}
