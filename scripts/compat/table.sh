#!/usr/bin/env bash
# Prints the compat runs' results as a Markdown table, and for each target the tests that fail through Sluice but pass directly.
# Usage: table.sh RUNS_DIR TARGET... (run.sh calls it; it can be rerun on the results of earlier runs).
set -euo pipefail
runs=$1
shift
count() { grep -c " $2\$" "$1" || true; }

echo
echo "| target | passed | failed | not run | seconds | timed out |"
echo "| --- | ---: | ---: | ---: | ---: | --- |"
for t in "$@"; do
  r=$runs/$t/results.txt
  [[ -f $r ]] || continue
  echo "| $t | $(count "$r" ok) | $(count "$r" FAILED) | $(count "$r" not-run) | $(cat "$runs/$t/seconds") | $([[ -f $runs/$t/timed-out ]] && echo yes || echo no) |"
done
direct=$runs/direct/results.txt
[[ -f $direct ]] || exit 0
echo
for t in "$@"; do
  [[ $t == direct || ! -f $runs/$t/results.txt ]] && continue
  worse=$(join <(sort "$direct") <(sort "$runs/$t/results.txt") | awk '$2 == "ok" && $3 != "ok" { print $1 }' | tr '\n' ' ')
  better=$(join <(sort "$direct") <(sort "$runs/$t/results.txt") | awk '$2 != "ok" && $3 == "ok" { print $1 }' | tr '\n' ' ')
  # A run that failed wholesale (a refused login) would print the whole schedule: its size says enough.
  n=$(wc -w <<<"$worse")
  ((n > 40)) && worse="$n tests: $(cut -d' ' -f1-10 <<<"$worse") …"
  echo "- $t fails, but not directly: ${worse:-none}"
  [[ -n $better ]] && echo "  (passes, but not directly: $better)"
done
echo
echo "Per-test output: $runs/TARGET/out/regression.diffs; Sluice's log: $runs/TARGET/sluice.log"
