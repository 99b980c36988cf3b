# shellcheck shell=bash
# Shared code of the bench/*.sh scripts (proxy, django, slowloris, tls, storage…); sourced
# (at top level, after `set -euo pipefail`), never run. Sourcing it cds to the
# repository root, sets BENCH and ROOT, declares PID and installs the exit trap
# that stops every process started through it. See bench/README.md.

BENCH="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$BENCH/.." && pwd)"
cd "$ROOT" || exit

BENCH_NAME="${0##*/}" # the running script, for messages: "proxy.sh: ..."
die() { echo "$BENCH_NAME: $*" >&2; exit 1; }
log() { echo "$BENCH_NAME: $*" >&2; }

check_run_settings() { # RUNS, DURATION, THREADS and CONNS must be positive integers
  [[ "$RUNS" =~ ^[1-9][0-9]*$ ]] || die "RUNS must be a positive integer, got '$RUNS'"
  [[ "$DURATION" =~ ^[1-9][0-9]*$ ]] || die "DURATION must be a positive integer (seconds), got '$DURATION'"
  [[ "$THREADS" =~ ^[1-9][0-9]*$ && "$CONNS" =~ ^[1-9][0-9]*$ ]] || die "THREADS and CONNS must be positive integers"
}

setup_out() { # setup_out NAME: OUT made absolute; P=OUT/NAME, emptied, for this run's files
  mkdir -p "$OUT"
  OUT="$(cd "$OUT" && pwd)"
  P="$OUT/$1"
  rm -rf "$P"
  mkdir -p "$P"
}

