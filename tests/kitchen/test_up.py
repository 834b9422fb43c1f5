"""`prai up --smoke` with a kitchen.yaml: gateway started, key made, taste test through it."""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml

from tests._support.net import free_port
from tests.gateway._gwutil import PRAI, REPO_ROOT, FakeUpstream, gateway_env


def test_up_smoke_with_kitchen_file(tmp_path: Path, fake_upstream: FakeUpstream) -> None:
    port = free_port()
    cfg = {
        "gateway": {
            "port": port,
            "upstreams": [{"name": "ext", "base_urls": [fake_upstream.url], "models": ["fake"]}],
            "tenants": [{"name": "team", "projects": [{"name": "p"}]}],
            "storage": {
                "url": f"sqlite:///{tmp_path / 'up.db'}",
                "journal_dir": str(tmp_path / "j"),
            },
        }
    }
    path = tmp_path / "kitchen.yaml"
    path.write_text(yaml.safe_dump(cfg))
    res = subprocess.run([*PRAI, "up", str(path), "--smoke"], env=gateway_env(tmp_path), cwd=REPO_ROOT,
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert "taste test through the gateway OK" in res.stderr and "こんにちは" in res.stderr
    audit = subprocess.run(
        [*PRAI, "audit", "export", "-c", str(path)],
        env=gateway_env(tmp_path),
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert '"tenant": "team"' in audit.stdout and '"status": 200' in audit.stdout


def test_up_rejects_bad_kitchen(tmp_path: Path) -> None:
    path = tmp_path / "kitchen.yaml"
    path.write_text(
        "gateway:\n  upstreams:\n    - name: x\n      base_urls: [ftp://nope]\n  tenantz: []\n"
    )
    res = subprocess.run(
        [*PRAI, "up", str(path)],
        env=gateway_env(tmp_path),
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert (
        "gateway.upstreams[0].base_urls" in res.stderr
        and "gateway.tenantz: unknown key" in res.stderr
    )


def _serve_kitchen(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A kitchen whose upstream `prai up` starts with `prai serve` (the fake vLLM of
    tests/_support/fake_vllm.py: no engine), and the environment that selects that fake."""
    from tests._support.model_dirs import write_tiny_model

    model = write_tiny_model(tmp_path / "tiny")
    cfg = {
        "gateway": {
            "port": free_port(),
            "upstreams": [{"name": "tiny-engine", "base_urls": [f"http://127.0.0.1:{free_port()}"],
                           "serve": {"model": str(model)}}],
            "tenants": [{"name": "team", "projects": [{"name": "p"}]}],
            "storage": {"url": f"sqlite:///{tmp_path / 'up.db'}", "journal_dir": str(tmp_path / "j")},
        }
    }
    path = tmp_path / "kitchen.yaml"
    path.write_text(yaml.safe_dump(cfg))
    env = {**gateway_env(tmp_path), "PRAI_VLLM_ENTRY": "tests._support.fake_vllm",
           "PYTHONPATH": f"{REPO_ROOT / 'src'}:{REPO_ROOT}", "PRAI_PROGRESS_INTERVAL_S": "0.5"}
    return path, env


def test_up_says_the_engine_is_still_starting(tmp_path: Path) -> None:
    """No silent minute while vLLM starts: a plain line every PRAI_PROGRESS_INTERVAL_S without
    a terminal (the demo's helper), then how long the start took."""
    path, env = _serve_kitchen(tmp_path)
    res = subprocess.run([*PRAI, "up", str(path), "--smoke"], env={**env, "FAKE_VLLM_START_S": "3"},
                         cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    lines = res.stderr.splitlines()
    assert "… starting engine tiny-engine (vLLM)" in lines, res.stderr
    still = [x for x in lines if x.startswith("… still starting engine tiny-engine (vLLM) (")]
    assert len(still) >= 3, res.stderr  # 3 s at one line per 0.5 s
    assert any(x.startswith("prai up: engine tiny-engine ready in ") for x in lines), res.stderr
    assert "taste test through the gateway OK" in res.stderr


def test_up_ctrl_c_while_the_engine_starts_returns_in_seconds(tmp_path: Path) -> None:
    """Ctrl-C during the start stops `prai serve` and its vLLM at once (nothing to drain), even
    a vLLM that ignores the signal, and says so; exit 130."""
    import os
    import signal
    import time

    from tests._support.fake_vllm import process_gone

    path, env = _serve_kitchen(tmp_path)
    pid = tmp_path / "vllm.pid"
    env.update(FAKE_VLLM_START_S="120", FAKE_VLLM_ON_STOP="ignore", FAKE_VLLM_PIDFILE=str(pid))
    proc = subprocess.Popen([*PRAI, "up", str(path)], env=env, cwd=REPO_ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while not pid.is_file() and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(0.5)
        start = time.monotonic()
        os.killpg(proc.pid, signal.SIGINT)  # what a terminal's Ctrl-C sends to the foreground group
        _, err = proc.communicate(timeout=30)
        took = time.monotonic() - start
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 130, err
    assert took < 6, f"Ctrl-C took {took:.1f} s"
    assert "interrupted (prai up): stopped the engines and the gateway" in err and "Traceback" not in err, err
    assert process_gone(int(pid.read_text())), "vLLM outlived prai up"
