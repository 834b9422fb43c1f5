"""`prai render --registry`: the promoted adapter versions of a real SQLite registry (written
with prai.lifecycle.registry) rendered into --lora-modules and the prai.io/promoted
annotation, validated against the real KServe CRDs."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from prai.db.engine import open_engine
from prai.deploy import render
from prai.deploy.promoted import ANNOTATION
from prai.errors import RegistryStateError
from prai.lifecycle import registry
from tests.deploy._deploy_util import EXAMPLES, model0

ISVC = "tenant1-projecta/inferenceservice-tsuzumi-7b.yaml"


def _digest(tag: str) -> str:
    return hashlib.sha256(tag.encode()).hexdigest()


class Registry:
    """A registry file in tmp, changed the way `prai model register/promote` change it."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = open_engine(url)

    def add(self, name: str, version: str, *, base: str = "tsuzumi-7b", rank: int | None = 16,
            path: str | None = None) -> None:
        registry.register_version(
            self.engine, name=name, version=version, kind="adapter",
            digest=_digest(f"{name}{version}"), source_bundle=f"/bundles/{name}-{version}",
            actor="test", base=base, path=path or f"/mnt/models/adapters/{name}-{version}",
            rank=rank)

    def route(self, name: str, current: str, canary: str | None = None, pct: float = 0.0) -> None:
        a = registry.get_alias(self.engine, name)
        registry.set_route(self.engine, name, action="promote", current=current,
                           previous=a.current, canary=canary, canary_percent=pct, actor="test",
                           expect_generation=a.generation, from_version=a.current,
                           to_version=canary or current)


@pytest.fixture
def reg(tmp_path: Path) -> Registry:
    return Registry(f"sqlite:///{tmp_path / 'registry' / 'gateway.db'}")


def _args(files: dict[str, str], rel: str = ISVC) -> tuple[list[str], dict[str, Any]]:
    obj = yaml.safe_load(files[rel])
    return obj["spec"]["predictor"]["model"]["args"], obj["metadata"]["annotations"]


def _modules(args: list[str]) -> dict[str, dict[str, Any]]:
    i = args.index("--lora-modules")
    mods = [json.loads(a) for a in args[i + 1:] if not a.startswith("--")]
    return {m["name"]: m for m in mods}


def _flag(args: list[str], flag: str) -> str:
    return next(a.split("=", 1)[1] for a in args if a.startswith(flag + "="))


def test_current_and_canary_rendered_with_annotation(reg: Registry, crd_dir: Path) -> None:
    reg.add("kansai", "v1")
    reg.add("kansai", "v2", rank=128)
    reg.route("kansai", "v1")
    reg.route("kansai", "v1", canary="v2", pct=10)
    plain = render(EXAMPLES / "kitchen-cluster.yaml", entrance="kong", crd_dir=crd_dir, env={})
    result = render(EXAMPLES / "kitchen-cluster.yaml", entrance="kong", crd_dir=crd_dir, env={},
                    registry=reg.url)
    args, ann = _args(result.files)
    mods = _modules(args)
    # the kitchen's adapters stay as they were; the promoted versions come after them
    assert list(mods) == ["legal", "support", "kansai@v1", "kansai@v2"]
    assert mods["kansai@v1"] == {"name": "kansai@v1", "path": "/mnt/models/adapters/kansai-v1",
                                 "base_model_name": "tsuzumi-7b"}
    assert mods["kansai@v2"]["path"] == "/mnt/models/adapters/kansai-v2"
    assert _flag(args, "--max-loras") == "4"
    assert _flag(args, "--max-lora-rank") == "128"  # the canary's rank from the registry
    assert json.loads(ann[ANNOTATION]) == {"kansai": {
        "current": "v1", "digest": _digest("kansaiv1"),
        "canary": "v2", "canary_digest": _digest("kansaiv2"), "canary_percent": 10}}
    # canonical JSON: sorted keys, no spaces
    assert ann[ANNOTATION] == json.dumps(json.loads(ann[ANNOTATION]), sort_keys=True,
                                         separators=(",", ":"))
    # only the InferenceService, the runtime (runtime LoRA updating for `prai model promote`)
    # and the marker listing hashes differ from a plain render
    changed = {f for f in result.files if result.files[f] != plain.files.get(f)}
    runtime = "tenant1-projecta/servingruntime-tsuzumi-7b-vllm.yaml"
    assert changed == {ISVC, runtime, ".prai-render.json"}
    env = yaml.safe_load(result.files[runtime])["spec"]["containers"][0]["env"]
    assert {"name": "VLLM_ALLOW_RUNTIME_LORA_UPDATING", "value": "True"} in env
    assert "VLLM_ALLOW_RUNTIME_LORA_UPDATING" not in plain.files[runtime]
    assert ANNOTATION not in _args(plain.files)[1]
    s = result.summary
    assert s["registry"]["url"] == reg.url
    assert s["registry"]["aliases"]["kansai"]["canary"] == "v2"
    assert [a["name"] for a in s["models"][0]["adapters"]] == ["legal", "support", "kansai@v1",
                                                               "kansai@v2"]
    assert s["models"][0]["max_lora_rank"] == 128
    assert s["models"][0]["gpu_fit"]["fits"] is True


