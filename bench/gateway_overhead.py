"""Gateway overhead, measured side by side in one run (issue 4, item 10).

Targets, all in front of the same fast fake upstream (tests/gateway/fake_upstream.py) with
load from this machine (wrk, Debian package `wrk`):

- ``direct``: the fake upstream itself;
- ``passthrough``: a bare raw-ASGI + aiohttp proxy (bench/_passthrough.py), the ceiling;
- ``prai``: `prai gateway` with auth (a real key), limits (requests/min, tokens/min,
  concurrency, all high enough not to reject) and the audit log (SQLite WAL) on;
- ``litellm``: LiteLLM proxy from a separate venv (``--litellm-venv``, default
  /tmp/litellm-venv) when it exists, configured like ../shared/tools/README.md says.

Measures (a) p50 latency at 1 connection, added vs direct; (b) non-stream req/s at 32
connections; (c) streaming: the median TTFT of probe streams while 64 slow streams (200 chunks,
50 ms apart) are open, added vs direct; and the gateway's RSS after ``--stream-requests``
and twice that many short streamed requests (64 at a time). Rounds are interleaved and
medians reported, since the machine is shared.

Run: ``.venv/bin/python bench/gateway_overhead.py [--duration 5] [--rounds 3] [--workers 1]``
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import psutil
import yaml

ROOT = Path(__file__).resolve().parents[1]
FAKE = ROOT / "tests" / "gateway" / "fake_upstream.py"
PASS = ROOT / "bench" / "_passthrough.py"
LUA = """wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. (os.getenv("KEY") or "sk-test")
wrk.body = '{"model": "fake", "messages": [{"role": "user", "content": "こんにちは"}], '
  .. '"max_tokens": 16}'
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait(url: str, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise TimeoutError(url)


def wrk(url: str, key: str, conns: int, duration_s: int, lua: Path) -> dict[str, float]:
    out = subprocess.run(
        [
            "wrk",
            "-t1",
            f"-c{conns}",
            f"-d{duration_s}s",
            "--latency",
            "-s",
            str(lua),
            url + "/v1/chat/completions",
        ],
        env={**os.environ, "KEY": key},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    m = re.search(r"50%\s+([\d.]+)(us|ms|s)", out)
    p50 = float(m.group(1)) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[m.group(2)] if m else float("nan")
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    if bad:
        raise RuntimeError(f"{url}: {bad.group(1)} non-2xx answers")
    return {"rps": rps, "p50_ms": p50}


def _is_token(chunk: bytes) -> bool:
    return b"\xe3\x81\x93" in chunk or b"\\u3053" in chunk  # "こ", the first token


async def _one_stream(s: Any, url: str, key: str, prompt: str) -> float:
    """Seconds to the first token of one streamed chat completion (read to the end)."""
    body = {"model": "fake", "stream": True, "messages": [{"role": "user", "content": prompt}]}
    t0 = time.perf_counter()
    ttft = float("nan")
    async with s.post(
        url + "/v1/chat/completions", json=body, headers={"authorization": f"Bearer {key}"}
    ) as r:
        if r.status != 200:
            raise RuntimeError(f"HTTP {r.status}")
        async for chunk in r.content.iter_any():
            if ttft != ttft and _is_token(chunk):
                ttft = time.perf_counter() - t0
    return ttft


async def _ttft_under_load(url: str, key: str, background: int, probes: int) -> float:
    import aiohttp

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as s:

        async def hold() -> None:
            while True:  # a slow stream (200 chunks, 50 ms apart), again and again
                await _one_stream(s, url, key, "SLOW")

        holders = [asyncio.create_task(hold()) for _ in range(background)]
        await asyncio.sleep(1.0)
        ttfts = []
        for _ in range(probes):
            ttfts.append(await _one_stream(s, url, key, "hi"))
            await asyncio.sleep(0.02)
        for h in holders:
            h.cancel()
        await asyncio.gather(*holders, return_exceptions=True)
    return statistics.median(ttfts) * 1000


def ttft_under_load(url: str, key: str, background: int = 64, probes: int = 100) -> float:
    """Median TTFT (ms) of probe streams while ``background`` slow streams are open."""
    return asyncio.run(_ttft_under_load(url, key, background, probes))


async def _closed_loop(url: str, key: str, n_total: int, conc: int) -> None:
    import aiohttp

    sem = asyncio.Semaphore(conc)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=conc)) as s:

        async def one() -> None:
            async with sem:
                await _one_stream(s, url, key, "hi")

        await asyncio.gather(*(one() for _ in range(n_total)))


