#!/usr/bin/env bash
# Side-by-side benchmark of a real Django app (examples/django) under
# corral + gunicorn, nginx + gunicorn, gunicorn alone and Django's runserver,
# with wrk on loopback. Reports median req/s and p99 latency for a small JSON
# view (/whoami) and for the app's hashed CSS file, and judges corral against
# nginx + gunicorn. See bench/README.md.
#
# Environment:
#   DURATION=10        seconds per timed wrk run (warm-up runs are 2 s)
#   RUNS=3             rounds; each round runs every target in turn (interleaved)
#   THREADS=2 CONNS=32 wrk -t / -c
#   BENCH_NO_FAIL=1    only report: a missed target does not fail the script
#   OUT=bench/out      the app copy, configs, logs and wrk outputs go to OUT/django
#   NO_INSTALL=1       do not try to apt-get install missing nginx/wrk
#   CORRAL_BIN=PATH    use this corral binary instead of building ./cmd/corral
#   PAGE_TARGET=1.0 STATIC_TARGET=1.0   corral req/s >= this x nginx + gunicorn
set -euo pipefail

BENCH="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$BENCH/.." && pwd)"
cd "$ROOT"

DURATION="${DURATION:-10}"
RUNS="${RUNS:-3}"
THREADS="${THREADS:-2}"
CONNS="${CONNS:-32}"
OUT="${OUT:-$BENCH/out}"
PAGE_TARGET="${PAGE_TARGET:-1.0}"
STATIC_TARGET="${STATIC_TARGET:-1.0}"
WARMUP=2

die() { echo "django.sh: $*" >&2; exit 1; }
log() { echo "django.sh: $*" >&2; }

[[ "$RUNS" =~ ^[1-9][0-9]*$ ]] || die "RUNS must be a positive integer, got '$RUNS'"
[[ "$DURATION" =~ ^[1-9][0-9]*$ ]] || die "DURATION must be a positive integer (seconds), got '$DURATION'"
[[ "$THREADS" =~ ^[1-9][0-9]*$ && "$CONNS" =~ ^[1-9][0-9]*$ ]] || die "THREADS and CONNS must be positive integers"

mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"
P="$OUT/django" # the app copy (P/app) and per-run files: configs, logs, wrk outputs
rm -rf "$P"
mkdir -p "$P"

# --- processes we start; all stopped on exit (as in proxy.sh) ---------------
declare -A PID=() # name -> pid
descendants() {   # descendants PID: every live descendant, from /proc
  local want="$1" f line rest ppid pid changed=1
  local -A set=(["$want"]=1)
  local -a all=()
  for f in /proc/[0-9]*/stat; do
    line="$(cat "$f" 2>/dev/null)" || continue
    pid="${line%% *}"
    rest="${line##*) }"
    ppid="$(awk '{ print $2 }' <<<"$rest")"
    all+=("$pid:$ppid")
  done
  while ((changed)); do
    changed=0
    for e in "${all[@]}"; do
      pid="${e%%:*}" ppid="${e##*:}"
      if [[ -n "${set[$ppid]:-}" && -z "${set[$pid]:-}" ]]; then set[$pid]=1 changed=1; fi
    done
  done
  unset "set[$want]"
  echo "${!set[@]}"
}
alive() { kill -0 "$1" 2>/dev/null; }
stop() { # stop NAME: SIGTERM, wait up to 15 s, SIGKILL; also any descendant left behind
  local name="$1" pid="${PID[$1]:-}" kids i
  [[ -n "$pid" ]] || return 0
  unset "PID[$name]"
  kids="$(descendants "$pid")"
  if alive "$pid"; then
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 150; i++)); do alive "$pid" || break; sleep 0.1; done
    if alive "$pid"; then log "$name (pid $pid) did not stop in 15 s: SIGKILL"; kill -KILL "$pid" 2>/dev/null || true; fi
  fi
  wait "$pid" 2>/dev/null || true
  for k in $kids; do
    if alive "$k"; then
      sleep 0.5
      if alive "$k"; then log "$name: pid $k outlived it: SIGKILL"; kill -KILL "$k" 2>/dev/null || true; fi
    fi
  done
}
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [[ -n "${WRK_PID:-}" ]]; then kill -TERM "$WRK_PID" 2>/dev/null || true; wait "$WRK_PID" 2>/dev/null || true; fi
  for n in "${!PID[@]}"; do stop "$n"; done
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- tools -------------------------------------------------------------------
install_pkg() { # install_pkg PACKAGE: apt-get install it when we may
  [[ -z "${NO_INSTALL:-}" && "$(id -u)" == 0 ]] && command -v apt-get >/dev/null || return 1
  log "installing $1 with apt-get"
  if [[ -z "${APT_UPDATED:-}" ]]; then apt-get update -qq >>"$P/apt.log" 2>&1 || true; APT_UPDATED=1; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$1" >>"$P/apt.log" 2>&1 ||
    { log "apt-get install $1 failed (see $P/apt.log)"; return 1; }
}
command -v curl >/dev/null || install_pkg curl || die "needs curl"
command -v wrk >/dev/null || install_pkg wrk || die "needs wrk (apt-get install wrk)"
command -v gunicorn >/dev/null || install_pkg gunicorn || die "needs gunicorn (apt-get install gunicorn python3-django)"
HAVE_NGINX=1
command -v nginx >/dev/null || install_pkg nginx-light || true
command -v nginx >/dev/null || { HAVE_NGINX=; log "SKIP nginx: not installed (apt-get install nginx-light)"; }

