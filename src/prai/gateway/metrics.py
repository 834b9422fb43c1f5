"""Prometheus metrics of one gateway process (``GET /metrics``).

Names follow vLLM's where the meaning is the same (``time_to_first_token_seconds``,
``e2e_request_latency_seconds``, ``generation_tokens_total``, ``prompt_tokens_total``),
with the ``prai_gateway_`` prefix. Label values are bounded: ``model`` is only set for
routed models (unknown names from clients become ``""``), tenant/project come from keys.
The dashboard ``docs/grafana/prai-gateway.json`` reads these.
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
