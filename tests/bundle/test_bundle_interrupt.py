"""Ctrl-C during `prai bundle create` / `load`: says what was done and how to resume, exits 130."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from prai.bundle import create_bundle

PRAI = [sys.executable, "-m", "prai.cli.main"]


def _interrupt_when(cmd: list[str], ready: Path, timeout_s: float = 120) -> subprocess.CompletedProcess[str]:
    """Run ``cmd``; send SIGINT (what Ctrl-C sends) as soon as ``ready`` exists."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + timeout_s
    while not ready.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


def _big_file(path: Path, size: int) -> Path:
    with open(path, "wb") as f:
        block = os.urandom(1 << 20)
        for _ in range(size >> 20):
            f.write(block)
    return path


def test_ctrl_c_during_load_then_resume(tmp_path: Path, tiny_llama: Path) -> None:
    big = _big_file(tmp_path / "corpus.bin", 384 << 20)
    create_bundle(tmp_path / "b", model=tiny_llama, others=[big])
    big.unlink()
    dest = tmp_path / "pvc"
    done = _interrupt_when([*PRAI, "bundle", "load", str(tmp_path / "b"), "--to", str(dest)], dest / ".prai-staging")
    assert done.returncode == 130, done.stderr
    assert "interrupted (prai bundle load" in done.stderr and "hint:" in done.stderr and "it resumes" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (dest / ".prai-import-receipt.json").exists()
    again = subprocess.run([*PRAI, "bundle", "load", str(tmp_path / "b"), "--to", str(dest)], capture_output=True,
                           text=True)
    assert again.returncode == 0, again.stderr
    ok = subprocess.run([*PRAI, "bundle", "verify", str(dest)], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr


def test_ctrl_c_during_create_leaves_nothing(tmp_path: Path, tiny_llama: Path) -> None:
    big = _big_file(tmp_path / "corpus.bin", 384 << 20)
    out = tmp_path / "b"
    done = _interrupt_when(
        [*PRAI, "bundle", "create", "-o", str(out), "--model", str(tiny_llama), "--other", str(big)],
        tmp_path / ".b.partial" / "other",
    )
    assert done.returncode == 130, done.stderr
    assert "interrupted (prai bundle create" in done.stderr and "run the same command again" in done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["corpus.bin", "tiny-llama"]
