"""Upstreams and their replicas: model discovery, health checks, circuit breakers, routing.

A replica is taken out of rotation when its health check fails, or when
``failure_threshold`` consecutive requests failed (breaker open for ``cooldown_s``; then
one trial request is let through, "half-open"). :meth:`Router.candidates` returns the
replicas to try in order: healthy ones round-robin first, so a connection failure fails
over to the next.

Models: the names listed in ``upstreams[].models``, else discovered from the replica's
``GET /v1/models`` (vLLM lists the base model and every loaded LoRA adapter, adapters with
a ``parent``), refreshed at every health check.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from prai._http import tls_verify
from prai.config.gateway import UpstreamConfig
from prai.gateway.metrics import GatewayMetrics

log = logging.getLogger("prai.gateway.upstreams")


def display_url(url: str) -> str:
    """``url`` without user info (``user:password@``), query or fragment: safe to log."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    netloc = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


@dataclass
class Replica:
    """One base URL of an upstream and its health state."""

    upstream: Upstream
    base_url: str
    healthy: bool = True
    failures: int = 0
    open_until: float = 0.0

    @property
    def label(self) -> str:
        return f"{self.upstream.name}@{self.base_url}"

    def available(self, now: float) -> bool:
        return self.healthy and self.open_until <= now

    def record_success(self) -> None:
        self.failures = 0
        self.open_until = 0.0

    def record_failure(self, now: float) -> None:
        self.failures += 1
        if self.failures >= self.upstream.cfg.failure_threshold:
            self.open_until = now + self.upstream.cfg.cooldown_s


@dataclass
class Upstream:
    """An upstream group: config, replicas, and the models it serves (name → parent)."""

    cfg: UpstreamConfig
    replicas: list[Replica] = field(default_factory=list)
    models: dict[str, str | None] = field(default_factory=dict)
    ssl_ctx: ssl.SSLContext | bool = True
    timeout: aiohttp.ClientTimeout | None = None
    headers: dict[str, str] = field(default_factory=dict)
    _rr: int = 0

    @property
    def name(self) -> str:
        return self.cfg.name


class Router:
    """Routes a model name to replicas; runs the health/discovery loop."""

    def __init__(self, configs: list[UpstreamConfig], metrics: GatewayMetrics | None = None) -> None:
        self.metrics = metrics
        self.upstreams: list[Upstream] = []
        for cfg in configs:
            up = Upstream(
                cfg=cfg,
                models=dict.fromkeys(cfg.models),
                ssl_ctx=tls_verify(cfg.ca_bundle),
                timeout=aiohttp.ClientTimeout(total=None, connect=cfg.connect_timeout_s, sock_read=cfg.timeout_s),
                headers={"content-type": "application/json"}
                | ({"authorization": f"Bearer {cfg.api_key}"} if cfg.api_key else {}),
            )
            up.replicas = [Replica(up, u) for u in cfg.base_urls]
            self.upstreams.append(up)
        self._by_model: dict[str, list[Upstream]] = {}
        self._task: asyncio.Task[None] | None = None
        self._rebuild()

    def _rebuild(self) -> None:
        by: dict[str, list[Upstream]] = {}
        for up in self.upstreams:
            for m in up.models:
                by.setdefault(m, []).append(up)
        self._by_model = by

    def models(self) -> dict[str, str | None]:
        """Every routed model name → its parent (base model) for adapters, else None."""
        out: dict[str, str | None] = {}
        for up in self.upstreams:
            for m, parent in up.models.items():
                out.setdefault(m, parent)
        return out

    def discovery_pending(self) -> bool:
        """True while an upstream that lists no models has not answered ``/v1/models`` yet."""
        return any(not up.cfg.models and not up.models for up in self.upstreams)

    def healthy_replicas(self) -> tuple[int, int]:
        """(replicas whose last health check passed, all replicas), from the background
        health loop's state: no request is sent (the gateway's readiness probe asks this)."""
        reps = [r for up in self.upstreams for r in up.replicas]
        return sum(1 for r in reps if r.healthy), len(reps)

    def knows(self, model: str) -> bool:
        return model in self._by_model

    def parent_of(self, model: str) -> str | None:
        ups = self._by_model.get(model)
        return ups[0].models.get(model) if ups else None

    def candidates(self, model: str) -> list[Replica]:
        """Replicas to try for ``model``, best first; empty when none is available."""
        now = time.monotonic()
        out: list[Replica] = []
        for up in self._by_model.get(model, ()):
            n = len(up.replicas)
            start = up._rr
            up._rr = (start + 1) % n
            for i in range(n):
                r = up.replicas[(start + i) % n]
                # After cooldown_s an open breaker lets requests try again (half-open); one
                # more failure re-opens it, a success closes it.
                if r.available(now):
                    out.append(r)
        return out

    async def check_replica(self, session: aiohttp.ClientSession, rep: Replica) -> None:
        """One health check (and model discovery when the upstream lists no models)."""
        up = rep.upstream
        timeout = aiohttp.ClientTimeout(total=max(5.0, up.cfg.connect_timeout_s))
        ok = False
        with contextlib.suppress(aiohttp.ClientError, asyncio.TimeoutError, OSError):
            async with session.get(
                rep.base_url + up.cfg.health_path,
                ssl=up.ssl_ctx,
                timeout=timeout,
                headers=up.headers,
            ) as resp:
                ok = resp.status == 200
                await resp.read()
            if ok and not up.cfg.models:
                async with session.get(
                    rep.base_url + "/v1/models",
                    ssl=up.ssl_ctx,
                    timeout=aiohttp.ClientTimeout(total=max(10.0, up.cfg.connect_timeout_s)),
                    headers=up.headers,
                ) as resp:
                    if resp.status == 200:
                        data: Any = await resp.json(content_type=None)
                        found = {
                            str(m["id"]): (str(m["parent"]) if m.get("parent") else None)
                            for m in data.get("data", [])
                            if isinstance(m, dict) and "id" in m
                        }
                        if found != up.models:
                            up.models = found
                            self._rebuild()
        if ok and not rep.healthy:
            rep.record_success()
            log.info("upstream %s: %s is healthy again", up.name, display_url(rep.base_url))
        elif rep.healthy and not ok:
            log.warning(
                "warning: upstream %s: %s failed its health check (GET %s); out of rotation until it "
                "answers",
                up.name, display_url(rep.base_url), up.cfg.health_path,
            )
        rep.healthy = ok
        if self.metrics is not None:
            self.metrics.child(self.metrics.upstream_up, up.name, rep.base_url).set(1 if ok else 0)
            self.metrics.child(self.metrics.breaker_open, up.name, rep.base_url).set(
                1 if rep.open_until > time.monotonic() else 0
            )

    async def check_all(self, session: aiohttp.ClientSession) -> None:
        """Health-check every replica once, concurrently."""
        reps = [r for up in self.upstreams for r in up.replicas]
        if reps:
            await asyncio.gather(*(self.check_replica(session, r) for r in reps))

    async def _loop(self, session: aiohttp.ClientSession) -> None:
        interval = min((u.cfg.health_interval_s for u in self.upstreams), default=5.0)
        while True:
            await asyncio.sleep(interval)
            with contextlib.suppress(Exception):
                await self.check_all(session)

    async def start(self, session: aiohttp.ClientSession) -> None:
        """First health check (awaited), then the periodic loop."""
        await self.check_all(session)
        self._task = asyncio.get_running_loop().create_task(self._loop(session))

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


__all__ = ["Replica", "Router", "Upstream"]
