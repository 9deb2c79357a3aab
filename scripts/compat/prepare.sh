#!/usr/bin/env bash
# Fetches PostgreSQL 15's regression suite from Debian's source package and builds the C helpers it loads, once, into the compat cache.
# Sourced by run.sh; sets SRC_DIR (the unpacked source) and DL_DIR (regress.so, autoinc.so, refint.so).
set -euo pipefail

PG_BINDIR=${SLUICE_PG_BINDIR:-/usr/lib/postgresql/15/bin}
if [[ ! -x $PG_BINDIR/postgres ]] || ! command -v dpkg-query >/dev/null; then
  echo "compat: needs Debian's PostgreSQL server in $PG_BINDIR (apt-get install postgresql-15), or SLUICE_PG_BINDIR" >&2
  exit 1
fi
PG_VERSION_FULL=$("$PG_BINDIR/postgres" --version | awk '{print $3}')   # 15.18
PG_MAJOR=${PG_VERSION_FULL%%.*}
# The server's own packaged version: the suite's expected output must match the server it runs against.
DEB_VERSION=$(dpkg-query -W -f='${Version}' "postgresql-$PG_MAJOR")

# The server (user postgres) reads the suite's data files, so a root run keeps the cache out of /root.
if [[ -z ${SLUICE_COMPAT_CACHE:-} ]]; then
  if [[ $(id -u) -eq 0 ]]; then SLUICE_COMPAT_CACHE=/var/cache/sluice-compat; else SLUICE_COMPAT_CACHE=$HOME/.cache/sluice-compat; fi
fi
mkdir -p "$SLUICE_COMPAT_CACHE"
SRC_DIR=$SLUICE_COMPAT_CACHE/postgresql-$PG_MAJOR-${DEB_VERSION%%-*}
DL_DIR=$SLUICE_COMPAT_CACHE/build-$DEB_VERSION

as_root() {
  if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo "$@"; fi
}

ensure_deb_src() {
  if apt-cache showsrc "postgresql-$PG_MAJOR" 2>/dev/null | grep -q "^Version: $DEB_VERSION\$"; then return; fi
  echo "compat: adding deb-src entries and updating apt" >&2
  local list=/etc/apt/sources.list.d/debian.sources
  [[ -f $list ]] && sed 's/^Types: deb$/Types: deb-src/' "$list" | as_root tee /etc/apt/sources.list.d/sluice-compat-src.sources >/dev/null
  as_root apt-get update -qq
}

fetch_source() {
  [[ -f $SRC_DIR/src/test/regress/parallel_schedule ]] && return
  ensure_deb_src
  echo "compat: apt-get source postgresql-$PG_MAJOR=$DEB_VERSION into $SLUICE_COMPAT_CACHE" >&2
  (cd "$SLUICE_COMPAT_CACHE" && apt-get source -qq "postgresql-$PG_MAJOR=$DEB_VERSION" >/dev/null)
}

ensure_build_deps() {
  local pgc=$PG_BINDIR/pg_config
  if [[ -x $pgc && -f $("$pgc" --includedir-server)/postgres.h ]] && command -v gcc make >/dev/null; then return; fi
  echo "compat: installing postgresql-server-dev-$PG_MAJOR=$DEB_VERSION, gcc, make" >&2
  # Pinned to the server's version: an unpinned install would upgrade the server and its libpq with it.
  as_root apt-get install -y -qq "postgresql-server-dev-$PG_MAJOR=$DEB_VERSION" gcc make >/dev/null
}

# regress.so from the suite itself, autoinc.so and refint.so from contrib/spi, built with PGXS.
build_helpers() {
  [[ -f $DL_DIR/regress.so && -f $DL_DIR/autoinc.so && -f $DL_DIR/refint.so ]] && return
  ensure_build_deps
  mkdir -p "$DL_DIR"
  cp "$SRC_DIR/src/test/regress/regress.c" "$SRC_DIR/contrib/spi/autoinc.c" "$SRC_DIR/contrib/spi/refint.c" "$DL_DIR/"
  # REFINT_VERBOSE as in the suite's own build: triggers.out expects refint's NOTICEs.
  printf 'MODULES = regress autoinc refint\nPG_CPPFLAGS = -DREFINT_VERBOSE\nPG_CONFIG = %s\nPGXS := $(shell $(PG_CONFIG) --pgxs)\ninclude $(PGXS)\n' \
    "$PG_BINDIR/pg_config" > "$DL_DIR/Makefile"
  echo "compat: building regress.so, autoinc.so, refint.so" >&2
  make -s -C "$DL_DIR" >/dev/null
}

fetch_source
build_helpers
