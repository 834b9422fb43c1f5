"""Run vLLM as `prai serve`'s child: signals forwarded, a grace period, a shell's exit codes.

vLLM runs in a process group of its own, so Ctrl-C at the terminal reaches only `prai serve`
(not vLLM and its engine processes all at once, each printing its own traceback).
:func:`run_supervised` forwards the first SIGINT or SIGTERM to vLLM's group (SIGHUP as
SIGTERM: vLLM has no SIGHUP handler, so SIGHUP would kill it without its cleanup), waits
``grace_s`` seconds (PRAI_SERVE_STOP_GRACE_S, default 10) for it to exit, then SIGKILLs the
group; a second signal kills at once (a signal ignored when `prai serve` started, as
``nohup`` ignores SIGHUP, stays ignored). From the first signal on, vLLM's output (its shutdown
tracebacks) goes to a log file instead of the terminal, and one line says where.

Exit status: 128 + the signal when stopped by one (130 SIGINT, 143 SIGTERM, 129 SIGHUP, as
shells report it); otherwise vLLM's own (128 + N when a signal N nobody forwarded killed it).
When vLLM's main process has exited, whatever is left of its group (an engine process) is
killed, so nothing outlives `prai serve`; if `prai serve` itself is killed, vLLM gets SIGTERM
(PR_SET_PDEATHSIG).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def _die_with_parent() -> None:  # runs in the child between fork and exec
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6").prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _forwarded(signum: int) -> int:
    """The signal vLLM gets for ours: SIGINT and SIGTERM as they are, SIGHUP as SIGTERM."""
    return signal.SIGTERM if signum == signal.SIGHUP else signum


def _signal_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


class _Output:
    """Where the child's output goes: our stdout/stderr, or the stop log after a signal."""

    def __init__(self) -> None:
        self.stop_file: IO[bytes] | None = None
        self.broken: set[int] = set()

    def relay(self, fd: int, out: IO[bytes]) -> threading.Thread:
        def run() -> None:
            while True:
                try:
                    chunk = os.read(fd, 65536)
                except OSError:
                    break
                if not chunk:
                    break
                dest = self.stop_file or out
                if id(dest) in self.broken:
                    continue  # keep reading: a child blocked on a full pipe never stops
                try:
                    dest.write(chunk)
                    dest.flush()
                except (OSError, ValueError):
                    self.broken.add(id(dest))
            os.close(fd)

        t = threading.Thread(target=run, daemon=True, name=f"vllm-output-{fd}")
        t.start()
        return t


def run_supervised(
    cmd: list[str],
    env: dict[str, str],
    *,
    grace_s: float,
    stop_log: Path,
    say: Callable[[str], None],
) -> int:
    """Run ``cmd`` (vLLM) as a supervised child until it exits; return the exit status.

    Args:
        cmd: the command line (:func:`prai.engine.serve.vllm_command`).
        env: the child's environment.
        grace_s: seconds between the forwarded stop signal and SIGKILL (PRAI_SERVE_STOP_GRACE_S).
        stop_log: file that receives the child's output from the first stop signal on
            (``$PRAI_CACHE_DIR/serve/vllm-PORT-stop.log``; overwritten each stop).
        say: prints one of `prai serve`'s own lines.

    Returns:
        128 + the stop signal, or the child's exit status (128 + N if killed by signal N).

    Raises:
        OSError: the command cannot be started.
    """
    out = _Output()
    state: dict[str, Any] = {"sig": None, "deadline": None, "killed": False, "proc": None}

    def stop(signum: int) -> None:
        proc = state["proc"]
        if state["sig"] is None:
            state["sig"] = signum
            state["deadline"] = time.monotonic() + grace_s
            where = ""
            try:
                stop_log.parent.mkdir(parents=True, exist_ok=True)
                out.stop_file = stop_log.open("wb")
                where = f"; its shutdown output goes to {stop_log}"
            except OSError:
                pass
            say(f"{signal.Signals(signum).name}: stopping vLLM (up to {grace_s:g} s){where}")
            if proc is not None:
                _signal_group(proc.pid, _forwarded(signum))
        elif proc is not None and not state["killed"]:
            state["killed"] = True
            say(f"second {signal.Signals(signum).name}: killing vLLM now")
            _signal_group(proc.pid, signal.SIGKILL)

    def handler(signum: int, frame: object) -> None:
        stop(signum)

    # A signal this process ignores (``nohup`` ignores SIGHUP) stays ignored, by vLLM too.
    previous = {s: signal.signal(s, handler) for s in STOP_SIGNALS if signal.getsignal(s) != signal.SIG_IGN}
    relays: list[threading.Thread] = []
    try:
        proc = subprocess.Popen(
            cmd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            process_group=0, preexec_fn=_die_with_parent,
        )
        state["proc"] = proc
        if state["sig"] is not None:  # a signal came while the child was being started
            _signal_group(proc.pid, _forwarded(state["sig"]))
        assert proc.stdout is not None and proc.stderr is not None
        relays = [out.relay(os.dup(proc.stdout.fileno()), sys.stdout.buffer),
                  out.relay(os.dup(proc.stderr.fileno()), sys.stderr.buffer)]
        proc.stdout.close()
        proc.stderr.close()
        _wait_exited(proc.pid, state, grace_s, say)
        # vLLM's main process is a zombie (not reaped yet), so its group id is still its own:
        # kill what is left of the group (an engine process that outlived it), then reap.
        _signal_group(proc.pid, signal.SIGKILL)
        code = proc.wait()
    finally:
        for s, h in previous.items():
            signal.signal(s, h)
    for t in relays:
        t.join(timeout=2.0)
    if out.stop_file is not None:
        with contextlib.suppress(OSError):
            out.stop_file.close()
    if state["sig"] is not None:
        return 128 + int(state["sig"])
    return 128 - code if code < 0 else code


def _wait_exited(pid: int, state: dict[str, Any], grace_s: float, say: Callable[[str], None]) -> None:
    """Wait until the child exits without reaping it (WNOWAIT); SIGKILL its group once the
    grace period after a stop signal has passed."""
    while True:
        try:
            info = os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        except ChildProcessError:
            return
        if info is not None and info.si_pid == pid:
            return
        deadline = state["deadline"]
        if deadline is not None and not state["killed"] and time.monotonic() >= deadline:
            state["killed"] = True
            say(f"vLLM did not stop within {grace_s:g} s: killed")
            _signal_group(pid, signal.SIGKILL)
        time.sleep(0.05)


__all__ = ["STOP_SIGNALS", "run_supervised"]
