// Package envfile reads .env files and builds the environment of the app's
// processes.
//
// Files are parsed by github.com/joho/godotenv, so they follow the dotenv rules
// users already know from Ruby, Node and Python: KEY=value, optional "export ",
// single, double and multi-line quoted values, # comments and ${VAR}
// expansion. What this package adds is the precedence corral promises and an
// error that names the file and line.
package envfile

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"

	"github.com/corral-run/corral/internal/fileline"
	"github.com/joho/godotenv"
)

// Error is a problem in one env file, printed as "path:line: message".
// Line is 0 when the file as a whole cannot be read.
type Error = fileline.Error

// ReadFiles reads env files in order; a variable in a later file wins over the
// same variable in an earlier one.
func ReadFiles(paths ...string) (map[string]string, error) {
	vars := make(map[string]string)
	for _, p := range paths {
		m, err := ReadFile(p)
		if err != nil {
			return nil, err
		}
		maps.Copy(vars, m)
	}
	return vars, nil
}

// ReadFile reads one env file.
func ReadFile(path string) (map[string]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, &Error{Path: path, Msg: "cannot read env file: " + err.Error()}
	}
	if bytes.IndexByte(data, 0) >= 0 {
		line := bytes.Count(data[:bytes.IndexByte(data, 0)], []byte("\n")) + 1
		return nil, &Error{Path: path, Line: line, Msg: "binary data (NUL byte); is this an env file?"}
	}
	m, err := godotenv.UnmarshalBytes(data)
	if err != nil {
		return nil, &Error{Path: path, Line: failingLine(data), Msg: err.Error()}
	}
	// godotenv accepts any key, even "" or "A B", which no shell can use.
	for _, k := range slices.Sorted(maps.Keys(m)) {
		if !validName(k) {
			return nil, &Error{Path: path, Line: keyLine(data, k),
				Msg: fmt.Sprintf("%q is not a valid variable name (use letters, digits and '_', not starting with a digit)", k)}
		}
	}
	return m, nil
}

func validName(k string) bool {
	for i, r := range k {
		switch {
		case r == '_', 'a' <= r && r <= 'z', 'A' <= r && r <= 'Z':
		case '0' <= r && r <= '9' && i > 0:
		default:
			return false
		}
	}
	return k != ""
}

// keyLine finds the line that defines key, for an error message.
func keyLine(data []byte, key string) int {
	for i, line := range strings.Split(string(data), "\n") {
		line = strings.TrimPrefix(strings.TrimSpace(line), "export ")
		if rest, ok := strings.CutPrefix(strings.TrimSpace(line), key); ok {
			if rest = strings.TrimSpace(rest); strings.HasPrefix(rest, "=") || strings.HasPrefix(rest, ":") {
				return i + 1
			}
		}
	}
	return 0
}

// failingLine finds the line at which godotenv's parse of data fails. godotenv
// does not report positions, so we parse ever longer prefixes: the failing
// statement starts on the line after the longest prefix that parses. (A
// prefix ending inside a multi-line quoted value fails too, which is why the
// longest good prefix is the one that counts, not the first bad one.)
func failingLine(data []byte) int {
	lines := bytes.SplitAfter(data, []byte("\n"))
	good := 0
	end := 0
	for i, l := range lines {
		end += len(l)
		if _, err := godotenv.UnmarshalBytes(data[:end]); err == nil {
			good = i + 1
		}
	}
	return good + 1
}

// Merge builds a process environment ("KEY=value" strings, sorted) from the
// variables read from env files and corral's own environment. A variable set
// in corral's own environment wins over the files: a secret set by the
// platform must never be shadowed by a stale file in the repository.
func Merge(fromFiles map[string]string, own []string) []string {
	vars := maps.Clone(fromFiles)
	if vars == nil {
		vars = make(map[string]string)
	}
	for _, kv := range own {
		if k, v, ok := strings.Cut(kv, "="); ok && k != "" {
			vars[k] = v
		}
	}
	return Environ(vars)
}

// Environ turns vars into sorted "KEY=value" strings, the form exec wants.
func Environ(vars map[string]string) []string {
	env := make([]string, 0, len(vars))
	for _, k := range slices.Sorted(maps.Keys(vars)) {
		env = append(env, k+"="+vars[k])
	}
	return env
}
