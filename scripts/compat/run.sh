#!/usr/bin/env bash
# `npm run compat`: PostgreSQL's regression suite run directly, through Sluice in session mode, and in transaction mode under each session_state policy.
# Each target gets a fresh throwaway server; pg_regress runs unmodified (--use-existing, its own PGOPTIONS) under a timeout. See docs/compatibility.md.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
source "$HERE/prepare.sh"

TARGETS=${COMPAT_TARGETS:-direct session transaction-allow transaction-pin transaction-reject}
RUN_TIMEOUT=${COMPAT_TIMEOUT:-600}
REGRESS_DIR=$SRC_DIR/src/test/regress
SCHEDULE=${COMPAT_SCHEDULE:-$REGRESS_DIR/parallel_schedule}
PG_REGRESS=$("$PG_BINDIR/pg_config" --pkglibdir)/pgxs/src/test/regress/pg_regress
RUNS=$SLUICE_COMPAT_CACHE/runs
[[ ${COMPAT_DROP_PGOPTIONS:-0} == 1 ]] && RUNS=$SLUICE_COMPAT_CACHE/runs-without-pgoptions
# Postgres refuses to run as root, and the suite's files must be the server's to read and write.
RUN_AS=()
[[ $(id -u) -eq 0 ]] && RUN_AS=(runuser -u postgres --)

PG_PID_DIR='' SLUICE_PID=''
cleanup() {
  [[ -n $SLUICE_PID ]] && kill "$SLUICE_PID" 2>/dev/null && wait "$SLUICE_PID" 2>/dev/null
  [[ -n $PG_PID_DIR ]] && "${RUN_AS[@]}" "$PG_BINDIR/pg_ctl" -D "$PG_PID_DIR" -m immediate stop >/dev/null 2>&1
  SLUICE_PID='' PG_PID_DIR=''
  return 0
}
trap cleanup EXIT INT TERM

free_port() {
  node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})"
}

wait_for_port() {
  for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.1
  done
  echo "compat: nothing listens on port $1" >&2
  return 1
}

# A fresh cluster and the database pg_regress would create without --use-existing (same settings).
start_postgres() {
  local dir=$1 port=$2
  "${RUN_AS[@]}" "$PG_BINDIR/initdb" -D "$dir/data" -A trust -U postgres --locale=C -E UTF8 >"$dir/initdb.log"
  "${RUN_AS[@]}" "$PG_BINDIR/pg_ctl" -D "$dir/data" -w -l "$dir/postgres.log" \
    -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c max_connections=200 -c fsync=off" start >/dev/null
  PG_PID_DIR=$dir/data
  local sql="CREATE DATABASE regression TEMPLATE=template0"
  "$PG_BINDIR/psql" -X -q -h 127.0.0.1 -p "$port" -U postgres -d postgres -c "$sql"
  for s in "lc_messages TO 'C'" "lc_monetary TO 'C'" "lc_numeric TO 'C'" "lc_time TO 'C'" "bytea_output TO 'hex'" "timezone_abbreviations TO 'Default'"; do
    "$PG_BINDIR/psql" -X -q -h 127.0.0.1 -p "$port" -U postgres -d postgres -c "ALTER DATABASE regression SET $s"
  done
}

start_sluice() {
  local dir=$1 pg_port=$2 port=$3 mode=$4 policy=$5
  cat >"$dir/sluice.yaml" <<YAML
listen_addr: 127.0.0.1
listen_port: $port
auth_type: trust
pool_mode: $mode
session_state: $policy
default_pool_size: 60
databases:
  regression: { host: 127.0.0.1, port: $pg_port, dbname: regression }
  postgres: { host: 127.0.0.1, port: $pg_port, dbname: postgres }
YAML
  node "$ROOT/dist/cli.js" --config "$dir/sluice.yaml" >"$dir/sluice.log" 2>&1 &
  SLUICE_PID=$!
  wait_for_port "$port"
}

# COMPAT_DROP_PGOPTIONS=1 (a diagnosis, not the target): psql without the PGOPTIONS pg_regress sets.
psql_bindir() {
  [[ ${COMPAT_DROP_PGOPTIONS:-0} == 1 ]] || { echo "$PG_BINDIR"; return; }
  local bin=$RUNS/bin
  mkdir -p "$bin"
  printf '#!/bin/sh\nunset PGOPTIONS\nexec %s/psql "$@"\n' "$PG_BINDIR" >"$bin/psql"
  chmod 755 "$bin/psql"
  echo "$bin"
}

# One line per test the schedule names: "name ok|FAILED|not-run".
results_of() {
  local out=$1
  grep -oE '^test: .*' "$SCHEDULE" | cut -d' ' -f2- | tr ' ' '\n' | grep -v '^$' | while read -r name; do
    local line
    line=$(grep -E "^(test |ok [0-9]+ +[-+] |not ok [0-9]+ +[-+] | +)?$name +\.\.\. " "$out" | head -1 || true)
    if [[ $line == *"... ok"* || $line == *"failed (ignored)"* ]]; then echo "$name ok"
    elif [[ -n $line ]]; then echo "$name FAILED"
    else echo "$name not-run"; fi
  done
}

run_target() {
  local target=$1 dir=$RUNS/$1 mode policy
  rm -rf "$dir" && mkdir -p "$dir/out"
  [[ ${#RUN_AS[@]} -gt 0 ]] && chown -R postgres "$RUNS"
  local pg_port port started=$SECONDS status=0
  pg_port=$(free_port)
  start_postgres "$dir" "$pg_port"
  port=$pg_port
  if [[ $target != direct ]]; then
    mode=${target%%-*} policy=${target#*-}
    [[ $target == session ]] && policy=allow
    port=$(free_port)
    start_sluice "$dir" "$pg_port" "$port" "$mode" "$policy"
  fi
  echo "compat: $target: pg_regress through port $port (timeout ${RUN_TIMEOUT}s)" >&2
  (cd "$dir" && timeout -k 10 "$RUN_TIMEOUT" "${RUN_AS[@]}" "$PG_REGRESS" --use-existing --dbname=regression \
    --host=127.0.0.1 --port="$port" --user=postgres --inputdir="$REGRESS_DIR" --outputdir="$dir/out" \
    --bindir="$(psql_bindir)" --dlpath="$DL_DIR" --schedule="$SCHEDULE" --max-concurrent-tests=20 \
    >"$dir/pg_regress.out" 2>&1) || status=$?
  cleanup
  [[ $status -eq 124 || $status -eq 137 ]] && echo "compat: $target: timed out after ${RUN_TIMEOUT}s" >&2
  results_of "$dir/pg_regress.out" >"$dir/results.txt"
  echo "$((SECONDS - started))" >"$dir/seconds"
  [[ $status -eq 124 || $status -eq 137 ]] && echo yes >"$dir/timed-out" || true
}

[[ $TARGETS == direct ]] || (cd "$ROOT" && npm run build --silent)
for target in $TARGETS; do run_target "$target"; done
bash "$HERE/table.sh" "$RUNS" $TARGETS
