#!/usr/bin/env bash
# Measures how long `harness test` takes to catch each bug switch: for each seed, runs of RUN_SECS seconds
# (seed, seed+1000, seed+2000, ...) until one is not linearizable or BUDGET_SECS of test time is spent.
# Prints one line per (bug, seed) and a summary line per bug with the median test time to detection.
#
#   scripts/bug-detection.sh                      # every bug switch, 10 seeds
#   BUGS="stale-read" SEEDS="1 2 3" scripts/bug-detection.sh
set -euo pipefail
cd "$(dirname "$0")/.."
HARNESS=${HARNESS:-target/release/harness}
RUN_SECS=${RUN_SECS:-20}
BUDGET_SECS=${BUDGET_SECS:-300}
SEEDS=${SEEDS:-"1 2 3 4 5 6 7 8 9 10"}
BUGS=${BUGS:-"stale-read no-dedup ack-before-fsync commit-old-term vote-any-log"}
STORE=${STORE:-/tmp/bug-detection-store}
EXTRA=${EXTRA:-}

# The fault mix and workload that exercise each bug.
mix() {
  case "$1" in
    stale-read) echo "--workload register --nemesis partition" ;;
    no-dedup) echo "--workload register --nemesis delay:60:50 --attempt-timeout-ms 100" ;;
    ack-before-fsync) echo "--workload register --nemesis lost-writes,kill:leader" ;;
    commit-old-term|vote-any-log) echo "--workload register --nemesis partition,kill:leader,lost-writes" ;;
  esac
}

for bug in $BUGS; do
  times=()
  for seed in $SEEDS; do
    spent=0; caught=no; k=0
    while [ "$spent" -lt "$BUDGET_SECS" ]; do
      s=$((seed + 1000 * k))
      set +e
      # shellcheck disable=SC2046
      "$HARNESS" test --name "detect-$bug" --seed "$s" --time-limit "$RUN_SECS" --warmup 2 --recovery 3 \
        --nemesis-interval 2 --bug "$bug" --store "$STORE" $(mix "$bug") $EXTRA >/dev/null 2>&1
      code=$?
      set -e
      spent=$((spent + RUN_SECS)); k=$((k + 1))
      if [ "$code" = 1 ]; then caught=yes; break; fi
      if [ "$code" = 3 ]; then echo "$bug seed $seed: harness failed (exit 3)"; break; fi
    done
    if [ "$caught" = yes ]; then
      echo "$bug seed $seed: caught after ${spent}s of test time (run seed $s)"; times+=("$spent")
    else
      echo "$bug seed $seed: NOT caught within ${spent}s"
    fi
  done
  if [ "${#times[@]}" -gt 0 ]; then
    median=$(printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}')
    echo "SUMMARY $bug: caught for ${#times[@]} of $(echo $SEEDS | wc -w) seeds; median ${median}s of test time; mix: $(mix "$bug")"
  else
    echo "SUMMARY $bug: caught for 0 of $(echo $SEEDS | wc -w) seeds within ${BUDGET_SECS}s each; mix: $(mix "$bug")"
  fi
done