def test_render_with_registry_is_deterministic(reg: Registry, crd_dir: Path) -> None:
    reg.add("kansai", "v1")
    reg.add("hakata", "v3", rank=8)
    reg.route("kansai", "v1")
    reg.route("hakata", "v3")
    a = render(EXAMPLES / "kitchen-cluster.yaml", crd_dir=crd_dir, env={}, registry=reg.url)
    b = render(EXAMPLES / "kitchen-cluster.yaml", crd_dir=crd_dir, env={}, registry=reg.url)
    assert a.files == b.files
    args, ann = _args(a.files)
    assert list(_modules(args))[2:] == ["hakata@v3", "kansai@v1"]  # by alias name
    assert list(json.loads(ann[ANNOTATION])) == ["hakata", "kansai"]


def test_local_path_is_refused(reg: Registry, crd_dir: Path, tmp_path: Path) -> None:
    """A path registered on this machine (prai up, a bundle directory) is not in the cluster."""
    reg.add("kansai", "v1", path="/home/alice/.cache/prai/bundles/kansai-v1/adapters/kansai")
    reg.route("kansai", "v1")
    with pytest.raises(RegistryStateError) as ei:
        render(EXAMPLES / "kitchen-cluster.yaml", crd_dir=crd_dir, env={}, registry=reg.url)
    e = ei.value
    assert "kansai@v1" in e.message and "/home/alice/.cache/prai" in e.message
    assert "not under /mnt/models/" in e.message
    assert "--path /mnt/models/adapters/kansai-v1" in e.hint and e.exit_code == 32


@pytest.mark.parametrize("path", ["/mnt/models/../etc/kansai", "/mnt/models", "mnt/models/a",
                                  "/mnt/models/a b"])
def test_paths_escaping_the_model_root_are_refused(reg: Registry, crd_dir: Path, path: str) -> None:
    reg.add("kansai", "v1", path=path)
    reg.route("kansai", "v1")
    with pytest.raises(RegistryStateError):
        render(EXAMPLES / "kitchen-cluster.yaml", crd_dir=crd_dir, env={}, registry=reg.url)


def test_kitchen_adapter_of_a_routed_alias_is_replaced(reg: Registry, crd_dir: Path) -> None:
    reg.add("legal", "v7", rank=8)
    reg.route("legal", "v7")
    result = render(EXAMPLES / "kitchen-cluster.yaml", crd_dir=crd_dir, env={}, registry=reg.url)
    mods = _modules(_args(result.files)[0])
    assert list(mods) == ["support", "legal@v7"]
    assert any("adapter legal of kitchen.yaml is replaced by the registry's legal@v7" in n
               for n in result.summary["notes"])


