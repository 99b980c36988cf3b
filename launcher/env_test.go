package launcher

import (
	"slices"
	"testing"

	"github.com/corral-run/corral/internal/environ"
)

// TestInstanceEnvDefaults: on a platform, the processes of a detected app
// (here beside a Procfile) get its production defaults, the release phase
// too, but not a build step; the app's own value wins; off a platform
// there are none.
func TestInstanceEnvDefaults(t *testing.T) {
	files := map[string]string{"Procfile": "release: r\nweb: w\n", "package.json": `{"scripts": {"start": "node server.js"}}`}
	for _, tt := range []struct {
		name    string
		environ []string
		want    map[string]string // NODE_ENV by instance type; "-" for none
	}{
		{"laptop", nil, map[string]string{"web": "-", ReleaseType: "-", BuildType: "-"}},
		{"render", []string{"RENDER=true"}, map[string]string{"web": "production", ReleaseType: "production", BuildType: "-"}},
		{"render, the app's own", []string{"RENDER=true", "NODE_ENV=staging"}, map[string]string{"web": "staging", ReleaseType: "staging", BuildType: "staging"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := Config{Dir: appDirWith(t, files), Port: 5000, Environ: append([]string{"PATH=/bin"}, tt.environ...), SysRoot: freeTier(t)}
			plan, err := Load(cfg)
			if err != nil {
				t.Fatal(err)
			}
			insts := append(slices.Clone(plan.Instances), *plan.Release, Instance{Name: "build.1", Type: BuildType})
			for _, inst := range insts {
				got, ok := environ.Lookup(plan.InstanceEnv(inst), "NODE_ENV")
				if !ok {
					got = "-"
				}
				if got != tt.want[inst.Type] {
					t.Errorf("%s: NODE_ENV %q, want %q", inst.Name, got, tt.want[inst.Type])
				}
			}
		})
	}
}
