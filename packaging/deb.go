package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// writeDeb writes the .deb of t (a Linux target) into out and returns
// its path: an ar archive of debian-binary, control.tar.gz and
// data.tar.gz, as dpkg-deb --build makes it, holding /usr/bin/corral. The
// binary is static, so the package depends on nothing; corral export
// systemd writes the unit that runs an app with it.
//
// A .deb is simple enough that writing it here costs less than nfpm,
// whose dependency tree (rpm, apk, signing) would come with it; dpkg-deb
// and dpkg -i check what this writes, in the tests.
func writeDeb(out, version string, date time.Time, t target, bin string) (string, error) {
	exe, err := os.ReadFile(bin)
	if err != nil {
		return "", err
	}
	// Debian's changelog, one entry: a native package's has to be there
	// (lintian), and the release notes are on the project's page.
	var changelog bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&changelog, gzip.BestCompression)
	fmt.Fprintf(zw, "corral (%s) unstable; urgency=medium\n\n  * Release notes: %s/releases\n\n -- %s  %s\n",
		version, homepage, maintainer, date.UTC().Format(time.RFC1123Z))
	if err := zw.Close(); err != nil {
		return "", err
	}
	files := []tarEntry{
		{name: "./usr/bin/corral", data: exe, mode: 0o755},
		{name: "./usr/share/doc/corral/changelog.gz", data: changelog.Bytes(), mode: 0o644},
		// A Go program is static by design.
		{name: "./usr/share/lintian/overrides/corral", data: []byte("corral: statically-linked-binary\n"), mode: 0o644},
	}
	entries := []tarEntry{{name: "./", dir: true}}
	var md5sums strings.Builder
	for _, f := range files {
		// Each directory before what it holds, once.
		for i := 2; i < len(f.name); i++ {
			if dir := f.name[:i+1]; f.name[i] == '/' && !slices.ContainsFunc(entries, func(e tarEntry) bool { return e.name == dir }) {
				entries = append(entries, tarEntry{name: dir, dir: true})
			}
		}
		entries = append(entries, f)
		sum := md5.Sum(f.data)
		fmt.Fprintf(&md5sums, "%s  %s\n", hex.EncodeToString(sum[:]), strings.TrimPrefix(f.name, "./"))
	}
	data, err := tarGz(date, entries)
	if err != nil {
		return "", err
	}
	var long strings.Builder
	for line := range strings.SplitSeq(strings.TrimRight(description, "\n"), "\n") {
		if line == "" {
			line = "." // an empty line of a Description is " ."
		}
		long.WriteString(" " + line + "\n")
	}
	control := fmt.Sprintf("Package: corral\n"+
		"Version: %s\n"+
		"Architecture: %s\n"+
		"Maintainer: %s\n"+
		"Installed-Size: %d\n"+
		"Section: web\n"+
		"Priority: optional\n"+
		"Homepage: %s\n"+
		"Description: %s\n%s",
		version, t.debArch, maintainer, (len(exe)+1023)/1024, homepage, strings.ToLower(summary[:1])+summary[1:], long.String())
	ctl, err := tarGz(date, []tarEntry{
		{name: "./", dir: true},
		{name: "./control", data: []byte(control), mode: 0o644},
		{name: "./md5sums", data: []byte(md5sums.String()), mode: 0o644},
	})
	if err != nil {
		return "", err
	}
	var ar bytes.Buffer
	ar.WriteString("!<arch>\n")
	for _, m := range []struct {
		name string
		data []byte
	}{{"debian-binary", []byte("2.0\n")}, {"control.tar.gz", ctl}, {"data.tar.gz", data}} {
		// The common ar format: 60-byte headers, data padded to an even size.
		fmt.Fprintf(&ar, "%-16s%-12d%-6d%-6d%-8o%-10d`\n", m.name, date.Unix(), 0, 0, 0o100644, len(m.data))
		ar.Write(m.data)
		if len(m.data)%2 == 1 {
			ar.WriteByte('\n')
		}
	}
	path := filepath.Join(out, "corral_"+version+"_"+t.debArch+".deb")
	return path, os.WriteFile(path, ar.Bytes(), 0o644)
}

// tarEntry is a file or directory of a tar archive, owned by root.
type tarEntry struct {
	name string
	data []byte
	mode int64
	dir  bool
}

// tarGz is the gzipped tar archive of entries, each dated date.
func tarGz(date time.Time, entries []tarEntry) ([]byte, error) {
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.DefaultCompression)
	tw := tar.NewWriter(zw)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Mode: e.mode, Size: int64(len(e.data)), ModTime: date.UTC(),
			Typeflag: tar.TypeReg, Uname: "root", Gname: "root", Format: tar.FormatGNU}
		if e.dir {
			h.Typeflag, h.Mode, h.Size = tar.TypeDir, 0o755, 0
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if _, err := tw.Write(e.data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
