package launcher

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/corral-run/corral/buildpack"
	"github.com/corral-run/corral/internal/environ"
	"github.com/corral-run/corral/launcher/appenv"
	"github.com/corral-run/corral/launcher/platform"
)

// ExitError is an error that wants a particular exit status.
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string { return e.Err.Error() }
func (e *ExitError) Unwrap() error { return e.Err }

// Exec replaces corral with a one-off command run with the app's
// environment in the app directory, as "heroku run" does: stdin, stdout, the
// terminal and signals are the command's own, and its exit status is
// corral's. A single argument is a shell command, run with the shell the
// Procfile's commands get (bash where there is one, so "$VAR" and pipes
// work); several are a program and its arguments, run as given.
//
// Exec returns only on failure; a command that cannot be found is an
// *ExitError with code 127, as in a shell.
func Exec(cfg Config, argv []string) error {
	if len(argv) == 0 {
		return errors.New("no command given: corral run -- COMMAND [ARGS...]")
	}
	dir, err := appDir(cfg.Dir)
	if err != nil {
		return err
	}
	env, _, _, err := loadEnv(dir, cfg.EnvFiles, cfg.Environ)
	if err != nil {
		return err
	}
	// An app with no Procfile that detection finds below dir runs there,
	// as corral start runs it.
	var app *buildpack.Plan
	if cfg.Procfile == "" && !fileExists(filepath.Join(dir, "Procfile")) {
		if a, err := buildpack.Detect(dir); err == nil {
			app = a
			dir = filepath.Join(dir, filepath.FromSlash(a.Dir))
		}
	}
	// As heroku run's dyno: the production defaults on a platform, the
	// app's directories of commands first in PATH.
	if platform.Detect(cfg.Environ).IsPaaS() {
		if app == nil {
			app, _ = buildpack.Detect(dir)
		}
		if app != nil {
			env = append(env, appenv.Default(env, app.Env).Environ()...)
		}
	}
	env = appenv.WithPath(dir, env)
	if _, ok := environ.Lookup(env, "PORT"); !ok {
		env = append(env, "PORT="+strconv.Itoa(cfg.Port))
	}
	if len(argv) == 1 {
		argv = []string{findShell(), "-c", argv[0]}
	}
	if err := os.Chdir(dir); err != nil {
		return err
	}
	path := argv[0]
	if !strings.Contains(path, "/") {
		path, err = environ.LookPath(path, env)
		if err != nil {
			return &ExitError{Code: 127, Err: fmt.Errorf("%s: command not found", argv[0])}
		}
	}
	err = syscall.Exec(path, argv, env)
	code := 126
	if errors.Is(err, syscall.ENOENT) {
		code = 127
	}
	return &ExitError{Code: code, Err: fmt.Errorf("%s: %w", argv[0], err)}
}
