package platform

import (
	"strings"
	"syscall"
	"testing"
	"time"
)

// The environments below are written as each platform injects them: its
// own documented variables, the buildpack's or image's, and the app's
// config, in no particular order.

var herokuEnv = []string{
	"PATH=/app/.heroku/python/bin:/usr/local/bin:/usr/bin:/bin",
	"HOME=/app",
	"PORT=41235",
	"DYNO=web.1",
	"PS1=\\[\\033[01;34m\\]\\w\\[\\033[00m\\] \\[\\033[01;32m\\]$ \\[\\033[00m\\]",
	"PYTHONHOME=/app/.heroku/python",
	"WEB_CONCURRENCY=2",
	"DYNO_RAM=512",
	"MEMORY_AVAILABLE=512",
	"DATABASE_URL=postgres://u:p@ec2-1-2-3-4.compute-1.amazonaws.com:5432/d1",
	// dyno metadata (heroku labs:enable runtime-dyno-metadata)
	"HEROKU_APP_ID=9daa2797-e49b-4624-932f-ec3f9688e3da",
	"HEROKU_APP_NAME=corral-demo",
	"HEROKU_APP_DEFAULT_DOMAIN_NAME=corral-demo-1234567890ab.herokuapp.com",
	"HEROKU_DYNO_ID=1vac4117-c29f-4312-521e-ba4d8638c1ac",
	"HEROKU_RELEASE_CREATED_AT=2025-04-02T18:00:42Z",
	"HEROKU_RELEASE_VERSION=v42",
	"HEROKU_SLUG_COMMIT=2c3a0b24069af49b3de35b8e8c26765c1dba9ff0",
	"HEROKU_SLUG_DESCRIPTION=Deploy 2c3a0b2",
}

// A worker dyno of an app without dyno metadata: no hostname.
var herokuWorkerEnv = []string{
	"PATH=/app/.heroku/node/bin:/usr/local/bin:/usr/bin:/bin",
	"HOME=/app",
	"DYNO=worker.2",
	"NODE_ENV=production",
	"REDIS_URL=rediss://:p@ec2-5-6-7-8.compute-1.amazonaws.com:6380",
}

var renderEnv = []string{
	"PATH=/opt/render/project/src/.venv/bin:/usr/local/bin:/usr/bin:/bin",
	"HOME=/opt/render",
	"PORT=10000",
	"RENDER=true",
	"IS_PULL_REQUEST=false",
	"RENDER_CPU_COUNT=0.1",
	"RENDER_DISCOVERY_SERVICE=corral-demo-discovery",
	"RENDER_EXTERNAL_HOSTNAME=corral-demo.onrender.com",
	"RENDER_EXTERNAL_URL=https://corral-demo.onrender.com",
	"RENDER_GIT_BRANCH=main",
	"RENDER_GIT_COMMIT=2c3a0b24069af49b3de35b8e8c26765c1dba9ff0",
	"RENDER_GIT_REPO_SLUG=acme/corral-demo",
	"RENDER_INSTANCE_ID=srv-cn4t8ai1hbls73d0abcd-7d9f8b6c5-x2k4p",
	"RENDER_SERVICE_ID=srv-cn4t8ai1hbls73d0abcd",
	"RENDER_SERVICE_NAME=corral-demo",
	"RENDER_SERVICE_TYPE=web",
	"PYTHON_VERSION=3.12.3",
	"WEB_CONCURRENCY=1",
}

// A background worker: RENDER_EXTERNAL_HOSTNAME is set but empty.
var renderWorkerEnv = []string{
	"PATH=/usr/local/bin:/usr/bin:/bin",
	"HOME=/opt/render",
	"RENDER=true",
	"IS_PULL_REQUEST=false",
	"RENDER_EXTERNAL_HOSTNAME=",
	"RENDER_EXTERNAL_URL=",
	"RENDER_SERVICE_ID=srv-cn4t9bi1hbls73d0efgh",
	"RENDER_SERVICE_NAME=corral-worker",
	"RENDER_SERVICE_TYPE=worker",
}

