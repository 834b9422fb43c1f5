"""Long commands keep talking without a terminal and say what was done on Ctrl-C."""

from __future__ import annotations

import io
import json
import platform
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from prai.cli._progress import ByteProgress


def test_plain_progress_lines_without_a_terminal() -> None:
    out = io.StringIO()
    with ByteProgress(interval_s=0.0, stream=out, tty=False) as bar:
        bar.start("verifying", 4 * 2**20)
        for _ in range(4):
            bar.advance(2**20)
            time.sleep(0.01)
        bar.start("copying", 2**20)
        bar.advance(2**19)
        assert bar.summary() == "verifying done (4.0 MiB); copying: 512.0 KiB of 1.0 MiB"
        bar.advance(2**19)
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("verifying: 1.0 MiB of 4.0 MiB (25%), ")
    assert any(line.startswith("verifying: 2.0 MiB of 4.0 MiB (50%), ") and "/s, ETA " in line for line in lines)
    assert any(line.startswith("verifying: done, 4.0 MiB in ") for line in lines)
    assert lines[-1].startswith("copying: done, 1.0 MiB in ")


def test_progress_lines_are_spaced_by_the_interval() -> None:
    out = io.StringIO()
    with ByteProgress(interval_s=3600, stream=out, tty=False) as bar:
        bar.start("hashing", 100)
        for _ in range(100):
            bar.advance(1)
    assert out.getvalue().splitlines() == []  # finished within the interval: nothing to report


def test_json_mode_prints_nothing() -> None:
    out = io.StringIO()
    with ByteProgress(enabled=False, stream=out, tty=False) as bar:
        bar.start("loading", 10)
        bar.advance(10)
    assert out.getvalue() == ""


def test_ctrl_c_reports_what_was_done_and_exits_130() -> None:
    """Ctrl-C while doctor waits for a silent endpoint: what was started, how to go on, 130."""
    with socket.socket() as srv:
        srv.bind(("127.0.0.1", 0))
        srv.listen(8)  # accepts, never answers
        url = f"http://127.0.0.1:{srv.getsockname()[1]}"
        p = subprocess.Popen([sys.executable, "-m", "prai.cli.main", "doctor", "--endpoint", url, "--only",
                              "endpoint", "--timeout", "60"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
        assert p.stderr is not None
        for line in p.stderr:  # without a terminal doctor names each area as it starts it
            if "checking endpoint" in line:
                break
        time.sleep(0.5)
        p.send_signal(signal.SIGINT)
        _, err = p.communicate(timeout=30)
    assert p.returncode == 130, err
    assert "interrupted (prai doctor): areas started: endpoint" in err
    assert "hint: doctor changes nothing: run it again" in err and "Traceback" not in err


def test_ctrl_c_anywhere_else_is_130_with_a_line(tmp_path: Path) -> None:
    """A command without its own report still says it was interrupted (stdin read by guard scan)."""
    p = subprocess.Popen([sys.executable, "-m", "prai.cli.main", "guard", "scan", "-", "--json"],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    read = "63" if platform.machine() == "aarch64" else "0"  # the read(2) syscall number
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # until it blocks reading stdin (read on fd 0)
        if Path(f"/proc/{p.pid}/syscall").read_text().startswith(f"{read} 0x0 "):
            break
        time.sleep(0.1)
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=30)
    assert p.returncode == 130, err
    assert err.startswith("interrupted (prai guard scan)") and "hint: " in err and "Traceback" not in err
    assert json.loads(out or "null") is None


def test_ctrl_c_during_bundle_load_says_how_to_resume(tmp_path: Path) -> None:
    """`prai bundle load` without a terminal prints progress lines; Ctrl-C in the middle says
    how far it got and that the same command resumes; the same command then completes."""
    import os

    big = tmp_path / "weights.bin"
    with open(big, "wb") as f:
        f.truncate(256 * 2**20)  # 256 MiB of zeros: hashed and copied, quickly created
    bundle = tmp_path / "bundle"
    env = dict(os.environ, PRAI_PROGRESS_INTERVAL_S="0.01")
    cmd = [sys.executable, "-m", "prai.cli.main", "bundle"]
    from prai.engine.demo_shipped import SHIPPED_DIR

    adapter = f"kansai={SHIPPED_DIR / 'adapters' / 'kansai'}"
    r = subprocess.run([*cmd, "create", "-o", str(bundle), "--adapter", adapter, "--other", str(big)],
                       capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0, r.stderr
    assert re.search(r"^packing: \S+ MiB of 256\.\d MiB \(\d+%\), \S+ \S+/s, ETA \d+ s$", r.stderr, re.M), r.stderr
    load = [*cmd, "load", str(bundle), "--to", str(tmp_path / "pvc")]
    p = subprocess.Popen(load, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    assert p.stderr is not None
    seen = []
    for line in p.stderr:
        seen.append(line)
        if re.match(r"^\w[\w ]*: \S+ \S+ of 256\.\d MiB \(\d+%\)", line):
            break
    p.send_signal(signal.SIGINT)
    _, err = p.communicate(timeout=120)
    err = "".join(seen) + err
    if p.returncode == 0:  # the machine finished before the signal arrived: nothing to check
        print("bundle load finished before Ctrl-C arrived")
        return
    assert p.returncode == 130, err
    assert re.search(r"^interrupted \(prai bundle load\): .*of 256\.\d MiB", err, re.M), err
    assert "hint: run the same command again" in err and "it resumes" in err and "Traceback" not in err
    r = subprocess.run(load, capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "pvc").is_dir()
