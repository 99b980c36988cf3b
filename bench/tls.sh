#!/usr/bin/env bash
# HTTPS benchmark: TLS handshakes/s and keep-alive HTTPS requests/s through
# corral's edge and through nginx, both serving the same certificate and key
# (the one corral obtained from Pebble, a local ACME CA) in front of the tiny
# Go backend, on loopback only. The load is bench/tlsload, which sets SNI to
# app.example.test while connecting to 127.0.0.1. See bench/README.md.
#
# Environment:
#   DURATION=8         seconds per timed run (warm-up runs are 2 s)
#   RUNS=3             rounds; each round runs every target and mode in turn (interleaved)
#   CONNS=64           keep-alive connections
#   HS_CONNS=16        concurrent handshake loops
#   CURVES=            key exchange groups tlsload offers, e.g. x25519 (empty: Go's defaults)
#   BENCH_NO_FAIL=1    only report: a missed target does not fail the script
#   OUT=bench/out      where binaries, configs, logs and outputs go (files in OUT/tls)
#   NO_INSTALL=1       do not try to apt-get install missing nginx/pebble
#   CORRAL_BIN=PATH    use this corral binary instead of building ./cmd/corral
#   KEEPALIVE_TARGET=1.0   corral keep-alive req/s >= this x nginx's
set -euo pipefail
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" # cds to the repository root

DURATION="${DURATION:-8}"
RUNS="${RUNS:-3}"
CONNS="${CONNS:-64}"
HS_CONNS="${HS_CONNS:-16}"
CURVES="${CURVES:-}"
OUT="${OUT:-$BENCH/out}"
KEEPALIVE_TARGET="${KEEPALIVE_TARGET:-1.0}"
WARMUP=2
DOMAIN=app.example.test

THREADS=1 # (unused: check_run_settings wants it)
check_run_settings
[[ "$HS_CONNS" =~ ^[1-9][0-9]*$ ]] || die "HS_CONNS must be a positive integer"
[[ "$CURVES" =~ ^[a-zA-Z0-9,]*$ ]] || die "CURVES: comma-separated group names, got '$CURVES'"
setup_out tls # P: per-run files
STOP_WAIT=10
BEGAN=$SECONDS

# --- tools -------------------------------------------------------------------
command -v curl >/dev/null || install_pkg curl || die "needs curl"
command -v openssl >/dev/null || install_pkg openssl || die "needs openssl"
command -v pebble >/dev/null || install_pkg pebble || die "needs Pebble, the ACME test CA (apt-get install pebble)"
command -v pebble-challtestsrv >/dev/null || die "needs pebble-challtestsrv (Debian package pebble)"
find_nginx

log "building backend, tlsload and corral"
go build -o "$OUT/backend" ./bench/backend || die "go build ./bench/backend failed"
go build -o "$OUT/tlsload" ./bench/tlsload || die "go build ./bench/tlsload failed"
build_corral

# --- ports -------------------------------------------------------------------
PORT_LO=20000 PORT_HI=32000 # below the kernel's ephemeral range (32768-)
BACKEND_PORT=$(free_port) NGINX_PORT=$(free_port)
CORRAL_PORT=$(free_port) HTTP_PORT=$(free_port) HTTPS_PORT=$(free_port)

# --- Pebble ------------------------------------------------------------------
start_pebble "$HTTP_PORT" "$HTTPS_PORT" # PB, ACME_DIR; PB/ca.pem and PB/root.pem

# --- corral, which gets the certificate -----------------------------------------
APP="$P/app"
CERT_DIR="$P/certs"
mkdir -p "$APP" "$CERT_DIR"
printf "web: exec '%s'\n" "$OUT/backend" >"$APP/Procfile"
CORRAL_ARGS=(start -d "$APP" -p "$CORRAL_PORT" --timestamps=false --no-access-log
  --domain "$DOMAIN" --acme-ca "$ACME_DIR" --acme-ca-root "$PB/ca.pem" --acme-email bench@example.test
  --cert-dir "$CERT_DIR" --https-port "$HTTPS_PORT" --http-port "$HTTP_PORT")
