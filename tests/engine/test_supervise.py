"""`prai serve` supervises vLLM: signals forwarded to its own process group, a grace period,
130/143/129, vLLM's shutdown output in a log file instead of the terminal, its exit status
passed through otherwise. vLLM is tests/_support/fake_vllm.py (PRAI_VLLM_ENTRY), so no
engine starts; `prai serve` itself runs as a process, as a user starts it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests._support.fake_vllm import process_gone
from tests._support.model_dirs import write_tiny_model
from tests._support.net import free_port

REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Serve:
    """A running `prai serve` with the fake vLLM; its stdout/stderr go to files."""

    proc: subprocess.Popen[bytes]
    port: int
    cache: Path
    out: Path
    err: Path

    @property
    def stop_log(self) -> Path:
        return self.cache / "serve" / f"vllm-{self.port}-stop.log"

    def wait_started(self, timeout_s: float = 30.0) -> None:
        """Until the fake vLLM said it is loading (its signal handlers are in place)."""
        deadline = time.monotonic() + timeout_s
        while "fake vllm: INFO loading" not in self.out.read_text():
            assert self.proc.poll() is None, self.err.read_text()
            assert time.monotonic() < deadline, self.err.read_text()
            time.sleep(0.05)

    def finish(self, timeout_s: float = 30.0) -> tuple[int, str, str]:
        code = self.proc.wait(timeout_s)
        return code, self.out.read_text(), self.err.read_text()


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Callable[..., Serve]]:
    model = write_tiny_model(tmp_path / "tiny")
    started: list[Serve] = []

    def start(*, ignore: tuple[int, ...] = (), **fake_env: str) -> Serve:
        port = free_port()
        cache = tmp_path / f"cache-{port}"
        env = {**os.environ, "PRAI_CACHE_DIR": str(cache), "PRAI_VLLM_ENTRY": "tests._support.fake_vllm",
               "PYTHONPATH": f"{REPO_ROOT / 'src'}{os.pathsep}{REPO_ROOT}", **fake_env}
        out, err = tmp_path / f"out-{port}", tmp_path / f"err-{port}"
        with out.open("wb") as o, err.open("wb") as e:
            proc = subprocess.Popen(
                [sys.executable, "-m", "prai.cli.main", "serve", str(model), "--port", str(port)],
                stdout=o, stderr=e, stdin=subprocess.DEVNULL, env=env, cwd=REPO_ROOT,
                start_new_session=True,  # its own session: signals below are what a terminal sends
                preexec_fn=(lambda: [signal.signal(sig, signal.SIG_IGN) for sig in ignore]) if ignore else None,
            )
        s = Serve(proc, port, cache, out, err)
        started.append(s)
        return s

    yield start
    for s in started:
        if s.proc.poll() is None:
            os.killpg(s.proc.pid, signal.SIGKILL)
            s.proc.wait(10)


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143), (signal.SIGHUP, 129)])
def test_a_stop_signal_while_vllm_starts_exits_128_plus_it_without_tracebacks(
    serve: Callable[..., Serve], sig: int, code: int
) -> None:
    s = serve(FAKE_VLLM_START_S="60")
    s.wait_started()
    start = time.monotonic()
    os.killpg(s.proc.pid, sig)  # a terminal's Ctrl-C goes to the whole foreground group
    rc, out, err = s.finish()
    took = time.monotonic() - start
    assert rc == code, err
    assert took < 5, f"took {took:.1f} s"
    assert "fake vllm: WARNING this line is on stderr" in err  # vLLM's log reaches the terminal
    assert "Traceback" not in out + err and "EngineCore died" not in err, err
    name = signal.Signals(sig).name
    line = f"prai serve: {name}: stopping vLLM (up to 10 s); its shutdown output goes to {s.stop_log}"
    assert line in err.splitlines(), err
    log = s.stop_log.read_text()
    assert "Traceback" in log and "EngineCore died" in log
    forwarded = "SIGTERM" if sig == signal.SIGHUP else name  # vLLM has no SIGHUP handler
    assert log.count(f"fake vllm: got {forwarded}") == 1, log  # vLLM's own group: only the forwarded one


def test_vllm_that_ignores_the_signal_is_killed_after_the_grace_period(serve: Callable[..., Serve],
                                                                        tmp_path: Path) -> None:
    child = tmp_path / "engine.pid"
    s = serve(FAKE_VLLM_START_S="60", FAKE_VLLM_ON_STOP="ignore", PRAI_SERVE_STOP_GRACE_S="1",
              FAKE_VLLM_CHILD_PIDFILE=str(child))
    s.wait_started()
    start = time.monotonic()
    os.killpg(s.proc.pid, signal.SIGTERM)
    rc, _, err = s.finish()
    assert rc == 143 and 1 <= time.monotonic() - start < 5, err
    assert "prai serve: vLLM did not stop within 1 s: killed" in err
    assert process_gone(int(child.read_text())), "vLLM's engine process outlived prai serve"


def test_a_second_signal_kills_at_once(serve: Callable[..., Serve]) -> None:
    s = serve(FAKE_VLLM_START_S="60", FAKE_VLLM_ON_STOP="ignore")  # grace: the default 10 s
    s.wait_started()
    os.killpg(s.proc.pid, signal.SIGINT)
    time.sleep(0.5)
    start = time.monotonic()
    os.killpg(s.proc.pid, signal.SIGINT)
    rc, _, err = s.finish()
    assert rc == 130 and time.monotonic() - start < 3, err
    assert "prai serve: second SIGINT: killing vLLM now" in err


def test_a_signal_ignored_at_start_stays_ignored(serve: Callable[..., Serve]) -> None:
    """`nohup prai serve`: a hangup stops neither prai serve nor vLLM."""
    s = serve(ignore=(signal.SIGHUP,), FAKE_VLLM_START_S="60")
    s.wait_started()
    os.killpg(s.proc.pid, signal.SIGHUP)
    time.sleep(1)
    assert s.proc.poll() is None, s.err.read_text()
    os.killpg(s.proc.pid, signal.SIGTERM)
    rc, _, err = s.finish()
    assert rc == 143 and "SIGHUP" not in err, err


def test_vllm_exit_status_is_passed_through(serve: Callable[..., Serve]) -> None:
    rc, _, err = serve(FAKE_VLLM_EXIT="3").finish()
    assert rc == 3, err
    assert "stopping vLLM" not in err


def test_vllm_dies_with_a_killed_prai_serve(serve: Callable[..., Serve], tmp_path: Path) -> None:
    pid = tmp_path / "vllm.pid"
    s = serve(FAKE_VLLM_START_S="60", FAKE_VLLM_PIDFILE=str(pid))
    s.wait_started()
    os.kill(s.proc.pid, signal.SIGKILL)  # no chance to forward anything
    s.proc.wait(10)
    assert process_gone(int(pid.read_text())), "vLLM outlived a killed prai serve"


def test_serves_through_the_supervisor(serve: Callable[..., Serve]) -> None:
    """The relay is transparent: the engine answers, and a stop after serving is clean too."""
    from tests._support.net import wait_http

    s = serve()
    s.wait_started()
    wait_http(f"http://127.0.0.1:{s.port}/v1/models", timeout_s=20)
    os.killpg(s.proc.pid, signal.SIGTERM)
    rc, out, err = s.finish()
    assert rc == 143 and "fake vllm: INFO serving tiny" in out and "Traceback" not in err, err


def test_demo_engine_stopped_while_starting_is_gone_in_seconds(tmp_path: Path) -> None:
    """`prai demo`'s Ctrl-C during the engine start: EngineProcess.stop gives a starting engine
    STARTING_GRACE_S, then `prai serve` kills vLLM (here one that ignores SIGTERM) at once."""
    from prai.engine.process import STARTING_GRACE_S, EngineProcess

    model = write_tiny_model(tmp_path / "tiny")
    pid = tmp_path / "vllm.pid"
    env = {**os.environ, "PRAI_CACHE_DIR": str(tmp_path / "cache"), "PRAI_VLLM_ENTRY": "tests._support.fake_vllm",
           "PYTHONPATH": f"{REPO_ROOT / 'src'}{os.pathsep}{REPO_ROOT}", "FAKE_VLLM_START_S": "60",
           "FAKE_VLLM_ON_STOP": "ignore", "FAKE_VLLM_PIDFILE": str(pid)}
    engine = EngineProcess([str(model), "--port", str(free_port())], tmp_path / "serve.log", env=env)
    try:
        deadline = time.monotonic() + 30
        while "fake vllm: INFO loading" not in engine.tail() and time.monotonic() < deadline:
            time.sleep(0.05)
        start = time.monotonic()
        engine.stop()
        took = time.monotonic() - start
    finally:
        if engine.proc.poll() is None:
            os.killpg(engine.proc.pid, signal.SIGKILL)
    assert engine.proc.returncode == 143 and took < STARTING_GRACE_S + 2, (took, engine.tail())
    assert process_gone(int(pid.read_text()))
    assert "killing vLLM now" in engine.tail()
