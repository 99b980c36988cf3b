#!/usr/bin/env bash
# Boot benchmark: how soon $PORT accepts TCP connections after the exec (what
# a platform's port scan waits for), and how soon GET / is answered (what the
# first user waits for), for corral (its edge binds $PORT before the release
# phase and the web process start) and for gunicorn binding its own port, on
# examples/django; plus corral's own RSS next to gunicorn master's; and
# corral's bind against a Go program that only listens (bench/listener), the
# floor any Go server has. Timed by bench/bootclock, interleaved, medians.
# See bench/README.md.
#
# Environment:
#   RUNS=7             rounds; each round boots every target once, in turn (after one warm-up round)
#   BIND_TARGET=20     gunicorn's bind time >= this x corral's (ratio of medians)
#   BARE_TARGET=1.5    corral's bind time <= this x bench/listener's (ratio of medians)
#   WAKE_TARGET=20     cold wake with --idle-stop <= gunicorn's boot + this many ms (medians)
#   IDLE=1s            the --idle-stop of the cold wake runs
#   TIMEOUT=60         seconds a boot may take before it counts as failed
#   INTERVAL=500us     bootclock's time between connect attempts
#   BENCH_NO_FAIL=1    only report: a missed target does not fail the script
#   OUT=bench/out      the app copy, logs and bootclock outputs go to OUT/boot
#   NO_INSTALL=1       do not try to apt-get install a missing gunicorn
#   CORRAL_BIN=PATH    use this corral binary instead of building ./cmd/corral
#   CORRAL_BASE_BIN=PATH  also boot this corral binary (another commit's) as target
#                      corral-base, with corral's command, in the same rounds
set -euo pipefail
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" # cds to the repository root

RUNS="${RUNS:-7}"
BIND_TARGET="${BIND_TARGET:-20}"
BARE_TARGET="${BARE_TARGET:-1.5}"
WAKE_TARGET="${WAKE_TARGET:-20}"
IDLE="${IDLE:-1s}"
TIMEOUT="${TIMEOUT:-60}"
INTERVAL="${INTERVAL:-500us}"
OUT="${OUT:-$BENCH/out}"

[[ "$RUNS" =~ ^[1-9][0-9]*$ ]] || die "RUNS must be a positive integer, got '$RUNS'"
[[ "$TIMEOUT" =~ ^[1-9][0-9]*$ ]] || die "TIMEOUT must be a positive integer (seconds), got '$TIMEOUT'"
[[ "$BIND_TARGET" =~ ^[0-9]+(\.[0-9]+)?$ ]] || die "BIND_TARGET must be a number, got '$BIND_TARGET'"
[[ "$BARE_TARGET" =~ ^[0-9]+(\.[0-9]+)?$ ]] || die "BARE_TARGET must be a number, got '$BARE_TARGET'"
setup_out boot # P: the app copy (P/app), logs and bootclock outputs

# python3 as on a platform, where it is the interpreter itself: a version
# manager's shims (pyenv's are bash scripts) add a quarter of a second to
# every python3 start here, which corral's question for Django's static
# files pays and gunicorn (#!/usr/bin/python3) does not.
PATH="$(tr ':' '\n' <<<"$PATH" | grep -v '/\.pyenv/.*shims$' | paste -sd: -)"
export PATH

# --- tools -------------------------------------------------------------------
command -v curl >/dev/null || install_pkg curl || die "needs curl"
command -v gunicorn >/dev/null || install_pkg gunicorn || die "needs gunicorn (apt-get install gunicorn python3-django)"

# --- the apps ------------------------------------------------------------------
django_app # APP: a copy of examples/django; WEB_CMD: its Procfile's web command
log "collectstatic (GET / needs the manifest; corral's release phase runs it again)"
collectstatic
# gunicorn is run as the Procfile's web command, with $PORT filled in, exec'd
# straight (no shell), so that bootclock's RSS is gunicorn master's; with no
# HOST set, as on a platform, ${HOST:-0.0.0.0} is 0.0.0.0
DIRECT_CMD="${WEB_CMD//'${HOST:-0.0.0.0}'/0.0.0.0}"
[[ "$DIRECT_CMD" =~ ^[A-Za-z0-9\ ._:/\$=-]+$ ]] || die "the web command has shell syntax this script does not handle: $WEB_CMD"
# web only, no release phase: corral's own cost in the first response
printf 'web: %s\n' "$WEB_CMD" >"$P/Procfile.web"
HELLO="$ROOT/examples/hello" # web: go run . (release: echo; its worker is not started)
# The same app with no Procfile: corral detects it (web: gunicorn mysite.wsgi;
# collectstatic is skipped, staticfiles/ being there). Two workers, as the
# Procfile says, rather than the machine's WEB_CONCURRENCY.
DETECTED="$P/app-detected"
rm -rf "$DETECTED" && cp -r "$APP" "$DETECTED" && rm -f "$DETECTED/Procfile"
echo "WEB_CONCURRENCY=2" >"$DETECTED/.env"