def streams(url: str, key: str, n_total: int, conc: int = 64) -> None:
    """``n_total`` short streamed requests, ``conc`` at a time (for the RSS check)."""
    asyncio.run(_closed_loop(url, key, n_total, conc))


class Stack:
    """The processes under test; stopped on exit."""

    def __init__(
        self,
        workdir: Path,
        workers: int,
        litellm_venv: Path | None,
        redis_url: str | None,
        baseline_src: Path | None = None,
    ) -> None:
        self.procs: list[subprocess.Popen[bytes]] = []
        self.urls: dict[str, str] = {}
        self.workdir = workdir
        self.args = (workers, litellm_venv, redis_url)
        self.baseline_src = baseline_src

    def start(self) -> None:
        workers, litellm_venv, redis_url = self.args
        up_port = free_port()
        self._start([sys.executable, str(FAKE), str(up_port)])
        self.upstream = f"http://127.0.0.1:{up_port}"
        wait(self.upstream + "/health")
        self.urls["direct"] = self.upstream
        pt = free_port()
        self._start([sys.executable, str(PASS), str(pt), self.upstream, str(workers)])
        self.urls["passthrough"] = f"http://127.0.0.1:{pt}"
        self.key = self._start_prai(workers, redis_url)
        if self.baseline_src is not None:
            # The same gateway config and database, code from another checkout.
            env = {**os.environ, "PRAI_CACHE_DIR": str(self.workdir), "PYTHONPATH": str(self.baseline_src)}
            port = free_port()
            self._start(
                [sys.executable, "-m", "prai.cli.main", "gateway", "-c", str(self.workdir / "kitchen.yaml"),
                 "--port", str(port), "--workers", str(workers)],
                env=env,
            )
            self.urls["prai-baseline"] = f"http://127.0.0.1:{port}"
        if litellm_venv is not None:
            self._start_litellm(litellm_venv, workers)
        for name, url in self.urls.items():
            wait(
                url
                + (
                    "/health/liveliness"
                    if name == "litellm"
                    else "/health"
                    if name != "passthrough"
                    else "/v1/models"
                ),
                180,
            )

    def _start(self, cmd: list[str], env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        p = subprocess.Popen(
            cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, cwd=ROOT
        )
        self.procs.append(p)
        return p

    def _start_prai(self, workers: int, redis_url: str | None) -> str:
        port = free_port()
        high = {
            "requests_per_minute": 10_000_000,
            "tokens_per_minute": 1_000_000_000,
            "concurrent_requests": 100_000,
        }
        cfg = {
            "gateway": {
                "port": port,
                "upstreams": [{"name": "fake", "base_urls": [self.upstream], "models": ["fake"]}],
                "tenants": [
                    {
                        "name": "bench",
                        "projects": [
                            {"name": "p", "models": ["fake"], "limits": high, "key_limits": high}
                        ],
                    }
                ],
                "storage": {
                    "url": f"sqlite:///{self.workdir / 'gw.db'}",
                    "journal_dir": str(self.workdir / "journal"),
                },
                **({"ratelimit": {"url": redis_url}} if workers > 1 else {}),
            }
        }
        path = self.workdir / "kitchen.yaml"
        path.write_text(yaml.safe_dump(cfg))
        env = {**os.environ, "PRAI_CACHE_DIR": str(self.workdir)}
        prai = [sys.executable, "-m", "prai.cli.main"]
        key = subprocess.run(
            [*prai, "keys", "create", "--tenant", "bench", "--project", "p", "-c", str(path)],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        self.prai = self._start(
            [*prai, "gateway", "-c", str(path), "--workers", str(workers)], env=env
        )
        self.urls["prai"] = f"http://127.0.0.1:{port}"
        return key

    def _start_litellm(self, venv: Path, workers: int) -> None:
        port = free_port()
        cfg = {
            "model_list": [
                {
                    "model_name": "fake",
                    "litellm_params": {
                        "model": "openai/fake",
                        "api_base": self.upstream + "/v1",
                        "api_key": "x",
                    },
                }
            ],
            "general_settings": {"master_key": self.key},
        }
        path = self.workdir / "litellm.yaml"
        path.write_text(yaml.safe_dump(cfg))
        env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True", "LITELLM_TELEMETRY": "False"}
        self._start(
            [
                str(venv / "bin" / "litellm"),
                "--config",
                str(path),
                "--port",
                str(port),
                "--num_workers",
                str(workers),
            ],
            env=env,
        )
        self.urls["litellm"] = f"http://127.0.0.1:{port}"

    def prai_rss_mib(self) -> float:
        p = psutil.Process(self.prai.pid)
        return sum(x.memory_info().rss for x in [p, *p.children(recursive=True)]) / 2**20

    def stop(self) -> None:
        for p in self.procs:
            p.terminate()
        for p in self.procs:
            try:
                p.wait(15)
            except subprocess.TimeoutExpired:
                p.kill()


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--duration", type=int, default=5, help="seconds per wrk run")
    ap.add_argument("--rounds", type=int, default=3, help="interleaved rounds (medians reported)")
    ap.add_argument(
        "--workers", type=int, default=1, help="processes for passthrough, prai and litellm"
    )
    ap.add_argument(
        "--redis-url", default="redis://127.0.0.1:6379/0", help="shared limits when --workers > 1"
    )
    ap.add_argument("--litellm-venv", type=Path, default=Path("/tmp/litellm-venv"))
    ap.add_argument(
        "--stream-requests", type=int, default=20000, help="streamed requests for the RSS check"
    )
    ap.add_argument(
        "--baseline-src",
        type=Path,
        help="a `src` directory of another PrAI checkout: run its gateway too (column prai-baseline)",
    )
    ap.add_argument("--json", type=Path, help="write the results here")
    args = ap.parse_args()
    if shutil.which("wrk") is None:
        print("wrk is not installed (apt-get install -y wrk)", file=sys.stderr)
        return 2
    litellm = args.litellm_venv if (args.litellm_venv / "bin" / "litellm").exists() else None
    workdir = Path(tempfile.mkdtemp(prefix="prai-bench-"))
    lua = workdir / "chat.lua"
    lua.write_text(LUA)
    stack = Stack(workdir, args.workers, litellm, args.redis_url, args.baseline_src)
    try:
        stack.start()
        res: dict[str, dict[str, list[float]]] = {n: {"rps": [], "p50_ms": []} for n in stack.urls}
        for url in stack.urls.values():  # warm-up
            wrk(url, stack.key, 8, 1, lua)
        for rnd in range(args.rounds):
            order = list(stack.urls.items())
            for name, url in order if rnd % 2 == 0 else order[::-1]:  # alternate who goes first
                res[name]["rps"].append(wrk(url, stack.key, 32, args.duration, lua)["rps"])
                res[name]["p50_ms"].append(
                    wrk(url, stack.key, 1, max(2, args.duration // 2), lua)["p50_ms"]
                )
        ttft: dict[str, list[float]] = {
            n: [] for n in ("direct", "prai", "prai-baseline") if n in stack.urls
        }
        for _ in range(args.rounds):
            for name in ttft:
                ttft[name].append(ttft_under_load(stack.urls[name], stack.key))
        rss_before = stack.prai_rss_mib()
        t0 = time.perf_counter()
        streams(stack.urls["prai"], stack.key, args.stream_requests)
        stream_s = time.perf_counter() - t0
        rss_after = stack.prai_rss_mib()
        streams(stack.urls["prai"], stack.key, args.stream_requests)
        rss_after2 = stack.prai_rss_mib()
    finally:
        stack.stop()
    med = {n: {k: statistics.median(v) for k, v in d.items()} for n, d in res.items()}
    out: dict[str, Any] = {
        "workers": args.workers,
        "duration_s": args.duration,
        "rounds": args.rounds,
        "median": med,
        "added_p50_ms": {
            n: med[n]["p50_ms"] - med["direct"]["p50_ms"] for n in med if n != "direct"
        },
        "prai_vs_passthrough_rps": med["prai"]["rps"] / med["passthrough"]["rps"],
        "stream_ttft_ms": {n: statistics.median(v) for n, v in ttft.items()},
        "stream_rss_mib": {
            "before": rss_before,
            f"after_{args.stream_requests}": rss_after,
            f"after_{2 * args.stream_requests}": rss_after2,
        },
        "stream_req_per_s": args.stream_requests / stream_s,
    }
    out["stream_added_ttft_ms"] = out["stream_ttft_ms"]["prai"] - out["stream_ttft_ms"]["direct"]
    if "prai-baseline" in med:
        out["prai_vs_baseline_rps"] = med["prai"]["rps"] / med["prai-baseline"]["rps"]
    if "litellm" in med:
        out["prai_vs_litellm_rps"] = med["prai"]["rps"] / med["litellm"]["rps"]
    print(json.dumps(out, indent=2))
    if args.json:
        args.json.write_text(json.dumps(out, indent=2) + "\n")
    shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
