// Package platform recognises the hosting platform corral runs on from the
// environment variables each platform sets for its apps, and says what
// that platform does around the app: who terminates TLS, which signal it
// stops with and how long it waits before SIGKILL, whether the disk
// survives a restart, how long it waits for $PORT, and whether its free
// tier can run a worker as a service of its own.
//
// Everything known about a platform is in one table, platforms, each
// value next to the documentation it comes from.
package platform

import (
	"fmt"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Platform is a hosting platform and what it does around the app. The
// zero value means none was recognised: a laptop, a VPS or an unknown
// host. Detect always sets StopSignal, to SIGTERM when none was
// recognised; a zero value made by hand has StopSignal 0.
type Platform struct {
	// Name is "heroku", "render", "railway", "fly", "cloudrun" or
	// "koyeb"; "" when none was recognised.
	Name string
	// Title is the platform's name for people: "Render", "Fly.io".
	Title string
	// Evidence is the variable that gave the platform away, as it was
	// set: "RENDER=true".
	Evidence string
	// Hostname is the app's public hostname when the environment gives
	// one ("app.onrender.com"); "" when it does not.
	Hostname string
	// TLSTerminated is true when the platform's router terminates TLS in
	// front of the app and forwards plain HTTP to $PORT.
	TLSTerminated bool
	// StopSignal is the signal the platform stops the app with: SIGTERM,
	// or SIGINT on Fly.io.
	StopSignal syscall.Signal
	// Grace is how long the platform waits between StopSignal and
	// SIGKILL; 0 when unknown (the caller uses its own default).
	Grace time.Duration
	// EphemeralDisk is true when files written outside a volume are lost
	// when the app restarts or is deployed again.
	EphemeralDisk bool
	// BootDeadline is how long the platform waits for $PORT to accept
	// connections before it fails the deploy or restarts the instance;
	// 0 when unknown or when the platform sets none.
	BootDeadline time.Duration
	// OwnWorkerService is true when the platform's free tier lets a
	// worker (or clock) process run as a service of its own. Where it is
	// false, corral runs worker and clock inside the web service.
	OwnWorkerService bool
	// WorkerNote says in a few words what the free tier allows for
	// workers, and why: "Render's free tier has no background workers".
	WorkerNote string
	// ReleasePhase, when not empty, says that the platform runs the
	// release line of the Procfile it reads itself, before the new
	// release's processes start, and how; corral, started by that
	// Procfile's web line, then leaves it to the platform.
	ReleasePhase string
	// Note explains the values above that are not obvious, or that the
	// app's own platform settings can change where corral cannot see it.
	Note string
}

// IsPaaS reports whether a platform was recognised. Such platforms collect
// stdout themselves and stamp every line with the time.
func (p Platform) IsPaaS() bool { return p.Name != "" }

// Describe is p in one line for people, as `corral check` and the start
// log show it: "render (RENDER=true): app.onrender.com, TLS terminated in
// front of corral, SIGTERM then 30s before SIGKILL, ephemeral disk, 15m
// for $PORT to accept". It is "none" when no platform was recognised.
func (p Platform) Describe() string {
	if !p.IsPaaS() {
		return "none"
	}
	var parts []string
	if p.Hostname != "" {
		parts = append(parts, p.Hostname)
	}
	if p.TLSTerminated {
		parts = append(parts, "TLS terminated in front of corral")
	}
	sig := signalName(p.StopSignal)
	if p.Grace > 0 {
		parts = append(parts, fmt.Sprintf("%s then %s before SIGKILL", sig, duration(p.Grace)))
	} else {
		parts = append(parts, sig+", grace period unknown")
	}
	if p.EphemeralDisk {
		parts = append(parts, "ephemeral disk")
	}
	if p.BootDeadline > 0 {
		parts = append(parts, duration(p.BootDeadline)+" for $PORT to accept")
	}
	return fmt.Sprintf("%s (%s): %s", p.Name, p.Evidence, strings.Join(parts, ", "))
}

// entry is one platform in the table: how to recognise it and what it
// does. Its values are those of the platform's defaults; graceVar and
// bootVar name variables through which the app's settings, when the
// platform puts them in the environment, override Grace and BootDeadline.
type entry struct {
	Platform
	// markers are variables the platform documents as set in every app
	// process, checked in order; the first one set and not empty wins.
	markers []string
	// hostVar is the variable holding the public hostname, and
	// hostSuffix what to append to its value to make one.
	hostVar, hostSuffix string
	// graceVar and bootVar hold whole seconds that replace Grace and
	// BootDeadline when set to a positive number.
	graceVar, bootVar string
}

// platforms are checked in this order; the first with a marker set wins.
var platforms = []entry{
	{
		// Markers: DYNO is set in every dyno ("web.1", "worker.2"; on
		// Fir-generation apps "web-12a34b56d-e78f9"):
		// https://devcenter.heroku.com/articles/dyno-startup-behavior
		// Hostname: HEROKU_APP_DEFAULT_DOMAIN_NAME comes with dyno metadata
		// (`heroku labs:enable runtime-dyno-metadata`):
		// https://devcenter.heroku.com/articles/dyno-metadata
		// HEROKU_APP_NAME+".herokuapp.com" is not used: apps created since
		// June 2023 have a random suffix in their herokuapp.com name
		// (https://devcenter.heroku.com/articles/app-names-and-subdomains).
		// TLS: the router terminates it and forwards HTTP with
		// X-Forwarded-Proto: https://devcenter.heroku.com/articles/http-routing
		// Stop: SIGTERM to every process in the dyno, SIGKILL 30 s later:
		// https://devcenter.heroku.com/articles/dyno-shutdown-behavior
		// Disk: https://devcenter.heroku.com/articles/dynos#ephemeral-filesystem
		// Boot: R10 when the web process has not bound $PORT within 60 s
		// (90 s for some Java buildpacks; the boot timeout tool raises it):
		// https://help.heroku.com/W5ETWBQB/why-is-my-app-crashing-with-an-r10-error
		// Workers: eco dynos run any process type; an eco worker sleeps
		// while the app's eco web dyno sleeps:
		// https://help.heroku.com/Q8OBM85C/how-do-eco-dyno-hours-work
		// Release: the Procfile's release line runs in a one-off dyno
		// before each release goes live:
		// https://devcenter.heroku.com/articles/release-phase
		Platform: Platform{
			Name: "heroku", Title: "Heroku",
			TLSTerminated: true, StopSignal: syscall.SIGTERM, Grace: 30 * time.Second,
			EphemeralDisk: true, BootDeadline: 60 * time.Second,
			OwnWorkerService: true,
			WorkerNote:       "Heroku eco dynos can run a worker dyno of its own (it sleeps while the eco web dyno sleeps)",
			ReleasePhase:     "Heroku runs the Procfile's release line in a dyno of its own before each release goes live",
			Note:             "the dyno manager sends SIGTERM to every process in the dyno at once, not only to corral; the hostname is known only with dyno metadata enabled",
		},
		markers: []string{"DYNO"},
		hostVar: "HEROKU_APP_DEFAULT_DOMAIN_NAME",
	},
	{
		// Markers and hostname: RENDER is always "true";
		// RENDER_EXTERNAL_HOSTNAME is the onrender.com hostname of a web
		// service, empty for other service types:
		// https://render.com/docs/environment-variables
		// TLS: Render's edge terminates it and forwards plain HTTP to $PORT:
		// https://render.com/tutorials/web-service-vs-static-site/web-services
		// Stop: SIGTERM, then SIGKILL after maxShutdownDelaySeconds,
		// default 30, 1 to 300, not visible in the environment:
		// https://render.com/articles/how-render-handles-zero-downtime-deploys
		// and the service field maxShutdownDelaySeconds of Render's API
		// (https://api-docs.render.com).
		// Disk: ephemeral unless a persistent disk (paid) is attached:
		// https://render.com/docs/disks, https://render.com/docs/free
		// Boot: a new instance failing its health checks (or, without one,
		// not bound to its port) for 15 consecutive minutes fails the
		// deploy: https://render.com/docs/health-checks
		// Workers: free instance types exist for web services, Postgres
		// and Key Value only: https://render.com/docs/free
		Platform: Platform{
			Name: "render", Title: "Render",
			TLSTerminated: true, StopSignal: syscall.SIGTERM, Grace: 30 * time.Second,
			EphemeralDisk: true, BootDeadline: 15 * time.Minute,
			OwnWorkerService: false,
			WorkerNote:       "Render's free tier has no background workers (a worker service needs a paid instance type)",
			Note:             "the 30s shutdown delay is Render's default; a service can set 1 to 300s, which the environment does not show",
		},
		markers: []string{"RENDER"},
		hostVar: "RENDER_EXTERNAL_HOSTNAME",
	},
	{
		// Markers and hostname: the Railway-provided variables, set in
		// every build and deployment:
		// https://docs.railway.com/reference/variables
		// RAILWAY_ENVIRONMENT, the older name of RAILWAY_ENVIRONMENT_NAME,
		// is no longer listed there; it stays a marker for older services.
		// The same page says `railway run` and `railway shell` give a local
		// command the service's variables; whether these are among them
		// is not said.
		// TLS: all inbound traffic is HTTPS, X-Forwarded-Proto is always
		// https: https://docs.railway.com/networking/public-networking/specs-and-limits
		// Stop: SIGTERM, then SIGKILL after the draining time:
		// https://docs.railway.com/guides/deployment-teardown
		// The variables reference gives its default as 0; Railway staff say
		// the old deployment gets 3 s by default
		// (https://station.railway.com/questions/what-is-the-behavior-during-a-new-deploy-84535b6e).
		// 3 s is used; RAILWAY_DEPLOYMENT_DRAINING_SECONDS, a service
		// variable and so in the environment, replaces it when set.
		// Disk: ephemeral storage unless a volume is attached:
		// https://docs.railway.com/reference/pricing/plans
		// Boot: with a healthcheck path, the deploy fails when it does not
		// answer 200 within 300 s (RAILWAY_HEALTHCHECK_TIMEOUT_SEC); without
		// one, Railway does not wait for the port at all:
		// https://docs.railway.com/deploy/healthchecks
		// Workers: each service has its own resources on every plan,
		// the Free plan included ($1 of usage a month):
		// https://docs.railway.com/reference/pricing/plans
		Platform: Platform{
			Name: "railway", Title: "Railway",
			TLSTerminated: true, StopSignal: syscall.SIGTERM, Grace: 3 * time.Second,
			EphemeralDisk: true, BootDeadline: 300 * time.Second,
			OwnWorkerService: true,
			WorkerNote:       "Railway runs a worker as a service of its own on every plan, the Free plan included",
			Note:             "the draining time (SIGTERM to SIGKILL) is short unless RAILWAY_DEPLOYMENT_DRAINING_SECONDS raises it; the boot deadline applies only with a healthcheck path",
		},
		markers:  []string{"RAILWAY_ENVIRONMENT_NAME", "RAILWAY_ENVIRONMENT", "RAILWAY_PROJECT_ID", "RAILWAY_SERVICE_ID"},
		hostVar:  "RAILWAY_PUBLIC_DOMAIN",
		graceVar: "RAILWAY_DEPLOYMENT_DRAINING_SECONDS",
		bootVar:  "RAILWAY_HEALTHCHECK_TIMEOUT_SEC",
	},
	{
		// Markers: FLY_APP_NAME and FLY_MACHINE_ID are set in every Machine:
		// https://fly.io/docs/machines/runtime-environment/
		// Hostname: the app name makes the default <app>.fly.dev hostname:
		// https://fly.io/docs/reference/configuration/ ("The app name")
		// TLS: the Fly proxy terminates it for the http_service that
		// `fly launch` configures (handlers tls+http); an app with raw TCP
		// services gets TLS passed through:
		// https://fly.io/docs/security/tls-termination/
		// Stop: kill_signal defaults to SIGINT, kill_timeout to 5 s; both
		// are set in fly.toml and not visible in the environment:
		// https://fly.io/docs/reference/configuration/ (kill_signal, kill_timeout)
		// https://fly.io/blog/graceful-vm-exits-some-dials/
		// Disk: the root filesystem is rebuilt on deploy and restart:
		// https://fly.io/docs/volumes/overview/
		// Boot: the platform sets no deadline for the port; `fly deploy`
		// waits (--wait-timeout) for health checks, when there are any:
		// https://fly.io/docs/flyctl/deploy/ — 0, unknown.
		// Workers: each process group runs in Machines of its own:
		// https://fly.io/docs/apps/processes/ ; Fly has no free tier for
		// new organisations (pay as you go): https://fly.io/docs/about/pricing/
		Platform: Platform{
			Name: "fly", Title: "Fly.io",
			TLSTerminated: true, StopSignal: syscall.SIGINT, Grace: 5 * time.Second,
			EphemeralDisk: true, BootDeadline: 0,
			OwnWorkerService: true,
			WorkerNote:       "Fly.io runs each process group in Machines of its own",
			Note:             "SIGINT and 5s are fly.toml's kill_signal and kill_timeout defaults, which the environment does not show; no deadline for $PORT",
		},
		markers:    []string{"FLY_APP_NAME", "FLY_MACHINE_ID"},
		hostVar:    "FLY_APP_NAME",
		hostSuffix: ".fly.dev",
	},
	{
		// Markers: K_SERVICE, K_REVISION and K_CONFIGURATION are set in
		// every container of a service; no public hostname is given:
		// https://cloud.google.com/run/docs/container-contract (Environment variables)
		// TLS: terminated by Cloud Run; the container gets HTTP/1 or h2c:
		// https://cloud.google.com/run/docs/container-contract (TLS)
		// Stop: SIGTERM, SIGKILL 10 s later:
		// https://cloud.google.com/run/docs/container-contract (instance shutdown)
		// Disk: in-memory, counted against the instance's memory, lost
		// when the instance stops:
		// https://cloud.google.com/run/docs/container-contract (Filesystem access)
		// Boot: the default TCP startup probe gives 240 s:
		// https://cloud.google.com/run/docs/configuring/healthchecks (The default TCP startup probe)
		// Workers: a service gets CPU only while it handles requests
		// under request-based billing, the default and the free tier's;
		// background work needs instance-based billing:
		// https://cloud.google.com/run/docs/tips/general (Background activity)
		Platform: Platform{
			Name: "cloudrun", Title: "Cloud Run",
			TLSTerminated: true, StopSignal: syscall.SIGTERM, Grace: 10 * time.Second,
			EphemeralDisk: true, BootDeadline: 240 * time.Second,
			OwnWorkerService: false,
			WorkerNote:       "Cloud Run's free tier has no always-on workers, and with request-based billing a service gets CPU only while it handles requests",
			Note:             "the disk is in memory and counts against the instance's memory limit",
		},
		markers: []string{"K_SERVICE"},
	},
	{
		// Markers and hostname: Koyeb sets KOYEB_APP_NAME,
		// KOYEB_SERVICE_NAME, KOYEB_PUBLIC_DOMAIN and others in every
		// instance: https://www.koyeb.com/docs/build-and-deploy/environment-variables
		// (the list itself, as the control panel shows it:
		// github.com/koyeb/control-panel, serviceVariables.system_env).
		// TLS: the edge network terminates it:
		// https://www.koyeb.com/docs/reference/apps#networking
		// Stop: not documented. SIGTERM and 5 s are a conservative guess
		// (5 s is the default kill_timeout of Nomad, which Koyeb schedules
		// on: https://www.koyeb.com/blog/the-koyeb-serverless-engine-from-kubernetes-to-nomad-firecracker-and-kuma).
		// Disk: not documented as such; an instance is a microVM made
		// from the image on each deployment, volumes are separate.
		// Conservatively ephemeral: https://www.koyeb.com/docs/reference/instances
		// Boot: the default TCP health check waits 5 s, then checks every
		// 60 s and restarts the instance after 3 failures: about 2 minutes:
		// https://www.koyeb.com/docs/run-and-scale/health-checks
		// Workers: every plan gets one instance of the free type, for a
		// web service: https://www.koyeb.com/docs/reference/instances
		Platform: Platform{
			Name: "koyeb", Title: "Koyeb",
			TLSTerminated: true, StopSignal: syscall.SIGTERM, Grace: 5 * time.Second,
			EphemeralDisk: true, BootDeadline: 2 * time.Minute,
			OwnWorkerService: false,
			WorkerNote:       "Koyeb's free tier is one free instance, for one web service",
			Note:             "Koyeb does not document its stop signal or grace period: SIGTERM and 5s are a conservative guess",
		},
		markers: []string{"KOYEB_APP_NAME", "KOYEB_SERVICE_NAME"},
		hostVar: "KOYEB_PUBLIC_DOMAIN",
	},
}

// Detect recognises the platform from environ, a list of "KEY=value" strings
// as os.Environ returns; the last entry for a key wins, as it does for
// exec. A variable set but empty counts as unset.
func Detect(environ []string) Platform {
	env := make(map[string]string, len(environ))
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok {
			env[k] = v
		}
	}
	for _, e := range platforms {
		for _, m := range e.markers {
			if v := env[m]; v != "" {
				return e.resolve(m+"="+v, env)
			}
		}
	}
	return Platform{StopSignal: syscall.SIGTERM}
}

