"""The doctor: section and option handling: bad input is one clear error, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from prai.doctor import build_plan, parse_only
from prai.errors import ConfigError, UsageError
from tests.doctor.doctor_util import cluster_kitchen, write_kitchen


def test_unknown_key_in_doctor_section(tmp_path: Path) -> None:
    k = write_kitchen(tmp_path / "k.yaml", {"doctor": {"s3_prefx": "models/v1"}})
    with pytest.raises(ConfigError, match=r"doctor\.s3_prefx: unknown key"):
        build_plan(k, env={})


def test_doctor_section_feeds_the_plan(tmp_path: Path) -> None:
    k = cluster_kitchen(tmp_path / "k.yaml", model_dir=tmp_path / "local", doctor={
        "model_dirs": {"tiny": "/mnt/models"}, "endpoint": "https://llm.apps.kitchen.internal",
        "api_key_env": "MY_KEY", "serving_uid": 1000900000})
    plan = build_plan(k, env={"MY_KEY": "sk-from-env"})
    assert plan.models[0].dir == Path("/mnt/models")
    assert plan.endpoint == "https://llm.apps.kitchen.internal"
    assert plan.api_key == "sk-from-env" and "sk-from-env" not in repr(plan)
    assert plan.serving_uid == 1000900000
    assert plan.expected_models == ["tiny"]


def test_bad_options() -> None:
    with pytest.raises(UsageError, match="unknown area"):
        parse_only("storage,dns")
    assert parse_only("endpoint,storage") == ["storage", "endpoint"]
    with pytest.raises(UsageError, match="NAME=DIR"):
        build_plan(None, env={}, model=Path("/m"), adapters=["legal"])
    with pytest.raises(UsageError, match="needs --model"):
        build_plan(None, env={}, adapters=["legal=/a"])
