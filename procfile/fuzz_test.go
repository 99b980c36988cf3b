package procfile

import (
	"errors"
	"strings"
	"testing"
)

func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		"web: python app.py\nworker: celery\n",
		"\xef\xbb\xbfweb: a\r\n# c\r\n\r\nclock:\tb",
		"web : a\nweb: b\nweb: c\n:\nx:\n",
		"web: a:b:c\n\x00",
		"",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, input string) {
		p, err := Parse("Procfile", strings.NewReader(input))
		if err != nil {
			if p != nil {
				t.Fatal("Procfile returned along with an error")
			}
			lines := strings.Count(input, "\n") + 1
			for _, e := range unjoin(err) {
				var pe *Error
				if !errors.As(e, &pe) {
					t.Fatalf("error %T %q is not a *procfile.Error", e, e)
				}
				if pe.Line < 0 || pe.Line > lines {
					t.Fatalf("error line %d outside 0..%d: %v", pe.Line, lines, pe)
				}
			}
			return
		}
		if len(p.Entries) == 0 {
			t.Fatal("no entries and no error")
		}
		seen := map[string]bool{}
		last := 0
		for _, e := range p.Entries {
			if !ValidName(e.Name) {
				t.Fatalf("invalid name %q accepted", e.Name)
			}
			if seen[e.Name] {
				t.Fatalf("duplicate %q accepted", e.Name)
			}
			seen[e.Name] = true
			if e.Command == "" || strings.TrimSpace(e.Command) != e.Command {
				t.Fatalf("command %q is empty or untrimmed", e.Command)
			}
			if strings.ContainsAny(e.Command, "\n\r\x00") {
				t.Fatalf("command %q spans lines", e.Command)
			}
			if e.Line <= last {
				t.Fatalf("line numbers not increasing: %d after %d", e.Line, last)
			}
			last = e.Line
		}
		// Re-serialising the entries and parsing again gives the same entries.
		var b strings.Builder
		for _, e := range p.Entries {
			b.WriteString(e.Name + ": " + e.Command + "\n")
		}
		q, err := Parse("Procfile", strings.NewReader(b.String()))
		if err != nil {
			t.Fatalf("round trip failed: %v\n%s", err, b.String())
		}
		for i := range p.Entries {
			if q.Entries[i].Name != p.Entries[i].Name || q.Entries[i].Command != p.Entries[i].Command {
				t.Fatalf("round trip changed entry %d: %+v → %+v", i, p.Entries[i], q.Entries[i])
			}
		}
	})
}

func FuzzParseFormation(f *testing.F) {
	f.Add("web=2,worker=1")
	f.Add("all=0,web=1")
	f.Add("web=,=,all=all")
	f.Fuzz(func(t *testing.T, spec string) {
		known := []string{"web", "worker"}
		got, err := ParseFormation(spec, known)
		if err != nil {
			return
		}
		if len(got) != len(known) {
			t.Fatalf("formation %v does not cover exactly %v", got, known)
		}
		for _, k := range known {
			if n, ok := got[k]; !ok || n < 0 || n > MaxInstances {
				t.Fatalf("count for %q = %d, %v", k, n, ok)
			}
		}
	})
}

// unjoin splits an errors.Join result into its parts.
func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}
