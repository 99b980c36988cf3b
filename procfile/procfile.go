// Package procfile parses Procfiles and formation specs.
//
// The grammar is Heroku's: one "name: command" per line, where name is made
// of ASCII letters, digits, '_' and '-', and the command is everything after
// the first colon (it may contain colons itself). Blank lines and lines whose
// first non-blank character is '#' are ignored. CRLF line endings, a UTF-8 byte
// order mark, tabs around the command and a missing final newline are all
// accepted, because real Procfiles written on every platform have them.
//
// Unlike Heroku, which silently skips lines it cannot parse, this parser
// reports every malformed line with its file and line number, so that a typo
// is found on a laptop rather than after a deploy.
package procfile

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"unicode/utf8"

	"github.com/corral-run/corral/internal/fileline"
)

// Entry is one process type of a Procfile.
type Entry struct {
	Name    string // process type, e.g. "web"
	Command string // shell command, run with sh -c
	Line    int    // 1-based line number in the Procfile
}

// Procfile is a parsed Procfile: its entries in file order.
type Procfile struct {
	Path    string
	Entries []Entry
}

// Lookup returns the entry named name.
func (p *Procfile) Lookup(name string) (Entry, bool) {
	for _, e := range p.Entries {
		if e.Name == name {
			return e, true
		}
	}
	return Entry{}, false
}

// Names returns the process type names in file order.
func (p *Procfile) Names() []string {
	names := make([]string, len(p.Entries))
	for i, e := range p.Entries {
		names[i] = e.Name
	}
	return names
}

// Error is a problem at one line of the Procfile, printed as
// "path:line: message". Line is 0 when the problem is with the file as a
// whole (missing, unreadable).
type Error = fileline.Error

// MaxSize bounds how much of a Procfile is read: anything larger is certainly
// not a Procfile, and reading it whole would only waste memory.
const MaxSize = 1 << 20

// ParseFile reads and parses the Procfile at path.
func ParseFile(path string) (*Procfile, error) {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, &Error{Path: path, Msg: "no such file (corral needs a Procfile: one \"name: command\" line per process type)"}
		}
		return nil, &Error{Path: path, Msg: "cannot read: " + unwrapPathError(err)}
	}
	defer f.Close()
	return Parse(path, f)
}

// unwrapPathError drops the path an *os.PathError repeats, since Error
// already names the file.
func unwrapPathError(err error) string {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

// Parse parses a Procfile read from r; path is used in error messages only.
// It reports every problem it finds, joined with errors.Join, each one an
// *Error; on any problem the returned Procfile is nil.
func Parse(path string, r io.Reader) (*Procfile, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxSize+1))
	if err != nil {
		return nil, &Error{Path: path, Msg: "cannot read: " + unwrapPathError(err)}
	}
	if len(data) > MaxSize {
		return nil, &Error{Path: path, Msg: fmt.Sprintf("larger than %d bytes; is this a Procfile?", MaxSize)}
	}
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))

	p := &Procfile{Path: path}
	var errs []error
	fail := func(line int, format string, args ...any) {
		errs = append(errs, &Error{Path: path, Line: line, Msg: fmt.Sprintf(format, args...)})
	}
	seen := make(map[string]int)

	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, MaxSize+1)
	n := 0
	for sc.Scan() {
		n++
		raw := sc.Bytes()
		if bytes.IndexByte(raw, 0) >= 0 {
			fail(n, "binary data (NUL byte); is this a Procfile?")
			// A binary file fails on nearly every line; one report says it all.
			break
		}
		if !utf8.Valid(raw) {
			fail(n, "not valid UTF-8 text; is this a Procfile?")
			continue
		}
		raw = bytes.TrimSuffix(raw, []byte("\r"))
		if bytes.IndexByte(raw, '\r') >= 0 {
			fail(n, "carriage return inside a line (old Mac line endings?); end lines with \\n or \\r\\n")
			continue
		}
		line := strings.TrimSpace(string(raw))
		if line == "" || line[0] == '#' {
			continue
		}
		name, command, ok := strings.Cut(line, ":")
		if !ok {
			fail(n, "expected \"name: command\", found %q", clip(line))
			continue
		}
		if name == "" {
			fail(n, "missing process type name before ':'")
			continue
		}
		if strings.TrimRight(name, " \t") != name {
			fail(n, "space before ':' after process type %q; write %q", strings.TrimSpace(name), strings.TrimSpace(name)+":")
			continue
		}
		if bad := invalidNameRune(name); bad >= 0 {
			fail(n, "invalid character %q in process type %q: use letters, digits, '_' and '-'", bad, clip(name))
			continue
		}
		command = strings.TrimSpace(command)
		if command == "" {
			fail(n, "process type %q has an empty command", name)
			continue
		}
		if first, dup := seen[name]; dup {
			fail(n, "duplicate process type %q (first defined at line %d)", name, first)
			continue
		}
		seen[name] = n
		p.Entries = append(p.Entries, Entry{Name: name, Command: command, Line: n})
	}
	if err := sc.Err(); err != nil {
		fail(n+1, "%v", err)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if len(p.Entries) == 0 {
		return nil, &Error{Path: path, Msg: "no process types defined (expected lines like \"web: command\")"}
	}
	return p, nil
}

// ValidName reports whether s is a valid process type name.
func ValidName(s string) bool {
	return s != "" && invalidNameRune(s) < 0
}

// invalidNameRune returns the first rune of s not allowed in a process type
// name, or -1 if there is none.
func invalidNameRune(s string) rune {
	for _, r := range s {
		switch {
		case 'a' <= r && r <= 'z', 'A' <= r && r <= 'Z', '0' <= r && r <= '9', r == '_', r == '-':
		default:
			return r
		}
	}
	return -1
}

// clip shortens s for an error message.
func clip(s string) string {
	const max = 60
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
