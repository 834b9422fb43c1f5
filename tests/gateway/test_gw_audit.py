"""Audit log: durability when the gateway is killed, hash-chain verification, export, PostgreSQL."""

from __future__ import annotations

import csv
import io
import json
import shutil
import signal
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import text

from prai.db.audit_log import append_audit, verify_audit
from prai.db.engine import open_engine
from tests.gateway._gwutil import FakeUpstream, Gateway, audit_record, http_json, tenants

CHAT = {"model": "fake", "messages": [{"role": "user", "content": "秘密のプロンプト"}]}


def _cfg(fake: FakeUpstream, tmp: Path, **storage: object) -> dict[str, object]:
    st = {"url": f"sqlite:///{tmp / 'audit.db'}", "journal_dir": str(tmp / "journal"), **storage}
    return {
        "upstreams": [{"name": "main", "base_urls": [fake.url]}],
        "tenants": tenants(),
        "storage": st,
    }


def test_no_record_lost_when_killed(
    make_gateway: Callable[..., Gateway], fake_upstream: FakeUpstream, tmp_path: Path
) -> None:
    # flushes to the database are 60 s apart: every record is only in the journal when killed
    gw = make_gateway(_cfg(fake_upstream, tmp_path, flush_interval_s=60)).start()
    key = gw.key("acme", "chat")
    for _ in range(25):
        assert http_json(gw.v1("/chat/completions"), CHAT, key=key)[0] == 200
    gw.stop(signal.SIGKILL)
    db = sqlite3.connect(tmp_path / "audit.db")
    assert db.execute("select count(*) from prai_audit").fetchone()[0] == 0
    out = gw.cli("audit", "export", "-c", str(gw.config)).stdout  # replays the dead journal
    rows = [json.loads(line) for line in out.splitlines()]
    assert len(rows) == 25 and {r["status"] for r in rows} == {200}
    assert "秘密" not in out and key not in out  # no prompt text, never the key
    assert "25 records" in gw.cli("audit", "verify", "-c", str(gw.config)).stdout
    # a restarted gateway continues the same chain
    gw.start()
    http_json(gw.v1("/chat/completions"), CHAT, key=key)
    gw.stop()
    assert "26 records" in gw.cli("audit", "verify", "-c", str(gw.config)).stdout


def _seeded_db(tmp: Path, n: int = 6) -> Path:
    path = tmp / "seed.db"
    engine = open_engine(f"sqlite:///{path}")
    recs = [audit_record(ts_us=i) for i in range(n)]
    append_audit(engine, recs[:3])
    append_audit(engine, recs[3:])
    engine.dispose()
    return path


@pytest.mark.parametrize(
    ("name", "sql", "expect"),
    [
        ("edit", "update prai_audit set status = 500 where seq = 3", "record 3 was modified"),
        (
            "reorder",
            "update prai_audit set seq = -1 where seq = 2;"
            "update prai_audit set seq = 2 where seq = 3;"
            "update prai_audit set seq = 3 where seq = -1",
            "record 2 does not link",
        ),
        ("delete", "delete from prai_audit where seq = 4", "record 4 is missing"),
        ("truncate", "delete from prai_audit where seq >= 5", "records deleted"),
    ],
)
def test_verify_detects_tampering(tmp_path: Path, name: str, sql: str, expect: str) -> None:
    path = _seeded_db(tmp_path)
    assert verify_audit(open_engine(f"sqlite:///{path}")).ok
    bad = tmp_path / f"{name}.db"
    shutil.copy(path, bad)
    con = sqlite3.connect(bad)
    con.executescript(sql)
    con.commit()
    con.close()
    res = verify_audit(open_engine(f"sqlite:///{bad}"))
    assert not res.ok and expect in (res.problem or "")


def test_verify_cli_exit_code(
    tmp_path: Path, make_gateway: Callable[..., Gateway], fake_upstream: FakeUpstream
) -> None:
    gw = make_gateway(_cfg(fake_upstream, tmp_path))
    path = _seeded_db(tmp_path)
    shutil.copy(path, tmp_path / "audit.db")
    assert gw.cli("audit", "verify", "-c", str(gw.config)).returncode == 0
    con = sqlite3.connect(tmp_path / "audit.db")
    con.execute("update prai_audit set tenant = 'evil' where seq = 2")
    con.commit()
    res = gw.cli("audit", "verify", "-c", str(gw.config), check=False)
    assert res.returncode == 3 and "record 2 was modified" in res.stderr and "hint:" in res.stderr