env -u PORT -u CORRAL_PORT -u CORRAL_DOMAINS "$CORRAL" "${CORRAL_ARGS[@]}" >"$P/corral.log" 2>&1 </dev/null &
PID[corral]=$!
T0=$SECONDS
for ((i = 0; ; i++)); do
  grep -q "certificate for $DOMAIN obtained" "$P/corral.log" && break
  alive "${PID[corral]}" || die "corral exited at start-up (see $P/corral.log)"
  ((i < 600)) || die "corral logged no 'certificate for $DOMAIN obtained' within 60 s (see $P/corral.log, $P/pebble.log)"
  sleep 0.1
done
log "corral obtained the certificate for $DOMAIN from Pebble in $((SECONDS - T0)) s"
CRT="$(find "$CERT_DIR" -path "*/certificates/*/$DOMAIN/$DOMAIN.crt" | head -n 1)"
KEY="${CRT%.crt}.key"
[[ -n "$CRT" && -f "$KEY" ]] || die "no certificates/*/$DOMAIN/$DOMAIN.crt and .key under $CERT_DIR: $(find "$CERT_DIR" -type f)"
log "certificate $CRT ($(openssl x509 -noout -subject -issuer <"$CRT" | tr '\n' ' '))"

HELLO="$(printf 'hello, world\n')"
check_https() { # check_https NAME PORT: GET / over HTTPS as DOMAIN, verified against Pebble's root
  local body i
  for ((i = 0; i < 100; i++)); do
    if body="$(curl -fsS --http1.1 --max-time 5 --cacert "$PB/root.pem" --resolve "$DOMAIN:$2:127.0.0.1" \
      "https://$DOMAIN:$2/" 2>&1)" && [[ "$body" == "$HELLO" ]]; then
      return 0
    fi
    alive "${PID[$1]}" || die "$1 exited (see $P/$1.log)"
    sleep 0.1
  done
  die "$1: GET https://$DOMAIN:$2/: $body (see $P/$1.log)"
}
check_https corral "$HTTPS_PORT"

# --- nginx, with the same certificate and key ----------------------------------
TARGETS=()
declare -A TPORT=()
if [[ -n "$HAVE_NGINX" ]]; then
  env PORT="$BACKEND_PORT" "$OUT/backend" >"$P/backend.log" 2>&1 </dev/null &
  PID[backend]=$!
  wait_ready backend "http://127.0.0.1:$BACKEND_PORT/"
  N="$P/nginx"
  mkdir -p "$N/tmp" "$N/logs"
  {
    nginx_conf_head "$N" "types { text/plain txt; }" 1024
    cat <<EOF
  upstream app {
    server 127.0.0.1:$BACKEND_PORT;
    keepalive 32;
  }
  server {
    listen 127.0.0.1:$NGINX_PORT ssl;
    server_name $DOMAIN;
    ssl_certificate $CRT;
    ssl_certificate_key $KEY;
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_session_cache shared:SSL:10m;
EOF
    nginx_proxy_location
    cat <<EOF
  }
}
EOF
  } >"$N/nginx.conf"
  start_nginx "$N"
  check_https nginx "$NGINX_PORT"
  TARGETS+=(nginx)
  TPORT[nginx]=$NGINX_PORT
fi
TARGETS+=(corral)
TPORT[corral]=$HTTPS_PORT

# --- CPU and memory ----------------------------------------------------------
server_pids() { # the processes that make up a server (not the app behind it)
  case "$1" in
  nginx) echo "${PID[nginx]} $(descendants "${PID[nginx]}")" ;; # master + workers
  corral) echo "${PID[corral]}" ;;                              # corral alone: its web.1 child is the backend
  esac
}
cpu_ticks() { # cpu_ticks PID...: their summed utime+stime, in clock ticks
  local t=0 p line rest
  for p in "$@"; do
    line="$(cat "/proc/$p/stat" 2>/dev/null)" || continue
    rest="${line##*) }"
    t=$((t + $(awk '{ print $12 + $13 }' <<<"$rest")))
  done
  echo "$t"
}
CLK_TCK="$(getconf CLK_TCK)"
declare -A RSS_IDLE=() RSS_LOADED=()
for t in "${TARGETS[@]}"; do
  # shellcheck disable=SC2046 # the pids, one word each
  RSS_IDLE[$t]=$(rss_sum_mb $(server_pids "$t"))
