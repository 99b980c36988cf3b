#!/usr/bin/env bash
# Slowloris benchmark: how much of its throughput a Django app (examples/django,
# gunicorn with 2 sync workers) keeps while slowhttptest holds 300 slow-header
# connections open, alone, behind nginx and behind corral's edge; and what
# those connections (and 1,000 idle ones) cost corral and nginx in memory.
# Loopback only. See bench/README.md.
#
# Environment:
#   DURATION=10        seconds per timed wrk run (baseline and under attack)
#   THREADS=2 CONNS=32 wrk -t / -c
#   SLOW_CONNS=300     slowhttptest -c (and -r: all of them in about a second)
#   IDLE_CONNS=1000    idle connections with a partial header, for the RSS figure
#   HOLD=10            seconds those are held
#   BENCH_NO_FAIL=1    only report: a missed target does not fail the script
#   OUT=bench/out      the app copy, configs, logs and reports go to OUT/slowloris
#   NO_INSTALL=1       do not try to apt-get install missing nginx/wrk/slowhttptest
#   CORRAL_BIN=PATH    use this corral binary instead of building ./cmd/corral
#   ONLY="gunicorn nginx corral"   the targets, in this order
#   KEEP_TARGET=0.9    corral's under-attack req/s >= this x its own baseline
#   SLOW_NICE=19       slowhttptest runs under `nice -n SLOW_NICE`: it busy-loops (about one
#                      CPU), and a real attacker's CPU is not the server's; 0 to compete
set -euo pipefail
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" # cds to the repository root

DURATION="${DURATION:-10}"
THREADS="${THREADS:-2}"
CONNS="${CONNS:-32}"
SLOW_CONNS="${SLOW_CONNS:-300}"
IDLE_CONNS="${IDLE_CONNS:-1000}"
HOLD="${HOLD:-10}"
OUT="${OUT:-$BENCH/out}"
KEEP_TARGET="${KEEP_TARGET:-0.9}"
WARMUP=2
SLOW_NICE="${SLOW_NICE:-19}"
ATTACK_WAIT=5 # seconds given to slowhttptest to open its connections (at most 3x this)
# slowhttptest's own test length covers the wait, the measuring window and a margin;
# it is stopped (SIGINT) as soon as the measurement is done.
SLOW_LEN=$((ATTACK_WAIT * 3 + DURATION + 15))
((SLOW_LEN >= 40)) || SLOW_LEN=40

for v in DURATION THREADS CONNS SLOW_CONNS IDLE_CONNS HOLD; do
  [[ "${!v}" =~ ^[1-9][0-9]*$ ]] || die "$v must be a positive integer, got '${!v}'"
done

setup_out slowloris # P: the app copy (P/app) and per-run files

# --- file descriptors: 1,000+ connections on each side of loopback -----------
NEED_FDS=$((IDLE_CONNS + SLOW_CONNS + 1024))
WANT_FDS=$((NEED_FDS > 65536 ? NEED_FDS : 65536))
if (($(ulimit -Hn) != 0)) && [[ "$(ulimit -Hn)" != unlimited ]] && (($(ulimit -Hn) < WANT_FDS)); then
  ulimit -Hn "$WANT_FDS" 2>/dev/null || true # root may raise the hard limit
fi
HARD="$(ulimit -Hn)"
if [[ "$HARD" == unlimited ]] || ((HARD >= WANT_FDS)); then ulimit -Sn "$WANT_FDS"; else ulimit -Sn "$HARD"; fi
(($(ulimit -Sn) >= NEED_FDS)) || die "ulimit -n is $(ulimit -Sn) (hard $HARD); needs $NEED_FDS"

# --- tools -------------------------------------------------------------------
command -v curl >/dev/null || install_pkg curl || die "needs curl"
command -v wrk >/dev/null || install_pkg wrk || die "needs wrk (apt-get install wrk)"
command -v slowhttptest >/dev/null || install_pkg slowhttptest || die "needs slowhttptest (apt-get install slowhttptest)"
command -v gunicorn >/dev/null || install_pkg gunicorn || die "needs gunicorn (apt-get install gunicorn python3-django)"
command -v ss >/dev/null || install_pkg iproute2 || die "needs ss (apt-get install iproute2)"
find_nginx

