"""Charged exactly once across a Redis restarted empty (issue 16).

Real gateway processes, a private redis-server, the echo upstream: Redis is stopped and
started empty between requests, during a stream, while a settlement waits to be retried,
with two gateways and with local leases. Afterwards the budget counters in Redis, the
``x-prai-budget-remaining`` header and ``prai usage`` all equal the tokens the clients were
answered with — nothing counted twice (a settlement and the audit-log seed), nothing lost
(usage settled just before the restart whose audit record was not yet in the database).
"""

from __future__ import annotations

import http.client
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis as syncredis

from prai.gateway.budgets import BudgetClock
from tests._support.fake_openai import FakeOpenAIProcess
from tests.gateway._gwutil import Gateway, RedisServer, TcpProxy, http_json

LIMIT = 1_000_000


@pytest.fixture(scope="module")
def echo_upstream() -> Iterator[FakeOpenAIProcess]:
    up = FakeOpenAIProcess("echo", "fake", echo=True)
    yield up
    up.stop()


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path / "redis").start()
    yield server
    server.stop()


def _cfg(tenant: str, upstream: str, redis_url: str, storage_url: str, journal: Path, *,
         flush_s: float = 0.05, lease_s: float = 0.0, soft_percent: float = 0.001,
         limits: dict[str, Any] | None = None, timeout_s: float = 0.3) -> dict[str, Any]:
    """A tenant budget and a project budget of LIMIT tokens a day; with a tiny soft threshold
    every answer after the first carries ``x-prai-budget-remaining``."""
    budget = {"tokens_per_day": LIMIT, "soft_percent": soft_percent}
    if limits is None:
        limits = {"requests_per_minute": 100_000, "concurrent_requests": 640} if lease_s else {}
    return {
        "upstreams": [{"name": "main", "base_urls": [upstream]}],
        "tenants": [{"name": tenant, "budget": budget,
                     "projects": [{"name": "p", "budget": budget, "limits": limits}]}],
        "ratelimit": {"url": redis_url, "timeout_s": timeout_s, "lease_s": lease_s},
        "storage": {"url": storage_url, "journal_dir": str(journal), "flush_interval_s": flush_s},
    }


def _chat(gw: Gateway, key: str, text: str = "abcdefghij") -> tuple[int, dict[str, str]]:
    """One answer; returns (its total tokens, response headers)."""
    body = {"model": "fake", "messages": [{"role": "user", "content": "ANSWER:" + text}]}
    st, headers, data = http_json(gw.v1("/chat/completions"), body, key=key)
    assert st == 200, (st, data)
    return int(data["usage"]["total_tokens"]), headers


class Stream(threading.Thread):
    """A streamed answer of ``events`` events ``delay_ms`` apart, read in a thread;
    ``started`` is set at the first event, ``tokens`` is the usage the client was sent."""

    def __init__(self, gw: Gateway, key: str, events: int = 20, delay_ms: int = 100) -> None:
        super().__init__(daemon=True)
        self.gw, self.key = gw, key
        self.text = f"DELAY_MS:{delay_ms};ANSWER:" + "s" * (3 * events)
        self.started = threading.Event()
        self.tokens = -1
        self.error: str | None = None

    def run(self) -> None:
        body = {"model": "fake", "stream": True, "stream_options": {"include_usage": True},
                "messages": [{"role": "user", "content": self.text}]}
        conn = http.client.HTTPConnection("127.0.0.1", self.gw.port, timeout=60)
        try:
            conn.request("POST", "/v1/chat/completions", json.dumps(body),
                         {"authorization": f"Bearer {self.key}", "content-type": "application/json"})
            resp = conn.getresponse()
            if resp.status != 200:
                self.error = f"{resp.status} {resp.read()[:300]!r}"
                return
            while line := resp.readline():
                if not line.startswith(b"data: {"):
                    continue
                self.started.set()
                chunk = json.loads(line[6:])
                if chunk.get("usage"):
                    self.tokens = int(chunk["usage"]["total_tokens"])
        finally:
            self.started.set()
            conn.close()

    def result(self) -> int:
        self.join(60)
        assert self.error is None and self.tokens > 0, (self.error, self.tokens)
        return self.tokens


