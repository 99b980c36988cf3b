package launcher

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadInternal(t *testing.T) {
	dir := appDirWith(t, map[string]string{"Procfile": "web: s\n", "private_media/a.pdf": "x"})
	plan, err := Load(Config{Dir: dir, Procfile: "Procfile", Port: 5000,
		Edge: EdgeConfig{Internal: []string{"/protected=private_media", "/abs/=" + filepath.Join(dir, "private_media")}}})
	if err != nil {
		t.Fatal(err)
	}
	want := filepath.Join(dir, "private_media")
	if len(plan.Internal) != 2 || plan.Internal[0].Prefix != "/protected/" || plan.Internal[0].Dir != want || plan.Internal[1].Dir != want {
		t.Errorf("Internal = %+v; want /protected/ and /abs/ from %s", plan.Internal, want)
	}
	var b bytes.Buffer
	if err := plan.Describe(&b); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "internal: /protected/ from "+want) {
		t.Errorf("corral check does not list the internal directory:\n%s", b.String())
	}

	for _, tt := range []struct {
		name string
		edge EdgeConfig
		want []string // in the error
	}{
		{"no '='", EdgeConfig{Internal: []string{"private_media"}}, []string{"--internal", `"private_media"`, "missing '='"}},
		{"root prefix", EdgeConfig{Internal: []string{"/=private_media"}}, []string{"--internal", `"/=private_media"`}},
		{"same prefix twice", EdgeConfig{Internal: []string{"/p/=a", "/p=b"}}, []string{"--internal /p=b", "already"}},
		{"a static prefix", EdgeConfig{Static: []string{"/media/=media"}, Internal: []string{"/media/=private_media"}}, []string{"--internal /media/=private_media", "static"}},
		{"no edge", EdgeConfig{Disabled: true, Internal: []string{"/p/=private_media"}}, []string{"--internal", "--no-edge"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(Config{Dir: dir, Procfile: "Procfile", Port: 5000, Edge: tt.edge})
			for _, w := range tt.want {
				if err == nil || !strings.Contains(err.Error(), w) {
					t.Errorf("Load: %v; want an error with %q", err, w)
				}
			}
		})
	}
}
