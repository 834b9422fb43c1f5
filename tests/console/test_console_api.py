"""The admin API over HTTP against a real `prai gateway` (with a fake upstream and a fake
vLLM): every endpoint, every role boundary, sessions, CSRF, throttling, the audit trail.
The API keys it creates are used with the `openai` SDK."""

from __future__ import annotations

import csv
import io
import json
import time
from typing import Any

import openai
import pytest

from tests.console._console import AdminClient, ConsoleKitchen, chat, password_of, sdk, wait_until

ROLES = ("root", "alice", "audrey", None)  # platform-admin, tenant-admin of acme, auditor, not logged in


def audit_records(c: AdminClient, **params: Any) -> list[dict[str, Any]]:
    r = c.get("/admin/audit", params={"limit": 500, **params})
    assert r.status_code == 200, r.text
    return list(r.json()["records"])


# --- every endpoint x every role ---------------------------------------------------------

MATRIX: list[tuple[str, str, Any, dict[str | None, int]]] = [
    ("GET", "/admin/session", None, {"root": 200, "alice": 200, "audrey": 200, None: 401}),
    ("GET", "/admin/tenants", None, {"root": 200, "alice": 200, "audrey": 200, None: 401}),
    ("GET", "/admin/users", None, {"root": 200, "alice": 403, "audrey": 200, None: 401}),
    ("GET", "/admin/keys", None, {"root": 200, "alice": 200, "audrey": 200, None: 401}),
    ("GET", "/admin/keys?tenant=globex", None, {"root": 200, "alice": 403, "audrey": 200, None: 401}),
    ("POST", "/admin/keys", {"tenant": "globex", "project": "ops"}, {"root": 201, "alice": 403, "audrey": 403,
                                                                    None: 401}),
    ("POST", "/admin/keys/0000000000/revoke", None, {"root": 404, "alice": 404, "audrey": 404, None: 401}),
    ("PUT", "/admin/keys/0000000000/expiry", {"expires_in": "1d"}, {"root": 404, "alice": 404, "audrey": 404,
                                                                    None: 401}),
    ("GET", "/admin/usage", None, {"root": 200, "alice": 200, "audrey": 200, None: 401}),
    ("GET", "/admin/usage?tenant=globex", None, {"root": 200, "alice": 403, "audrey": 200, None: 401}),
    ("GET", "/admin/usage?by=key&tenant=acme", None, {"root": 200, "alice": 200, "audrey": 200, None: 401}),
    ("GET", "/admin/usage?by=week", None, {"root": 400, "alice": 400, "audrey": 400, None: 401}),
    ("GET", "/admin/usage?by=day&timezone=Mars/Olympus", None, {"root": 400, "alice": 400, "audrey": 400,
                                                                None: 401}),
    ("GET", "/admin/budgets", None, {"root": 200, "alice": 200, "audrey": 200, None: 401}),
    ("GET", "/admin/budgets?tenant=globex", None, {"root": 200, "alice": 403, "audrey": 200, None: 401}),
    ("GET", "/admin/audit", None, {"root": 200, "alice": 200, "audrey": 200, None: 401}),
    ("GET", "/admin/audit?tenant=globex", None, {"root": 200, "alice": 403, "audrey": 200, None: 401}),
    ("GET", "/admin/audit/export?tenant=globex", None, {"root": 200, "alice": 403, "audrey": 200, None: 401}),
    ("GET", "/admin/audit/verify", None, {"root": 200, "alice": 403, "audrey": 200, None: 401}),
    ("GET", "/admin/models", None, {"root": 200, "alice": 200, "audrey": 200, None: 401}),
    ("GET", "/admin/models/kansai", None, {"root": 200, "alice": 200, "audrey": 200, None: 401}),
    ("GET", "/admin/models/nosuch", None, {"root": 404, "alice": 404, "audrey": 404, None: 401}),
    ("POST", "/admin/models/kansai/promote", {"version": "v9"}, {"root": 404, "alice": 403, "audrey": 403,
                                                                 None: 401}),
    ("POST", "/admin/models/kansai/rollback", {}, {"alice": 403, "audrey": 403, None: 401}),
    ("GET", "/admin/checks/areas", None, {"root": 200, "alice": 200, "audrey": 200, None: 401}),
    ("POST", "/admin/checks/doctor", {"areas": ["lifecycle"]}, {"root": 200, "alice": 403, "audrey": 403,
                                                                None: 401}),
    ("POST", "/admin/checks/doctor", {"areas": ["no-such-area"]}, {"root": 400, None: 401}),
    ("GET", "/admin/checks/reports", None, {"root": 200, "alice": 403, "audrey": 200, None: 401}),
    ("GET", "/admin/checks/reports/0123456789abcdef", None, {"root": 404, "alice": 403, "audrey": 404, None: 401}),
    ("POST", "/admin/session/password", {"current_password": "x", "new_password": "y"},
     {"root": 401, "alice": 401, "audrey": 401, None: 401}),
]