# --- the app: a copy of examples/django --------------------------------------
django_app
collectstatic

log "building corral"
build_corral

# --- the targets: started one at a time, stopped after their measurements ----
declare -A PORT=()
start_target() { # start_target TARGET: start it (and its gunicorn), set PORT[TARGET]
  local t="$1" gp
  PORT[$t]=$(free_port)
  case "$t" in
  gunicorn)
    start_gunicorn gunicorn "${PORT[$t]}"
    ;;
  nginx)
    gp=$(free_port)
    start_gunicorn gunicorn-nginx "$gp"
    # gunicorn's recommended config (docs.gunicorn.org, "Deploying"), as in django.sh;
    # worker_connections raised ("increase if you have lots of clients") so that the
    # 1,000 idle connections fit even when one worker takes them all.
    nginx_django_conf "$P/nginx" "$gp" "${PORT[$t]}" 4096
    start_nginx "$P/nginx"
    wait_ready nginx "http://127.0.0.1:${PORT[$t]}/health"
    ;;
  corral)
    "$CORRAL" start -d "$APP" -p "${PORT[$t]}" -m web=1 --no-access-log --timestamps=false \
      >"$P/corral.log" 2>&1 </dev/null &
    PID[corral]=$!
    wait_ready corral "http://127.0.0.1:${PORT[$t]}/health"
    ;;
  esac
  check_whoami "$t" "${PORT[$t]}"
}
stop_target() {
  case "$1" in
  nginx) stop nginx; stop gunicorn-nginx ;;
  *) stop "$1" ;;
  esac
}
owners() { case "$1" in nginx) echo "nginx gunicorn-nginx" ;; *) echo "$1" ;; esac; }

# --- memory ------------------------------------------------------------------
rss_mb() { # rss_mb TARGET: corral alone (not its children); nginx master + workers
  local pids
  case "$1" in
  corral) pids="${PID[corral]}" ;;
  nginx) pids="${PID[nginx]} $(descendants "${PID[nginx]}")" ;;
  *) echo -; return ;;
  esac
  # shellcheck disable=SC2086 # the pids, one word each
  rss_sum_mb $pids
}
established() { # established PORT: server-side established TCP connections on the port
  ss -Htn state established "( sport = :$1 )" 2>/dev/null | wc -l
}

# --- load --------------------------------------------------------------------
wrk_run() { # wrk_run TARGET KEY SECONDS: wrk on /whoami; records RPS[T.KEY] P99[T.KEY] ERRS[T.KEY]
  local t="$1" k="$2" d="$3" f rps p99 non2xx errs o
  f="$P/wrk.$t.$k.txt"
  wrk_start "http://127.0.0.1:${PORT[$t]}/whoami" "$d" "$f"
  local rc=0
  wrk_wait || rc=$?
  ((rc == 0)) || { log "wrk against $t ($k) exited $rc (see $f)"; ERRS[$t.$k]+="wrk-exit-$rc "; RPS[$t.$k]=0; return 0; }
  for o in $(owners "$t"); do alive "${PID[$o]}" || die "$o died during the load (see $P/$o.log)"; done
  wrk_parse "$f"
  [[ -n "$rps" ]] || { log "cannot parse wrk output $f"; ERRS[$t.$k]+="unparsed "; RPS[$t.$k]=0; return 0; }
  RPS[$t.$k]="$rps"
  P99[$t.$k]=-
  if [[ -n "$p99" ]] && ! grep -q '^ *0 requests in' "$f"; then P99[$t.$k]="$(to_ms "$p99")"; fi
  grep -q '^ *0 requests in' "$f" && ERRS[$t.$k]+="no-response "
  ERRS[$t.$k]+="$errs"
  log "$(printf '%-8s %-7s %10s req/s  p99 %9s ms%s' "$t" "$k" "$rps" "${P99[$t.$k]}" "${ERRS[$t.$k]:+  (${ERRS[$t.$k]% })}")"
  return 0
}

