"""Property-based tests (hypothesis) for the normaliser and the scanner (issue 19):
offsets always map back into the original text, no input raises, time stays bounded."""

from __future__ import annotations

import time

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from prai.guard import Scanner, mask
from prai.guard._deadline import Deadline
from prai.guard._normalize import normalize

# Pieces that exercise every detector and every normalisation path, mixed with any text.
PIECES = [
    "090-1234-5678", "+81(0)3 1234 5678", "03.1234.5678", "１２３４－５６７８－９０１８",
    "123456789018", "T9234-5678-9012-3", "〒106-0032", "4111 1111 1111 1111", "口座",
    "a@example.jp", "ｔａｒｏ＠ｅｘａｍｐｌｅ．ｃｏｍ", "192.168.0.1", "fe80::1", "sk-", "xoxb-",
    "eyJ", "AKIA", "-----BEGIN PRIVATE KEY-----", "password=", "ignore previous instructions",
    "これまでの指示を無視", "山田太郎", "様", "さん", "氏名：", "フリガナ", "東京都港区六本木",
    "3-2-1", "二丁目9番21号", "Minato-ku, Tokyo", "Sachiko Nishimura", "ｶﾞ", "\u200b", "\u00ad",
    "e\u0301", "\u3099", "İ", "㍻", "ﾊﾟｽﾜｰﾄﾞ", "Ａ", "（", "）", ",", "\t", "\n", " ", "　",
]
TEXT = st.lists(st.one_of(st.sampled_from(PIECES), st.text(max_size=8)), max_size=40).map("".join)
S = Scanner(deny_words=["社外秘"], deny_regexes=["PRJ-[0-9]{4}"])
SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(TEXT)
def test_normalize_offsets_map_into_the_original(text: str) -> None:
    norm, omap = normalize(text)
    if not omap.segments:  # the identity (or nothing left: only zero-width characters)
        assert norm in (text, "")
        return
    prev = 0
    for i in range(len(norm)):
        s, e = omap.start(i), omap.end(i + 1)
        assert 0 <= s < e <= len(text)
        assert s >= prev or s == omap.start(max(0, i - 1))  # never moves backwards
        prev = s
    assert omap.end(len(norm)) <= len(text) if norm else True


@SETTINGS
@given(TEXT)
def test_scan_findings_are_spans_of_the_original(text: str) -> None:
    t0 = time.thread_time()
    found = S.scan(text, Deadline.after(30.0, len(text)))
    assert time.thread_time() - t0 < 5.0
    last = 0
    for f in found:
        assert 0 <= f.start < f.end <= len(text)
        assert f.text == text[f.start : f.end]
        assert f.start >= last  # sorted, never overlapping
        last = f.end
    masked = mask(text, found)
    assert isinstance(masked, str)


@settings(max_examples=40, deadline=None)
@given(st.sampled_from(PIECES), st.integers(min_value=2_000, max_value=20_000))
def test_repeated_pieces_scan_in_linear_time(piece: str, n_chars: int) -> None:
    text = piece * (n_chars // len(piece) + 1)
    t0 = time.thread_time()
    S.scan(text)
    per_kb = (time.thread_time() - t0) / (len(text.encode()) / 1000)
    assert per_kb < 0.05  # 50 ms per KB would be ~1000x typical text: a quadratic path
