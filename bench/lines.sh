#!/usr/bin/env bash
# Times LINES (default 200,000) lines printed by one process through three
# Procfile runners -- corral, Ruby foreman and node-foreman (nf) -- run
# interleaved, and reports median wall times and the ratios to corral.
# See bench/README.md.
#
# Environment:
#   RUNS=5            timed runs per runner (interleaved: corral, foreman, nf, ...)
#   LINES=200000      lines the process prints
#   TIMEOUT=300       seconds before a run is killed (a runner that hangs fails)
#   BENCH_NO_FAIL=1   only report: a missed speed target does not fail the script
#   STRICT_PEERS=1    a peer (foreman, nf) losing or mangling lines fails the script too
#   OUT=bench/out     where corral is built and outputs are written
#   NO_INSTALL=1      do not try to install missing peers
#   FOREMAN_TARGET=10, NF_TARGET=4   the speed targets (ratio of median times)
set -euo pipefail

BENCH="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$BENCH/.." && pwd)"
cd "$ROOT"

RUNS="${RUNS:-5}"
LINES="${LINES:-200000}"
TIMEOUT="${TIMEOUT:-300}"
OUT="${OUT:-$BENCH/out}"
FOREMAN_TARGET="${FOREMAN_TARGET:-10}" # corral at least this many times faster than Ruby foreman
NF_TARGET="${NF_TARGET:-4}"             # ... and than node-foreman

die() { echo "lines.sh: $*" >&2; exit 1; }
log() { echo "lines.sh: $*" >&2; }

[[ "$RUNS" =~ ^[1-9][0-9]*$ ]] || die "RUNS must be a positive integer, got '$RUNS'"
[[ "$LINES" =~ ^[1-9][0-9]*$ ]] || die "LINES must be a positive integer, got '$LINES'"
command -v timeout >/dev/null || die "needs timeout (coreutils)"

mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"

# --- the app: one process type printing numbered lines as fast as it can ---
APPDIR="$OUT/app"
rm -rf "$APPDIR"
mkdir -p "$APPDIR"
printf 'gen: seq -f "line %%06.0f padding-padding-padding" 1 %s\n' "$LINES" >"$APPDIR/Procfile"
seq -f "%.0f" 1 "$LINES" >"$OUT/expected.txt"

# --- the runners ---
log "building corral"
go build -o "$OUT/corral" ./cmd/corral || die "go build ./cmd/corral failed"

RUNNERS=(corral)

if ! command -v foreman >/dev/null && [[ -z "${NO_INSTALL:-}" ]]; then
  if [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null; then
    log "installing ruby-foreman with apt-get"
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ruby-foreman; } >"$OUT/apt.log" 2>&1 ||
      log "apt-get install ruby-foreman failed (see $OUT/apt.log)"
  fi
fi
if command -v foreman >/dev/null; then
  RUNNERS+=(foreman)
else
  log "SKIP foreman: not installed (apt-get install ruby-foreman, or gem install foreman)"
fi

NF="$BENCH/node_modules/.bin/nf"
if [[ ! -x "$NF" && -z "${NO_INSTALL:-}" ]] && command -v npm >/dev/null; then
  log "installing node-foreman (npm foreman@3) into $BENCH/node_modules"
  npm install --prefix "$BENCH" --no-save --no-package-lock --no-audit --no-fund foreman@3 >"$OUT/npm.log" 2>&1 ||
    log "npm install foreman@3 failed (see $OUT/npm.log)"
fi
if [[ -x "$NF" ]] && command -v node >/dev/null; then
  RUNNERS+=(nf)
else
  log "SKIP nf: not installed (needs node and npm: cd bench && npm install foreman@3)"
fi

run_corral() { "$OUT/corral" start -d "$APPDIR" --timestamps=false; }
run_foreman() { foreman start -f "$APPDIR/Procfile" -d "$APPDIR"; }
run_nf() { cd "$APPDIR" && "$NF" start -j Procfile; }

version() {
  case "$1" in
  corral) "$OUT/corral" version 2>/dev/null | head -n1 || true ;;
  foreman) echo "foreman $(foreman version 2>/dev/null || true), $(ruby --version 2>/dev/null | cut -d' ' -f1-2)" ;;
  nf) echo "nf $("$NF" --version 2>/dev/null || true), node $(node --version 2>/dev/null || true)" ;;
  esac
}

