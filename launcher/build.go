package launcher

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/corral-run/corral/buildpack"
	"github.com/corral-run/corral/launcher/output"
)

// Build runs the build steps of the app corral detects in cfg.Dir (corral
// build): installing dependencies, building assets or a binary,
// collecting static files. They run in order, with the app's environment,
// their output prefixed like a process's; the first that fails stops the
// build, and its exit status is Build's, so a platform's build command
// (Render, Railway) fails the deploy. A Procfile does not change the steps:
// it names the processes, not how to build them.
func Build(ctx context.Context, cfg Config) (int, error) {
	plan, err := load(cfg, false, true)
	if err != nil {
		return 1, err
	}
	plan.detectBeside(cfg)
	if err := plan.missing(); err != nil {
		return 1, fmt.Errorf("corral build: %w", err)
	}
	steps := plan.buildSteps()
	if len(steps) == 0 {
		say := func(msg string) { fmt.Fprintln(cfg.Stdout, "corral build: "+msg) }
		if cfg.LogFormat == output.JSON { // every line of stdout an object
			log := output.New(cfg.Stdout, 0, output.Options{Format: output.JSON}).Logger("corral", false)
			say = func(msg string) { log.Info("corral build: " + msg) }
		}
		var nf *buildpack.NotFoundError
		switch {
		case plan.AppErr != nil && !errors.As(plan.AppErr, &nf):
			return 1, fmt.Errorf("corral build: %w", plan.AppErr)
		case plan.App == nil:
			say(fmt.Sprintf("nothing to build: the Procfile names the processes and corral recognises no app in %s to build", plan.Dir))
		default:
			say("nothing to build for this " + plan.App.Title)
		}
		return 0, nil
	}
	r := newRunner(cfg, plan, steps)
	defer r.reap()()
	if plan.IgnoredEnv != "" {
		r.log.Info("build: " + filepath.Base(plan.IgnoredEnv) + " is not read: " + ignoredEnvWhy(plan.Machine.Platform))
	}
	began := time.Now()
	for i, step := range steps {
		r.log.Info(fmt.Sprintf("build: step %d of %d, %s: %s", i+1, len(steps), step.Name, step.Command))
		code, interrupted := r.supervise(ctx, phase{insts: []Instance{step}})
		if interrupted {
			return max(code, 1), nil
		}
		if code != 0 {
			r.log.Error(fmt.Sprintf("build: step %d of %d failed with status %d: %s", i+1, len(steps), code, step.Command))
			return code, nil
		}
	}
	r.log.Info(fmt.Sprintf("build: %d step(s) done in %v", len(steps), time.Since(began).Round(time.Millisecond)))
	return 0, nil
}