def test_aliases_on_other_bases_and_unpromoted_are_left_out(reg: Registry, crd_dir: Path) -> None:
    reg.add("kansai", "v1", base="llama-70b")
    reg.route("kansai", "v1")
    reg.add("draft", "v1")  # registered, never promoted
    result = render(EXAMPLES / "kitchen-cluster.yaml", crd_dir=crd_dir, env={}, registry=reg.url)
    args, ann = _args(result.files)
    assert list(_modules(args)) == ["legal", "support"]
    assert ann[ANNOTATION] == "{}"  # rendered with a registry: nothing promoted here
    notes = "\n".join(result.summary["notes"])
    assert "kansai@v1 (current of kansai) runs on base 'llama-70b'" in notes
    assert "draft: registered but never promoted" in notes


def test_base_named_by_a_model_alias_is_matched(reg: Registry, crd_dir: Path, kitchen: Callable[..., Path]) -> None:
    reg.add("kansai", "v1", base="nttcslab/tsuzumi-7b")
    reg.route("kansai", "v1")
    k = kitchen(edit=lambda d: model0(d).update(aliases=["nttcslab/tsuzumi-7b"]))
    result = render(k, crd_dir=crd_dir, env={}, registry=reg.url)
    mods = _modules(_args(result.files)[0])
    assert mods["kansai@v1"]["base_model_name"] == "tsuzumi-7b"  # the served name


def test_unknown_rank_needs_an_explicit_max_lora_rank(reg: Registry, crd_dir: Path,
                                                      kitchen: Callable[..., Path]) -> None:
    reg.add("kansai", "v1", rank=None)
    reg.route("kansai", "v1")
    with pytest.raises(RegistryStateError) as ei:
        render(kitchen(), crd_dir=crd_dir, env={}, registry=reg.url)
    assert "records no LoRA rank" in ei.value.message and "max_lora_rank" in ei.value.hint
    k = kitchen(edit=lambda d: model0(d)["vllm"].update(max_lora_rank=64))
    result = render(k, crd_dir=crd_dir, env={}, registry=reg.url)
    assert "kansai@v1" in _modules(_args(result.files)[0])


def test_registry_rank_above_explicit_max_lora_rank_is_refused(reg: Registry, crd_dir: Path,
                                                               kitchen: Callable[..., Path]) -> None:
    from prai.errors import AdapterRankTooLarge

    reg.add("kansai", "v1", rank=128)
    reg.route("kansai", "v1")
    k = kitchen(edit=lambda d: model0(d)["vllm"].update(max_lora_rank=64))
    with pytest.raises(AdapterRankTooLarge, match="kansai@v1 has LoRA rank 128"):
        render(k, crd_dir=crd_dir, env={}, registry=reg.url)


def test_missing_registry_is_refused_and_not_created(crd_dir: Path, tmp_path: Path) -> None:
    db = tmp_path / "nowhere" / "gateway.db"
    with pytest.raises(RegistryStateError, match="no registry database at"):
        render(EXAMPLES / "kitchen-cluster.yaml", crd_dir=crd_dir, env={}, registry=f"sqlite:///{db}")
    assert not db.exists() and not db.parent.exists()
    with pytest.raises(RegistryStateError, match="not a database URL"):
        render(EXAMPLES / "kitchen-cluster.yaml", crd_dir=crd_dir, env={}, registry="gateway.db")


def test_auto_reads_the_gateway_storage_url(reg: Registry, crd_dir: Path, kitchen: Callable[..., Path],
                                            tmp_path: Path) -> None:
    reg.add("kansai", "v1")
    reg.route("kansai", "v1")
    k = kitchen(edit=lambda d: d["gateway"].update(storage={"url": reg.url}))
    result = render(k, crd_dir=crd_dir, env={}, registry="auto")
    assert "kansai@v1" in _modules(_args(result.files)[0])
    # without storage.url: PrAI's default gateway database under PRAI_CACHE_DIR
    cache = tmp_path / "cache"
    default = Registry(f"sqlite:///{cache / 'gateway.db'}")
    default.add("hakata", "v2")
    default.route("hakata", "v2")
    result = render(kitchen(), crd_dir=crd_dir, env={"PRAI_CACHE_DIR": str(cache)}, registry="auto")
    assert list(_modules(_args(result.files)[0]))[2:] == ["hakata@v2"]


