#!/usr/bin/env bash
# Side-by-side reverse-proxy benchmark: wrk against a tiny Go backend directly,
# and through a featureless Go proxy, nginx, Caddy and corral's edge, on
# loopback only. Reports median req/s, p99 latency and the proxies' RSS, and
# judges corral against targets.
# See bench/README.md.
#
# Environment:
#   DURATION=10        seconds per timed wrk run (warm-up runs are 2 s)
#   RUNS=3             rounds; each round runs every target in turn (interleaved)
#   THREADS=2 CONNS=64 wrk -t / -c
#   BENCH_NO_FAIL=1    only report: a missed target does not fail the script
#   OUT=bench/out      where binaries, configs, logs and wrk outputs go
#   NO_INSTALL=1       do not try to apt-get install missing nginx/caddy/wrk
#   CORRAL_BIN=PATH    use this corral binary instead of building ./cmd/corral
#   GOPROXY_TARGET=0.95 NGINX_TARGET=0.9 CADDY_TARGET=3   small responses: corral req/s >= this x the peer
#   STATIC_TARGET=0.8 CSS_TARGET=1.0 CACHED_TARGET=1.0    100 KB file, 2 KiB file, cached page: x nginx
#   RSS_TARGET=15      corral's idle RSS <= this many MB
#   ADMIN_TARGET=0.95  corral with --admin (metrics scraped every second) >= this x corral without
set -euo pipefail
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" # cds to the repository root

DURATION="${DURATION:-10}"
RUNS="${RUNS:-3}"
THREADS="${THREADS:-2}"
CONNS="${CONNS:-64}"
OUT="${OUT:-$BENCH/out}"
GOPROXY_TARGET="${GOPROXY_TARGET:-0.95}" # corral req/s >= this x the featureless Go proxy, small responses
NGINX_TARGET="${NGINX_TARGET:-0.9}"   # corral req/s >= this x nginx, small responses
CADDY_TARGET="${CADDY_TARGET:-3}"     # corral req/s >= this x Caddy, small responses
STATIC_TARGET="${STATIC_TARGET:-0.8}" # corral req/s >= this x nginx, 100 KB static file
CSS_TARGET="${CSS_TARGET:-1.0}"       # corral req/s >= this x nginx, 2 KiB static file
CACHED_TARGET="${CACHED_TARGET:-1.0}" # corral req/s >= this x nginx proxy_cache, a cached page (a hit)
RSS_TARGET="${RSS_TARGET:-15}"        # corral's RSS idle <= this, MB
ADMIN_TARGET="${ADMIN_TARGET:-0.95}"  # corral --admin req/s >= this x corral without it
WARMUP=2

check_run_settings
setup_out proxy # P: per-run files: configs, logs, wrk outputs
STOP_WAIT=10

# --- tools -------------------------------------------------------------------
command -v curl >/dev/null || install_pkg curl || die "needs curl"
command -v wrk >/dev/null || install_pkg wrk || die "needs wrk (apt-get install wrk)"
find_nginx
HAVE_CADDY=1
command -v caddy >/dev/null || install_pkg caddy || true
command -v caddy >/dev/null || { HAVE_CADDY=; log "SKIP caddy: not installed (apt-get install caddy)"; }
# Debian's packages start their service on install unless policy-rc.d forbids it;
# that does not matter here: every instance below uses its own loopback port.

log "building backend, goproxy and corral"
go build -o "$OUT/backend" ./bench/backend || die "go build ./bench/backend failed"
go build -o "$OUT/goproxy" ./bench/goproxy || die "go build ./bench/goproxy failed"
build_corral

# (the help text is read whole first: grep -q in a pipe could SIGPIPE corral, and pipefail would see it)
CORRAL_HELP="$("$CORRAL" start --help 2>&1 || true)"
EDGE=
if grep -q -- --static <<<"$CORRAL_HELP"; then EDGE=1; fi

# --- static file: 100 KB of CSS, generated once -----------------------------
STATIC="$OUT/static"
CSS="$STATIC/site.css"
CSS_BYTES=102400
if [[ ! -f "$CSS" || "$(stat -c %s "$CSS")" != "$CSS_BYTES" ]]; then
  mkdir -p "$STATIC"
  awk -v n="$CSS_BYTES" 'BEGIN {
    s = ""
    for (i = 0; length(s) < n; i++)
      s = s sprintf(".c%05d { color: #%06x; margin: %dpx %dpx; padding: 0 %dpx; }\n", i, (i * 2654435761) % 16777216, i % 17, i % 23, i % 11)
    printf "%s", substr(s, 1, n - 1) "\n"
  }' >"$CSS.tmp"
  mv "$CSS.tmp" "$CSS"
