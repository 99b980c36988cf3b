#!/usr/bin/env bash
# Storage benchmark (issue 17): how soon a corral host answers HTTPS after
# `corral start` when its certificate is already in the storage it is given
# (Redis, Postgres, or the file system: --cert-dir), and how many storage
# operations a TLS handshake costs once it runs (the aim: none; the
# certificate is served from memory). Redis, Postgres and Pebble run on
# loopback, started by the script. Timed by bench/bootclock, interleaved,
# medians. See bench/README.md.
#
# Environment:
#   RUNS=5             timed starts per storage (after one warm-up round), interleaved
#   SECONDS_HS=3       seconds of full handshakes (bench/tlsload -mode handshake) per storage for the count
#   HS_CONNS=4         concurrent handshake loops
#   TIMEOUT=60         seconds a start may take to answer HTTPS before it counts as failed
#   BENCH_NO_FAIL=1    only report: storage operations during handshakes do not fail the script
#   OUT=bench/out      logs and outputs go to OUT/storage
#   NO_INSTALL=1       do not try to apt-get install missing redis-server, postgresql, pebble
#   CORRAL_BIN=PATH    use this corral binary instead of building ./cmd/corral
set -euo pipefail
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" # cds to the repository root

RUNS="${RUNS:-5}"
SECONDS_HS="${SECONDS_HS:-3}"
HS_CONNS="${HS_CONNS:-4}"
TIMEOUT="${TIMEOUT:-60}"
OUT="${OUT:-$BENCH/out}"
DOMAIN=app.example.test
TARGETS=(file redis postgres)

[[ "$RUNS" =~ ^[1-9][0-9]*$ ]] || die "RUNS must be a positive integer, got '$RUNS'"
[[ "$SECONDS_HS" =~ ^[1-9][0-9]*$ && "$HS_CONNS" =~ ^[1-9][0-9]*$ ]] || die "SECONDS_HS and HS_CONNS must be positive integers"
[[ "$TIMEOUT" =~ ^[1-9][0-9]*$ ]] || die "TIMEOUT must be a positive integer (seconds)"
setup_out storage # P: this run's files
PORT_LO=20000 PORT_HI=32000 # below the kernel's ephemeral range (32768-)

# Postgres refuses to run as root: under root, its cluster belongs to the
# postgres user, in a directory of its own under /tmp (OUT may be private).
PGD=""
trap 'rc=$?; stop postgres INT; if [[ -n "$PGD" ]]; then rm -rf "$PGD"; fi; (exit "$rc"); cleanup' EXIT

# --- tools -------------------------------------------------------------------
command -v curl >/dev/null || install_pkg curl || die "needs curl"
command -v openssl >/dev/null || install_pkg openssl || die "needs openssl"
command -v pebble >/dev/null || install_pkg pebble || die "needs Pebble, the ACME test CA (apt-get install pebble)"
command -v redis-server >/dev/null || install_pkg redis-server || die "needs Redis (apt-get install redis-server)"
PG_BIN="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | tail -n 1)"
[[ -x "$PG_BIN/postgres" ]] || { install_pkg postgresql && PG_BIN="$(ls -d /usr/lib/postgresql/*/bin | tail -n 1)"; } ||
  die "needs Postgres (apt-get install postgresql)"
HAVE_STRACE=1
command -v strace >/dev/null || install_pkg strace || { HAVE_STRACE=; log "SKIP counting file-system operations: no strace (apt-get install strace)"; }

log "building backend, bootclock, tlsload and corral"
go build -o "$OUT/backend" ./bench/backend || die "go build ./bench/backend failed"
go build -o "$OUT/bootclock" ./bench/bootclock || die "go build ./bench/bootclock failed"
go build -o "$OUT/tlsload" ./bench/tlsload || die "go build ./bench/tlsload failed"
build_corral

# --- Pebble, Redis, Postgres ---------------------------------------------------
HTTP_PORT=$(free_port) HTTPS_PORT=$(free_port) # where Pebble validates: the seeding corrals'
start_pebble "$HTTP_PORT" "$HTTPS_PORT"        # PB, ACME_DIR

REDIS_PORT=$(free_port)
mkdir -p "$P/redis"
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$P/redis" --save "" --appendonly no \
  --daemonize no >"$P/redis.log" 2>&1 </dev/null &
