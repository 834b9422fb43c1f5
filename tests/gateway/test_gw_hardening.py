"""Fixes from the user test: streams cut short, per-request caps with n/prompts, deep JSON,
duplicate Authorization headers, CSV injection in exports, audit head pinning."""

from __future__ import annotations

import csv
import io
import json
import socket
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from prai.db.audit_log import append_audit
from prai.db.engine import open_engine
from prai.db.schema import GENESIS
from prai.gateway import admin
from tests.gateway._gwutil import (
    FakeUpstream,
    Gateway,
    audit_record,
    http_json,
    raw_stream_request,
    tenants,
)


def _up(fake: FakeUpstream) -> list[dict[str, object]]:
    return [{"name": "main", "base_urls": [fake.url]}]


def _audit(gw: Gateway) -> list[dict[str, object]]:
    out = gw.cli("audit", "export", "-c", str(gw.config)).stdout
    return [json.loads(x) for x in out.splitlines()]


def _raw(port: int, head: str, body: bytes) -> tuple[int, dict[str, object]]:
    """One HTTP/1.1 request over a socket (for what urllib cannot send); (status, JSON body)."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall(head.encode() + f"content-length: {len(body)}\r\nconnection: close\r\n\r\n".encode() + body)
        raw = b""
        while chunk := s.recv(65536):
            raw += chunk
    status = int(raw.split(b" ", 2)[1])
    return status, json.loads(raw.split(b"\r\n\r\n", 1)[1])


def test_stream_closed_early_is_charged_and_audited(
    make_gateway: Callable[..., Gateway], fake_upstream: FakeUpstream
) -> None:
    gw = make_gateway(
        {"upstreams": _up(fake_upstream), "tenants": tenants(limits={"tokens_per_minute": 40})}
    ).start()
    key = gw.key("acme", "chat")
    s = raw_stream_request(gw.port, key, "SLOW")
    got = b""
    while got.count(b'"content": "x"') < 45:  # 45 tokens relayed, then the client leaves
        got += s.recv(65536)
    s.close()
    relayed = got.count(b'"content": "x"')
    deadline = time.monotonic() + 5
    rows: list[dict[str, object]] = []
    while time.monotonic() < deadline:
        rows = _audit(gw)
        if rows and rows[-1]["status"] == 499:
            break
        time.sleep(0.1)
    rec = rows[-1]
    assert rec["status"] == 499
    assert isinstance(rec["completion_tokens"], int) and rec["completion_tokens"] >= relayed
    assert rec["prompt_tokens"] is not None
    # 45+ tokens were charged against 40/min: the next request is refused
    chat = {"model": "fake", "messages": [{"role": "user", "content": "hi"}]}
    st, headers, _ = http_json(gw.v1("/chat/completions"), chat, key=key)
    assert st == 429 and "x-ratelimit-limit-tokens" in headers


def test_stream_broken_by_upstream_counts_relayed_tokens(
    make_gateway: Callable[..., Gateway], fake_upstream: FakeUpstream
) -> None:
    gw = make_gateway({"upstreams": _up(fake_upstream), "tenants": tenants()}).start()
    key = gw.key("acme", "chat")
    with raw_stream_request(gw.port, key, "BREAK", close=True) as s:
        while s.recv(65536):
            pass
    time.sleep(0.3)
    rec = _audit(gw)[-1]
    assert rec["status"] == 502 and rec["completion_tokens"] == 2  # two pieces before the break


def test_max_tokens_cap_counts_choices_and_prompts(
    make_gateway: Callable[..., Gateway], fake_upstream: FakeUpstream
) -> None:
    gw = make_gateway(
        {
            "upstreams": _up(fake_upstream),
            "tenants": tenants(limits={"max_tokens_per_request": 100}),
        }
    ).start()
    key = gw.key("acme", "chat")
    chat = {"model": "fake", "messages": [{"role": "user", "content": "hi"}]}
    st, _, body = http_json(gw.v1("/chat/completions"), {**chat, "max_tokens": 30, "n": 5}, key=key)
    assert st == 400 and body["error"]["type"] == "invalid_request_error"
    assert "100" in body["error"]["message"] and "n" in body["error"]["message"]
    assert http_json(gw.v1("/chat/completions"), {**chat, "max_tokens": 30, "n": 3}, key=key)[0] == 200
    comp = {"model": "fake", "prompt": ["a", "b", "c", "d"], "max_tokens": 30}
    st, _, body = http_json(gw.v1("/completions"), comp, key=key)
    assert st == 400 and body["error"]["type"] == "invalid_request_error"
    # token ids: one prompt, not one per id
    one = {"model": "fake", "prompt": [1, 2, 3, 4], "max_tokens": 30}
    assert http_json(gw.v1("/completions"), one, key=key)[0] == 200
    # no max_tokens: the cap is split over the answers
    assert http_json(gw.v1("/chat/completions"), {**chat, "n": 4}, key=key)[0] == 200
    assert fake_upstream.stats()["last_body"]["max_tokens"] == 25
    st, _, body = http_json(gw.v1("/chat/completions"), {**chat, "n": 0}, key=key)
    assert st == 400 and "`n`" in body["error"]["message"]


def test_deeply_nested_json_is_a_400(
    make_gateway: Callable[..., Gateway], fake_upstream: FakeUpstream
) -> None:
    gw = make_gateway({"upstreams": _up(fake_upstream), "tenants": tenants()}).start()
    key = gw.key("acme", "chat")
    deep = b'{"model":"fake","messages":' + b"[" * 30000 + b"]" * 30000 + b"}"
    st, _, body = http_json(gw.v1("/chat/completions"), deep, key=key)
    assert st == 400 and body["error"]["type"] == "invalid_request_error"
    assert "nested too deeply" in body["error"]["message"]
    # nesting that json.loads accepts but the prompt walk would recurse on
    for depth in (300, 490):
        msg = (
            b'{"model":"fake","messages":[{"role":"user","content":'
            + b'[{"content":' * depth
            + b'"x"'
            + b"}]" * depth
            + b"}]}"
        )
        assert http_json(gw.v1("/chat/completions"), msg, key=key)[0] in (200, 400)
    assert http_json(gw.url + "/health")[0] == 200
    out = gw.proc.p if gw.proc else None
    gw.stop()
    log = out.stdout.read().decode() if out and out.stdout else ""
    assert "RecursionError" not in log and "Traceback" not in log


def test_duplicate_authorization_header_is_refused(
    make_gateway: Callable[..., Gateway], fake_upstream: FakeUpstream
) -> None:
    gw = make_gateway({"upstreams": _up(fake_upstream), "tenants": tenants()}).start()
    key = gw.key("acme", "chat")
    body = json.dumps({"model": "fake", "messages": [{"role": "user", "content": "hi"}]}).encode()
    two = f"authorization: Bearer {key}\r\nauthorization: Bearer sk-prai-other\r\n"
    st, err = _raw(
        gw.port,
        f"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\n{two}content-type: application/json\r\n",
        body,
    )
    assert st == 400 and err["error"]["type"] == "invalid_request_error"  # type: ignore[index]
    assert "Authorization" in err["error"]["message"]  # type: ignore[index]
    st, err = _raw(gw.port, f"GET /v1/models HTTP/1.1\r\nhost: x\r\n{two}", b"")
    assert st == 400 and "error" in err
    one = f"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {key}\r\n"
    assert _raw(gw.port, one + "content-type: application/json\r\n", body)[0] == 200


def _seed(path: Path, n: int, **fields: object) -> None:
    engine = open_engine(f"sqlite:///{path}")
    append_audit(engine, [audit_record(**fields) for _ in range(n)])
    engine.dispose()


def test_csv_export_neutralises_formulas(tmp_path: Path) -> None:
    path = tmp_path / "a.db"
    evil = ["=HYPERLINK(\"x\")", "+1+1", "-2+3", "@SUM(A1)", "\tx", "\rx"]
    engine = open_engine(f"sqlite:///{path}")
    _seed(path, 1)
    for v in evil:
        _seed(path, 1, prompt=v, model=v)
    csv_text = "".join(
        admin.export_lines(engine, fmt="csv", tenant=None, project=None, since_us=None)
    )
    rows = list(csv.DictReader(io.StringIO(csv_text)))
    assert [r["prompt"] for r in rows[1:]] == ["'" + v for v in evil]
    assert [r["model"] for r in rows[1:]] == ["'" + v for v in evil]
    assert rows[0]["model"] == "m" and rows[0]["status"] == "200"
    jsonl = list(admin.export_lines(engine, fmt="jsonl", tenant=None, project=None, since_us=None))
    assert [json.loads(x)["prompt"] for x in jsonl[1:]] == evil  # JSONL unchanged


def test_verify_expect_head_catches_rewritten_tail(
    tmp_path: Path, make_gateway: Callable[..., Gateway], fake_upstream: FakeUpstream
) -> None:
    db = tmp_path / "audit.db"
    gw = make_gateway(
        {
            "upstreams": _up(fake_upstream),
            "tenants": tenants(),
            "storage": {"url": f"sqlite:///{db}", "journal_dir": str(tmp_path / "j")},
        }
    )
    _seed(db, 6)
    out = json.loads(gw.cli("audit", "verify", "--json", "-c", str(gw.config)).stdout)
    assert out["ok"] and out["head_seq"] == 6 and len(out["head_hash"]) == 64
    pin = f"{out['head_seq']}:{out['head_hash']}"
    assert gw.cli("audit", "verify", "--expect-head", pin, "-c", str(gw.config)).returncode == 0
    _seed(db, 2)  # the log grows: the pin still holds
    assert gw.cli("audit", "verify", "--expect-head", pin, "-c", str(gw.config)).returncode == 0
    # an attacker deletes the newest records and rewrites the head row to match
    con = sqlite3.connect(db)
    h4 = con.execute("select hash from prai_audit where seq = 4").fetchone()[0]
    con.execute("delete from prai_audit where seq > 4")
    con.execute("update prai_audit_head set seq = 4, hash = ?", (h4,))
    con.commit()
    con.close()
    assert gw.cli("audit", "verify", "-c", str(gw.config)).returncode == 0  # the known limit
    res = gw.cli("audit", "verify", "--expect-head", pin, "-c", str(gw.config), check=False)
    assert res.returncode == 3 and "record 6 was expected" in res.stderr
    # a wipe with a rebuilt chain: the hash at the pinned seq differs
    con = sqlite3.connect(db)
    con.execute("delete from prai_audit")
    con.execute("update prai_audit_head set seq = 0, hash = ?", (GENESIS,))
    con.commit()
    con.close()
    _seed(db, 7, tenant="forged")
    res = gw.cli("audit", "verify", "--expect-head", pin, "-c", str(gw.config), check=False)
    assert res.returncode == 3 and "log rewritten" in res.stderr
    res = gw.cli("audit", "verify", "--expect-head", "6:nothex", "-c", str(gw.config), check=False)
    assert res.returncode == 2 and "--expect-head" in res.stderr


@pytest.mark.parametrize("backend", ["memory", "redis"])
def test_three_streams_on_limited_project_relay_and_cancel(
    make_gateway: Callable[..., Gateway],
    fake_upstream: FakeUpstream,
    backend: str,
    request: pytest.FixtureRequest,
) -> None:
    cfg: dict[str, object] = {
        "upstreams": _up(fake_upstream),
        "tenants": tenants(limits={"tokens_per_minute": 100000, "concurrent_requests": 5}),
    }
    if backend == "redis":
        cfg["ratelimit"] = {"url": request.getfixturevalue("redis_url")}
    gw = make_gateway(cfg).start()
    key = gw.key("acme", "chat")
    before = fake_upstream.stats()["cancelled"]
    socks = [raw_stream_request(gw.port, key, "SLOW") for _ in range(3)]
    for s in socks:  # every stream relays its first tokens promptly
        s.settimeout(5)
        got = b""
        while got.count(b'"content": "x"') < 2:
            got += s.recv(65536)
    for s in socks:
        s.close()
    deadline = time.monotonic() + 5
    while fake_upstream.stats()["cancelled"] < before + 3 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert fake_upstream.stats()["cancelled"] == before + 3
    time.sleep(0.3)
    assert [r["status"] for r in _audit(gw)[-3:]] == [499, 499, 499]