# slowhttptest writes its CSV (Seconds,Closed,Pending,Connected,...) every second
slow_connected() { awk -F, 'NR > 1 { c = $4 } END { print c + 0 }' "$1" 2>/dev/null || echo 0; }

# hold_idle PORT N SECONDS READY: open N connections, send each a partial request
# (headers never finished), hold them SECONDS; write how many opened to READY.
# Plain bash (/dev/tcp), so it needs nothing installed; run it in the background.
hold_idle() {
  local port="$1" n="$2" secs="$3" ready="$4" i fd opened=0
  for ((i = 0; i < n; i++)); do
    if exec {fd}<>"/dev/tcp/127.0.0.1/$port"; then
      printf 'GET /whoami HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: bench-idle\r\nConnection: keep-alive\r\n' >&"$fd" 2>/dev/null || true
      opened=$((opened + 1))
    else
      break
    fi
  done 2>>"$P/idle.err"
  echo "$opened" >"$ready"
  sleep "$secs"
}

declare -A RSS_IDLE RSS_SLOW RSS_MANY SLOW_UP MANY_UP
measure() { # measure TARGET
  local t="$1" i csv up
  log "--- $t"
  start_target "$t"
  RSS_IDLE[$t]="$(rss_mb "$t")"
  wrk_run "$t" warmup "$WARMUP"
  wrk_run "$t" base "$DURATION"

  csv="$P/slowhttptest.$t"
  nice -n "$SLOW_NICE" slowhttptest -H -c "$SLOW_CONNS" -r "$SLOW_CONNS" -i 10 -l "$SLOW_LEN" -g -o "$csv" \
    -u "http://127.0.0.1:${PORT[$t]}/whoami" >"$P/slowhttptest.$t.log" 2>&1 </dev/null &
  PID[slowhttptest]=$!
  # wait ATTACK_WAIT s, and longer (up to 3x) until (nearly) all its connections are up
  local start=$SECONDS
  while ((SECONDS - start < ATTACK_WAIT * 3)); do
    sleep 0.5
    alive "${PID[slowhttptest]}" || die "slowhttptest exited early (see $P/slowhttptest.$t.log)"
    up="$(slow_connected "$csv.csv")"
    ((SECONDS - start >= ATTACK_WAIT && up * 100 >= SLOW_CONNS * 95)) && break
  done
  SLOW_UP[$t]="$(slow_connected "$csv.csv")/$(established "${PORT[$t]}")"
  RSS_SLOW[$t]="$(rss_mb "$t")"
  log "$t: slowhttptest reports ${SLOW_UP[$t]%/*} connected (${SLOW_UP[$t]#*/} established on the port)"
  wrk_run "$t" attack "$DURATION"
  SLOW_UP[$t]+="/$(slow_connected "$csv.csv")" # still connected at the end of the window
  stop slowhttptest INT                         # it writes its CSV and HTML reports on SIGINT
  sleep 1
  # the baseline again, after the attack: the table gives the mean of both, which
  # evens out a drift in what else the (shared) machine is doing
  wrk_run "$t" after "$DURATION"

  if [[ "$t" != gunicorn ]]; then
    rm -f "$P/idle.$t.ready"
    (hold_idle "${PORT[$t]}" "$IDLE_CONNS" "$HOLD" "$P/idle.$t.ready") &
    PID[idle]=$!
    for ((i = 0; i < 300; i++)); do [[ -s "$P/idle.$t.ready" ]] && break; sleep 0.1; done
    sleep 2 # let the server settle with all of them open
    MANY_UP[$t]="$(cat "$P/idle.$t.ready" 2>/dev/null || echo '?')/$(established "${PORT[$t]}")"
    RSS_MANY[$t]="$(rss_mb "$t")"
    log "$t: $IDLE_CONNS idle connections: ${MANY_UP[$t]%/*} opened, ${MANY_UP[$t]#*/} established; RSS ${RSS_MANY[$t]} MB"
    wait "${PID[idle]}" 2>/dev/null || true # held for HOLD s, then closed
    unset "PID[idle]"
  fi
  stop_target "$t"
}

