"""The target preflight of `prai bench`/`prai eval`, and a run in which every request failed:
one `error:` line naming the cause, a hint, exit 51, nothing run or written."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from prai.bench.plan import RunSpec
from prai.bench.runner import _all_errored
from prai.bench.target import check_target, http_failure
from prai.errors import BenchRunFailed, BenchTargetError
from tests._support.fake_openai import FakeOpenAI, Persona
from tests._support.net import free_port
from tests.bench.conftest import API_KEY


@pytest.fixture(scope="module")
def keyed() -> Iterator[FakeOpenAI]:
    up = FakeOpenAI(personas={"prai-demo": Persona(), "kansai": Persona(), "broken": Persona(fail=True)},
                    api_key=API_KEY,
                    models_need_key=True).start()
    yield up
    up.stop()


def test_check_target_lists_served_names_and_refuses_a_mistyped_model(keyed: FakeOpenAI) -> None:
    served = check_target(keyed.url + "/v1", ["prai-demo", "kansai"], api_key=API_KEY)
    assert served == ["prai-demo", "kansai", "broken"]
    with pytest.raises(BenchTargetError) as e:
        check_target(keyed.url, ["prai-dmeo"], api_key=API_KEY)
    assert "does not serve 'prai-dmeo'; it serves: prai-demo, kansai, broken" in str(e.value)
    assert "--model" in e.value.hint and e.value.exit_code == 51


def test_check_target_names_a_missing_key_and_a_dead_server(keyed: FakeOpenAI) -> None:
    with pytest.raises(BenchTargetError) as e:
        check_target(keyed.url, ["prai-demo"])
    assert "HTTP 401: missing API key (no API key was sent)" in str(e.value) and "--api-key" in e.value.hint
    with pytest.raises(BenchTargetError, match=r"cannot reach http://127\.0\.0\.1:\d+: ConnectError"):
        check_target(f"http://127.0.0.1:{free_port()}", ["prai-demo"])


def test_http_failure_reads_the_error_envelopes() -> None:
    assert http_failure(404, {"error": {"message": "The model `x` does not exist.", "code": 404}}) == \
        "HTTP 404: The model `x` does not exist."
    assert http_failure(400, {"object": "error", "message": "bad"}) == "HTTP 400: bad"
    assert http_failure(404, {"detail": "Not Found"}) == "HTTP 404: Not Found"
    assert http_failure(502, None, "Bad Gateway") == "HTTP 502: Bad Gateway"


def test_a_run_with_only_errors_fails_naming_the_first_error(tmp_path: Path) -> None:
    report = {"benchmarks": [{"requests": {"errored": [
        {"info": {"error": "HTTPStatusError(\"Client error '404 Not Found' for url 'http://x/v1/chat/completions'"
                           "\\nFor more information check: https://...\")"}}]}}]}
    rows = [{"requests_successful": 0, "requests_errored": 303}]
    err = _all_errored(RunSpec("base", "prai-dmeo", "base"), rows, report, tmp_path)
    assert isinstance(err, BenchRunFailed)
    with pytest.raises(BenchRunFailed) as e:
        raise err
    assert "every request of run 'base' failed (303 errors, 0 ok)" in str(e.value)
    assert "first error: HTTPStatusError: Client error '404 Not Found' for url 'http://x/v1/chat/completions'" \
        in str(e.value) and "For more information" not in str(e.value)
    assert e.value.exit_code == 51 and "/v1/models" in e.value.hint
    assert _all_errored(RunSpec("base", "m", "base"), [{"requests_successful": 1, "requests_errored": 5}],
                        report, tmp_path) is None  # some succeeded: the table shows the errors, no failure


def test_cli_bench_refuses_a_mistyped_model_before_guidellm(keyed: FakeOpenAI, tiny_tokenizer: Path,
                                                        tmp_path: Path) -> None:
    pytest.importorskip("guidellm")
    r = subprocess.run([sys.executable, "-m", "prai.cli.main", "bench", "--target", keyed.url, "--model", "prai-dmeo",
                        "--api-key", API_KEY, "--tokenizer", str(tiny_tokenizer), "--max-seconds", "3",
                        "-o", str(tmp_path / "o")], capture_output=True, text=True, timeout=120)
    assert r.returncode == 51, r.stderr
    lines = r.stderr.strip().splitlines()
    assert lines[0].startswith("error: ")
    assert "does not serve 'prai-dmeo'; it serves: prai-demo, kansai, broken" in lines[0]
    assert lines[1].startswith("hint: check --model") and len(lines) == 2
    assert not (tmp_path / "o").exists() and keyed.stats()["requests"] == 0


@pytest.mark.slow
def test_cli_bench_where_every_request_fails_exits_51_naming_the_error(keyed: FakeOpenAI, tiny_tokenizer: Path,
                                                                        tmp_path: Path) -> None:
    """A real GuideLLM run against a served model that answers HTTP 500 to everything."""
    pytest.importorskip("guidellm")
    r = subprocess.run([sys.executable, "-m", "prai.cli.main", "bench", "--target", keyed.url, "--model", "broken",
                        "--api-key", API_KEY, "--tokenizer", str(tiny_tokenizer), "--max-requests", "3",
                        "--data", "synthetic:prompt_tokens=8,output_tokens=4", "-o", str(tmp_path / "o")],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 51, r.stdout + r.stderr
    error = next(line for line in r.stderr.splitlines() if line.startswith("error: "))
    assert "every request of run 'base' failed (3 errors, 0 ok); first error: HTTPStatusError: " \
           "Server error '500 Internal Server Error' for url" in error, r.stderr
    assert "hint: check --model" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "o" / "summary.json").exists()