def _restart_empty(redis: RedisServer) -> None:
    redis.stop()
    redis.start()  # same port, nothing saved: every counter, reservation and marker is gone


def _counters(redis_url: str, tenant: str) -> tuple[int, int]:
    """(tenant, project) day usage in Redis, in tokens."""
    r = syncredis.Redis.from_url(redis_url)
    day = BudgetClock().periods()[0].label
    return (int(r.hget(f"prai:{{{tenant}}}:b:t:d:{day}", "t") or 0),
            int(r.hget(f"prai:{{{tenant}}}:b:p:p:d:{day}", "t") or 0))


def _assert_counters(redis_url: str, tenant: str, expected: int, timeout_s: float = 10.0) -> None:
    """Redis's counters reach ``expected`` (settlements run after the answers, resends within
    a second or two) and stay there (nothing charged twice later)."""
    deadline = time.monotonic() + timeout_s
    while (got := _counters(redis_url, tenant)) != (expected, expected) and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(1.5)
    assert _counters(redis_url, tenant) == (expected, expected), (got, expected)


def _usage_total(gw: Gateway, tenant: str, requests: int, timeout_s: float = 15.0) -> int:
    """`prai usage --tenant T` total tokens once the audit log has ``requests`` requests."""
    deadline = time.monotonic() + timeout_s
    while True:
        out = gw.cli("usage", "-c", str(gw.config), "--tenant", tenant, "--format", "json").stdout
        rows = json.loads(out)
        if (rows and sum(r["requests"] for r in rows) >= requests) or time.monotonic() > deadline:
            return sum(int(r["total_tokens"]) for r in rows)
        time.sleep(0.3)


def _remaining(gw: Gateway, key: str) -> tuple[int, int]:
    """(x-prai-budget-remaining of one more answer, that answer's tokens)."""
    tokens, headers = _chat(gw, key)
    return int(headers["x-prai-budget-remaining"]), tokens


def _assert_charged_once(gw: Gateway, key: str, redis_url: str, tenant: str, total: int,
                         requests: int) -> None:
    """Redis's counters hold ``total``; one more answer reports the rest of the budget, and
    `prai usage` the same total once ``requests`` records (that one included) are stored."""
    _assert_counters(redis_url, tenant, total)
    remaining, tokens = _remaining(gw, key)
    assert remaining == LIMIT - total
    assert _usage_total(gw, tenant, requests) == total + tokens
    _no_tracebacks([gw])


def _gateways(make_gateway: Callable[..., Gateway], n: int, tenant: str, upstream: str, redis_url: str,
              storage_url: str, tmp: Path, **kw: Any) -> list[Gateway]:
    return [make_gateway(_cfg(tenant, upstream, redis_url, storage_url, tmp / f"journal{i}", **kw),
                         sub=f"g{i}").start() for i in range(n)]


def _tenant() -> str:
    return "x" + uuid.uuid4().hex[:8]


def _no_tracebacks(gws: list[Gateway]) -> None:
    for g in gws:
        g.stop()
        out = g.output()
        assert "Traceback" not in out, out[-3000:]


def test_restart_between_requests_loses_nothing(
    make_gateway: Callable[..., Gateway], echo_upstream: FakeOpenAIProcess, redis_server: RedisServer,
    tmp_path: Path,
) -> None:
    """Usage settled just before Redis restarts empty, whose audit records are still in the
    journal when the counters are seeded again, is charged (not lost)."""
    tenant = _tenant()
    (gw,) = _gateways(make_gateway, 1, tenant, echo_upstream.url, redis_server.url,
                      f"sqlite:///{tmp_path / 'gw.db'}", tmp_path, flush_s=1.5)
    key = gw.key(tenant, "p")
    total = sum(_chat(gw, key)[0] for _ in range(3))
    time.sleep(0.3)  # settled in Redis; the audit records wait for the next flush
    _restart_empty(redis_server)
    total += sum(_chat(gw, key)[0] for _ in range(3))  # the first one seeds from the audit log
    _assert_charged_once(gw, key, redis_server.url, tenant, total, 7)


