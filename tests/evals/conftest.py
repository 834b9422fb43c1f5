"""Fixtures for `prai eval` tests: the loopback fake upstream (real HTTP) with scripted models."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.bench.bench_fake_upstream import FakeUpstream, Persona

EVAL_KEY = "sk-eval-test-987654321"


@pytest.fixture(scope="module")
def upstream() -> Iterator[FakeUpstream]:
    up = FakeUpstream(personas={
        "prai-demo": Persona(reply="こんにちは！プライベートAIキッチンへようこそ。今日は何をお手伝いしましょうか？"),
        "kansai": Persona(reply="まいど！プライベートAIキッチンへようこそやで。今日は何しましょか？"),
        "json-bot": Persona(reply='```json\n{"name": "prai", "ok": true}\n```'),
        "slow": Persona(reply="ゆっくり", ttft_s=0.3),
        "broken": Persona(fail=True),
    }, api_key=EVAL_KEY).start()
    yield up
    up.stop()
