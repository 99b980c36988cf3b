package buildpack

import (
	"path/filepath"
	"slices"
	"testing"
)

// TestRunEnv: each kind of app gets the production defaults Heroku's
// buildpack for it sets; a Go app and a static site get none.
func TestRunEnv(t *testing.T) {
	for _, tt := range []struct {
		fixture string
		want    []string
	}{
		{"node-npm-start", []string{"NODE_ENV=production"}},
		{"node-yarn", []string{"NODE_ENV=production"}},
		{"rails-app", []string{"RAILS_ENV=production", "RACK_ENV=production", "RAILS_LOG_TO_STDOUT=enabled", "RAILS_SERVE_STATIC_FILES=enabled"}},
		{"rack-sinatra", []string{"RACK_ENV=production"}},
		{"django-startproject", []string{"PYTHONUNBUFFERED=1"}},
		{"flask-basic", []string{"PYTHONUNBUFFERED=1"}},
		{"fastapi-uvicorn", []string{"PYTHONUNBUFFERED=1"}},
		{"go-root", nil},
		{"static-dist", nil},
	} {
		t.Run(tt.fixture, func(t *testing.T) {
			p, err := Detect(filepath.Join("testdata", tt.fixture))
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, v := range p.Env {
				got = append(got, v.Name+"="+v.Value)
				if v.Why == "" {
					t.Errorf("%s has no reason", v.Name)
				}
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("%s (%s): env %q, want %q", tt.fixture, p.Kind, got, tt.want)
			}
		})
	}
}
