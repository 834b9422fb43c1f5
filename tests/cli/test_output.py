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


def test_key_table_is_whole_in_a_pipe(tmp_path: Path) -> None:
    """`prai keys list | cat`: long names and both dates on one line each, nothing cut with "…"."""
    import yaml

    tenant, project = "tenant-with-a-rather-long-name", "project-with-a-rather-long-name-too"
    kitchen = tmp_path / "kitchen.yaml"
    kitchen.write_text(yaml.safe_dump({"gateway": {
        "tenants": [{"name": tenant, "projects": [{"name": project, "models": ["*"]}]}],
        "storage": {"url": f"sqlite:///{tmp_path / 'gw.db'}"},
    }}))
    r = _prai("keys", "create", "-c", kitchen, "--tenant", tenant, "--project", project,
              "--name", "nightly-evaluation-pipeline-key", "--expires", "30d")
    assert r.returncode == 0, r.stderr
    r = _prai("keys", "list", "-c", kitchen)
    assert r.returncode == 0, r.stderr
    assert "…" not in r.stdout, r.stdout
    row = next(line for line in r.stdout.splitlines() if tenant in line)
    assert project in row and "nightly-evaluation-pipeline-key" in row , r.stdout
    assert len(re.findall(r"\d{4}-\d\d-\d\d", row)) == 2, r.stdout  # created and expires, whole


def test_every_cli_table_prints_through_the_shared_console() -> None:
    """No command builds its own stdout Console (rich's default cuts tables at 80 columns)."""
    cli = Path(__file__).resolve().parents[2] / "src" / "prai" / "cli"
    offenders = [p.name for p in cli.glob("*.py")
                 if p.name not in ("_console.py", "_errors.py", "_progress.py")
                 and re.search(r"\bConsole\((?!stderr=True)", p.read_text(encoding="utf-8"))]
    assert offenders == []


def test_help_summaries_read_whole() -> None:
    """`prai --help` lists each command on one line when there is room: summaries do not
    break where the docstring's source lines do ("…(味見), doctor," / "the gateway…")."""
    env = {**os.environ, "COLUMNS": "300"}
    for args in ([], ["bundle"]):
        r = subprocess.run([sys.executable, "-m", "prai.cli.main", *args, "--help"], capture_output=True,
                           text=True, timeout=60, env=env)
        assert r.returncode == 0, r.stderr
        panel = r.stdout.split("Commands")[1].splitlines()[1:]
        rows = [line.strip("│ ") for line in panel if line.startswith("│")]
        assert rows and all(re.match(r"^[a-z][\w-]* {2,}\S", row) for row in rows), rows  # no continuation lines
    assert "taste test (味見), doctor, the gateway with guardrails" in subprocess.run(
        [sys.executable, "-m", "prai.cli.main", "--help"], capture_output=True, text=True, timeout=60,
        env=env).stdout
