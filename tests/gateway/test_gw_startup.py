"""Starting the gateway with a wrong setting: a bad --log-level is a usage error, a Redis
database index out of range, an unusable journal_dir and leases on memory:// are refused with error + hint (an
unreachable Redis still only warns: test_gw_faults.py), and postgres:// is read as
postgresql://."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from prai.config import load_kitchen
from prai.errors import ConfigError
from tests.gateway._gwutil import FakeUpstream, Gateway, RedisServer, http_json, tenants


def _cfg(upstream: FakeUpstream, **extra: object) -> dict[str, object]:
    return {"upstreams": [{"name": "main", "base_urls": [upstream.url]}], "tenants": tenants(), **extra}


@pytest.mark.parametrize("workers", ["1", "2"])
def test_unknown_log_level_is_a_usage_error(
    make_gateway: Callable[..., Gateway], fake_upstream: FakeUpstream, workers: str
) -> None:
    gw = make_gateway(_cfg(fake_upstream))
    res = gw.cli("gateway", "-c", str(gw.config), "--log-level", "chatty", "--workers", workers, check=False)
    assert res.returncode == 2, res.stderr
    assert "Traceback" not in res.stderr and "KeyError" not in res.stderr, res.stderr
    lines = res.stderr.strip().splitlines()
    assert lines[0].startswith("error: Invalid value for '--log-level'") and "chatty" in lines[0], lines
    for level in ("critical", "error", "warning", "info", "debug"):
        assert level in lines[0], lines
    assert lines[1] == "hint: see `prai gateway --help`" and len(lines) == 2, lines


def test_log_level_is_case_insensitive(make_gateway: Callable[..., Gateway], fake_upstream: FakeUpstream) -> None:
    gw = make_gateway(_cfg(fake_upstream), extra_args=["--log-level", "DEBUG"]).start()
    assert http_json(gw.url + "/readyz")[0] == 200


def test_redis_db_index_out_of_range_refuses_to_start(
    make_gateway: Callable[..., Gateway], fake_upstream: FakeUpstream, tmp_path: Path
) -> None:
    redis = RedisServer(tmp_path / "redis", "--requirepass", "s3cret").start()
    try:
        url = f"redis://:s3cret@127.0.0.1:{redis.port}/99"
        gw = make_gateway(_cfg(fake_upstream, ratelimit={"url": url, "timeout_s": 1}))
        res = gw.cli("gateway", "-c", str(gw.config), check=False)
    finally:
        redis.stop()
    assert res.returncode == 2, res.stderr
    out = res.stderr
    assert "Traceback" not in out and "s3cret" not in out and "warning:" not in out, out
    lines = out.strip().splitlines()
    assert len(lines) == 2, lines
    assert lines[0].startswith(f"error: gateway.ratelimit.url redis://:***@127.0.0.1:{redis.port}/99"), lines
    assert "DB index is out of range" in lines[0], lines
    assert lines[1].startswith("hint: Redis has 16 databases by default, 0-15") and "redis.conf" in lines[1]


def test_unusable_journal_dir_refuses_to_start_in_one_line(
    make_gateway: Callable[..., Gateway], fake_upstream: FakeUpstream, tmp_path: Path
) -> None:
    """A journal_dir below a file: one error line naming the field, a hint, exit 2 — not
    "listening", uvicorn's ERROR lines and an unclosed-session warning."""
    (tmp_path / "a-file").write_text("")
    journal = tmp_path / "a-file" / "journal"
    gw = make_gateway(_cfg(fake_upstream, storage={"url": f"sqlite:///{tmp_path / 'gw.db'}",
                                                   "journal_dir": str(journal)}))
    res = gw.cli("gateway", "-c", str(gw.config), check=False)
    lines = res.stderr.strip().splitlines()
    assert res.returncode == 2 and len(lines) == 2, res.stderr
    assert lines[0] == f"error: gateway.storage.journal_dir {journal}: cannot be used (Not a directory)", lines
    assert lines[1].startswith("hint: point it at a folder this user can write"), lines
    assert not res.stdout, res.stdout


def test_lease_on_memory_store_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "kitchen.yaml"
    path.write_text("gateway:\n  ratelimit: {url: 'memory://', lease_s: 2}\n")
    with pytest.raises(ConfigError) as e:
        load_kitchen(path)
    msg = str(e.value)
    assert "gateway.ratelimit" in msg and "lease_s: 2 needs a Redis store" in msg, msg
    assert "Value error" not in msg, msg  # pydantic's prefix is not ours to show
    assert "set lease_s: 0, or url: redis://" in msg, msg
    path.write_text("gateway:\n  ratelimit: {url: 'redis://127.0.0.1:6379/0', lease_s: 2}\n")
    assert load_kitchen(path).gateway.ratelimit.lease_s == 2


@pytest.mark.parametrize(("ratelimit", "lease_s"), [
    ("{url: 'memory://'}", 0.0),
    ("{url: 'redis://127.0.0.1:6379/0'}", 1.0),  # leases by default with Redis
    ("{url: 'redis+cluster://127.0.0.1:7000'}", 1.0),
    ("{url: 'redis://127.0.0.1:6379/0', lease_s: 0}", 0.0),  # request by request, asked for
])
def test_leases_are_the_default_with_redis(tmp_path: Path, ratelimit: str, lease_s: float) -> None:
    path = tmp_path / "kitchen.yaml"
    path.write_text(f"gateway:\n  ratelimit: {ratelimit}\n")
    assert load_kitchen(path).gateway.ratelimit.lease_s == lease_s


def test_postgres_scheme_is_read_as_postgresql(
    make_gateway: Callable[..., Gateway], fake_upstream: FakeUpstream, pg_database: str, tmp_path: Path
) -> None:
    assert pg_database.startswith("postgresql://")
    url = "postgres://" + pg_database[len("postgresql://"):]
    gw = make_gateway(_cfg(fake_upstream, storage={"url": url, "journal_dir": str(tmp_path / "j")}))
    key = gw.key("acme", "chat")
    gw.start()
    st, _, body = http_json(gw.v1("/chat/completions"),
                            {"model": "fake", "messages": [{"role": "user", "content": uuid.uuid4().hex}]}, key=key)
    assert st == 200, body
    gw.stop()  # before the database is dropped
