"""Without a terminal (CI logs, pipes) nothing wraps or is cut: full paths and digests stay
on one line, as a user copies them."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from prai.engine.demo_shipped import SHIPPED_DIR


def _prai(*args: str | Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}  # rich's default would be 80 columns
    return subprocess.run([sys.executable, "-m", "prai.cli.main", *map(str, args)], capture_output=True,
                          text=True, timeout=120, env=env)


def test_tables_and_digests_are_whole_without_a_terminal(tmp_path: Path) -> None:
    deep = tmp_path / "a-rather-long-folder-name-for-the-transfer-media" / "kitchen-bundle-2026-12-03"
    deep.parent.mkdir()
    r = _prai("bundle", "create", "-o", deep, "--adapter", f"kansai-with-a-long-name={SHIPPED_DIR / 'adapters/kansai'}")
    assert r.returncode == 0, r.stderr
    assert re.search(rf"created dir bundle {re.escape(str(deep))}: ", r.stdout), r.stdout
    assert re.search(r"^root digest: sha256:[0-9a-f]{64}$", r.stdout, re.M), r.stdout
    r = _prai("bundle", "inspect", deep, "--files")  # every path (the default is a summary per role)
    assert r.returncode == 0, r.stderr
    assert "adapters/kansai-with-a-long-name/adapter_model.safetensors" in r.stdout  # not cut with "…"
    assert max(len(line) for line in r.stdout.splitlines()) > 80  # lines are as long as they need
    r = _prai("bundle", "verify", deep, "--files")  # every path (the default is a summary per role)
    assert r.returncode == 0 and "adapters/kansai-with-a-long-name/adapter_config.json" in r.stdout, r.stdout
