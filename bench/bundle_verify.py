"""Benchmark: `prai bundle verify` throughput vs raw hashlib SHA-256 and coreutils sha256sum.

Builds two bundles of the same total size (default 2 GiB of random bytes): one large file,
and 20 files. For each it measures, side by side in one run:

* raw hashlib: Python's hashlib.sha256 over the data in 1 MiB reads, one core;
* sha256sum: coreutils over the same files (one process, one core);
* prai verify: ``prai.bundle.verify_bundle`` in a fresh process (every core), with that
  process's peak RSS (ru_maxrss).

Goals (issue 3): verify >= 0.9x raw hashlib per core on the one-file case, >= 1.6x one
core on the multi-file case, peak RSS < 200 MB. Page cache is warmed first so the
numbers compare hashing, not the disk.

    .venv/bin/python bench/bundle_verify.py [--gib 2] [--dir /tmp/prai-bench] [--keep]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from prai.bundle._hashing import workers
from prai.bundle.manifest import FileEntry, Manifest, dump_manifest, render_sums

CHUNK = 1 << 20


def _write_bundle(root: Path, n_files: int, total: int) -> None:
    files = []
    (root / "other").mkdir(parents=True)
    per = total // n_files // CHUNK * CHUNK
    block = os.urandom(CHUNK)
    for i in range(n_files):
        path = f"other/blob-{i:02d}.bin"
        h = hashlib.sha256()
        with open(root / path, "wb") as f:
            for j in range(per // CHUNK):
                data = block[j % 7 :] + block[: j % 7]  # vary content cheaply
                f.write(data)
                h.update(data)
        files.append(
            FileEntry(
                role="other", name=f"blob-{i:02d}.bin", path=path, size=per, sha256=h.hexdigest()
            )
        )
    m = Manifest(created_at=datetime.now(UTC), created_by="bench", files=files)
    (root / "prai-bundle.json").write_bytes(dump_manifest(m))
    (root / "SHA256SUMS").write_bytes(render_sums(m))


def _raw_hashlib(paths: list[Path]) -> float:
    t0 = time.perf_counter()
    buf = bytearray(CHUNK)
    view = memoryview(buf)
    for p in paths:
        h = hashlib.sha256()
        with open(p, "rb", buffering=0) as f:
            while n := f.readinto(view):
                h.update(view[:n])
    return time.perf_counter() - t0


def _sha256sum(paths: list[Path]) -> float:
    t0 = time.perf_counter()
    subprocess.run(["sha256sum", *map(str, paths)], check=True, capture_output=True)
    return time.perf_counter() - t0


def _prai_verify(root: Path) -> tuple[float, float]:
    code = (
        "import sys,time\nfrom prai.bundle import verify_bundle\n"
        "t=time.perf_counter(); r=verify_bundle(sys.argv[1]); d=time.perf_counter()-t\n"
        "assert r.ok, r.problems\nprint(d)"
    )
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    out = subprocess.run(
        [sys.executable, "-c", code, str(root)], check=True, capture_output=True, text=True
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return float(out.stdout.strip()), max(after, before) / 1024  # KiB -> MiB


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--gib", type=float, default=2.0)
    ap.add_argument("--dir", type=Path, default=Path("/tmp/prai-bench-bundle"))
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    total = int(args.gib * (1 << 30))
    shutil.rmtree(args.dir, ignore_errors=True)
    results = {"gib": args.gib, "cores": workers(), "cases": {}}
    try:
        for label, n in (("one_file", 1), ("20_files", 20)):
            root = args.dir / label
            _write_bundle(root, n, total)
            paths = sorted((root / "other").iterdir())
            _raw_hashlib(paths)  # warm the page cache
            raw = _raw_hashlib(paths)
            s256 = _sha256sum(paths)
            ver, rss = _prai_verify(root)
            gib = sum(p.stat().st_size for p in paths) / (1 << 30)
            results["cases"][label] = {
                "raw_hashlib_GiB_s": round(gib / raw, 3),
                "sha256sum_GiB_s": round(gib / s256, 3),
                "prai_verify_GiB_s": round(gib / ver, 3),
                "verify_vs_raw_hashlib": round(raw / ver, 3),
                "verify_vs_sha256sum": round(s256 / ver, 3),
                "prai_verify_peak_rss_MiB": round(rss, 1),
            }
            shutil.rmtree(root)
    finally:
        if not args.keep:
            shutil.rmtree(args.dir, ignore_errors=True)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
