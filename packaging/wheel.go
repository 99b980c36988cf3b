package main

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// writeWheel writes the Python wheel of t into out and returns its path:
// a zip (PEP 427) whose only payload is the binary, as
// NAME-VERSION.data/scripts/corral. pip installs a wheel's scripts into
// the environment's bin directory (a virtualenv's bin/, the platform's
// Python's), so that corral is on PATH wherever pip installs; a script
// that does not start with #!python is copied as it is, and keeps the
// executable bit the zip gives it. There is no Python code and nothing
// runs at install time: the wheel is py3-none, any Python 3 on t.
func writeWheel(out, version string, date time.Time, t target, bin string) (string, error) {
	exe, err := os.ReadFile(bin)
	if err != nil {
		return "", err
	}
	dist := strings.ReplaceAll(pythonName, "-", "_") // the wheel's name escaping: - is _
	tag := "py3-none-" + t.wheelPlatform
	info := dist + "-" + version + ".dist-info/"

	var wheel strings.Builder
	wheel.WriteString("Wheel-Version: 1.0\nGenerator: corral packaging/build\nRoot-Is-Purelib: false\n")
	for _, p := range strings.Split(t.wheelPlatform, ".") {
		fmt.Fprintf(&wheel, "Tag: py3-none-%s\n", p) // one line per tag of the compressed set
	}
	metadata := "Metadata-Version: 2.1\n" +
		"Name: " + pythonName + "\n" +
		"Version: " + version + "\n" +
		"Summary: " + summary + "\n" +
		"Home-page: " + homepage + "\n" +
		"Project-URL: Source, " + homepage + "\n" +
		"Project-URL: Documentation, " + homepage + "#readme\n" +
		"Description-Content-Type: text/plain\n" +
		"\n" + description

	files := []struct {
		name string
		data []byte
		mode os.FileMode
	}{
		{dist + "-" + version + ".data/scripts/corral", exe, 0o755},
		{info + "METADATA", []byte(metadata), 0o644},
		{info + "WHEEL", []byte(wheel.String()), 0o644},
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	var record strings.Builder
	for _, f := range files {
		if err := addZip(zw, f.name, f.data, f.mode, date); err != nil {
			return "", err
		}
		sum := sha256.Sum256(f.data)
		fmt.Fprintf(&record, "%s,sha256=%s,%d\n", f.name, base64.RawURLEncoding.EncodeToString(sum[:]), len(f.data))
	}
	// RECORD lists itself with no hash; it comes last, as the
	// dist-info files should.
	fmt.Fprintf(&record, "%sRECORD,,\n", info)
	if err := addZip(zw, info+"RECORD", []byte(record.String()), 0o644, date); err != nil {
		return "", err
	}
	if err := zw.Close(); err != nil {
		return "", err
	}
	path := filepath.Join(out, dist+"-"+version+"-"+tag+".whl")
	return path, os.WriteFile(path, buf.Bytes(), 0o644)
}

// addZip adds a deflated file to zw, dated date, with mode in its Unix
// attributes (which pip reads for the executable bit).
func addZip(zw *zip.Writer, name string, data []byte, mode os.FileMode, date time.Time) error {
	h := &zip.FileHeader{Name: name, Method: zip.Deflate, Modified: date.UTC()}
	h.SetMode(mode)
	w, err := zw.CreateHeader(h)
	if err != nil {
		return err
	}
	_, err = w.Write(data)
	return err
}