fi
# and 2 KiB of it: a small stylesheet, the size most of a site's CSS and JS files are
SMALL_CSS="$STATIC/small.css"
if [[ ! -f "$SMALL_CSS" || "$(stat -c %s "$SMALL_CSS")" != 2048 ]]; then
  head -c 2047 "$CSS" >"$SMALL_CSS.tmp" && echo >>"$SMALL_CSS.tmp" && mv "$SMALL_CSS.tmp" "$SMALL_CSS"
fi

# --- ports -------------------------------------------------------------------
PORT_LO=20000 PORT_HI=32000 # below the kernel's ephemeral range (32768-)
BACKEND_PORT=$(free_port) GOPROXY_PORT=$(free_port) NGINX_PORT=$(free_port) CADDY_PORT=$(free_port) CORRAL_PORT=$(free_port)
ADMIN_CORRAL_PORT=$(free_port) ADMIN_PORT=$(free_port)

# --- start the targets -------------------------------------------------------
READY_WAIT=20
probe() { # probe URL MD5: prints what is wrong with GET URL, or nothing
  local code sum
  code="$(curl -sS -D "$P/probe.head" -o "$P/probe.body" -w '%{http_code}' --max-time 5 "$1" 2>&1)" || { echo "GET failed: $code"; return; }
  [[ "$code" == 200 ]] || { echo "HTTP $code"; return; }
  sum="$(md5sum <"$P/probe.body")"
  [[ "$sum" == "$2" ]] || echo "wrong body ($(stat -c %s "$P/probe.body") bytes)"
}
check() { # check NAME URL MD5: the response must be right before we time it
  local why
  why="$(probe "$2" "$3")"
  [[ -z "$why" ]] || die "$1: GET $2: $why (see $P/$1.log)"
}
HELLO_SUM="$(printf 'hello, world\n' | md5sum)"
CSS_SUM="$(md5sum <"$CSS")"
SMALL_CSS_SUM="$(md5sum <"$SMALL_CSS")"
hit() { # hit URL HEADER PATTERN: GET URL twice; prints what is wrong unless the second answer's HEADER matches PATTERN
  local why
  why="$(probe "$1" "$PAGE_SUM")"
  [[ -z "$why" ]] || { echo "$why"; return; }
  why="$(probe "$1" "$PAGE_SUM")"
  [[ -z "$why" ]] || { echo "$why"; return; }
  grep -qiE "^$2: *$3" "$P/probe.head" ||
    echo "the second GET was not a cache hit ($2: $(grep -i "^$2:" "$P/probe.head" | cut -d: -f2- | tr -d '\r' | xargs))"
}

TARGETS=(direct)
declare -A PORT=([direct]=$BACKEND_PORT)

PORT=$BACKEND_PORT "$OUT/backend" >"$P/backend.log" 2>&1 </dev/null &
PID[backend]=$!
wait_ready backend "http://127.0.0.1:$BACKEND_PORT/"
check direct "http://127.0.0.1:$BACKEND_PORT/" "$HELLO_SUM"
PAGE_SUM="$(curl -sS --max-time 5 "http://127.0.0.1:$BACKEND_PORT/cached" | md5sum)"

PORT=$GOPROXY_PORT UPSTREAM_PORT=$BACKEND_PORT "$OUT/goproxy" >"$P/goproxy.log" 2>&1 </dev/null &
PID[goproxy]=$!
wait_ready goproxy "http://127.0.0.1:$GOPROXY_PORT/"
check goproxy "http://127.0.0.1:$GOPROXY_PORT/" "$HELLO_SUM"
TARGETS+=(goproxy)
PORT[goproxy]=$GOPROXY_PORT

