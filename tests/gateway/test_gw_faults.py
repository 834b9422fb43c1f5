"""The gateway rides out its stores' faults: Redis stopped and started (503 then recovery,
or fail_open), PostgreSQL unreachable and back with zero lost audit records, the
journal's bound, and three replicas starting at once on an empty PostgreSQL database."""

from __future__ import annotations

import signal
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from prai.db.engine import open_engine
from prai.db.migrations import MIGRATIONS, schema_version
from prai.db.schema import audit_table
from prai.gateway.auth import create_key
from tests.gateway._gwutil import FakeUpstream, Gateway, RedisServer, TcpProxy, free_port, http_json

CHAT = {"model": "fake", "messages": [{"role": "user", "content": "hi"}]}


def _chat(gw: Gateway, key: str) -> tuple[int, dict[str, str], Any]:
    return http_json(gw.v1("/chat/completions"), CHAT, key=key)


def _until_200(gw: Gateway, key: str, timeout_s: float = 15.0) -> float:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout_s:
        if _chat(gw, key)[0] == 200:
            return time.monotonic() - t0
        time.sleep(0.1)
    raise AssertionError(f"{gw.url} did not recover within {timeout_s} s")


def _limited(tenant: str) -> list[dict[str, Any]]:
    return [{"name": tenant, "projects": [{"name": "p", "limits": {"requests_per_minute": 100000},
                                            "budget": {"tokens_per_day": 10**9}}]}]


def test_unreachable_redis_at_start_is_one_warning_line(
    make_gateway: Callable[..., Gateway], fake_upstream: FakeUpstream, tmp_path: Path
) -> None:
    """The gateway starts (it recovers when Redis comes back) but says at once that requests
    get 503 meanwhile, naming the URL (never its password)."""
    closed = free_port()
    url = f"redis://:s3cret@127.0.0.1:{closed}/0"
    tenant = "w" + uuid.uuid4().hex[:8]
    gw = make_gateway({
        "upstreams": [{"name": "main", "base_urls": [fake_upstream.url]}],
        "tenants": _limited(tenant),
        "ratelimit": {"url": url, "timeout_s": 0.3},
    }).start()
    key = gw.key(tenant, "p")
    assert _chat(gw, key)[0] == 503
    gw.stop()
    out = gw.output()
    warnings = [line for line in out.splitlines() if line.startswith("warning: gateway.ratelimit.url")]
    assert len(warnings) == 1, out[-2000:]
    assert f"redis://:***@127.0.0.1:{closed}/0 is unreachable" in warnings[0], warnings
    assert "requests get 503 until it is reachable (fail_closed" in warnings[0], warnings
    assert "s3cret" not in out and "Traceback" not in out


def _until_503(gw: Gateway, key: str, timeout_s: float) -> tuple[int, dict[str, str], Any]:
    t0 = time.monotonic()
    while True:
        answer = _chat(gw, key)
        if answer[0] != 200 or time.monotonic() - t0 > timeout_s:
            return answer
        time.sleep(0.05)


@pytest.mark.parametrize("lease_s", [0, None], ids=["request_by_request", "default_leases"])
def test_redis_stopped_and_started_two_gateways(
    make_gateway: Callable[..., Gateway], fake_upstream: FakeUpstream, tmp_path: Path, lease_s: float | None
) -> None:
    """Request by request the next request sees the outage; with the default leases (1 s
    with Redis) a process admits from its lease for at most ``lease_s``, then 503s too."""
    redis = RedisServer(tmp_path / "redis").start()
    tenant = "f" + uuid.uuid4().hex[:8]
    ratelimit: dict[str, Any] = {"url": redis.url, "timeout_s": 0.3}
    if lease_s is not None:
        ratelimit["lease_s"] = lease_s
    cfg = {
        "upstreams": [{"name": "main", "base_urls": [fake_upstream.url]}],
        "tenants": _limited(tenant),
        "ratelimit": ratelimit,
        "storage": {"url": f"sqlite:///{tmp_path / 'gw.db'}", "journal_dir": str(tmp_path / "j"),
                    "flush_interval_s": 0.05},
    }
    try:
        gws = [make_gateway(cfg, sub=f"g{i}").start() for i in range(2)]
        key = gws[0].key(tenant, "p")
        assert [_chat(g, key)[0] for g in gws] == [200, 200]
        redis.stop()
        for g in gws:
            # leases: 1 s by default, plus a busy machine's margin
            st, _, body = _chat(g, key) if lease_s == 0 else _until_503(g, key, 1.0 + 2.0)
            assert st == 503, body
            err = body["error"]
            assert err["type"] == "service_unavailable" and err["code"] == 503
            assert "limit store cannot be reached" in err["message"] and "hint:" in err["message"]
            assert g.metric('prai_gateway_limit_store_errors_total{action="refused"}') >= 1
        redis.start()  # same port, empty: counters and budgets come back (seeded from the audit log)
        for g in gws:
            _until_200(g, key)
    finally:
        redis.stop()
    for g in gws:
        g.stop()
        out = g.output()
        assert "Traceback" not in out and "limit store" in out, out[-2000:]


