"""Request and response bodies of the admin API (pydantic; the OpenAPI 3.1 document is
generated from them). Protocol only: no I/O."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$"
KEY_ID_PATTERN = r"^[A-Za-z0-9_-]{1,32}$"
DURATION_PATTERN = r"^\s*\d+(\.\d+)?\s*[smhdw]?\s*$"


class _Body(BaseModel):
    """Request bodies: unknown fields are errors (a typo must not be ignored)."""

    model_config = ConfigDict(extra="forbid")


class _Out(BaseModel):
    model_config = ConfigDict(extra="allow")


# --- errors -------------------------------------------------------------------------------


class ErrorDetail(BaseModel):
    message: str = Field(description="What failed, and a hint in parentheses.")
    type: str = Field(description="authentication_error, permission_error, invalid_request_error, ...")
    param: str | None = None
    code: int | str | None = Field(default=None, description="The HTTP status.")


class ErrorResponse(BaseModel):
    """The error envelope PrAI's servers share (OpenAI's shape)."""

    error: ErrorDetail


# --- session ------------------------------------------------------------------------------


class LoginRequest(_Body):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)


class PasswordChange(_Body):
    current_password: str = Field(min_length=1, max_length=1024)
    new_password: str = Field(min_length=1, max_length=1024)


class SessionInfo(BaseModel):
    username: str
    role: Literal["platform-admin", "tenant-admin", "auditor"]
    tenant: str | None = Field(description="The tenant of a tenant-admin; null for the other roles.")
    csrf_token: str = Field(description="Send as X-CSRF-Token with every POST/PUT/DELETE.")
    must_change_password: bool


class Done(BaseModel):
    ok: bool = True


# --- tenants ------------------------------------------------------------------------------


class ProjectOut(BaseModel):
    name: str
    config: dict[str, Any] = Field(description="The project's kitchen.yaml entry: models, limits, key_limits, "
                                               "guard_policy, audit_prompts, budgets (defaults filled in).")
    keys_active: int


class TenantOut(BaseModel):
    name: str
    projects: list[ProjectOut]


class TenantsOut(BaseModel):
    source_of_truth: str = Field(description="Where tenants are changed (kitchen.yaml), and how.")
    tenants: list[TenantOut]


# --- keys ---------------------------------------------------------------------------------


class KeyOut(BaseModel):
    id: str
    tenant: str
    project: str
    name: str
    state: Literal["active", "revoked", "expired"]
    created_at: float = Field(description="Epoch seconds.")
    expires_at: float | None = Field(description="Epoch seconds; null: never expires.")
    revoked_at: float | None = Field(description="Epoch seconds.")


class KeyCreate(_Body):
    tenant: str = Field(pattern=NAME_PATTERN)
    project: str = Field(pattern=NAME_PATTERN)
    name: str = Field(default="", max_length=128, description="A label: who holds the key.")
    expires_in: str | None = Field(default=None, pattern=DURATION_PATTERN, description="Lifetime: 30d, 12h, 15m.")
    expires_at: datetime | None = Field(default=None, description="Or an expiry time (UTC when no zone).")


class KeyCreated(KeyOut):
    key: str = Field(description="The API key. Shown once: only its SHA-256 is stored.")


class KeyExpiry(_Body):
    expires_in: str | None = Field(default=None, pattern=DURATION_PATTERN, description="From now: 30d, 12h.")
    expires_at: datetime | None = Field(default=None, description="An expiry time (UTC when no zone).")


# --- usage --------------------------------------------------------------------------------


class UsageRowOut(BaseModel):
    """One row of `prai usage --format json` (:class:`prai.gateway.usage.UsageRow`)."""

    group: str = Field(description="The tenant, tenant/project, model (adapter for LoRA requests), key id, "
                                   "day (2026-01-31) or month (2026-01) in the usage time zone.")
    tenant: str | None = Field(description="Set when the group belongs to one tenant (by tenant, project, key).")
    project: str | None = Field(description="Set when the group belongs to one project (by project, key).")
    requests: int
    errors: int = Field(description="Requests answered with HTTP status >= 400.")
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    upstream_seconds: float = Field(description="Seconds the requests spent on upstreams (GPU time basis).")
    cost_yen: float | None = Field(description="Cost from gateway.prices; null when no prices are configured.")


class UsageTotal(BaseModel):
    tenant: str | None
    project: str | None
    requests: int
    errors: int
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    upstream_seconds: float
    cost_yen: float | None
    ttft_p50_ms: float | None
    ttft_p95_ms: float | None
    latency_p50_ms: float | None
    latency_p95_ms: float | None


class UsagePoint(BaseModel):
    t: str = Field(description="Start of the interval (ISO 8601, UTC).")
    requests: int
    tokens: int
    ttft_avg_ms: float | None


class UsageSeries(BaseModel):
    tenant: str | None
    project: str | None
    points: list[UsagePoint]


class UsageOut(BaseModel):
    since: str
    until: str
    bucket_s: float
    timezone: str = Field(description="IANA zone of by=day|month (gateway.budget_timezone unless asked).")
    by: Literal["tenant", "project", "model", "key", "day", "month"]
    rows: list[UsageRowOut] = Field(description="Exactly `prai usage --by BY --format json` for the same filters.")
    totals: list[UsageTotal] = Field(description="Per tenant/project: its by=project row, TTFT and latency.")
    series: list[UsageSeries]


# --- budgets ------------------------------------------------------------------------------


class PeriodOut(BaseModel):
    label: str = Field(description="2026-01-31 (day) or 2026-01 (month), in the budget time zone.")
    starts_at: str = Field(description="ISO 8601 with the zone's offset.")
    resets_at: str = Field(description="When the next period starts (ISO 8601 with offset).")


class QuotaOut(BaseModel):
    period: Literal["day", "month"]
    unit: Literal["tokens", "yen"]
    limit: int | float = Field(description="The quota from kitchen.yaml (tokens, or yen).")
    spent: int | float = Field(description="Usage of the current period in the audit log (tokens, or yen).")
    remaining: int | float = Field(description="limit - spent, at least 0 (tokens, or yen).")
    used_percent: float
    state: Literal["ok", "soft", "exhausted"] = Field(
        description="soft: at or past soft_percent; exhausted: new requests are refused (429 budget_exceeded).")


class BudgetOut(BaseModel):
    scope: Literal["tenant", "project", "key"]
    name: str = Field(description="As the gateway's budget messages name it: tenant T, project T/P, key ID.")
    tenant: str
    project: str | None
    key_id: str | None
    key_name: str | None
    soft_percent: float
    quotas: list[QuotaOut]


class BudgetsOut(BaseModel):
    source_of_truth: str = Field(description="Where budgets are changed (kitchen.yaml), and how.")
    timezone: str = Field(description="gateway.budget_timezone: budgets count calendar days and months there.")
    day: PeriodOut
    month: PeriodOut
    budgets: list[BudgetOut]


# --- audit --------------------------------------------------------------------------------


class AuditRecord(_Out):
    seq: int
    time: str
    tenant: str | None
    project: str | None
    key_id: str | None
    model: str | None
    adapter: str | None
    endpoint: str
    stream: bool
    status: int
    error_type: str | None
    prompt_tokens: int | None
    completion_tokens: int | None
    ttft_ms: float | None
    latency_ms: float | None
    gateway_ms: float | None
    upstream: str | None
    client: str | None
    guard: Any = None
    prompt: str | None
    detail: Any = Field(default=None, description="Admin and model events: who did what (JSON object).")
    hash: str


class AuditPage(BaseModel):
    records: list[AuditRecord]
    next_before_seq: int | None = Field(description="Pass as before_seq for the next (older) page.")


class ChainStatus(BaseModel):
    ok: bool
    records: int = Field(description="Records verified (all of them when ok).")
    head_seq: int | None
    head_hash: str | None = Field(description="Record head_seq:head_hash elsewhere to detect a later rewrite.")
    problem: str | None
    problem_seq: int | None


# --- models -------------------------------------------------------------------------------


class VersionOut(_Out):
    name: str
    version: str
    kind: str
    served_name: str
    digest: str
    base: str | None
    path: str | None
    rank: int | None
    registered_at: float
    registered_by: str
    loaded_at: float | None


class AliasOut(_Out):
    name: str
    kind: str
    current: str | None
    previous: str | None
    canary: str | None
    canary_percent: float
    updated_at: float
    updated_by: str | None
    generation: int


class AliasWithVersions(AliasOut):
    versions: list[VersionOut]


class EventOut(_Out):
    seq: int
    ts: float
    action: str
    from_version: str | None
    to_version: str | None
    canary_percent: float | None
    actor: str | None
    audit_rid: str | None


class ModelDetail(BaseModel):
    alias: AliasOut
    versions: list[VersionOut]
    history: list[EventOut]


class PromoteRequest(_Body):
    version: str = Field(min_length=1, max_length=63)
    canary_percent: float | None = Field(default=None, gt=0, lt=100,
                                         description="Route this share of API keys (sticky) to the version.")
    gate_eval: str | None = Field(default=None, max_length=4096,
                                  description="A prai eval suite file on the gateway host (relative: to kitchen.yaml).")
    gate_bench: bool = Field(default=False, description="Bench the version against the current one first.")
    max_regression: str | None = Field(default=None, max_length=512, description="e.g. ttft_p95=10%")
    tokenizer: str | None = Field(default=None, max_length=4096, description="Tokenizer directory for the bench gate.")
    drain_timeout_s: float = Field(default=300.0, ge=0, le=3600)


class RollbackRequest(_Body):
    drain_timeout_s: float = Field(default=300.0, ge=0, le=3600)


class ChangeOut(_Out):
    name: str
    action: str = Field(description="promote, canary, rollback, or none (already routed that way).")
    from_version: str | None
    to_version: str | None
    loaded: list[str]
    unloaded: list[str]
    left_loaded: list[str]
    gates: list[dict[str, Any]]
    state: AliasOut | None


# --- checks -------------------------------------------------------------------------------


#: `prai doctor` areas, in the checklist's order (prai.doctor.AREAS; a test keeps them equal)
DoctorArea = Literal["storage", "images", "model", "offline", "certs", "lora", "endpoint", "lifecycle"]


class DoctorRequest(_Body):
    areas: list[DoctorArea] = Field(default_factory=list, max_length=16, description="Empty: every area.")


class DoctorCheck(_Out):
    area: str
    name: str
    status: Literal["PASS", "WARN", "FAIL", "SKIP"]
    evidence: str
    remediation: str


class DoctorOut(_Out):
    ok: bool
    exit_code: int
    summary: dict[str, int]
    areas: list[str]
    checks: list[DoctorCheck]


class ReportOut(BaseModel):
    id: str
    kind: Literal["bench", "eval"]
    dir: str
    created_at: str | None
    headline: dict[str, Any]


class UserOut(BaseModel):
    username: str
    role: str
    tenant: str | None
    disabled: bool
    must_change_password: bool
    created_at: float
    created_by: str
    password_changed_at: float


__all__ = [
    "AliasOut",
    "AliasWithVersions",
    "AuditPage",
    "AuditRecord",
    "BudgetOut",
    "BudgetsOut",
    "ChainStatus",
    "ChangeOut",
    "DoctorCheck",
    "DoctorOut",
    "DoctorRequest",
    "Done",
    "ErrorDetail",
    "ErrorResponse",
    "EventOut",
    "KeyCreate",
    "KeyCreated",
    "KeyExpiry",
    "KeyOut",
    "LoginRequest",
    "ModelDetail",
    "PasswordChange",
    "PeriodOut",
    "ProjectOut",
    "PromoteRequest",
    "QuotaOut",
    "ReportOut",
    "RollbackRequest",
    "SessionInfo",
    "TenantOut",
    "TenantsOut",
    "UsageOut",
    "UsagePoint",
    "UsageRowOut",
    "UsageSeries",
    "UsageTotal",
    "UserOut",
    "VersionOut",
]
