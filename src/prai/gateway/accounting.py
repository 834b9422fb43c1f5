"""Accounting: what a request used, written down once it is answered.

- usage: a stream's token counts from what was relayed (:func:`count_relayed`);
- limits and budgets: the token-per-minute correction and the budget usage (tokens and
  yen) with the real usage, concurrency slots and budget reservations given back
  (:meth:`Accounting.settle`, one limit-store round trip that the answer's last byte
  waits for: :meth:`Accounting.answer_ends`);
- budget events: a ``budget.soft_threshold`` audit record and metric the first time a
  budget passes its soft threshold in a period (:meth:`Accounting.budget_events`);
- audit: one record per request, journaled before the answer's last byte
  (:meth:`Accounting.record`);
- metrics: per tenant/project/model series (:meth:`Accounting.finish`).
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections.abc import Mapping

from prai.config.gateway import ModelPrice
from prai.db.audit_log import event_record
from prai.gateway._state import RequestState
from prai.gateway.audit import AuditWriter
from prai.gateway.budgets import cost_micro_yen, price_for
from prai.gateway.metrics import GatewayMetrics
from prai.gateway.ratelimit import Charge, Limiter

log = logging.getLogger("prai.gateway")


def count_relayed(r: RequestState) -> None:
    """Set a stream's token counts from its relay (idempotent).

    The upstream's usage chunk when it arrived, but never fewer completion tokens than
    content events relayed to the client (one event ≈ one token on vLLM): a client that
    leaves mid-stream, or an upstream that breaks off, is charged and audited for what
    was sent.
    """
    relay = r.relay
    if relay is None:
        return
    usage = relay.usage or {}
    reported = usage.get("completion_tokens")
    relayed = relay.content_events
    reported = reported if isinstance(reported, int) and not isinstance(reported, bool) else 0
    if usage or relayed:
        r.completion_tokens = max(reported, relayed)
    prompt = usage.get("prompt_tokens")
    if isinstance(prompt, int) and not isinstance(prompt, bool):
        r.prompt_tokens = prompt
    elif relayed and r.prompt_tokens is None:
        r.prompt_tokens = r.prompt_est


class Accounting:
    """Usage, audit and metrics of one gateway process.

    ``audit`` and ``limiter`` are set by the app at start-up.
    """

    def __init__(self, metrics: GatewayMetrics, prices: Mapping[str, ModelPrice] | None = None) -> None:
        self.metrics = metrics
        self.prices = prices or {}
        self.audit: AuditWriter | None = None
        self.limiter: Limiter | None = None

    async def answer_ends(self, r: RequestState) -> None:
        """Just before the last byte of an answer (or error) is handed to the server:
        journal its audit record, then settle ``r.charge`` and wait for the limit store's
        answer (with Redis one pipelined round trip, at most ``ratelimit.timeout_s``).

        So a client that saw the end of its answer finds, on every replica, its usage
        counted (not its reservation) and its concurrency slot free: its next request may
        go to another gateway at once. The settlement follows the record
        (:mod:`._limitsettle` relies on that order). Never raises but ``CancelledError``.
        """
        if not r.recorded:
            self.record(r)
        await self.settle(r.charge, r, wait=True)

    async def settle(self, charge: Charge | None, r: RequestState, *, wait: bool = False) -> None:
        """Charge the real usage to limits and budgets and give back concurrency slots
        and the budget reservation (one store call; a stream that ended early is charged
        for what was relayed, see :func:`count_relayed`). Idempotent; with ``wait`` the
        store's answer is awaited (a failed call does not wait for its retries).

        Never raises: a limit-store hiccup must not fail an answered request; failed
        settlements are retried by the limiter.
        """
        if charge is None or charge.settled or self.limiter is None:
            return  # settled already at the answer's end (answer_ends): nothing to price again
        real: int | None = None
        micro_yen = 0
        if r.prompt_tokens is not None or r.completion_tokens:
            prompt = r.prompt_tokens if r.prompt_tokens is not None else charge.charged_tokens
            completion = r.completion_tokens or 0
            real = prompt + completion
            if self.prices:
                price = price_for(self.prices, r.adapter, r.model, r.alias)
                upstream_s = r.latency_s - (r.gw_s or 0.0)
                micro_yen = cost_micro_yen(price, prompt, completion, upstream_s)
        with contextlib.suppress(Exception):
            await self.limiter.settle(charge, real_tokens=real, micro_yen=micro_yen, wait=wait)

    def budget_events(self, charge: Charge, r: RequestState) -> None:
        """For budgets this request found past their soft threshold for the first time in
        the period: a ``budget.soft_threshold`` audit record and a metric."""
        for n, s in enumerate(charge.soft):
            if not s.crossed:
                continue
            self.metrics.child(
                self.metrics.budget_soft, r.tenant or "", r.project or "", s.period.kind
            ).inc()
            if self.audit is None:
                continue
            detail = {
                "event": "budget.soft_threshold",
                "budget": s.what,
                "period": s.period.kind,
                "label": s.period.label,
                "unit": s.unit,
                "limit": s.limit,
                "resets_at": s.period.end_iso,
            }
            rec = event_record(
                f"{r.rid}b{n}", r.ts_us, "budget.soft_threshold", detail, tenant=r.tenant,
                project=r.project, key_id=r.key_id, model=r.model, adapter=r.adapter, client=r.client,
            )
            try:
                self.audit.write(rec)
            except OSError as exc:
                log.error("audit journal write failed: %s", exc)

    def finish(self, r: RequestState) -> None:
        """Journal the audit record if not done yet, and update metrics (never raises)."""
        if not r.recorded:
            self.record(r)
        latency = r.latency_s
        m = self.metrics
        model = r.adapter or r.model or ""
        tenant, project = r.tenant or "", r.project or ""
        m.child(m.requests, tenant, project, model, str(r.status)).inc()
        m.child(m.e2e, model).observe(latency)
        if r.status >= 400:
            m.child(m.errors, tenant, project, r.error_type or "upstream_client_error").inc()
        if r.ttft_s is not None:
            m.child(m.ttft, model).observe(r.ttft_s)
            m.child(m.tenant_ttft, tenant, project).observe(r.ttft_s)
        if r.gw_s is not None:
            m.overhead.observe(max(r.gw_s, 0.0))
        if r.completion_tokens:
            m.child(m.gen_tokens, tenant, project, model).inc(r.completion_tokens)
        if r.prompt_tokens:
            m.child(m.prompt_tokens, tenant, project, model).inc(r.prompt_tokens)

    def record(self, r: RequestState) -> None:
        """Append the request's audit record to the journal (one ``write`` system call).

        Called just before the last byte of the answer is handed to the server, so a client
        that received a complete answer always has its record, even if the process is
        killed right after.
        """
        r.recorded = True
        r.latency_s = time.perf_counter() - r.t0
        if self.audit is None:
            return
        guard = None
        if r.guard is not None and r.guard.actions:
            guard = json.dumps(
                [
                    {"detector": a.detector, "action": a.action, "count": a.count}
                    for a in r.guard.actions
                ],
                ensure_ascii=False,
            )
        rec = {
            "rid": r.rid,
            "ts_us": r.ts_us,
            "tenant": r.tenant,
            "project": r.project,
            "key_id": r.key_id,
            "model": r.model,
            "adapter": r.adapter,
            "endpoint": r.endpoint,
            "stream": r.stream,
            "status": r.status,
            "error_type": r.error_type,
            "prompt_tokens": r.prompt_tokens,
            "completion_tokens": r.completion_tokens,
            "ttft_us": int(r.ttft_s * 1e6) if r.ttft_s is not None else None,
            "latency_us": int(r.latency_s * 1e6),
            "gateway_us": int(max(r.gw_s, 0.0) * 1e6) if r.gw_s is not None else None,
            "upstream": r.upstream,
            "client": r.client,
            "guard": guard,
            "prompt": r.prompt,
        }
        try:
            self.audit.write(rec)
        except OSError as exc:
            log.error("audit journal write failed: %s", exc)


__all__ = ["Accounting", "count_relayed"]
