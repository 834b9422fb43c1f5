"""The gateway's ASGI application (raw ASGI on uvicorn: no framework on the hot path).

``POST /v1/chat/completions``, ``/v1/completions``, ``/v1/embeddings`` run the pipeline:

1. admission (:mod:`prai.gateway.admission`): authenticate, read and parse the body,
   project policy, guard input, limits;
2. relay (:mod:`prai.gateway.relay`): route to a replica, relay the answer (whole body or
   event by event), guard output;
3. accounting (:mod:`prai.gateway.accounting`): usage, token-limit correction, audit
   record (journaled before the last byte), metrics.

``GET /v1/models`` is :mod:`prai.gateway.models`. Probes: liveness (:data:`LIVENESS_PATHS`)
answers 200 while the process answers at all; readiness (:data:`READINESS_PATHS`) answers 200
while at least one upstream replica passed its last background health check
(:meth:`prai.gateway.upstreams.Router.healthy_replicas`; a probe never triggers an upstream
request) and 503 with the OpenAI error envelope when none does. ``/admin`` and ``/console`` go to the
operator console when the caller passes one (``console=``; :mod:`prai.console` sits above the
gateway, so the gateway never imports it). Every error is the OpenAI envelope
(:mod:`prai.gateway._asgi`); after an SSE stream has started, an error goes out as one
``data:`` event. Each answer carries ``x-prai-gateway-ms`` (the time spent in the gateway
itself; for streams: up to the response headers) and ``x-prai-request-id`` (the audit
record's ``rid``).
"""

from __future__ import annotations

import asyncio
import gc
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import aiohttp

from prai._http import aiohttp_session
from prai.config.gateway import GatewayConfig
from prai.db.engine import open_engine
from prai.errors import AuditBacklogFull, LimitStoreUnavailable, PraiError, UpstreamUnavailable
from prai.gateway._asgi import send_bytes, send_error, send_json
from prai.gateway._state import RequestState
from prai.gateway.accounting import Accounting, count_relayed
from prai.gateway.admission import AdmissionStage, too_deep
from prai.gateway.aliases import AliasCache
from prai.gateway.audit import AuditWriter
from prai.gateway.auth import KeyCache
from prai.gateway.budgets import audit_seqs, seed_usage
from prai.gateway.guard_hook import Guard, load_guard
from prai.gateway.metrics import GatewayMetrics
from prai.gateway.models import list_models
from prai.gateway.ratelimit import Charge, Limiter
from prai.gateway.relay import RelayStage
from prai.gateway.upstreams import Router
from prai.openai_api import error_body

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

log = logging.getLogger("prai.gateway")

#: Seconds after which a request starts watching for the client's disconnect.
WATCH_AFTER_S = 0.05
ENDPOINTS = {
    "/v1/chat/completions": "chat.completions",
    "/v1/completions": "completions",
    "/v1/embeddings": "embeddings",
}
#: Liveness probes (Kubernetes livenessProbe, LiteLLM's and vLLM's names): 200 while the process works.
LIVENESS_PATHS = frozenset({"/health", "/healthz", "/livez", "/health/liveliness", "/health/liveness"})
#: Readiness probes: 200 while an upstream answers its health check, else 503.
READINESS_PATHS = frozenset({"/health/readiness", "/readyz"})


def route_hint(path: str) -> str:
    """What to call instead of an unknown path: the OpenAI path it most resembles (a
    missing ``/v1`` prefix, a typo), else the list of the gateway's API paths."""
    import difflib

    api = [*ENDPOINTS, "/v1/models"]
    if "/v1" + path in api:
        return f"the OpenAI API is under /v1: {'/v1' + path}"
    close = difflib.get_close_matches(path, api, n=1, cutoff=0.75)
    if close:
        return f"did you mean {close[0]}?"
    return "the API paths are " + ", ".join(api) + "; probes /livez and /readyz; /metrics"


