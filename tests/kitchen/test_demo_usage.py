"""The demo's closing example works as printed, from any shell: its `openai` example runs
with the interpreter PrAI runs in (whose environment has the SDK), not a bare `python`."""

from __future__ import annotations

import shlex
import subprocess
import sys
from pathlib import Path

from prai.kitchen.demo import usage_text
from tests.conftest import REPO_ROOT, free_port
from tests.gateway._gwutil import FakeUpstream


def test_the_printed_openai_example_runs_outside_the_venv(tmp_path: Path) -> None:
    up = FakeUpstream(models="prai-demo,kansai:prai-demo")
    try:
        text = usage_text(up.url, "sk-test", "prai-demo", "kansai")
        example = next(line.strip() for line in text.splitlines() if "from openai import OpenAI" in line)
        assert example.startswith(shlex.quote(sys.executable) + " -c ")
        # A shell whose PATH has no virtual environment (a new terminal, cron, a colleague's copy-paste).
        r = subprocess.run(["/bin/sh", "-c", example], capture_output=True, text=True, timeout=60, cwd=tmp_path,
                           env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "NO_PROXY": "127.0.0.1"})
        assert r.returncode == 0, r.stderr
        assert "こんにちは" in r.stdout
    finally:
        up.stop()


def test_usage_text_is_copyable(tmp_path: Path) -> None:
    text = usage_text(f"http://127.0.0.1:{free_port()}", "sk-x", "prai-demo", "kansai", python="/opt/my env/python")
    assert "'/opt/my env/python' -c" in text  # quoted for the shell
    assert "curl -s http" in text and "Authorization: Bearer sk-x" in text
    assert str(REPO_ROOT) not in text


def test_a_second_demo_on_the_same_cache_is_refused_at_once(tmp_path: Path) -> None:
    """Its bundle, store, gateway database and reports live in the cache: one demo at a time."""
    import pytest
    from filelock import FileLock

    from prai.errors import CacheBusy
    from prai.kitchen.demo import run_demo
    from prai.settings import Settings

    settings = Settings.from_env({"PRAI_CACHE_DIR": str(tmp_path), "HOME": str(tmp_path)})
    (tmp_path / "demo").mkdir()
    with FileLock(str(tmp_path / "demo" / ".demo-run.lock")), pytest.raises(CacheBusy, match="another `prai demo`"):
        run_demo(smoke=True, port=free_port(), gateway_port=free_port(), settings=settings)
