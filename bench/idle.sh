#!/usr/bin/env bash
# Idle connections: what many idle keep-alive connections cost corral's edge
# and nginx in memory, and whether each still answers a new request when idle
# connections would take every file descriptor it may open. The same tiny Go
# backend behind both (bench/backend), loopback only. See bench/README.md.
#
# Environment:
#   CONNS=10000        idle connections for the memory figure
#   HOLD=5             seconds they are held before RSS is read again
#   REQUEST=1          each connection sends one request before it idles (0: connect only)
#   FD_LIMIT=1024      ulimit -n of each server in the file-descriptor test
#   FILL=              connections opened in that test (FD_LIMIT + 256)
#   KB_TARGET=4        corral's KB per idle connection must be at most this
#   BENCH_NO_FAIL=1    only report: a missed target does not fail the script
#   OUT=bench/out      where binaries, configs and logs go (OUT/idle)
#   NO_INSTALL=1       do not try to apt-get install a missing nginx
#   CORRAL_BIN=PATH    use this corral binary instead of building ./cmd/corral
#   ONLY="nginx corral"   the targets, in this order
set -euo pipefail
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" # cds to the repository root

CONNS="${CONNS:-10000}"
HOLD="${HOLD:-5}"
REQUEST="${REQUEST:-1}"
FD_LIMIT="${FD_LIMIT:-1024}"
FILL="${FILL:-$((FD_LIMIT + 256))}"
KB_TARGET="${KB_TARGET:-4}"
OUT="${OUT:-$BENCH/out}"
read -r -a TARGETS <<<"${ONLY:-nginx corral}"

for v in CONNS HOLD FD_LIMIT FILL; do
  [[ "${!v}" =~ ^[1-9][0-9]*$ ]] || die "$v must be a positive integer, got '${!v}'"
done
[[ "$REQUEST" == 0 || "$REQUEST" == 1 ]] || die "REQUEST must be 0 or 1, got '$REQUEST'"
((FD_LIMIT >= 128)) || die "FD_LIMIT must be at least 128, got $FD_LIMIT"

setup_out idle # P: configs, logs, client outputs
STOP_WAIT=10

# --- file descriptors: the client and the server each hold CONNS (or FILL) --
NEED_FDS=$(((CONNS > FILL ? CONNS : FILL) + 1024))
HARD="$(ulimit -Hn)"
if [[ "$HARD" != unlimited ]] && ((HARD < NEED_FDS)); then
  ulimit -Hn "$NEED_FDS" 2>/dev/null || true # root may raise the hard limit
  HARD="$(ulimit -Hn)"
fi
[[ "$HARD" == unlimited ]] || ((HARD >= NEED_FDS)) || die "ulimit -Hn is $HARD; $CONNS connections need $NEED_FDS (lower CONNS)"
ulimit -Sn "$NEED_FDS"

# --- tools -------------------------------------------------------------------
command -v curl >/dev/null || install_pkg curl || die "needs curl"
find_nginx
if [[ -z "$HAVE_NGINX" ]]; then
  read -r -a TARGETS <<<"${TARGETS[*]/nginx/}"
fi

log "building backend, idleconns and corral"
go build -o "$OUT/backend" ./bench/backend || die "go build ./bench/backend failed"
go build -o "$OUT/idleconns" ./bench/idleconns || die "go build ./bench/idleconns failed"
build_corral

PORT_LO=20000 PORT_HI=32000 # below the kernel's ephemeral range (32768-)
BACKEND_PORT=$(free_port)
PORT=$BACKEND_PORT "$OUT/backend" >"$P/backend.log" 2>&1 </dev/null &
PID[backend]=$!
wait_ready backend "http://127.0.0.1:$BACKEND_PORT/"

# --- the targets ---------------------------------------------------------------
declare -A TPORT=()
start_target() { # start_target TARGET PHASE [NOFILE]: start it on a fresh port (TPORT[TARGET]), logs in P/TARGET.PHASE*, with ulimit -n NOFILE
  local t="$1" phase="$2" nofile="${3:-}" port
  port=$(free_port)
  TPORT[$t]=$port
  case "$t" in
  nginx)
    # proxy.sh's config (gunicorn's recommended one, upstream keepalive), with
    # one worker, as corral is one process, and worker_connections at the
    # file-descriptor limit: nginx counts its upstream connections too.
    local n="$P/nginx.$phase"
    mkdir -p "$n/tmp" "$n/logs"
    {
      nginx_conf_head "$n" "types { text/plain txt; }" "${nofile:-$(ulimit -Sn)}" | sed 's/^worker_processes auto;/worker_processes 1;/'
      cat <<EOF
  upstream app {
    server 127.0.0.1:$BACKEND_PORT;
    keepalive 32;
  }
  server {
    listen 127.0.0.1:$port;
    server_name _;
EOF
      nginx_proxy_location
      echo "  }"
      echo "}"
    } >"$n/nginx.conf"
    start_nginx "$n" "$nofile"
    ;;
  corral)
    local app="$P/corral.app"
    mkdir -p "$app"
    printf "web: exec '%s'\n" "$OUT/backend" >"$app/Procfile"
    (
      if [[ -n "$nofile" ]]; then ulimit -n "$nofile"; fi
      exec env -u PORT -u CORRAL_PORT "$CORRAL" start -d "$app" -p "$port" --no-access-log --timestamps=false
    ) >"$P/corral.$phase.log" 2>&1 </dev/null &
    PID[corral]=$!
    ;;
  esac
}
server_pids() { # the target's processes: nginx master + worker; corral alone (web.1 is the backend)
  case "$1" in
  nginx) echo "${PID[nginx]} $(descendants "${PID[nginx]}")" ;;
  corral) echo "${PID[corral]}" ;;
  esac
}
stop_target() {
  if [[ "$1" == corral ]]; then stop corral; else stop nginx; fi
}
server_kb() { # summed VmRSS of the target's processes, in kB
  local kb=0 p
  for p in $(server_pids "$1"); do kb=$((kb + $(rss_kb "$p"))); done
  echo "$kb"
}
answers() { # answers URL: prints the seconds a GET of URL took if it was answered 200, else "no (why)"
  local out
  if out="$(curl -sS -o /dev/null -w '%{http_code} %{time_total}' --max-time 5 "$1" 2>&1)" && [[ "$out" == "200 "* ]]; then
    echo "${out#200 }s"
  else
    out="$(head -n 1 <<<"$out")"
    echo "no (${out:-no answer})"
  fi
}

