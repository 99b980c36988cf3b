package static

import (
	"fmt"
	"io/fs"
	"net/http"
	"os"
)

// File is a regular file opened under one of a Server's mounts by
// OpenFile, to be served with ServeFile.
type File struct {
	m    *mount
	name string // inside m's root
	f    *os.File
	fi   fs.FileInfo
}

// Close releases the file; ServeFile does it too.
func (f *File) Close() error { return f.f.Close() }

// OpenFile opens the regular file urlPath (a decoded URL path) names
// under the longest mount prefix of urlPath, for a caller that chose the
// file itself rather than a client's request: the edge serving the file
// an app names in X-Accel-Redirect, from a directory clients never reach.
// Match is not asked, and Index, Fallback and Fallthrough do not apply.
// The name rules are ServeHTTP's (no dot segment or dotfile, no
// backslash or NUL) and the file is opened through the mount's os.Root,
// so nothing outside it is reached, not even through a symlink. An error
// is fs.ErrNotExist when there is no such regular file.
func (s *Server) OpenFile(urlPath string) (*File, error) {
	m := s.find(urlPath)
	if m == nil {
		return nil, fmt.Errorf("%s: under no mount: %w", urlPath, fs.ErrNotExist)
	}
	name, code := cleanName(urlPath[len(m.Prefix):])
	switch code {
	case 0:
	case http.StatusNotFound:
		return nil, fmt.Errorf("%s: names no file (empty, dot or dotfile segment): %w", urlPath, fs.ErrNotExist)
	default:
		return nil, fmt.Errorf("%s: a backslash or NUL in the name: %w", urlPath, fs.ErrInvalid)
	}
	f, fi, err := openRegular(m.root, name)
	if err != nil {
		return nil, fmt.Errorf("%s in %s: %w", name, m.Dir, err)
	}
	return &File{m: m, name: name, f: f, fi: fi}, nil
}

// ServeFile answers r with f as ServeHTTP answers with a file: ETag and
// Last-Modified, If-None-Match, If-Modified-Since, If-Range and Range,
// HEAD, a precompressed sibling the client accepts, sendfile(2). A
// Content-Type already in w's header is kept (the app's, which knows the
// file better than its name does), and cacheControl is the response's
// Cache-Control, whatever the name. It closes f. r's method is not
// checked: the caller decides what a file may answer.
func (s *Server) ServeFile(w http.ResponseWriter, r *http.Request, f *File, cacheControl string) {
	s.serve(w, r, f.m, f.name, f.f, f.fi, cacheControl)
}
