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
from prai.gateway.usage import format_usage, usage_report
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