if [[ -n "$HAVE_NGINX" ]]; then
  N="$P/nginx"
  mkdir -p "$N/tmp" "$N/logs"
  MIME="types { text/css css; }"
  if [[ -f /etc/nginx/mime.types ]]; then MIME="include /etc/nginx/mime.types;"; fi
  # gunicorn's recommended nginx config (docs.gunicorn.org, "Deploying"),
  # with static files served by nginx and keepalive connections upstream.
  {
    nginx_conf_head "$N" "$MIME" 1024
    cat <<EOF
  # nginx's response cache, as its guides set it up: keys in shared memory,
  # bodies in files (the page cache keeps them in memory here)
  proxy_cache_path $N/cache levels=1:2 keys_zone=app:10m max_size=100m inactive=60m use_temp_path=off;
  upstream app {
    server 127.0.0.1:$BACKEND_PORT;
    keepalive 32;
  }
  server {
    listen 127.0.0.1:$NGINX_PORT;
    server_name _;
    client_max_body_size 4G;
    location /static/ {
      alias $STATIC/;
    }
    location = /cached {
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host \$http_host;
      proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto \$scheme;
      proxy_cache app;
      proxy_cache_lock on;
      add_header X-Cache-Status \$upstream_cache_status;
      proxy_pass http://app;
    }
EOF
    nginx_proxy_location
    cat <<EOF
  }
}
EOF
  } >"$N/nginx.conf"
  start_nginx "$N"
  wait_ready nginx "http://127.0.0.1:$NGINX_PORT/"
  check nginx "http://127.0.0.1:$NGINX_PORT/" "$HELLO_SUM"
  check nginx "http://127.0.0.1:$NGINX_PORT/static/site.css" "$CSS_SUM"
  check nginx "http://127.0.0.1:$NGINX_PORT/static/small.css" "$SMALL_CSS_SUM"
  why="$(hit "http://127.0.0.1:$NGINX_PORT/cached" X-Cache-Status HIT)"
  [[ -z "$why" ]] || die "nginx: GET /cached: $why (see $P/nginx/logs/error.log)"
  TARGETS+=(nginx)
  PORT[nginx]=$NGINX_PORT
fi

