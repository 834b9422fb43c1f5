"""Run `prai serve` as a child process and wait until it is healthy.

Used by `prai demo` (and `prai up`): the engine's output goes to a log file; when it
exits early or does not become healthy in time, the error carries the log's last lines.
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from prai._http import get_ok, http_client
from prai._wait import wait_until
from prai.errors import EngineStartError, PortInUse


def ensure_port_free(host: str, port: int, flag: str | None = None) -> None:
    """Refuse a port another process already listens on, before any work starts.

    Args:
        flag: the option that named the port (``--port``, ``--gateway-port``), put in front of
            the message and named in the hint; or where a file set it (``gateway port``: the
            hint then says to change it in kitchen.yaml).

    Raises:
        PortInUse: ``host:port`` cannot be bound (exit 5).
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as exc:
            why = "already in use" if exc.errno in (48, 98) else (exc.strerror or "cannot be bound")
            where = f"{flag} {port}: " if flag else ""
            raise PortInUse(f"{where}port {port} on {host} is {why}", hint=port_hint(flag)) from None


def port_hint(flag: str | None) -> str:
    """The hint of a :class:`PortInUse` for a port named by ``flag`` (see :func:`ensure_port_free`)."""
    holder = "stop the process that holds it (ss -ltnp)"
    if flag is None:
        return PortInUse.hint
    if flag.startswith("-"):
        return f"choose another {flag} or {holder}"
    return f"change the {flag} in kitchen.yaml or {holder}"


#: Seconds a `prai serve` that never became ready gets to stop before vLLM is killed: a start
#: has no request to drain, and vLLM's own stop while loading takes far longer.
STARTING_GRACE_S = 2.0


def stop_serve(proc: subprocess.Popen[bytes], *, grace_s: float, timeout_s: float = 10.0) -> None:
    """Stop a `prai serve` child started in a session of its own (``start_new_session``).

    `prai serve` forwards the first SIGTERM to vLLM and gives it PRAI_SERVE_STOP_GRACE_S; a
    second SIGTERM, sent here after ``grace_s`` seconds, makes it kill vLLM's process group at
    once (:mod:`prai.engine.supervise`). SIGKILL after ``timeout_s`` more seconds, if even
    that did not end it.
    """
    import os
    import signal

    if proc.poll() is not None:
        return
    for sig, wait_s in ((signal.SIGTERM, grace_s), (signal.SIGTERM, timeout_s)):
        try:
            os.killpg(proc.pid, sig)
            proc.wait(wait_s)
            return
        except ProcessLookupError:
            proc.wait()
            return
        except subprocess.TimeoutExpired:
            continue
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


class EngineProcess:
    """A `prai serve` child process.

    Args:
        serve_args: arguments after ``prai serve``.
        log_path: file receiving the engine's stdout and stderr.
        env: the child's environment (None: inherit).
    """

    def __init__(self, serve_args: Sequence[str], log_path: Path, env: dict[str, str] | None = None) -> None:
        self.log_path = log_path
        self.ready = False
        log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = log_path.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "prai.cli.main", "serve", *serve_args],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            start_new_session=True,
        )

    def tail(self, lines: int = 15) -> str:
        """The last lines of the engine log."""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def wait_healthy(self, base_url: str, timeout_s: float, on_tick: Callable[[float], None] | None = None) -> float:
        """Poll ``/health`` until 200; return seconds waited.

        Raises:
            EngineStartError: the process exited, or no 200 within ``timeout_s``.
        """
        start = time.monotonic()

        def healthy() -> bool:
            code = self.proc.poll()
            if code is not None:
                raise EngineStartError(
                    f"the engine exited with status {code} before it was ready; last log lines:\n{self.tail()}"
                )
            return get_ok(client, f"{base_url}/health")

        with http_client(timeout_s=2.0) as client:
            if wait_until(healthy, timeout_s=timeout_s, interval_s=0.5, on_tick=on_tick):
                self.ready = True
                return time.monotonic() - start
        self.stop()
        raise EngineStartError(
            f"the engine was not ready after {timeout_s:.0f} s; last log lines:\n{self.tail()}",
            hint="raise PRAI_ENGINE_READY_TIMEOUT_S on a slow machine, or read the log: " + str(self.log_path),
        )

    def stop(self, grace_s: float | None = None) -> None:
        """Stop the engine (:func:`stop_serve`): vLLM gets ``grace_s`` seconds to shut down
        (default: 10 once it has been ready, :data:`STARTING_GRACE_S` while it is still
        starting), then it is killed."""
        if grace_s is None:
            grace_s = 10.0 if self.ready else STARTING_GRACE_S
        stop_serve(self.proc, grace_s=grace_s)
        self._log.close()