@pytest.mark.parametrize(("method", "path", "body", "expect"), MATRIX, ids=[f"{m} {p}" for m, p, _, _ in MATRIX])
def test_role_matrix(as_user: dict[str | None, AdminClient], method: str, path: str, body: Any,
                     expect: dict[str | None, int]) -> None:
    for role, status in expect.items():
        c = as_user[role]
        r = c.send(method, path, body) if method != "GET" else c.get(path)
        assert r.status_code == status, f"{role} {method} {path}: {r.status_code} {r.text[:300]}"
        if status >= 400:
            err = r.json()["error"]
            assert err["code"] == status and err["message"] and err["type"]


def test_openapi_is_public_and_lists_every_route(as_user: dict[str | None, AdminClient]) -> None:
    doc = as_user[None].get("/admin/openapi.json").json()
    assert doc["openapi"].startswith("3.1")
    paths = {(m.upper(), p) for p, ops in doc["paths"].items() for m in ops}
    for method, path, _, _ in MATRIX:
        template = path.split("?")[0].replace("0000000000", "{key_id}").replace("kansai", "{name}").replace(
            "nosuch", "{name}").replace("0123456789abcdef", "{report_id}")
        assert (method, template) in paths, (method, template)
    assert ("DELETE", "/admin/session") in paths and ("POST", "/admin/session") in paths


# --- sessions, CSRF, throttling -----------------------------------------------------------


def test_login_sets_a_strict_httponly_cookie(kitchen: ConsoleKitchen) -> None:
    c = kitchen.client()
    r = c.login("audrey")
    assert r.status_code == 200
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "path=/" in cookie
    assert "secure" not in cookie  # plain HTTP on loopback; HTTPS (or console.secure_cookies) adds it
    body = r.json()
    assert body == {"username": "audrey", "role": "auditor", "tenant": None, "csrf_token": body["csrf_token"],
                    "must_change_password": False}
    assert password_of("audrey") not in r.text


def test_failed_logins_are_audited_and_throttled(kitchen: ConsoleKitchen, as_user: dict[str | None,
                                                                                         AdminClient]) -> None:
    c = kitchen.client()
    for _ in range(3):  # login_max_failures: 3 in this kitchen
        r = c.login("mallory", "guess")
        assert r.status_code == 401 and r.json()["error"]["type"] == "authentication_error"
    r = c.login("mallory", "guess")
    assert r.status_code == 429 and int(r.headers["retry-after"]) > 0
    # the right password does not help while throttled (for a real user too)
    for _ in range(3):
        assert c.login("bob", "wrong password").status_code == 401
    assert c.login("bob").status_code == 429
    recs = audit_records(as_user["root"], endpoint="admin.session.login")
    mallory = [r for r in recs if r["detail"].get("username") == "mallory"]
    assert sorted(r["status"] for r in mallory) == [401, 401, 401, 429]
    assert all("guess" not in json.dumps(r) for r in recs)  # never the password
    assert all(r["client"] == "127.0.0.1" for r in mallory)
    # the window passes (here: the failures are deleted, as an operator would after an incident)
    from prai.db.admins import clear_login_failures_in

    engine = kitchen.db()
    with engine.begin() as conn:
        clear_login_failures_in(conn, "bob")
    engine.dispose()
    assert c.login("bob").status_code == 200


