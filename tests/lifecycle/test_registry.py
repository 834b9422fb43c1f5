"""The registry on SQLite and PostgreSQL: versions, aliases, history, audit records."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from sqlalchemy import text

from prai.db.audit_log import append_audit, verify_audit
from prai.db.engine import open_engine
from prai.db.schema import AUDIT_FIELDS
from prai.errors import RegistryError, UsageError, VersionNotFound
from prai.lifecycle import registry

D1, D2, D3 = "1" * 64, "2" * 64, "3" * 64


def _reg(engine, version: str, digest: str, name: str = "kansai", kind: str = "adapter"):  # type: ignore[no-untyped-def]
    return registry.register_version(
        engine, name=name, version=version, kind=kind, digest=digest, source_bundle="/b",  # type: ignore[arg-type]
        actor="alice", base="base" if kind == "adapter" else None,
        path=f"/mnt/models/{name}-{version}" if kind == "adapter" else None, rank=8,
    )


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path):  # type: ignore[no-untyped-def]
    if request.param == "sqlite":
        eng = open_engine(f"sqlite:///{tmp_path / 'gw.db'}")
        yield eng
        eng.dispose()
        return
    url = request.getfixturevalue("postgres_url")
    schema = "lc_" + uuid.uuid4().hex[:8]
    admin = open_engine(url)
    with admin.begin() as c:
        c.execute(text(f"CREATE SCHEMA {schema}"))
    eng = open_engine(url + f"?options=-csearch_path%3D{schema}")
    yield eng
    eng.dispose()
    with admin.begin() as c:
        c.execute(text(f"DROP SCHEMA {schema} CASCADE"))
    admin.dispose()


def test_register_promote_rollback_state_and_history(engine) -> None:  # type: ignore[no-untyped-def]
    v1 = _reg(engine, "v1", D1)
    assert v1.served_name == "kansai@v1" and v1.kind == "adapter"
    assert _reg(engine, "v1", D1) == registry.get_version(engine, "kansai", "v1")  # re-run: no-op
    _reg(engine, "v2", D2)
    a = registry.get_alias(engine, "kansai")
    assert (a.current, a.previous, a.canary, a.generation) == (None, None, None, 0)
    before = registry.models_version(engine)
    a = registry.set_route(engine, "kansai", action="promote", current="v1", previous=None, canary=None,
                           canary_percent=0.0, actor="bob", expect_generation=0, from_version=None,
                           to_version="v1")
    assert a.current == "v1" and a.generation == 1 and a.updated_by == "bob"
    assert registry.models_version(engine) == before + 1
    with pytest.raises(RegistryError, match="changed by someone else"):
        registry.set_route(engine, "kansai", action="promote", current="v2", previous="v1", canary=None,
                           canary_percent=0.0, actor="eve", expect_generation=0, from_version="v1",
                           to_version="v2")
    with pytest.raises(RegistryError, match="v9 is not registered"):
        registry.set_route(engine, "kansai", action="promote", current="v9", previous="v1", canary=None,
                           canary_percent=0.0, actor="eve", expect_generation=1, from_version="v1",
                           to_version="v9")
    # The refused change left no trace (one transaction).
    assert registry.get_alias(engine, "kansai").generation == 1
    routes, versions = registry.routing_table(engine)
    assert routes["kansai"].current is not None and routes["kansai"].current.served_name == "kansai@v1"
    assert set(versions) == {"kansai@v1", "kansai@v2"}
    hist = registry.history(engine, "kansai")
    assert [(e.action, e.to_version, e.actor) for e in hist] == [
        ("register", "v1", "alice"), ("register", "v2", "alice"), ("promote", "v1", "bob"),
    ]
    assert verify_audit(engine).ok
    with engine.connect() as c:
        details = [json.loads(d) for (d,) in c.execute(text("SELECT detail FROM prai_audit ORDER BY seq"))]
    assert details[-1]["action"] == "promote" and details[-1]["to"] == "v1" and details[-1]["actor"] == "bob"


def test_registration_refusals(engine) -> None:  # type: ignore[no-untyped-def]
    _reg(engine, "v1", D1)
    with pytest.raises(RegistryError, match="already registered with bundle digest"):
        _reg(engine, "v1", D2)
    with pytest.raises(RegistryError, match="already registered as kansai v1"):
        _reg(engine, "v7", D1)
    with pytest.raises(RegistryError, match="registered as an adapter, not a model"):
        _reg(engine, "v3", D3, kind="model")
    with pytest.raises(UsageError, match="not valid"):
        _reg(engine, "v@1", D3)
    with pytest.raises(UsageError, match="not valid"):
        _reg(engine, "v3", D3, name="kan@sai")
    with pytest.raises(RegistryError, match="SHA-256"):
        _reg(engine, "v3", "abc")
    with pytest.raises(VersionNotFound, match="registered: v1"):
        registry.get_version(engine, "kansai", "v3")
    # register_versions is all or nothing.
    ok = {"name": "samurai", "version": "v1", "kind": "adapter", "digest": D3, "source_bundle": "/b",
          "actor": "a", "base": "base", "path": "/p"}
    bad = {**ok, "name": "kansai", "digest": D2, "version": "v1"}
    with pytest.raises(RegistryError):
        registry.register_versions(engine, [ok, bad])
    assert [a.name for a in registry.list_aliases(engine)] == ["kansai"]


def test_canary_bucket_is_stable_and_spread() -> None:
    assert registry.canary_bucket("kansai", "k1") == registry.canary_bucket("kansai", "k1")
    buckets = [registry.canary_bucket("kansai", f"key{i}") for i in range(2000)]
    share = sum(b < 10 for b in buckets) / len(buckets)
    assert 0.07 < share < 0.13
    assert all(0 <= b < 100 for b in buckets)


def test_records_written_before_the_detail_column_still_verify(tmp_path: Path) -> None:
    """A database from before the registry (no prai_audit.detail) is upgraded in place and
    its hash chain stays valid."""
    db = tmp_path / "old.db"
    eng = open_engine(f"sqlite:///{db}")
    rec = {f: None for f in AUDIT_FIELDS} | {
        "rid": "r1", "ts_us": 1, "endpoint": "chat.completions", "stream": False, "status": 200, "latency_us": 5,
    }
    append_audit(eng, [rec])
    with eng.begin() as c:
        c.execute(text("ALTER TABLE prai_audit DROP COLUMN detail"))
        c.execute(text("DROP TABLE prai_schema"))  # such databases predate schema versions too
    eng.dispose()
    eng = open_engine(f"sqlite:///{db}")
    assert verify_audit(eng).ok
    _reg(eng, "v1", D1)
    assert verify_audit(eng).ok
