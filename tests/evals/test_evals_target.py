"""`prai eval` checks its target before any item (dead server, missing key, mistyped model:
one line, a hint, exit 51, no result written) and names the first reason items got no answer."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests._support.fake_openai import FakeOpenAI, Persona
from tests._support.net import free_port

KEY = "sk-eval-target-0123456789"


@pytest.fixture(scope="module")
def keyed() -> Iterator[FakeOpenAI]:
    up = FakeOpenAI(personas={"prai-demo": Persona(), "broken": Persona(fail=True)}, api_key=KEY,
                    models_need_key=True).start()
    yield up
    up.stop()


@pytest.fixture
def suite(tmp_path: Path) -> Path:
    path = tmp_path / "s.jsonl"
    path.write_text("".join(f'{{"id": "q{i}", "prompt": "こんにちは", "assert": [{{"contains": "ようこそ"}}]}}\n'
                            for i in range(5)), encoding="utf-8")
    return path


def _eval(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "PRAI_API_KEY"}
    return subprocess.run([sys.executable, "-m", "prai.cli.main", "eval", *args], capture_output=True, text=True,
                          timeout=120, env=env)


def _refused(r: subprocess.CompletedProcess[str], out: Path, message: str, hint: str) -> None:
    assert r.returncode == 51, r.stdout + r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 2 and lines[0].startswith("error: ") and message in lines[0], r.stderr
    assert lines[1].startswith("hint: ") and hint in lines[1]
    assert "FAIL" not in r.stdout and "Traceback" not in r.stderr and not out.exists()


def test_dead_target_is_refused_before_any_item(suite: Path, tmp_path: Path) -> None:
    out = tmp_path / "o"
    r = _eval(str(suite), "--target", f"http://127.0.0.1:{free_port()}", "--model", "prai-demo", "-o", str(out))
    _refused(r, out, "cannot reach http://127.0.0.1:", "is the server running?")


def test_missing_key_is_refused_before_any_item(keyed: FakeOpenAI, suite: Path, tmp_path: Path) -> None:
    out = tmp_path / "o"
    r = _eval(str(suite), "--target", keyed.url, "--model", "prai-demo", "-o", str(out))
    _refused(r, out, "HTTP 401: missing API key (no API key was sent)", "--api-key")
    assert keyed.stats()["requests"] == 0


def test_mistyped_model_is_refused_with_the_served_names(keyed: FakeOpenAI, suite: Path, tmp_path: Path) -> None:
    out = tmp_path / "o"
    r = _eval(str(suite), "--target", keyed.url, "--model", "prai-dmeo", "--api-key", KEY, "-o", str(out))
    _refused(r, out, "does not serve 'prai-dmeo'; it serves: prai-demo, broken", "check --model")


def test_items_failing_on_http_errors_name_the_first_reason(keyed: FakeOpenAI, suite: Path, tmp_path: Path) -> None:
    r = _eval(str(suite), "--target", keyed.url, "--model", "broken", "--api-key", KEY, "-o", str(tmp_path / "o"))
    assert r.returncode == 53, r.stdout + r.stderr
    first = r.stderr.strip().splitlines()[0]
    assert first.startswith("error: 5 item(s) failed; first error: broken/q0: HTTP 500") and "report.html" in first