def test_hung_redis_is_refused_at_once_after_the_first_timeout(
    make_gateway: Callable[..., Gateway], fake_upstream: FakeUpstream, tmp_path: Path
) -> None:
    """A Redis that accepts but never answers (SIGSTOP): the first request waits
    ``timeout_s``, then requests get 503 at once (not another timeout each) and readiness
    says so; Redis answering again: admitted again, with one log line each way."""
    redis = RedisServer(tmp_path / "redis").start()
    tenant = "h" + uuid.uuid4().hex[:8]
    gw = make_gateway({
        "upstreams": [{"name": "main", "base_urls": [fake_upstream.url]}],
        "tenants": _limited(tenant),
        "ratelimit": {"url": redis.url, "timeout_s": 1.5, "lease_s": 0},
    }).start()
    try:
        key = gw.key(tenant, "p")
        assert _chat(gw, key)[0] == 200
        assert redis.proc is not None
        redis.proc.send_signal(signal.SIGSTOP)
        t0 = time.monotonic()
        st, _, body = _chat(gw, key)
        assert st == 503 and time.monotonic() - t0 >= 1.4, body  # the first one waits timeout_s
        for _ in range(5):
            t0 = time.monotonic()
            st, _, body = _chat(gw, key)
            assert st == 503 and "limit store cannot be reached" in body["error"]["message"], body
            assert time.monotonic() - t0 < 0.5, "a request waited for a store known to be down"
        assert http_json(gw.url + "/readyz")[0] == 503
        redis.proc.send_signal(signal.SIGCONT)
        _until_200(gw, key)
    finally:
        if redis.proc is not None:
            redis.proc.send_signal(signal.SIGCONT)
        redis.stop()
    gw.stop()
    out = gw.output()
    assert "unreachable (TimeoutError: no answer within timeout_s 1.5 s)" in out, out[-2000:]
    assert "reachable again: requests are admitted" in out and "Traceback" not in out, out[-2000:]


def test_redis_down_with_fail_open(
    make_gateway: Callable[..., Gateway], fake_upstream: FakeUpstream, tmp_path: Path
) -> None:
    redis = RedisServer(tmp_path / "redis").start()
    tenant = "o" + uuid.uuid4().hex[:8]
    gw = make_gateway(
        {
            "upstreams": [{"name": "main", "base_urls": [fake_upstream.url]}],
            "tenants": _limited(tenant),
            "ratelimit": {"url": redis.url, "fail_open": True, "timeout_s": 0.3},
        }
    ).start()
    key = gw.key(tenant, "p")
    redis.stop()
    assert [_chat(gw, key)[0] for _ in range(3)] == [200, 200, 200]
    assert gw.metric('prai_gateway_limit_store_errors_total{action="admitted"}') == 3
    assert http_json(gw.url + "/readyz")[:3:2] == (200, {"status": "ready", "healthy_replicas": 1, "replicas": 1})


def _audit_rows(url: str) -> set[str]:
    engine = open_engine(url)
    try:
        with engine.connect() as c:
            return {r[0] for r in c.execute(select(audit_table.c.rid))}
    finally:
        engine.dispose()


def test_postgres_unreachable_and_back_loses_no_audit_record(
    make_gateway: Callable[..., Gateway], fake_upstream: FakeUpstream, pg_database: str, tmp_path: Path
) -> None:
    host_port = pg_database.split("@", 1)[1].split("/", 1)[0]
    proxy = TcpProxy("127.0.0.1", int(host_port.rsplit(":", 1)[1]))
    via_proxy = pg_database.replace(host_port, f"127.0.0.1:{proxy.port}")

    def cfg(i: int) -> dict[str, Any]:
        return {
            "upstreams": [{"name": "main", "base_urls": [fake_upstream.url]}],
            "tenants": [{"name": "acme", "projects": [{"name": "chat"}]}],
            "storage": {"url": via_proxy, "journal_dir": str(tmp_path / f"j{i}"), "flush_interval_s": 0.05,
                        "journal_max_records": 1000},
        }

    gws = [make_gateway(cfg(i), sub=f"g{i}").start() for i in range(2)]
    key = gws[0].key("acme", "chat")
    rids = set()
    for g in gws:
        for _ in range(3):
            st, headers, _ = _chat(g, key)
            assert st == 200
            rids.add(headers["x-prai-request-id"])
    proxy.down()
    for g in gws:
        for _ in range(10):
            st, headers, _ = _chat(g, key)
            assert st == 200  # requests keep flowing while the database is away
            rids.add(headers["x-prai-request-id"])
    time.sleep(0.5)
    assert sum(g.metric("prai_gateway_audit_pending_records") for g in gws) >= 10
    proxy.up()
    deadline = time.monotonic() + 20
    while (stored := _audit_rows(pg_database)) < rids and time.monotonic() < deadline:
        time.sleep(0.2)
    assert rids <= stored, f"lost: {len(rids - stored)}"
    assert len(stored) == len(rids)  # nothing duplicated either
    res = gws[0].cli("audit", "verify", "-c", str(gws[0].config))
    assert f"{len(rids)} records, hash chain intact" in res.stdout
    for g in gws:
        g.stop()
        assert "Traceback" not in g.output()


