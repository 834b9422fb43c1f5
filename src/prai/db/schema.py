"""The schema: every table PrAI keeps (SQLAlchemy Core), in one place.

Tables:

- ``prai_keys``: one row per API key: id, SHA-256 of the key, tenant, project, times (epoch s).
- ``prai_meta``: counters; ``keys_version`` grows on every key change so each gateway's
  in-memory key cache knows when to reload (see :mod:`prai.gateway.auth`).
- ``prai_audit``: append-only records; ``hash = sha256(prev_hash + canonical JSON)``.
- ``prai_audit_head``: the last sequence number and hash, so deleting the newest records
  is detected too.
- ``prai_model_versions``, ``prai_aliases``, ``prai_model_events``: the model and adapter
  registry of :mod:`prai.lifecycle.registry` (versions keyed by bundle root digest, the
  alias → version routing table, its history); ``models_version`` in ``prai_meta`` grows on
  every routing change so each gateway reloads its alias table.
- ``prai_admin_users``, ``prai_admin_sessions``, ``prai_admin_login_failures``: console and
  admin API users (roles, scrypt password hashes), browser sessions (SHA-256 of the session
  token only) and failed logins for throttling (:mod:`prai.db.admins`, migration step 2).
- ``prai_schema``: the schema version (:mod:`prai.db.migrations`).

Times in the audit log are integers in microseconds since the epoch (``*_us``) so that
hashing never depends on float formatting. Tables change only through a new migration.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()

keys_table = Table(
    "prai_keys",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("key_hash", String(64), nullable=False, unique=True),
    Column("tenant", String(64), nullable=False),
    Column("project", String(64), nullable=False),
    Column("name", String(128), nullable=False, default=""),
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float, nullable=True),
    Column("revoked_at", Float, nullable=True),
)

meta_table = Table(
    "prai_meta",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("value", BigInteger, nullable=False),
)

AUDIT_FIELDS: tuple[str, ...] = (
    "rid",
    "ts_us",
    "tenant",
    "project",
    "key_id",
    "model",
    "adapter",
    "endpoint",
    "stream",
    "status",
    "error_type",
    "prompt_tokens",
    "completion_tokens",
    "ttft_us",
    "latency_us",
    "gateway_us",
    "upstream",
    "client",
    "guard",
    "prompt",
    "detail",
)

audit_table = Table(
    "prai_audit",
    metadata,
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("rid", String(32), nullable=False, unique=True),
    Column("ts_us", BigInteger, nullable=False, index=True),
    Column("tenant", String(64), nullable=True, index=True),
    Column("project", String(64), nullable=True),
    Column("key_id", String(32), nullable=True),
    Column("model", String(256), nullable=True),
    Column("adapter", String(256), nullable=True),
    Column("endpoint", String(64), nullable=False),
    Column("stream", Boolean, nullable=False),
    Column("status", Integer, nullable=False),
    Column("error_type", String(64), nullable=True),
    Column("prompt_tokens", Integer, nullable=True),
    Column("completion_tokens", Integer, nullable=True),
    Column("ttft_us", BigInteger, nullable=True),
    Column("latency_us", BigInteger, nullable=False),
    Column("gateway_us", BigInteger, nullable=True),
    Column("upstream", String(256), nullable=True),
    Column("client", String(128), nullable=True),
    Column("guard", Text, nullable=True),
    Column("prompt", Text, nullable=True),
    # JSON of administrative events (model promote/rollback: who, from, to); None for requests
    Column("detail", Text, nullable=True),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
)

head_table = Table(
    "prai_audit_head",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("seq", BigInteger, nullable=False),
    Column("hash", String(64), nullable=False),
)

model_versions_table = Table(
    "prai_model_versions",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("version", String(64), primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("served_name", String(160), nullable=False, unique=True),
    Column("digest", String(64), nullable=False),
    Column("base", String(256), nullable=True),
    Column("path", Text, nullable=True),
    Column("rank", Integer, nullable=True),
    Column("source_bundle", Text, nullable=False),
    Column("registered_at", Float, nullable=False),
    Column("registered_by", String(256), nullable=False),
    Column("verified_at", Float, nullable=True),
    Column("verified_by", String(256), nullable=True),
    Column("loaded_at", Float, nullable=True),
    UniqueConstraint("name", "digest", name="uq_prai_model_versions_digest"),
)

aliases_table = Table(
    "prai_aliases",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("current", String(64), nullable=True),
    Column("previous", String(64), nullable=True),
    Column("canary", String(64), nullable=True),
    Column("canary_percent", Float, nullable=False, default=0.0),
    Column("updated_at", Float, nullable=False),
    Column("updated_by", String(256), nullable=True),
    Column("generation", BigInteger, nullable=False, default=0),
)

model_events_table = Table(
    "prai_model_events",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("ts", Float, nullable=False),
    Column("name", String(64), nullable=False, index=True),
    Column("action", String(32), nullable=False),
    Column("from_version", String(64), nullable=True),
    Column("to_version", String(64), nullable=True),
    Column("canary_percent", Float, nullable=True),
    Column("actor", String(256), nullable=True),
    Column("detail", Text, nullable=True),
    Column("audit_rid", String(32), nullable=True),
)

# --- console and admin API (issue 17; migration step 2) ---------------------------------

admin_users_table = Table(
    "prai_admin_users",
    metadata,
    Column("username", String(64), primary_key=True),
    Column("role", String(32), nullable=False),
    Column("tenant", String(64), nullable=True),
    # scrypt parameters, salt and derived key (see prai.console.passwords)
    Column("password_hash", String(256), nullable=False),
    Column("must_change_password", Boolean, nullable=False, default=False),
    Column("disabled", Boolean, nullable=False, default=False),
    Column("created_at", Float, nullable=False),
    Column("created_by", String(256), nullable=False),
    Column("password_changed_at", Float, nullable=False),
)

admin_sessions_table = Table(
    "prai_admin_sessions",
    metadata,
    # SHA-256 hex of the session token (the token itself lives only in the browser's cookie)
    Column("token_hash", String(64), primary_key=True),
    Column("username", String(64), nullable=False, index=True),
    Column("created_at", Float, nullable=False),
    Column("last_seen", Float, nullable=False),
    Column("expires_at", Float, nullable=False),
    Column("client", String(128), nullable=True),
)

admin_login_failures_table = Table(
    "prai_admin_login_failures",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("ts", Float, nullable=False, index=True),
    Column("username", String(64), nullable=False, index=True),
    Column("client", String(128), nullable=True, index=True),
)

schema_table = Table(
    "prai_schema",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("version", Integer, nullable=False),
)

#: ``prev_hash`` of the first audit record
GENESIS = "0" * 64

__all__ = [
    "AUDIT_FIELDS",
    "GENESIS",
    "admin_login_failures_table",
    "admin_sessions_table",
    "admin_users_table",
    "aliases_table",
    "audit_table",
    "head_table",
    "keys_table",
    "meta_table",
    "metadata",
    "model_events_table",
    "model_versions_table",
    "schema_table",
]