def test_reset_password_and_enable_lift_a_login_lockout(kitchen: ConsoleKitchen,
                                                       as_user: dict[str | None, AdminClient]) -> None:
    """The 401 hint names `prai admin reset-password`: after it the user logs in at once, and
    the 429 hint says so (enable-user does the same)."""
    first = password_of("frank")
    kitchen.admin_cli("create-user", "frank", "--role", "auditor", "--password-stdin", stdin=first + "\n")
    c = kitchen.client()
    for _ in range(3):  # login_max_failures: 3 in this kitchen
        assert c.login("frank", "wrong password").status_code == 401
    r = c.login("frank", first)
    assert r.status_code == 429 and "prai admin reset-password" in r.json()["error"]["message"], r.text
    second = first + " v2"
    kitchen.admin_cli("reset-password", "frank", "--password-stdin", stdin=second + "\n")
    assert c.login("frank", second).status_code == 200
    resets = [r for r in audit_records(as_user["root"], endpoint="admin.user.reset_password")
              if r["detail"].get("username") == "frank"]
    assert [r["detail"]["login_failures_cleared"] for r in resets] == [3]
    # disable + enable (e.g. after an incident) lifts it too
    for _ in range(3):
        assert kitchen.client().login("frank", "wrong password").status_code == 401
    assert kitchen.client().login("frank", second).status_code == 429
    kitchen.admin_cli("disable-user", "frank")
    kitchen.admin_cli("enable-user", "frank")
    assert kitchen.client().login("frank", second).status_code == 200


def test_state_changes_need_the_csrf_token_and_our_origin(as_user: dict[str | None, AdminClient]) -> None:
    c = as_user["alice"]
    body = {"tenant": "acme", "project": "chat", "name": "csrf"}
    r = c.post("/admin/keys", body, csrf=False)
    assert r.status_code == 403 and "CSRF" in r.json()["error"]["message"]
    r = c.post("/admin/keys", body, csrf=False, headers={"X-CSRF-Token": "0" * 64})
    assert r.status_code == 403
    r = c.post("/admin/keys", body, headers={"Origin": "http://evil.example"})
    assert r.status_code == 403 and "origin" in r.json()["error"]["message"]
    r = c.post("/admin/keys", body, headers={"Origin": c.base_url})
    assert r.status_code == 201


def test_a_one_time_password_must_be_changed_first(kitchen: ConsoleKitchen) -> None:
    out = kitchen.admin_cli("create-user", "carol", "--role", "auditor")
    one_time = out.stdout.strip()
    assert len(one_time) == 20 and "one-time password" in out.stderr
    c = kitchen.client()
    r = c.login("carol", one_time)
    assert r.status_code == 200 and r.json()["must_change_password"] is True
    r = c.get("/admin/keys")
    assert r.status_code == 403 and "one-time password" in r.json()["error"]["message"]
    r = c.post("/admin/session/password", {"current_password": one_time, "new_password": "short"})
    assert r.status_code == 400 and "12" in r.json()["error"]["message"]
    r = c.post("/admin/session/password", {"current_password": one_time, "new_password": "carol's own passphrase"})
    assert r.status_code == 400  # contains the user name
    r = c.post("/admin/session/password", {"current_password": one_time, "new_password": "a good long passphrase"})
    assert r.status_code == 200
    assert c.get("/admin/keys").status_code == 200
    assert kitchen.client().login("carol", one_time).status_code == 401
    assert kitchen.client().login("carol", "a good long passphrase").status_code == 200


def test_logout_and_disable_end_sessions(kitchen: ConsoleKitchen) -> None:
    c = kitchen.client("bob")
    assert c.send("DELETE", "/admin/session").status_code == 200
    assert c.get("/admin/session").status_code == 401
    c = kitchen.client("bob")
    kitchen.admin_cli("disable-user", "bob")
    assert c.get("/admin/keys").status_code == 401
    assert kitchen.client().login("bob").status_code == 401
    from prai.console.users import set_disabled

    engine = kitchen.db()
    set_disabled(engine, "bob", False, actor="test")  # what `prai admin enable-user bob` calls
    engine.dispose()
    assert kitchen.client().login("bob").status_code == 200