var railwayEnv = []string{
	"PATH=/opt/venv/bin:/usr/local/bin:/usr/bin:/bin",
	"HOME=/root",
	"PORT=8080",
	"RAILWAY_ENVIRONMENT=production",
	"RAILWAY_ENVIRONMENT_NAME=production",
	"RAILWAY_ENVIRONMENT_ID=3b1f5c2e-8d4a-4f0b-9a6e-1c2d3e4f5a6b",
	"RAILWAY_PROJECT_NAME=corral-demo",
	"RAILWAY_PROJECT_ID=6f7e8d9c-0b1a-4c3d-8e2f-a1b2c3d4e5f6",
	"RAILWAY_SERVICE_NAME=web",
	"RAILWAY_SERVICE_ID=0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d",
	"RAILWAY_PUBLIC_DOMAIN=corral-demo-production.up.railway.app",
	"RAILWAY_PRIVATE_DOMAIN=web.railway.internal",
	"RAILWAY_REPLICA_ID=5d6e7f80-91a2-4b3c-8d4e-5f60718293a4",
	"RAILWAY_REPLICA_REGION=us-west2",
	"RAILWAY_DEPLOYMENT_ID=c1d2e3f4-a5b6-4c7d-8e9f-0a1b2c3d4e5f",
	"RAILWAY_SNAPSHOT_ID=d2e3f4a5-b6c7-4d8e-9f0a-1b2c3d4e5f60",
	"RAILWAY_GIT_COMMIT_SHA=d0beb8f5c55b36df7d674d55965a23b8d54ad69b",
	"RAILWAY_GIT_BRANCH=main",
}

// A newer worker service without RAILWAY_ENVIRONMENT or a public domain,
// whose settings raise the draining time and the healthcheck timeout.
var railwayTunedEnv = []string{
	"PATH=/usr/local/bin:/usr/bin:/bin",
	"RAILWAY_PROJECT_NAME=corral-demo",
	"RAILWAY_PROJECT_ID=6f7e8d9c-0b1a-4c3d-8e2f-a1b2c3d4e5f6",
	"RAILWAY_SERVICE_NAME=worker",
	"RAILWAY_SERVICE_ID=7a8b9c0d-1e2f-4a3b-8c4d-5e6f7a8b9c0d",
	"RAILWAY_PRIVATE_DOMAIN=worker.railway.internal",
	"RAILWAY_DEPLOYMENT_DRAINING_SECONDS=30",
	"RAILWAY_HEALTHCHECK_TIMEOUT_SEC=120",
}

var flyEnv = []string{
	"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
	"HOME=/root",
	"PORT=8080",
	"PRIMARY_REGION=ams",
	"FLY_APP_NAME=corral-demo",
	"FLY_MACHINE_ID=e784079b449483",
	"FLY_ALLOC_ID=e784079b449483",
	"FLY_REGION=ams",
	"FLY_PUBLIC_IP=2a09:8280:1::3:4b5c",
	"FLY_PRIVATE_IP=fdaa:0:1234:a7b:c0e:1f2a:3b4c:2",
	"FLY_IMAGE_REF=registry.fly.io/corral-demo:deployment-01HQ7Z9X4V5W6Y7Z8A9B0C1D2E",
	"FLY_MACHINE_VERSION=01HQ7ZA1B2C3D4E5F6G7H8J9K0",
	"FLY_PROCESS_GROUP=app",
	"FLY_VM_MEMORY_MB=256",
}

var cloudRunEnv = []string{
	"PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin",
	"HOME=/root",
	"PORT=8080",
	"K_SERVICE=corral-demo",
	"K_REVISION=corral-demo-00003-xiv",
	"K_CONFIGURATION=corral-demo",
}

var koyebEnv = []string{
	"PATH=/workspace/.venv/bin:/usr/local/bin:/usr/bin:/bin",
	"HOME=/root",
	"PORT=8000",
	"KOYEB_APP_NAME=corral-demo",
	"KOYEB_APP_ID=1f2e3d4c-5b6a-4978-8a9b-0c1d2e3f4a5b",
	"KOYEB_SERVICE_NAME=web",
	"KOYEB_SERVICE_ID=2a3b4c5d-6e7f-4a8b-9c0d-1e2f3a4b5c6d",
	"KOYEB_ORGANIZATION_NAME=acme",
	"KOYEB_ORGANIZATION_ID=3b4c5d6e-7f80-4a9b-8c1d-2e3f4a5b6c7d",
	"KOYEB_PUBLIC_DOMAIN=corral-demo-acme-1a2b3c4d.koyeb.app",
	"KOYEB_SERVICE_PRIVATE_DOMAIN=web.corral-demo.koyeb",
	"KOYEB_REGION=fra",
	"KOYEB_DC=fra1",
	"KOYEB_REGIONAL_DEPLOYMENT_ID=3a1bb3d0-7502-40a5-ae12-7e28f807531b",
	"KOYEB_INSTANCE_ID=e5f296b6-a911-8637-234e-f929e8bd5d87",
	"KOYEB_INSTANCE_TYPE=free",
	"KOYEB_INSTANCE_MEMORY_MB=512",
	"KOYEB_REPLICA_INDEX=0",
	"KOYEB_PRIVILEGED=false",
	"KOYEB_HYPERVISOR_ID=0123456789abcdef",
	"KOYEB_PORT_8000_PROTOCOL=http",
	"KOYEB_GIT_BRANCH=main",
	"KOYEB_GIT_REPOSITORY=github.com/acme/corral-demo",
}

