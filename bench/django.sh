#!/usr/bin/env bash
# Side-by-side benchmark of a real Django app (examples/django) under
# corral + gunicorn, nginx + gunicorn, bench/goproxy (a featureless Go proxy:
# the ceiling for a Go program in corral's place) + gunicorn, gunicorn alone
# and Django's runserver,
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
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" # cds to the repository root

DURATION="${DURATION:-10}"
RUNS="${RUNS:-3}"
THREADS="${THREADS:-2}"
CONNS="${CONNS:-32}"
OUT="${OUT:-$BENCH/out}"
PAGE_TARGET="${PAGE_TARGET:-1.0}"
STATIC_TARGET="${STATIC_TARGET:-1.0}"
WARMUP=2

check_run_settings
setup_out django # P: the app copy (P/app) and per-run files: configs, logs, wrk outputs

# --- tools -------------------------------------------------------------------
command -v curl >/dev/null || install_pkg curl || die "needs curl"
command -v wrk >/dev/null || install_pkg wrk || die "needs wrk (apt-get install wrk)"
command -v gunicorn >/dev/null || install_pkg gunicorn || die "needs gunicorn (apt-get install gunicorn python3-django)"
find_nginx

# --- the app: a copy of examples/django --------------------------------------
django_app

log "collectstatic (for nginx; corral's release phase runs it again)"
collectstatic

log "building corral and goproxy"
build_corral
go build -o "$OUT/goproxy" ./bench/goproxy || die "go build ./bench/goproxy failed"

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
  nginx_django_conf "$N" "$GUNI_NGINX_PORT" "${PORT[nginx]}" 1024
  start_nginx "$N"
  wait_ready nginx "http://127.0.0.1:${PORT[nginx]}/health"
  check_whoami nginx "${PORT[nginx]}"
  TARGETS+=(nginx)
fi

# (c) bench/goproxy + gunicorn: the featureless Go proxy, the ceiling of what
# a Go program in corral's place reaches (see bench/proxy.sh)
GUNI_GOPROXY_PORT=$(free_port)
start_gunicorn gunicorn-goproxy "$GUNI_GOPROXY_PORT"
PORT[goproxy]=$(free_port)
PORT=${PORT[goproxy]} UPSTREAM_PORT=$GUNI_GOPROXY_PORT "$OUT/goproxy" >"$P/goproxy.log" 2>&1 </dev/null &
PID[goproxy]=$!
wait_ready goproxy "http://127.0.0.1:${PORT[goproxy]}/health"
check_whoami goproxy "${PORT[goproxy]}"
TARGETS+=(goproxy)

# (d) gunicorn alone, straight
PORT[gunicorn]=$(free_port)
start_gunicorn gunicorn "${PORT[gunicorn]}"
check_whoami gunicorn "${PORT[gunicorn]}"
TARGETS+=(gunicorn)

# (e) Django's development server (DEBUG off: it serves no static files)
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
  goproxy) echo "goproxy gunicorn-goproxy" ;;
  *) echo "$1" ;;
  esac
}

# CPU time per request: on a small machine wrk, the proxy and gunicorn share
# the CPUs, so what the proxy spends per request is taken from gunicorn, and
# it is a steadier figure than req/s on a loaded machine. The proxy is
# corral's own process (not its children) or nginx's master and workers; the
# app is gunicorn's master and workers.
HZ="$(getconf CLK_TCK)"
declare -A CPU_PROXY=() CPU_APP=() # µs per request of each timed run, by TARGET.SCENARIO
proxy_pids() {
  case "$1" in
  corral) echo "${PID[corral]}" ;;
  nginx) echo "${PID[nginx]} $(descendants "${PID[nginx]}")" ;;
  goproxy) echo "${PID[goproxy]}" ;;
  esac
}
app_pids() {
  case "$1" in
  corral) descendants "${PID[corral]}" ;;
  nginx) echo "${PID[gunicorn-nginx]} $(descendants "${PID[gunicorn-nginx]}")" ;;
  goproxy) echo "${PID[gunicorn-goproxy]} $(descendants "${PID[gunicorn-goproxy]}")" ;;
  esac
}