TARGETS=()
for t in ${ONLY:-gunicorn nginx corral}; do
  case "$t" in
  gunicorn | corral) TARGETS+=("$t") ;;
  nginx) [[ -n "$HAVE_NGINX" ]] && TARGETS+=(nginx) ;;
  *) die "ONLY: unknown target '$t' (gunicorn, nginx, corral)" ;;
  esac
done
log "wrk -t$THREADS -c$CONNS -d${DURATION}s /whoami; nice -n $SLOW_NICE slowhttptest -H -c $SLOW_CONNS -r $SLOW_CONNS -i 10 -l $SLOW_LEN; ulimit -n $(ulimit -Sn)"
for t in "${TARGETS[@]}"; do measure "$t"; done

# --- report ------------------------------------------------------------------
GUNI_VERSION="$(gunicorn_version)"
label() {
  case "$1" in
  gunicorn) echo "gunicorn alone" ;;
  nginx) echo "nginx+gunicorn" ;;
  corral) echo "corral+gunicorn" ;;
  esac
}
echo
echo "examples/django, gunicorn $GUNI_VERSION with 2 sync workers; wrk -t$THREADS -c$CONNS -d${DURATION}s /whoami;"
echo "attack: nice -n $SLOW_NICE slowhttptest -H -c $SLOW_CONNS (slow headers, a header line every 10 s);"
echo "loopback, $(nproc) CPU(s) shared by wrk, slowhttptest, the proxy and the app"
echo
printf '%-16s %12s %9s %14s %9s %7s  %-s\n' target "base req/s" "p99 ms" "attack req/s" "p99 ms" kept "slow conns up/established/at end; notes"
declare -A KEPT
for t in "${TARGETS[@]}"; do
  b="$(awk -v x="${RPS[$t.base]:-0}" -v y="${RPS[$t.after]:-0}" 'BEGIN { printf "%.2f", (x + y) / 2 }')"
  a="${RPS[$t.attack]:-0}"
  KEPT[$t]="$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.0f", (b > 0) ? 100 * a / b : 0 }')"
  notes="${SLOW_UP[$t]:-}"
  [[ -n "${ERRS[$t.attack]:-}" ]] && notes+="; attack: ${ERRS[$t.attack]% }"
  notes+="; base before/after ${RPS[$t.base]:-?}/${RPS[$t.after]:-?}"
  [[ -n "${ERRS[$t.base]:-}${ERRS[$t.after]:-}" ]] && notes+="; base: ${ERRS[$t.base]:-}${ERRS[$t.after]:-}"
  printf '%-16s %12s %9s %14s %9s %6s%%  %s\n' "$(label "$t")" "$b" "${P99[$t.base]:--}" "$a" "${P99[$t.attack]:--}" "${KEPT[$t]}" "$notes"
done
echo
printf '%-30s %9s %13s %18s  %-s\n' "RSS MB" idle "$SLOW_CONNS slow" "$IDLE_CONNS idle conns" "idle conns opened/established"
for t in corral nginx; do
  [[ -n "${RSS_IDLE[$t]:-}" ]] || continue
  what="corral (alone, not web.1)"
  [[ "$t" == nginx ]] && what="nginx (master + workers)"
  printf '%-30s %9s %13s %18s  %s\n' "$what" "${RSS_IDLE[$t]}" "${RSS_SLOW[$t]}" "${RSS_MANY[$t]:--}" "${MANY_UP[$t]:--}"
done
echo

MISSED=0
want_pct="$(awk -v k="$KEEP_TARGET" 'BEGIN { printf "%.0f", 100 * k }')"
if [[ -z "${KEPT[corral]:-}" ]]; then
  verdict="SKIP (corral not measured)"
elif [[ "${ERRS[corral.base]:-}${ERRS[corral.after]:-}" == *wrk-exit* ]]; then
  verdict="FAIL (no baseline)" MISSED=1
elif ((KEPT[corral] >= want_pct)); then
  verdict=PASS
else
  verdict=FAIL MISSED=1
fi
printf 'corral keeps %s%% of its throughput under attack  target >= %s%%  %s\n' "${KEPT[corral]:--}" "$want_pct" "$verdict"
echo
echo "app copy, configs, logs, wrk outputs and slowhttptest reports (.csv/.html) in $P"

finish