var laptopEnv = []string{
	"HOME=/home/ada",
	"USER=ada",
	"LOGNAME=ada",
	"SHELL=/bin/zsh",
	"TERM=xterm-256color",
	"COLORTERM=truecolor",
	"LANG=en_GB.UTF-8",
	"PATH=/home/ada/go/bin:/usr/local/bin:/usr/bin:/bin",
	"PWD=/home/ada/src/corral-demo",
	"EDITOR=vim",
	"SSH_AUTH_SOCK=/run/user/1000/keyring/ssh",
	"XDG_RUNTIME_DIR=/run/user/1000",
	"PORT=5000",
}

var ciEnv = []string{
	"CI=true",
	"GITHUB_ACTIONS=true",
	"GITHUB_REPOSITORY=acme/corral-demo",
	"GITHUB_SHA=2c3a0b24069af49b3de35b8e8c26765c1dba9ff0",
	"GITHUB_REF=refs/heads/main",
	"GITHUB_WORKSPACE=/home/runner/work/corral-demo/corral-demo",
	"RUNNER_OS=Linux",
	"RUNNER_ARCH=X64",
	"RUNNER_TEMP=/home/runner/work/_temp",
	"HOME=/home/runner",
	"PATH=/usr/local/bin:/usr/bin:/bin",
	"ImageOS=ubuntu24",
}

var dockerEnv = []string{
	"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
	"HOSTNAME=3f4e2a1b9c0d",
	"HOME=/root",
	"LANG=C.UTF-8",
	"PYTHON_VERSION=3.12.3",
	"GPG_KEY=7169605F62C751356D054A26A821E680E5FA6305",
	"PORT=8000",
}

