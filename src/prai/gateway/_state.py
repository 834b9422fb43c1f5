"""Per-request state carried through the pipeline; it becomes the audit record."""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from prai.db.routes import Target
    from prai.gateway._sse import StreamRelay
    from prai.gateway.ratelimit import Charge
    from prai.guard.hook import GuardContext

# Request ids: a random per-process prefix and a counter (uuid4 costs a urandom call).
_RID_PREFIX = uuid.uuid4().hex[:12]
_RID_COUNTER = itertools.count(1)


class RequestState:
    """What one proxied request did: who, which model, status, tokens, times (seconds).

    ``rid`` is the audit record's unique id (also sent as ``x-prai-request-id``);
    ``t0`` is ``time.perf_counter()`` at arrival, ``ts_us`` the wall clock in µs.
    """

    __slots__ = (
        "adapter",
        "alias",
        "charge",
        "client",
        "completion_tokens",
        "disconnected",
        "endpoint",
        "error_type",
        "extra_headers",
        "guard",
        "gw_s",
        "key_id",
        "latency_s",
        "model",
        "project",
        "prompt",
        "prompt_est",
        "prompt_tokens",
        "recorded",
        "relay",
        "response_done",
        "rid",
        "status",
        "stream",
        "t0",
        "target",
        "tenant",
        "ts_us",
        "ttft_s",
        "upstream",
        "watcher",
    )

    def __init__(self, endpoint: str, client: str | None) -> None:
        self.rid = f"{_RID_PREFIX}{next(_RID_COUNTER):012x}"
        self.t0 = time.perf_counter()
        self.ts_us = time.time_ns() // 1000
        self.endpoint = endpoint
        self.client = client
        self.tenant: str | None = None
        self.project: str | None = None
        self.key_id: str | None = None
        self.model: str | None = None
        self.adapter: str | None = None
        self.alias: str | None = None
        self.target: Target | None = None
        self.stream = False
        self.status = 500
        self.error_type: str | None = None
        self.prompt_tokens: int | None = None
        self.prompt_est: int | None = None
        self.relay: StreamRelay | None = None
        self.completion_tokens: int | None = None
        self.ttft_s: float | None = None
        self.gw_s: float | None = None
        self.upstream: str | None = None
        self.guard: GuardContext | None = None
        self.prompt: str | None = None
        self.disconnected = False
        self.response_done = False
        self.watcher: asyncio.Task[None] | None = None
        self.recorded = False
        self.latency_s = 0.0
        #: response headers from admission (``x-prai-budget-remaining``)
        self.extra_headers: list[tuple[bytes, bytes]] | None = None
        #: what admission charged to limits and budgets; settled just before the last
        #: byte of the answer is handed to the server (``Accounting.answer_ends``)
        self.charge: Charge | None = None


__all__ = ["RequestState"]
