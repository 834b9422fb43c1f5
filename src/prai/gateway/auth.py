"""API keys: creation (printed once, stored as SHA-256) and the in-memory key cache.

Key format: ``sk-prai-<id>_<secret>``; ``id`` is 10 hex digits (shown by ``prai keys list``,
written to the audit log), ``secret`` is 32 random bytes, URL-safe base64. Only
``sha256(key)`` is stored: the key has 256 bits of entropy, so a plain hash is enough
(no slow KDF needed; a KDF would cost milliseconds per request).

Requests never hit the database: :class:`KeyCache` holds every key row in a dict keyed
by hash and polls the store's ``keys_version`` counter every ``refresh_s`` seconds,
reloading when it changed. A revoked key therefore stops working in every gateway
process within ``refresh_s`` (default 1 s); expiry is checked on each request.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import secrets
import time
from dataclasses import dataclass

from sqlalchemy.engine import Engine

from prai.db.keys import KeyRecord, insert_key, keys_version, list_keys
from prai.errors import AuthenticationFailed, KeyStoreUnavailable, UsageError
from prai.gateway._polling import PolledTable

KEY_PREFIX = "sk-prai-"


def hash_key(key: str) -> str:
    """SHA-256 hex digest of the full key string."""
    return hashlib.sha256(key.encode()).hexdigest()


def parse_duration_s(text: str) -> float:
    """``30d``, ``12h``, ``15m``, ``90s`` or a bare number of days → seconds.

    Raises:
        UsageError: anything else.
    """
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*", text)
    if not m:
        raise UsageError(f"--expires {text!r}: not a duration", hint="use e.g. 30d, 12h, 15m")
    n, unit = float(m.group(1)), m.group(2) or "d"
    return n * {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}[unit]


@dataclass(frozen=True)
class CreatedKey:
    """A new key: ``key`` is shown once and never stored."""

    key: str
    record: KeyRecord


def create_key(
    engine: Engine, *, tenant: str, project: str, name: str = "", expires_in_s: float | None = None
) -> CreatedKey:
    """Generate a key for ``tenant``/``project`` and store its hash."""
    created = new_key(tenant=tenant, project=project, name=name, expires_in_s=expires_in_s)
    insert_key(engine, created.record)
    return created


def new_key(*, tenant: str, project: str, name: str = "", expires_in_s: float | None = None) -> CreatedKey:
    """Generate a key and its row without storing it (the caller stores the row, e.g. with
    :func:`prai.db.keys.insert_key_in` in the transaction of its audit record)."""
    key_id = secrets.token_hex(5)
    key = f"{KEY_PREFIX}{key_id}_{secrets.token_urlsafe(32)}"
    now = time.time()
    rec = KeyRecord(
        id=key_id,
        key_hash=hash_key(key),
        tenant=tenant,
        project=project,
        name=name,
        created_at=now,
        expires_at=now + expires_in_s if expires_in_s else None,
        revoked_at=None,
    )
    return CreatedKey(key=key, record=rec)


class _KeyMiss(AuthenticationFailed):
    """The key is not in the cache (it may have been created a moment ago)."""


class KeyCache(PolledTable):
    """Every key row in memory, refreshed when the store's ``keys_version`` changes."""

    def __init__(self, engine: Engine, *, refresh_s: float = 1.0) -> None:
        super().__init__(refresh_s=refresh_s)
        self.engine = engine
        self._by_hash: dict[str, KeyRecord] = {}
        self._version = -1
        self._miss_lock = asyncio.Lock()
        self._last_miss_reload = 0.0
        self.miss_reload_interval_s = 0.5
        self._reload_failed = False

    def load(self) -> bool:
        """Reload all keys when the version counter moved (blocking; runs in a thread)."""
        version = keys_version(self.engine)
        if version == self._version:
            return False
        rows = list_keys(self.engine)
        self._by_hash = {r.key_hash: r for r in rows}
        self._version = version
        return True

    async def check(self, authorization: bytes | None) -> KeyRecord:
        """:meth:`authenticate`; on an unknown key, reload once (at most every 0.5 s) and retry.

        A key created a moment ago works at once; unknown keys cannot make the gateway hit
        the database more than twice a second.

        Raises:
            AuthenticationFailed: as :meth:`authenticate` (HTTP 401).
            KeyStoreUnavailable: the key is unknown and the reload failed: the key database does
                not answer, so the key cannot be judged (HTTP 503, not a false 401).
        """
        try:
            return self.authenticate(authorization)
        except _KeyMiss:
            missed_at = time.monotonic()
            async with self._miss_lock:
                # A reload that started after this miss already saw any key created before
                # it; otherwise wait for the next allowed reload (never reject a fresh key).
                if self._last_miss_reload < missed_at:
                    wait = self._last_miss_reload + self.miss_reload_interval_s - time.monotonic()
                    if wait > 0:
                        await asyncio.sleep(wait)
                    self._last_miss_reload = time.monotonic()
                    try:
                        await asyncio.to_thread(self.load)
                        self._reload_failed = False
                    except Exception:  # the database is down: judged below
                        self._reload_failed = True
            try:
                return self.authenticate(authorization)
            except _KeyMiss:
                if self._reload_failed:
                    raise KeyStoreUnavailable("the gateway's key database cannot be reached to check "
                                              "a key it has not seen yet") from None
                raise

    def authenticate(self, authorization: bytes | None) -> KeyRecord:
        """The key record for an ``Authorization`` header value.

        Raises:
            AuthenticationFailed: header missing or not Bearer, unknown, revoked or expired
                key (HTTP 401). The message never repeats the key.
        """
        if not authorization:
            raise AuthenticationFailed("missing API key: no Authorization header")
        scheme, _, token = authorization.decode("latin-1").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise AuthenticationFailed("the Authorization header must be `Bearer <key>`")
        rec = self._by_hash.get(hash_key(token))
        if rec is None:
            raise _KeyMiss(
                "invalid API key: this gateway has never seen it",
                hint="was it made for another store? `prai keys create` writes to the database "
                "of the kitchen.yaml it is given with -c: use the gateway's own kitchen.yaml "
                "(gateway.storage.url), or ask its operator for a key",
            )
        if rec.revoked_at is not None:
            raise AuthenticationFailed(f"API key {rec.id} was revoked")
        if rec.expires_at is not None and rec.expires_at <= time.time():
            raise AuthenticationFailed(f"API key {rec.id} has expired")
        return rec


__all__ = ["KEY_PREFIX", "CreatedKey", "KeyCache", "create_key", "hash_key", "new_key", "parse_duration_s"]