PID[redis]=$!
for ((i = 0; i < 100; i++)); do
  [[ "$(redis-cli -p "$REDIS_PORT" ping 2>/dev/null)" == PONG ]] && break
  alive "${PID[redis]}" || die "redis-server exited (see $P/redis.log)"
  sleep 0.1
done
REDIS_URL="redis://127.0.0.1:$REDIS_PORT/0"

PG_PORT=$(free_port)
PGD="$(mktemp -d /tmp/corral-bench-pg.XXXXXX)"
AS_PG=() # the prefix that runs a command as the cluster's owner (postgres, under root)
[[ "$(id -u)" != 0 ]] || AS_PG=(setpriv --reuid=postgres --regid=postgres --init-groups)
as_pg() { "${AS_PG[@]}" "$@"; }
[[ "$(id -u)" != 0 ]] || chown postgres: "$PGD"
as_pg "$PG_BIN/initdb" -D "$PGD/data" -U postgres --auth=trust -E UTF8 --no-sync >"$P/initdb.log" 2>&1 ||
  die "initdb failed (see $P/initdb.log)"
"${AS_PG[@]}" "$PG_BIN/postgres" -D "$PGD/data" -p "$PG_PORT" -k "$PGD" -c listen_addresses=127.0.0.1 -c fsync=off \
  -c shared_preload_libraries=pg_stat_statements -c pg_stat_statements.track=all >"$P/postgres.log" 2>&1 </dev/null &
PID[postgres]=$!
psql_pg() { as_pg psql -h "$PGD" -p "$PG_PORT" -U postgres -v ON_ERROR_STOP=1 -At "$@"; }
for ((i = 0; i < 300; i++)); do
  as_pg "$PG_BIN/pg_isready" -q -h "$PGD" -p "$PG_PORT" && break
  alive "${PID[postgres]}" || die "postgres exited (see $P/postgres.log)"
  sleep 0.1
done
psql_pg -d postgres -c "CREATE DATABASE corral" >/dev/null || die "cannot create the database"
psql_pg -d corral -c "CREATE EXTENSION pg_stat_statements" >/dev/null || die "cannot create pg_stat_statements"
PG_URL="postgres://postgres@127.0.0.1:$PG_PORT/corral?sslmode=disable"

# --- the app, and the certificate in each storage --------------------------------
APP="$P/app"
mkdir -p "$APP"
printf "web: exec '%s'\n" "$OUT/backend" >"$APP/Procfile"
FILE_DIR="$P/certs-file" # the file system's certificate: a host restarting with its --cert-dir
args_of() { # args_of TARGET DIR: sets the caller's ARGS, the storage flags of TARGET (DIR: an empty --cert-dir)
  case "$1" in
  file) ARGS=(--cert-dir "$FILE_DIR") ;;
  redis) ARGS=(--storage "$REDIS_URL" --cert-dir "$2") ;;
  postgres) ARGS=(--storage "$PG_URL" --cert-dir "$2") ;;
  esac
}
corral_args() { # corral_args HTTPS_PORT HTTP_PORT: sets the caller's CMD: corral start with HTTPS on those ports, then ARGS
  CMD=("$CORRAL" start -d "$APP" -p "$(free_port)" --timestamps=false --no-access-log
    --domain "$DOMAIN" --acme-ca "$ACME_DIR" --acme-ca-root "$PB/ca.pem" --acme-email bench@example.test
    --https-port "$1" --http-port "$2" "${ARGS[@]}")
}
for t in "${TARGETS[@]}"; do
  args_of "$t" "$P/seed-$t"
  corral_args "$HTTPS_PORT" "$HTTP_PORT"
  env -u PORT -u CORRAL_PORT -u CORRAL_DOMAINS -u CORRAL_STORAGE "${CMD[@]}" >"$P/seed-$t.log" 2>&1 </dev/null &
  PID[seed]=$!
  for ((i = 0; ; i++)); do
    grep -q "certificate for $DOMAIN obtained" "$P/seed-$t.log" && break
    alive "${PID[seed]}" || die "the corral getting the certificate into $t exited (see $P/seed-$t.log)"
    ((i < 600)) || die "no certificate obtained into $t within 60 s (see $P/seed-$t.log, $P/pebble.log)"
    sleep 0.1
  done
  stop seed
  log "certificate obtained into $t"