def _gateway_behind_a_db_proxy(
    make_gateway: Callable[..., Gateway], fake_upstream: FakeUpstream, pg_database: str, tmp_path: Path,
    **storage: Any,
) -> tuple[Gateway, TcpProxy]:
    """A started gateway whose PostgreSQL is reached through a TcpProxy the test can cut."""
    host_port = pg_database.split("@", 1)[1].split("/", 1)[0]
    proxy = TcpProxy("127.0.0.1", int(host_port.rsplit(":", 1)[1]))
    gw = make_gateway(
        {
            "upstreams": [{"name": "main", "base_urls": [fake_upstream.url]}],
            "tenants": [{"name": "acme", "projects": [{"name": "chat"}]}],
            "storage": {"url": pg_database.replace(host_port, f"127.0.0.1:{proxy.port}"),
                        "journal_dir": str(tmp_path / "j"), "flush_interval_s": 0.05, **storage},
        }
    ).start()
    return gw, proxy


def test_journal_bound_answers_503_until_the_database_is_back(
    make_gateway: Callable[..., Gateway], fake_upstream: FakeUpstream, pg_database: str, tmp_path: Path
) -> None:
    gw, proxy = _gateway_behind_a_db_proxy(make_gateway, fake_upstream, pg_database, tmp_path,
                                           journal_max_records=3)
    key = gw.key("acme", "chat")
    _until_200(gw, key)  # the gateway knows the key before its database goes away
    deadline = time.monotonic() + 10
    while not _audit_rows(pg_database) and time.monotonic() < deadline:
        time.sleep(0.1)
    before = len(_audit_rows(pg_database))
    proxy.down()
    codes = [_chat(gw, key)[0] for _ in range(3)]
    st, _, body = _chat(gw, key)
    assert codes == [200, 200, 200] and st == 503
    assert body["error"]["type"] == "service_unavailable" and "journal" in body["error"]["message"]
    proxy.up()
    _until_200(gw, key)
    deadline = time.monotonic() + 10
    while len(_audit_rows(pg_database)) < before + 4 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert len(_audit_rows(pg_database)) >= before + 4  # the 3 held records and the one after recovery


def test_a_new_key_while_the_key_database_is_down_is_503_not_401(
    make_gateway: Callable[..., Gateway], fake_upstream: FakeUpstream, pg_database: str, tmp_path: Path
) -> None:
    """A key created a moment before the database went away cannot be judged: the gateway says
    its key database does not answer (503, retry) instead of calling the key invalid."""
    gw, proxy = _gateway_behind_a_db_proxy(make_gateway, fake_upstream, pg_database, tmp_path)
    known = gw.key("acme", "chat")
    _until_200(gw, known)
    proxy.down()
    db = open_engine(pg_database)  # the database itself answers; the gateway's way to it is cut
    fresh = create_key(db, tenant="acme", project="chat").key
    db.dispose()
    st, _, body = _chat(gw, fresh)
    assert st == 503 and body["error"]["type"] == "service_unavailable", body
    assert "key database" in body["error"]["message"] and "gateway.storage.url" in body["error"]["message"]
    assert _chat(gw, known)[0] == 200  # keys already known keep working
    proxy.up()
    _until_200(gw, fresh)


def test_three_replicas_start_at_once_on_an_empty_database(
    make_gateway: Callable[..., Gateway], fake_upstream: FakeUpstream, pg_database: str, tmp_path: Path
) -> None:
    gws = [
        make_gateway(
            {
                "upstreams": [{"name": "main", "base_urls": [fake_upstream.url]}],
                "tenants": [{"name": "acme", "projects": [{"name": "chat"}]}],
                "storage": {"url": pg_database, "journal_dir": str(tmp_path / f"j{i}")},
            },
            sub=f"g{i}",
        )
        for i in range(3)
    ]
    for g in gws:
        g.launch()  # all three at the same moment, on a database without tables
    for g in gws:
        g.wait(60)
    key = gws[0].key("acme", "chat")
    time.sleep(0.5)
    assert [_chat(g, key)[0] for g in gws] == [200, 200, 200]
    engine = open_engine(pg_database)
    with engine.connect() as c:
        assert schema_version(c) == len(MIGRATIONS)
        assert c.execute(select(func.count()).select_from(audit_table)).scalar() >= 0
    engine.dispose()
