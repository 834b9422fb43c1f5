"""The console's usage figures are `prai usage`'s, and its budgets show what the gateway
enforces. Traffic goes through a real `prai gateway` (fake upstream, `openai` SDK); then the
admin API is compared with the `prai usage --format json` command for the same filters, and
the budgets with the gateway's own ``x-prai-budget-remaining`` header and its 429."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import openai
import pytest

from tests.console._console import (
    ACME_BUDGET,
    METERED_BUDGET,
    METERED_KEY_BUDGET,
    AdminClient,
    ConsoleKitchen,
    chat,
    sdk,
    wait_until,
)


def requests_in(c: AdminClient, since: str, until: str) -> int:
    r = c.get("/admin/usage", params={"since": since, "until": until, "by": "tenant"})
    assert r.status_code == 200, r.text
    return sum(row["requests"] for row in r.json()["rows"])


@pytest.fixture(scope="module")
def window(kitchen: ConsoleKitchen, as_user: dict[str | None, AdminClient]) -> tuple[str, str]:
    """Traffic of two tenants, three projects, four keys and two models (one answer streamed,
    one embedding, one refused with 404); returns the ISO window (since, until) around it,
    once every request is in the audit log."""
    since = (datetime.now(UTC) - timedelta(seconds=2)).isoformat()
    chat_a, chat_b = kitchen.api_key("acme", "chat"), kitchen.api_key("acme", "chat")
    rag, ops = kitchen.api_key("acme", "rag"), kitchen.api_key("globex", "ops")
    for _ in range(2):
        chat(kitchen, chat_a)
    stream = sdk(kitchen, chat_a).chat.completions.create(
        model="fake", stream=True, messages=[{"role": "user", "content": "hi"}])
    assert "".join(ch.choices[0].delta.content or "" for ch in stream if ch.choices)
    chat(kitchen, chat_b)
    sdk(kitchen, rag).embeddings.create(model="embed", input=["一つ目", "二つ目"])
    chat(kitchen, ops)
    with pytest.raises(openai.NotFoundError):
        chat(kitchen, ops, model="no-such-model")
    until = (datetime.now(UTC) + timedelta(seconds=60)).isoformat()
    wait_until(lambda: requests_in(as_user["root"], since, until) >= 7, timeout_s=15, every_s=0.2)
    return since, until


def prai_usage(kitchen: ConsoleKitchen, since: str, until: str, by: str, **filters: str) -> list[dict[str, Any]]:
    args = ["usage", "--format", "json", "--by", by, "--since", since, "--until", until, "-c", str(kitchen.gw.config)]
    for name, value in filters.items():
        args += [f"--{name}", value]
    rows: list[dict[str, Any]] = json.loads(kitchen.prai(*args).stdout)
    return rows


CASES: list[tuple[str, dict[str, str]]] = [
    ("tenant", {}),
    ("project", {}),
    ("model", {}),
    ("key", {}),
    ("day", {}),
    ("month", {}),
    ("day", {"timezone": "UTC"}),
    ("model", {"tenant": "acme"}),
    ("key", {"tenant": "acme", "project": "chat"}),
    ("project", {"project": "ops"}),
]


@pytest.mark.parametrize(("by", "filters"), CASES, ids=[f"{b}-{'-'.join(f.values()) or 'all'}" for b, f in CASES])
def test_usage_api_equals_prai_usage_json(kitchen: ConsoleKitchen, as_user: dict[str | None, AdminClient],
                                          window: tuple[str, str], by: str, filters: dict[str, str]) -> None:
    since, until = window
    r = as_user["root"].get("/admin/usage", params={"since": since, "until": until, "by": by, **filters})
    assert r.status_code == 200, r.text
    report = r.json()
    cli = prai_usage(kitchen, since, until, by, **filters)
    assert cli, "the command sees the traffic"
    assert report["rows"] == cli
    assert report["by"] == by and report["timezone"] == filters.get("timezone", "Asia/Tokyo")
    # the per-project totals are the command's by=project rows (plus timing)
    per_project = {row["group"]: row for row in prai_usage(
        kitchen, since, until, "project", **{k: v for k, v in filters.items() if k != "timezone"})}
    for total in report["totals"]:
        row = per_project.pop(f"{total['tenant']}/{total['project']}")
        assert {k: total[k] for k in row if k != "group"} == {k: v for k, v in row.items() if k != "group"}
    assert not per_project


def test_the_figures_are_the_traffic_sent(kitchen: ConsoleKitchen, as_user: dict[str | None, AdminClient],
                                          window: tuple[str, str]) -> None:
    since, until = window
    rows = as_user["audrey"].get("/admin/usage", params={"since": since, "until": until, "by": "project"}).json()
    by_project = {r["group"]: r for r in rows["rows"]}
    chat_row, ops_row = by_project["acme/chat"], by_project["globex/ops"]
    assert (chat_row["requests"], chat_row["errors"]) == (4, 0)
    # 10 + 5 tokens per answer, 10 + 4 for the streamed one (a usage chunk per piece streamed)
    assert (chat_row["prompt_tokens"], chat_row["completion_tokens"]) == (40, 19)
    assert chat_row["cost_yen"] == round((40 * 1000 + 19 * 2000) / 1e6, 2)  # PRICES: yen per million
    assert (ops_row["requests"], ops_row["errors"]) == (2, 1)  # the unknown model: 404, counted as an error
    assert by_project["acme/rag"]["requests"] == 1
    totals = {f"{t['tenant']}/{t['project']}": t for t in rows["totals"]}
    assert totals["acme/chat"]["ttft_p50_ms"] is not None  # the streamed answer


def test_a_tenant_admin_gets_the_command_s_figures_for_the_own_tenant(
    kitchen: ConsoleKitchen, as_user: dict[str | None, AdminClient], window: tuple[str, str]
) -> None:
    since, until = window
    for by in ("project", "key"):
        r = as_user["alice"].get("/admin/usage", params={"since": since, "until": until, "by": by})
        assert r.json()["rows"] == prai_usage(kitchen, since, until, by, tenant="acme")
    r = as_user["alice"].get("/admin/usage", params={"since": since, "until": until, "tenant": "globex"})
    assert r.status_code == 403 and r.json()["error"]["type"] == "permission_error"


# --- budgets --------------------------------------------------------------------------------


def budgets(c: AdminClient, **params: str) -> dict[str, Any]:
    r = c.get("/admin/budgets", params=params)
    assert r.status_code == 200, r.text
    data: dict[str, Any] = r.json()
    return data


def quota(report: dict[str, Any], name: str, period: str, unit: str = "tokens") -> dict[str, Any]:
    for b in report["budgets"]:
        if b["name"] == name:
            for q in b["quotas"]:
                if (q["period"], q["unit"]) == (period, unit):
                    return dict(q)
    raise AssertionError(f"no {period} {unit} quota for {name}: {report['budgets']}")


def post_chat(kitchen: ConsoleKitchen, key: str) -> httpx.Response:
    return httpx.post(kitchen.url + "/v1/chat/completions", trust_env=False, timeout=30,
                      headers={"authorization": f"Bearer {key}"},
                      json={"model": "fake", "messages": [{"role": "user", "content": "hi"}]})


def test_budgets_show_what_the_gateway_counts(kitchen: ConsoleKitchen,
                                             as_user: dict[str | None, AdminClient]) -> None:
    root = as_user["root"]
    key = kitchen.api_key("acme", "metered")
    key_id = key.removeprefix("sk-prai-").split("_")[0]
    name = f"key {key_id}"
    limit = METERED_KEY_BUDGET["tokens_per_day"]
    first = budgets(root)
    assert "kitchen.yaml" in first["source_of_truth"] and first["timezone"] == "Asia/Tokyo"
    assert quota(first, name, "day") == {"period": "day", "unit": "tokens", "limit": limit, "spent": 0,
                                         "remaining": limit, "used_percent": 0.0, "state": "ok"}
    entry = next(b for b in first["budgets"] if b["name"] == name)
    assert (entry["scope"], entry["tenant"], entry["project"], entry["key_id"]) == ("key", "acme", "metered", key_id)
    assert not any(q["period"] == "month" for q in entry["quotas"])  # only what kitchen.yaml sets
    assert post_chat(kitchen, key).status_code == 200
    seen = 0
    for _ in range(2):
        # what the console says remains is what the gateway tells the client on the next request
        seen += 15
        q = wait_until(lambda s=seen: (q := quota(budgets(root), name, "day"))["spent"] == s and q)
        r = post_chat(kitchen, key)
        assert r.status_code == 200 and r.headers["x-prai-budget-remaining"] == str(q["remaining"])
        assert q["state"] == "soft"  # past soft_percent: 1
    seen += 15
    q = wait_until(lambda: (q := quota(budgets(root), name, "day"))["spent"] == seen and q)
    assert q["remaining"] == 0 and q["state"] == "exhausted" and q["used_percent"] == pytest.approx(112.5)
    r = post_chat(kitchen, key)
    assert r.status_code == 429 and r.json()["error"]["type"] == "budget_exceeded"
    report = budgets(root)
    assert f"for {name}" in r.json()["error"]["message"]  # the console names budgets as the gateway does
    assert report["day"]["resets_at"] in r.json()["error"]["message"]
    # the project shares its budget across keys; the tenant's counts every project, and
    # equals what `prai usage` counts for the month
    assert quota(report, "project acme/metered", "day")["spent"] == seen
    assert quota(report, "project acme/metered", "day")["limit"] == METERED_BUDGET["tokens_per_day"]
    month_start = report["month"]["starts_at"]
    until = (datetime.now(UTC) + timedelta(seconds=60)).isoformat()
    [acme] = prai_usage(kitchen, month_start, until, "tenant", tenant="acme")
    tokens = quota(report, "tenant acme", "month")
    yen = quota(report, "tenant acme", "month", "yen")
    assert tokens["spent"] == acme["total_tokens"] and tokens["limit"] == ACME_BUDGET["tokens_per_month"]
    assert yen["spent"] == acme["cost_yen"] > 0 and yen["remaining"] == pytest.approx(1000 - acme["cost_yen"])
    # a revoked key has no budget to show
    root.post(f"/admin/keys/{key_id}/revoke")
    assert all(b["name"] != name for b in budgets(root)["budgets"])


def test_budgets_are_read_only_and_scoped(as_user: dict[str | None, AdminClient]) -> None:
    everyone = budgets(as_user["audrey"])
    assert {b["tenant"] for b in everyone["budgets"]} == {"acme"}  # globex has none
    assert [b["name"] for b in everyone["budgets"]][:2] == ["tenant acme", "project acme/metered"]
    assert budgets(as_user["alice"])["budgets"] == budgets(as_user["root"])["budgets"]
    assert budgets(as_user["bob"])["budgets"] == []
    r = as_user["bob"].get("/admin/budgets", params={"tenant": "acme"})
    assert r.status_code == 403 and r.json()["error"]["type"] == "permission_error"
    names = [b["name"] for b in budgets(as_user["root"], project="metered")["budgets"]]
    assert names[0] == "project acme/metered" and all(n.startswith("key ") for n in names[1:])  # no tenant
    for method in ("POST", "PUT", "DELETE"):
        r = as_user["root"].send(method, "/admin/budgets", {})
        assert r.status_code == 405 and r.json()["error"]["code"] == 405


def test_budgets_page_in_both_languages(kitchen: ConsoleKitchen, as_user: dict[str | None, AdminClient]) -> None:
    c = as_user["alice"]
    for lang, title, source in (("en", "Budgets", "source of truth"), ("ja", "予算", "正本")):
        c.http.cookies.set("prai_lang", lang)
        r = c.get("/console/budgets")
        assert r.status_code == 200 and f"<h1>{title}</h1>" in r.text and source in r.text
        assert 'data-budget="tenant acme"' in r.text and 'data-budget="project acme/metered"' in r.text
    c.http.cookies.delete("prai_lang")
    r = c.get("/console/budgets", params={"tenant": "globex"})
    assert r.status_code == 403