# --- the app: a copy of examples/django --------------------------------------
APP="$P/app"
mkdir -p "$APP"
cp -r examples/django/. "$APP/"
rm -rf "$APP/staticfiles"
find "$APP" -name __pycache__ -type d -prune -exec rm -rf {} +
STATIC_ROOT="$APP/staticfiles" # settings.STATIC_ROOT = BASE_DIR / "staticfiles"
# The app's `python3` must import Django: under pyenv, the copied .python-version
# ("system") picks /usr/bin/python3 inside APP; elsewhere python3 is the system one.
(cd "$APP" && python3 -c 'import django') >/dev/null 2>&1 ||
  die "python3 in $APP cannot import Django (apt-get install python3-django; under pyenv, .python-version=system)"
WEB_CMD="$(sed -n 's/^web:[[:space:]]*//p' "$APP/Procfile" | tr -d '\r')"
[[ -n "$WEB_CMD" ]] || die "no web: line in $APP/Procfile"
# Django settings from the environment: production defaults (DEBUG off, ALLOWED_HOSTS *)
unset DJANGO_DEBUG DJANGO_ALLOWED_HOSTS DJANGO_LOG_LEVEL PORT CORRAL_PORT || true

log "collectstatic (for nginx; corral's release phase runs it again)"
(cd "$APP" && python3 manage.py collectstatic --noinput) >"$P/collectstatic.log" 2>&1 ||
  die "collectstatic failed (see $P/collectstatic.log)"

log "building corral"
CORRAL="$OUT/corral"
if [[ -n "${CORRAL_BIN:-}" ]]; then
  CORRAL="$CORRAL_BIN"
  [[ -x "$CORRAL" ]] || die "CORRAL_BIN=$CORRAL is not an executable"
else
  go build -o "$CORRAL" ./cmd/corral || die "go build ./cmd/corral failed"
fi

# --- ports -------------------------------------------------------------------
declare -A USED=()
# Ports are picked below the kernel's ephemeral range: wrk and slowhttptest open
# thousands of client connections, and a server cannot bind a port that one of
# those uses as its local port.
EPHEMERAL_LOW="$(awk '{ print $1 }' /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)"
((EPHEMERAL_LOW > 12000)) || EPHEMERAL_LOW=32768
free_port() { # a loopback port nothing listens on, not handed out before
  local p i
  for ((i = 0; i < 200; i++)); do
    p=$((10000 + RANDOM % (EPHEMERAL_LOW - 10000)))
    [[ -n "${USED[$p]:-}" ]] && continue
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then USED[$p]=1; echo "$p"; return; fi
  done
  die "no free port found"
}

# --- start the targets -------------------------------------------------------
wait_ready() { # wait_ready NAME URL: until URL answers 200 (60 s), or die
  local i
  for ((i = 0; i < 600; i++)); do
    if curl -fsS -o /dev/null --max-time 2 "$2" 2>/dev/null; then return 0; fi
    alive "${PID[$1]}" || die "$1 exited at start-up (see $P/$1.log)"
    sleep 0.1
  done
  die "$1 did not answer $2 within 60 s (see $P/$1.log)"
}
check_whoami() { # check_whoami NAME PORT: GET /whoami must be the app's JSON
  local body
  body="$(curl -fsS --max-time 5 "http://127.0.0.1:$2/whoami" 2>&1)" || die "$1: GET /whoami: $body (see $P/$1.log)"
  grep -q '"path": "/whoami"' <<<"$body" || die "$1: GET /whoami: not the app's JSON: $body"
}
start_gunicorn() { # start_gunicorn NAME PORT: the Procfile's web command, as corral would run it
  (cd "$APP" && PORT="$2" exec /bin/sh -c "exec $WEB_CMD") >"$P/$1.log" 2>&1 </dev/null &
  PID[$1]=$!
  wait_ready "$1" "http://127.0.0.1:$2/health"
}