# verify FILE: prints "intact lost disorder other" where
#   intact   = lines ending in a whole payload "line N padding-padding-padding"
#              (after a start of line, space or '|'),
#   missing  = numbers 1..LINES not received intact (lost, or mangled/split),
#   disorder = intact lines whose N is not above the previous one (reordered or duplicated),
#   other    = all remaining lines (runner messages, fragments of split lines).
verify() {
  awk -v n="$LINES" '
    {
      if (match($0, /line [0-9]+ padding-padding-padding$/)) {
        c = (RSTART == 1) ? " " : substr($0, RSTART - 1, 1)
        if (c == " " || c == "|") {
          k = substr($0, RSTART + 5) + 0
          intact++
          if (k >= 1 && k <= n && !(k in seen)) { seen[k] = 1; uniq++ }
          if (k <= prev) disorder++
          prev = k
          next
        }
      }
      other++
    }
    END { printf "%d %d %d %d\n", intact, n - uniq, disorder, other }
  ' "$1"
}

# corral must be exact: every line is either its own "corral | ..." message or
# "gen.1  | line N padding-padding-padding", and the numbers are exactly 1..LINES.
verify_corral_strict() {
  local f="$1" bad
  bad="$(grep -Evc '^(corral \| .*|gen\.1 +\| line [0-9]+ padding-padding-padding)$' "$f" || true)"
  [[ "$bad" == 0 ]] || { log "corral: $bad unexpected line(s) in $f"; return 1; }
  sed -nE 's/^gen\.1 +\| line ([0-9]+) padding-padding-padding$/\1/p' "$f" | awk '{ print $1 + 0 }' |
    cmp -s - "$OUT/expected.txt" || { log "corral: numbers in $f are not exactly 1..$LINES"; return 1; }
}

declare -A TIMEDOUT TIMES WORST_INTACT WORST_LOST WORST_DISORDER WORST_OTHER PROBLEMS
for r in "${RUNNERS[@]}"; do
  TIMES[$r]=""
  WORST_INTACT[$r]=$LINES WORST_LOST[$r]=0 WORST_DISORDER[$r]=0 WORST_OTHER[$r]=0
  PROBLEMS[$r]=""
done
FATAL=0

note() { # note RUNNER PROBLEM: record a problem once
  case " ${PROBLEMS[$1]} " in *" $2 "*) ;; *) PROBLEMS[$1]="${PROBLEMS[$1]:+${PROBLEMS[$1]} }$2" ;; esac
}

# one_run RUNNER I: time one run, write its stdout to $OUT/RUNNER.I.out, verify it
one_run() {
  local r="$1" i="$2" f="$OUT/$1.$2.out" t0 t1 rc=0
  t0=$(date +%s.%N)
  timeout -k 5 "$TIMEOUT" bash -c "$(declare -f "run_$r"); $(declare -p OUT APPDIR NF); run_$r" \
    >"$f" 2>"$OUT/$r.$i.err" </dev/null || rc=$?
  t1=$(date +%s.%N)
  local secs
  secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
  [[ "$i" == warmup ]] && return 0

  local intact lost disorder other
  read -r intact lost disorder other < <(verify "$f")
  log "$(printf '%-8s run %-2s %8ss  rc=%-3s intact=%-7s missing=%-5s out-of-order=%-5s other=%s' \
    "$r" "$i" "$secs" "$rc" "$intact" "$lost" "$disorder" "$other")"

  if [[ "$rc" == 124 || "$rc" == 137 ]]; then
    note "$r" "timed-out(${TIMEOUT}s)"
    TIMEDOUT[$r]=1
  elif [[ "$rc" != 0 ]]; then
    note "$r" "exit-code-$rc"
  fi
  TIMES[$r]+="$secs "
  ((intact < WORST_INTACT[$r])) && WORST_INTACT[$r]=$intact
  ((lost > WORST_LOST[$r])) && WORST_LOST[$r]=$lost
  ((disorder > WORST_DISORDER[$r])) && WORST_DISORDER[$r]=$disorder
  ((other > WORST_OTHER[$r])) && WORST_OTHER[$r]=$other
  ((lost > 0)) && note "$r" "missing-or-mangled-lines"
  ((intact > LINES - lost || disorder > 0)) && note "$r" "out-of-order/duplicated"
  if [[ "$r" == corral ]]; then
    if ((rc != 0 || lost > 0 || disorder > 0 || intact != LINES)) || ! verify_corral_strict "$f"; then
      log "corral run $i: output is not exactly $LINES intact lines in order (or it failed), see $f"
      FATAL=1
    fi
  elif ((lost > 0 || disorder > 0)) && [[ -n "${STRICT_PEERS:-}" ]]; then
    FATAL=1
  fi
  return 0
}

