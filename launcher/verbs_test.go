package launcher

import (
	"slices"
	"testing"
)

// TestNames: the names a control verb's error lists, each once, in
// order: during a rolling replacement the old and the new web.1 both
// run, and a retiring instance is no longer counted.
func TestNames(t *testing.T) {
	inst := func(name string, retiring bool) *instance {
		return &instance{Instance: Instance{Name: name}, retiring: retiring}
	}
	for _, tt := range []struct {
		name string
		live []*instance
		want []string
	}{
		{"none", nil, nil},
		{"in order", []*instance{inst("web.10", false), inst("worker.1", false), inst("web.2", false)}, []string{"web.2", "web.10", "worker.1"}},
		{"old and new web.1", []*instance{inst("web.1", false), inst("web.1", false), inst("worker.1", false)}, []string{"web.1", "worker.1"}},
		{"a retiring one", []*instance{inst("web.1", false), inst("web.2", true)}, []string{"web.1"}},
	} {
		live := map[*instance]bool{}
		for _, in := range tt.live {
			live[in] = true
		}
		if got := (&runner{}).names(live); !slices.Equal(got, tt.want) {
			t.Errorf("%s: %q, want %q", tt.name, got, tt.want)
		}
	}
}
