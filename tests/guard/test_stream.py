"""The streaming filter: split entities are still caught; hold-back bounds; blocks."""

from __future__ import annotations

import random

import pytest

from prai.config.guard import GuardPolicyConfig
from prai.errors import GuardrailViolation
from prai.guard.policy import Guardrails, Policy
from prai.guard.stream import TextFilter

TEXT = (
    "お問い合わせありがとうございます。担当者の個人番号は1234 5678 9018で、電話は"
    "０９０－１２３４－５６７８です。メールはtaro@example.co.jpまで。カード4111 1111 1111 1111。"
    "口座番号 1234567。以上です。"
)


def _run(f: TextFilter, text: str, rng: random.Random, max_chunk: int = 6) -> str:
    out, i = [], 0
    while i < len(text):
        n = rng.randint(1, max_chunk)
        out.append(f.feed(text[i : i + n]))
        i += n
    out.append(f.finish())
    return "".join(out)


@pytest.mark.parametrize("seed", range(60))
def test_random_chunking_equals_whole_text(seed: int) -> None:
    pol = Guardrails().policy("standard")
    expected = pol.apply(TEXT, "output").text
    assert "1234" not in expected and "［口座番号］" in expected
    assert _run(TextFilter(pol), TEXT, random.Random(seed)) == expected


def test_one_character_at_a_time_and_hold_bound() -> None:
    pol = Guardrails().policy("standard")
    f = TextFilter(pol, holdback_chars=16)
    sent = ""
    first = None
    for i, ch in enumerate(TEXT):
        got = f.feed(ch)
        if got and first is None:
            first = i + 1
        sent += got
        assert len(TEXT[: i + 1]) - len(sent) <= 16 + 24 or "［" in sent  # bounded hold
    sent += f.finish()
    assert sent == pol.apply(TEXT, "output").text
    assert first == 17  # nothing before holdback_chars + 1 characters


def test_deny_word_split_across_chunks() -> None:
    pol = Policy("p", GuardPolicyConfig(output={"default": "mask"}, deny_words=["社外秘"]))
    f = TextFilter(pol, holdback_chars=2)
    out = f.feed("これは社") + f.feed("外") + f.feed("秘の資料です。") + f.finish()
    assert out == "これは［禁止語］の資料です。"


def test_block_in_stream_never_sends_the_secret() -> None:
    pol = Guardrails().policy("strict")  # output: secret → block
    f = TextFilter(pol)
    sent = f.feed("鍵は AKIAIOSF") + f.feed("ODNN7EXAMPLE")
    with pytest.raises(GuardrailViolation) as ei:
        sent += f.feed(" です。この後に続く文章がまだたくさんあります。")
    assert "AKIA" not in sent
    assert "secret.aws_access_key" in str(ei.value)
    assert f.feed("more") == "" and f.finish() == ""


def test_private_key_held_until_end_marker() -> None:
    pol = Guardrails().policy("standard")
    f = TextFilter(pol, max_hold_chars=64)
    body = "".join(f"{'QUJD' * 16}\n" for _ in range(20))
    chunks = [
        "前文です。\n-----BEGIN PRIVATE KEY-----\n",
        *[body[i : i + 30] for i in range(0, len(body), 30)],
        "-----END PRIVATE KEY-----\n後の文章。",
    ]
    out = "".join(f.feed(c) for c in chunks) + f.finish()
    assert "QUJD" not in out
    assert out.startswith("前文です。\n［秘密鍵］") and out.endswith("後の文章。")


def test_filter_text_counts() -> None:
    pol = Guardrails().policy("standard")
    f = TextFilter(pol)
    assert f.filter_text("mail a@example.com") == "mail ［メールアドレス］"
    assert f.counts[("pii.email", "mask")] == 1
