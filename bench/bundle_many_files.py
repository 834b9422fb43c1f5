"""Benchmark: `prai bundle verify` / `inspect` on a bundle of 100,000 small files (issue 19).

Before issue 19 the CLI drew one table row per file (83 s for 100,000 files against 3.4 s
in the library). It now prints a summary per role unless `--files` asks for every row.
Side by side, in interleaved rounds, on one tar bundle of N files (each a few bytes):

* library: ``prai.bundle.verify_bundle`` in this process (no printing);
* CLI verify: ``prai bundle verify B`` in a fresh process (summary);
* CLI verify --files: every file's line, to /dev/null;
* CLI inspect: ``prai bundle inspect B`` (manifest and tar headers, no hashing);
* sha256sum -c: coreutils over the same files unpacked into a directory (reference).

Wall seconds and CPU seconds (user + system of the process, or of the child process),
medians of the rounds; ratios to the library. On a shared machine compare the CPU
columns: wall time there measures the other jobs too.

    .venv/bin/python bench/bundle_many_files.py [--files 100000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "bundle"))

import hostile_corpus as hc

from prai.bundle import verify_bundle


def _bundle(work: Path, n: int) -> tuple[Path, Path]:
    files = {f"other/d{i // 1000:03d}/f{i:06d}.txt": b"%d\n" % i for i in range(n)}
    doc = hc.manifest_dict({"other/x": b""})
    doc.update(model=None, adapters=[])
    doc["files"] = [
        {"role": "other", "name": p.rsplit("/", 1)[1], "path": p, "size": len(d),
         "sha256": hashlib.sha256(d).hexdigest()}
        for p, d in files.items()
    ]
    tar = work / "many.tar"
    tar.write_bytes(hc.tar_of(files, hc.canonical(doc)))
    unpacked = work / "dir"
    unpacked.mkdir()
    subprocess.run(["tar", "-xf", str(tar), "-C", str(unpacked)], check=True)
    return tar, unpacked


def _children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def _timed(cmd: list[str], cwd: Path | None = None) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the child)."""
    c0, t0 = _children_cpu(), time.perf_counter()
    out = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=cwd)
    if out.returncode:
        raise SystemExit(f"{cmd[:4]} failed: {out.stderr[-500:]!r}")
    return time.perf_counter() - t0, _children_cpu() - c0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", type=int, default=100_000)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    prai = [sys.executable, "-m", "prai.cli.main", "bundle"]
    with tempfile.TemporaryDirectory(prefix="prai-many-") as tmp:
        tar, unpacked = _bundle(Path(tmp), args.files)
        times: dict[str, list[tuple[float, float]]] = {}

        def library() -> tuple[float, float]:
            c0, t0 = time.process_time(), time.perf_counter()
            assert verify_bundle(tar).ok
            return time.perf_counter() - t0, time.process_time() - c0

        cases = {
            "library verify_bundle": library,
            "CLI verify (summary)": lambda: _timed([*prai, "verify", str(tar)]),
            "CLI verify --files": lambda: _timed([*prai, "verify", str(tar), "--files"]),
            "CLI inspect": lambda: _timed([*prai, "inspect", str(tar)]),
            "sha256sum -c (unpacked)": lambda: _timed(
                ["sha256sum", "--quiet", "--strict", "-c", "SHA256SUMS"], cwd=unpacked
            ),
        }
        for _ in range(args.rounds):
            for name, run in cases.items():
                times.setdefault(name, []).append(run())
        lines = []
        base_wall = statistics.median(w for w, _ in times["library verify_bundle"])
        base_cpu = statistics.median(c for _, c in times["library verify_bundle"])
        for name, ts in times.items():
            wall = statistics.median(w for w, _ in ts)
            cpu = statistics.median(c for _, c in ts)
            lines.append({
                "case": name, "wall_s": round(wall, 2), "cpu_s": round(cpu, 2),
                "wall_vs_library": round(wall / base_wall, 2),
                "cpu_vs_library": round(cpu / base_cpu, 2),
            })
        out = subprocess.run([*prai, "verify", str(tar)], capture_output=True, text=True)
        print(json.dumps({
            "files": args.files, "rounds": args.rounds, "load_avg": os.getloadavg()[0],
            "cli_verify_stdout_lines": len(out.stdout.splitlines()), "results": lines,
        }, indent=2))


if __name__ == "__main__":
    main()