median() { tr ' ' '\n' | awk 'NF' | sort -g | awk '{ a[NR] = $1 } END { if (NR == 0) exit; m = int((NR + 1) / 2); printf "%.3f", (NR % 2) ? a[m] : (a[m] + a[m + 1]) / 2 }'; }
minmax() { tr ' ' '\n' | awk 'NF' | sort -g | awk 'NR == 1 { lo = $1 } { hi = $1 } END { printf "%.3f..%.3f", lo, hi }'; }

log "$LINES lines, $RUNS runs each, interleaved: ${RUNNERS[*]}"
for r in "${RUNNERS[@]}"; do one_run "$r" warmup; done
for ((i = 1; i <= RUNS; i++)); do
  for r in "${RUNNERS[@]}"; do one_run "$r" "$i"; done
done

# --- report ---
declare -A MED
echo
echo "$LINES lines through one process, $RUNS runs each (interleaved), wall time per run"
echo
printf '%-8s  %9s  %-13s  %-13s  %-7s  %-9s  %-5s  %s\n' runner "median s" "min..max s" "lines intact" missing "out-order" other version
for r in "${RUNNERS[@]}"; do
  MED[$r]=$(median <<<"${TIMES[$r]}")
  printf '%-8s  %9s  %-13s  %-13s  %-7s  %-9s  %-5s  %s\n' "$r" "${MED[$r]}${TIMEDOUT[$r]:+*}" "$(minmax <<<"${TIMES[$r]}")" \
    "${WORST_INTACT[$r]}/$LINES" "${WORST_LOST[$r]}" "${WORST_DISORDER[$r]}" "${WORST_OTHER[$r]}" "$(version "$r")"
done
echo "(lines intact, missing, out-order, other: worst run; missing = not received whole (lost or split);"
echo " other = runner messages and fragments of split lines)"
for r in "${RUNNERS[@]}"; do
  if [[ -n "${TIMEDOUT[$r]:-}" ]]; then echo "* $r timed out at least once (killed after ${TIMEOUT}s): its time is only a lower bound"; fi
done
echo

MISSED=0
target() { # target PEER FACTOR
  local p="$1" want="$2"
  if [[ -z "${MED[$p]:-}" ]]; then
    printf '%-18s  %8s  target >= %2sx  SKIP (%s not available)\n' "$p/corral" - "$want" "$p"
    return
  fi
  local ratio verdict
  ratio=$(awk -v a="${MED[$p]}" -v b="${MED[corral]}" 'BEGIN { printf "%.1f", (b > 0) ? a / b : 0 }')
  if awk -v x="$ratio" -v w="$want" 'BEGIN { exit !(x >= w) }'; then verdict=PASS; else verdict=FAIL MISSED=1; fi
  printf '%-18s  %7sx  target >= %2sx  %s\n' "$p/corral" "${TIMEDOUT[$p]:+>=}$ratio" "$want" "$verdict"
}
target foreman "$FOREMAN_TARGET"
target nf "$NF_TARGET"

echo
for r in "${RUNNERS[@]}"; do
  if [[ -n "${PROBLEMS[$r]}" ]]; then echo "problems: $r: ${PROBLEMS[$r]} (outputs: $OUT/$r.*.out)"; fi
done
echo "outputs in $OUT"

if ((FATAL)); then
  echo "FAIL: lines were lost, mangled or reordered (corral$([[ -n "${STRICT_PEERS:-}" ]] && echo ' or a peer, STRICT_PEERS=1'))"
  exit 1
fi
if ((MISSED)); then
  if [[ -n "${BENCH_NO_FAIL:-}" && "${BENCH_NO_FAIL}" != 0 ]]; then
    echo "a speed target was missed (BENCH_NO_FAIL set: not failing)"
  else
    echo "FAIL: a speed target was missed"
    exit 1
  fi
fi