def _prai(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "prai.cli.main", *map(str, args)],
                          capture_output=True, text=True, timeout=120)


def test_cli_render_with_registry(reg: Registry, crd_dir: Path, kitchen: Callable[..., Path], tmp_path: Path) -> None:
    reg.add("kansai", "v1")
    reg.route("kansai", "v1")
    k = kitchen()
    out = tmp_path / "out"
    r = _prai("render", k, "-o", out, "--crd-dir", crd_dir, "--registry", reg.url)
    assert r.returncode == 0, r.stderr
    assert "kansai → v1" in r.stdout
    isvc = yaml.safe_load((out / ISVC).read_text())
    assert "kansai@v1" in _modules(isvc["spec"]["predictor"]["model"]["args"])
    # unchanged registry: --diff sees nothing to change
    same = _prai("render", k, "--diff", out, "--crd-dir", crd_dir, "--registry", reg.url)
    assert same.returncode == 0, same.stdout + same.stderr
    reg.add("kansai", "v2")
    reg.route("kansai", "v2")
    d = _prai("render", k, "--diff", out, "--crd-dir", crd_dir, "--registry", reg.url)
    assert d.returncode == 1 and "kansai@v2" in d.stdout
    # a local path: one clear error, exit 32, no traceback, nothing written
    reg.add("hakata", "v1", path=str(tmp_path / "adapters" / "hakata"))
    reg.route("hakata", "v1")
    bad = _prai("render", k, "-o", tmp_path / "out2", "--crd-dir", crd_dir, "--registry", reg.url)
    assert bad.returncode == 32, bad.stderr
    assert "hakata@v1" in bad.stderr and "/mnt/models" in bad.stderr
    assert "Traceback" not in bad.stderr and not (tmp_path / "out2").exists()


@pytest.mark.engine
def test_vllm_parses_promoted_lora_modules(reg: Registry, crd_dir: Path,
                                           no_network_env: dict[str, str]) -> None:
    """vLLM's own argument parser reads the ALIAS@VERSION modules as rendered."""
    import importlib.util

    if importlib.util.find_spec("vllm") is None:
        pytest.skip("the cpu extra (vLLM) is not installed")
    from tests.deploy.test_deploy_vllm_args import _PARSE, container_argv

    reg.add("kansai", "v1")
    reg.add("kansai", "v2", rank=128)
    reg.route("kansai", "v1", canary="v2", pct=10)
    result = render(EXAMPLES / "kitchen-cluster.yaml", crd_dir=crd_dir, env={}, registry=reg.url)
    objs = {o["kind"]: o for _, o in result.objects}
    out = subprocess.run([sys.executable, "-c", _PARSE, json.dumps(container_argv(objs))], env=no_network_env,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    ns = json.loads(out.stdout.strip().splitlines()[-1])
    assert ns["model"] == "/mnt/models"
    assert ns["max_loras"] == 4 and ns["max_lora_rank"] == 128
    assert ns["lora"][2:] == [["kansai@v1", "/mnt/models/adapters/kansai-v1", "tsuzumi-7b"],
                              ["kansai@v2", "/mnt/models/adapters/kansai-v2", "tsuzumi-7b"]]


def test_postgresql_registry(postgres_url: str, crd_dir: Path) -> None:
    """The production case: several gateways share a PostgreSQL registry (own schema here,
    so tests sharing the database do not see each other's aliases)."""
    import uuid

    from sqlalchemy import create_engine, text

    from prai.db.engine import normalize_url

    schema = "prai_render_" + uuid.uuid4().hex[:10]
    admin = create_engine(normalize_url(postgres_url))
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    url = f"{postgres_url}?options=-csearch_path%3D{schema}"
    try:
        reg = Registry(url)
        reg.add("kansai", "v1")
        reg.route("kansai", "v1")
        reg.engine.dispose()
        result = render(EXAMPLES / "kitchen-cluster.yaml", crd_dir=crd_dir, env={}, registry=url)
        args, ann = _args(result.files)
        assert "kansai@v1" in _modules(args)
        assert json.loads(ann[ANNOTATION])["kansai"]["current"] == "v1"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()