wrk_run() { # wrk_run TARGET SCENARIO SECONDS NAME: run wrk, record unless a warm-up
  local t="$1" s="$2" d="$3" name="$4" f o pp ap p0 a0 n
  f="$P/wrk.$t.$s.$name.txt"
  pp="$(proxy_pids "$t")" ap="$(app_pids "$t")"
  # shellcheck disable=SC2086 # lists of pids
  p0="$(cpu_ticks $pp)" a0="$(cpu_ticks $ap)"
  wrk_start "http://127.0.0.1:${PORT[$t]}${PATH_OF[$s]}" "$d" "$f"
  local rc=0
  wrk_wait || rc=$?
  ((rc == 0)) || { log "wrk against $t $s exited $rc (see $f)"; ERRS[$t.$s]+="wrk-exit-$rc "; return 0; }
  for o in $(owners "$t"); do alive "${PID[$o]}" || die "$o died during the load (see $P/$o.log)"; done
  [[ "$name" == warmup ]] && return 0
  wrk_record "$t" "$s" "$name" "$f" 9
  n="$(awk '/ requests in / { print $1 }' "$f")"
  if [[ -n "$pp" && "$n" =~ ^[1-9][0-9]*$ ]]; then
    # shellcheck disable=SC2086
    CPU_PROXY[$t.$s]+="$(awk -v t="$(($(cpu_ticks $pp) - p0))" -v n="$n" -v hz="$HZ" 'BEGIN { printf "%.1f", t * 1e6 / hz / n }') "
    # shellcheck disable=SC2086
    CPU_APP[$t.$s]+="$(awk -v t="$(($(cpu_ticks $ap) - a0))" -v n="$n" -v hz="$HZ" 'BEGIN { printf "%.1f", t * 1e6 / hz / n }') "
  fi
}

log "targets: ${TARGETS[*]} (corral :${PORT[corral]}, nginx :${PORT[nginx]:--}, gunicorn :${PORT[gunicorn]}, runserver :${PORT[runserver]})"
log "wrk -t$THREADS -c$CONNS -d${DURATION}s --latency, $RUNS round(s) after a ${WARMUP} s warm-up per target; static file $CSS_PATH"
run_rounds

# --- report ------------------------------------------------------------------
GUNI_VERSION="$(gunicorn_version)"
DJANGO_VERSION="$(cd "$APP" && python3 -c 'import django; print(django.get_version())' 2>/dev/null)"
describe() {
  case "$1" in
  corral) echo "corral edge + gunicorn $GUNI_VERSION (2 sync workers)" ;;
  nginx) echo "$(nginx -v 2>&1 | sed 's/^nginx version: //') + gunicorn $GUNI_VERSION (2 sync workers)" ;;
  goproxy) echo "bench/goproxy (featureless Go proxy) + gunicorn $GUNI_VERSION (2 sync workers)" ;;
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
  for t in corral nginx goproxy gunicorn runserver; do
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
  local s="$1" want="$2" a b r name="corral/nginx+gunicorn $1"
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
  judge "$r" "$want" "${ERRS[corral.$s]:-}"
  printf '%-30s  %6sx  target >= %sx  %s\n' "$name" "$r" "$want" "$VERDICT"
}
ratio page "$PAGE_TARGET"
ratio static "$STATIC_TARGET"
# The ceiling: what a featureless Go proxy reaches in corral's place, and
# corral against it (not judged).
for pair in goproxy/nginx corral/goproxy; do
  a="${MED[${pair%/*}.page]:-}" b="${MED[${pair#*/}.page]:-}"
  [[ -n "$a" && -n "$b" ]] || continue
  printf '%-30s  %6sx  (not judged)\n' "${pair%/*}/${pair#*/}+gunicorn page" "$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.2f", (b > 0) ? a / b : 0 }')"
done
echo
echo "CPU time per request (/proc utime+stime over each timed run / its requests; medians, µs):"
printf '%-10s %-24s %9s %9s\n' target scenario proxy gunicorn
for s in "${SCENARIOS[@]}"; do
  for t in corral nginx goproxy; do
    [[ -n "${CPU_PROXY[$t.$s]:-}" ]] || continue
    printf '%-10s %-24s %9s %9s\n' "$t" "$s" "$(median <<<"${CPU_PROXY[$t.$s]}")" "$(median <<<"${CPU_APP[$t.$s]}")"
  done
done
echo
echo "app copy, configs, logs and wrk outputs in $P"

finish