def _one_answer_then_a_stream(
    make_gateway: Callable[..., Gateway], echo_upstream: FakeOpenAIProcess, redis_server: RedisServer,
    tmp_path: Path, events: int,
) -> tuple[Gateway, str, str, int, Stream]:
    """One gateway (SQLite audit) for a new tenant: one answer, then a stream of ``events``
    events 100 ms apart that has started. (gateway, tenant, key, tokens so far, stream)"""
    tenant = _tenant()
    (gw,) = _gateways(make_gateway, 1, tenant, echo_upstream.url, redis_server.url,
                      f"sqlite:///{tmp_path / 'gw.db'}", tmp_path)
    key = gw.key(tenant, "p")
    total = _chat(gw, key)[0]
    s = Stream(gw, key, events=events, delay_ms=100)
    s.start()
    assert s.started.wait(10)
    return gw, tenant, key, total, s


def test_restart_during_a_stream_charges_it_once(
    make_gateway: Callable[..., Gateway], echo_upstream: FakeOpenAIProcess, redis_server: RedisServer,
    tmp_path: Path,
) -> None:
    """A stream admitted before the restart ends after it; its audit record is in the
    database before anything seeds the counters: charged once, not by both."""
    gw, tenant, key, total, s = _one_answer_then_a_stream(
        make_gateway, echo_upstream, redis_server, tmp_path, events=15
    )
    _restart_empty(redis_server)
    total += s.result()
    time.sleep(1.0)  # settled into the empty Redis; its audit record reaches the database
    total += _chat(gw, key)[0]  # seeds the counters from the audit log
    _assert_charged_once(gw, key, redis_server.url, tenant, total, 4)


def test_settlement_retried_after_the_restart_is_not_double_counted(
    make_gateway: Callable[..., Gateway], echo_upstream: FakeOpenAIProcess, redis_server: RedisServer,
    tmp_path: Path,
) -> None:
    """A stream ends while Redis is down: its settlement waits and is retried once Redis is
    back empty — after its audit record reached the database and seeds the counter."""
    gw, tenant, key, total, s = _one_answer_then_a_stream(
        make_gateway, echo_upstream, redis_server, tmp_path, events=8
    )
    redis_server.stop()
    total += s.result()  # the settlement fails: retried in the background
    time.sleep(0.5)  # the stream's audit record is in the database
    redis_server.start()  # empty
    time.sleep(1.5)  # the retried settlement reaches Redis
    total += _chat(gw, key)[0]
    _assert_charged_once(gw, key, redis_server.url, tenant, total, 4)


def test_two_gateways_restart_with_streams_and_pending_audit(
    make_gateway: Callable[..., Gateway], echo_upstream: FakeOpenAIProcess, redis_server: RedisServer,
    pg_database: str, tmp_path: Path,
) -> None:
    """Two gateways on PostgreSQL: streams on both span the restart, one of them flushes its
    audit journal slowly; both see the same exact budget afterwards."""
    tenant = _tenant()
    fast = make_gateway(_cfg(tenant, echo_upstream.url, redis_server.url, pg_database, tmp_path / "j0"),
                        sub="g0").start()
    slow = make_gateway(_cfg(tenant, echo_upstream.url, redis_server.url, pg_database, tmp_path / "j1",
                             flush_s=1.5), sub="g1").start()
    key = fast.key(tenant, "p")
    total = sum(_chat(g, key)[0] for g in (fast, slow, fast, slow))
    streams = [Stream(g, key, events=n, delay_ms=100) for g, n in ((fast, 12), (slow, 20), (slow, 6))]
    for s in streams:
        s.start()
    for s in streams:
        assert s.started.wait(10)
    total += _chat(slow, key)[0]  # settled just before the restart, its record not yet stored
    _restart_empty(redis_server)
    total += sum(_chat(g, key)[0] for g in (fast, slow, fast))  # seeds: fast's first
    total += sum(s.result() for s in streams)
    _assert_counters(redis_server.url, tenant, total)
    extra = 0
    for g in (fast, slow):
        remaining, tokens = _remaining(g, key)
        assert remaining == LIMIT - total - extra
        extra += tokens
    assert _usage_total(fast, tenant, 14) == total + extra
    _no_tracebacks([fast, slow])