TARGETS=()
declare -A PORT=()

# (a) corral + gunicorn: the app's own Procfile (release: collectstatic; web: gunicorn, 2 sync workers)
PORT[corral]=$(free_port)
env "$CORRAL" start -d "$APP" -p "${PORT[corral]}" -m web=1 --no-access-log --timestamps=false \
  >"$P/corral.log" 2>&1 </dev/null &
PID[corral]=$!
wait_ready corral "http://127.0.0.1:${PORT[corral]}/health"
check_whoami corral "${PORT[corral]}"
TARGETS+=(corral)

# (b) nginx + gunicorn: gunicorn's recommended nginx config (docs.gunicorn.org, "Deploying")
if [[ -n "$HAVE_NGINX" ]]; then
  GUNI_NGINX_PORT=$(free_port)
  start_gunicorn gunicorn-nginx "$GUNI_NGINX_PORT"
  PORT[nginx]=$(free_port)
  N="$P/nginx"
  mkdir -p "$N/tmp" "$N/logs"
  MIME="types { text/css css; application/javascript js; }"
  if [[ -f /etc/nginx/mime.types ]]; then MIME="include /etc/nginx/mime.types;"; fi
  cat >"$N/nginx.conf" <<EOF
worker_processes auto;
pid $N/nginx.pid;
error_log $N/logs/error.log warn;
events { worker_connections 1024; }
http {
  $MIME
  default_type application/octet-stream;
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_timeout 65;
  client_body_temp_path $N/tmp/client_body;
  proxy_temp_path $N/tmp/proxy;
  fastcgi_temp_path $N/tmp/fastcgi;
  uwsgi_temp_path $N/tmp/uwsgi;
  scgi_temp_path $N/tmp/scgi;

  upstream app_server {
    server 127.0.0.1:$GUNI_NGINX_PORT fail_timeout=0;
  }
  server {
    listen 127.0.0.1:${PORT[nginx]};
    server_name _;
    client_max_body_size 4G;
    location /static/ {
      alias $STATIC_ROOT/;
    }
    location / {
      proxy_set_header Host \$http_host;
      proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto \$scheme;
      proxy_set_header X-Forwarded-Host \$host;
      proxy_redirect off;
      proxy_buffering on;
      proxy_pass http://app_server;
    }
  }
}
EOF
  nginx -t -q -e "$N/logs/error.log" -c "$N/nginx.conf" -p "$N" >"$P/nginx.log" 2>&1 ||
    die "nginx rejects $N/nginx.conf: $(cat "$P/nginx.log")"
  nginx -e "$N/logs/error.log" -c "$N/nginx.conf" -p "$N" -g 'daemon off;' >>"$P/nginx.log" 2>&1 </dev/null &
  PID[nginx]=$!
  wait_ready nginx "http://127.0.0.1:${PORT[nginx]}/health"
  check_whoami nginx "${PORT[nginx]}"
  TARGETS+=(nginx)
fi

# (c) gunicorn alone, straight
PORT[gunicorn]=$(free_port)
start_gunicorn gunicorn "${PORT[gunicorn]}"
check_whoami gunicorn "${PORT[gunicorn]}"
TARGETS+=(gunicorn)

# (d) Django's development server (DEBUG off: it serves no static files)
PORT[runserver]=$(free_port)
(cd "$APP" && exec python3 manage.py runserver --noreload "127.0.0.1:${PORT[runserver]}") >"$P/runserver.log" 2>&1 </dev/null &
PID[runserver]=$!
wait_ready runserver "http://127.0.0.1:${PORT[runserver]}/health"
check_whoami runserver "${PORT[runserver]}"
TARGETS+=(runserver)

# --- the static file: the hashed site CSS the page links ---------------------
CSS_PATH="$(curl -fsS --max-time 5 "http://127.0.0.1:${PORT[gunicorn]}/" | grep -o '/static/css/site\.[0-9a-f]*\.css' | head -1 || true)"
[[ -n "$CSS_PATH" ]] || die "no hashed /static/css/site.HASH.css in the page / (see $P/gunicorn.log)"
CSS_FILE="$STATIC_ROOT/${CSS_PATH#/static/}"
[[ -f "$CSS_FILE" ]] || die "$CSS_PATH is not in STATIC_ROOT ($CSS_FILE)"
CSS_SUM="$(md5sum <"$CSS_FILE")"
declare -A STATIC_BAD=()
for t in corral nginx; do
  [[ -n "${PORT[$t]:-}" ]] || continue
  code="$(curl -sS -o "$P/probe.css" -w '%{http_code}' --max-time 5 "http://127.0.0.1:${PORT[$t]}$CSS_PATH" 2>&1)" || true
  if [[ "$code" != 200 ]]; then
    STATIC_BAD[$t]="HTTP $code"
  elif [[ "$(md5sum <"$P/probe.css")" != "$CSS_SUM" ]]; then
    STATIC_BAD[$t]="wrong body"
  fi
  [[ -z "${STATIC_BAD[$t]:-}" ]] || log "$t: GET $CSS_PATH: ${STATIC_BAD[$t]} -- the static scenario is not run for $t"
