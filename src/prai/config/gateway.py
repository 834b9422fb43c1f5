"""The ``gateway:`` section of kitchen.yaml: upstreams, tenants, projects, limits, storage.

Read by ``prai gateway``, ``prai keys``, ``prai audit`` and ``prai up``. An annotated
example is ``examples/kitchen.yaml``; the format is described in ``docs/gateway.md``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from prai.config._base import StrictModel
from prai.config.console import ConsoleConfig

_NAME = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$"


class LimitsConfig(StrictModel):
    """Limits for a project (all its keys together) or for each key of a project.

    Attributes:
        requests_per_minute: requests per sliding minute; None = unlimited.
        tokens_per_minute: prompt + completion tokens per sliding minute (prompt tokens are
            estimated before the call and corrected with the upstream's usage after it).
        concurrent_requests: requests in flight at once.
        max_tokens_per_request: upper bound for ``max_tokens``/``max_completion_tokens``;
            also filled in when the client sends none.
    """

    requests_per_minute: int | None = Field(default=None, gt=0)
    tokens_per_minute: int | None = Field(default=None, gt=0)
    concurrent_requests: int | None = Field(default=None, gt=0)
    max_tokens_per_request: int | None = Field(default=None, gt=0)


class BudgetConfig(StrictModel):
    """Token and cost quotas per calendar day and month (in ``gateway.budget_timezone``).

    Attributes:
        tokens_per_day / tokens_per_month: prompt + completion tokens; None = no quota.
        yen_per_day / yen_per_month: cost in yen from ``gateway.prices``; None = no quota.
        soft_percent: share of a quota (percent) from which answers carry
            ``x-prai-budget-remaining`` and the first request of the period writes a
            ``budget.soft_threshold`` audit record (and counts in a metric).

    A request is refused (429 ``budget_exceeded``) when the period's usage plus the worst
    case of the requests still in flight has reached a quota; the quota is shared by every
    gateway replica (Redis) and rebuilt from the audit log after a restart.
    """

    tokens_per_day: int | None = Field(default=None, gt=0)
    tokens_per_month: int | None = Field(default=None, gt=0)
    yen_per_day: float | None = Field(default=None, gt=0)
    yen_per_month: float | None = Field(default=None, gt=0)
    soft_percent: float = Field(default=80.0, gt=0, le=100)

    def is_set(self) -> bool:
        return any(
            v is not None
            for v in (self.tokens_per_day, self.tokens_per_month, self.yen_per_day, self.yen_per_month)
        )


class ModelPrice(StrictModel):
    """What one model costs, for yen budgets and ``prai usage``.

    Attributes:
        prompt_yen_per_million: yen per million prompt tokens.
        completion_yen_per_million: yen per million completion tokens.
        yen_per_gpu_second: yen per second the request spent on the upstream (from the
            upstream call to the last byte) times ``gpus``.
        gpus: GPUs of one replica of the model (for GPU-seconds).
    """

    prompt_yen_per_million: float = Field(default=0.0, ge=0)
    completion_yen_per_million: float = Field(default=0.0, ge=0)
    yen_per_gpu_second: float = Field(default=0.0, ge=0)
    gpus: float = Field(default=1.0, gt=0)


class EngineSpec(StrictModel):
    """An embedded engine ``prai up`` starts for an upstream (``prai serve`` = vLLM).

    Attributes:
        model: local model directory (Hugging Face layout).
        served_model_name: the name clients put in ``model`` (default: the directory name).
        lora_modules: adapter name → PEFT adapter directory.
        args: further ``prai serve``/``vllm serve`` flags, e.g. ``["--max-model-len", "2048"]``.
    """

    model: Path
    served_model_name: str | None = None
    lora_modules: dict[str, Path] = Field(default_factory=dict)
    args: list[str] = Field(default_factory=list)


class UpstreamConfig(StrictModel):
    """One OpenAI-compatible server group (vLLM, ``prai serve``), its replicas and models.

    Attributes:
        name: shown in the audit log and metrics (never to clients).
        base_urls: one URL per replica, e.g. ``http://10.0.0.5:8000`` (``/v1`` is added).
        models: served model and adapter names; discovered from ``GET /v1/models`` when empty.
        health_path: path polled every ``health_interval_s`` seconds (200 = healthy).
        timeout_s: seconds to wait for response headers (504 after); streams have no total cap.
        connect_timeout_s: seconds to open a TCP/TLS connection before failing over.
        failure_threshold: consecutive failures that open a replica's circuit breaker.
        cooldown_s: seconds an open breaker waits before one trial request (half-open).
        api_key: sent as ``Authorization: Bearer`` to the upstream (use ``${ENV}``).
        ca_bundle: PEM file of the internal CA for https upstreams (TLS is always verified).
        serve: for ``prai up``: start ``prai serve`` for this upstream on the port of its
            single ``http://127.0.0.1:PORT`` base URL.
    """

    name: str = Field(pattern=_NAME)
    base_urls: list[str] = Field(min_length=1)
    models: list[str] = Field(default_factory=list)
    health_path: str = "/health"
    health_interval_s: float = Field(default=5.0, gt=0)
    timeout_s: float = Field(default=600.0, gt=0)
    connect_timeout_s: float = Field(default=3.0, gt=0)
    failure_threshold: int = Field(default=3, ge=1)
    cooldown_s: float = Field(default=10.0, gt=0)
    api_key: str | None = None
    ca_bundle: Path | None = None
    serve: EngineSpec | None = None

    @field_validator("base_urls")
    @classmethod
    def _urls(cls, urls: list[str]) -> list[str]:
        out = []
        for u in urls:
            if not re.match(r"^https?://[^/\s]+", u):
                raise ValueError(f"{u!r} is not an http(s):// URL")
            u = u.rstrip("/")
            out.append(u[: -len("/v1")] if u.endswith("/v1") else u)
        return out

    @model_validator(mode="after")
    def _serve_is_local(self) -> UpstreamConfig:
        if self.serve is not None and (
            len(self.base_urls) != 1
            or not re.match(r"^http://(127\.0\.0\.1|localhost):\d+$", self.base_urls[0])
        ):
            raise ValueError("serve: needs exactly one base URL of the form http://127.0.0.1:PORT")
        return self


class ProjectConfig(StrictModel):
    """A project of a tenant: which models/adapters its keys may use, and its limits.

    Attributes:
        name: project name (keys are created for a tenant + project).
        models: allowed model or adapter names; ``"*"`` allows every routed model.
        limits: limits shared by every key of the project.
        key_limits: limits applied to each key of the project separately.
        guard_policy: name of a guardrail policy (``guard:`` section, issue 5); None = off.
        audit_prompts: ``none`` (default) stores no prompt text; ``masked`` stores the
            prompt after the guard's masking (requires a guard policy).
        budget: quotas shared by every key of the project.
        key_budget: quotas for each key of the project separately.
    """

    name: str = Field(pattern=_NAME)
    models: list[str] = Field(default_factory=lambda: ["*"])
    limits: LimitsConfig = Field(default_factory=LimitsConfig)
    key_limits: LimitsConfig = Field(default_factory=LimitsConfig)
    budget: BudgetConfig = Field(default_factory=BudgetConfig)
    key_budget: BudgetConfig = Field(default_factory=BudgetConfig)
    guard_policy: str | None = None
    audit_prompts: Literal["none", "masked"] = "none"

    @model_validator(mode="after")
    def _masked_needs_policy(self) -> ProjectConfig:
        if self.audit_prompts == "masked" and not self.guard_policy:
            raise ValueError("audit_prompts: masked needs a guard_policy that masks the prompt")
        return self


class TenantConfig(StrictModel):
    """A tenant (a department, a customer), its projects and its quotas (``budget``:
    shared by all its projects)."""

    name: str = Field(pattern=_NAME)
    projects: list[ProjectConfig] = Field(min_length=1)
    budget: BudgetConfig = Field(default_factory=BudgetConfig)

    @field_validator("projects")
    @classmethod
    def _unique(cls, projects: list[ProjectConfig]) -> list[ProjectConfig]:
        names = [p.name for p in projects]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"duplicate project names: {', '.join(dupes)}")
        return projects


class StorageConfig(StrictModel):
    """Where keys and the audit log live.

    Attributes:
        url: SQLAlchemy URL; ``sqlite:///path.db`` (WAL mode; one host) or
            ``postgresql://user@host/db`` (several gateway processes; ``postgres://`` is
            read as ``postgresql://``). Default: a SQLite
            file ``gateway.db`` under PRAI_CACHE_DIR.
        journal_dir: directory of the per-process audit journal (records are appended there
            before the response ends and copied to the database in batches); default:
            ``gateway-journal`` under PRAI_CACHE_DIR.
        batch_max: largest number of audit records written in one transaction.
        flush_interval_s: seconds between database flushes of the audit journal.
        journal_max_records: audit records a process holds while the database is
            unreachable; when that many wait, new requests get 503 until the database is
            back (records are never dropped).
    """

    url: str | None = None
    journal_dir: Path | None = None
    batch_max: int = Field(default=500, ge=1)
    flush_interval_s: float = Field(default=0.2, gt=0)
    journal_max_records: int = Field(default=100_000, ge=1)

    def journal_path(self, cache_dir: Path) -> Path:
        """``journal_dir``, or its default ``gateway-journal`` under ``cache_dir``."""
        return self.journal_dir or cache_dir / "gateway-journal"

    @field_validator("url")
    @classmethod
    def _scheme(cls, url: str | None) -> str | None:
        if url is not None and re.match(r"^postgres(\+\w+)?://", url):
            url = "postgresql" + url[len("postgres"):]  # the scheme Heroku and libpq tools write
        if url is not None and not re.match(r"^(sqlite|postgresql)(\+\w+)?://", url):
            raise ValueError("must start with sqlite:/// or postgresql:// (postgres:// is read as postgresql://)")
        return url


class RateLimitStoreConfig(StrictModel):
    """Where limit and budget counters live.

    Attributes:
        url: ``memory://`` (one process), ``redis://HOST:6379/0`` (``rediss://`` for TLS),
            ``redis+sentinel://HOST:26379[,HOST:26379]/SERVICE[/DB]`` (Sentinel) or
            ``redis+cluster://HOST:PORT`` (Redis Cluster; keys of one tenant share a hash
            slot).
        fail_open: when the store cannot be reached, let requests through without limits
            or budgets (default: refuse them with 503).
        timeout_s: seconds a store call may take before the store counts as unreachable
            (connection refused fails at once; this bounds a store that does not answer;
            an overloaded gateway can be late by more than half a second).
        lease_s: seconds a gateway process admits from a *lease* (Redis stores only;
            default 1 with Redis, 0 with ``memory://``). Above 0 each process takes leases
            — a sixteenth of each per-minute and concurrency limit, a sixty-fourth of each
            budget below its soft threshold — in one round trip and admits requests from
            them locally, giving each lease back (its unused part and the usage) after at
            most ``lease_s`` seconds. Limits and budgets stay exact (a lease is charged
            before anything is admitted from it; only what is left near a limit, or past a
            soft threshold, goes request by request); the price: a process can hold
            allowance another one is refused, and when Redis becomes unreachable, or a
            process dies, for up to ``lease_s`` seconds (see
            :mod:`prai.gateway._limitlease`). 0: every request is admitted by one Redis
            round trip (a Redis outage is seen by the next request).
    """

    url: str = "memory://"
    fail_open: bool = False
    timeout_s: float = Field(default=3.0, gt=0, le=30)
    lease_s: float = Field(default=0.0, ge=0, le=60)

    #: ``lease_s`` where kitchen.yaml leaves it out and the store is Redis (bench/README.md,
    #: "A quiet 2-core run with LiteLLM": 2.3x the requests/s of request-by-request admission)
    REDIS_DEFAULT_LEASE_S: ClassVar[float] = 1.0

    @field_validator("url")
    @classmethod
    def _scheme(cls, url: str) -> str:
        if not re.match(r"^(memory://|rediss?://|redis\+sentinel://|redis\+cluster://)", url):
            raise ValueError(
                "must be memory://, redis://HOST:PORT/DB, redis+sentinel://HOST:PORT/SERVICE "
                "or redis+cluster://HOST:PORT"
            )
        return url

    @model_validator(mode="after")
    def _lease_needs_redis(self) -> RateLimitStoreConfig:
        if "lease_s" not in self.model_fields_set and not self.url.startswith("memory://"):
            self.lease_s = self.REDIS_DEFAULT_LEASE_S
        if self.lease_s > 0 and self.url.startswith("memory://"):
            raise ValueError(
                f"lease_s: {self.lease_s:g} needs a Redis store (leases share limits between "
                "processes; memory:// admits every request in this process anyway); hint: set "
                "lease_s: 0, or url: redis://HOST:6379/0"
            )
        return self


class GatewayConfig(StrictModel):
    """``gateway:`` in kitchen.yaml.

    Attributes:
        host / port: where ``prai gateway`` listens (CLI flags override).
        upstreams: the servers behind the gateway.
        tenants: tenants and their projects.
        storage: keys and audit database.
        ratelimit: rate-limit counter store.
        max_body_bytes: request bodies above this size get 413.
        key_cache_refresh_s: seconds between checks of the key store's version counter;
            a revoked key stops working within this time in every gateway process.
        routing_refresh_s: seconds between checks of the model registry's version counter;
            a `prai model promote` / `rollback` reaches every gateway process within this
            time (`prai model promote` waits for it before unloading an old adapter).
        console: the admin API and web console (docs/console.md).
        budget_timezone: IANA zone whose calendar days and months budgets count in.
        prices: model, adapter or alias name (``"*"``: any other) → price, for yen budgets
            and ``prai usage``.
    """

    host: str = "127.0.0.1"
    port: int = Field(default=4000, ge=1, le=65535)
    upstreams: list[UpstreamConfig] = Field(default_factory=list)
    tenants: list[TenantConfig] = Field(default_factory=list)
    storage: StorageConfig = Field(default_factory=StorageConfig)
    ratelimit: RateLimitStoreConfig = Field(default_factory=RateLimitStoreConfig)
    max_body_bytes: int = Field(default=4 * 1024 * 1024, gt=0)
    key_cache_refresh_s: float = Field(default=1.0, gt=0, le=60)
    routing_refresh_s: float = Field(default=1.0, gt=0, le=60)
    console: ConsoleConfig = Field(default_factory=ConsoleConfig)
    budget_timezone: str = "Asia/Tokyo"
    prices: dict[str, ModelPrice] = Field(default_factory=dict)

    @field_validator("budget_timezone")
    @classmethod
    def _zone(cls, name: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{name!r} is not an IANA time zone (e.g. Asia/Tokyo, UTC)") from None
        return name

    @model_validator(mode="after")
    def _yen_needs_prices(self) -> GatewayConfig:
        if self.prices:
            return self
        for t in self.tenants:
            for what, b in [(f"tenants[{t.name}].budget", t.budget)] + [
                (f"tenants[{t.name}].projects[{p.name}].{k}", getattr(p, k))
                for p in t.projects
                for k in ("budget", "key_budget")
            ]:
                if b.yen_per_day is not None or b.yen_per_month is not None:
                    raise ValueError(f"{what}: a yen quota needs gateway.prices")
        return self

    @model_validator(mode="after")
    def _unique_names(self) -> GatewayConfig:
        for what, names in (
            ("upstreams", [u.name for u in self.upstreams]),
            ("tenants", [t.name for t in self.tenants]),
        ):
            dupes = sorted({n for n in names if names.count(n) > 1})
            if dupes:
                raise ValueError(f"{what}: duplicate names: {', '.join(dupes)}")
        return self

    def project(self, tenant: str, project: str) -> ProjectConfig | None:
        """The project config, or None when the tenant or project is not configured."""
        for t in self.tenants:
            if t.name == tenant:
                for p in t.projects:
                    if p.name == project:
                        return p
        return None


__all__ = [
    "BudgetConfig",
    "EngineSpec",
    "GatewayConfig",
    "LimitsConfig",
    "ModelPrice",
    "ProjectConfig",
    "RateLimitStoreConfig",
    "StorageConfig",
    "TenantConfig",
    "UpstreamConfig",
]
