#!/usr/bin/env bash
# Pack redis-server, wrk and PostgreSQL 15 (Debian 12 builds on this VM) with the shared
# libraries they load (everything but glibc) into one .tar.xz for a machine that has none
# of them (the device machine: Ubuntu 24.04, no network). Usage: build_bins.sh OUT.tar.xz
set -euo pipefail
out=$(realpath -m "$1")
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
k=$stage/kit
mkdir -p "$k/bin" "$k/lib" "$k/usr/lib/postgresql/15/bin" "$k/usr/lib/postgresql/15/lib" "$k/usr/share/postgresql" "$k/zoneinfo"
cp -L /usr/bin/redis-server /usr/bin/wrk "$k/bin/"
for b in postgres initdb pg_ctl pg_isready psql; do cp -L /usr/lib/postgresql/15/bin/$b "$k/usr/lib/postgresql/15/bin/"; done
# server-side modules (no llvmjit bitcode): plpgsql, snowball dictionaries, encoding conversions
cp /usr/lib/postgresql/15/lib/*.so "$k/usr/lib/postgresql/15/lib/"
rm -f "$k"/usr/lib/postgresql/15/lib/llvmjit*.so
cp -r /usr/share/postgresql/15 "$k/usr/share/postgresql/"
rm -rf "$k/usr/share/postgresql/15/man" "$k/usr/share/postgresql/15/contrib"
# time zones PostgreSQL may need when the target has no /usr/share/zoneinfo
for z in UTC Etc/UTC Asia/Tokyo; do mkdir -p "$k/zoneinfo/$(dirname $z)"; cp -L /usr/share/zoneinfo/$z "$k/zoneinfo/$z"; done
# shared libraries, all but glibc's own
for f in "$k"/bin/* "$k"/usr/lib/postgresql/15/bin/* "$k"/usr/lib/postgresql/15/lib/*.so; do
  ldd "$f" 2>/dev/null | awk '$3 ~ /^\// {print $3}'
done | sort -u | while read -r so; do
  case "$(basename "$so")" in
    libc.so.*|libm.so.*|libpthread.so.*|libdl.so.*|librt.so.*|libresolv.so.*|ld-linux*) ;;
    *) cp -L "$so" "$k/lib/" ;;
  esac
done
strip --strip-unneeded "$k"/bin/* "$k"/usr/lib/postgresql/15/bin/* 2>/dev/null || true
chmod -R a+rX "$k"
tar -C "$stage" -cJf "$out" kit
ls -la "$out"
