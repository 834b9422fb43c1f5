"""Run the gateway on uvicorn (uvloop + httptools), optionally as several processes.

``workers > 1`` starts that many processes bound to the same port with ``SO_REUSEPORT``
(the kernel spreads connections). Their rate limits must be shared, so several workers
require ``gateway.ratelimit.url: redis://...``; with SQLite all processes share one WAL
database on this host (PostgreSQL for several hosts). Their metrics go to one private
directory (prometheus_client's multiprocess mode, :mod:`prai.gateway.metrics`), so
``/metrics`` in any worker answers for all of them.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from prai.config import load_kitchen
from prai.config.gateway import GatewayConfig
from prai.errors import ConfigError, PortInUse

if TYPE_CHECKING:
    from prai.gateway.app import ConsoleFactory

log = logging.getLogger("prai.gateway")


def load_gateway_config(path: str | Path, env: dict[str, str] | None = None) -> Any:
    """kitchen.yaml with a ``gateway`` section.

    Raises:
        ConfigError: file invalid, or no ``gateway:`` section.
    """
    kitchen = load_kitchen(path, env=env)
    if kitchen.gateway is None:
        raise ConfigError(
            f"{path}: no `gateway:` section",
            hint="add one (see examples/kitchen.yaml), or run `prai up` for a one-machine kitchen",
        )
    return kitchen


def check_journal_dir(path: Path) -> None:
    """Create the audit journal's folder if needed and prove a file can be written there,
    before the port is taken (the gateway would otherwise start, then fail at start-up).

    Raises:
        ConfigError: the folder cannot be created or written (names the path and why).
    """
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / f".prai-write-check-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise ConfigError(
            f"gateway.storage.journal_dir {path}: cannot be used ({exc.strerror or exc})",
            hint="point it at a folder this user can write on local disk, shared by the gateway "
            "processes of this host (audit records wait there until the database has them)",
        ) from None


def bind_socket(host: str, port: int, *, reuse_port: bool) -> socket.socket:
    """A listening TCP socket.

    Raises:
        PortInUse: the port is taken.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise PortInUse(f"{host}:{port} is already in use") from None
        raise ConfigError(f"cannot listen on {host}:{port} ({exc.strerror})") from None
    sock.listen(4096)
    sock.set_inheritable(True)
    return sock


def die_with_parent() -> None:  # runs in the child before exec
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6").prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class _Terminated(Exception):
    """SIGTERM in the first of several workers (unwinds :func:`serve` to its clean-up)."""


def _raise_terminated(signum: int, frame: Any) -> None:
    raise _Terminated


def _mark_dead_on_exit(child: subprocess.Popen[bytes], metrics_dir: Path) -> None:
    """Wait for a worker to exit, then drop its ``live*`` gauges from the merged metrics
    (its counters and histograms stay: totals never go down)."""
    from prometheus_client.multiprocess import mark_process_dead

    child.wait()
    with contextlib.suppress(OSError):
        mark_process_dead(child.pid, str(metrics_dir))