def test_prai_admin_cli(kitchen: ConsoleKitchen) -> None:
    rows = json.loads(kitchen.admin_cli("list-users", "--json").stdout)
    names = {r["username"]: r for r in rows}
    assert names["alice"]["role"] == "tenant-admin" and names["alice"]["tenant"] == "acme"
    assert all("hash" not in k for r in rows for k in r)
    bad = kitchen.admin_cli("create-user", "dave", "--role", "tenant-admin", check=False)
    assert bad.returncode == 71 and "--tenant" in bad.stderr and "Traceback" not in bad.stderr
    bad = kitchen.admin_cli("reset-password", "nobody", check=False)
    assert bad.returncode == 72 and "list-users" in bad.stderr
    out = kitchen.admin_cli("create-user", "erin", "--role", "tenant-admin", "--tenant", "globex", "--json")
    data = json.loads(out.stdout)
    assert data["must_change_password"] is True and len(data["password"]) == 20 and data["tenant"] == "globex"
    assert kitchen.client().login("erin", data["password"]).json()["must_change_password"] is True


# --- keys ---------------------------------------------------------------------------------


def test_keys_created_used_with_openai_and_revoked(kitchen: ConsoleKitchen, as_user: dict[str | None,
                                                                                          AdminClient]) -> None:
    alice, bob, audrey = as_user["alice"], kitchen.client("bob"), as_user["audrey"]
    r = alice.post("/admin/keys", {"tenant": "acme", "project": "chat", "name": "team-a", "expires_in": "30d"})
    assert r.status_code == 201, r.text
    created = r.json()
    key, key_id = created["key"], created["id"]
    assert key.startswith("sk-prai-") and created["state"] == "active"
    assert created["expires_at"] - created["created_at"] == pytest.approx(30 * 86400, abs=5)
    assert chat(kitchen, key).startswith("こんにちは")
    listed = alice.get("/admin/keys").json()
    assert key_id in [k["id"] for k in listed] and all(k["tenant"] == "acme" for k in listed)
    assert key not in alice.get("/admin/keys").text  # shown once
    # globex's admin cannot see, revoke or change it; the auditor cannot change it
    assert key_id not in [k["id"] for k in bob.get("/admin/keys").json()]
    assert bob.post(f"/admin/keys/{key_id}/revoke").status_code == 404
    assert bob.put(f"/admin/keys/{key_id}/expiry", {}).status_code == 404
    assert audrey.post(f"/admin/keys/{key_id}/revoke").status_code == 403
    assert audrey.put(f"/admin/keys/{key_id}/expiry", {"expires_in": "1d"}).status_code == 403
    assert key_id in [k["id"] for k in audrey.get("/admin/keys?tenant=acme").json()]
    # expiry: cleared, set again, refused in the past or when both forms are given
    r = alice.put(f"/admin/keys/{key_id}/expiry", {})
    assert r.status_code == 200 and r.json()["expires_at"] is None
    assert alice.put(f"/admin/keys/{key_id}/expiry", {"expires_at": "2001-01-01T00:00:00Z"}).status_code == 400
    assert alice.put(f"/admin/keys/{key_id}/expiry", {"expires_in": "1d", "expires_at": "2099-01-01T00:00:00Z"}
                     ).status_code == 400
    assert alice.put(f"/admin/keys/{key_id}/expiry", {"expires_in": "2h"}).json()["expires_at"] is not None
    # revoke: the next call is refused
    r = alice.post(f"/admin/keys/{key_id}/revoke")
    assert r.status_code == 200 and r.json()["state"] == "revoked"

    def refused() -> bool:
        try:
            chat(kitchen, key)
        except openai.AuthenticationError as exc:
            return "revoked" in str(exc)
        return False

    wait_until(refused, timeout_s=5)
    assert alice.post(f"/admin/keys/{key_id}/revoke").status_code == 200  # idempotent
    # every change is in the audit chain with its actor
    recs = audit_records(as_user["root"], key_id=key_id)
    actions = [(r["endpoint"], r["detail"]["actor"]) for r in recs if r["endpoint"].startswith("admin.")]
    assert ("admin.key.create", "alice") in actions and ("admin.key.revoke", "alice") in actions
    assert sum(1 for a in actions if a[0] == "admin.key.expiry") == 2
    assert key not in json.dumps(recs)


