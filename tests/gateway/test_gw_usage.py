"""`prai usage` and the library behind it: groups, calendar days in the budget zone, cost."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from pathlib import Path

import yaml

from prai.config.gateway import ModelPrice
from prai.db.audit_log import append_audit
from prai.db.engine import open_engine
from prai.gateway.usage import UsageRow, format_usage, usage_report
from tests.gateway._gwutil import PRAI, REPO_ROOT, audit_record, gateway_env


def _us(iso: str) -> int:
    return int(datetime.fromisoformat(iso).replace(tzinfo=UTC).timestamp() * 1e6)


def _seed(db: Path) -> None:
    engine = open_engine(f"sqlite:///{db}")
    append_audit(
        engine,
        [
            # 2026-01-31 14:30 UTC = 23:30 JST on Jan 31
            audit_record(ts_us=_us("2026-01-31T14:30:00"), model="m1", key_id="k1",
                         prompt_tokens=100, completion_tokens=50, latency_us=2_000_000, gateway_us=0),
            # 2026-01-31 15:30 UTC = 00:30 JST on Feb 1: another day and month in Tokyo
            audit_record(ts_us=_us("2026-01-31T15:30:00"), model="m1", adapter="lora", key_id="k2",
                         prompt_tokens=10, completion_tokens=5, latency_us=1_000_000, gateway_us=0),
            audit_record(ts_us=_us("2026-02-02T00:00:00"), model="m2", key_id="k1", status=429,
                         prompt_tokens=None, completion_tokens=None),
            audit_record(ts_us=_us("2026-02-02T01:00:00"), tenant="globex", project="ops",
                         model="m2", key_id="k9", prompt_tokens=7, completion_tokens=3),
            # events are not usage
            audit_record(ts_us=_us("2026-02-02T02:00:00"), endpoint="budget.soft_threshold",
                         prompt_tokens=None, completion_tokens=None, detail="{}"),
        ],
    )
    engine.dispose()


def test_usage_report_groups_days_in_tokyo_and_costs(tmp_path: Path) -> None:
    _seed(tmp_path / "gw.db")
    engine = open_engine(f"sqlite:///{tmp_path / 'gw.db'}")
    prices = {"m1": ModelPrice(prompt_yen_per_million=1_000_000, completion_yen_per_million=2_000_000,
                               yen_per_gpu_second=10, gpus=2)}
    days = usage_report(engine, tenant="acme", by="day", prices=prices)
    assert [(r.group, r.requests, r.total_tokens) for r in days] == [
        ("2026-01-31", 1, 150),
        ("2026-02-01", 1, 15),
        ("2026-02-02", 1, 0),
    ]
    # 100 × ¥1 + 50 × ¥2 + 2 s × 2 GPUs × ¥10
    assert days[0].cost_yen == 240.0 and days[0].upstream_seconds == 2.0
    # the adapter has no price of its own: its base model's applies
    assert days[1].cost_yen == 10 + 10 + 20
    months = usage_report(engine, by="month")
    assert [(r.group, r.requests, r.errors, r.total_tokens) for r in months] == [
        ("2026-01", 1, 0, 150),
        ("2026-02", 3, 1, 25),
    ]
    utc_days = usage_report(engine, tenant="acme", by="day", timezone="UTC")
    assert [r.group for r in utc_days] == ["2026-01-31", "2026-02-02"]
    keys = usage_report(engine, by="key")
    assert [(r.group, r.tenant, r.project, r.requests) for r in keys] == [
        ("k1", "acme", "chat", 2),
        ("k2", "acme", "chat", 1),
        ("k9", "globex", "ops", 1),
    ]
    models = usage_report(engine, by="model", since_us=_us("2026-01-31T15:00:00"))
    assert [(r.group, r.total_tokens) for r in models] == [("lora", 15), ("m2", 10)]
    assert models[0].cost_yen is None
    projects = usage_report(engine, by="project")
    assert [r.group for r in projects] == ["acme/chat", "globex/ops"]
    # each column once: the project group (tenant/project) and its tenant, not `project` twice
    assert format_usage(projects, "table", "project").splitlines()[0].split()[:3] == ["project", "tenant", "requests"]
    assert format_usage(projects, "csv", "project").splitlines()[0].startswith("project,tenant,requests,")
    assert format_usage(usage_report(engine, by="tenant"), "table", "tenant").splitlines()[0].split()[:2] == [
        "tenant", "requests"]
    table = format_usage(days, "table", "day")
    assert table.splitlines()[0].split()[:3] == ["day", "requests", "errors"]
    assert table.splitlines()[-1].split()[0] == "total"


def test_refused_requests_spend_no_gpu_seconds(tmp_path: Path) -> None:
    """Requests answered without an upstream (401 before a key, 503 while a store is down:
    ``upstream`` NULL) count as requests and errors but spend no upstream time, so a
    GPU-second price charges nothing for them — in `prai usage` and in budgets alike."""
    from prai.gateway.budgets import usage_since

    engine = open_engine(f"sqlite:///{tmp_path / 'gw.db'}")
    append_audit(engine, [
        audit_record(ts_us=_us("2026-02-02T00:00:00"), key_id="", tenant="", project="", model=None,
                     status=401, upstream=None, gateway_us=None, latency_us=7_000_000,
                     prompt_tokens=None, completion_tokens=None),
        audit_record(ts_us=_us("2026-02-02T00:00:01"), status=503, upstream=None, gateway_us=None,
                     latency_us=9_000_000, prompt_tokens=None, completion_tokens=None),
        audit_record(ts_us=_us("2026-02-02T00:00:02"), latency_us=2_500_000, gateway_us=500_000),
    ])
    prices = {"*": ModelPrice(yen_per_gpu_second=10)}
    rows = {r.group: r for r in usage_report(engine, by="tenant", prices=prices)}
    assert rows["acme"].requests == 2 and rows["acme"].errors == 1
    assert rows["acme"].upstream_seconds == 2.0 and rows["acme"].cost_yen == 20.0
    assert rows["(no key)"].upstream_seconds == 0.0 and rows["(no key)"].cost_yen == 0.0
    used = usage_since(engine, tenant="acme", project=None, key_id=None, start_s=0, end_s=2e9, prices=prices)
    assert used[1] == 20_000_000, used  # micro-yen: 2 s x 10 yen
    engine.dispose()


def test_usage_totals_print_like_their_rows() -> None:
    """A seconds column of zeros totals ``0.00``, not ``0``; counts stay integers."""
    rows = [UsageRow("2026-12-01", None, None, 2, 0, 3, 4, 7, 0.0, None),
            UsageRow("2026-12-02", None, None, 1, 1, 1, 1, 2, 0.0, None)]
    total = format_usage(rows, "table", "day").splitlines()[-1].split()
    assert total == ["total", "3", "1", "4", "5", "9", "0.00"], total


def test_prai_usage_cli(tmp_path: Path) -> None:
    _seed(tmp_path / "gw.db")
    cfg = tmp_path / "kitchen.yaml"
    cfg.write_text(
        yaml.safe_dump(
            {
                "gateway": {
                    "tenants": [
                        {"name": "acme", "projects": [{"name": "chat"}]},
                        {"name": "globex", "projects": [{"name": "ops"}]},
                    ],
                    "storage": {"url": f"sqlite:///{tmp_path / 'gw.db'}",
                                "journal_dir": str(tmp_path / "journal")},
                    "prices": {"*": {"prompt_yen_per_million": 1_000_000}},
                }
            }
        )
    )
    env = gateway_env(tmp_path)

    def run(*args: str) -> tuple[int, str, str]:
        import subprocess

        res = subprocess.run([*PRAI, "usage", "-c", str(cfg), *args], env=env, cwd=REPO_ROOT,
                             capture_output=True, text=True, timeout=60)
        return res.returncode, res.stdout, res.stderr

    rc, out, _ = run("--by", "month", "--format", "json")
    assert rc == 0
    data = json.loads(out)
    assert [(d["group"], d["total_tokens"], d["cost_yen"]) for d in data] == [
        ("2026-01", 150, 100.0),
        ("2026-02", 25, 17.0),
    ]
    rc, out, _ = run("--tenant", "globex", "--by", "key", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert rc == 0 and rows == [
        {"key": "k9", "tenant": "globex", "project": "ops", "requests": "1", "errors": "0",
         "prompt_tokens": "7", "completion_tokens": "3", "total_tokens": "10",
         "upstream_seconds": "0.0", "cost_yen": "7.0"}
    ]
    rc, out, _ = run("--by", "day", "--since", "2026-02-01T00:00:00")
    assert rc == 0 and "2026-02-02" in out and "2026-01-31" not in out
    rc, _, err = run("--by", "week")
    assert rc == 2 and "--by 'week'" in err and "Traceback" not in err


def _seed_no_key(db: Path) -> None:
    """Two requests of acme/chat (key k1) and one refused without a valid key (HTTP 401)."""
    engine = open_engine(f"sqlite:///{db}")
    append_audit(
        engine,
        [
            audit_record(ts_us=_us("2026-12-02T00:00:00"), model="m1", key_id="k1",
                         prompt_tokens=1200, completion_tokens=300),
            audit_record(ts_us=_us("2026-12-02T01:00:00"), model="m1", key_id="k1",
                         prompt_tokens=10, completion_tokens=5),
            audit_record(ts_us=_us("2026-12-02T02:00:00"), tenant=None, project=None, key_id=None,
                         model=None, status=401, error_type="authentication_error",
                         prompt_tokens=None, completion_tokens=None, upstream=None),
        ],
    )
    engine.dispose()


def _kitchen(tmp_path: Path) -> Path:
    cfg = tmp_path / "kitchen.yaml"
    cfg.write_text(yaml.safe_dump({"gateway": {
        "tenants": [{"name": "acme", "projects": [{"name": "chat"}]}],
        "storage": {"url": f"sqlite:///{tmp_path / 'gw.db'}", "journal_dir": str(tmp_path / "journal")},
    }}))
    return cfg


def _run_usage(tmp_path: Path, cfg: Path, *args: str) -> tuple[int, str, str]:
    import subprocess

    res = subprocess.run([*PRAI, "usage", "-c", str(cfg), *args], env=gateway_env(tmp_path), cwd=REPO_ROOT,
                         capture_output=True, text=True, timeout=60)
    return res.returncode, res.stdout, res.stderr


def test_requests_without_a_key_are_grouped_as_no_key(tmp_path: Path) -> None:
    _seed_no_key(tmp_path / "gw.db")
    engine = open_engine(f"sqlite:///{tmp_path / 'gw.db'}")
    for by, first in (("tenant", "acme"), ("project", "acme/chat"), ("key", "k1"), ("model", "m1")):
        rows = usage_report(engine, by=by)
        # the 401 is its own group, labelled, last: never `None/None` nor an empty label
        assert [(r.group, r.requests, r.errors) for r in rows] == [(first, 2, 0), ("(no key)", 1, 1)], by
        assert (rows[-1].tenant, rows[-1].project) == (None, None)
        table = format_usage(rows, "table", by)
        assert "None" not in table and table.splitlines()[2].split()[:3] == ["(no", "key)", "1"], table
        csv_rows = list(csv.reader(io.StringIO(format_usage(rows, "csv", by))))
        assert csv_rows[-1][0] == "(no key)" and "None" not in csv_rows[-1]
        data = json.loads(format_usage(rows, "json", by))
        assert data[-1]["group"] == "(no key)" and data[-1]["tenant"] is None and data[-1]["project"] is None
    engine.dispose()


def test_usage_table_right_aligns_numbers_in_every_grouping(tmp_path: Path) -> None:
    _seed_no_key(tmp_path / "gw.db")
    engine = open_engine(f"sqlite:///{tmp_path / 'gw.db'}")
    for by in ("tenant", "project", "model", "key", "day", "month"):
        lines = format_usage(usage_report(engine, by=by), "table", by).splitlines()
        header = lines[0]
        for line in lines[1:]:
            # every number ends where its column's header ends: `requests` counts 2 and 1
            # (and 3 in total), prompt_tokens 1,210 and 0
            for col in ("requests", "prompt_tokens", "total_tokens"):
                end = header.index(col) + len(col)
                assert line[end - 1].isdigit() and (end == len(line) or line[end] == " "), (by, col, lines)
    engine.dispose()


def test_usage_refuses_since_after_until_and_takes_durations_for_both(tmp_path: Path) -> None:
    _seed_no_key(tmp_path / "gw.db")
    cfg = _kitchen(tmp_path)
    rc, out, err = _run_usage(tmp_path, cfg, "--since", "2026-12-06", "--until", "2026-12-01")
    lines = err.splitlines()
    assert rc == 2 and out == "" and len(lines) == 2, err
    assert lines[0].startswith("error: ") and "2026-12-06" in lines[0] and "2026-12-01" in lines[0]
    assert lines[1].startswith("hint: ") and "swap" in lines[1]
    # --until takes what --since takes, and says so in --help
    rc, out, err = _run_usage(tmp_path, cfg, "--until", "7d", "--format", "json")
    assert rc == 0 and isinstance(json.loads(out), list), err
    rc, _, err = _run_usage(tmp_path, cfg, "--since", "1d", "--until", "7d")  # a day ago is after a week ago
    assert rc == 2 and err.startswith("error: --since 1d is not before --until 7d"), err
    rc, _, err = _run_usage(tmp_path, cfg, "--until", "yesterday")
    assert rc == 2 and err.startswith("error: --until 'yesterday': not a time"), err
    from prai.gateway.usage import parse_window

    assert parse_window("2026-12-01", "2026-12-06") == (_us("2026-12-01T00:00:00"), _us("2026-12-06T00:00:00"))
    assert parse_window("2d", "1d", now=10 * 86400.0) == (8 * 86400 * 10**6, 9 * 86400 * 10**6)


def test_usage_help_names_the_time_forms_of_since_and_until() -> None:
    from typer.main import get_command

    from prai.cli.main import app

    usage = get_command(app).commands["usage"]  # type: ignore[attr-defined]
    helps = {p.name: p.help for p in usage.params}
    for name in ("since", "until"):
        assert "ISO date" in helps[name] and "7d" in helps[name] and "2026-12-01" in helps[name], helps[name]
    assert "(no key)" in (usage.help or "")


def test_usage_format_and_by_in_any_case(tmp_path: Path) -> None:
    _seed_no_key(tmp_path / "gw.db")
    cfg = _kitchen(tmp_path)
    rc, out, err = _run_usage(tmp_path, cfg, "--format", "CSV", "--by", "Project")
    assert rc == 0, err
    assert [r[:3] for r in csv.reader(io.StringIO(out))] == [
        ["project", "tenant", "requests"], ["acme/chat", "acme", "2"], ["(no key)", "", "1"]]