log "building corral and bench/listener as the release is built, and bench/bootclock"
# corral and the listener are built alike (lib.sh's release_build), so
# that their binds differ only in what the programs do.
CORRAL="$OUT/corral"
if [[ -n "${CORRAL_BIN:-}" ]]; then
  CORRAL="$CORRAL_BIN"
  [[ -x "$CORRAL" ]] || die "CORRAL_BIN=$CORRAL is not an executable"
else
  release_build "$CORRAL" ./cmd/corral
fi
CLOCK="$OUT/bootclock" BARE="$OUT/listener" BARE_DEPS="$OUT/listener-deps"
go build -o "$CLOCK" ./bench/bootclock || die "go build ./bench/bootclock failed"
release_build "$BARE" ./bench/listener
# the same listener linking every package corral imports (bench/listener/deps.go)
release_build "$BARE_DEPS" ./bench/listener corral_deps

# --- the targets ---------------------------------------------------------------
TARGETS=(bare bare-deps corral corral-web corral-detected corral-hello gunicorn)
if [[ -n "${CORRAL_BASE_BIN:-}" ]]; then
  [[ -x "$CORRAL_BASE_BIN" ]] || die "CORRAL_BASE_BIN=$CORRAL_BASE_BIN is not an executable"
  TARGETS=(bare bare-deps corral corral-base corral-web corral-detected corral-hello gunicorn)
fi
command_of() { # command_of TARGET PORT: sets the caller's CMD (argv) and DIR
  local port="$2"
  case "$1" in
  bare) DIR="$APP" CMD=("$BARE") ;;
  bare-deps) DIR="$APP" CMD=("$BARE_DEPS") ;;
  corral) DIR="$APP" CMD=("$CORRAL" start -d "$APP" -p "$port" -m web=1 --no-access-log --timestamps=false) ;;
  corral-base) DIR="$APP" CMD=("$CORRAL_BASE_BIN" start -d "$APP" -p "$port" -m web=1 --no-access-log --timestamps=false) ;;
  corral-web) DIR="$APP" CMD=("$CORRAL" start -d "$APP" -f "$P/Procfile.web" -p "$port" -m web=1 --no-access-log --timestamps=false) ;;
  corral-hello) DIR="$HELLO" CMD=("$CORRAL" start -d "$HELLO" -p "$port" -m "all=0,web=1" --no-access-log --timestamps=false) ;;
  corral-detected) DIR="$DETECTED" CMD=("$CORRAL" start -d "$DETECTED" -p "$port" -m web=1 --no-access-log --timestamps=false) ;;
  gunicorn) DIR="$APP" && read -ra CMD <<<"${DIRECT_CMD//\$PORT/$port}" ;;
  esac
}
describe() {
  case "$1" in
  bare) echo "bench/listener: a Go program that only listens on \$PORT (bind only; no HTTP)" ;;
  bare-deps) echo "the same, linking every package corral imports (-tags corral_deps; their inits run)" ;;
  corral) echo "corral start -d APP -m web=1 (release: collectstatic, then web: gunicorn)" ;;
  corral-base) echo "corral's command with CORRAL_BASE_BIN ($CORRAL_BASE_BIN)" ;;
  corral-web) echo "the same, Procfile without the release phase" ;;
  corral-hello) echo "corral start -d examples/hello -m all=0,web=1 (web: go run .)" ;;
  corral-detected) echo "corral-web's app with no Procfile: detected (web: gunicorn mysite.wsgi, WEB_CONCURRENCY=2)" ;;
  gunicorn) echo "gunicorn $(gunicorn_version) binding its own port (RSS: master)" ;;
  esac
}

