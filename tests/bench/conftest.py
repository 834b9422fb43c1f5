"""Fixtures for bench/eval tests: a tiny local tokenizer, the fake upstream, a hub trap."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests._support.fake_openai import FakeOpenAI, Persona

API_KEY = "sk-bench-test-0123456789"

_CORPUS = [
    "こんにちは！プライベートAIキッチンへようこそ。今日は何をお手伝いしましょうか？",
    "閉域網とは、インターネットにつながらない閉じたネットワークのことです。",
    "The quick brown fox jumps over the lazy dog while the kitchen serves models offline.",
    "LoRA adapters change the behaviour of a base model with a small difference.",
] * 20


@pytest.fixture(scope="session")
def tiny_tokenizer(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A byte-level BPE tokenizer directory (tokenizer.json + tokenizer_config.json), built here."""
    tokenizers = pytest.importorskip("tokenizers")
    d = tmp_path_factory.mktemp("tok")
    tok = tokenizers.ByteLevelBPETokenizer()
    tok.train_from_iterator(_CORPUS, vocab_size=400, min_frequency=1, special_tokens=["<|end|>"])
    tok.save(str(d / "tokenizer.json"))
    (d / "tokenizer_config.json").write_text(json.dumps(
        {"tokenizer_class": "PreTrainedTokenizerFast", "eos_token": "<|end|>", "model_max_length": 4096}))
    return d


class HubTrap:
    """A loopback TCP listener that counts connections: HF_ENDPOINT and proxies point here."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.connections = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            conn.close()


@pytest.fixture(scope="module")
def hub_trap() -> Iterator[HubTrap]:
    trap = HubTrap()
    yield trap
    trap.sock.close()


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeOpenAI]:
    """Base model fast; kansai with a slow first token (30 ms); samurai with slow tokens."""
    up = FakeOpenAI(personas={
        "prai-demo": Persona(reply="こんにちは！プライベートAIキッチンへようこそ。今日は何をお手伝いしましょうか？"),
        "kansai": Persona(reply="まいど！プライベートAIキッチンへようこそやで。", ttft_s=0.03),
        "samurai": Persona(reply="御免！拙者、料理番でござる。", token_delay_s=0.004),
        "json-bot": Persona(reply='{"name": "prai", "ok": true}'),
        "broken": Persona(fail=True),
    }, api_key=API_KEY).start()
    yield up
    up.stop()
