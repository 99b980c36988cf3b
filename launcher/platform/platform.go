// Package platform recognises the hosting platform corral runs on from the
// environment variables each platform sets for its apps.
package platform

import "strings"

// Platform is a hosting platform. The zero value means none was recognised:
// a laptop, a VPS or an unknown host.
type Platform struct {
	Name string // "heroku", "render", …; "" when none was recognised
}

// IsPaaS reports whether a platform was recognised. Such platforms collect
// stdout themselves and stamp every line with the time.
func (p Platform) IsPaaS() bool { return p.Name != "" }

// markers are the variables each platform sets in every app process, in the
// order they are checked. Each is documented by its platform as always set.
var markers = []struct{ name, variable string }{
	{"heroku", "DYNO"},
	{"render", "RENDER"},
	{"railway", "RAILWAY_ENVIRONMENT"},
	{"fly", "FLY_APP_NAME"},
	{"cloudrun", "K_SERVICE"},
	{"koyeb", "KOYEB_APP_NAME"},
}

// Detect recognises the platform from environ, a list of "KEY=value" strings
// as os.Environ returns.
func Detect(environ []string) Platform {
	set := make(map[string]bool, len(environ))
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok && v != "" {
			set[k] = true
		}
	}
	for _, m := range markers {
		if set[m.variable] {
			return Platform{Name: m.name}
		}
	}
	return Platform{}
}