done
ISSUED="$(grep -c 'Issued certificate serial' "$P/pebble.log" || true)"

# --- time to the first HTTPS answer ----------------------------------------------------
declare -A FIRST=() TLS=() BIND=() FAILED=()
boot() { # boot TARGET NAME: one timed start of a new host on TARGET
  local t="$1" name="$2" port hport rc=0 f line kv k v
  local -a ARGS=() CMD=()
  local -A r=()
  port="$(free_port)" hport="$(free_port)"
  args_of "$t" "$P/host-$t-$name" # a new host: nothing in its --cert-dir
  corral_args "$port" "$hport"
  f="$P/clock.$t.$name.txt"
  env -u CORRAL_STORAGE -u CORRAL_DOMAINS "$OUT/bootclock" -port "$port" -dir "$APP" -tls-name "$DOMAIN" -tls-ca "$PB/root.pem" \
    -timeout "${TIMEOUT}s" -- "${CMD[@]}" >"$f" 2>"$P/$t.$name.log" </dev/null &
  PID[clock]=$!
  wait "${PID[clock]}" || rc=$?
  unset "PID[clock]"
  line="$(cat "$f")"
  if ((rc != 0)) || [[ -z "$line" ]]; then
    log "$(printf '%-9s run %-6s FAILED (exit %s) (see %s)' "$t" "$name" "$rc" "$P/$t.$name.log")"
    [[ "$name" == warmup ]] || FAILED[$t]=$((${FAILED[$t]:-0} + 1))
    return 0
  fi
  for kv in $line; do k="${kv%%=*}" v="${kv#*=}" && r[$k]="$v"; done
  log "$(printf '%-9s run %-6s bind %8.3f ms  certificate %8.3f ms  first HTTPS answer %8.3f ms (%s tries)' "$t" "$name" \
    "$(ms "${r[bind_us]}")" "$(ms "${r[tls_us]}")" "$(ms "${r[first_us]}")" "${r[tries]}")"
  [[ "$name" == warmup ]] && return 0
  BIND[$t]+="$(ms "${r[bind_us]}") "
  FIRST[$t]+="$(ms "${r[first_us]}") "
  TLS[$t]+="$(ms "${r[tls_us]}") "
}
ms() { awk -v u="$1" 'BEGIN { printf "%.3f", u / 1000 }'; }
for t in "${TARGETS[@]}"; do boot "$t" warmup; done
for ((i = 1; i <= RUNS; i++)); do
  for t in "${TARGETS[@]}"; do boot "$t" "$i"; done
done
if (($(grep -c 'Issued certificate serial' "$P/pebble.log" || true) != ISSUED)); then
  die "Pebble issued certificates during the timed starts: a host did not find the stored one (see $P/pebble.log)"
fi