def test_an_answer_that_ended_is_settled_for_every_gateway(
    make_gateway: Callable[..., Gateway], echo_upstream: FakeOpenAIProcess, redis_server: RedisServer,
    tmp_path: Path,
) -> None:
    """A client's next request may go to another gateway as soon as its answer ended: that
    gateway counts the answer's usage (not its reservation: 33 tokens held, 15 used) and
    finds its concurrency slot free. Gateway ``slow`` reaches Redis over a link 0.4 s slow,
    so a settlement sent after the answer's last byte would arrive long after the next
    admission (the race that made the two-gateway test above see 18 tokens too many)."""
    tenant = _tenant()
    proxy = TcpProxy("127.0.0.1", redis_server.port, delay_s=0.4)
    db = f"sqlite:///{tmp_path / 'gw.db'}"
    one_at_a_time = {"concurrent_requests": 1}
    try:
        slow = make_gateway(_cfg(tenant, echo_upstream.url, f"redis://127.0.0.1:{proxy.port}/0", db,
                                 tmp_path / "j0", limits=one_at_a_time, timeout_s=3.0), sub="g0").start()
        fast = make_gateway(_cfg(tenant, echo_upstream.url, redis_server.url, db, tmp_path / "j1",
                                 limits=one_at_a_time, timeout_s=3.0), sub="g1").start()
        key = fast.key(tenant, "p")
        total = _chat(fast, key)[0]  # seeds the counters
        for i in range(4):
            if i < 3:
                total += _chat(slow, key)[0]
            else:
                stream = Stream(slow, key, events=4, delay_ms=10)
                stream.start()
                total += stream.result()
            remaining, tokens = _remaining(fast, key)  # at once, on the other gateway
            assert remaining == LIMIT - total, (i, remaining, LIMIT - total)
            total += tokens
        _assert_counters(redis_server.url, tenant, total)
        _no_tracebacks([slow, fast])
    finally:
        proxy.down()


def test_leases_returned_after_the_restart_count_once(
    make_gateway: Callable[..., Gateway], echo_upstream: FakeOpenAIProcess, redis_server: RedisServer,
    tmp_path: Path,
) -> None:
    """Two gateways with local leases: requests admitted from a lease before the restart
    are in the audit log when the counters are seeded; the lease given back afterwards
    does not charge them again, and requests admitted after the restart are charged."""
    tenant = _tenant()
    gws = _gateways(make_gateway, 2, tenant, echo_upstream.url, redis_server.url,
                    f"sqlite:///{tmp_path / 'gw.db'}", tmp_path, lease_s=2.0, soft_percent=100)
    key = gws[0].key(tenant, "p")
    total = 0
    for i in range(16):
        total += _chat(gws[i % 2], key)[0]
    time.sleep(0.5)  # audit records in the database; the leases are still held
    _restart_empty(redis_server)
    for i in range(16):
        total += _chat(gws[i % 2], key)[0]
    for g in gws:
        g.stop()  # gives the leases back
    _assert_counters(redis_server.url, tenant, total)
    assert _usage_total(gws[0], tenant, 32) == total
    for g in gws:
        assert "Traceback" not in g.output()


def _calls(r: syncredis.Redis, *names: str) -> int:
    stats = r.info("commandstats")
    return sum(int(stats.get(f"cmdstat_{n}", {}).get("calls", 0)) for n in names)


