#!/usr/bin/env bash
# Run bench/gateway_overhead.py on a host that has Python but no Redis, PostgreSQL, wrk or
# network (the lent 16-core device machine), from a kit built by bench/devkit/build.sh:
#   KIT/whl/*.whl       PrAI's runtime wheels for CPython 3.12 (installed into a scratch folder)
#   KIT/bins.tar.xz     redis-server, wrk, PostgreSQL 15 + their shared libraries
#   KIT/snap.tar.gz     src, tests/_support and bench of the commit the kit was built from
#   KIT/tools/          fake_upstream.py and chat.lua (../shared/tools)
# Usage: bash KIT/run.sh (as root or not; PostgreSQL runs as nobody when root).
# Results go to $OUT (default /tmp/devkit-out): sysinfo.txt, gw.json, bench.log, pg.log.
# Env: PY (python, default python3), SKIP_PIP=1 (use PY's own packages), PG_PORT (a free one),
# BENCH_TIMEOUT (s, 260), BENCH_ARGS (passed to the bench).
set -uo pipefail
kit=$(cd "$(dirname "$0")" && pwd)
OUT=${OUT:-/tmp/devkit-out}
PY=${PY:-python3}
PG_PORT=${PG_PORT:-$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}
BENCH_TIMEOUT=${BENCH_TIMEOUT:-260}
# about 200 s on 16 cores: 6 targets x 3 rounds x (3 s + 2 s + 3 s), TTFT 3 x 30 probes, no RSS part;
# the default configuration with Redis (leases): 1 and 2 workers on Redis + PostgreSQL
BENCH_ARGS=${BENCH_ARGS:---targets passthrough,prai-1w-mem,prai-1w-redis-pg-lease,prai-2w-redis-pg-lease,prai-1w-redis-pg,prai-2w-redis-pg \
--workers 2 --rounds 3 --duration 3 --ttft-probes 30 --stream-requests 0 --wrk-threads 2}
scratch=$(mktemp -d /tmp/prai-devkit.XXXXXX)
chmod 755 "$scratch"
mkdir -p "$OUT"
ulimit -n 65536 2>/dev/null || true
t0=$(date +%s)
step() { echo "[$(( $(date +%s) - t0 ))s] $*"; }

{ echo "date: $(date -u)"; echo "nproc: $(nproc)"; uptime; free -g 2>/dev/null | head -2
  command -v "$PY"; "$PY" --version; echo "cgroup cpu.max: $(cat /sys/fs/cgroup/cpu.max 2>/dev/null)"
  lscpu 2>/dev/null | head -20; } > "$OUT/sysinfo.txt" 2>&1

site=""
if [ "${SKIP_PIP:-0}" != 1 ]; then
  step "installing $(ls "$kit"/whl/*.whl | wc -l) wheels into $scratch/site"
  "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --disable-pip-version-check \
    --target "$scratch/site" "$kit"/whl/*.whl || {
    echo "pip install failed: unzipping the wheels instead"
    for w in "$kit"/whl/*.whl; do "$PY" -m zipfile -e "$w" "$scratch/site" || exit 3; done; }
  site=":$scratch/site"
fi

step "unpacking binaries and the source snapshot"
tar -C "$scratch" -xJf "$kit/bins.tar.xz" || exit 4
mkdir -p "$scratch/snap" && tar -C "$scratch/snap" -xzf "$kit/snap.tar.gz" || exit 4
root=$scratch/snap
k=$scratch/kit
mkdir -p "$scratch/wbin"
for b in redis-server wrk; do
  printf '#!/bin/sh\nLD_LIBRARY_PATH=%s exec %s "$@"\n' "$k/lib" "$k/bin/$b" > "$scratch/wbin/$b"
  chmod 755 "$scratch/wbin/$b"
done
"$scratch/wbin/redis-server" --version || exit 5
"$scratch/wbin/wrk" --version 2>&1 | head -1
pgbin=$k/usr/lib/postgresql/15/bin
# PostgreSQL's build reads time zones from /usr/share/zoneinfo: give it UTC when the host has none
if [ ! -e /usr/share/zoneinfo/UTC ] && [ "$(id -u)" = 0 ]; then
  mkdir -p /usr/share/zoneinfo && cp -rn "$k/zoneinfo/." /usr/share/zoneinfo/
fi

# PostgreSQL refuses to run as root: as root, run it as nobody (or a user made for it)
asuser=()
if [ "$(id -u)" = 0 ]; then
  uid=$(id -u nobody 2>/dev/null || true)
  if [ -z "$uid" ]; then useradd -r -M -s /bin/sh praipg && uid=$(id -u praipg); fi
  gid=$(id -g "$uid" 2>/dev/null || echo "$uid")
  asuser=("$PY" -c 'import os, sys; os.setgroups([]); os.setgid(int(sys.argv[2])); os.setuid(int(sys.argv[1])); os.execv(sys.argv[3], sys.argv[3:])' "$uid" "$gid")
  chown "$uid:$gid" "$scratch"
fi
# LD_LIBRARY_PATH only for the PostgreSQL programs (not for the Python that drops root)
pg() { "${asuser[@]}" /usr/bin/env LD_LIBRARY_PATH="$k/lib" TZ=UTC "$@"; }
step "initdb"
pg "$pgbin/initdb" -D "$scratch/pgdata" -U postgres -A trust -E UTF8 --locale=C --no-sync > "$scratch/initdb.log" 2>&1 \
  || { cat "$scratch/initdb.log"; cp "$scratch/initdb.log" "$OUT/pg.log"; exit 6; }
step "starting PostgreSQL on 127.0.0.1:$PG_PORT"
pg "$pgbin/pg_ctl" -D "$scratch/pgdata" -l "$scratch/pg.log" -w -t 60 start \
  -o "-c listen_addresses=127.0.0.1 -p $PG_PORT -c unix_socket_directories=$scratch -c max_connections=300 -c dynamic_shared_memory_type=mmap" \
  || { cat "$scratch/pg.log"; cp "$scratch/pg.log" "$OUT/pg.log"; exit 7; }

step "bench: $BENCH_ARGS"
PATH="$scratch/wbin:$PATH" PYTHONPATH="$root/src$site" PYTHONUNBUFFERED=1 timeout -k 10 "$BENCH_TIMEOUT" \
  "$PY" "$root/bench/gateway_overhead.py" --tools "$kit/tools" --litellm-venv /nonexistent \
  --postgres-url "postgresql://postgres@127.0.0.1:$PG_PORT/postgres" --json "$OUT/gw.json" $BENCH_ARGS \
  > "$OUT/bench.out" 2> "$OUT/bench.log"
rc=$?
step "bench rc=$rc"
tail -5 "$OUT/bench.log"
uptime >> "$OUT/sysinfo.txt"
pg "$pgbin/pg_ctl" -D "$scratch/pgdata" -m fast -w stop > /dev/null 2>&1
tail -50 "$scratch/pg.log" > "$OUT/pg.log" 2>/dev/null
rm -rf "$scratch"
step "done"
exit $rc
