package buildpack

// Var is an environment variable a platform's buildpack gives an app of
// some kind when it runs, and why: a default, which the app's own setting
// always overrides.
type Var struct {
	Name, Value string
	Why         string
}

// runEnv returns the variables Heroku's buildpack for kind sets in the
// environment of the app's processes (its .profile.d scripts and default
// config vars), for corral to set on a platform. Only those that change
// how the app runs are here: not the buildpacks' own paths (PYTHONHOME,
// NODE_HOME), their WEB_CONCURRENCY (corral sizes it), SECRET_KEY_BASE
// (Heroku makes one and keeps it with the app, and one corral made at each
// start would end every session at each deploy), nor PUMA_PERSISTENT_TIMEOUT
// (for Heroku's router; corral's edge closes idle connections first).
func runEnv(kind Kind) []Var {
	const (
		node  = "Heroku's Node.js buildpack sets it for every Node app (profile/nodejs.sh): Express and most frameworks then cache templates and hide stack traces"
		rails = "Heroku's Ruby buildpack sets it for a Rails app (default_env_vars.rb)"
		rack  = "Heroku's Ruby buildpack sets it for a Rack app (default_env_vars.rb)"
		py    = "Heroku's Python buildpack sets it (python.sh): print() and logging reach the log at once, not in blocks of 8 KiB when stdout is a pipe"
	)
	switch kind {
	case Node:
		return []Var{{"NODE_ENV", "production", node}}
	case Rails:
		return []Var{
			{"RAILS_ENV", "production", rails},
			{"RACK_ENV", "production", rails},
			{"RAILS_LOG_TO_STDOUT", "enabled", rails + ": the log goes to stdout, where corral collects it, not to log/production.log"},
			{"RAILS_SERVE_STATIC_FILES", "enabled", rails + ": public/ is served by the app too, where corral's edge does not (--no-edge)"},
		}
	case Rack:
		return []Var{{"RACK_ENV", "production", rack}}
	case Django, Flask, ASGI:
		return []Var{{"PYTHONUNBUFFERED", "1", py}}
	}
	return nil
}
