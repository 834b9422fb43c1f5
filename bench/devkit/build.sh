#!/usr/bin/env bash
# Build the kit that runs bench/gateway_overhead.py on a host with Python 3.12 and nothing
# else (no network, no Redis, PostgreSQL or wrk): the lent device machine.
#   bench/devkit/build.sh DEST     (DEST: an ignored folder of the checkout that travels, e.g. .devkit)
# DEST gets whl/ (wheels.txt for cp312 manylinux x86_64), bins.tar.xz (build_bins.sh),
# snap.tar.gz (src, tests/_support and bench of this commit), tools/ (../shared/tools) and run.sh.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
dest=$(realpath -m "$1")
mkdir -p "$dest/whl" "$dest/tools"
plat=(--platform manylinux2014_x86_64 --platform manylinux1_x86_64)
for n in 5 12 17 24 27 28 31 34 35; do plat+=(--platform "manylinux_2_${n}_x86_64"); done
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp "${plat[@]}" \
  -d "$dest/whl" -r "$here/wheels.txt"
[ -s "$dest/bins.tar.xz" ] || "$here/build_bins.sh" "$dest/bins.tar.xz"
git -C "$repo" archive --format=tar.gz -o "$dest/snap.tar.gz" HEAD src tests/_support bench/_passthrough.py \
  bench/gateway_overhead.py ':!src/prai/engine/demo_weights'
cp "$repo/../shared/tools/fake_upstream.py" "$repo/../shared/tools/chat.lua" "$dest/tools/"
cp "$here/run.sh" "$dest/run.sh"
du -sh "$dest"