declare -A BIND=() FIRST=() RSSB=() RSSU=() FAILED=() LEFT=() # per target: space-separated per-run values
POLL_US= # every timed run's mean time between connect attempts
boot() { # boot TARGET NAME: one timed boot of TARGET, recorded unless NAME is warmup
  local t="$1" name="$2" port rc=0 f log line kv k v extra=
  local -a CMD=()
  local DIR=
  local -A r=()
  port="$(free_port)"
  command_of "$t" "$port"
  f="$P/clock.$t.$name.txt" log="$P/$t.$name.log"
  local -a how=()
  [[ "$t" != bare* ]] || how=(-no-http) # it answers no HTTP: its bind alone is timed
  "$CLOCK" -port "$port" -dir "$DIR" -interval "$INTERVAL" -timeout "${TIMEOUT}s" "${how[@]}" -- "${CMD[@]}" \
    >"$f" 2>"$log" </dev/null &
  PID[clock]=$!
  wait "${PID[clock]}" || rc=$?
  unset "PID[clock]"
  line="$(cat "$f")"
  if ((rc != 0)) || [[ -z "$line" ]]; then
    log "$(printf '%-12s run %-6s FAILED (exit %s): %s' "$t" "$name" "$rc" "$(grep '^bootclock:' "$log" | tail -1)") (see $log)"
    [[ "$name" == warmup ]] || FAILED[$t]=$((${FAILED[$t]:-0} + 1))
    return 0
  fi
  for kv in $line; do k="${kv%%=*}" v="${kv#*=}" && r[$k]="$v"; done
  if ((${r[leftover]:-0} != 0)); then
    extra="  LEFTOVER: ${r[leftover]} process(es) outlived it and were SIGKILLed"
    LEFT[$t]=$((${LEFT[$t]:-0} + r[leftover]))
  fi
  if [[ "$t" == bare* ]]; then # no HTTP: bind and RSS at bind only
    log "$(printf '%-12s run %-6s bind %9.3f ms (poll %3sus)  RSS %6.1f MB  stop %5s ms%s' \
      "$t" "$name" "$(ms "${r[bind_us]}")" "${r[poll_us]}" "$(mb "${r[rss_bind_kb]}")" "${r[stop_ms]}" "$extra")"
  else
    log "$(printf '%-12s run %-6s bind %9.3f ms (poll %3sus)  first %9.3f ms (HTTP %s, %s tries)  RSS %6.1f / %6.1f MB  stop %5s ms%s' \
      "$t" "$name" "$(ms "${r[bind_us]}")" "${r[poll_us]}" "$(ms "${r[first_us]}")" "${r[status]}" "${r[tries]}" \
      "$(mb "${r[rss_bind_kb]}")" "$(mb "${r[rss_up_kb]}")" "${r[stop_ms]}" \
      "$extra")"
  fi
  [[ "$name" == warmup ]] && return 0
  BIND[$t]+="$(ms "${r[bind_us]}") "
  RSSB[$t]+="$(mb "${r[rss_bind_kb]}") "
  if [[ "$t" != bare* ]]; then
    FIRST[$t]+="$(ms "${r[first_us]}") "
    RSSU[$t]+="$(mb "${r[rss_up_kb]}") "
  fi
  POLL_US+="${r[poll_us]} "
}
ms() { awk -v u="$1" 'BEGIN { printf "%.3f", u / 1000 }'; }
mb() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }

# Cold wake with --idle-stop: corral runs the web-only Procfile with
# --idle-stop; each round waits until corral says web.1 has been stopped
# for idleness, boots gunicorn alone once (bootclock: exec to the first
# answer, the app's boot), then times one GET / to corral from curl's send to the
# first byte of the answer: the app's boot while the request waits at the
# edge, plus corral's start of it, readiness check and proxying. The
# medians' difference is corral's overhead, judged against WAKE_TARGET ms.
WAKE=() WAKE_BOOT=()
measure_cold_wake() {
  local port log i n url t b
  port="$(free_port)" log="$P/corral-wake.log" url="http://127.0.0.1:$port/"
  "$CORRAL" start -d "$APP" -f "$P/Procfile.web" -p "$port" --idle-stop "$IDLE" --timestamps=false >"$log" 2>&1 </dev/null &
  PID[corral-wake]=$!
  wait_ready corral-wake "$url"
  for ((i = 0; i <= RUNS; i++)); do # one warm-up round, then RUNS timed
    n=$((i + 1))
    until (($(grep -c 'idle stop: web.1 .*it starts again on the next request' "$log") >= n)); do
      alive "${PID[corral-wake]}" || die "corral with --idle-stop exited (see $log)"
      sleep 0.1
    done
    b="$(boot_first gunicorn)" # while corral's app sleeps
    ((i == 0)) || WAKE_BOOT+=("$b")
    t="$(curl -s -o /dev/null -w '%{http_code} %{time_starttransfer}' "$url")"
    [[ "${t%% *}" == 200 ]] || die "the waking request got HTTP ${t%% *} (see $log)"
    t="$(awk -v s="${t#* }" 'BEGIN { printf "%.2f", s * 1000 }')"
    log "$(printf '%-12s run %-6s wake %9.2f ms (gunicorn alone: first answer %s ms)' corral-wake "$( ((i == 0)) && echo warmup || echo "$i")" "$t" "$b")"
    ((i == 0)) || WAKE+=("$t")
  done
  stop corral-wake
}
boot_first() { # boot_first TARGET: one untimed-for-the-table boot; prints its first answer in ms
  local port f
  local -a CMD=()
  local DIR=
  port="$(free_port)"
  command_of "$1" "$port"
  f="$P/clock.wake-$1.txt"
  "$CLOCK" -port "$port" -dir "$DIR" -interval "$INTERVAL" -timeout "${TIMEOUT}s" -- "${CMD[@]}" >"$f" 2>>"$P/wake-$1.log" </dev/null ||
    die "booting $1 for the cold wake comparison failed (see $P/wake-$1.log)"
  ms "$(tr ' ' '\n' <"$f" | sed -n 's/^first_us=//p')"
}

# --- the runs --------------------------------------------------------------------
log "targets: ${TARGETS[*]}; one warm-up round, then $RUNS round(s) interleaved; bootclock polls every $INTERVAL"
for t in "${TARGETS[@]}"; do boot "$t" warmup; done
for ((i = 1; i <= RUNS; i++)); do
  for t in "${TARGETS[@]}"; do boot "$t" "$i"; done
done
log "cold wake: corral start --idle-stop $IDLE, one warm-up wake, then $RUNS timed"
measure_cold_wake

# --- report ------------------------------------------------------------------
declare -A MB=() MF=()
mb_median() { # mb_median "VALUES": their median as "N.N MB", or -
  local m
  m="$(median <<<"$1")"
  if [[ -n "$m" ]]; then printf '%.1f MB' "$m"; else echo -; fi
}
echo
echo "boot of examples/django (a copy in $APP) and examples/hello, $RUNS round(s) interleaved, medians;"
echo "bind: exec to the first TCP connect to 127.0.0.1:PORT (polled every $INTERVAL; median of the runs' mean: $(median <<<"$POLL_US") us);"
echo "first: exec to the first answer below 500 to GET / (one request sent as soon as the port accepts);"
echo "RSS: VmRSS of the exec'd process alone (corral itself; gunicorn's master), at bind and at first answer;"
echo "loopback, $(nproc) CPU(s)"
echo
printf '%-16s %10s %10s %10s %10s  %-s\n' target "bind ms" "first ms" "RSS@bind" "RSS@up" "what / notes"
for t in "${TARGETS[@]}"; do
  MB[$t]="$(median <<<"${BIND[$t]:-}")"
  MF[$t]="$(median <<<"${FIRST[$t]:-}")"
  notes="$(describe "$t")"
  [[ -z "${FAILED[$t]:-}" ]] || notes+="  FAILED RUNS: ${FAILED[$t]}"
  [[ -z "${LEFT[$t]:-}" ]] || notes+="  LEFTOVER PROCESSES KILLED: ${LEFT[$t]}"
  printf '%-16s %10s %10s %10s %10s  %s\n' "$t" "${MB[$t]:--}" "${MF[$t]:--}" \
    "$(mb_median "${RSSB[$t]:-}")" "$(mb_median "${RSSU[$t]:-}")" "$notes"
done
echo

MISSED=0
ratio() { # ratio A B: median bind of B / median bind of A
  local a="${MB[$1]:-}" b="${MB[$2]:-}"
  [[ -n "$a" && -n "$b" ]] || return 1
  awk -v a="$a" -v b="$b" 'BEGIN { printf "%.1f", (a > 0) ? b / a : 0 }'
}
name="bind gunicorn/corral"
if x="$(ratio corral gunicorn)"; then
  if [[ -n "${FAILED[corral]:-}" ]]; then
    verdict="FAIL (failed runs)" MISSED=1
  elif awk -v x="$x" -v w="$BIND_TARGET" 'BEGIN { exit !(x >= w) }'; then
    verdict=PASS
  else
    verdict=FAIL MISSED=1
  fi
  printf '%-34s %8sx  target >= %sx  %s\n' "$name" "$x" "$BIND_TARGET" "$verdict"
else
  printf '%-34s %8s   target >= %sx  FAIL (not measured: see the log above)\n' "$name" - "$BIND_TARGET"
  MISSED=1
fi
# corral's bind against the floor of any Go server: each corral's median
# over bench/listener's (judged for corral, reported for the others)
for t in corral corral-base corral-web corral-detected corral-hello; do
  name="bind $t/bare"
  if ! x="$(awk -v a="${MB[bare]:-}" -v b="${MB[$t]:-}" 'BEGIN { if (a == "" || b == "" || a <= 0) exit 1; printf "%.2f", b / a }')"; then
    [[ "$t" != corral ]] || { printf '%-34s %8s   target <= %sx  FAIL (not measured: see the log above)\n' "$name" - "$BARE_TARGET" && MISSED=1; }
    continue
  fi
  if [[ "$t" != corral ]]; then
    printf '%-34s %8sx  (not judged)\n' "$name" "$x"
    continue
  fi
  verdict=PASS
  awk -v x="$x" -v w="$BARE_TARGET" 'BEGIN { exit !(x <= w) }' || verdict=FAIL MISSED=1
  [[ -z "${FAILED[corral]:-}" ]] || verdict="FAIL (failed runs)" MISSED=1
  printf '%-34s %8sx  target <= %sx  %s\n' "$name" "$x" "$BARE_TARGET" "$verdict"
done
# what linking corral's dependencies costs any program (bare-deps/bare), and
# what corral's own start adds to that ceiling (corral/bare-deps)
for pair in "bare bare-deps" "bare-deps corral" "bare-deps corral-base" "corral-base corral"; do
  read -r a b <<<"$pair"
  if x="$(awk -v a="${MB[$a]:-}" -v b="${MB[$b]:-}" 'BEGIN { if (a == "" || b == "" || a <= 0) exit 1; printf "%.2f", b / a }')"; then
    printf '%-34s %8sx  (not judged)\n' "bind $b/$a" "$x"
  fi
done
if x="$(ratio corral-hello gunicorn)"; then printf '%-34s %8sx  (not judged)\n' "bind gunicorn/corral-hello" "$x"; fi
if x="$(ratio corral-detected gunicorn)"; then printf '%-34s %8sx  (not judged)\n' "bind gunicorn/corral-detected" "$x"; fi
if [[ -n "${MB[corral-detected]:-}" && -n "${MB[corral-web]:-}" ]]; then
  printf '%-34s %+8.1f ms  (detection in place of the Procfile; not judged)\n' "bind corral-detected - corral-web" "$(awk -v a="${MB[corral-detected]}" -v b="${MB[corral-web]}" 'BEGIN { print a - b }')"
fi
delta() { # delta A B LABEL: median first response of A minus B's
  local a="${MF[$1]:-}" b="${MF[$2]:-}"
  [[ -n "$a" && -n "$b" ]] || return 0
  printf '%-34s %+8.1f ms  (%s; not judged)\n' "first $1 - $2" "$(awk -v a="$a" -v b="$b" 'BEGIN { print a - b }')" "$3"
}
wake="$(median <<<"${WAKE[*]}")" wboot="$(median <<<"${WAKE_BOOT[*]}")"
if [[ -n "$wake" && -n "$wboot" ]]; then
  over="$(awk -v w="$wake" -v b="$wboot" 'BEGIN { printf "%.1f", w - b }')"
  verdict=PASS
  awk -v o="$over" -v t="$WAKE_TARGET" 'BEGIN { exit !(o <= t) }' || verdict=FAIL MISSED=1
  printf '%-34s %8s ms  (gunicorn boot %s ms, interleaved; wake - boot %+.1f ms, target <= +%s ms)  %s\n' \
    "cold wake (--idle-stop)" "$wake" "$wboot" "$over" "$WAKE_TARGET" "$verdict"
else
  printf '%-34s %8s   FAIL (not measured: see the log above)\n' "cold wake (--idle-stop)" -
  MISSED=1
fi
delta corral gunicorn "release phase + corral's start and readiness check"
delta corral-web gunicorn "corral's start and readiness check"
delta corral-detected corral-web "detection in place of the Procfile"
echo
echo "app copy, logs and bootclock outputs in $P"

finish