def test_bad_key_requests_are_400(as_user: dict[str | None, AdminClient]) -> None:
    root = as_user["root"]
    r = root.post("/admin/keys", {"tenant": "acme", "project": "nope"})
    assert r.status_code == 400 and "kitchen.yaml" in r.json()["error"]["message"]
    r = root.post("/admin/keys", {"tenant": "acme", "project": "chat", "surprise": 1})
    assert r.status_code == 400 and r.json()["error"]["param"] == "surprise"
    r = root.post("/admin/keys", {"tenant": "acme", "project": "chat", "expires_in": "soon"})
    assert r.status_code == 400
    assert root.get("/admin/keys?state=lost").status_code == 400


def test_refused_admin_actions_are_audited_with_their_actor(as_user: dict[str | None, AdminClient]) -> None:
    """Input of the wrong type (API body and page form), a forbidden action and a missing
    CSRF token of a logged-in user land in the audit chain as ``admin.refused`` with the
    actor, method, path and status (issue 17: every admin action audited); an anonymous
    refusal writes nothing, and a refusal audited where it happened is not written twice."""
    root, alice, anon = as_user["root"], as_user["alice"], as_user[None]
    seen = {r["seq"] for r in audit_records(root, endpoint="admin.refused")}
    assert root.post("/admin/models/kansai/promote", {"version": "v2", "canary_percent": "lots"}).status_code == 400
    assert root.post("/admin/keys", {"tenant": "acme", "project": "chat", "expires_in": "soon"}).status_code == 400
    page = root.http.post("/console/models/kansai/promote",
                          data={"csrf": root.csrf or "", "version": "v2", "canary_percent": "abc"})
    assert page.status_code == 400 and "not a percentage" in page.text
    assert alice.post("/admin/keys", {"tenant": "globex", "project": "search"}).status_code == 403
    assert root.post("/admin/keys", {"tenant": "acme", "project": "chat"}, csrf=False).status_code == 403
    assert anon.post("/admin/keys", {"tenant": "acme", "project": "chat", "expires_in": "soon"}).status_code == 401
    assert root.post("/admin/session/password", {"current_password": "x", "new_password": "y"}).status_code == 401

    new = [r for r in audit_records(root, endpoint="admin.refused") if r["seq"] not in seen]
    got = sorted((r["detail"]["actor"], r["detail"]["method"], r["detail"]["path"], r["status"]) for r in new)
    assert got == sorted([
        ("root", "POST", "/admin/models/kansai/promote", 400),
        ("root", "POST", "/admin/keys", 400),
        ("root", "POST", "/console/models/kansai/promote", 400),
        ("alice", "POST", "/admin/keys", 403),
        ("root", "POST", "/admin/keys", 403),
    ]), got
    by_path = {(r["detail"]["actor"], r["detail"]["path"], r["status"]): r for r in new}
    assert "canary_percent" in by_path[("root", "/admin/models/kansai/promote", 400)]["detail"]["error"]
    assert "expires_in" in by_path[("root", "/admin/keys", 400)]["detail"]["error"]
    assert by_path[("alice", "/admin/keys", 403)]["tenant"] == "acme"
    assert "CSRF" in by_path[("root", "/admin/keys", 403)]["detail"]["error"]
    assert all(r["error_type"] for r in new)
    assert root.get("/admin/audit/verify").json()["ok"] is True


# --- tenants, usage -----------------------------------------------------------------------


