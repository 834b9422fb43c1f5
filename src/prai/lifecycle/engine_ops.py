"""Adapters on running engines: load, unload, and wait until a version has drained.

Talks to each replica of the gateway's upstreams (``gateway.upstreams[].base_urls``) with
vLLM's runtime LoRA API (``POST /v1/load_lora_adapter`` / ``/v1/unload_lora_adapter``;
needs ``VLLM_ALLOW_RUNTIME_LORA_UPDATING=True``, which ``prai serve`` sets) and reads
``GET /v1/models`` and ``GET /metrics``. TLS is verified (upstream ``ca_bundle``).

Drain signal: vLLM's ``vllm:lora_requests_info`` gauge (vllm/v1/metrics/loggers.py) keeps
one series per ``running_lora_adapters`` / ``waiting_lora_adapters`` label combination,
valued with the time it was last seen; the newest series is the engine's state now. An
engine with ``vllm:num_requests_running`` and ``vllm:num_requests_waiting`` at 0 has
nothing in flight whatever the labels say.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from prai._http import http_client
from prai._wait import wait_until
from prai.config.gateway import GatewayConfig
from prai.errors import EngineUpdateFailed


@dataclass(frozen=True)
class EngineReplica:
    """One replica (base URL) of an upstream."""

    upstream: str
    base_url: str
    api_key: str | None = None
    ca_bundle: Path | None = None

    @property
    def label(self) -> str:
        return f"{self.upstream}@{self.base_url}"

    def client(self, timeout_s: float = 30.0) -> httpx.Client:
        """An HTTP client for this replica (its CA, its API key; see :mod:`prai._http`)."""
        headers = {"authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        return http_client(base_url=self.base_url, ca_file=self.ca_bundle, headers=headers, timeout_s=timeout_s)


def replicas_of(cfg: GatewayConfig) -> list[EngineReplica]:
    """Every replica of every upstream in the gateway config."""
    return [
        EngineReplica(u.name, url, u.api_key, u.ca_bundle) for u in cfg.upstreams for url in u.base_urls
    ]


def _fail(rep: EngineReplica, what: str, exc: Exception) -> EngineUpdateFailed:
    hint = None
    if isinstance(exc, httpx.TransportError):
        hint = (f"is the engine running and reachable from here at {rep.base_url}? "
                "(gateway.upstreams[].base_urls; TLS needs the upstream's ca_bundle)")
    return EngineUpdateFailed(f"{rep.label}: {what} failed ({type(exc).__name__}: {exc})", hint=hint)


def served_models(rep: EngineReplica) -> dict[str, str | None]:
    """``GET /v1/models``: served name → parent (base model) for adapters, else None.

    Raises:
        EngineUpdateFailed: the replica cannot be reached or answers badly.
    """
    try:
        with rep.client(10.0) as c:
            resp = c.get("/v1/models")
            resp.raise_for_status()
            data = resp.json().get("data", [])
    except (httpx.HTTPError, ValueError, AttributeError) as exc:
        raise _fail(rep, "GET /v1/models", exc) from None
    return {
        str(m["id"]): (str(m["parent"]) if m.get("parent") else None)
        for m in data
        if isinstance(m, dict) and "id" in m
    }


def replicas_serving(replicas: Iterable[EngineReplica], model: str) -> list[EngineReplica]:
    """The replicas whose ``/v1/models`` lists ``model`` (a base model's served name).

    Every replica is asked: one that cannot be reached stops the change (an adapter
    loaded on some replicas only would fail requests routed to the others).

    Raises:
        EngineUpdateFailed: a replica is unreachable, or none serves ``model``.
    """
    reps = list(replicas)
    out = [rep for rep in reps if model in served_models(rep)]
    if not out:
        raise EngineUpdateFailed(
            f"no upstream replica serves the base model {model!r} "
            f"(asked: {', '.join(r.label for r in reps) or 'none configured'})",
            hint="start the base model first (prai up / the InferenceService), or register the "
            "adapter with the base model's served name (--base)",
        )
    return out


def _post(rep: EngineReplica, path: str, body: dict[str, str]) -> httpx.Response:
    try:
        with rep.client(120.0) as c:
            return c.post(path, json=body)
    except httpx.HTTPError as exc:
        raise _fail(rep, f"POST {path}", exc) from None


def _reason(resp: httpx.Response) -> str:
    try:
        err = resp.json()
        msg = err.get("error", {}).get("message") if isinstance(err.get("error"), dict) else err.get("message")
        return str(msg or resp.text)[:300]
    except ValueError:
        return resp.text[:300]


def load_adapter(rep: EngineReplica, name: str, path: str) -> bool:
    """Load adapter ``path`` as ``name`` on one replica; False when it was already loaded.

    Raises:
        EngineUpdateFailed: the engine refused (its reason is in the message).
    """
    if name in served_models(rep):
        return False
    resp = _post(rep, "/v1/load_lora_adapter", {"lora_name": name, "lora_path": path})
    if resp.status_code == 400 and "already been loaded" in _reason(resp):
        return False  # another promotion loaded it a moment ago
    if resp.status_code != 200:
        raise EngineUpdateFailed(
            f"{rep.label}: loading {name} from {path} failed (HTTP {resp.status_code}: {_reason(resp)})"
        )
    return True


def unload_adapter(rep: EngineReplica, name: str) -> bool:
    """Unload ``name`` from one replica; False when it was not loaded.

    Raises:
        EngineUpdateFailed: the engine refused.
    """
    if name not in served_models(rep):
        return False
    resp = _post(rep, "/v1/unload_lora_adapter", {"lora_name": name})
    if resp.status_code != 200:
        raise EngineUpdateFailed(
            f"{rep.label}: unloading {name} failed (HTTP {resp.status_code}: {_reason(resp)})"
        )
    return True


def load_everywhere(replicas: list[EngineReplica], name: str, path: str) -> list[EngineReplica]:
    """Load on every replica, all or nothing; returns the replicas where it was newly loaded.

    Raises:
        EngineUpdateFailed: one replica refused; the adapter was unloaded again from the
            replicas this call had loaded it on.
    """
    loaded: list[EngineReplica] = []
    try:
        for rep in replicas:
            if load_adapter(rep, name, path):
                loaded.append(rep)
    except EngineUpdateFailed:
        for rep in loaded:
            with contextlib.suppress(EngineUpdateFailed):
                unload_adapter(rep, name)
        raise
    return loaded


def adapter_busy(rep: EngineReplica, name: str) -> bool:
    """True while requests for adapter ``name`` run or wait on the replica.

    Raises:
        EngineUpdateFailed: ``/metrics`` cannot be read.
    """
    try:
        with rep.client(10.0) as c:
            resp = c.get("/metrics")
            resp.raise_for_status()
            text = resp.text
    except httpx.HTTPError as exc:
        raise _fail(rep, "GET /metrics", exc) from None
    in_flight = 0.0
    newest: tuple[float, dict[str, str]] | None = None
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            if s.name in ("vllm:num_requests_running", "vllm:num_requests_waiting"):
                in_flight += s.value
            elif s.name == "vllm:lora_requests_info" and (newest is None or s.value >= newest[0]):
                newest = (s.value, s.labels)
    if in_flight == 0:
        return False
    if newest is None:
        return True  # no LoRA metrics: requests in flight may be this adapter's
    labels = newest[1]
    names = set(labels.get("running_lora_adapters", "").split(",")) | set(
        labels.get("waiting_lora_adapters", "").split(",")
    )
    return name in names


def wait_drained(
    replicas: list[EngineReplica], name: str, *, timeout_s: float, poll_s: float = 0.25
) -> list[EngineReplica]:
    """Wait until no replica runs requests for ``name``; returns those still busy at timeout."""
    busy = list(replicas)

    def drained() -> bool:
        busy[:] = [rep for rep in busy if adapter_busy(rep, name)]
        return not busy

    wait_until(drained, timeout_s=timeout_s, interval_s=poll_s)
    return busy


__all__ = [
    "EngineReplica",
    "adapter_busy",
    "load_adapter",
    "load_everywhere",
    "replicas_of",
    "replicas_serving",
    "served_models",
    "unload_adapter",
    "wait_drained",
]
