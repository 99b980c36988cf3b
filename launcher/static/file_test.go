package static

import (
	"errors"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestOpenFile(t *testing.T) {
	dir, files := fixture(t)
	s := newServer(t, Mount{Prefix: "/protected/", Dir: dir, Index: true, Fallback: "app.css"})
	// errEscape stands for the error of a path that leads out of the
	// mount: not ErrNotExist, which would make it a 404 and not a 500.
	errEscape := errors.New("out of the mount")
	for _, tt := range []struct {
		path string
		want error // nil: opens
	}{
		{"/protected/app.css", nil},
		{"/protected/sub/up.css", nil}, // a symlink that stays inside
		{"/protected/escape.txt", errEscape},
		{"/protected/escapedir/secret.txt", errEscape},
		{"/protected/abs.txt", errEscape},
		{"/protected/nope.css", fs.ErrNotExist},
		{"/protected/sub/", fs.ErrNotExist}, // no Index for a chosen file
		{"/protected/sub", fs.ErrNotExist},  // a directory
		{"/protected/.env", fs.ErrNotExist},
		{"/protected/sub/../app.css", fs.ErrNotExist},
		{"/protected/a\\b", fs.ErrInvalid},
		{"/protected/a\x00", fs.ErrInvalid},
		{"/static/app.css", fs.ErrNotExist},
	} {
		f, err := s.OpenFile(tt.path)
		switch {
		case tt.want == errEscape:
			if err == nil || errors.Is(err, fs.ErrNotExist) {
				t.Errorf("OpenFile(%q): %v; want an error that is not ErrNotExist (a path out of the mount)", tt.path, err)
			}
		case tt.want == nil:
			if err != nil {
				t.Errorf("OpenFile(%q): %v", tt.path, err)
			}
		case !errors.Is(err, tt.want):
			t.Errorf("OpenFile(%q): %v; want %v", tt.path, err, tt.want)
		}
		if f != nil {
			f.Close()
		}
	}

	f, err := s.OpenFile("/protected/app.css")
	if err != nil {
		t.Fatal(err)
	}
	w := httptest.NewRecorder()
	w.Header().Set("Content-Type", "text/x-chosen")
	s.ServeFile(w, httptest.NewRequest("GET", "/anything", nil), f, "private, no-cache")
	if w.Code != http.StatusOK || w.Body.String() != files["app.css"] || w.Header().Get("Content-Type") != "text/x-chosen" ||
		w.Header().Get("Cache-Control") != "private, no-cache" || w.Header().Get("Etag") == "" {
		t.Errorf("ServeFile: %d %q %v", w.Code, w.Body, w.Header())
	}
}