def test_tenants_are_read_only_and_scoped(as_user: dict[str | None, AdminClient]) -> None:
    everyone = as_user["root"].get("/admin/tenants").json()
    assert "kitchen.yaml" in everyone["source_of_truth"]
    assert [t["name"] for t in everyone["tenants"]] == ["acme", "globex"]
    chat_cfg = everyone["tenants"][0]["projects"][0]["config"]
    assert chat_cfg["limits"]["requests_per_minute"] == 1000 and chat_cfg["models"] == ["*"]
    assert [t["name"] for t in as_user["alice"].get("/admin/tenants").json()["tenants"]] == ["acme"]
    assert as_user["root"].send("POST", "/admin/tenants", {}).status_code == 405


def test_usage_moves_and_is_scoped(kitchen: ConsoleKitchen, as_user: dict[str | None, AdminClient]) -> None:
    root, alice = as_user["root"], as_user["alice"]
    key = kitchen.api_key("acme", "chat")
    gkey = kitchen.api_key("globex", "ops")

    def count(c: AdminClient, scope: str) -> int:
        rows = c.get("/admin/usage", params={"since": "1h", "buckets": 12}).json()["totals"]
        return sum(r["requests"] for r in rows if f"{r['tenant']}/{r['project']}" == scope)

    before = count(root, "acme/chat")
    chat(kitchen, key)
    stream = sdk(kitchen, key).chat.completions.create(model="fake", stream=True,
                                                       messages=[{"role": "user", "content": "hi"}])
    assert "".join(ch.choices[0].delta.content or "" for ch in stream if ch.choices).startswith("こんにちは")
    chat(kitchen, gkey)
    wait_until(lambda: count(root, "acme/chat") >= before + 2)
    report = root.get("/admin/usage", params={"since": "1h", "tenant": "acme", "project": "chat"}).json()
    row = report["totals"][0]
    assert row["prompt_tokens"] >= 20 and row["completion_tokens"] >= 5
    assert row["ttft_p50_ms"] is not None and row["latency_p95_ms"] >= row["latency_p50_ms"]
    series = report["series"][0]["points"]
    assert len(series) == 24 and sum(p["requests"] for p in series) == row["requests"]
    assert report["by"] == "model" and {r["group"] for r in report["rows"]} == {"fake"}
    assert sum(r["requests"] for r in report["rows"]) == row["requests"]
    scopes = {f"{r['tenant']}/{r['project']}" for r in alice.get("/admin/usage?since=1h").json()["totals"]}
    assert scopes == {"acme/chat"}
    assert root.get("/admin/usage", params={"since": "tomorrow"}).status_code == 400
    assert root.get("/admin/usage", params={"since": "1h", "until": "2h"}).status_code == 400


# --- audit --------------------------------------------------------------------------------