# --- the client ----------------------------------------------------------------
client_start() { # client_start TARGET N FILE: idleconns against the target in the background (PID[client]); waits for its report
  local i
  "$OUT/idleconns" -addr "127.0.0.1:${TPORT[$1]}" -n "$2" -request="$([[ "$REQUEST" == 1 ]] && echo true || echo false)" \
    >"$3" 2>&1 </dev/null &
  PID[client]=$!
  for ((i = 0; i < 1200; i++)); do
    grep -q "^opened=" "$3" 2>/dev/null && return 0
    alive "${PID[client]}" || die "idleconns exited: $(cat "$3")"
    sleep 0.1
  done
  die "idleconns did not report within 120 s (see $3)"
}
field() { sed -n "s/.*\\b$1=\\([0-9.]*\\).*/\\1/p" "$2" | head -n 1; }

declare -A ROW=() FDROW=()
MISSED=0
for t in "${TARGETS[@]}"; do
  # 1. memory: CONNS idle connections, with room for all of them
  log "$t: $CONNS idle connections"
  start_target "$t" mem
  wait_ready "$t" "http://127.0.0.1:${TPORT[$t]}/"
  for ((i = 0; i < 50; i++)); do curl -fsS -o /dev/null "http://127.0.0.1:${TPORT[$t]}/" || die "$t: GET / failed"; done
  sleep 2 # (corral: the warm-up's connection goes cold)
  before=$(server_kb "$t")
  client_start "$t" "$CONNS" "$P/client.$t.mem"
  sleep "$HOLD"
  after=$(server_kb "$t")
  served="$(answers "http://127.0.0.1:${TPORT[$t]}/")"
  stop client
  # the connections open when RSS was read: those answered, less those the server closed (to make room)
  closed=$(field closed_by_server "$P/client.$t.mem")
  open=$(($(field answered "$P/client.$t.mem") - ${closed:-0}))
  per=$(awk -v a="$after" -v b="$before" -v n="$open" 'BEGIN { if (n > 0) printf "%.2f", (a - b) / n; else print "-" }')
  ROW[$t]="$(printf '%-7s %7s %7s %9.1f %9.1f %8s  %s' "$t" "$open" "${closed:-?}" "$(awk -v k="$before" 'BEGIN { print k / 1024 }')" \
    "$(awk -v k="$after" 'BEGIN { print k / 1024 }')" "$per" "$served")"
  log "$t: ${ROW[$t]}"
  stop_target "$t"
  if [[ "$t" == corral ]] && { [[ "$per" == - ]] || awk -v x="$per" -v w="$KB_TARGET" 'BEGIN { exit !(x > w) }'; }; then
    log "corral: $per KB per idle connection, target at most $KB_TARGET"
    MISSED=1
  fi

  # 2. file descriptors: FILL idle connections against ulimit -n FD_LIMIT
  log "$t: $FILL idle connections, ulimit -n $FD_LIMIT"
  start_target "$t" fds "$FD_LIMIT"
  wait_ready "$t" "http://127.0.0.1:${TPORT[$t]}/"
  client_start "$t" "$FILL" "$P/client.$t.fds"
  served="$(answers "http://127.0.0.1:${TPORT[$t]}/")"
  sleep 6 # corral logs a burst of closes once it has rested 5 s
  stop client
  case "$t" in
  nginx) said="$(grep -c 'reusing connections' "$P/nginx.fds/logs/error.log" || true) 'reusing connections' lines" ;;
  corral) said="$(grep -c 'idle connections, the oldest' "$P/corral.fds.log" || true) 'closed ... idle connections' lines" ;;
  esac
  FDROW[$t]="$(printf '%-7s %7s %9s %7s %7s  %-22s %s' "$t" "$FD_LIMIT" "$(field answered "$P/client.$t.fds")/$FILL" \
    "$(field failed "$P/client.$t.fds")" "$(field closed_by_server "$P/client.$t.fds")" "$served" "$said")"
  log "$t: ${FDROW[$t]}"
  stop_target "$t"
  if [[ "$t" == corral && "$served" == no* ]]; then
    log "corral: a new request was not answered with $FILL connections against ulimit -n $FD_LIMIT"
    MISSED=1
  fi
done

echo
echo "Idle keep-alive connections ($CONNS, $([[ "$REQUEST" == 1 ]] && echo "one request each" || echo "connect only"), held $HOLD s); RSS of the server's own processes"
echo "target   idle  closed  before MB  after MB  KB/conn  new request"
for t in "${TARGETS[@]}"; do echo "${ROW[$t]}"; done
echo
echo "File descriptors: $FILL connections against ulimit -n $FD_LIMIT"
echo "target   limit  answered  failed  closed  new request            log"
for t in "${TARGETS[@]}"; do echo "${FDROW[$t]}"; done
echo
echo "target: corral <= $KB_TARGET KB per idle connection, and answers the new request"
finish
