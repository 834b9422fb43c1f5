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

Several worker processes (``prai gateway --workers N``) use prometheus_client's
multiprocess mode: every process writes its values to files in one private directory
(:func:`prai.gateway.server.serve` creates it and passes ``PROMETHEUS_MULTIPROC_DIR`` to the
workers), and ``/metrics`` in any worker renders the merged view (counters and histograms
summed over processes, gauges per their ``multiprocess_mode``). One process keeps the
plain in-memory values (no file writes on the request path).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest, values
from prometheus_client.multiprocess import MultiProcessCollector

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

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


def _use_multiprocess_values(multiproc_dir: Path) -> None:
    """Make the metrics created from now on in this process write to ``multiproc_dir``.

    prometheus_client picks its value class (``values.ValueClass``) once, at import, from
    ``PROMETHEUS_MULTIPROC_DIR``, and each value opens its file in the directory that variable
    names when the metric (or label child) is created. The extra workers get the variable in
    their environment before Python starts, so their import already picks the multiprocess
    class and it is kept (replacing it could map the same ``<type>_<pid>.db`` file twice).
    The first process imported prometheus_client before the directory existed (plain
    in-memory values), so there the class is chosen explicitly; setting the variable first
    works whatever was imported when.
    """
    os.environ[MULTIPROC_ENV] = str(multiproc_dir)
    if not getattr(values.ValueClass, "_multiprocess", False):
        values.ValueClass = values.MultiProcessValue()


class GatewayMetrics:
    """The gateway's metric families in their own registry, with cached label children.

    Args:
        multiproc_dir: the directory shared by several worker processes (multiprocess mode;
            see the module doc); None: this process's values only, in memory.
    """

    def __init__(self, multiproc_dir: Path | None = None) -> None:
        self.multiproc_dir = multiproc_dir
        if multiproc_dir is not None:
            _use_multiprocess_values(multiproc_dir)
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
            # each worker checks on its own: healthy only if every live worker says so
            # (a per-pid series would double `sum by (upstream)` on the dashboards)
            multiprocess_mode="livemin",
        )
        self.breaker_open = Gauge(
            p + "upstream_circuit_open",
            "1 while the replica's breaker is open.",
            ["upstream", "replica"],
            registry=r,
            multiprocess_mode="livemax",  # open in any live worker
        )
        self.in_flight = Gauge(
            p + "requests_in_flight", "Requests being processed.", registry=r, multiprocess_mode="livesum"
        )
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
            multiprocess_mode="livesum",
        )
        self.audit_failures = Gauge(
            p + "audit_write_failures",
            "Failed database writes of the audit journal since start.",
            registry=r,
            multiprocess_mode="livesum",
        )
        self._children: dict[tuple[Any, ...], Any] = {}
        self._functions: list[tuple[Gauge, Callable[[], float]]] = []
        self._merged: CollectorRegistry | None = None
        if multiproc_dir is not None:
            self._merged = CollectorRegistry(auto_describe=True)
            MultiProcessCollector(self._merged, path=str(multiproc_dir))

    def child(self, family: Any, *labels: str) -> Any:
        """``family.labels(*labels)``, cached (label lookup costs microseconds per call)."""
        key = (id(family), *labels)
        c = self._children.get(key)
        if c is None:
            c = self._children[key] = family.labels(*labels)
        return c

    def set_function(self, gauge: Gauge, f: Callable[[], float]) -> None:
        """``gauge.set_function(f)``; in multiprocess mode the value is copied to the shared
        files by :meth:`refresh` instead (a function's value is not in them)."""
        if self._merged is None:
            gauge.set_function(f)
        else:
            self._functions.append((gauge, f))
            gauge.set(f())

    def refresh(self) -> None:
        """Write the function gauges' current values (multiprocess mode; the app calls this
        every second in each worker, and before rendering)."""
        for gauge, f in self._functions:
            gauge.set(f())

    def render(self) -> bytes:
        """The text exposition format (``text/plain; version=0.0.4``): this process's
        values, or with several workers the merged values of all of them."""
        if self._merged is None:
            return generate_latest(self.registry)
        self.refresh()
        return generate_latest(self._merged)


__all__ = ["MULTIPROC_ENV", "GatewayMetrics"]