def test_audit_query_export_and_chain(kitchen: ConsoleKitchen, as_user: dict[str | None, AdminClient]) -> None:
    root, alice, audrey = as_user["root"], as_user["alice"], as_user["audrey"]
    key = kitchen.api_key("acme", "chat")
    chat(kitchen, key)
    key_id = key.removeprefix("sk-prai-").split("_")[0]
    wait_until(lambda: audit_records(root, key_id=key_id, endpoint="chat."))
    mine = audit_records(alice)
    assert mine and all(r["tenant"] == "acme" for r in mine)
    assert any(r["endpoint"] == "chat.completions" for r in mine)
    assert any(r["endpoint"].startswith("admin.") for r in mine)
    everyone = audit_records(audrey)
    assert {r["tenant"] for r in everyone} >= {"acme", "globex", None}
    only = audit_records(root, key_id=key_id, status=200, endpoint="chat.", model="fake", since="1h")
    assert only and all(r["key_id"] == key_id and r["status"] == 200 for r in only)
    page = root.get("/admin/audit", params={"limit": 2}).json()
    older = root.get("/admin/audit", params={"limit": 2, "before_seq": page["next_before_seq"]}).json()
    assert page["records"][-1]["seq"] > older["records"][0]["seq"]
    assert root.get("/admin/audit", params={"since": "yesterday-ish"}).status_code == 400
    # export: CSV (formula cells neutralised by the shared writer) and JSON Lines, scoped
    r = alice.get("/admin/audit/export", params={"format": "csv"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert "attachment" in r.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert rows and {row["tenant"] for row in rows} == {"acme"}
    r = root.get("/admin/audit/export", params={"format": "jsonl", "tenant": "globex"})
    lines = [json.loads(line) for line in r.text.splitlines()]
    assert lines and all(x["tenant"] == "globex" for x in lines)
    assert [x["seq"] for x in lines] == sorted(x["seq"] for x in lines)
    exports = audit_records(root, endpoint="admin.audit.export")
    assert {(e["detail"]["actor"], e["detail"]["format"]) for e in exports} >= {("alice", "csv"), ("root", "jsonl")}
    # the hash chain: intact, and it covers the console's own records
    status = audrey.get("/admin/audit/verify").json()
    assert status["ok"] is True and status["head_seq"] == status["records"] > 10 and len(status["head_hash"]) == 64
    cli = kitchen.prai("audit", "verify", "--json", "-c", str(kitchen.gw.config))
    assert json.loads(cli.stdout)["head_seq"] >= status["head_seq"]


# --- models ---------------------------------------------------------------------------------


def test_promote_and_rollback_through_the_api(kitchen: ConsoleKitchen, as_user: dict[str | None,
                                                                                     AdminClient]) -> None:
    root = as_user["root"]
    key = kitchen.api_key("acme", "chat")
    models = root.get("/admin/models").json()
    kansai = next(m for m in models if m["name"] == "kansai")
    assert [v["version"] for v in kansai["versions"]] == ["v1", "v2"] and kansai["current"] is None
    r = root.post("/admin/models/kansai/promote", {"version": "v1", "drain_timeout_s": 10})
    assert r.status_code == 200, r.text
    assert r.json()["action"] == "promote" and r.json()["state"]["current"] == "v1"
    assert wait_until(lambda: chat(kitchen, key, "kansai") == "answer from kansai@v1")
    r = root.post("/admin/models/kansai/promote", {"version": "v2", "canary_percent": 50, "drain_timeout_s": 10})
    assert r.status_code == 200 and r.json()["state"]["canary"] == "v2"
    r = root.post("/admin/models/kansai/promote", {"version": "v2", "drain_timeout_s": 10})
    assert r.status_code == 200 and r.json()["state"]["current"] == "v2"
    assert wait_until(lambda: chat(kitchen, key, "kansai") == "answer from kansai@v2")
    r = root.post("/admin/models/kansai/rollback", {"drain_timeout_s": 10})
    assert r.status_code == 200 and r.json()["to_version"] == "v1"
    assert wait_until(lambda: chat(kitchen, key, "kansai") == "answer from kansai@v1")
    # refused changes: the registry's own errors, with their statuses
    r = root.post("/admin/models/kansai/promote", {"version": "v1", "canary_percent": 10})
    assert r.status_code == 409 and "already the current" in r.json()["error"]["message"]
    r = root.post("/admin/models/kansai/promote", {"version": "v2", "gate_eval": "no-such-suite.yaml"})
    assert r.status_code == 400, r.text
    detail = root.get("/admin/models/kansai").json()
    actors = {e["actor"] for e in detail["history"] if e["action"] in ("promote", "canary", "rollback")}
    assert actors == {"root (console platform-admin)"}
    recs = audit_records(root, endpoint="admin.model.")
    assert [r["status"] for r in recs if r["endpoint"] == "admin.model.rollback"] == [200]
    assert any(r["status"] == 409 and r["endpoint"] == "admin.model.canary" for r in recs)
    registry_recs = audit_records(root, endpoint="model.promote")
    assert registry_recs and all(json.loads(json.dumps(r["detail"]))["actor"] == "root (console platform-admin)"
                                 for r in registry_recs)


# --- checks ---------------------------------------------------------------------------------


def test_reports_listed_and_opened_in_a_sandbox(as_user: dict[str | None, AdminClient]) -> None:
    root = as_user["root"]
    reports = root.get("/admin/checks/reports").json()
    kinds = {r["kind"]: r for r in reports}
    assert set(kinds) == {"bench", "eval"}
    assert kinds["eval"]["headline"] == {"suite": "kansai", "passed": 3, "items": 3}
    assert kinds["bench"]["headline"]["ttft_p50_ms"] == 12.5
    assert [r["kind"] for r in root.get("/admin/checks/reports?kind=eval").json()] == ["eval"]
    r = root.get(f"/admin/checks/reports/{kinds['bench']['id']}")
    assert r.status_code == 200 and "bench report" in r.text
    csp = r.headers["content-security-policy"]
    assert "sandbox" in csp and "script-src" not in csp and "http" not in csp
    page = root.get(f"/console/reports/{kinds['eval']['id']}")
    assert page.status_code == 200 and "eval report" in page.text and "sandbox" in page.headers[
        "content-security-policy"]


def test_doctor_runs_from_the_console(kitchen: ConsoleKitchen, as_user: dict[str | None, AdminClient]) -> None:
    root = as_user["root"]
    areas = root.get("/admin/checks/areas").json()
    assert areas[0] == "storage" and "lifecycle" in areas
    r = root.post("/admin/checks/doctor", {"areas": ["lifecycle"]})
    assert r.status_code == 200, r.text
    report = r.json()
    assert report["areas"] == ["lifecycle"] and report["checks"]
    assert {c["area"] for c in report["checks"]} == {"lifecycle"}
    recs = audit_records(root, endpoint="admin.doctor.run")
    assert recs[0]["detail"]["areas"] == ["lifecycle"] and recs[0]["detail"]["actor"] == "root"


# --- pages ----------------------------------------------------------------------------------

PAGES = ["/console/", "/console/keys", "/console/usage", "/console/usage?by=key", "/console/usage?by=day",
         "/console/budgets", "/console/audit", "/console/audit?verify=1",
         "/console/models", "/console/checks", "/console/tenants", "/console/api", "/console/account"]


@pytest.mark.parametrize("user", ["root", "alice", "audrey"])
def test_every_page_renders_for_every_role(kitchen: ConsoleKitchen, as_user: dict[str | None, AdminClient],
                                           user: str) -> None:
    c = as_user[user]
    for lang in ("en", "ja"):
        c.http.cookies.set("prai_lang", lang)
        for page in PAGES:
            r = c.get(page)
            platform_only = page in ("/console/checks", "/console/audit?verify=1")
            expected = 403 if user == "alice" and platform_only else 200
            assert r.status_code == expected, (user, lang, page, r.text[:500])
            assert f'<html lang="{lang}">' in r.text
            assert "http://" not in r.text.replace(kitchen.url, "") and "https://" not in r.text
            csp = r.headers["content-security-policy"]
            assert "default-src 'none'" in csp and "http" not in csp and "unsafe-inline" not in csp
            assert r.headers["x-frame-options"] == "DENY"
    c.http.cookies.delete("prai_lang")


def test_pages_redirect_to_login_and_static_files_are_packaged(as_user: dict[str | None, AdminClient]) -> None:
    anon = as_user[None]
    r = anon.get("/console/keys?tenant=acme")
    assert r.status_code == 303 and r.headers["location"] == "/console/login?next=%2Fconsole%2Fkeys%3Ftenant%3Dacme"
    assert anon.get("/console/login").status_code == 200
    for f in ("console.js", "console.css"):
        r = anon.get(f"/console/static/{f}")
        assert r.status_code == 200 and len(r.content) > 500
    assert anon.get("/console/static/../i18n/en.json").status_code == 404
    r = anon.get("/console/lang/ja?next=//evil.example/")
    assert r.status_code == 303 and r.headers["location"] == "/console/"


def test_console_can_be_switched_off(make_console_off: Any) -> None:
    url = make_console_off
    import httpx

    for path in ("/admin/openapi.json", "/console/login"):
        r = httpx.get(url + path, trust_env=False)
        assert r.status_code == 404 and r.json()["error"]["type"] == "not_found_error"


@pytest.fixture
def make_console_off(tmp_path: Any) -> Any:
    from tests.console._console import Gateway

    gw = Gateway(tmp_path / "off", {"tenants": [{"name": "a", "projects": [{"name": "p"}]}],
                                    "console": {"enabled": False}})
    gw.start()
    time.sleep(0.1)
    yield gw.url
    gw.stop()