# --- storage operations per handshake --------------------------------------------
count_ops() { # count_ops TARGET: the storage's operation counter now (file: strace's lines so far)
  case "$1" in
  redis) redis-cli -p "$REDIS_PORT" INFO commandstats | tr -d '\r' |
    awk -F'[:=,]' '/^cmdstat_/ && $1 != "cmdstat_info" { s += $3 } END { print s + 0 }' ;;
  postgres) psql_pg -d corral -c "SELECT coalesce(sum(calls), 0) FROM pg_stat_statements WHERE query ILIKE '%corral_cert%'" ;;
  file) grep -c "$FILE_DIR" "$P/strace.txt" 2>/dev/null || true ;;
  esac
}
declare -A OPS_HS=() OPS_IDLE=() HS=()
steady() { # steady TARGET: a host on TARGET, its storage operations over SECONDS_HS idle, then under full handshakes
  local t="$1" port hport before after idle out n
  local -a ARGS=() CMD=()
  port="$(free_port)" hport="$(free_port)"
  args_of "$t" "$P/steady-$t"
  corral_args "$port" "$hport"
  env -u PORT -u CORRAL_PORT -u CORRAL_DOMAINS -u CORRAL_STORAGE "${CMD[@]}" >"$P/steady-$t.log" 2>&1 </dev/null &
  PID[steady]=$!
  for ((i = 0; ; i++)); do
    curl -fsS -o /dev/null --max-time 2 --cacert "$PB/root.pem" --resolve "$DOMAIN:$port:127.0.0.1" "https://$DOMAIN:$port/" 2>/dev/null && break
    alive "${PID[steady]}" || die "corral on $t exited (see $P/steady-$t.log)"
    ((i < 300)) || die "corral on $t does not answer HTTPS (see $P/steady-$t.log)"
    sleep 0.1
  done
  sleep 1
  if [[ "$t" == file ]]; then
    [[ -n "$HAVE_STRACE" ]] || { stop steady; return 0; }
    : >"$P/strace.txt"
    strace -f -qq -e trace=%file -o "$P/strace.txt" -p "${PID[steady]}" 2>"$P/strace.log" &
    PID[strace]=$!
    sleep 1
  fi
  before="$(count_ops "$t")"
  sleep "$SECONDS_HS"
  after="$(count_ops "$t")"
  idle=$((after - before))
  before="$after"
  out="$("$OUT/tlsload" -addr "127.0.0.1:$port" -sni "$DOMAIN" -ca "$PB/root.pem" -c "$HS_CONNS" -d "${SECONDS_HS}s" -mode handshake 2>>"$P/tlsload.log")" ||
    die "tlsload against corral on $t failed: $out (see $P/tlsload.log)"
  after="$(count_ops "$t")"
  if [[ "$t" == file ]]; then
    stop strace INT
    after="$(count_ops file)"
    # strace saw corral's calls (it reads /proc each second): a count of
    # none is corral's, not a tracer that saw nothing.
    [[ -s "$P/strace.txt" ]] || die "strace recorded no system call of corral (see $P/strace.log)"
  fi
  n="$(sed -n 's/.*requests=\([0-9]*\).*/\1/p' <<<"$out")"
  [[ -n "$n" && "$n" -gt 0 ]] || die "tlsload made no handshake on $t: $out"
  OPS_IDLE[$t]=$idle OPS_HS[$t]=$((after - before)) HS[$t]=$n
  log "$(printf '%-9s %6d handshakes in %ss: %d storage operations (%d in as long idle)' "$t" "$n" "$SECONDS_HS" "${OPS_HS[$t]}" "$idle")"
  stop steady
}
for t in "${TARGETS[@]}"; do steady "$t"; done

# --- report ------------------------------------------------------------------
echo
echo "corral $("$CORRAL" version | awk '{ print $2 }'), $(nproc) CPUs; Redis $(redis-server --version | sed -n 's/.* v=\([^ ]*\).*/\1/p'), Postgres $("$PG_BIN/postgres" --version | awk '{ print $NF }')"
echo "a new host, the certificate already in the storage: from corral start to the port bound, to the first TLS"
echo "handshake with the certificate, and to the first HTTPS answer (the app ready too); median of $RUNS, ms:"
printf '  %-9s %10s %12s %12s  %s\n' storage bind certificate first-answer notes
for t in "${TARGETS[@]}"; do
  note=""
  [[ -n "${FAILED[$t]:-}" ]] && note="FAILED: ${FAILED[$t]} run(s)"
  printf '  %-9s %10s %12s %12s  %s\n' "$t" "$(median <<<"${BIND[$t]:-}")" "$(median <<<"${TLS[$t]:-}")" "$(median <<<"${FIRST[$t]:-}")" "$note"
done
echo "storage operations in steady state ($HS_CONNS handshake loops for ${SECONDS_HS}s; idle: as long without load):"
printf '  %-9s %10s %12s %14s %8s\n' storage handshakes operations per-handshake idle
MISSED=0
for t in "${TARGETS[@]}"; do
  if [[ -z "${HS[$t]:-}" ]]; then
    printf '  %-9s %10s\n' "$t" "not counted"
    continue
  fi
  per="$(awk -v o="${OPS_HS[$t]}" -v n="${HS[$t]}" 'BEGIN { printf "%.4f", o / n }')"
  printf '  %-9s %10s %12s %14s %8s\n' "$t" "${HS[$t]}" "${OPS_HS[$t]}" "$per" "${OPS_IDLE[$t]}"
  # The aim is none: any operation beyond the idle count is the handshakes'.
  ((OPS_HS[$t] <= OPS_IDLE[$t])) || MISSED=1
  [[ -z "${FAILED[$t]:-}" ]] || MISSED=1
done
echo "(wall-clock times on a shared machine are noisy: compare the storages within one run)"
finish