def test_without_restarts_a_request_still_costs_two_script_calls(
    make_gateway: Callable[..., Gateway], echo_upstream: FakeOpenAIProcess, redis_server: RedisServer,
    tmp_path: Path,
) -> None:
    """The bookkeeping adds no round trip: one script call admits, one settles; the
    generation is read once a second while settled usage waits for the audit log."""
    tenant = _tenant()
    (gw,) = _gateways(make_gateway, 1, tenant, echo_upstream.url, redis_server.url,
                      f"sqlite:///{tmp_path / 'gw.db'}", tmp_path)
    key = gw.key(tenant, "p")
    total = sum(_chat(gw, key)[0] for _ in range(3))  # counters seeded
    _assert_counters(redis_server.url, tenant, total)
    r = syncredis.Redis.from_url(redis_server.url)
    scripts0, gets0 = _calls(r, "evalsha", "eval"), _calls(r, "get")
    t0 = time.monotonic()
    n = 60
    total += sum(_chat(gw, key)[0] for _ in range(n))
    _assert_counters(redis_server.url, tenant, total)
    elapsed = time.monotonic() - t0
    assert _calls(r, "evalsha", "eval") - scripts0 == 2 * n
    # the scripts read the generation (one GET each); the settled log's check once a second
    assert 2 * n <= _calls(r, "get") - gets0 <= 2 * n + elapsed + 2
    _no_tracebacks([gw])


# --- the limiter on a private Redis, with an audit log of its own ----------------------


class FakeAudit:
    """An audit log in memory: ``store(rid, tokens)`` gives the next sequence number;
    seeds and lookups answer like :func:`seed_usage` and :func:`audit_seqs`."""

    def __init__(self) -> None:
        self.head = 0
        self.records: dict[str, tuple[int, int]] = {}  # rid → (seq, tokens)
        self.journaled = self.stored = 0

    def journal(self) -> None:
        self.journaled += 1

    def store(self, rid: str, tokens: int) -> None:
        self.head += 1
        self.records[rid] = (self.head, tokens)
        self.stored += 1

    def seed(self, budget: Any, period: Any) -> tuple[int, int, int]:
        return sum(t for s, t in self.records.values() if s <= self.head), 0, self.head

    def seqs(self, rids: list[str]) -> tuple[int, dict[str, int]]:
        return self.head, {r: self.records[r][0] for r in rids if r in self.records}


def _limiter(url: str, tenant: str, audit: FakeAudit, now: list[float], **kw: Any) -> Any:
    from prai.config.gateway import GatewayConfig
    from prai.gateway.ratelimit import Limiter

    cfg = GatewayConfig.model_validate({
        "tenants": [{"name": tenant, "projects": [{"name": "p", "budget": {"tokens_per_day": LIMIT}}]}],
        "ratelimit": {"url": url, "lease_s": 0},  # request by request: the settlement calls
    })
    lim = Limiter(cfg, usage_source=audit.seed, seq_source=audit.seqs,
                  audit_marks=lambda: (audit.journaled, audit.stored), **kw)
    lim.clock.now = lambda: now[0]
    lim.watch_interval_s = 0.05
    return lim


def _day_tokens(url: str, tenant: str, now: float) -> int:
    day = BudgetClock().periods(now)[0].label
    return int(syncredis.Redis.from_url(url).hget(f"prai:{{{tenant}}}:b:p:p:d:{day}", "t") or 0)


def _settle_call(charge: Any, tokens: int) -> Any:
    from prai.gateway._limittypes import SettleCall

    return SettleCall(charge.call, charge.call.now, [], tokens, 0)


def test_limiter_each_settlement_applies_once(redis_server: RedisServer) -> None:
    """A settlement sent twice (a retry after a lost answer) counts once, in the same
    generation (its reservation entry is gone) and across a flush (its marker)."""
    import asyncio

    t, audit, now = _tenant(), FakeAudit(), [1_773_000_000.0]
    r = syncredis.Redis.from_url(redis_server.url)

    async def run() -> None:
        lim = _limiter(redis_server.url, t, audit, now)
        a = await lim.admit(tenant=t, project="p", key_id="k", rid="r-a", prompt_tokens=1, reserve_tokens=50)
        call = _settle_call(a, 10)
        for _ in range(2):
            await lim._settle_call(call)
        assert _day_tokens(redis_server.url, t, now[0]) == 10
        b = await lim.admit(tenant=t, project="p", key_id="k", rid="r-b", prompt_tokens=1, reserve_tokens=50)
        audit.store("r-a", 10)  # a's record is stored, b's is not
        r.flushall()  # Redis restarts empty: b's reservation is gone
        c = await lim.admit(tenant=t, project="p", key_id="k", rid="r-c", prompt_tokens=1)  # seeds: 10, cut 1
        assert _day_tokens(redis_server.url, t, now[0]) == 10
        call_b = _settle_call(b, 7)
        for _ in range(3):
            await lim._settle_call(call_b)  # after the cut: applied once, then its marker
        await lim._settle_call(_settle_call(c, 5))
        await asyncio.sleep(0.2)  # the settled log sends a's usage again: in the seed, adds nothing
        assert _day_tokens(redis_server.url, t, now[0]) == 22
        await lim.close()

    asyncio.run(run())


