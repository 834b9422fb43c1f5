"""lifecycle: a real SQLite registry (prai.lifecycle.registry) against a real `prai render`
output directory and a small OpenAI-shaped engine on 127.0.0.1 (GET /v1/models)."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from prai.db.engine import open_engine
from prai.deploy import render, write_atomic
from prai.doctor import build_plan, run_doctor
from prai.lifecycle import registry
from tests.doctor.doctor_util import checks, fake_engine, http_server

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "kitchen-cluster.yaml"
WHERE = "tenant1-projecta/tsuzumi-7b"


class Registry:
    """A registry file in tmp, changed the way `prai model register/promote` change it."""

    def __init__(self, path: Path) -> None:
        self.url = f"sqlite:///{path}"
        self.engine = open_engine(self.url)

    def add(self, name: str, version: str, base: str = "tsuzumi-7b") -> None:
        registry.register_version(
            self.engine, name=name, version=version, kind="adapter",
            digest=hashlib.sha256(f"{name}{version}".encode()).hexdigest(),
            source_bundle=f"/bundles/{name}-{version}", actor="test", base=base,
            path=f"/mnt/models/adapters/{name}-{version}", rank=16)

    def route(self, name: str, current: str, canary: str | None = None, pct: float = 0.0) -> None:
        a = registry.get_alias(self.engine, name)
        registry.set_route(self.engine, name, action="promote", current=current,
                           previous=a.current, canary=canary, canary_percent=pct, actor="test",
                           expect_generation=a.generation, from_version=a.current,
                           to_version=canary or current)


@pytest.fixture
def reg(tmp_path: Path) -> Registry:
    r = Registry(tmp_path / "gw" / "gateway.db")
    r.add("kansai", "v1")
    r.add("kansai", "v2")
    r.route("kansai", "v1")
    return r


@pytest.fixture
def site(tmp_path: Path) -> Path:
    """examples/kitchen-cluster.yaml and its assets in tmp (render reads them)."""
    root = tmp_path / "site"
    shutil.copytree(EXAMPLE.parent / "cluster", root / "cluster")
    shutil.copy(EXAMPLE, root / EXAMPLE.name)
    return root / EXAMPLE.name


def _render(kitchen: Path, out: Path, registry_url: str | None) -> Path:
    return write_atomic(render(kitchen, env={}, registry=registry_url).files, out)


def _lifecycle(registry_url: str | None = None, rendered: Path | None = None,
               endpoint: str | None = None, kitchen: Path | None = None,
               env: dict[str, str] | None = None) -> dict[str, Any]:
    plan = build_plan(kitchen, env=env or {}, registry=registry_url, rendered=rendered,
                      endpoint=endpoint)
    return checks(run_doctor(plan, ["lifecycle"]), "lifecycle")


def test_rendered_with_registry_agrees(reg: Registry, site: Path, tmp_path: Path) -> None:
    out = _render(site, tmp_path / "out", reg.url)
    c = _lifecycle(reg.url, out)
    assert c[f"rendered {WHERE} kansai"].status == "PASS"
    assert "kansai@v1 (current)" in c[f"rendered {WHERE} kansai"].evidence
    assert all(x.status == "PASS" for x in c.values())


def test_promotion_after_render_warns(reg: Registry, site: Path, tmp_path: Path) -> None:
    out = _render(site, tmp_path / "out", reg.url)
    reg.route("kansai", "v2")
    c = _lifecycle(reg.url, out)[f"rendered {WHERE} kansai"]
    assert c.status == "WARN"
    assert (f"registry routes kansai → v2 (kansai@v2) but the rendered InferenceService {WHERE} "
            "serves kansai@v1") in c.evidence
    assert "kansai@v1, which the registry no longer routes" in c.evidence
    assert "prai render" in c.remediation and "--registry" in c.remediation
    assert "prai model promote/rollback" in c.remediation
    # re-rendering with the registry makes them agree again
    _render(site, out, reg.url)
    assert _lifecycle(reg.url, out)[f"rendered {WHERE} kansai"].status == "PASS"


def test_canary_and_its_share(reg: Registry, site: Path, tmp_path: Path) -> None:
    reg.route("kansai", "v1", canary="v2", pct=10)
    out = _render(site, tmp_path / "out", reg.url)
    c = _lifecycle(reg.url, out)[f"rendered {WHERE} kansai"]
    assert c.status == "PASS" and "kansai@v2 (canary 10%)" in c.evidence
    reg.route("kansai", "v1", canary="v2", pct=50)  # same versions, another share
    c = _lifecycle(reg.url, out)[f"rendered {WHERE} kansai"]
    assert c.status == "WARN"
    assert "the render recorded canary share 10%, the registry holds 50%" in c.evidence
    reg.route("kansai", "v1")  # canary ended
    reg.add("kansai", "v3")
    reg.route("kansai", "v1", canary="v3", pct=5)
    c = _lifecycle(reg.url, out)[f"rendered {WHERE} kansai"]
    assert c.status == "WARN"
    assert ("registry sends 5% of kansai to canary v3 (kansai@v3) but the rendered "
            f"InferenceService {WHERE} does not serve it") in c.evidence
    assert "serves kansai@v2, which the registry no longer routes" in c.evidence


def test_rendered_without_registry(reg: Registry, site: Path, tmp_path: Path) -> None:
    out = _render(site, tmp_path / "out", None)
    c = _lifecycle(reg.url, out)
    assert c[f"rendered {WHERE}"].status == "WARN"
    assert "rendered without --registry" in c[f"rendered {WHERE}"].evidence
    k = c[f"rendered {WHERE} kansai"]
    assert k.status == "WARN" and "serves no version of kansai" in k.evidence


def test_alias_on_a_base_no_render_serves(reg: Registry, site: Path, tmp_path: Path) -> None:
    reg.add("hakata", "v1", base="llama-70b")
    reg.route("hakata", "v1")
    out = _render(site, tmp_path / "out", reg.url)
    c = _lifecycle(reg.url, out)
    assert c["rendered hakata@v1"].status == "WARN"
    assert "on base 'llama-70b', but no InferenceService" in c["rendered hakata@v1"].evidence
    assert c[f"rendered {WHERE} kansai"].status == "PASS"


def test_live_endpoint(reg: Registry) -> None:
    with http_server(fake_engine(["tsuzumi-7b", "legal", "kansai@v1"])) as url:
        c = _lifecycle(reg.url, endpoint=url)
        assert c["live kansai"].status == "PASS"
        assert "kansai@v1 (current)" in c["live kansai"].evidence
        reg.route("kansai", "v2")
        c = _lifecycle(reg.url, endpoint=url + "/v1")
        assert c["live kansai"].status == "WARN"
        assert f"kansai@v2 is not loaded on {url}" in c["live kansai"].evidence
        assert "prai model promote" in c["live kansai"].remediation
    # an engine of another base model is not compared
    with http_server(fake_engine(["llama-70b"])) as url:
        c = _lifecycle(reg.url, endpoint=url)
        assert c["live"].status == "SKIP" and "tsuzumi-7b" in c["live"].evidence
    # no engine answering: a warning, not a failure
    c = _lifecycle(reg.url, endpoint="http://127.0.0.1:9")
    assert c["live"].status == "WARN" and "ConnectError" in c["live"].evidence


def test_skips(reg: Registry, tmp_path: Path) -> None:
    c = _lifecycle(None, endpoint="http://127.0.0.1:9")
    assert c["registry"].status == "SKIP" and "--registry" in c["registry"].evidence
    c = _lifecycle(reg.url)
    assert c["registry"].status == "SKIP" and "kansai → v1" in c["registry"].evidence
    # an explicit registry that does not exist is a warning
    c = _lifecycle(f"sqlite:///{tmp_path / 'none.db'}", endpoint="http://127.0.0.1:9")
    assert c["registry"].status == "WARN" and "no registry database" in c["registry"].evidence
    assert not (tmp_path / "none.db").exists()


def test_kitchen_gateway_storage_is_the_default(reg: Registry, site: Path, tmp_path: Path) -> None:
    out = _render(site, tmp_path / "out", reg.url)
    doc = yaml.safe_load(site.read_text())
    doc["gateway"]["storage"] = {"url": reg.url}
    site.write_text(yaml.safe_dump(doc, sort_keys=False))
    assert _lifecycle(kitchen=site, rendered=out)[f"rendered {WHERE} kansai"].status == "PASS"
    # without storage.url: the default gateway database under PRAI_CACHE_DIR; none there = SKIP
    del doc["gateway"]["storage"]
    site.write_text(yaml.safe_dump(doc, sort_keys=False))
    cache = tmp_path / "cache"
    c = _lifecycle(kitchen=site, rendered=out, env={"PRAI_CACHE_DIR": str(cache)})
    assert c["registry"].status == "SKIP" and "no model registry at" in c["registry"].evidence
    assert not cache.exists()


def test_cli(reg: Registry, site: Path, tmp_path: Path) -> None:
    out = _render(site, tmp_path / "out", reg.url)
    reg.route("kansai", "v2")
    r = subprocess.run(
        [sys.executable, "-m", "prai.cli.main", "doctor", "--registry", reg.url, "--rendered",
         str(out), "--only", "lifecycle", "--json"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr  # a warning, not a failure
    report = json.loads(r.stdout)
    warn = [c for c in report["checks"] if c["status"] == "WARN"]
    assert len(warn) == 1 and "kansai@v2" in warn[0]["evidence"]
    assert warn[0]["data"]["differences"]
