"""Package-wide guarantees: light imports, offline engine, every error has a hint."""

from __future__ import annotations

import inspect
import subprocess
import sys

import prai.errors


def _modules_after(code: str) -> set[str]:
    out = subprocess.run([sys.executable, "-c", code + "; import sys; print(' '.join(sys.modules))"],
                         capture_output=True, text=True, check=True).stdout
    return set(out.split())


def test_import_prai_and_cli_stay_light() -> None:
    loaded = _modules_after("import prai, prai.cli.main")
    assert not loaded & {"torch", "vllm", "transformers", "peft"}


def test_importing_the_engine_forces_hugging_face_offline() -> None:
    code = (
        "import os; os.environ['HF_HUB_OFFLINE'] = '0'; import prai.engine; "
        "import huggingface_hub.constants as c; print(c.HF_HUB_OFFLINE)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "True"


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
