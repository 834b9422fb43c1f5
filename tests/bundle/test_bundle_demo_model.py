"""The real demo model and adapters (built by the engine room) through the bring-in path."""

from __future__ import annotations

from pathlib import Path

import pytest

from prai.bundle import read_manifest
from prai.kitchen.bring_in import demo_adapter_roundtrip, demo_roundtrip
from prai.modelfiles.model_dir import check_model_dir

# The demo model comes from the session fixture in tests/conftest.py (built once).
pytestmark = [pytest.mark.engine, pytest.mark.slow]


def test_demo_model_roundtrip(tmp_path: Path, demo_models) -> None:  # type: ignore[no-untyped-def]
    report = check_model_dir(demo_models.base)
    assert report.ok, report.problems
    assert report.facts.has_chat_template and report.facts.parameter_count
    rt = demo_roundtrip(demo_models.base, demo_models.adapters, tmp_path / "work")
    m = read_manifest(rt.bundle)
    assert sorted(a.name for a in m.adapters) == sorted(demo_models.adapters)
    assert all(a.rank for a in m.adapters)
    for name, src in demo_models.adapters.items():
        for f in src.iterdir():
            if f.is_file():
                assert (rt.adapter_dirs[name] / f.name).read_bytes() == f.read_bytes()
    for f in demo_models.base.iterdir():
        if f.is_file():
            assert (rt.model_dir / f.name).read_bytes() == f.read_bytes()


def test_demo_adapter_v2_roundtrip(tmp_path: Path, demo_models) -> None:  # type: ignore[no-untyped-def]
    src = demo_models.next_adapters["kansai"]
    rt = demo_adapter_roundtrip("kansai", src, tmp_path / "v2", base_model_dir=demo_models.base)
    m = read_manifest(rt.bundle)
    assert m.model is None and {f.role for f in m.files} == {"adapter", "sbom"}  # every bundle has an SBOM
    assert [(a.name, a.base_model_name_or_path, a.rank) for a in m.adapters] == [("kansai", "prai-demo", 8)]
    for f in src.iterdir():
        assert (rt.adapter_dir / f.name).read_bytes() == f.read_bytes()
