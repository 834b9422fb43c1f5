"""https targets: TLS is verified against the given internal CA (never turned off), for
GuideLLM (through SSL_CERT_FILE), the adapter-mix router and `prai eval`."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from prai.bench import BenchOptions, run_bench
from prai.errors import BenchRunFailed, BenchTargetError
from prai.evals import run_eval
from tests._support.fake_openai import FakeOpenAI, Persona
from tests.bench.bench_tls import make_tls


@pytest.fixture(scope="module")
def tls_upstream(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[FakeOpenAI, Path]]:
    ca, ctx = make_tls(tmp_path_factory.mktemp("tls"))
    up = FakeOpenAI(personas={"prai-demo": Persona(reply="こんにちは！"), "kansai": Persona(reply="まいど！")}
                      ).start(ssl_context=ctx)
    yield up, ca
    up.stop()


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in ("SSL_CERT_FILE", "SSL_CERT_DIR")}


def test_eval_over_https_with_the_internal_ca(tls_upstream, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    up, ca = tls_upstream
    suite = tmp_path / "s.jsonl"
    suite.write_text('{"id": "hi", "prompt": "こんにちは", "assert": [{"contains": "こんにちは"}]}\n', encoding="utf-8")
    ok = run_eval(suite, up.url, tmp_path / "ok", models=["prai-demo"], ca_bundle=ca)
    assert ok.failed == 0
    # Without the CA the certificate is not trusted: refused before any item, nothing written.
    with pytest.raises(BenchTargetError, match="TLS certificate not trusted") as e:
        run_eval(suite, up.url, tmp_path / "bad", models=["prai-demo"])
    assert "--ca-bundle" in e.value.hint and not (tmp_path / "bad").exists()


@pytest.mark.slow
def test_bench_over_https_verifies_with_the_ca(tls_upstream, tiny_tokenizer, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    pytest.importorskip("guidellm")
    up, ca = tls_upstream
    opts = BenchOptions(target=up.url, model="prai-demo", tokenizer_dir=tiny_tokenizer, out_dir=tmp_path / "ok",
                        max_requests=3, ca_bundle=ca, include_base=False, mix={"prai-demo": 0.5, "kansai": 0.5},
                        adapters=["kansai"], data={"kind": "synthetic_text", "prompt_tokens": 8, "output_tokens": 4})
    res = run_bench(opts, env=_env(), cache_dir=tmp_path / "cache", run_timeout_s=240)
    assert [r["benchmarks"][0]["requests_successful"] for r in res.summary["runs"]] == [3, 3]
    opts.ca_bundle, opts.out_dir, opts.mix = None, tmp_path / "bad", {}
    with pytest.raises(BenchRunFailed, match="TLS certificate not trusted"):
        run_bench(opts, env=_env(), cache_dir=tmp_path / "cache", run_timeout_s=240)
