package buildpack

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/pelletier/go-toml/v2"
	"github.com/pelletier/go-toml/v2/unstable"
)

// tomlKind is the kind of a TOML value, as far as detection tells them
// apart: numbers, booleans and dates are all "other".
type tomlKind uint8

// The kinds of TOML value.
const (
	tomlString tomlKind = iota + 1
	tomlArray
	tomlTable // an inline table; its keys are in the document's
	tomlOther
)

// tomlValue is one TOML value.
type tomlValue struct {
	kind  tomlKind
	str   string      // a string's value
	line  int         // where it starts
	items []tomlValue // an array's
}

// tomlKey is a key of a TOML document, with its whole path: the table
// header's, then the dotted key's.
type tomlKey struct {
	path []string
	line int
	val  tomlValue // none for a table header
}

// tomlDoc is what the TOML reader keeps of a document: every table header
// and every key, inline tables' included, in order.
type tomlDoc struct {
	tables []tomlKey
	keys   []tomlKey
}

// hasPrefix reports whether p starts with prefix.
func hasPrefix(p, prefix []string) bool {
	return len(p) >= len(prefix) && slices.Equal(p[:len(prefix)], prefix)
}

// has reports whether the document defines anything under prefix (a
// header or a key), with the line of the first.
func (d *tomlDoc) has(prefix ...string) (int, bool) {
	line := 0
	for _, k := range slices.Concat(d.tables, d.keys) {
		if hasPrefix(k.path, prefix) && (line == 0 || k.line < line) {
			line = k.line
		}
	}
	return line, line > 0
}

// get returns the key with exactly this path.
func (d *tomlDoc) get(path ...string) (tomlKey, bool) {
	for _, k := range d.keys {
		if slices.Equal(k.path, path) {
			return k, true
		}
	}
	return tomlKey{}, false
}

// children returns one key for each name directly under prefix, however
// it is written (fastapi = "…", fastapi.version = "…", a
// [tool.poetry.dependencies.fastapi] header), at its first line, in line
// order. The returned path is cut after that name.
func (d *tomlDoc) children(prefix ...string) []tomlKey {
	first := map[string]tomlKey{}
	for _, k := range slices.Concat(d.tables, d.keys) {
		if len(k.path) <= len(prefix) || !hasPrefix(k.path, prefix) {
			continue
		}
		name := k.path[len(prefix)]
		if old, ok := first[name]; !ok || k.line < old.line {
			first[name] = tomlKey{path: k.path[:len(prefix)+1], line: k.line}
		}
	}
	out := make([]tomlKey, 0, len(first))
	for _, k := range first {
		out = append(out, k)
	}
	slices.SortFunc(out, func(a, b tomlKey) int {
		if a.line != b.line {
			return a.line - b.line
		}
		return strings.Compare(a.path[len(a.path)-1], b.path[len(b.path)-1])
	})
	return out
}

// maxTOMLKeyParts bounds how many parts a recorded key's whole path may
// have (the deepest a pyproject.toml goes is about 7: tool.poetry.group.
// dev.dependencies.x.version). Deeper keys are valid TOML and are left
// out: nothing detection asks for is there, and each key's copy of its
// path stays small whatever the file holds.
const maxTOMLKeyParts = 16

// parseTOML reads src, the TOML file named file, with go-toml: its
// decoder checks the whole document against TOML 1.0 (a key or table
// defined twice included), and its unstable parser gives every key and
// value its place, for evidence that names the line. An error names the
// file, line and column.
func parseTOML(file string, src []byte) (*tomlDoc, error) {
	// TOML has no byte order mark, but Windows editors write one and
	// pip, poetry and uv read past it.
	src = bytes.TrimPrefix(src, []byte("\ufeff"))
	if err := toml.Unmarshal(src, &struct{}{}); err != nil {
		var de *toml.DecodeError
		if errors.As(err, &de) {
			row, col := de.Position()
			return nil, fmt.Errorf("buildpack: %s:%d:%d: %s", file, row, col, strings.TrimPrefix(de.Error(), "toml: "))
		}
		return nil, fmt.Errorf("buildpack: %s: %w", file, err)
	}
	w := tomlWalker{doc: &tomlDoc{}, lineStarts: lineStarts(src)}
	var p unstable.Parser
	p.Reset(src)
	table := []string{} // the root table
	for p.NextExpression() {
		e := p.Expression()
		switch e.Kind {
		case unstable.Table, unstable.ArrayTable:
			path, line := w.key(e.Key(), nil)
			table = path
			if len(path) <= maxTOMLKeyParts {
				w.doc.tables = append(w.doc.tables, tomlKey{path: path, line: line})
			}
		case unstable.KeyValue:
			w.keyValue(table, e)
		}
	}
	if err := p.Error(); err != nil {
		// The decoder took the document, so the parser does too: this
		// is go-toml disagreeing with itself.
		return nil, fmt.Errorf("buildpack: %s: %w", file, err)
	}
	return w.doc, nil
}

// tomlWalker turns go-toml's expressions into a tomlDoc.
type tomlWalker struct {
	doc        *tomlDoc
	lineStarts []int
}

// lineStarts returns the offset at which each line of src starts.
func lineStarts(src []byte) []int {
	starts := []int{0}
	for i, c := range src {
		if c == '\n' {
			starts = append(starts, i+1)
		}
	}
	return starts
}

// line is the 1-based line of the byte at offset off.
func (w *tomlWalker) line(r unstable.Range) int {
	return sort.SearchInts(w.lineStarts, int(r.Offset)+1)
}

// key reads a dotted key, appended to a copy of at, and the line of its
// first part.
func (w *tomlWalker) key(it unstable.Iterator, at []string) ([]string, int) {
	path := slices.Clip(at)
	line := 0
	for it.Next() {
		n := it.Node()
		if line == 0 {
			line = w.line(n.Raw)
		}
		path = append(path, string(n.Data))
	}
	return path, line
}

// keyValue records "key = value" in the table at, and the keys of an
// inline table value under it.
func (w *tomlWalker) keyValue(at []string, e *unstable.Node) {
	if len(at) > maxTOMLKeyParts {
		return
	}
	path, line := w.key(e.Key(), at)
	if len(path) > maxTOMLKeyParts {
		return
	}
	v := w.value(path, e.Value(), line)
	w.doc.keys = append(w.doc.keys, tomlKey{path: path, line: line, val: v})
}

// value reads a value at line (where its key is); path is its key's, under
// which an inline table's keys are recorded, nil inside an array (whose
// tables' keys are not).
func (w *tomlWalker) value(path []string, n *unstable.Node, line int) tomlValue {
	if n.Raw.Length > 0 {
		line = w.line(n.Raw)
	}
	v := tomlValue{line: line}
	switch n.Kind {
	case unstable.String:
		v.kind, v.str = tomlString, string(n.Data)
	case unstable.Array:
		v.kind = tomlArray
		for it := n.Children(); it.Next(); {
			item := it.Node()
			if item.Kind == unstable.Comment {
				continue
			}
			v.items = append(v.items, w.value(nil, item, line))
		}
		if n.Raw.Length == 0 && len(v.items) > 0 {
			v.line = v.items[0].line // go-toml gives an array no place of its own
		}
	case unstable.InlineTable:
		v.kind = tomlTable
		for it := n.Children(); it.Next(); {
			if kv := it.Node(); kv.Kind == unstable.KeyValue && path != nil {
				w.keyValue(path, kv)
			}
		}
	default:
		v.kind = tomlOther
	}
	return v
}