def _log_to_stderr(level: str) -> None:
    """The gateway's own log lines (logger ``prai``) at ``level`` and above go to stderr as
    they are (``warning: ...`` lines carry their level; info lines do not). Once per process."""
    logger = logging.getLogger("prai")
    logger.setLevel(level.upper())
    if not any(getattr(h, "_prai_gateway", False) for h in logger.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(message)s"))
        handler._prai_gateway = True  # type: ignore[attr-defined]
        logger.addHandler(handler)


def serve(
    config_path: str | Path,
    *,
    cache_dir: Path,
    host: str | None = None,
    port: int | None = None,
    workers: int = 1,
    reuse_port: bool = False,
    log_level: str = "warning",
    on_ready: Any = None,
    on_server: Any = None,
    tls_cert: Path | None = None,
    tls_key: Path | None = None,
    console: ConsoleFactory | None = None,
) -> None:
    """Serve the gateway until SIGINT/SIGTERM.

    Args:
        config_path: kitchen.yaml.
        cache_dir: PRAI_CACHE_DIR (default SQLite file and audit journal).
        host / port: override ``gateway.host`` / ``gateway.port``.
        workers: processes sharing the port (SO_REUSEPORT).
        reuse_port: set SO_REUSEPORT (used by the extra worker processes).
        on_ready: called with (host, port) once listening (before serving).
        on_server: called with the ``uvicorn.Server``; set its ``should_exit`` to stop.
        tls_cert / tls_key: PEM certificate chain and key: serve HTTPS (an OpenShift Route
            with ``reencrypt`` termination talks TLS to the pod).
        console: the operator console's builder (:func:`prai.console.build_console`; `prai
            gateway` and `prai up` pass it); None: no ``/admin`` or ``/console``. Extra workers
            are `prai gateway` processes, which always pass it.

    A Redis ``gateway.ratelimit.url`` that does not answer at start is logged as one warning
    (:func:`prai.gateway.ratelimit.store_warning`); the gateway starts anyway and recovers
    when Redis comes back. One that answers and refuses the URL (a database index out of
    range) is a ConfigError: the gateway does not start.

    Raises:
        ConfigError: invalid config, ``workers > 1`` with in-memory rate limits, a Redis
            that refuses ``gateway.ratelimit.url``, or an unknown ``log_level``.
        PortInUse: the port is taken.
        StorageError: the database cannot be opened.
    """
    import uvicorn

    from prai.gateway.app import GatewayApp

    log_level = log_level.lower()
    if log_level not in ("critical", "error", "warning", "info", "debug"):
        raise ConfigError(f"log level {log_level!r}: use critical, error, warning, info or debug")
    _log_to_stderr(log_level)
    kitchen = load_gateway_config(config_path)
    cfg: GatewayConfig = kitchen.gateway
    if workers > 1 and cfg.ratelimit.url.startswith("memory://"):
        raise ConfigError(
            "gateway.ratelimit.url: several workers cannot share in-memory limits "
            "(each process would allow the full limit)",
            hint="set gateway.ratelimit.url: redis://127.0.0.1:6379/0, or use --workers 1",
        )
    check_journal_dir(cfg.storage.journal_path(cache_dir))
    host = host or cfg.host
    port = port or cfg.port
    if (tls_cert is None) != (tls_key is None):
        raise ConfigError("--tls-cert and --tls-key go together", hint="pass both, or neither for plain HTTP")
    for flag, path in (("--tls-cert", tls_cert), ("--tls-key", tls_key)):
        if path is not None and not Path(path).is_file():
            raise ConfigError(f"{flag} {path}: no such file", hint="mount the serving certificate secret there")
    tls_args = ["--tls-cert", str(tls_cert), "--tls-key", str(tls_key)] if tls_cert and tls_key else []
    sock = bind_socket(host, port, reuse_port=reuse_port or workers > 1)
    if not (reuse_port and workers == 1):  # once, not in every extra worker process
        from prai.gateway.ratelimit import store_warning

        warning = store_warning(cfg)  # Redis down: start anyway (recovers), but say so
        if warning is not None:
            log.warning("%s", warning)
    from prai.gateway.metrics import MULTIPROC_ENV

    metrics_dir: Path | None = None  # one worker: in-memory metrics, no files
    child_env: dict[str, str] | None = None
    if workers > 1:  # a private directory (0700) for all workers' metric files
        Path(cache_dir).mkdir(parents=True, exist_ok=True)
        metrics_dir = Path(tempfile.mkdtemp(prefix="gateway-metrics-", dir=cache_dir))
        # in the workers' environment before they start Python (see metrics._use_multiprocess_values)
        child_env = {**os.environ, MULTIPROC_ENV: str(metrics_dir)}
    elif reuse_port and os.environ.get(MULTIPROC_ENV):  # an extra worker of a first process
        metrics_dir = Path(os.environ[MULTIPROC_ENV])
    owner = workers > 1 and threading.current_thread() is threading.main_thread()
    # uvicorn ends its run on SIGTERM by raising the signal again with the handler it found:
    # the default one would kill this process before the clean-up below. Ours unwinds it,
    # and the signal is raised again once the workers are stopped and the directory is gone.
    prev = signal.signal(signal.SIGTERM, _raise_terminated) if owner else None
    try:
        try:
            app = GatewayApp(
                kitchen, cache_dir=cache_dir, config_path=Path(config_path), console=console,
                metrics_dir=metrics_dir,
            )
            app.freeze_gc = True
            children: list[subprocess.Popen[bytes]] = []
            for _ in range(workers - 1):
                child = subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "prai.cli.main",
                        "gateway",
                        "--config",
                        str(config_path),
                        "--host",
                        host,
                        "--port",
                        str(port),
                        "--reuse-port",
                        "--log-level",
                        log_level,
                        *tls_args,
                    ],
                    preexec_fn=die_with_parent,
                    env=child_env,
                )
                children.append(child)
                assert metrics_dir is not None
                threading.Thread(
                    target=_mark_dead_on_exit, args=(child, metrics_dir), daemon=True, name="worker-reaper"
                ).start()
            config = uvicorn.Config(
                app,
                loop="uvloop",
                http="httptools",
                lifespan="on",
                log_level=log_level,
                access_log=False,
                proxy_headers=False,  # the client address is the socket peer (X-Forwarded-For ignored)
                timeout_keep_alive=30,
                server_header=False,
                date_header=False,
                ssl_certfile=str(tls_cert) if tls_cert else None,
                ssl_keyfile=str(tls_key) if tls_key else None,
            )
            server = uvicorn.Server(config)
            if on_server is not None:
                on_server(server)
            if on_ready is not None:
                on_ready(host, port)
            try:
                server.run(sockets=[sock])
            finally:
                for c in children:
                    c.terminate()
                for c in children:
                    with contextlib.suppress(subprocess.TimeoutExpired):
                        c.wait(10)
        finally:
            if owner:
                signal.signal(signal.SIGTERM, prev if prev is not None else signal.SIG_DFL)
            if workers > 1 and metrics_dir is not None:
                shutil.rmtree(metrics_dir, ignore_errors=True)
    except _Terminated:
        signal.raise_signal(signal.SIGTERM)  # the handler found before: by default, exit
        return
    if not server.started:
        raise ConfigError(
            "the gateway did not start (see the log line above)",
            hint="check gateway.ratelimit.url and gateway.storage.url are reachable",
        )


__all__ = ["bind_socket", "check_journal_dir", "load_gateway_config", "serve"]