done

# --- load --------------------------------------------------------------------
SCENARIOS=(page static)
declare -A PATH_OF=([page]=/whoami [static]="$CSS_PATH")
runs_scenario() { # runs_scenario TARGET SCENARIO: whether this pair is measured
  [[ "$2" == static ]] || return 0
  case "$1" in corral | nginx) [[ -z "${STATIC_BAD[$1]:-}" ]] ;; *) return 1 ;; esac
}
owners() { # the processes that must still be alive after a run
  case "$1" in
  nginx) echo "nginx gunicorn-nginx" ;;
  *) echo "$1" ;;
  esac
}

# wrk's time units (us, ms, s, m, h) -> ms
to_ms() { awk -v v="$1" 'BEGIN {
  n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
  f = (u == "us") ? 0.001 : (u == "ms") ? 1 : (u == "s") ? 1000 : (u == "m") ? 60000 : (u == "h") ? 3600000 : -1
  if (f < 0) { print "?"; exit }
  printf "%.3f", n * f
}'; }

declare -A RPS P99 ERRS
wrk_run() { # wrk_run TARGET SCENARIO SECONDS NAME: run wrk, record unless a warm-up
  local t="$1" s="$2" d="$3" name="$4" f rps p99 non2xx sockerr o
  f="$P/wrk.$t.$s.$name.txt"
  timeout -k 5 $((d + 30)) wrk -t"$THREADS" -c"$CONNS" -d"${d}s" --latency "http://127.0.0.1:${PORT[$t]}${PATH_OF[$s]}" >"$f" 2>&1 &
  WRK_PID=$!
  local rc=0
  wait "$WRK_PID" || rc=$?
  WRK_PID=
  ((rc == 0)) || { log "wrk against $t $s exited $rc (see $f)"; ERRS[$t.$s]+="wrk-exit-$rc "; return 0; }
  for o in $(owners "$t"); do alive "${PID[$o]}" || die "$o died during the load (see $P/$o.log)"; done
  [[ "$name" == warmup ]] && return 0
  rps="$(awk '/^Requests\/sec:/ { print $2 }' "$f")"
  p99="$(awk '/Latency Distribution/ { on = 1; next } on && $1 == "99%" { print $2; exit }' "$f")"
  non2xx="$(awk '/Non-2xx or 3xx responses:/ { print $NF }' "$f")"
  sockerr="$(grep -o 'Socket errors:.*' "$f" || true)"
  [[ -n "$rps" && -n "$p99" ]] || { log "cannot parse wrk output $f"; ERRS[$t.$s]+="unparsed "; return 0; }
  p99="$(to_ms "$p99")"
  RPS[$t.$s]+="$rps "
  P99[$t.$s]+="$p99 "
  [[ -n "$non2xx" ]] && ERRS[$t.$s]+="non-2xx:$non2xx "
  [[ -n "$sockerr" ]] && ERRS[$t.$s]+="$(tr -d ' ,' <<<"${sockerr#Socket errors:}") "
  log "$(printf '%-9s %-6s run %-2s %10s req/s  p99 %9s ms%s' "$t" "$s" "$name" "$rps" "$p99" "${non2xx:+  NON-2XX: $non2xx}")"
  return 0
}

log "targets: ${TARGETS[*]} (corral :${PORT[corral]}, nginx :${PORT[nginx]:--}, gunicorn :${PORT[gunicorn]}, runserver :${PORT[runserver]})"
log "wrk -t$THREADS -c$CONNS -d${DURATION}s --latency, $RUNS round(s) after a ${WARMUP} s warm-up per target; static file $CSS_PATH"
for t in "${TARGETS[@]}"; do
  for s in "${SCENARIOS[@]}"; do
    if runs_scenario "$t" "$s"; then wrk_run "$t" "$s" "$WARMUP" warmup; fi
  done
done
for ((i = 1; i <= RUNS; i++)); do
  for s in "${SCENARIOS[@]}"; do
    for t in "${TARGETS[@]}"; do
      if runs_scenario "$t" "$s"; then wrk_run "$t" "$s" "$DURATION" "$i"; fi
    done
  done
done

# --- report ------------------------------------------------------------------
median() { tr ' ' '\n' | awk 'NF' | sort -g | awk '{ a[NR] = $1 } END { if (NR == 0) exit; m = int((NR + 1) / 2); printf "%.2f", (NR % 2) ? a[m] : (a[m] + a[m + 1]) / 2 }'; }
GUNI_VERSION="$(gunicorn --version 2>/dev/null | awk '{ print $NF }' | tr -d ')')"
DJANGO_VERSION="$(cd "$APP" && python3 -c 'import django; print(django.get_version())' 2>/dev/null)"
describe() {
  case "$1" in
  corral) echo "corral edge + gunicorn $GUNI_VERSION (2 sync workers)" ;;
  nginx) echo "$(nginx -v 2>&1 | sed 's/^nginx version: //') + gunicorn $GUNI_VERSION (2 sync workers)" ;;
  gunicorn) echo "gunicorn $GUNI_VERSION alone (2 sync workers)" ;;
  runserver) echo "manage.py runserver --noreload (Django $DJANGO_VERSION)" ;;
  esac
}
CSS_BYTES="$(stat -c %s "$CSS_FILE")"
declare -A MED
echo
echo "examples/django (a copy in $APP), wrk -t$THREADS -c$CONNS -d${DURATION}s, $RUNS round(s) interleaved, medians;"
echo "loopback, $(nproc) CPU(s) shared by wrk, the proxy and the app"
echo
printf '%-10s %-24s %11s %9s  %-s\n' target scenario "req/s" "p99 ms" "what / notes"
for s in "${SCENARIOS[@]}"; do
  for t in corral nginx gunicorn runserver; do
    label="page /whoami"
    [[ "$s" == static ]] && label="static css ($CSS_BYTES B)"
    if [[ -z "${PORT[$t]:-}" ]]; then
      printf '%-10s %-24s %11s %9s  %s\n' "$t" "$label" - - "not installed"
      continue
    fi
    if ! runs_scenario "$t" "$s"; then
      why="skipped (serves no static files)"
      [[ -n "${STATIC_BAD[$t]:-}" ]] && why="NOT SERVED RIGHT: GET $CSS_PATH: ${STATIC_BAD[$t]}"
      printf '%-10s %-24s %11s %9s  %s\n' "$t" "$label" - - "$why"
      continue
    fi
    MED[$t.$s]="$(median <<<"${RPS[$t.$s]:-}")"
    p99="$(median <<<"${P99[$t.$s]:-}")"
    printf '%-10s %-24s %11s %9s  %s\n' "$t" "$label" "${MED[$t.$s]:--}" "${p99:--}" \
      "$(describe "$t")${ERRS[$t.$s]:+  ERRORS: ${ERRS[$t.$s]}}"
  done
