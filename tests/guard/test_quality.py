"""The issue's quality goals on the labelled corpus (tests/guard/guard_corpus.py)."""

from __future__ import annotations

import random

from prai.guard import Scanner
from tests.guard.guard_corpus import build, evaluate, more_negatives, more_positives

GOALS = ("pii.my_number", "pii.phone_jp", "pii.payment_card", "pii.email")


def test_precision_and_recall_goals() -> None:
    samples = build()
    assert sum(1 for s in samples if not s.spans) > 3000  # hard negatives are there
    scanner = Scanner()
    stats = evaluate(samples, lambda t: [(f.detector, f.start, f.end) for f in scanner.scan(t)])
    for det in GOALS:
        v = stats[det]
        assert v["tp"] >= 300, det
        assert v["recall"] >= 0.99, (det, v)
        assert v["precision"] >= 0.98, (det, v)


def test_exact_spans_on_positives() -> None:
    scanner = Scanner()
    for s in build(seed=7)[:2000]:
        found = {(f.detector, f.start, f.end) for f in scanner.scan(s.text)}
        for span in s.spans:
            assert span in found, (s.text, span, found)


def test_user_found_bypasses_are_caught_without_new_false_positives() -> None:
    r = random.Random(3)
    scanner = Scanner()
    for s in more_positives(r):
        found = {(f.detector, f.start, f.end) for f in scanner.scan(s.text)}
        for span in s.spans:
            assert span in found, (s.text, span, found)
    for s in more_negatives(r):
        assert scanner.scan(s.text) == [], s.text