if [[ -n "$HAVE_CADDY" ]]; then
  C="$P/caddy"
  mkdir -p "$C/data" "$C/config"
  cat >"$C/Caddyfile" <<EOF
{
  admin off
  auto_https off
  log {
    output discard
  }
}
http://:$CADDY_PORT {
  bind 127.0.0.1
  handle_path /static/* {
    root * $STATIC
    file_server
  }
  handle {
    reverse_proxy 127.0.0.1:$BACKEND_PORT
  }
}
EOF
  HOME="$C" XDG_DATA_HOME="$C/data" XDG_CONFIG_HOME="$C/config" \
    caddy run --config "$C/Caddyfile" --adapter caddyfile >"$P/caddy.log" 2>&1 </dev/null &
  PID[caddy]=$!
  wait_ready caddy "http://127.0.0.1:$CADDY_PORT/"
  check caddy "http://127.0.0.1:$CADDY_PORT/" "$HELLO_SUM"
  check caddy "http://127.0.0.1:$CADDY_PORT/static/site.css" "$CSS_SUM"
  check caddy "http://127.0.0.1:$CADDY_PORT/static/small.css" "$SMALL_CSS_SUM"
  TARGETS+=(caddy)
  PORT[caddy]=$CADDY_PORT
fi

start_corral() { # start_corral NAME PORT [ARGS...]: corral on PORT in its own app dir, PID[NAME]
  local name="$1" port="$2" app="$P/$1.app"
  shift 2
  mkdir -p "$app"
  printf "web: exec '%s'\n" "$OUT/backend" >"$app/Procfile"
  local args=(start -d "$app" -p "$port" --timestamps=false)
  if [[ -n "$EDGE" ]]; then args+=(--static "/static/=$STATIC"); fi
  # like nginx (access_log off) and Caddy (logs discarded): no line per request
  if grep -q -- --no-access-log <<<"$CORRAL_HELP"; then args+=(--no-access-log); fi
  env -u PORT -u CORRAL_PORT "$CORRAL" "${args[@]}" "$@" >"$P/$name.log" 2>&1 </dev/null &
  PID[$name]=$!
  wait_ready "$name" "http://127.0.0.1:$port/"
  check "$name" "http://127.0.0.1:$port/" "$HELLO_SUM"
}
start_corral corral "$CORRAL_PORT"
CORRAL_STATIC_BAD= # why corral's edge does not serve the static file right (then it is not timed)
if [[ -n "$EDGE" ]]; then
  CORRAL_STATIC_BAD="$(probe "http://127.0.0.1:$CORRAL_PORT/static/site.css" "$CSS_SUM")"
  if [[ -n "$CORRAL_STATIC_BAD" ]]; then
    log "corral: GET /static/site.css: $CORRAL_STATIC_BAD -- the static scenario is not run for corral (see $P/corral.log)"
  fi
fi
# The cached page is timed where the proxy caches it: nginx (proxy_cache) and
# corral, once its edge has a response cache (Cache-Status says a hit).
CORRAL_CACHE_BAD="$(hit "http://127.0.0.1:$CORRAL_PORT/cached" Cache-Status 'corral; *hit')"
if [[ -n "$CORRAL_CACHE_BAD" ]]; then
  log "corral: GET /cached: $CORRAL_CACHE_BAD -- the cached scenario is not run for corral"
fi
TARGETS+=(corral)
PORT[corral]=$CORRAL_PORT

# The same corral with its admin listener on: the metrics' cost per request.
# Through the whole load, corral-admin's /metrics and status page are fetched
# every second (Prometheus scrapes every 15 s by default), as a busy dashboard
# would: the scraper's own cost to this small machine falls on every row
# alike, and the ratio of the two corral rows is what --admin costs corral.
HAVE_ADMIN=
if [[ -n "$EDGE" ]] && grep -q -- --admin <<<"$CORRAL_HELP"; then
  start_corral corral-admin "$ADMIN_CORRAL_PORT" --admin "127.0.0.1:$ADMIN_PORT"
  code="$(curl -sS -o /dev/null -w '%{http_code}' --max-time 5 "http://127.0.0.1:$ADMIN_PORT/metrics" 2>&1)" ||
    die "corral-admin: GET /metrics: $code (see $P/corral-admin.log)"
  [[ "$code" == 200 ]] || die "corral-admin: GET /metrics: HTTP $code (see $P/corral-admin.log)"
  HAVE_ADMIN=1
  TARGETS+=(corral-admin)
  PORT[corral-admin]=$ADMIN_CORRAL_PORT
fi
scrape_start() { # scrape_start: fetch /metrics and / from the admin listener every second (PID[scraper])
  while :; do
    curl -sS -o /dev/null --max-time 2 "http://127.0.0.1:$ADMIN_PORT/metrics" || true
    curl -sS -o /dev/null --max-time 2 "http://127.0.0.1:$ADMIN_PORT/" || true
    sleep 1 & wait $! # (a TERM is taken at once, not after the sleep)
  done >>"$P/scrape.log" 2>&1 &
  PID[scraper]=$! # the exit trap stops it too
}
scrape_stop() { stop scraper; }

# --- memory ------------------------------------------------------------------
proxy_pids() { # the processes that make up a proxy (not the app behind it)
  case "$1" in
  nginx) echo "${PID[nginx]} $(descendants "${PID[nginx]}")" ;; # master + workers (+ cache helpers)
  caddy) echo "${PID[caddy]}" ;;
  goproxy) echo "${PID[goproxy]}" ;;
  corral | corral-admin) echo "${PID[$1]}" ;; # corral alone: its web.1 child is the backend
  esac
}
rss_mb() { # rss_mb TARGET: summed VmRSS of the proxy's processes, in MB
  [[ "$1" == direct ]] && { echo -; return; }
  # shellcheck disable=SC2046 # the pids, one word each
  rss_sum_mb $(proxy_pids "$1")
}
declare -A RSS_IDLE RSS_LOADED=()
for t in "${TARGETS[@]}"; do RSS_IDLE[$t]=$(rss_mb "$t"); done

# --- load --------------------------------------------------------------------
SCENARIOS=(small static css cached)
declare -A PATH_OF=([small]=/ [static]=/static/site.css [css]=/static/small.css [cached]=/cached)
declare -A LABEL=([small]="small / (13 B)" [static]="static 100KB" [css]="static 2KiB" [cached]="cached page 2KiB")
runs_scenario() { # runs_scenario TARGET SCENARIO: whether this pair is measured
  case "$2" in
  small) return 0 ;;
  static | css)
    case "$1" in direct | goproxy) return 1 ;; corral | corral-admin) [[ -n "$EDGE" && -z "$CORRAL_STATIC_BAD" ]] ;; *) return 0 ;; esac ;;
  cached)
    case "$1" in nginx) return 0 ;; corral | corral-admin) [[ -z "$CORRAL_CACHE_BAD" ]] ;; *) return 1 ;; esac ;;
  esac
}

wrk_run() { # wrk_run TARGET SCENARIO SECONDS NAME: run wrk, record unless a warm-up
  local t="$1" s="$2" d="$3" name="$4" f
  f="$P/wrk.$t.$s.$name.txt"
  wrk_start "http://127.0.0.1:${PORT[$t]}${PATH_OF[$s]}" "$d" "$f"
  if [[ "$s" == small && "$name" != warmup ]]; then
    # RSS at the end of the load: sample just before wrk stops
    sleep "$(awk -v d="$d" 'BEGIN { print (d > 1.5) ? d - 0.5 : d * 0.7 }')"
    RSS_LOADED[$t]+="$(rss_mb "$t") "
  fi
  local rc=0
  wrk_wait || rc=$?
  ((rc == 0)) || { log "wrk against $t $s exited $rc (see $f)"; ERRS[$t.$s]+="wrk-exit-$rc "; return 0; }
  local owner="$t"
  [[ "$t" == direct ]] && owner=backend
  alive "${PID[$owner]}" || die "$owner died during the load (see $P/$owner.log)"
  [[ "$name" == warmup ]] && return 0
  wrk_record "$t" "$s" "$name" "$f" 12
}

log "targets: ${TARGETS[*]} (backend :$BACKEND_PORT, nginx :$NGINX_PORT, caddy :$CADDY_PORT, corral :$CORRAL_PORT, corral-admin :$ADMIN_CORRAL_PORT admin :$ADMIN_PORT)"
log "wrk -t$THREADS -c$CONNS -d${DURATION}s --latency, $RUNS round(s) after a ${WARMUP} s warm-up per target"
if [[ -n "$HAVE_ADMIN" ]]; then scrape_start; fi
run_rounds
if [[ -n "$HAVE_ADMIN" ]]; then scrape_stop; fi

# --- report ------------------------------------------------------------------
version() {
  case "$1" in
  direct) echo "Go backend ($(go env GOVERSION))" ;;
  goproxy) echo "featureless Go proxy (bench/goproxy)" ;;
  nginx) nginx -v 2>&1 | sed 's/^nginx version: //' ;;
  caddy) echo "caddy $(caddy version 2>/dev/null | cut -d' ' -f1)" ;;
  corral) if [[ -n "$EDGE" ]]; then echo "corral edge"; else echo "corral (plain runner, no edge)"; fi ;;
  corral-admin) echo "corral edge, --admin, scraped every 1 s" ;;
  esac
}
declare -A MED
echo
echo "wrk -t$THREADS -c$CONNS -d${DURATION}s, $RUNS round(s) interleaved, medians; loopback, $(nproc) CPU(s) shared by wrk, proxy and backend"
echo
printf '%-12s %-22s %11s %9s %15s  %-s\n' target scenario "req/s" "p99 ms" "RSS MB idle/ld" "version / notes"
for s in "${SCENARIOS[@]}"; do
  for t in "${TARGETS[@]}"; do
    label="${LABEL[$s]}"
    if ! runs_scenario "$t" "$s"; then
      why="skipped (it serves no static files)"
      [[ "$s" == cached ]] && why="skipped (it has no response cache)"
      if [[ "$t" == corral* ]]; then
        why="n/a (no edge yet)"
        [[ -n "$EDGE" ]] && why="NOT SERVED RIGHT: GET /static/site.css: $CORRAL_STATIC_BAD"
        [[ "$s" == cached ]] && why="NOT CACHED: GET /cached: $CORRAL_CACHE_BAD"
      fi
      printf '%-12s %-22s %11s %9s %15s  %s\n' "$t" "$label" - - - "$why"
      continue
    fi
    MED[$t.$s]="$(median <<<"${RPS[$t.$s]:-}")"
    p99="$(median <<<"${P99[$t.$s]:-}")"
    rss=-
    if [[ "$s" == small && "$t" != direct ]]; then rss="${RSS_IDLE[$t]}/$(median <<<"${RSS_LOADED[$t]:-}" | awk '{ printf "%.1f", $1 }')"; fi
    printf '%-12s %-22s %11s %9s %15s  %s\n' "$t" "$label" "${MED[$t.$s]:--}" "${p99:--}" "$rss" \
      "$(version "$t")${ERRS[$t.$s]:+  ERRORS: ${ERRS[$t.$s]}}"
  done
done
echo "(RSS: summed VmRSS of the proxy's processes -- nginx master+workers, caddy, corral without its"
echo " web.1 child -- idle after start-up, and near the end of the small-response load)"
echo
if [[ -z "$EDGE" ]]; then
  echo "NOTE: this corral has no edge proxy yet (no --static flag): web.1 binds port $CORRAL_PORT itself,"
  echo "      so the corral row measures the plain runner -- wrk talks straight to the backend, as in 'direct'."
  echo "      The corral row becomes meaningful when the edge lands."
  echo
fi

MISSED=0
ratio() { # ratio SCENARIO PEER TARGET
  local s="$1" peer="$2" want="$3" a b r
  local name="corral/$peer ${s}"
  a="${MED[corral.$s]:-}" b="${MED[$peer.$s]:-}"
  if [[ -z "$b" || -z "$a" ]]; then
    if [[ -z "$a" && -n "$EDGE" ]]; then
      local bad="${CORRAL_STATIC_BAD:-no result}"
      [[ "$s" == cached ]] && bad="${CORRAL_CACHE_BAD:-no result}"
      printf '%-20s  %7s  target >= %sx  FAIL (corral not measured: %s)\n' "$name" - "$want" "$bad"
      MISSED=1
      return
    fi
    local why="$peer not measured"
    if [[ -z "$a" ]]; then why="corral not measured: no edge yet"; fi
    printf '%-20s  %7s  target >= %sx  SKIP (%s)\n' "$name" - "$want" "$why"
    return
  fi
  r="$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.2f", (b > 0) ? a / b : 0 }')"
  VERDICT="not judged"
  [[ -z "$EDGE" ]] || judge "$r" "$want" "${ERRS[corral.$s]:-}"
  printf '%-20s  %6sx  target >= %sx  %s\n' "$name" "$r" "$want" "$VERDICT"
}
ratio small goproxy "$GOPROXY_TARGET"
ratio small nginx "$NGINX_TARGET"
ratio small caddy "$CADDY_TARGET"
ratio static nginx "$STATIC_TARGET"
ratio css nginx "$CSS_TARGET"
ratio cached nginx "$CACHED_TARGET"
if [[ -n "$EDGE" ]]; then
  # judge takes a ratio: RSS_TARGET / RSS >= 1 when the RSS is at most the target
  judge "$(awk -v r="${RSS_IDLE[corral]}" -v t="$RSS_TARGET" 'BEGIN { printf "%.3f", (r > 0) ? t / r : 0 }')" 1
  printf '%-20s  %5s MB  target <= %s MB  %s\n' "corral RSS idle" "${RSS_IDLE[corral]}" "$RSS_TARGET" "$VERDICT"
fi
if [[ -n "$HAVE_ADMIN" ]]; then
  # the metrics' cost: the same corral with and without --admin, per scenario
  for s in "${SCENARIOS[@]}"; do
    a="${MED[corral-admin.$s]:-}" b="${MED[corral.$s]:-}"
    [[ -n "$a" && -n "$b" ]] || continue
    r="$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.2f", (b > 0) ? a / b : 0 }')"
    judge "$r" "$ADMIN_TARGET" "${ERRS[corral-admin.$s]:-}"
    printf '%-20s  %6sx  target >= %sx  %s\n' "admin/corral $s" "$r" "$ADMIN_TARGET" "$VERDICT"
  done
  # what the metrics counted against what wrk saw answered (wrk does not count
  # the requests still in flight when it stops, so corral's count may be a few higher)
  counted="$(curl -sS --max-time 5 "http://127.0.0.1:$ADMIN_PORT/metrics" |
    awk '/^corral_http_requests_total[{ ]/ { n += $NF } END { printf "%d", n }')"
  sent="$(cat "$P"/wrk.corral-admin.*.txt | awk '/ requests in / { n += $1 } END { printf "%d", n }')"
  echo "corral-admin: corral_http_requests_total = $counted; wrk completed $sent, plus 1 check before the load"
fi
echo
echo "configs, logs and wrk outputs in $P"

if [[ -z "$EDGE" ]]; then
  echo "corral: plain runner, targets not judged"
else
  finish
fi