func TestDetect(t *testing.T) {
	heroku := Platform{
		Name: "heroku", Title: "Heroku",
		TLSTerminated: true, StopSignal: syscall.SIGTERM, Grace: 30 * time.Second,
		EphemeralDisk: true, BootDeadline: 60 * time.Second, OwnWorkerService: true,
	}
	render := Platform{
		Name: "render", Title: "Render",
		TLSTerminated: true, StopSignal: syscall.SIGTERM, Grace: 30 * time.Second,
		EphemeralDisk: true, BootDeadline: 15 * time.Minute, OwnWorkerService: false,
	}
	railway := Platform{
		Name: "railway", Title: "Railway",
		TLSTerminated: true, StopSignal: syscall.SIGTERM, Grace: 3 * time.Second,
		EphemeralDisk: true, BootDeadline: 5 * time.Minute, OwnWorkerService: true,
	}
	fly := Platform{
		Name: "fly", Title: "Fly.io",
		TLSTerminated: true, StopSignal: syscall.SIGINT, Grace: 5 * time.Second,
		EphemeralDisk: true, BootDeadline: 0, OwnWorkerService: true,
	}
	cloudrun := Platform{
		Name: "cloudrun", Title: "Cloud Run",
		TLSTerminated: true, StopSignal: syscall.SIGTERM, Grace: 10 * time.Second,
		EphemeralDisk: true, BootDeadline: 4 * time.Minute, OwnWorkerService: false,
	}
	koyeb := Platform{
		Name: "koyeb", Title: "Koyeb",
		TLSTerminated: true, StopSignal: syscall.SIGTERM, Grace: 5 * time.Second,
		EphemeralDisk: true, BootDeadline: 2 * time.Minute, OwnWorkerService: false,
	}
	none := Platform{StopSignal: syscall.SIGTERM}

	with := func(p Platform, evidence, host string) Platform {
		p.Evidence, p.Hostname = evidence, host
		return p
	}
	tuned := with(railway, "RAILWAY_PROJECT_ID=6f7e8d9c-0b1a-4c3d-8e2f-a1b2c3d4e5f6", "")
	tuned.Grace, tuned.BootDeadline = 30*time.Second, 2*time.Minute

	tests := []struct {
		name string
		env  []string
		want Platform
	}{
		{"heroku web dyno with metadata", herokuEnv, with(heroku, "DYNO=web.1", "corral-demo-1234567890ab.herokuapp.com")},
		{"heroku worker dyno", herokuWorkerEnv, with(heroku, "DYNO=worker.2", "")},
		{"render web service", renderEnv, with(render, "RENDER=true", "corral-demo.onrender.com")},
		{"render background worker", renderWorkerEnv, with(render, "RENDER=true", "")},
		{"railway", railwayEnv, with(railway, "RAILWAY_ENVIRONMENT_NAME=production", "corral-demo-production.up.railway.app")},
		{"railway, tuned worker", railwayTunedEnv, tuned},
		{"railway, old marker only", []string{"RAILWAY_ENVIRONMENT=production"}, with(railway, "RAILWAY_ENVIRONMENT=production", "")},
		{"railway, service id only", []string{"RAILWAY_SERVICE_ID=0a1b"}, with(railway, "RAILWAY_SERVICE_ID=0a1b", "")},
		{"railway, draining 0 keeps the default", []string{"RAILWAY_ENVIRONMENT_NAME=prod", "RAILWAY_DEPLOYMENT_DRAINING_SECONDS=0", "RAILWAY_HEALTHCHECK_TIMEOUT_SEC=soon"},
			with(railway, "RAILWAY_ENVIRONMENT_NAME=prod", "")},
		{"fly", flyEnv, with(fly, "FLY_APP_NAME=corral-demo", "corral-demo.fly.dev")},
		{"fly, machine id only", []string{"FLY_MACHINE_ID=e784079b449483", "FLY_REGION=ams"}, with(fly, "FLY_MACHINE_ID=e784079b449483", "")},
		{"cloud run", cloudRunEnv, with(cloudrun, "K_SERVICE=corral-demo", "")},
		{"koyeb", koyebEnv, with(koyeb, "KOYEB_APP_NAME=corral-demo", "corral-demo-acme-1a2b3c4d.koyeb.app")},
		{"koyeb, service name only", []string{"KOYEB_SERVICE_NAME=web"}, with(koyeb, "KOYEB_SERVICE_NAME=web", "")},
		{"koyeb, domain written as a URL", []string{"KOYEB_APP_NAME=a", "KOYEB_PUBLIC_DOMAIN= https://a-acme.koyeb.app/ "}, with(koyeb, "KOYEB_APP_NAME=a", "a-acme.koyeb.app")},

		{"nil", nil, none},
		{"laptop", laptopEnv, none},
		{"CI", ciEnv, none},
		{"docker", dockerEnv, none},
		{"marker set but empty", []string{"DYNO=", "RENDER=", "FLY_APP_NAME="}, none},
		{"marker emptied by a later entry", []string{"DYNO=web.1", "DYNO="}, none},
		{"marker set by a later entry", []string{"RENDER=", "RENDER=true"}, with(render, "RENDER=true", "")},
		{"no '=' is no variable", []string{"DYNO", "RENDER"}, none},
		{"hostname variable alone is no marker", []string{"RENDER_EXTERNAL_HOSTNAME=x.onrender.com", "KOYEB_PUBLIC_DOMAIN=x.koyeb.app"}, none},
		{"table order decides between two", []string{"K_SERVICE=svc", "DYNO=web.1"}, with(heroku, "DYNO=web.1", "")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Detect(tt.env)
			// The notes are prose, checked apart below.
			got.WorkerNote, got.ReleasePhase, got.Note = "", "", ""
			if got != tt.want {
				t.Errorf("Detect:\n got %+v\nwant %+v", got, tt.want)
			}
			if got.IsPaaS() != (tt.want.Name != "") {
				t.Errorf("IsPaaS() = %v", got.IsPaaS())
			}
		})
	}
}

