"""Gateway overhead and scaling, every system measured side by side in one run (issues 4, 16).

Targets, all in front of the same fast fake upstream (``../shared/tools/fake_upstream.py``),
load from this machine with ``wrk`` (Debian package) and ``../shared/tools/chat.lua``:

- ``direct``: the fake upstream itself (the reference for added latency);
- ``passthrough``: a bare raw-ASGI + aiohttp proxy (``bench/_passthrough.py``), the ceiling;
- ``prai-1w-mem``: ``prai gateway``, 1 worker, limits and budgets in memory, SQLite audit;
- ``prai-1w-redis``: 1 worker, limits and budgets in Redis, SQLite audit;
- ``prai-1w-redis-pg``: 1 worker, Redis + PostgreSQL (the reference for scaling out);
- ``prai-2w-redis-pg``: 2 workers on one port, Redis + PostgreSQL;
- ``prai-baseline-redis`` (with ``--baseline-src``): another checkout's gateway, 1 worker,
  Redis, limits only (to compare limit-store designs in the same run);
- ``litellm-2w``: LiteLLM proxy with 2 workers from its own venv (``--litellm-venv`` or
  ``PRAI_BENCH_LITELLM_VENV``, default /work/venv-litellm); skipped with a note when absent.

Every prai target runs with a real key, project and key limits (requests/min, tokens/min,
concurrency) and tenant, project and key budgets, all high enough never to refuse, and
the audit log on. Redis is a redis-server the bench starts on a free port; PostgreSQL a
database it creates (``--postgres-url``) and drops.

Per round and target (the order alternates every round): req/s at 32 connections; p50 at
1 connection; req/s and p99 at 256 connections. Then the median time to first token of
probe streams while 64 slow streams (200 chunks, 50 ms apart, from
``tests/_support/fake_openai.py``, the tests' fake, which has slow streams) are open, and
the 1-worker in-memory gateway's RSS after ``--stream-requests`` and twice that many
short streamed requests. Medians of the rounds are reported, with ratios.

Run: ``PYTHONPATH=src .venv/bin/python bench/gateway_overhead.py [--duration 4] [--rounds 3]``
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
import uuid
from pathlib import Path
from typing import Any

import psutil
import yaml

ROOT = Path(__file__).resolve().parents[1]
TOOLS = ROOT.parent / "shared" / "tools"
FAST = TOOLS / "fake_upstream.py"
LUA = TOOLS / "chat.lua"
SLOWFAKE = ROOT / "tests" / "_support" / "fake_openai.py"
PASS = ROOT / "bench" / "_passthrough.py"
HIGH_LIMITS = {"requests_per_minute": 10_000_000, "tokens_per_minute": 1_000_000_000, "concurrent_requests": 100_000}
HIGH_BUDGET = {"tokens_per_day": 10**12, "tokens_per_month": 10**13, "soft_percent": 100}


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


def _ms(value: str, unit: str) -> float:
    return float(value) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[unit]


def wrk(url: str, key: str, conns: int, duration_s: float) -> dict[str, float]:
    """One wrk run: req/s, p50 and p99 (ms), requests and non-2xx answers."""
    out = subprocess.run(
        ["wrk", "-t1", f"-c{conns}", f"-d{max(1, round(duration_s))}s", "--latency", "-s", str(LUA),
         url + "/v1/chat/completions"],
        env={**os.environ, "KEY": key, "MODEL": "fake"},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p = {q: re.search(rf"{q}%\s+([\d.]+)(us|ms|s)\b", out) for q in ("50", "99")}
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    total = re.search(r"(\d+) requests in", out)
    return {
        "rps": rps,
        "non2xx": float(bad.group(1)) if bad else 0.0,
        "requests": float(total.group(1)) if total else 0.0,
        "p50_ms": _ms(*p["50"].groups()) if p["50"] else float("nan"),
        "p99_ms": _ms(*p["99"].groups()) if p["99"] else float("nan"),
    }


def _is_token(chunk: bytes) -> bool:
    return b"\xe3\x81\x93" in chunk or b"\\u3053" in chunk  # "こ", the first token


async def _one_stream(s: Any, url: str, key: str, model: str, prompt: str) -> float:
    """Seconds to the first token of one streamed chat completion (read to the end)."""
    body = {"model": model, "stream": True, "messages": [{"role": "user", "content": prompt}]}
    t0 = time.perf_counter()
    ttft = float("nan")
    async with s.post(url + "/v1/chat/completions", json=body, headers={"authorization": f"Bearer {key}"}) as r:
        if r.status != 200:
            raise RuntimeError(f"HTTP {r.status}: {await r.text()}")
        async for chunk in r.content.iter_any():
            if ttft != ttft and _is_token(chunk):
                ttft = time.perf_counter() - t0
    return ttft


async def _ttft_under_load(url: str, key: str, model: str, background: int, probes: int) -> float:
    import aiohttp

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as s:

        async def hold() -> None:
            while True:  # a slow stream (200 chunks, 50 ms apart), again and again
                await _one_stream(s, url, key, model, "SLOW")

        holders = [asyncio.create_task(hold()) for _ in range(background)]
        await asyncio.sleep(1.0)
        ttfts = []
        for _ in range(probes):
            ttfts.append(await _one_stream(s, url, key, model, "hi"))
            await asyncio.sleep(0.02)
        for h in holders:
            h.cancel()
        await asyncio.gather(*holders, return_exceptions=True)
    return statistics.median(ttfts) * 1000


def ttft_under_load(url: str, key: str, model: str, background: int = 64, probes: int = 100) -> float:
    """Median TTFT (ms) of probe streams while ``background`` slow streams are open."""
    return asyncio.run(_ttft_under_load(url, key, model, background, probes))


async def _closed_loop(url: str, key: str, model: str, n_total: int, conc: int) -> None:
    import aiohttp

    sem = asyncio.Semaphore(conc)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=conc)) as s:

        async def one() -> None:
            async with sem:
                await _one_stream(s, url, key, model, "hi")

        await asyncio.gather(*(one() for _ in range(n_total)))


class Stack:
    """The processes and stores under test; everything is stopped and dropped on exit."""

    def __init__(self, args: argparse.Namespace, workdir: Path) -> None:
        self.args = args
        self.workdir = workdir
        self.procs: list[subprocess.Popen[bytes]] = []
        self.urls: dict[str, str] = {}
        self.keys: dict[str, str] = {}
        self.pids: dict[str, int] = {}
        self.notes: list[str] = []
        self.pg_url: str | None = None
        self.redis_url: str | None = None
        self.tenant = "bench" + uuid.uuid4().hex[:6]

    # --- processes ------------------------------------------------------------------

    def _start(self, cmd: list[str], env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, cwd=ROOT)
        self.procs.append(p)
        return p

    def start(self) -> None:
        a = self.args
        port = free_port()
        self._start([sys.executable, str(FAST), str(port)])
        self.upstream = f"http://127.0.0.1:{port}"
        port = free_port()
        self._start([sys.executable, str(SLOWFAKE), str(port), "--models", "stream"])
        self.stream_upstream = f"http://127.0.0.1:{port}"
        wait(self.upstream + "/v1/models")
        wait(self.stream_upstream + "/health")
        self.urls["direct"] = self.upstream
        pt = free_port()
        self._start([sys.executable, str(PASS), str(pt), self.upstream, "1"])
        self.urls["passthrough"] = f"http://127.0.0.1:{pt}"
        self._start_redis()
        self._create_pg()
        sqlite = lambda name: f"sqlite:///{self.workdir / name / 'gw.db'}"  # noqa: E731
        self._prai("prai-1w-mem", 1, "memory://", sqlite("mem"))
        if self.redis_url:
            self._prai("prai-1w-redis", 1, self.redis_url, sqlite("redis"))
            if self.pg_url:
                self._prai("prai-1w-redis-pg", 1, self.redis_url, self.pg_url)
                self._prai("prai-2w-redis-pg", 2, self.redis_url, self.pg_url)
            if a.baseline_src is not None:
                self._prai(
                    "prai-baseline-redis", 1, self.redis_url, sqlite("baseline"), src=a.baseline_src, budgets=False
                )
        venv = a.litellm_venv
        if (venv / "bin" / "litellm").exists():
            self._start_litellm(venv, 2)
        else:
            self.notes.append(f"LiteLLM not measured: {venv}/bin/litellm is missing (pip install 'litellm[proxy]')")
        for name, url in self.urls.items():
            if name.startswith("litellm"):
                path = "/health/liveliness"
            else:
                path = "/health" if name.startswith("prai") else "/v1/models"
            wait(url + path, 240)

    def _start_redis(self) -> None:
        if shutil.which("redis-server") is None:
            self.redis_url = self.args.redis_url
            self.notes.append(f"redis-server not found: used {self.redis_url}")
            return
        port = free_port()
        self._start(
            ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.workdir)]
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        self.redis_url = f"redis://127.0.0.1:{port}/0"

    def _create_pg(self) -> None:
        try:
            import psycopg

            name = "prai_bench_" + uuid.uuid4().hex[:8]
            with psycopg.connect(self.args.postgres_url, autocommit=True, connect_timeout=3) as c:
                c.execute(f'CREATE DATABASE "{name}"')
            self.pg_url = self.args.postgres_url.rsplit("/", 1)[0] + "/" + name
        except Exception as exc:  # no server: those columns are skipped, with a note
            self.notes.append(f"PostgreSQL not measured ({type(exc).__name__}: {exc})")

    def _prai(
        self, name: str, workers: int, limits_url: str, db_url: str, *, src: Path | None = None, budgets: bool = True
    ) -> None:
        port = free_port()
        d = self.workdir / name
        d.mkdir()
        project: dict[str, Any] = {"name": "p", "models": ["fake", "stream"], "limits": HIGH_LIMITS,
                                   "key_limits": HIGH_LIMITS}
        tenant: dict[str, Any] = {"name": self.tenant, "projects": [project]}
        if budgets:
            project.update(budget=HIGH_BUDGET, key_budget=HIGH_BUDGET)
            tenant["budget"] = HIGH_BUDGET
        cfg = {
            "gateway": {
                "port": port,
                "upstreams": [
                    {"name": "fast", "base_urls": [self.upstream], "models": ["fake"]},
                    {"name": "streams", "base_urls": [self.stream_upstream], "models": ["stream"]},
                ],
                "tenants": [tenant],
                "storage": {"url": db_url, "journal_dir": str(d / "journal")},
                "ratelimit": {"url": limits_url},
            }
        }
        path = d / "kitchen.yaml"
        path.write_text(yaml.safe_dump(cfg))
        env = {**os.environ, "PRAI_CACHE_DIR": str(d)}
        if src is not None:
            env["PYTHONPATH"] = str(src)
        prai = [sys.executable, "-m", "prai.cli.main"]
        key = subprocess.run(
            [*prai, "keys", "create", "--tenant", self.tenant, "--project", "p", "-c", str(path)],
            env=env, capture_output=True, text=True, check=True,
        ).stdout.strip()
        p = self._start([*prai, "gateway", "-c", str(path), "--workers", str(workers)], env=env)
        self.urls[name] = f"http://127.0.0.1:{port}"
        self.keys[name] = key
        self.pids[name] = p.pid

    def _start_litellm(self, venv: Path, workers: int) -> None:
        port = free_port()
        key = "sk-bench-" + uuid.uuid4().hex
        cfg = {
            "model_list": [
                {"model_name": "fake",
                 "litellm_params": {"model": "openai/fake", "api_base": self.upstream + "/v1", "api_key": "x"}}
            ],
            "general_settings": {"master_key": key},
        }
        path = self.workdir / "litellm.yaml"
        path.write_text(yaml.safe_dump(cfg))
        env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True", "LITELLM_TELEMETRY": "False"}
        env.pop("PYTHONPATH", None)
        name = f"litellm-{workers}w"
        self._start(
            # A LiteLLM worker imports for longer than uvicorn's default 5 s health-check
            # timeout on a busy 2-core machine, and is then killed and restarted forever.
            [str(venv / "bin" / "litellm"), "--config", str(path), "--port", str(port), "--num_workers", str(workers),
             "--timeout_worker_healthcheck", "120"],
            env=env,
        )
        self.urls[name] = f"http://127.0.0.1:{port}"
        self.keys[name] = key

    def key(self, name: str) -> str:
        return self.keys.get(name, "sk-none")

    def rss_mib(self, name: str) -> float:
        p = psutil.Process(self.pids[name])
        return sum(x.memory_info().rss for x in [p, *p.children(recursive=True)]) / 2**20

    def stop(self) -> None:
        for p in self.procs:
            p.terminate()
        for p in self.procs:
            try:
                p.wait(15)
            except subprocess.TimeoutExpired:
                p.kill()
        if self.pg_url:
            import psycopg

            try:
                with psycopg.connect(self.args.postgres_url, autocommit=True) as c:
                    c.execute(f'DROP DATABASE IF EXISTS "{self.pg_url.rsplit("/", 1)[1]}" WITH (FORCE)')
            except Exception as exc:
                print(f"note: could not drop {self.pg_url}: {exc}", file=sys.stderr)


def _ratio(med: dict[str, dict[str, float]], a: str, b: str, k: str = "rps32") -> float | None:
    if a in med and b in med and med[b].get(k):
        return round(med[a][k] / med[b][k], 3)
    return None


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--duration", type=float, default=4, help="seconds per wrk run")
    ap.add_argument("--rounds", type=int, default=3, help="interleaved rounds (medians reported)")
    ap.add_argument("--redis-url", default="redis://127.0.0.1:6379/0", help="only when redis-server is missing")
    ap.add_argument("--postgres-url", default="postgresql://postgres@127.0.0.1:5432/test",
                    help="a server where the bench may CREATE DATABASE")
    ap.add_argument("--litellm-venv", type=Path,
                    default=Path(os.environ.get("PRAI_BENCH_LITELLM_VENV", "/work/venv-litellm")))
    ap.add_argument("--baseline-src", type=Path, help="a `src` directory of another PrAI checkout")
    ap.add_argument("--stream-requests", type=int, default=5000, help="streamed requests for the RSS check")
    ap.add_argument("--ttft-probes", type=int, default=100)
    ap.add_argument("--json", type=Path, help="write the results here")
    args = ap.parse_args()
    if shutil.which("wrk") is None:
        print("wrk is not installed (apt-get install -y wrk)", file=sys.stderr)
        return 2
    if not FAST.exists():
        print(f"{FAST} is missing (../shared/tools)", file=sys.stderr)
        return 2
    workdir = Path(tempfile.mkdtemp(prefix="prai-bench-"))
    stack = Stack(args, workdir)
    res: dict[str, dict[str, list[float]]] = {}
    ttft: dict[str, list[float]] = {}
    out: dict[str, Any] = {}
    try:
        stack.start()
        names = list(stack.urls)
        res = {n: {"rps32": [], "p50_1": [], "rps256": [], "p99_256": [], "non2xx": []} for n in names}
        for n in names:  # warm-up
            wrk(stack.urls[n], stack.key(n), 8, 1)
        for rnd in range(args.rounds):
            for n in names if rnd % 2 == 0 else names[::-1]:
                url, key = stack.urls[n], stack.key(n)
                print(f"round {rnd + 1}: {n}", file=sys.stderr)
                w32 = wrk(url, key, 32, args.duration)
                w1 = wrk(url, key, 1, max(2.0, args.duration / 2))
                w = wrk(url, key, 256, args.duration)
                res[n]["rps32"].append(w32["rps"])
                res[n]["p50_1"].append(w1["p50_ms"])
                res[n]["rps256"].append(w["rps"])
                res[n]["p99_256"].append(w["p99_ms"])
                # refused answers would inflate req/s: they are counted and reported
                res[n]["non2xx"].append(w32["non2xx"] + w1["non2xx"] + w["non2xx"])
        probe = {"direct": (stack.stream_upstream, "sk-none")}
        for n in ("prai-1w-mem", "prai-1w-redis", "prai-2w-redis-pg"):
            if n in stack.urls:
                probe[n] = (stack.urls[n], stack.key(n))
        ttft = {n: [] for n in probe}
        for rnd in range(args.rounds):
            order = list(probe) if rnd % 2 == 0 else list(probe)[::-1]
            for n in order:
                url, key = probe[n]
                ttft[n].append(ttft_under_load(url, key, "stream", probes=args.ttft_probes))
        rss = [stack.rss_mib("prai-1w-mem")]
        for _ in range(2):
            asyncio.run(_closed_loop(stack.urls["prai-1w-mem"], stack.key("prai-1w-mem"), "stream",
                                     args.stream_requests, 64))
            rss.append(stack.rss_mib("prai-1w-mem"))
        out["rss_mib_prai_1w_mem"] = {"start": rss[0], f"after_{args.stream_requests}": rss[1],
                                      f"after_{2 * args.stream_requests}": rss[2]}
    finally:
        stack.stop()
    med = {n: {k: round(statistics.median(v), 3) for k, v in d.items() if v and k != "non2xx"}
           for n, d in res.items()}
    non2xx = {n: int(sum(d["non2xx"])) for n, d in res.items() if sum(d.get("non2xx", []))}
    ttft_med = {n: round(statistics.median(v), 3) for n, v in ttft.items() if v}
    out.update(
        {
            "duration_s": args.duration,
            "rounds": args.rounds,
            "cpus": os.cpu_count(),
            "loadavg_end": os.getloadavg(),
            "median": med,
            "added_p50_ms_1conn": {n: round(med[n]["p50_1"] - med["direct"]["p50_1"], 3) for n in med if n != "direct"},
            "ttft_ms_64_streams": ttft_med,
            "added_ttft_ms_64_streams": {n: round(v - ttft_med["direct"], 3) for n, v in ttft_med.items()
                                         if n != "direct"},
            "ratios": {
                "redis_vs_mem (goal >= 0.8)": _ratio(med, "prai-1w-redis", "prai-1w-mem"),
                "2w_vs_1w_redis_pg (goal >= 1.6)": _ratio(med, "prai-2w-redis-pg", "prai-1w-redis-pg"),
                "2w_vs_1w_redis_pg_at_256": _ratio(med, "prai-2w-redis-pg", "prai-1w-redis-pg", "rps256"),
                "prai_2w_vs_litellm_2w (goal >= 25)": _ratio(med, "prai-2w-redis-pg", "litellm-2w"),
                "prai_1w_mem_vs_passthrough": _ratio(med, "prai-1w-mem", "passthrough"),
                "prai_1w_redis_vs_baseline_redis": _ratio(med, "prai-1w-redis", "prai-baseline-redis"),
            },
            "non_2xx_answers": non2xx,
            "notes": stack.notes,
        }
    )
    print(json.dumps(out, indent=2))
    if args.json:
        args.json.write_text(json.dumps(out, indent=2) + "\n")
    shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