done

# --- load --------------------------------------------------------------------
SCENARIOS=(keepalive handshake)
declare -A SCPU=() SUS=() CCPU=() TLSINFO=()
runs_scenario() { return 0; }
field() { awk -v k="$1" '{ for (i = 1; i <= NF; i++) if (index($i, k "=") == 1) print substr($i, length(k) + 2) }' <<<"$2"; } # field KEY LINE: KEY=value
wrk_run() { # wrk_run TARGET MODE SECONDS NAME: run tlsload (as run_rounds calls it), record unless a warm-up
  local t="$1" s="$2" d="$3" name="$4" f c=$CONNS pids c0 c1 line rps p99 errs cc rc=0
  f="$P/tlsload.$t.$s.$name.txt"
  [[ "$s" == handshake ]] && c=$HS_CONNS
  pids="$(server_pids "$t")"
  # shellcheck disable=SC2086 # the pids, one word each
  c0="$(cpu_ticks $pids)"
  timeout -k 5 $((d + 30)) "$OUT/tlsload" -addr "127.0.0.1:${TPORT[$t]}" -sni "$DOMAIN" -ca "$PB/root.pem" \
    -c "$c" -d "${d}s" -mode "$s" ${CURVES:+-curves "$CURVES"} >"$f" 2>&1 &
  WRK_PID=$!
  if [[ "$s" == keepalive && "$name" != warmup ]]; then
    sleep "$(awk -v d="$d" 'BEGIN { print (d > 1.5) ? d - 0.5 : d * 0.7 }')"
    # shellcheck disable=SC2086 # the pids, one word each
    RSS_LOADED[$t]+="$(rss_sum_mb $pids) "
  fi
  wrk_wait || rc=$?
  # shellcheck disable=SC2086 # the pids, one word each
  c1="$(cpu_ticks $pids)"
  alive "${PID[$t]}" || die "$t died during the load (see $P/$t.log)"
  [[ -n "${TLSINFO[$t]:-}" ]] || TLSINFO[$t]="$(sed -n 's/^tlsload: .* negotiated \([^,]*\), group \([^,]*\),.*/\1 \2/p' "$f")"
  ((rc == 0)) || { log "tlsload against $t $s exited $rc (see $f)"; ERRS[$t.$s]+="exit-$rc "; return 0; }
  [[ "$name" == warmup ]] && return 0
  line="$(grep '^req_per_s=' "$f" || true)"
  [[ -n "$line" ]] || { log "cannot parse $f"; ERRS[$t.$s]+="unparsed "; return 0; }
  rps="$(field req_per_s "$line")" p99="$(field p99_ms "$line")"
  errs="$(field errors "$line")" cc="$(field client_cpu "$line")"
  RPS[$t.$s]+="$rps "
  P99[$t.$s]+="$p99 "
  CCPU[$t.$s]+="$cc "
  SCPU[$t.$s]+="$(awk -v a="$c0" -v b="$c1" -v hz="$CLK_TCK" -v d="$d" 'BEGIN { printf "%.2f", (b - a) / hz / d }') "
  # the server's CPU time per request (or handshake), in microseconds
  SUS[$t.$s]+="$(awk -v a="$c0" -v b="$c1" -v hz="$CLK_TCK" -v r="$rps" -v d="$d" 'BEGIN { printf "%.1f", (r > 0) ? (b - a) / hz / (r * d) * 1e6 : 0 }') "
  ((errs == 0)) || ERRS[$t.$s]+="errors:$errs "
  log "$(printf '%-6s %-9s run %-2s %10s req/s  p99 %8s ms  errors %s  client CPU %s' "$t" "$s" "$name" "$rps" "$p99" "$errs" "$cc")"
}

log "targets: ${TARGETS[*]} (nginx :$NGINX_PORT, corral :$HTTPS_PORT; both serve $CRT)"
log "tlsload -c$CONNS (keepalive) / -c$HS_CONNS (handshake) -d${DURATION}s, $RUNS round(s) after a ${WARMUP} s warm-up per target and mode"
run_rounds