func TestTable(t *testing.T) {
	names := map[string]bool{}
	markers := map[string]string{}
	for _, e := range platforms {
		p := e.Platform
		if p.Name == "" || p.Title == "" || names[p.Name] {
			t.Errorf("%q: empty or repeated name or title", p.Name)
		}
		names[p.Name] = true
		if len(e.markers) == 0 {
			t.Errorf("%s: no markers", p.Name)
		}
		for _, m := range e.markers {
			if other, ok := markers[m]; ok {
				t.Errorf("%s: marker %s is %s's too", p.Name, m, other)
			}
			markers[m] = p.Name
		}
		if p.Evidence != "" || p.Hostname != "" {
			t.Errorf("%s: Evidence and Hostname come from the environment, not the table", p.Name)
		}
		if p.StopSignal != syscall.SIGTERM && p.StopSignal != syscall.SIGINT {
			t.Errorf("%s: stop signal %v", p.Name, p.StopSignal)
		}
		if p.Grace <= 0 {
			t.Errorf("%s: no grace period; choose a conservative one", p.Name)
		}
		if p.WorkerNote == "" || p.Note == "" {
			t.Errorf("%s: WorkerNote and Note say why", p.Name)
		}
		if !strings.Contains(p.WorkerNote, p.Title) {
			t.Errorf("%s: WorkerNote %q does not name %s", p.Name, p.WorkerNote, p.Title)
		}
	}
	for _, want := range []string{"heroku", "render", "railway", "fly", "cloudrun", "koyeb"} {
		if !names[want] {
			t.Errorf("no %s in the table", want)
		}
	}
}

func TestNotes(t *testing.T) {
	for _, tt := range []struct {
		env                []string
		workerNote, inNote string
	}{
		{renderEnv, "Render's free tier has no background workers (a worker service needs a paid instance type)", "1 to 300s"},
		{cloudRunEnv, "Cloud Run's free tier has no always-on workers, and with request-based billing a service gets CPU only while it handles requests", "in memory"},
		{koyebEnv, "Koyeb's free tier is one free instance, for one web service", "conservative guess"},
		{herokuEnv, "Heroku eco dynos can run a worker dyno of its own (it sleeps while the eco web dyno sleeps)", "every process in the dyno"},
		{flyEnv, "Fly.io runs each process group in Machines of its own", "kill_signal"},
		{railwayEnv, "Railway runs a worker as a service of its own on every plan, the Free plan included", "RAILWAY_DEPLOYMENT_DRAINING_SECONDS"},
		{laptopEnv, "", ""},
	} {
		p := Detect(tt.env)
		if p.WorkerNote != tt.workerNote || !strings.Contains(p.Note, tt.inNote) || (tt.inNote == "") != (p.Note == "") {
			t.Errorf("%s: WorkerNote %q, Note %q; want %q and a note with %q", p.Name, p.WorkerNote, p.Note, tt.workerNote, tt.inNote)
		}
		// Only Heroku runs a Procfile's release line itself.
		if (p.ReleasePhase != "") != (p.Name == "heroku") {
			t.Errorf("%s: ReleasePhase %q", p.Name, p.ReleasePhase)
		}
	}
}

func TestDescribe(t *testing.T) {
	for _, tt := range []struct {
		env  []string
		want string
	}{
		{renderEnv, "render (RENDER=true): corral-demo.onrender.com, TLS terminated in front of corral, SIGTERM then 30s before SIGKILL, ephemeral disk, 15m for $PORT to accept"},
		{flyEnv, "fly (FLY_APP_NAME=corral-demo): corral-demo.fly.dev, TLS terminated in front of corral, SIGINT then 5s before SIGKILL, ephemeral disk"},
		{cloudRunEnv, "cloudrun (K_SERVICE=corral-demo): TLS terminated in front of corral, SIGTERM then 10s before SIGKILL, ephemeral disk, 4m for $PORT to accept"},
		{railwayTunedEnv, "railway (RAILWAY_PROJECT_ID=6f7e8d9c-0b1a-4c3d-8e2f-a1b2c3d4e5f6): TLS terminated in front of corral, SIGTERM then 30s before SIGKILL, ephemeral disk, 2m for $PORT to accept"},
		{laptopEnv, "none"},
	} {
		if got := Detect(tt.env).Describe(); got != tt.want {
			t.Errorf("Describe:\n got %q\nwant %q", got, tt.want)
		}
	}

	// A Platform made by hand, with what the table never has.
	p := Platform{Name: "x", Evidence: "X=1", StopSignal: syscall.SIGQUIT, Grace: 90 * time.Second, BootDeadline: 2 * time.Hour}
	if got, want := p.Describe(), "x (X=1): signal 3 then 1m30s before SIGKILL, 2h for $PORT to accept"; got != want {
		t.Errorf("Describe:\n got %q\nwant %q", got, want)
	}
	p = Platform{Name: "x", Evidence: "X=1"}
	if got, want := p.Describe(), "x (X=1): no stop signal known, grace period unknown"; got != want {
		t.Errorf("Describe:\n got %q\nwant %q", got, want)
	}
}
