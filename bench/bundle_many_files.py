"""Benchmark: `prai bundle verify` / `inspect` on a bundle of 100,000 small files (issue 19).

Before issue 19 the CLI drew one table row per file (83 s for 100,000 files against 3.4 s
in the library). It now prints a summary per role unless `--files` asks for every row.
Side by side, in interleaved rounds, on one tar bundle of N files (each a few bytes):

* library: ``prai.bundle.verify_bundle`` in this process (no printing);
* CLI verify: ``prai bundle verify B`` in a fresh process (summary);
* CLI verify --files: every file's line, to /dev/null;
* CLI inspect: ``prai bundle inspect B`` (manifest and tar headers, no hashing);
* sha256sum -c: coreutils over the same files unpacked into a directory (reference).

Wall seconds, medians of the rounds; ratios to the library.

    .venv/bin/python bench/bundle_many_files.py [--files 100000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
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


def _timed(cmd: list[str], cwd: Path | None = None) -> float:
    t0 = time.perf_counter()
    out = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=cwd)
    if out.returncode:
        raise SystemExit(f"{cmd[:4]} failed: {out.stderr[-500:]!r}")
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", type=int, default=100_000)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    prai = [sys.executable, "-m", "prai.cli.main", "bundle"]
    with tempfile.TemporaryDirectory(prefix="prai-many-") as tmp:
        tar, unpacked = _bundle(Path(tmp), args.files)
        times: dict[str, list[float]] = {}

        def library() -> float:
            t0 = time.perf_counter()
            assert verify_bundle(tar).ok
            return time.perf_counter() - t0

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
        base = statistics.median(times["library verify_bundle"])
        for name, ts in times.items():
            med = statistics.median(ts)
            lines.append({"case": name, "median_s": round(med, 2), "vs_library": round(med / base, 2)})
        out = subprocess.run([*prai, "verify", str(tar)], capture_output=True, text=True)
        print(json.dumps({
            "files": args.files, "rounds": args.rounds, "load_avg": os.getloadavg()[0],
            "cli_verify_stdout_lines": len(out.stdout.splitlines()), "results": lines,
        }, indent=2))


if __name__ == "__main__":
    main()