done
echo

MISSED=0
ratio() { # ratio SCENARIO TARGET: corral / (nginx + gunicorn)
  local s="$1" want="$2" a b r verdict name="corral/nginx+gunicorn $1"
  a="${MED[corral.$s]:-}" b="${MED[nginx.$s]:-}"
  if [[ -z "$a" ]]; then
    printf '%-30s  %7s  target >= %sx  FAIL (corral not measured: %s)\n' "$name" - "$want" "${STATIC_BAD[corral]:-no result}"
    MISSED=1
    return
  fi
  if [[ -z "$b" ]]; then
    printf '%-30s  %7s  target >= %sx  SKIP (nginx not measured)\n' "$name" - "$want"
    return
  fi
  r="$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.2f", (b > 0) ? a / b : 0 }')"
  if [[ -n "${ERRS[corral.$s]:-}" ]]; then
    verdict="FAIL (errors)" MISSED=1
  elif awk -v x="$r" -v w="$want" 'BEGIN { exit !(x >= w) }'; then
    verdict=PASS
  else
    verdict=FAIL MISSED=1
  fi
  printf '%-30s  %6sx  target >= %sx  %s\n' "$name" "$r" "$want" "$verdict"
}
ratio page "$PAGE_TARGET"
ratio static "$STATIC_TARGET"
echo
echo "app copy, configs, logs and wrk outputs in $P"

if ((MISSED)); then
  if [[ -n "${BENCH_NO_FAIL:-}" && "${BENCH_NO_FAIL}" != 0 ]]; then
    echo "a target was missed (BENCH_NO_FAIL set: not failing)"
  else
    echo "FAIL: a target was missed"
    exit 1
  fi
fi
