"""Gateway test helpers: real processes on loopback (the fake upstream, `prai gateway`)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
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
    """The gateway tests' upstream: tests/_support/fake_openai.py as its own process, listing
    ``fake``, ``fake-lora`` (an adapter of ``fake``) and ``embed`` unless told otherwise
    (``pooling``: an embeddings-only vLLM)."""

    def __init__(self, name: str = "fake", models: str = "fake,fake-lora:fake,embed", *,
                 pooling: bool = False) -> None:
        super().__init__(name, models, pooling=pooling)


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
        return self.launch().wait()

    def launch(self) -> Gateway:
        """Start the process without waiting (several replicas starting at once)."""
        self.proc = Proc(
            [*PRAI, "gateway", "--config", str(self.config), *self.extra_args], env=self.env
        )
        return self

    def wait(self, timeout_s: float = 30.0) -> Gateway:
        assert self.proc is not None
        wait_http(self.url + "/health", timeout_s=timeout_s, proc=self.proc.p)
        return self

    def output(self) -> str:
        """Everything the process printed (call after stop())."""
        assert self.proc is not None and self.proc.p.stdout is not None
        return self.proc.p.stdout.read().decode(errors="replace")

    def metric(self, line_start: str) -> float:
        """The value of the first /metrics line starting with ``line_start`` (0 if none)."""
        text = http_json(self.url + "/metrics")[2]
        for line in str(text).splitlines():
            if line.startswith(line_start):
                return float(line.rsplit(" ", 1)[1])
        return 0.0

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


# --- stores of our own: a PostgreSQL database per test, a redis-server per test, a TCP proxy


def create_pg_database(admin_url: str) -> str:
    """CREATE DATABASE with a unique name on the server of ``admin_url``; returns its URL."""
    import psycopg

    name = "prai_t_" + uuid.uuid4().hex[:12]
    with psycopg.connect(admin_url, autocommit=True) as c:
        c.execute(f'CREATE DATABASE "{name}"')
    base = admin_url.rsplit("/", 1)[0]
    return f"{base}/{name}"


def drop_pg_database(admin_url: str, url: str) -> None:
    import psycopg

    name = url.rsplit("/", 1)[1]
    with psycopg.connect(admin_url, autocommit=True) as c:
        c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


class RedisServer:
    """A redis-server of this test on a free port (never the shared one on 6379)."""

    def __init__(self, tmp: Path, *args: str) -> None:
        import shutil

        import pytest

        for tool in ("redis-server", "redis-cli"):
            if shutil.which(tool) is None:
                msg = f"{tool} is not installed (Debian packages redis-server, redis-tools)"
                if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
                    pytest.fail(f"{msg}; CI must provide it (.ci/run installs it)")
                pytest.skip(msg)
        self.port = free_port()
        if "--cluster-enabled" in args:  # the cluster bus listens on port + 10000
            while self.port > 55000 or not _port_free(self.port + 10000):
                self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.dir = tmp
        tmp.mkdir(parents=True, exist_ok=True)
        self.args = list(args)
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> RedisServer:
        self.proc = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.dir),
                *self.args,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return self
            except OSError:
                time.sleep(0.05)
        raise TimeoutError(f"redis-server on {self.port}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        self.proc = None


class TcpProxy:
    """A TCP proxy in a thread: ``url`` reaches ``target`` while up; ``down()`` closes every
    connection and refuses new ones (the database is "unreachable"), ``up()`` restores.
    ``delay_s``: what the client sends reaches the target that much later (a slow link;
    the order is kept)."""

    def __init__(self, target_host: str, target_port: int, *, delay_s: float = 0.0) -> None:
        import threading

        self.delay_s = delay_s
        self.target = (target_host, target_port)
        self.port = free_port()
        self._lock = threading.Lock()
        self._conns: list[socket.socket] = []
        self._server: socket.socket | None = None
        self._threading = threading
        self.up()

    def up(self) -> None:
        srv = socket.socket()
        srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        srv.bind(("127.0.0.1", self.port))
        srv.listen(64)
        self._server = srv
        self._threading.Thread(target=self._accept, args=(srv,), daemon=True).start()

    def down(self) -> None:
        srv, self._server = self._server, None
        if srv is not None:
            # shutdown() wakes the thread blocked in accept(); close() alone would leave
            # the socket listening until accept() returns.
            with contextlib.suppress(OSError):
                srv.shutdown(socket.SHUT_RDWR)
            srv.close()
        with self._lock:
            conns, self._conns = self._conns, []
        for c in conns:
            with contextlib.suppress(OSError):
                c.shutdown(socket.SHUT_RDWR)
            c.close()

    def _accept(self, srv: socket.socket) -> None:
        while True:
            try:
                client, _ = srv.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._conns += [client, upstream]
            for a, b, delay in ((client, upstream, self.delay_s), (upstream, client, 0.0)):
                self._threading.Thread(target=self._pipe, args=(a, b, delay), daemon=True).start()

    @staticmethod
    def _pipe(a: socket.socket, b: socket.socket, delay_s: float = 0.0) -> None:
        try:
            while True:
                data = a.recv(65536)
                if not data:
                    break
                if delay_s:
                    time.sleep(delay_s)
                b.sendall(data)
        except OSError:
            pass
        finally:
            for s in (a, b):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
