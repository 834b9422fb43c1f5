"""Prometheus metrics of one gateway process (``GET /metrics``).

Names follow vLLM's where the meaning is the same (``time_to_first_token_seconds``,
``e2e_request_latency_seconds``, ``generation_tokens_total``, ``prompt_tokens_total``),
with the ``prai_gateway_`` prefix. Label values are bounded: ``model`` is only set for
routed models (unknown names from clients become ``""``); ``tenant``/``project`` only
take configured names (a request without a valid key counts under ``""``); ``error_type``
comes from the fixed set of :mod:`prai.errors` types; ``period`` is ``day`` or ``month``.
API key ids are never labels. So the series count is bounded by
tenants × projects × (models + error types), whatever clients send.
The dashboards ``docs/grafana/prai-gateway.json`` (all tenants) and
``docs/grafana/prai-tenant.json`` (one tenant, chosen in a variable) read these.
"""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

_LAT_BUCKETS = (
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1,
    2.5,
    5,
    10,
    30,
    60,
    120,
    300,
)
_OVERHEAD_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1)


class GatewayMetrics:
    """The gateway's metric families in their own registry, with cached label children."""

    def __init__(self) -> None:
        r = self.registry = CollectorRegistry(auto_describe=True)
        p = "prai_gateway_"
        self.requests = Counter(
            p + "requests",
            "Requests by tenant, project, model and HTTP status.",
            ["tenant", "project", "model", "status"],
            registry=r,
        )
        self.e2e = Histogram(
            p + "e2e_request_latency_seconds",
            "End-to-end request latency (s).",
            ["model"],
            buckets=_LAT_BUCKETS,
            registry=r,
        )
        self.ttft = Histogram(
            p + "time_to_first_token_seconds",
            "Time to first streamed token (s).",
            ["model"],
            buckets=_LAT_BUCKETS,
            registry=r,
        )
        self.overhead = Histogram(
            p + "added_latency_seconds",
            "Time spent in the gateway itself (s).",
            buckets=_OVERHEAD_BUCKETS,
            registry=r,
        )
        self.gen_tokens = Counter(
            p + "generation_tokens",
            "Completion tokens (upstream usage).",
            ["tenant", "project", "model"],
            registry=r,
        )
        self.prompt_tokens = Counter(
            p + "prompt_tokens",
            "Prompt tokens (upstream usage).",
            ["tenant", "project", "model"],
            registry=r,
        )
        self.rejections = Counter(
            p + "ratelimit_rejections",
            "429 answers by limit kind.",
            ["tenant", "project"],
            registry=r,
        )
        self.upstream_up = Gauge(
            p + "upstream_healthy",
            "1 when the replica passes health checks.",
            ["upstream", "replica"],
            registry=r,
        )
        self.breaker_open = Gauge(
            p + "upstream_circuit_open",
            "1 while the replica's breaker is open.",
            ["upstream", "replica"],
            registry=r,
        )
        self.in_flight = Gauge(p + "requests_in_flight", "Requests being processed.", registry=r)
        self.errors = Counter(
            p + "errors",
            "Answers with status >= 400 by tenant, project and error type.",
            ["tenant", "project", "error_type"],
            registry=r,
        )
        self.tenant_ttft = Histogram(
            p + "tenant_time_to_first_token_seconds",
            "Time to first streamed token by tenant and project (s).",
            ["tenant", "project"],
            buckets=_LAT_BUCKETS,
            registry=r,
        )
        self.budget_soft = Counter(
            p + "budget_soft_threshold",
            "Budgets that crossed their soft threshold (once per period and scope).",
            ["tenant", "project", "period"],
            registry=r,
        )
        self.budget_exceeded = Counter(
            p + "budget_exceeded",
            "Requests refused with 429 budget_exceeded.",
            ["tenant", "project", "period"],
            registry=r,
        )
        self.limit_store_errors = Counter(
            p + "limit_store_errors",
            "Requests that found the limit store unreachable (action: refused or admitted).",
            ["action"],
            registry=r,
        )
        self.audit_pending = Gauge(
            p + "audit_pending_records",
            "Audit records journaled but not yet in the database.",
            registry=r,
        )
        self.audit_failures = Gauge(
            p + "audit_write_failures",
            "Failed database writes of the audit journal since start.",
            registry=r,
        )
        self._children: dict[tuple[Any, ...], Any] = {}

    def child(self, family: Any, *labels: str) -> Any:
        """``family.labels(*labels)``, cached (label lookup costs microseconds per call)."""
        key = (id(family), *labels)
        c = self._children.get(key)
        if c is None:
            c = self._children[key] = family.labels(*labels)
        return c

    def render(self) -> bytes:
        """The text exposition format (``text/plain; version=0.0.4``)."""
        return generate_latest(self.registry)


__all__ = ["GatewayMetrics"]