# --- report ------------------------------------------------------------------
version() {
  case "$1" in
  nginx) nginx -v 2>&1 | sed 's/^nginx version: //' ;;
  corral) echo "corral edge ($(go env GOVERSION))" ;;
  esac
}
declare -A MED
echo
echo "tlsload ($(go env GOVERSION) crypto/tls client, HTTP/1.1), -d${DURATION}s, $RUNS round(s) interleaved, medians;"
echo "loopback, $(nproc) CPU(s) shared by tlsload, the server and the backend; load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "keepalive: $CONNS connections, GET / (13 B) in a loop; handshake: $HS_CONNS loops of connect + full handshake + GET / + close"
echo
printf '%-7s %-10s %11s %9s %7s %7s %8s %15s  %-s\n' target mode "req/s" "p99 ms" "srv CPU" "cli CPU" "srv us/r" "RSS MB idle/ld" "TLS / version / notes"
for s in "${SCENARIOS[@]}"; do
  for t in "${TARGETS[@]}"; do
    MED[$t.$s]="$(median <<<"${RPS[$t.$s]:-}")"
    p99="$(median <<<"${P99[$t.$s]:-}")"
    scpu="$(median <<<"${SCPU[$t.$s]:-}")"
    ccpu="$(median <<<"${CCPU[$t.$s]:-}")"
    sus="$(median <<<"${SUS[$t.$s]:-}")"
    rss=-
    if [[ "$s" == keepalive ]]; then rss="${RSS_IDLE[$t]}/$(median <<<"${RSS_LOADED[$t]:-}" | awk '{ printf "%.1f", $1 }')"; fi
    printf '%-7s %-10s %11s %9s %7s %7s %8s %15s  %s\n' "$t" "$s" "${MED[$t.$s]:--}" "${p99:--}" "${scpu:--}" "${ccpu:--}" "${sus:--}" "$rss" \
      "${TLSINFO[$t]:-?}, $(version "$t")${ERRS[$t.$s]:+  ERRORS: ${ERRS[$t.$s]}}"
  done
done
echo "(req/s in handshake mode = full handshakes/s; CPU in cores over the run: srv = nginx master+workers or corral"
echo " without its web.1 child, cli = tlsload; srv us/r = the server's CPU microseconds per request or handshake;"
echo " RSS: summed VmRSS of the same processes, idle and near the end of the keep-alive load)"
echo
if [[ -n "${TLSINFO[nginx]:-}" && "${TLSINFO[nginx]##* }" != "${TLSINFO[corral]##* }" ]]; then
  echo "NOTE: the key exchange groups differ (nginx ${TLSINFO[nginx]##* }, corral ${TLSINFO[corral]##* }): the handshake"
  echo "      figures compare different key exchanges; CURVES=x25519 makes tlsload offer X25519 alone to both"
  echo
fi

MISSED=0
ratio() { # ratio MODE TARGET(empty: not judged)
  local s="$1" want="$2" a b r name="corral/nginx $1"
  a="${MED[corral.$s]:-}" b="${MED[nginx.$s]:-}"
  if [[ -z "$a" || -z "$b" ]]; then
    if [[ -z "$b" ]]; then
      printf '%-24s  %7s  %s\n' "$name" - "SKIP (nginx not measured)"
    else
      printf '%-24s  %7s  %s\n' "$name" - "FAIL (corral not measured)"
      [[ -n "$want" ]] && MISSED=1
    fi
    return
  fi
  r="$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.2f", (b > 0) ? a / b : 0 }')"
  if [[ -z "$want" ]]; then
    printf '%-24s  %6sx  %s\n' "$name" "$r" "(not judged)"
    return
  fi
  judge "$r" "$want" "${ERRS[corral.$s]:-}"
  printf '%-24s  %6sx  target >= %sx  %s\n' "$name" "$r" "$want" "$VERDICT"
}
ratio keepalive "$KEEPALIVE_TARGET"
ratio handshake ""
echo
echo "configs, logs and tlsload outputs in $P; took $((SECONDS - BEGAN)) s"
finish
