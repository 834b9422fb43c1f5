"""Package-wide guarantees: light imports, offline engine, every error has a hint."""

from __future__ import annotations

import inspect
import subprocess
import sys
from pathlib import Path

import pytest

import prai.errors


def _modules_after(code: str) -> set[str]:
    out = subprocess.run([sys.executable, "-c", code + "; import sys; print(' '.join(sys.modules))"],
                         capture_output=True, text=True, check=True).stdout
    return set(out.split())


def test_import_prai_and_cli_stay_light() -> None:
    loaded = _modules_after("import prai, prai.cli.main")
    assert not loaded & {"torch", "vllm", "transformers", "peft"}


def test_importing_any_prai_module_leaves_the_environment_alone() -> None:
    code = (
        "import importlib, os, pkgutil, prai; before = dict(os.environ); "
        "[importlib.import_module(m.name) for m in pkgutil.walk_packages(prai.__path__, 'prai.')]; "
        "print(sorted(k for k in {*before, *os.environ} if before.get(k) != os.environ.get(k)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_hugging_face_is_offline_when_the_demo_model_builder_starts(tmp_path: Path) -> None:
    """The builder is the one place this process imports transformers: HF must be offline
    by then, even when the caller's environment says otherwise (the engine process gets
    the same flags from engine_environment, tested in tests/engine/test_serve.py)."""
    pytest.importorskip("torch", reason="the demo model builder needs the `cpu` extra")
    pytest.importorskip("peft", reason="the demo model builder needs the `cpu` extra")
    code = (
        "import os, sys; from pathlib import Path; os.environ['HF_HUB_OFFLINE'] = '0'\n"
        "from prai.engine import demo_model\n"
        "def probe(out, *, log):\n"
        "    import huggingface_hub.constants as c; print(c.HF_HUB_OFFLINE); raise SystemExit(0)\n"
        "demo_model._build = probe\n"
        "import prai.engine.demo_shipped as shipped\n"
        "shipped.check_shipped = lambda key, *a, **k: (None, 'shipped weights disabled by the test')\n"
        "demo_model.ensure_demo_models(Path(sys.argv[1]), log=print)\n"
    )
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "True", out.stdout + out.stderr


def test_every_error_has_a_hint_and_exit_code() -> None:
    classes = [c for _, c in inspect.getmembers(prai.errors, inspect.isclass) if issubclass(c, prai.errors.PraiError)]
    assert len(classes) > 10
    for cls in classes:
        assert cls.hint and isinstance(cls.hint, str), cls.__name__
        assert isinstance(cls.exit_code, int) and cls.exit_code > 0, cls.__name__
        assert 400 <= cls.http_status < 600, cls.__name__


def test_version_flag() -> None:
    r = subprocess.run([sys.executable, "-m", "prai.cli.main", "--version"], capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.startswith("prai ")
