"""`prai up` prints the console's URL and how to log in; the demo kitchens' ``admin`` user
gets a one-time password (what `prai demo` and `prai up` without kitchen.yaml print)."""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path

import httpx
import yaml

from prai.console.setup import login_lines
from tests.console._console import PRAI, REPO_ROOT, AdminClient, FakeUpstream, Gateway, free_port
from tests.gateway._gwutil import gateway_env


def test_up_prints_the_console_and_how_to_log_in(tmp_path: Path) -> None:
    upstream = FakeUpstream()
    port = free_port()
    cfg = {"gateway": {
        "port": port, "upstreams": [{"name": "ext", "base_urls": [upstream.url], "models": ["fake"]}],
        "tenants": [{"name": "team", "projects": [{"name": "p"}]}],
        "storage": {"url": f"sqlite:///{tmp_path / 'up.db'}", "journal_dir": str(tmp_path / "j")},
    }}
    path = tmp_path / "kitchen.yaml"
    path.write_text(yaml.safe_dump(cfg))
    proc = subprocess.Popen([*PRAI, "up", str(path)], env=gateway_env(tmp_path), cwd=REPO_ROOT,
                            stderr=subprocess.PIPE, text=True)
    try:
        lines: list[str] = []
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and not any("create-user" in x for x in lines):
            line = proc.stderr.readline() if proc.stderr else ""
            if not line:
                break
            lines.append(line)
        text = "".join(lines)
        url = f"http://127.0.0.1:{port}/console/"
        assert f"prai up: console: {url}" in text, text
        assert f"no console user yet: prai admin create-user NAME --role platform-admin -c {path}" in text
        r = httpx.get(url, trust_env=False)
        assert r.status_code == 303 and r.headers["location"].startswith("/console/login")
    finally:
        proc.terminate()
        proc.wait(30)
        upstream.stop()


def test_demo_admin_gets_a_one_time_password(tmp_path: Path) -> None:
    gw = Gateway(tmp_path / "gw", {"tenants": [{"name": "demo", "projects": [{"name": "taste"}]}]})
    gw.start()
    try:
        cache = tmp_path / "cache"
        first = login_lines(gw.config, cache, gw.url, demo_user=True, actor="test")
        assert first[0].startswith(f"console: {gw.url}/console/")
        password = re.search(r"one-time password (\w+)", first[1]).group(1)  # type: ignore[union-attr]
        c = AdminClient(gw.url)
        r = c.login("admin", password)
        assert r.status_code == 200 and r.json()["role"] == "platform-admin" and r.json()["must_change_password"]
        again = login_lines(gw.config, cache, gw.url, demo_user=True, actor="test")
        new = re.search(r"one-time password (\w+)", again[1]).group(1)  # type: ignore[union-attr]
        assert new != password and c.get("/admin/session").status_code == 401  # reset ends sessions
        assert AdminClient(gw.url).login("admin", password).status_code == 401
        assert "prai admin list-users" in login_lines(gw.config, cache, gw.url, demo_user=False, actor="t")[1]
        off = tmp_path / "off.yaml"
        data = yaml.safe_load(gw.config.read_text())
        data["gateway"]["console"] = {"enabled": False}
        off.write_text(yaml.safe_dump(data))
        assert login_lines(off, cache, gw.url, demo_user=True, actor="test") == []
    finally:
        gw.stop()