def test_export_filters_and_formats(
    make_gateway: Callable[..., Gateway], fake_upstream: FakeUpstream, tmp_path: Path
) -> None:
    gw = make_gateway(_cfg(fake_upstream, tmp_path, flush_interval_s=0.05)).start()
    a, g = gw.key("acme", "chat"), gw.key("globex", "ops")
    for k in (a, a, g):
        http_json(gw.v1("/chat/completions"), CHAT, key=k)
    http_json(gw.v1("/chat/completions"), CHAT, key="sk-prai-bad")
    gw.stop()
    out = tmp_path / "out.csv"
    gw.cli(
        "audit",
        "export",
        "--tenant",
        "acme",
        "--format",
        "csv",
        "-o",
        str(out),
        "--since",
        "1h",
        "-c",
        str(gw.config),
    )
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert len(rows) == 2 and {r["tenant"] for r in rows} == {"acme"}
    assert rows[0]["status"] == "200" and float(rows[0]["latency_ms"]) > 0
    lines = gw.cli(
        "audit", "export", "--since", "2000-01-01", "-c", str(gw.config)
    ).stdout.splitlines()
    assert len(lines) == 4 and json.loads(lines[-1])["status"] == 401
    assert gw.cli("audit", "export", "--since", "2999-01-01", "-c", str(gw.config)).stdout == ""
    res = gw.cli("audit", "export", "--since", "yesterday", "-c", str(gw.config), check=False)
    assert res.returncode == 2 and "--since" in res.stderr


def test_postgresql_audit_from_two_gateways(
    make_gateway: Callable[..., Gateway],
    fake_upstream: FakeUpstream,
    pg_database: str,
    tmp_path: Path,
) -> None:
    postgres_url = pg_database  # a database of this test only: a fresh chain
    cfg = _cfg(fake_upstream, tmp_path, url=postgres_url, flush_interval_s=0.05)
    a = make_gateway(cfg, sub="a").start()
    b = make_gateway(cfg, sub="b").start()
    key = a.key("acme", "chat")
    import concurrent.futures

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        codes = list(
            pool.map(
                lambda i: http_json((a, b)[i % 2].v1("/chat/completions"), CHAT, key=key)[0],
                range(40),
            )
        )
    assert codes == [200] * 40
    a.stop()
    b.stop()
    assert "40 records" in a.cli("audit", "verify", "-c", str(a.config)).stdout
    engine = open_engine(postgres_url)
    with engine.connect() as conn:
        assert conn.execute(text("select count(distinct client) from prai_audit")).scalar() == 1
        assert conn.execute(text("select count(*) from prai_keys")).scalar() == 1
    engine.dispose()
    time.sleep(0)


@pytest.mark.parametrize("store", ["sqlite", "postgresql"])
@pytest.mark.parametrize("n", [1, 40, 95])
def test_a_large_batch_is_stored_whole_in_order(store: str, n: int, tmp_path: Path,
                                                request: pytest.FixtureRequest) -> None:
    """Batches are written as multi-row INSERTs (40 rows a statement, then the rest): every
    record arrives once, in order, with its fields, and the chain verifies."""
    url = f"sqlite:///{tmp_path / 'a.db'}" if store == "sqlite" else request.getfixturevalue("pg_database")
    engine = open_engine(url)
    recs = [audit_record(ts_us=1000 + i, status=200 + i % 3, prompt_tokens=i) for i in range(n)]
    assert append_audit(engine, recs[:1]) == 1
    assert append_audit(engine, recs[1:] + recs[:1]) == n - 1  # the repeated first one is skipped
    with engine.connect() as conn:
        rows = conn.execute(text("select seq, rid, ts_us, status, prompt_tokens from prai_audit order by seq")).all()
    engine_ok = verify_audit(engine)
    engine.dispose()
    assert [tuple(r) for r in rows] == [
        (i + 1, r["rid"], r["ts_us"], r["status"], r["prompt_tokens"]) for i, r in enumerate(recs)
    ]
    assert engine_ok.ok and engine_ok.records == n
