"""Ports and waits for tests that start real servers on 127.0.0.1."""

from __future__ import annotations

import socket
import subprocess
import urllib.request

from prai._wait import wait_until


def free_port() -> int:
    """An unused TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _exited(proc: subprocess.Popen[bytes] | None, what: str) -> None:
    if proc is not None and proc.poll() is not None:
        out = proc.stdout.read().decode(errors="replace") if proc.stdout else ""
        raise RuntimeError(f"{what} exited with {proc.returncode}: {out[-3000:]}")


def wait_http(url: str, *, proc: subprocess.Popen[bytes] | None = None, timeout_s: float = 30.0,
              interval_s: float = 0.1) -> None:
    """Wait until GET ``url`` answers 200 (no proxy: loopback only).

    Raises:
        RuntimeError: ``proc`` exited first (the message carries its output).
        TimeoutError: no 200 within ``timeout_s``.
    """
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def ok() -> bool:
        _exited(proc, url)
        try:
            with opener.open(url, timeout=1) as r:
                return bool(r.status == 200)
        except OSError:
            return False

    if not wait_until(ok, timeout_s=timeout_s, interval_s=interval_s):
        raise TimeoutError(f"{url} did not answer 200 within {timeout_s:.0f} s")


def wait_port(port: int, *, proc: subprocess.Popen[bytes] | None = None, what: str = "server",
              timeout_s: float = 30.0) -> None:
    """Wait until something accepts TCP connections on 127.0.0.1:``port``.

    Raises:
        RuntimeError: ``proc`` exited first, or nothing listened within ``timeout_s``.
    """

    def listening() -> bool:
        _exited(proc, what)
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            return False

    if not wait_until(listening, timeout_s=timeout_s, interval_s=0.2):
        raise RuntimeError(f"{what} did not listen on {port}")


__all__ = ["free_port", "wait_http", "wait_port"]
