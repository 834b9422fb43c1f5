"""`prai up --smoke` with a kitchen.yaml: gateway started, key made, taste test through it."""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml

from tests._support.net import free_port
from tests.gateway._gwutil import PRAI, REPO_ROOT, FakeUpstream, gateway_env


def test_up_smoke_with_kitchen_file(tmp_path: Path, fake_upstream: FakeUpstream) -> None:
    port = free_port()
    cfg = {
        "gateway": {
            "port": port,
            "upstreams": [{"name": "ext", "base_urls": [fake_upstream.url], "models": ["fake"]}],
            "tenants": [{"name": "team", "projects": [{"name": "p"}]}],
            "storage": {
                "url": f"sqlite:///{tmp_path / 'up.db'}",
                "journal_dir": str(tmp_path / "j"),
            },
        }
    }
    path = tmp_path / "kitchen.yaml"
    path.write_text(yaml.safe_dump(cfg))
    res = subprocess.run([*PRAI, "up", str(path), "--smoke"], env=gateway_env(tmp_path), cwd=REPO_ROOT,
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert "taste test through the gateway OK" in res.stderr and "こんにちは" in res.stderr
    audit = subprocess.run(
        [*PRAI, "audit", "export", "-c", str(path)],
        env=gateway_env(tmp_path),
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert '"tenant": "team"' in audit.stdout and '"status": 200' in audit.stdout


def test_up_rejects_bad_kitchen(tmp_path: Path) -> None:
    path = tmp_path / "kitchen.yaml"
    path.write_text(
        "gateway:\n  upstreams:\n    - name: x\n      base_urls: [ftp://nope]\n  tenantz: []\n"
    )
    res = subprocess.run(
        [*PRAI, "up", str(path)],
        env=gateway_env(tmp_path),
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert (
        "gateway.upstreams[0].base_urls" in res.stderr
        and "gateway.tenantz: unknown key" in res.stderr
    )