# --- processes we start; all stopped on exit ---------------------------------
declare -A PID=() # name -> pid
STOP_WAIT=15      # seconds stop gives a process before SIGKILL
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
stop() { # stop NAME [SIGNAL]: SIGNAL (TERM), wait up to STOP_WAIT s, SIGKILL; also any descendant left behind
  local name="$1" sig="${2:-TERM}" pid="${PID[$1]:-}" kids i
  [[ -n "$pid" ]] || return 0
  unset "PID[$name]"
  kids="$(descendants "$pid")"
  if alive "$pid"; then
    kill -"$sig" "$pid" 2>/dev/null || true
    for ((i = 0; i < STOP_WAIT * 10; i++)); do alive "$pid" || break; sleep 0.1; done
    if alive "$pid"; then log "$name (pid $pid) did not stop in $STOP_WAIT s: SIGKILL"; kill -KILL "$pid" 2>/dev/null || true; fi
  fi
  wait "$pid" 2>/dev/null || true
  for k in $kids; do
    if alive "$k"; then
      sleep 0.5
      if alive "$k"; then log "$name: pid $k outlived it: SIGKILL"; kill -KILL "$k" 2>/dev/null || true; fi
    fi
  done
}
cleanup() { # the exit trap: stop a running wrk, then everything in PID
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
# shellcheck disable=SC2034 # HAVE_NGINX is for the scripts
find_nginx() { # HAVE_NGINX=1 if nginx is (or can be) installed, else empty (with a SKIP message)
  HAVE_NGINX=1
  command -v nginx >/dev/null || install_pkg nginx-light || true
  command -v nginx >/dev/null || { HAVE_NGINX=; log "SKIP nginx: not installed (apt-get install nginx-light)"; }
}
# The release build's flags (packaging/binary.go): static, stripped, and
# without urfave/cli's documentation generators: what users run, whose
# size shows in its start and its resident memory.
release_build() { # release_build OUTPUT PACKAGE [TAG]: TAG is added to the release's
  CGO_ENABLED=0 go build -trimpath -tags "urfave_cli_no_docs${3:+,$3}" -ldflags "-s -w" -o "$1" "$2" || die "go build $2 failed"
}
build_corral() { # CORRAL: CORRAL_BIN if set, else ./cmd/corral built into OUT as the release is
  CORRAL="$OUT/corral"
  if [[ -n "${CORRAL_BIN:-}" ]]; then
    CORRAL="$CORRAL_BIN"
    [[ -x "$CORRAL" ]] || die "CORRAL_BIN=$CORRAL is not an executable"
  else
    release_build "$CORRAL" ./cmd/corral
  fi
}

# --- ports -------------------------------------------------------------------
declare -A USED=()
# Ports are picked below the kernel's ephemeral range: wrk and slowhttptest open
# thousands of client connections, and a server cannot bind a port that one of
# those uses as its local port.
EPHEMERAL_LOW="$(awk '{ print $1 }' /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)"
((EPHEMERAL_LOW > 12000)) || EPHEMERAL_LOW=32768
PORT_LO=10000 PORT_HI=$EPHEMERAL_LOW # free_port picks in [PORT_LO, PORT_HI)
free_port() { # a loopback port nothing listens on, not handed out before
  local p i
  for ((i = 0; i < 200; i++)); do
    p=$((PORT_LO + RANDOM % (PORT_HI - PORT_LO)))
    [[ -n "${USED[$p]:-}" ]] && continue
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then USED[$p]=1; echo "$p"; return; fi
  done
  die "no free port found"
}

# --- Pebble, a local ACME CA (tls.sh, storage.sh) ------------------------------
# start_pebble HTTP_PORT HTTPS_PORT: pebble-challtestsrv as its DNS server
# (127.0.0.1 for every name) and Pebble validating challenges on those
# ports, on free loopback ports, as the e2e tests run them; sets PB (its
# files: PB/ca.pem, the CA of Pebble's own HTTPS, for --acme-ca-root;
# PB/root.pem, Pebble's root, that verifies what it issues) and ACME_DIR.
start_pebble() {
  local HTTP_PORT="$1" HTTPS_PORT="$2" ACME_PORT MGMT_PORT DNS_PORT CHALL_PORT i
  ACME_PORT=$(free_port) MGMT_PORT=$(free_port) DNS_PORT=$(free_port) CHALL_PORT=$(free_port)
  # Pebble's own HTTPS listener (ACME and management APIs) needs a certificate:
  # a throwaway CA signs one for 127.0.0.1; corral trusts that CA (--acme-ca-root).
  PB="$P/pebble"
  mkdir -p "$PB"
  {
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
      -subj "/CN=corral bench CA for Pebble's own HTTPS" -addext basicConstraints=critical,CA:true \
      -addext keyUsage=critical,keyCertSign,digitalSignature -keyout "$PB/ca.key" -out "$PB/ca.pem"
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
      -subj /CN=localhost -keyout "$PB/listener.key" -out "$PB/listener.csr"
    printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n' >"$PB/listener.ext"
    openssl x509 -req -in "$PB/listener.csr" -CA "$PB/ca.pem" -CAkey "$PB/ca.key" -CAcreateserial \
      -days 2 -extfile "$PB/listener.ext" -out "$PB/listener.pem"
  } >"$P/openssl.log" 2>&1 || die "openssl failed (see $P/openssl.log)"

  # challtestsrv: DNS answering 127.0.0.1 for every name; no challenge servers of its own
  env -u PEBBLE_VA_NOSLEEP pebble-challtestsrv -defaultIPv4 127.0.0.1 -defaultIPv6 "" \
    -dns01 "127.0.0.1:$DNS_PORT" -http01 "" -https01 "" -tlsalpn01 "" \
    -management "127.0.0.1:$CHALL_PORT" >"$P/challtestsrv.log" 2>&1 </dev/null &
  PID[challtestsrv]=$!
  cat >"$PB/pebble.json" <<EOF
{
  "pebble": {
    "listenAddress": "127.0.0.1:$ACME_PORT",
    "managementListenAddress": "127.0.0.1:$MGMT_PORT",
    "certificate": "$PB/listener.pem",
    "privateKey": "$PB/listener.key",
    "httpPort": $HTTP_PORT,
    "tlsPort": $HTTPS_PORT,
    "ocspResponderURL": "",
    "externalAccountBindingRequired": false
  }
}
EOF
  for ((i = 0; i < 100; i++)); do
    (exec 3<>"/dev/tcp/127.0.0.1/$CHALL_PORT") 2>/dev/null && break
    alive "${PID[challtestsrv]}" || die "pebble-challtestsrv exited (see $P/challtestsrv.log)"
    sleep 0.1
  done
  PEBBLE_VA_NOSLEEP=1 PEBBLE_WFE_NONCEREJECT=0 PEBBLE_AUTHZREUSE=0 \
    pebble -config "$PB/pebble.json" -dnsserver "127.0.0.1:$DNS_PORT" >"$P/pebble.log" 2>&1 </dev/null &
  PID[pebble]=$!
  ACME_DIR="https://127.0.0.1:$ACME_PORT/dir"
  for ((i = 0; ; i++)); do
    if curl -fsS --max-time 2 --cacert "$PB/ca.pem" "$ACME_DIR" 2>/dev/null | grep -q newOrder; then break; fi
    alive "${PID[pebble]}" || die "pebble exited at start-up (see $P/pebble.log)"
    ((i < 150)) || die "Pebble's directory $ACME_DIR does not answer (see $P/pebble.log)"
    sleep 0.1
  done
  # Pebble's root, made afresh by each run: what tlsload and curl verify against
  curl -fsS --max-time 5 --cacert "$PB/ca.pem" "https://127.0.0.1:$MGMT_PORT/roots/0" >"$PB/root.pem" ||
    die "cannot fetch Pebble's root from its management API"
  grep -q 'BEGIN CERTIFICATE' "$PB/root.pem" || die "Pebble's /roots/0 is not a PEM certificate"
}

# --- starting targets ----------------------------------------------------------
READY_WAIT=60 # seconds wait_ready waits
wait_ready() { # wait_ready NAME URL: until URL answers 200 (READY_WAIT s), or die
  local i
  for ((i = 0; i < READY_WAIT * 10; i++)); do
    if curl -fsS -o /dev/null --max-time 2 "$2" 2>/dev/null; then return 0; fi
    alive "${PID[$1]}" || die "$1 exited at start-up (see $P/$1.log)"
    sleep 0.1
  done
  die "$1 did not answer $2 within $READY_WAIT s (see $P/$1.log)"
}

nginx_conf_head() { # nginx_conf_head DIR MIME WORKER_CONNECTIONS: the config up to the upstream block
  cat <<EOF
worker_processes auto;
pid $1/nginx.pid;
error_log $1/logs/error.log warn;
events { worker_connections $3; }
http {
  $2
  default_type application/octet-stream;
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_timeout 65;
  client_body_temp_path $1/tmp/client_body;
  proxy_temp_path $1/tmp/proxy;
  fastcgi_temp_path $1/tmp/fastcgi;
  uwsgi_temp_path $1/tmp/uwsgi;
  scgi_temp_path $1/tmp/scgi;

EOF
}
start_nginx() { # start_nginx DIR [NOFILE]: check DIR/nginx.conf, run nginx in the foreground as PID[nginx] (with ulimit -n NOFILE)
  local n="$1"
  nginx -t -q -e "$n/logs/error.log" -c "$n/nginx.conf" -p "$n" >"$P/nginx.log" 2>&1 ||
    die "nginx rejects $n/nginx.conf: $(cat "$P/nginx.log")"
  (
    if [[ -n "${2:-}" ]]; then ulimit -n "$2"; fi
    exec nginx -e "$n/logs/error.log" -c "$n/nginx.conf" -p "$n" -g 'daemon off;'
  ) >>"$P/nginx.log" 2>&1 </dev/null &
  PID[nginx]=$!
}

# --- the Django app (django.sh, slowloris.sh) --------------------------------
django_app() { # copy examples/django to APP=P/app; sets STATIC_ROOT and WEB_CMD
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
}
collectstatic() { # manage.py collectstatic in APP, or die
  (cd "$APP" && python3 manage.py collectstatic --noinput) >"$P/collectstatic.log" 2>&1 ||
    die "collectstatic failed (see $P/collectstatic.log)"
}
nginx_proxy_location() { # the nginx "location /" block of proxy.sh and tls.sh: HTTP/1.1 keep-alive to upstream "app"
  cat <<'EOF'
    location / {
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $http_host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto $scheme;
      proxy_redirect off;
      proxy_buffering on;
      proxy_pass http://app;
    }
EOF
}

nginx_django_conf() { # nginx_django_conf DIR GUNICORN_PORT LISTEN_PORT WORKER_CONNECTIONS: write DIR/nginx.conf
  # gunicorn's recommended config (docs.gunicorn.org, "Deploying")
  local n="$1" mime="types { text/css css; application/javascript js; }"
  mkdir -p "$n/tmp" "$n/logs"
  if [[ -f /etc/nginx/mime.types ]]; then mime="include /etc/nginx/mime.types;"; fi
  {
    nginx_conf_head "$n" "$mime" "$4"
    cat <<EOF
  upstream app_server {
    server 127.0.0.1:$2 fail_timeout=0;
  }
  server {
    listen 127.0.0.1:$3;
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
  } >"$n/nginx.conf"
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
gunicorn_version() { gunicorn --version 2>/dev/null | awk '{ print $NF }' | tr -d ')'; }

# --- memory ------------------------------------------------------------------
cpu_ticks() { # cpu_ticks PID...: their summed utime+stime in clock ticks (getconf CLK_TCK a second); gone ones count 0
  local s=0 p l
  for p in "$@"; do
    l="$(cat "/proc/$p/stat" 2>/dev/null)" || continue
    l="${l##*) }" # past the command name, which may hold spaces: utime and stime are fields 12 and 13 from here
    s=$((s + $(awk '{ print $12 + $13 }' <<<"$l")))
  done
  echo "$s"
}
rss_kb() { # VmRSS of PID in kB (0 when it is gone)
  local v
  v="$(awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null || true)"
  echo "${v:-0}"
}
rss_sum_mb() { # rss_sum_mb PID...: their summed VmRSS, in MB
  local kb=0 p
  for p in "$@"; do kb=$((kb + $(rss_kb "$p"))); done
  awk -v k="$kb" 'BEGIN { printf "%.1f", k / 1024 }'
}

# --- load --------------------------------------------------------------------
declare -A RPS=() P99=() ERRS=() # wrk results (req/s, p99 ms, error notes) by TARGET.KEY
wrk_start() { # wrk_start URL SECONDS FILE: wrk -tTHREADS -cCONNS --latency in the background (WRK_PID)
  timeout -k 5 $(($2 + 30)) wrk -t"$THREADS" -c"$CONNS" -d"${2}s" --latency "$1" >"$3" 2>&1 &
  WRK_PID=$!
}
wrk_wait() { # wrk_wait: wait for the wrk of wrk_start; returns its exit status
  local rc=0
  wait "$WRK_PID" || rc=$?
  WRK_PID=
  return "$rc"
}
# wrk's time units (us, ms, s, m, h) -> ms
to_ms() { awk -v v="$1" 'BEGIN {
  n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
  f = (u == "us") ? 0.001 : (u == "ms") ? 1 : (u == "s") ? 1000 : (u == "m") ? 60000 : (u == "h") ? 3600000 : -1
  if (f < 0) { print "?"; exit }
  printf "%.3f", n * f
}'; }
# wrk_parse FILE: reads wrk's output into the caller's (local) variables rps,
# p99 (as printed; empty when missing), non2xx, and errs: "non-2xx:N " and the
# socket errors ("connectN readN ...") as notes for the table.
# shellcheck disable=SC2034 # the caller's variables
wrk_parse() {
  local sockerr
  rps="$(awk '/^Requests\/sec:/ { print $2 }' "$1")"
  p99="$(awk '/Latency Distribution/ { on = 1; next } on && $1 == "99%" { print $2; exit }' "$1")"
  non2xx="$(awk '/Non-2xx or 3xx responses:/ { print $NF }' "$1")"
  sockerr="$(grep -o 'Socket errors:.*' "$1" || true)"
  errs=
  [[ -n "$non2xx" ]] && errs+="non-2xx:$non2xx "
  [[ -n "$sockerr" ]] && errs+="$(tr -d ' ,' <<<"${sockerr#Socket errors:}") "
  return 0
}
# wrk_record TARGET SCENARIO NAME FILE WIDTH: add timed run NAME's req/s, p99 (ms)
# and errors (FILE: its wrk output) to RPS, P99 and ERRS[TARGET.SCENARIO], and
# log it (TARGET padded to WIDTH)
wrk_record() {
  local t="$1" s="$2" k="$1.$2" rps p99 non2xx errs
  wrk_parse "$4"
  [[ -n "$rps" && -n "$p99" ]] || { log "cannot parse wrk output $4"; ERRS[$k]+="unparsed "; return 0; }
  p99="$(to_ms "$p99")"
  RPS[$k]+="$rps "
  P99[$k]+="$p99 "
  ERRS[$k]+="$errs"
  log "$(printf '%-*s %-6s run %-2s %10s req/s  p99 %9s ms%s' "$5" "$t" "$s" "$3" "$rps" "$p99" "${non2xx:+  NON-2XX: $non2xx}")"
}
run_rounds() { # a WARMUP s warm-up per TARGETS x SCENARIOS pair, then RUNS rounds of DURATION s, interleaved
  local t s i
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
}

# --- report ------------------------------------------------------------------
median() { tr ' ' '\n' | awk 'NF' | sort -g | awk '{ a[NR] = $1 } END { if (NR == 0) exit; m = int((NR + 1) / 2); printf "%.2f", (NR % 2) ? a[m] : (a[m] + a[m + 1]) / 2 }'; }
# shellcheck disable=SC2034 # VERDICT is read by the scripts that source this file
judge() { # judge RATIO TARGET [ERRORS]: VERDICT=PASS if RATIO >= TARGET and no ERRORS, else FAIL and MISSED=1
  if [[ -n "${3:-}" ]]; then
    VERDICT="FAIL (errors)" MISSED=1
  elif awk -v x="$1" -v w="$2" 'BEGIN { exit !(x >= w) }'; then
    VERDICT=PASS
  else
    VERDICT=FAIL MISSED=1
  fi
}
finish() { # the last words: exit 1 if MISSED is set (a target was missed), unless BENCH_NO_FAIL
  if ((MISSED)); then
    if [[ -n "${BENCH_NO_FAIL:-}" && "${BENCH_NO_FAIL}" != 0 ]]; then
      echo "a target was missed (BENCH_NO_FAIL set: not failing)"
    else
      echo "FAIL: a target was missed"
      exit 1
    fi
  fi
}
