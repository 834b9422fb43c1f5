"""Gateway overhead and scaling, every system measured side by side in one run (issues 4, 16).

Targets, all in front of the same fast fake upstream (``../shared/tools/fake_upstream.py``),
load from this machine with ``wrk`` (Debian package) and ``../shared/tools/chat.lua``:

- ``direct``: the fake upstream itself (the reference for added latency);
- ``passthrough``: a bare raw-ASGI + aiohttp proxy (``bench/_passthrough.py``), the ceiling;
- ``prai-1w-mem``: ``prai gateway``, 1 worker, limits and budgets in memory, SQLite audit;
- ``prai-1w-redis``: 1 worker, limits and budgets in Redis request by request
  (``ratelimit.lease_s: 0``), SQLite audit;
- ``prai-1w-redis-lease`` (``--lease-s``, default 1; 0 leaves it out): the same with local
  leases (``ratelimit.lease_s``: most requests admitted without a Redis round trip) — the
  default with Redis;
- ``prai-1w-redis-pg``: 1 worker, Redis + PostgreSQL request by request (the reference
  for scaling out);
- ``prai-2w-redis-pg``: 2 workers on one port, Redis + PostgreSQL request by request
  (``--workers 2,4`` adds ``prai-4w-redis-pg``, and so on);
- ``prai-1w-redis-pg-lease`` / ``prai-2w-redis-pg-lease``: 1 and 2 workers with local leases (``--lease-s``), the
  default configuration of a site with several replicas;
- ``prai-baseline-redis`` (with ``--baseline-src``): another checkout's gateway, 1 worker,
  Redis, limits only (to compare limit-store designs in the same run; with
  ``--baseline-budgets`` budgets too, as every prai target);
- ``litellm-2w``: LiteLLM proxy with 2 workers from its own venv (``--litellm-venv`` or
  ``PRAI_BENCH_LITELLM_VENV``, default /work/venv-litellm); skipped with a note when absent.
  It listens on 127.0.0.1 and is kept offline with ``LITELLM_LOCAL_MODEL_COST_MAP=True``
  (no cost-map download at start) and ``LITELLM_TELEMETRY=False``.

Every prai target runs with a real key, project and key limits (requests/min, tokens/min,
concurrency) and tenant, project and key budgets, all high enough never to refuse, and
the audit log on. Redis is a redis-server the bench starts on a free port; PostgreSQL a
database it creates (``--postgres-url``) and drops.

Per round and target (the order alternates every round): req/s at 32 connections; p50 at
1 connection; req/s and p99 at 256 connections. Then the median time to first token of
probe streams while 64 slow streams (200 chunks, 50 ms apart, from
``tests/_support/fake_openai.py``, the tests' fake, which has slow streams) are open, and
the 1-worker in-memory gateway's RSS after ``--stream-requests`` and twice that many
short streamed requests. Medians of the rounds are reported, with ratios, and the values
of every round.

CPU, because the machine is shared: each 32-connection run also records the CPU time per
answered request of the target's processes, the fake upstream, Redis and the bench
database's PostgreSQL backends (``cpu_ms_per_req_*``), wrk's own CPU (``wrk_cpu_pct``, % of
one core: the load generator is not the limit while it stays far below 100) and how busy
the whole machine was (``busy_pct``, all cores, other jobs included). wrk runs with
``--timeout 10s`` so a slow target's latencies are measured instead of dropped as socket
timeouts (counted in ``wrk_socket_errors``).

Run: ``PYTHONPATH=src .venv/bin/python bench/gateway_overhead.py [--duration 4] [--rounds 3]``

A shorter run, or one on another host: ``--targets`` keeps some targets (``direct``, the
reference for added latency, always runs), ``--workers`` sets the worker counts of the
Redis + PostgreSQL scaling targets, ``--ttft-probes 0`` and ``--stream-requests 0`` skip the
TTFT and RSS parts, ``--tools`` points at a copy of ``../shared/tools`` and ``--wrk-threads``
gives wrk more threads (never more than connections). Every wrk result is also printed to
stderr as one JSON line when it is measured, so a run cut short still leaves its figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import resource
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
WRK_THREADS = 1  # --wrk-threads
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


def _tree(pid: int) -> list[psutil.Process]:
    try:
        p = psutil.Process(pid)
        return [p, *p.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def cpu_s(procs: list[psutil.Process]) -> float:
    """CPU seconds (user + system) used so far by these processes (gone ones count 0)."""
    total = 0.0
    for p in procs:
        try:
            t = p.cpu_times()
            total += t.user + t.system
        except psutil.NoSuchProcess:
            pass
    return total


def machine_busy_s() -> float:
    """CPU seconds the whole machine spent busy (every core, every user)."""
    t = psutil.cpu_times()
    return sum(t) - t.idle - getattr(t, "iowait", 0.0)


def wrk(url: str, key: str, conns: int, duration_s: float,
        watch: dict[str, list[psutil.Process]] | None = None) -> dict[str, float]:
    """One wrk run: req/s, p50 and p99 (ms), requests, non-2xx answers and socket errors.

    With ``watch`` (name -> processes), also the CPU each group used during the run in
    ms per answered request, wrk's own CPU (``wrk_cpu_pct``, % of one core: the load
    generator must stay far from 100) and how busy the whole machine was (``busy_pct``,
    % of all cores, other users' jobs included).
    """
    groups = {n: list(ps) for n, ps in (watch or {}).items()}
    before = {n: cpu_s(ps) for n, ps in groups.items()}
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    busy0, t0 = machine_busy_s(), time.monotonic()
    out = subprocess.run(
        # --timeout 10s: a slow target's latencies are measured, not dropped as timeouts (wrk's default is 2 s)
        ["wrk", f"-t{max(1, min(WRK_THREADS, conns))}", f"-c{conns}", f"-d{max(1, round(duration_s))}s",
         "--timeout", "10s", "--latency", "-s", str(LUA), url + "/v1/chat/completions"],
        env={**os.environ, "KEY": key, "MODEL": "fake"},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    wall = time.monotonic() - t0
    busy = machine_busy_s() - busy0
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p = {q: re.search(rf"{q}%\s+([\d.]+)(us|ms|s)\b", out) for q in ("50", "99")}
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    total = re.search(r"(\d+) requests in", out)
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    n = float(total.group(1)) if total else 0.0
    res = {
        "rps": rps,
        "non2xx": float(bad.group(1)) if bad else 0.0,
        "requests": n,
        "socket_errors": float(sum(int(x) for x in sock.groups())) if sock else 0.0,
        "p50_ms": _ms(*p["50"].groups()) if p["50"] and n else float("nan"),
        "p99_ms": _ms(*p["99"].groups()) if p["99"] and n else float("nan"),
        "wrk_cpu_pct": 100 * (ru1.ru_utime + ru1.ru_stime - ru0.ru_utime - ru0.ru_stime) / wall,
        "busy_pct": 100 * busy / wall / (os.cpu_count() or 1),
    }
    for name, ps in groups.items():
        res[f"cpu_ms_per_req_{name}"] = 1000 * (cpu_s(ps) - before[name]) / n if n else float("nan")
    return res


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
        self.stores: dict[str, tuple[bool, bool]] = {}  # prai target -> (uses Redis, uses PostgreSQL)
        self.tenant = "bench" + uuid.uuid4().hex[:6]
        self.pg_targets = [f"prai-{n}w-redis-pg" for n in sorted({1, *args.workers})]

    def wanted(self, name: str) -> bool:
        """Whether ``--targets`` keeps this target (all when it is not given)."""
        return self.args.targets is None or name in self.args.targets

    # --- processes ------------------------------------------------------------------

    def _start(self, cmd: list[str], env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, cwd=ROOT)
        self.procs.append(p)
        return p

    def start(self) -> None:
        a = self.args
        port = free_port()
        self.pids["upstream"] = self._start([sys.executable, str(FAST), str(port)]).pid
        self.upstream = f"http://127.0.0.1:{port}"
        port = free_port()
        self._start([sys.executable, str(SLOWFAKE), str(port), "--models", "stream"])
        self.stream_upstream = f"http://127.0.0.1:{port}"
        wait(self.upstream + "/v1/models")
        wait(self.stream_upstream + "/health")
        self.urls["direct"] = self.upstream
        self.pids["direct"] = self.pids["upstream"]
        if self.wanted("passthrough"):
            pt = free_port()
            self.pids["passthrough"] = self._start([sys.executable, str(PASS), str(pt), self.upstream, "1"]).pid
            self.urls["passthrough"] = f"http://127.0.0.1:{pt}"
        lease_pg = ("prai-1w-redis-pg-lease", "prai-2w-redis-pg-lease")
        redis_targets = ("prai-1w-redis", "prai-1w-redis-lease", "prai-baseline-redis", *lease_pg, *self.pg_targets)
        if any(self.wanted(n) for n in redis_targets):
            self._start_redis()
        if any(self.wanted(n) for n in (*self.pg_targets, *lease_pg)):
            self._create_pg()
        sqlite = lambda name: f"sqlite:///{self.workdir / name / 'gw.db'}"  # noqa: E731
        want = self.wanted
        if want("prai-1w-mem"):
            self._prai("prai-1w-mem", 1, "memory://", sqlite("mem"))
        if self.redis_url:
            if want("prai-1w-redis"):
                self._prai("prai-1w-redis", 1, self.redis_url, sqlite("redis"))
            if a.lease_s > 0 and want("prai-1w-redis-lease"):
                self._prai("prai-1w-redis-lease", 1, self.redis_url, sqlite("lease"), lease_s=a.lease_s)
            if self.pg_url:
                for n in sorted({1, *a.workers}):
                    if want(f"prai-{n}w-redis-pg"):
                        self._prai(f"prai-{n}w-redis-pg", n, self.redis_url, self.pg_url)
                for n in (1, 2):
                    if a.lease_s > 0 and want(f"prai-{n}w-redis-pg-lease"):
                        self._prai(f"prai-{n}w-redis-pg-lease", n, self.redis_url, self.pg_url, lease_s=a.lease_s)
            if a.baseline_src is not None and want("prai-baseline-redis"):
                self._prai(
                    "prai-baseline-redis", 1, self.redis_url, sqlite("baseline"), src=a.baseline_src,
                    budgets=a.baseline_budgets,
                )
        venv = a.litellm_venv
        if not want("litellm-2w"):
            pass
        elif (venv / "bin" / "litellm").exists():
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
        self.pids["redis"] = self._start(
            ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.workdir)]
        ).pid
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
        self,
        name: str,
        workers: int,
        limits_url: str,
        db_url: str,
        *,
        src: Path | None = None,
        budgets: bool = True,
        lease_s: float = 0.0,
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
                # request by request is lease_s: 0 (Redis defaults to leases since 2026-12-05);
                # a baseline checkout gets its own default
                "ratelimit": {"url": limits_url,
                              **({"lease_s": lease_s} if src is None and limits_url != "memory://" else {})},
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
        self.stores[name] = (limits_url.startswith("redis"), db_url.startswith("postgres"))

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
        self.pids[f"litellm-{workers}w"] = self._start(
            # A LiteLLM worker imports for longer than uvicorn's default 5 s health-check
            # timeout on a busy 2-core machine, and is then killed and restarted forever.
            [str(venv / "bin" / "litellm"), "--config", str(path), "--host", "127.0.0.1", "--port", str(port),
             "--num_workers", str(workers), "--timeout_worker_healthcheck", "120"],
            env=env,
        ).pid
        self.urls[name] = f"http://127.0.0.1:{port}"
        self.keys[name] = key

    def key(self, name: str) -> str:
        return self.keys.get(name, "sk-none")

    def rss_mib(self, name: str) -> float:
        p = psutil.Process(self.pids[name])
        return sum(x.memory_info().rss for x in [p, *p.children(recursive=True)]) / 2**20

    def watch(self, name: str) -> dict[str, list[psutil.Process]]:
        """The processes whose CPU a run against ``name`` is charged to, by role."""
        out = {"target": _tree(self.pids[name])}
        if name != "direct":
            out["upstream"] = _tree(self.pids["upstream"])
        redis, pg = self.stores.get(name, (False, False))
        if redis and "redis" in self.pids:
            out["redis"] = _tree(self.pids["redis"])
        if pg and self.pg_url:
            db = self.pg_url.rsplit("/", 1)[1]
            out["postgres"] = [p for p in psutil.process_iter(["cmdline"]) if db in " ".join(p.info["cmdline"] or [])]
        return out

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


def _round_ratio(res: dict[str, dict[str, list[float]]], a: str, b: str, k: str = "rps32") -> float | None:
    """Median of the per-round ratios: both targets of one round ran within a minute of each
    other, so this drifts less with other jobs on a shared machine than a ratio of medians."""
    if a not in res or b not in res:
        return None
    pairs = [x / y for x, y in zip(res[a][k], res[b][k], strict=True) if y]
    return round(statistics.median(pairs), 3) if pairs else None


TARGETS = ("direct", "passthrough", "prai-1w-mem", "prai-1w-redis", "prai-1w-redis-lease", "prai-1w-redis-pg",
           "prai-2w-redis-pg", "prai-1w-redis-pg-lease", "prai-2w-redis-pg-lease", "prai-baseline-redis", "litellm-2w")


def _counts(text: str) -> list[int]:
    """``--workers``: ``"2,4"`` -> ``[2, 4]`` (each at least 2; 1 worker always runs as the reference)."""
    try:
        counts = sorted({int(x) for x in text.split(",") if x.strip()})
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a list of worker counts: write e.g. 2,4") from None
    if not counts or counts[0] < 2:
        raise argparse.ArgumentTypeError(f"{text!r}: worker counts start at 2 (1 worker is always the reference)")
    return counts


def _names(text: str) -> set[str]:
    """``--targets``: comma-separated names from TARGETS or ``prai-<n>w-redis-pg``; direct is added."""
    names = {x.strip() for x in text.split(",") if x.strip()}
    bad = sorted(n for n in names if n not in TARGETS and not re.fullmatch(r"prai-\d+w-redis-pg", n))
    if bad:
        raise argparse.ArgumentTypeError(f"unknown target(s) {', '.join(bad)}: choose from {', '.join(TARGETS)}")
    return names | {"direct"}


def goals(out: dict[str, Any]) -> dict[str, bool | None]:
    """Issue 16's goals, met or not (None: not measured in this run)."""
    r, p50, ttft = out["ratios"], out["added_p50_ms_1conn"], out["added_ttft_ms_64_streams"]

    def at_least(v: float | None, goal: float) -> bool | None:
        return None if v is None else v >= goal

    prai = [n for n in p50 if n.startswith("prai")]
    return {
        "redis_vs_mem >= 0.8": at_least(r["redis_vs_mem (goal >= 0.8)"], 0.8),
        "redis_lease_vs_mem >= 0.8": at_least(r["redis_lease_vs_mem (goal >= 0.8)"], 0.8),
        "2w_vs_1w_redis_pg >= 1.6": at_least(r["2w_vs_1w_redis_pg (goal >= 1.6)"], 1.6),
        "2w_vs_1w_redis_pg_lease >= 1.6": at_least(r["2w_vs_1w_redis_pg_lease (goal >= 1.6)"], 1.6),
        "prai_2w_vs_litellm_2w >= 25": at_least(r["prai_2w_vs_litellm_2w (goal >= 25)"], 25),
        "prai_2w_lease_vs_litellm_2w >= 25": at_least(r["prai_2w_lease_vs_litellm_2w (goal >= 25)"], 25),
        **{f"added_p50_1conn <= 0.5 ms: {n}": p50[n] <= 0.5 for n in prai},
        **{f"added_ttft_64_streams <= 2 ms: {n}": v <= 2.0 for n, v in ttft.items()},
    }


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
    ap.add_argument("--baseline-budgets", action="store_true",
                    help="the baseline target gets the same budgets as the others (both trees must support them)")
    ap.add_argument("--stream-requests", type=int, default=5000, help="streamed requests for the RSS check")
    ap.add_argument("--ttft-probes", type=int, default=100)
    ap.add_argument("--json", type=Path, help="write the results here")
    ap.add_argument("--targets", type=_names, help="comma-separated targets to run (default: all); direct always runs")
    ap.add_argument("--workers", type=_counts, default=[2],
                    help="worker counts of the Redis + PostgreSQL scaling targets, e.g. 2,4 (default: 2)")
    ap.add_argument("--tools", type=Path, default=TOOLS, help="folder with fake_upstream.py and chat.lua")
    ap.add_argument("--wrk-threads", type=int, default=1, help="wrk threads (at most the connections of a run)")
    ap.add_argument("--lease-s", type=float, default=1.0,
                    help="ratelimit.lease_s of the prai-1w-redis-lease target (0: no such target)")
    args = ap.parse_args()
    global FAST, LUA, WRK_THREADS
    FAST, LUA, WRK_THREADS = args.tools / "fake_upstream.py", args.tools / "chat.lua", max(1, args.wrk_threads)
    if shutil.which("wrk") is None:
        print("wrk is not installed (apt-get install -y wrk)", file=sys.stderr)
        return 2
    if not FAST.exists() or not LUA.exists():
        print(f"{FAST} or {LUA} is missing: pass --tools with a copy of ../shared/tools", file=sys.stderr)
        return 2
    t_start = time.monotonic()
    workdir = Path(tempfile.mkdtemp(prefix="prai-bench-"))
    stack = Stack(args, workdir)
    res: dict[str, dict[str, list[float]]] = {}
    ttft: dict[str, list[float]] = {}
    out: dict[str, Any] = {}
    try:
        stack.start()
        names = list(stack.urls)
        print(f"[{time.monotonic() - t_start:.0f} s] started: {', '.join(names)}", file=sys.stderr, flush=True)
        res = {n: {"rps32": [], "p50_1": [], "rps256": [], "p99_256": [], "non2xx": [], "socket_errors": []}
               for n in names}
        for n in names:  # warm-up
            wrk(stack.urls[n], stack.key(n), 8, 1)
        out["loadavg_start"] = os.getloadavg()
        for rnd in range(args.rounds):
            for n in names if rnd % 2 == 0 else names[::-1]:
                url, key = stack.urls[n], stack.key(n)
                print(f"[{time.monotonic() - t_start:.0f} s] round {rnd + 1}: {n}", file=sys.stderr, flush=True)
                w32 = wrk(url, key, 32, args.duration, stack.watch(n))
                w1 = wrk(url, key, 1, max(2.0, args.duration / 2))
                w = wrk(url, key, 256, args.duration)
                for conns, r in ((32, w32), (1, w1), (256, w)):
                    print(json.dumps({"round": rnd + 1, "target": n, "conns": conns,
                                      **{k: round(v, 3) for k, v in r.items()}}), file=sys.stderr, flush=True)
                res[n]["rps32"].append(w32["rps"])
                res[n]["p50_1"].append(w1["p50_ms"])
                res[n]["rps256"].append(w["rps"])
                res[n]["p99_256"].append(w["p99_ms"])
                # refused answers would inflate req/s: they are counted and reported
                res[n]["non2xx"].append(w32["non2xx"] + w1["non2xx"] + w["non2xx"])
                res[n]["socket_errors"].append(w32["socket_errors"] + w1["socket_errors"] + w["socket_errors"])
                # CPU at 32 connections: who used it, and whether wrk or the machine was the limit
                for k, v in w32.items():
                    if k.startswith("cpu_ms_per_req_") or k in ("wrk_cpu_pct", "busy_pct"):
                        res[n].setdefault(k + "_32", []).append(v)
                res[n].setdefault("wrk_cpu_pct_256", []).append(w["wrk_cpu_pct"])
        probe = {"direct": (stack.stream_upstream, "sk-none")}
        for n in ("prai-1w-mem", "prai-1w-redis", "prai-1w-redis-lease", "prai-2w-redis-pg", "prai-2w-redis-pg-lease"):
            if n in stack.urls:
                probe[n] = (stack.urls[n], stack.key(n))
        ttft = {n: [] for n in probe}
        for rnd in range(args.rounds if args.ttft_probes > 0 else 0):
            order = list(probe) if rnd % 2 == 0 else list(probe)[::-1]
            for n in order:
                url, key = probe[n]
                ttft[n].append(ttft_under_load(url, key, "stream", probes=args.ttft_probes))
                print(json.dumps({"round": rnd + 1, "target": n, "ttft_ms_64_streams": round(ttft[n][-1], 3)}),
                      file=sys.stderr, flush=True)
        if args.stream_requests > 0 and "prai-1w-mem" in stack.urls:
            rss = [stack.rss_mib("prai-1w-mem")]
            for _ in range(2):
                asyncio.run(_closed_loop(stack.urls["prai-1w-mem"], stack.key("prai-1w-mem"), "stream",
                                         args.stream_requests, 64))
                rss.append(stack.rss_mib("prai-1w-mem"))
            out["rss_mib_prai_1w_mem"] = {"start": rss[0], f"after_{args.stream_requests}": rss[1],
                                          f"after_{2 * args.stream_requests}": rss[2]}
    finally:
        stack.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    med = {n: {k: round(statistics.median(v), 3) for k, v in d.items() if v and k not in ("non2xx", "socket_errors")}
           for n, d in res.items()}
    non2xx = {n: int(sum(d["non2xx"])) for n, d in res.items() if sum(d.get("non2xx", []))}
    sock_err = {n: int(sum(d["socket_errors"])) for n, d in res.items() if sum(d.get("socket_errors", []))}
    # the load generator's CPU against the gateways (against `direct` it runs at full speed on purpose)
    wrk_max = max((max(d.get("wrk_cpu_pct_32", [0]) + d.get("wrk_cpu_pct_256", [0])) for n, d in res.items()
                   if n != "direct"), default=0.0)
    ttft_med = {n: round(statistics.median(v), 3) for n, v in ttft.items() if v}
    out.update(
        {
            "duration_s": args.duration,
            "rounds": args.rounds,
            "cpus": os.cpu_count(),
            "wrk_threads": WRK_THREADS,
            "loadavg_end": os.getloadavg(),
            "median": med,
            "per_round": {n: {k: [round(x, 3) for x in v] for k, v in d.items() if k in ("rps32", "p50_1", "rps256",
                                                                                      "p99_256")}
                          for n, d in res.items()},
            "added_p50_ms_1conn": {n: round(med[n]["p50_1"] - med["direct"]["p50_1"], 3) for n in med if n != "direct"},
            "ttft_ms_64_streams": ttft_med,
            "ttft_ms_64_streams_per_round": {n: [round(x, 3) for x in v] for n, v in ttft.items()},
            "added_ttft_ms_64_streams": {n: round(v - ttft_med["direct"], 3) for n, v in ttft_med.items()
                                         if n != "direct" and "direct" in ttft_med},
            "ratios": {
                "redis_vs_mem (goal >= 0.8)": _ratio(med, "prai-1w-redis", "prai-1w-mem"),
                "redis_lease_vs_mem (goal >= 0.8)": _ratio(med, "prai-1w-redis-lease", "prai-1w-mem"),
                "2w_vs_1w_redis_pg (goal >= 1.6)": _ratio(med, "prai-2w-redis-pg", "prai-1w-redis-pg"),
                "2w_vs_1w_redis_pg_at_256": _ratio(med, "prai-2w-redis-pg", "prai-1w-redis-pg", "rps256"),
                "2w_vs_1w_redis_pg_lease (goal >= 1.6)": _ratio(med, "prai-2w-redis-pg-lease",
                                                                "prai-1w-redis-pg-lease"),
                **{f"{w}w_vs_1w_redis_pg{at}": _ratio(med, f"prai-{w}w-redis-pg", "prai-1w-redis-pg", k)
                   for w in args.workers if w > 2 for at, k in (("", "rps32"), ("_at_256", "rps256"))},
                "prai_2w_vs_litellm_2w (goal >= 25)": _ratio(med, "prai-2w-redis-pg", "litellm-2w"),
                "prai_2w_lease_vs_litellm_2w (goal >= 25)": _ratio(med, "prai-2w-redis-pg-lease", "litellm-2w"),
                "prai_1w_mem_vs_passthrough": _ratio(med, "prai-1w-mem", "passthrough"),
                "prai_1w_redis_vs_baseline_redis": _ratio(med, "prai-1w-redis", "prai-baseline-redis"),
                # CPU per answered request of the gateway processes alone (less sensitive to other jobs)
                "litellm_2w_cpu_per_req_over_prai_2w": _ratio(med, "litellm-2w", "prai-2w-redis-pg",
                                                              "cpu_ms_per_req_target_32"),
                "litellm_2w_cpu_per_req_over_prai_2w_lease": _ratio(med, "litellm-2w", "prai-2w-redis-pg-lease",
                                                                    "cpu_ms_per_req_target_32"),
            },
            "ratios_median_of_rounds": {
                "redis_vs_mem": _round_ratio(res, "prai-1w-redis", "prai-1w-mem"),
                "redis_lease_vs_mem": _round_ratio(res, "prai-1w-redis-lease", "prai-1w-mem"),
                "2w_vs_1w_redis_pg": _round_ratio(res, "prai-2w-redis-pg", "prai-1w-redis-pg"),
                "2w_vs_1w_redis_pg_at_256": _round_ratio(res, "prai-2w-redis-pg", "prai-1w-redis-pg", "rps256"),
                "2w_vs_1w_redis_pg_lease": _round_ratio(res, "prai-2w-redis-pg-lease", "prai-1w-redis-pg-lease"),
                **{f"{w}w_vs_1w_redis_pg{at}": _round_ratio(res, f"prai-{w}w-redis-pg", "prai-1w-redis-pg", k)
                   for w in args.workers if w > 2 for at, k in (("", "rps32"), ("_at_256", "rps256"))},
                "prai_2w_vs_litellm_2w": _round_ratio(res, "prai-2w-redis-pg", "litellm-2w"),
                "prai_2w_vs_litellm_2w_at_256": _round_ratio(res, "prai-2w-redis-pg", "litellm-2w", "rps256"),
                "prai_2w_lease_vs_litellm_2w": _round_ratio(res, "prai-2w-redis-pg-lease", "litellm-2w"),
                "prai_1w_mem_vs_passthrough": _round_ratio(res, "prai-1w-mem", "passthrough"),
            },
            "non_2xx_answers": non2xx,
            "wrk_socket_errors": sock_err,
            "wrk_cpu_pct_max_gateways": round(wrk_max, 1),
            "notes": stack.notes,
        }
    )
    out["goals"] = goals(out)
    print(json.dumps(out, indent=2))
    if args.json:
        args.json.write_text(json.dumps(out, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