// resolve is e's Platform in env, recognised by evidence.
func (e entry) resolve(evidence string, env map[string]string) Platform {
	p := e.Platform
	p.Evidence = evidence
	if e.hostVar != "" {
		if h := hostname(env[e.hostVar]); h != "" {
			p.Hostname = h + e.hostSuffix
		}
	}
	if d, ok := seconds(env, e.graceVar); ok {
		p.Grace = d
	}
	if d, ok := seconds(env, e.bootVar); ok {
		p.BootDeadline = d
	}
	return p
}

// hostname is the host in v, which should be a bare hostname but is
// forgiven a scheme, a trailing slash or surrounding spaces.
func hostname(v string) string {
	v = strings.TrimSpace(v)
	if _, rest, ok := strings.Cut(v, "://"); ok {
		v = rest
	}
	return strings.TrimRight(v, "/")
}

// seconds is the positive whole number of seconds in env[key], if any.
func seconds(env map[string]string, key string) (time.Duration, bool) {
	if key == "" {
		return 0, false
	}
	n, err := strconv.Atoi(strings.TrimSpace(env[key]))
	if err != nil || n <= 0 {
		return 0, false
	}
	return time.Duration(n) * time.Second, true
}

// signalName is "SIGTERM" for syscall.SIGTERM, where Signal.String says
// "terminated".
func signalName(s syscall.Signal) string {
	switch s {
	case syscall.SIGTERM:
		return "SIGTERM"
	case syscall.SIGINT:
		return "SIGINT"
	case 0:
		return "no stop signal known"
	}
	return fmt.Sprintf("signal %d", int(s))
}

// duration is d for people: "30s", "15m", "1m30s".
func duration(d time.Duration) string {
	s := d.String()
	if d >= time.Minute && d%time.Minute == 0 {
		s = strings.TrimSuffix(s, "0s")
		if d%time.Hour == 0 {
			s = strings.TrimSuffix(s, "0m")
		}
	}
	return s
}
