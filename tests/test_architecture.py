"""The house rules that hold for every room: import-linter's contracts (pyproject.toml,
docs/architecture.md) and one way to open an HTTP client."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
SRC = REPO_ROOT / "src" / "prai"


def test_import_contracts_are_kept() -> None:
    """Layers cli -> kitchen -> capabilities -> shared, no cycles, gateway and lifecycle
    apart, leaf capabilities alone (``lint-imports``, as CI runs it)."""
    lint = Path(sys.executable).parent / "lint-imports"
    r = subprocess.run([str(lint), "--no-cache"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-2000:]
    assert "0 broken" in r.stdout


def test_every_http_client_comes_from_prai_http() -> None:
    """httpx/aiohttp clients are made only in prai/_http.py (proxies ignored, CA, timeouts)."""
    makers = {("httpx", n) for n in ("Client", "AsyncClient", "get", "post", "put", "delete", "request", "stream")}
    makers |= {("aiohttp", "ClientSession"), ("aiohttp", "request")}
    found = []
    for path in SRC.rglob("*.py"):
        if path.name == "_http.py" and path.parent == SRC:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            f = node.func if isinstance(node, ast.Call) else None
            if isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) and (f.value.id, f.attr) in makers:
                found.append(f"{path.relative_to(REPO_ROOT)}:{node.lineno}: {f.value.id}.{f.attr}(...)")
    assert not found, "use prai._http.http_client / aiohttp_session:\n" + "\n".join(found)
