"""Fixtures for `prai eval` tests: the loopback fake upstream (real HTTP) with scripted models;
it refuses a My Number as a guarded gateway would (HTTP 400 ``guardrail_violation``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests._support.fake_openai import FakeOpenAI, Persona

EVAL_KEY = "sk-eval-test-987654321"


@pytest.fixture(scope="module")
def upstream() -> Iterator[FakeOpenAI]:
    up = FakeOpenAI(personas={
        "prai-demo": Persona(reply="こんにちは！プライベートAIキッチンへようこそ。今日は何をお手伝いしましょうか？"),
        "kansai": Persona(reply="まいど！プライベートAIキッチンへようこそやで。今日は何しましょか？"),
        "json-bot": Persona(reply='```json\n{"name": "prai", "ok": true}\n```'),
        "slow": Persona(reply="ゆっくり", ttft_s=0.3),
        "broken": Persona(fail=True),
    }, api_key=EVAL_KEY, block_words=("1234 5678 9012",)).start()  # blocks like a guarded gateway
    yield up
    up.stop()
