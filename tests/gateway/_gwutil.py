"""Gateway test helpers: real processes on loopback (the fake upstream, `prai gateway`)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import yaml

from tests._support.fake_openai import FakeOpenAIProcess
from tests._support.net import free_port, wait_http

REPO_ROOT = Path(__file__).resolve().parents[2]
PRAI = [sys.executable, "-m", "prai.cli.main"]


def http_json(
    url: str, body: Any = None, key: str | None = None, method: str | None = None
) -> tuple[int, dict[str, str], Any]:
    """(status, headers, parsed JSON or text) of one request."""
    data = json.dumps(body).encode() if body is not None and not isinstance(body, bytes) else body
    req = urllib.request.Request(
        url, data=data, method=method or ("POST" if data is not None else "GET")
    )
    req.add_header("content-type", "application/json")
    if key:
        req.add_header("authorization", f"Bearer {key}")
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            raw, status, headers = r.read(), r.status, dict(r.headers)
    except urllib.error.HTTPError as e:
        raw, status, headers = e.read(), e.code, dict(e.headers)
    try:
        return status, {k.lower(): v for k, v in headers.items()}, json.loads(raw)
    except ValueError:
        return status, {k.lower(): v for k, v in headers.items()}, raw.decode()


def raw_stream_request(port: int, key: str, content: str, *, close: bool = False) -> socket.socket:
    """Send a streamed chat completion over a plain socket (to read or drop it byte by byte)."""
    body = json.dumps(
        {"model": "fake", "stream": True, "messages": [{"role": "user", "content": content}]}
    ).encode()
    s = socket.create_connection(("127.0.0.1", port))
    head = (
        f"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {key}\r\n"
        f"content-type: application/json\r\ncontent-length: {len(body)}\r\n"
        + ("connection: close\r\n" if close else "")
        + "\r\n"
    )
    s.sendall(head.encode() + body)
    return s


class Proc:
    def __init__(self, cmd: list[str], env: dict[str, str] | None = None) -> None:
        self.p = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, cwd=REPO_ROOT
        )

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.p.poll() is None:
            self.p.send_signal(sig)
            try:
                self.p.wait(15)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait(5)


class FakeUpstream(FakeOpenAIProcess):
    """The gateway tests' upstream (its own process): models ``fake``, ``fake-lora`` (a LoRA
    adapter of ``fake``) and ``embed``; its answers name it."""

    def __init__(self, name: str = "fake", models: str = "fake,fake-lora:fake,embed") -> None:
        super().__init__(name=name, models=models)


def gateway_env(cache_dir: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PRAI_CACHE_DIR"] = str(cache_dir)
    env["PYTHONPATH"] = str(REPO_ROOT / "src")
    return env


class Gateway:
    """A `prai gateway` process with its kitchen.yaml; ``key(tenant, project)`` makes keys."""

    def __init__(
        self,
        tmp: Path,
        gateway_cfg: dict[str, Any],
        *,
        port: int | None = None,
        extra_args: list[str] | None = None,
    ) -> None:
        self.tmp = tmp
        tmp.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        cfg = {"host": "127.0.0.1", "port": self.port, **gateway_cfg}
        cfg.setdefault(
            "storage",
            {
                "url": f"sqlite:///{tmp / 'gw.db'}",
                "journal_dir": str(tmp / "journal"),
                "flush_interval_s": 0.05,
            },
        )
        cfg.setdefault("key_cache_refresh_s", 0.2)
        self.config = tmp / "kitchen.yaml"
        self.config.write_text(yaml.safe_dump({"gateway": cfg}, allow_unicode=True))
        self.env = gateway_env(tmp)
        self.extra_args = extra_args or []
        self.proc: Proc | None = None

    def start(self) -> Gateway:
        self.proc = Proc(
            [*PRAI, "gateway", "--config", str(self.config), *self.extra_args], env=self.env
        )
        wait_http(self.url + "/health", proc=self.proc.p)
        return self

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc is not None:
            self.proc.stop(sig)

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        res = subprocess.run(
            [*PRAI, *args], env=self.env, cwd=REPO_ROOT, capture_output=True, text=True, timeout=60
        )
        if check and res.returncode != 0:
            raise AssertionError(f"prai {' '.join(args)} failed ({res.returncode}): {res.stderr}")
        return res

    def key(self, tenant: str, project: str, *extra: str) -> str:
        out = self.cli(
            "keys",
            "create",
            "--tenant",
            tenant,
            "--project",
            project,
            "-c",
            str(self.config),
            *extra,
        )
        return out.stdout.strip()

    def v1(self, path: str) -> str:
        return f"{self.url}/v1{path}"


def tenants(
    limits: dict[str, Any] | None = None, key_limits: dict[str, Any] | None = None
) -> list[dict[str, Any]]:
    """Two tenants: acme/chat (fake, fake-lora, embed), acme/rag (embed only), globex/ops (all)."""
    chat: dict[str, Any] = {"name": "chat", "models": ["fake", "fake-lora", "embed"]}
    if limits:
        chat["limits"] = limits
    if key_limits:
        chat["key_limits"] = key_limits
    return [
        {"name": "acme", "projects": [chat, {"name": "rag", "models": ["embed"]}]},
        {"name": "globex", "projects": [{"name": "ops", "models": ["*"]}]},
    ]


def audit_record(**fields: Any) -> dict[str, Any]:
    """An audit record for seeding a store directly (fresh ``rid``; ``fields`` override)."""
    rec: dict[str, Any] = {
        "rid": uuid.uuid4().hex,
        "ts_us": 1,
        "tenant": "acme",
        "project": "chat",
        "key_id": "k",
        "model": "m",
        "adapter": None,
        "endpoint": "chat.completions",
        "stream": False,
        "status": 200,
        "error_type": None,
        "prompt_tokens": 1,
        "completion_tokens": 2,
        "ttft_us": None,
        "latency_us": 5,
        "gateway_us": 1,
        "upstream": "u",
        "client": "127.0.0.1",
        "guard": None,
        "prompt": None,
    }
    return {**rec, **fields}
