"""`prai render` as a user runs it: files, --json, --diff, atomic writes, error output."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy._deploy_util import model0


def prai(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "prai.cli.main", *map(str, args)],
                          capture_output=True, text=True, cwd=cwd, timeout=120)


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_render_writes_a_kustomize_dir_and_json_summary(kitchen, crd_dir: Path,
                                                        tmp_path: Path) -> None:
    k = kitchen()
    out = tmp_path / "gitops" / "kitchen"
    r = prai("render", k, "-o", out, "--crd-dir", crd_dir, "--json", "--entrance", "kong")
    assert r.returncode == 0, r.stderr
    summary = json.loads(r.stdout)
    assert summary["out"] == str(out)
    assert summary["objects"] == 24
    assert summary["models"][0]["gpu_fit"]["fits"] is True
    assert summary["models"][0]["max_lora_rank"] == 64
    files = _tree(out)
    assert set(summary["files"]) == set(files)
    kust = yaml.safe_load(files["kustomization.yaml"])
    assert all((out / f).is_file() for f in kust["resources"])
    assert "kong/kong.yaml" in files and "connected/imageset-config.yaml" in files
    # nothing next to the output directory but the directory itself
    assert sorted(p.name for p in out.parent.iterdir()) == ["kitchen"]
    # the same render again into the same directory: allowed, identical
    r2 = prai("render", k, "-o", out, "--crd-dir", crd_dir, "--entrance", "kong")
    assert r2.returncode == 0, r2.stderr
    assert "objects validated" in r2.stdout
    assert _tree(out) == files


def test_refuses_a_directory_it_did_not_write(kitchen, crd_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    r = prai("render", kitchen(), "-o", out, "--crd-dir", crd_dir)
    assert r.returncode == 30
    assert "was not written by `prai render`" in r.stderr and "hint:" in r.stderr
    assert (out / "notes.txt").read_text() == "keep me"
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]


def test_refuses_extra_files_in_an_old_render(kitchen, crd_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "r"
    assert prai("render", kitchen(), "-o", out, "--crd-dir", crd_dir).returncode == 0
    (out / "secrets.env").write_text("AWS_SECRET_ACCESS_KEY=x")
    r = prai("render", kitchen(), "-o", out, "--crd-dir", crd_dir)
    assert r.returncode == 30 and "secrets.env" in r.stderr


def test_failed_render_leaves_the_old_one_untouched(kitchen, crd_dir: Path,
                                                   tmp_path: Path) -> None:
    out = tmp_path / "r"
    assert prai("render", kitchen(), "-o", out, "--crd-dir", crd_dir).returncode == 0
    before = _tree(out)

    def edit(doc: dict[str, Any]) -> None:
        model0(doc)["vllm"]["max_model_len"] = 65536

    r = prai("render", kitchen(edit=edit), "-o", out, "--crd-dir", crd_dir)
    assert r.returncode == 27
    assert r.stderr.startswith("error: cluster.models[tsuzumi-7b]: max_model_len 65536")
    assert "largest max_model_len that fits is 7264 tokens" in r.stderr
    assert "Traceback" not in r.stderr
    assert _tree(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r", "site"]


def test_diff_shows_what_would_change(kitchen, crd_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "r"
    assert prai("render", kitchen(), "-o", out, "--crd-dir", crd_dir).returncode == 0
    same = prai("render", kitchen(), "--diff", out, "--crd-dir", crd_dir)
    assert same.returncode == 0 and "no changes" in same.stdout

    def edit(doc: dict[str, Any]) -> None:
        model0(doc)["vllm"]["max_model_len"] = 2048
        doc["cluster"]["namespaces"].append({"name": "tenant3-x", "tenant": "tenant3",
                                             "project": "x"})

    r = prai("render", kitchen(edit=edit), "--diff", out, "--crd-dir", crd_dir)
    assert r.returncode == 1
    assert "-      - --max-model-len=4096" in r.stdout
    assert "+      - --max-model-len=2048" in r.stdout
    assert "+++ b/tenant3-x/namespace.yaml" in r.stdout
    j = prai("render", kitchen(edit=edit), "--diff", out, "--crd-dir", crd_dir, "--json")
    d = json.loads(j.stdout)
    assert "tenant3-x/namespace.yaml" in d["added"]
    assert "tenant1-projecta/inferenceservice-tsuzumi-7b.yaml" in d["changed"]
    assert d["removed"] == []
    # --diff writes nothing
    assert not (out / "tenant3-x").exists()


def test_usage_errors(kitchen, tmp_path: Path) -> None:
    r = prai("render", kitchen())
    assert r.returncode == 2 and "exactly one of -o DIR" in r.stderr
    r = prai("render", kitchen(), "-o", tmp_path / "x", "--entrance", "nginx")
    assert r.returncode == 2 and "choose prai or kong" in r.stderr
    r = prai("render", kitchen(), "--diff", tmp_path, "--include-secrets")
    assert r.returncode == 2 and "would print the S3 keys" in r.stderr
    r = prai("render", tmp_path / "missing.yaml", "-o", tmp_path / "x")
    assert r.returncode == 2 and "no such file" in r.stderr


def test_kitchen_without_cluster_section(tmp_path: Path) -> None:
    k = tmp_path / "kitchen.yaml"
    k.write_text("version: 1\n")
    r = prai("render", k, "-o", tmp_path / "x")
    assert r.returncode == 2 and "no `cluster:` section" in r.stderr
    assert "examples/kitchen-cluster.yaml" in r.stderr


def test_kustomize_builds_the_output(kitchen, crd_dir: Path, tmp_path: Path) -> None:
    """`kubectl kustomize` (what `oc apply -k` runs) accepts the directory."""
    kubectl = shutil.which("kubectl") or shutil.which("oc")
    if kubectl is None:
        pytest.skip("kubectl/oc not installed")
    out = tmp_path / "r"
    assert prai("render", kitchen(), "-o", out, "--crd-dir", crd_dir).returncode == 0
    built = subprocess.run([kubectl, "kustomize", str(out)], capture_output=True, text=True,
                           timeout=120)
    assert built.returncode == 0, built.stderr
    docs = [d for d in yaml.safe_load_all(built.stdout) if d]
    assert len(docs) == 24
    assert {d["kind"] for d in docs} >= {"InferenceService", "ServingRuntime", "Route"}


def test_without_crds_render_says_how_to_get_them(kitchen, tmp_path: Path) -> None:
    """No CRDs: the note says exactly how to fetch the cluster's own; the output names the
    checks that ran (which schema validated which files, the semantic checks)."""
    from prai.cli.render import checks_ran
    from prai.deploy import render
    from prai.deploy.renderer import CRD_HOWTO

    result = render(kitchen(), crd_dir=None)
    assert CRD_HOWTO in result.summary["notes"]
    assert ("oc get crd inferenceservices.serving.kserve.io servingruntimes.serving.kserve.io -o yaml > "
            "crds/kserve-crds.yaml") in CRD_HOWTO and "--crd-dir crds" in CRD_HOWTO
    lines = checks_ran(result.summary)
    assert any("kserve-crd (not available)" in line and "NOT schema-validated" in line for line in lines)
    assert any(line.startswith("schema kubernetes-validate ") for line in lines)
    assert "objects validated; semantic checks: images internal and pinned" in lines[-1]


def test_crds_as_oc_get_writes_them(kitchen, crd_dir: Path, tmp_path: Path) -> None:
    """`oc get crd A B -o yaml` writes one `kind: List`: --crd-dir takes it as it is."""
    docs = [yaml.safe_load(p.read_text(encoding="utf-8")) for p in sorted(crd_dir.glob("*.yaml"))]
    crds = tmp_path / "crds"
    crds.mkdir()
    (crds / "kserve-crds.yaml").write_text(
        yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": docs}), encoding="utf-8")
    r = prai("render", kitchen(), "-o", tmp_path / "out", "--crd-dir", crds)
    assert r.returncode == 0, r.stderr
    assert f"schema kserve-crd {crds}: " in r.stdout and "NOT schema-validated" not in r.stdout
    assert "no KServe CRDs" not in r.stdout