def test_limiter_settlement_of_a_request_in_the_seed_is_skipped(redis_server: RedisServer) -> None:
    """Admitted before the flush, its record stored before the counter is seeded again:
    the seed holds it, the settlement adds nothing (also when it seeds the counter itself)."""
    import asyncio

    t, audit, now = _tenant(), FakeAudit(), [1_773_000_000.0]
    r = syncredis.Redis.from_url(redis_server.url)

    async def run() -> None:
        lim = _limiter(redis_server.url, t, audit, now)
        a = await lim.admit(tenant=t, project="p", key_id="k", rid="r-a", prompt_tokens=1)
        b = await lim.admit(tenant=t, project="p", key_id="k", rid="r-b", prompt_tokens=1)
        r.flushall()
        audit.store("r-a", 10)
        await lim._settle_call(_settle_call(a, 10))  # the counter is missing: seeded here (10, cut 1)
        assert _day_tokens(redis_server.url, t, now[0]) == 10
        audit.store("r-b", 4)
        await lim._settle_call(_settle_call(b, 4))  # record after the cut: added
        assert _day_tokens(redis_server.url, t, now[0]) == 14
        await lim.close()

    asyncio.run(run())


def test_limiter_stale_reservation_still_settles_once(redis_server: RedisServer) -> None:
    """A reservation dropped as stale (its gateway looked dead) leaves a tombstone: the late
    settlement is charged once, a repeat of it not again."""
    import asyncio

    t, audit, now = _tenant(), FakeAudit(), [1_773_000_000.0]

    async def run() -> None:
        lim = _limiter(redis_server.url, t, audit, now, stale_after_s=5.0)
        a = await lim.admit(tenant=t, project="p", key_id="k", rid="r-a", prompt_tokens=1, reserve_tokens=50)
        now[0] += 10
        await lim.admit(tenant=t, project="p", key_id="k", rid="r-b", prompt_tokens=1)  # drops a's
        call = _settle_call(a, 9)
        for _ in range(2):
            await lim._settle_call(call)
        assert _day_tokens(redis_server.url, t, now[0]) == 9
        await lim.close()

    asyncio.run(run())


def test_limiter_usage_settled_before_the_flush_is_sent_again(redis_server: RedisServer) -> None:
    """Settled in Redis, its record not stored yet, then Redis restarts empty and the
    counter is seeded without it: the settled log sends it again (once)."""
    import asyncio

    t, audit, now = _tenant(), FakeAudit(), [1_773_000_000.0]
    r = syncredis.Redis.from_url(redis_server.url)

    async def run() -> None:
        lim = _limiter(redis_server.url, t, audit, now)
        a = await lim.admit(tenant=t, project="p", key_id="k", rid="r-a", prompt_tokens=1)
        audit.journal()
        await lim.settle(a, real_tokens=12, wait=True)
        assert lim.settled_log is not None and len(lim.settled_log) == 1
        r.flushall()
        await lim.admit(tenant=t, project="p", key_id="k", rid="r-b", prompt_tokens=1)  # seeds 0
        for _ in range(50):
            await asyncio.sleep(0.05)
            if _day_tokens(redis_server.url, t, now[0]) == 12:
                break
        assert _day_tokens(redis_server.url, t, now[0]) == 12 and lim.resolved == 1
        audit.store("r-a", 12)  # stored now, after the cut: the resend's marker keeps it once
        await asyncio.sleep(0.3)
        assert _day_tokens(redis_server.url, t, now[0]) == 12
        assert len(lim.settled_log) == 0  # stored while the generation held: forgotten
        await lim.close()

    asyncio.run(run())