class ConsoleFactory(Protocol):
    """Builds the ASGI app that answers ``/admin`` and ``/console`` over the gateway's config
    and database engine (:func:`prai.console.build_console`)."""

    def __call__(self, gateway: GatewayConfig, engine: Engine, *, cache_dir: Path,
                 config_path: Path | None = None) -> Any: ...


class GatewayApp:
    """The ASGI callable; create with a loaded kitchen config.

    Args:
        kitchen: :class:`prai.config.KitchenConfig` with a ``gateway`` section.
        cache_dir: default location of the SQLite file and audit journal (PRAI_CACHE_DIR).
        guard: a guard implementation; default: :func:`load_guard`.
        config_path: kitchen.yaml, for the console (doctor runs with it).
        console: builds the operator console (:func:`prai.console.build_console`), called when
            ``gateway.console.enabled``; None: ``/admin`` and ``/console`` answer 404.
        metrics_dir: the multiprocess metrics directory shared by several workers
            (:func:`prai.gateway.server.serve`); None: ``/metrics`` is this process's.

    Raises:
        ConfigError: no ``gateway`` section, or a guard policy that is not defined.
        StorageError: the database cannot be opened.
    """

    def __init__(
        self, kitchen: Any, *, cache_dir: Path, guard: Guard | None = None, config_path: Path | None = None,
        console: ConsoleFactory | None = None, metrics_dir: Path | None = None,
    ) -> None:
        cfg: GatewayConfig = kitchen.gateway
        self.cfg = cfg
        self.metrics = GatewayMetrics(metrics_dir)
        self._metrics_task: asyncio.Task[None] | None = None
        self.router = Router(cfg.upstreams, self.metrics)
        self.guard: Guard = guard if guard is not None else load_guard(kitchen)
        url = cfg.storage.url or f"sqlite:///{cache_dir / 'gateway.db'}"
        self.engine = open_engine(url)
        self.journal_dir = cfg.storage.journal_path(cache_dir)
        self.keys = KeyCache(self.engine, refresh_s=cfg.key_cache_refresh_s)
        self.aliases = AliasCache(self.engine, refresh_s=cfg.routing_refresh_s)
        self.admission = AdmissionStage(
            cfg,
            keys=self.keys,
            aliases=self.aliases,
            router=self.router,
            guard=self.guard,
            metrics=self.metrics,
            audit_full=lambda: self.audit is not None and self.audit.full(),
        )
        self.accounting = Accounting(self.metrics, cfg.prices)
        self.relay = RelayStage(
            router=self.router, aliases=self.aliases, guard=self.guard, on_done=self.accounting.answer_ends
        )
        self.audit: AuditWriter | None = None
        self.limiter: Limiter | None = None
        self.session: aiohttp.ClientSession | None = None
        self.started = False
        #: move start-up objects out of the garbage collector's reach once started (set by
        #: :func:`prai.gateway.server.serve` for the serving process, not for in-process use)
        self.freeze_gc = False
        # --- console hook (issue 17): /admin and /console go to the console's own app ---
        self.console: Any = None
        if cfg.console.enabled and console is not None:
            self.console = console(cfg, self.engine, cache_dir=cache_dir, config_path=config_path)

    # --- lifecycle ---------------------------------------------------------------------

    async def startup(self) -> None:
        """Open the upstream connection pool, load keys, start audit and health checks."""
        self.session = aiohttp_session(
            limit=0, keepalive_timeout_s=60, ttl_dns_cache_s=300, timeout=aiohttp.client.DEFAULT_TIMEOUT,
            auto_decompress=False, skip_auto_headers=("User-Agent",),
        )
        self.limiter = Limiter(
            self.cfg,
            usage_source=self._budget_usage,
            seq_source=lambda rids: audit_seqs(self.engine, rids),
            audit_marks=lambda: self.audit.marks() if self.audit is not None else (0, 0),
            on_store_error=lambda action: self.metrics.child(
                self.metrics.limit_store_errors, action
            ).inc(),
        )
        self.keys.start()
        self.aliases.start()
        self.audit = await asyncio.to_thread(
            AuditWriter,
            self.engine,
            self.journal_dir,
            batch_max=self.cfg.storage.batch_max,
            flush_interval_s=self.cfg.storage.flush_interval_s,
            max_pending=self.cfg.storage.journal_max_records,
        )
        audit = self.audit
        self.metrics.set_function(self.metrics.audit_pending, lambda: audit.pending)
        self.metrics.set_function(self.metrics.audit_failures, lambda: audit.failures)
        if self.metrics.multiproc_dir is not None:
            self._metrics_task = asyncio.create_task(self._refresh_metrics())
        self.admission.limiter = self.accounting.limiter = self.limiter
        self.accounting.audit = self.audit
        self.relay.session = self.session
        await self.router.start(self.session)
        self.started = True
        if self.freeze_gc:
            # Everything built so far (modules, config, tables, pools) lives as long as the
            # process: frozen, it is no longer walked by every full collection, which cost
            # a busy worker pauses of several ms (bench/README.md, issue 16).
            gc.collect()
            gc.freeze()

    def _budget_usage(self, budget: Any, period: Any) -> tuple[int, int, int]:
        """(tokens, micro-yen, cut) the audit log holds for a budget's scope in a period
        (seeds the limit store's counters after a restart)."""
        return seed_usage(
            self.engine,
            tenant=budget.tenant,
            project=budget.project,
            key_id=budget.key_id,
            start_s=period.start_s,
            end_s=period.end_s,
            prices=self.cfg.prices,
        )

    async def _refresh_metrics(self) -> None:
        """Several workers: copy this process's function gauges to the shared files."""
        while True:
            await asyncio.sleep(1.0)
            self.metrics.refresh()

    async def shutdown(self) -> None:
        if self._metrics_task is not None:
            self._metrics_task.cancel()
        await self.router.stop()
        await self.keys.stop()
        await self.aliases.stop()
        if self.session is not None:
            await self.session.close()
        if self.limiter is not None:
            await self.limiter.close()
        if self.audit is not None:
            await asyncio.to_thread(self.audit.close)
        self.engine.dispose()

    async def _lifespan(self, receive: Any, send: Any) -> None:
        while True:
            msg = await receive()
            if msg["type"] == "lifespan.startup":
                try:
                    await self.startup()
                except Exception as exc:
                    log.error("gateway start-up failed: %s", exc)
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif msg["type"] == "lifespan.shutdown":
                await self.shutdown()
                await send({"type": "lifespan.shutdown.complete"})
                return

    # --- ASGI entry --------------------------------------------------------------------

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        kind = scope["type"]
        if kind == "lifespan":
            await self._lifespan(receive, send)
            return
        if kind != "http":
            return
        path, method = scope["path"], scope["method"]
        endpoint = ENDPOINTS.get(path)
        if endpoint is not None and method == "POST":
            await self._proxy(scope, receive, send, endpoint)
        elif path == "/v1/models" and method == "GET":
            await list_models(self.admission, scope, send)
        elif path in LIVENESS_PATHS:
            await send_json(send, 200, {"status": "ok"})
        elif path in READINESS_PATHS:
            await self._readiness(send)
        elif path == "/metrics" and method == "GET":
            body = self.metrics.render()
            await send_bytes(
                send, 200, body, [(b"content-type", b"text/plain; version=0.0.4; charset=utf-8")]
            )
        elif self.console is not None and path.startswith(("/admin", "/console")):
            await self.console(scope, receive, send)  # console hook (issue 17)
        elif endpoint is not None or path == "/v1/models":
            allowed = "POST" if endpoint is not None else "GET"
            await send_json(send, 405, error_body(
                f"{method} is not allowed on {path} (hint: use {allowed})", code=405))
        else:
            await send_json(
                send, 404, error_body(f"no route {path} (hint: {route_hint(path)})", type="not_found_error", code=404)
            )

    async def _readiness(self, send: Any) -> None:
        """200 ``{"status": "ready", ...}`` while a replica passed its last health check and
        the limit store answered its most recent call (or ``fail_open``); else 503
        (UpstreamUnavailable's or LimitStoreUnavailable's envelope). Reads state only."""
        store = self.limiter.not_ready if self.limiter is not None else None
        if store is not None:
            await send_error(send, LimitStoreUnavailable(
                f"not ready: {store}; requests get 503 meanwhile (fail closed)",
                hint="the gateway checks the store every second and is ready again as soon as it "
                "answers; the operator checks Redis (or sets gateway.ratelimit.fail_open: true)",
            ))
            return
        healthy, total = self.router.healthy_replicas()
        if healthy:
            await send_json(send, 200, {"status": "ready", "healthy_replicas": healthy, "replicas": total})
            return
        why = (f"no upstream answers its health check (0 of {total} replicas healthy)" if total
               else "gateway.upstreams is empty")
        interval = min((u.health_interval_s for u in self.cfg.upstreams), default=5.0)
        await send_error(send, UpstreamUnavailable(
            f"not ready: {why}",
            hint=f"the gateway checks each upstream every {interval:g} s (GET its health_path) and is "
            "ready again as soon as one answers; the operator checks the model servers",
        ))

    # --- the proxy pipeline ------------------------------------------------------------

    async def _proxy(self, scope: dict[str, Any], receive: Any, send: Any, endpoint: str) -> None:
        client = scope.get("client")
        r = RequestState(endpoint, client[0] if client else None)
        charge: Charge | None = None
        self.metrics.in_flight.inc()
        task = asyncio.current_task()
        arm: asyncio.TimerHandle | None = None
        try:
            admitted = await self.admission.admit(scope, receive, r)
            charge = r.charge = admitted.charge
            if charge is not None:
                if charge.headers:
                    r.extra_headers = charge.headers
                if charge.soft:
                    self.accounting.budget_events(charge, r)
            # Disconnect watching starts after WATCH_AFTER_S: answers faster than that never
            # pay for the extra task; a client that leaves later cancels the upstream call.
            arm = asyncio.get_running_loop().call_later(
                WATCH_AFTER_S, self._arm_watch, receive, task, r
            )
            await self.relay.forward(
                scope["path"], admitted.body, admitted.route_model, r, send, admitted.strip_usage
            )
        except RecursionError:  # a deeply nested body that json.loads accepted
            exc = too_deep()
            r.status, r.error_type = exc.http_status, exc.error_type
            if not r.response_done:
                await self.accounting.answer_ends(r)
                await send_error(send, exc)
        except PraiError as exc:
            r.status = exc.http_status
            r.error_type = exc.error_type
            if isinstance(exc, AuditBacklogFull):
                r.recorded = True  # the journal is full: refused requests are counted, not logged
            if not r.response_done:
                await self.accounting.answer_ends(r)  # recorded and settled before the error leaves
                await send_error(send, exc)
        except asyncio.CancelledError:
            if not r.disconnected or task is None:
                raise
            task.uncancel()
            if r.relay is None or not r.relay.saw_done:
                r.status, r.error_type = 499, "client_disconnected"
            # else: the client left after [DONE] (the openai SDK closes at once): answered in full
        finally:
            if arm is not None:
                arm.cancel()
            if r.watcher is not None:
                r.watcher.cancel()
            count_relayed(r)
            if not r.recorded:  # the record goes first: the settlement relies on it (_limitsettle)
                self.accounting.record(r)
            await self.accounting.settle(charge, r)
            self.metrics.in_flight.dec()
            self.accounting.finish(r)

    def _arm_watch(self, receive: Any, task: asyncio.Task[Any] | None, r: RequestState) -> None:
        if not r.response_done:
            r.watcher = asyncio.get_running_loop().create_task(self._watch(receive, task, r))

    async def _watch(self, receive: Any, task: asyncio.Task[Any] | None, r: RequestState) -> None:
        """Cancel the request's task when the client disconnects (cancels the upstream call)."""
        while True:
            msg = await receive()
            if msg["type"] == "http.disconnect":
                break
        if not r.response_done and task is not None:
            r.disconnected = True
            task.cancel()


__all__ = ["ENDPOINTS", "LIVENESS_PATHS", "READINESS_PATHS", "GatewayApp"]
