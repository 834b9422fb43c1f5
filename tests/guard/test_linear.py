"""Issue 19: the guard's scan stays linear, and cheap, on hostile repeated input.

Every pattern of bench/guard_scan.py's ``ADVERSARIAL`` list (prefixes of every detector,
separators, normalisation triggers, findings back to back) is scanned at 20 KB and at
200 KB: a quadratic path shows as a per-KB cost ten times higher at 200 KB, so the test
allows three. And at 200 KB a pattern may cost at most 20x the per-KB time of typical
text under the same policy (the benchmark's goal is 10x: the test leaves room for a noisy
shared machine, and a regression to the old paths, 20-30x, still fails it).

CPU time of this thread (``time.thread_time``), best of several runs, the garbage
collector paused while timing (it is the algorithm that is measured; bench/guard_scan.py
``--adversarial`` measures with it), the name analyser's sentence cache off (a repeated
sentence would otherwise be analysed once).
"""

from __future__ import annotations

import gc
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from prai.guard import Scanner, _address, _names, _numbers
from prai.guard._normalize import MAX_COMBINING, normalize
from prai.guard.scanner import DETECTORS

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from guard_scan import ADVERSARIAL, NUMBERS, corpus

LINEAR_MARGIN = 3.0  # per-KB cost at 200 KB over that at 20 KB (quadratic: ~10)
TYPICAL_MARGIN = 15.0  # per-KB cost of a pattern over typical text's (the goal: 10)
#: ... and of numbers where nothing repeats: each is validated, so the cost follows the
#: candidates (6-17x on the shared 2-core VM, up to 21x under load; before: 9-45x, and the
#: old path for 4-4-4-4 cards, 45x, fails it)
NUMBERS_MARGIN = 30.0

STRUCTURED = Scanner(
    deny_words=["社外秘", "Project Falcon"],
    deny_regexes=[r"PRJ-\d{4}"],
    detectors=[d for d in DETECTORS if d not in ("pii.person_name", "pii.address_jp")],
)
# The patterns the name and address detectors work hardest on (bench figures, standard).
NAME_PATTERNS = ["港区", "Minato-ku, ", "Tokyo 106-0032 ", "氏名,住所\n", "山田,港区\n", "フリガナ ",
                 "山田太郎様、", "TARO YAMADA ", "港区六本木3-2-1 ", "さん", "ア"]


@pytest.fixture(autouse=True)
def _no_sentence_cache(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(_names, "UNIT_CACHE_SIZE", 0)
    yield


def _repeat(pattern: str, kb: int) -> str:
    return pattern * (kb * 1000 // len(pattern.encode()) + 1)


def _per_kb(scan: Callable[[str], object], text: str, runs: int) -> float:
    """Best CPU seconds per KB of UTF-8 over ``runs`` scans, the collector paused."""
    best = float("inf")
    enabled = gc.isenabled()
    gc.disable()
    try:
        for _ in range(runs):
            t0 = time.thread_time()
            scan(text)
            best = min(best, time.thread_time() - t0)
    finally:
        if enabled:
            gc.enable()
    return best / (len(text.encode()) / 1000)


def _check(scanner: Scanner, patterns: list[str]) -> None:
    scanner.load()
    typical = _per_kb(scanner.scan, corpus(200_000, 2048, seed=5), runs=3)
    problems = []
    for pattern in patterns:
        small = _per_kb(scanner.scan, _repeat(pattern, 20), runs=3)
        large = _per_kb(scanner.scan, _repeat(pattern, 200), runs=2)
        if large > LINEAR_MARGIN * small:
            problems.append(f"{pattern!r}: {large * 1e6:.0f} µs/KB at 200 KB, "
                            f"{small * 1e6:.0f} at 20 KB (not linear)")
        if large > TYPICAL_MARGIN * typical:
            problems.append(f"{pattern!r}: {large * 1e6:.0f} µs/KB at 200 KB, "
                            f"{large / typical:.1f}x typical text ({typical * 1e6:.0f} µs/KB)")
    assert not problems, "\n".join(problems)


def test_repeated_patterns_linear_and_bounded_structured_policy() -> None:
    _check(STRUCTURED, ADVERSARIAL)


@pytest.mark.slow
def test_repeated_patterns_linear_and_bounded_with_names_and_addresses() -> None:
    _check(Scanner(deny_words=["社外秘"], deny_regexes=[r"PRJ-\d{4}"]), NAME_PATTERNS)


def test_numbers_that_do_not_repeat_linear_and_bounded() -> None:
    """Text made only of numbers where nothing repeats (random digit groups with mixed
    separators, random cards, phones, 12-digit numbers, a CSV of random numbers): every
    candidate is new, so no memo helps. Linear (20 KB against 200 KB, different random
    draws) and at most NUMBERS_MARGIN times typical text per KB."""
    STRUCTURED.load()
    typical = _per_kb(STRUCTURED.scan, corpus(200_000, 2048, seed=5), runs=3)
    problems = []
    for label, make in NUMBERS.items():
        small = _per_kb(STRUCTURED.scan, make(20, 1), runs=3)
        large = _per_kb(STRUCTURED.scan, make(200, 2), runs=2)
        if large > LINEAR_MARGIN * small:
            problems.append(f"{label}: {large * 1e6:.0f} µs/KB at 200 KB, "
                            f"{small * 1e6:.0f} at 20 KB (not linear)")
        if large > NUMBERS_MARGIN * typical:
            problems.append(f"{label}: {large * 1e6:.0f} µs/KB at 200 KB, "
                            f"{large / typical:.1f}x typical text ({typical * 1e6:.0f} µs/KB)")
    assert not problems, "\n".join(problems)


def test_numbers_fast_paths_change_no_finding(monkeypatch: pytest.MonkeyPatch) -> None:
    """Deep inside a run of numbers outside tables, groups whose twelve and sixteen digits
    fail the check digits are skipped by C-level passes, and the rest judged without the
    context :func:`_classify` reads (none can be in reach there); in short runs the
    stretches inside are skipped when their digits rule them out. With those paths off
    (the general code for every candidate), every finding is the same."""
    import random

    r = random.Random(191)
    texts = []
    for make in NUMBERS.values():
        texts += [make(3, seed) for seed in range(3)]
    ctx = ["口座番号 ", "普通 ", "電話 ", "tel:", "個人番号 ", "法人番号 ", "免許証 ", "〒", "郵便番号 ",
           "注文番号 ", "Tokyo ", "東京都港区", "氏名,電話,口座番号\n", "acct no. ", "id=", "+81 ", "(", "x"]
    for _ in range(400):
        parts = []
        for _ in range(r.randint(1, 80)):
            c = r.random()
            if c < 0.6:
                parts.append("".join(r.choice("0123456789") for _ in range(r.choice([1, 3, 4, 4, 5, 7, 8, 12]))))
            elif c < 0.93:
                parts.append(r.choice([" ", "  ", "-", " - ", "\u3000", "ー", ",", "\n", ", "]))
            else:
                parts.append(r.choice(ctx))
        texts.append("".join(parts))
    valid = ["4111 1111 1111 1111", "5555 5555 5555 4444", "1234 5678 9018", "123456789018",
             "090-1234-5678", "03 1234 5678", "1234567890123", "0120 123 456"]
    for _ in range(100):
        items = [r.choice(valid) if r.random() < 0.3 else
                 " ".join("".join(r.choice("0123456789") for _ in range(4)) for _ in range(4))
                 for _ in range(r.randint(5, 60))]
        texts.append(r.choice([" ", "  ", " - ", "\u3000"]).join(items))
    # numbers right after +, a bracket, 〒, a key or a label, inside short runs of groups
    for _ in range(1500):
        groups = ["81" if k == 0 and r.random() < 0.3 else "".join(
            r.choice("0123456789") for _ in range(r.choice([1, 2, 3, 4, 4, 5, 7, 8, 10, 12])))
            for k in range(r.randint(1, 6))]
        run = groups[0] + "".join(r.choice([" ", "-", "  ", "\u3000"]) + g for g in groups[1:])
        texts.append(r.choice(["+", "(", "〒", "=", '"tel":"', "口座番号：", "電話 ", "Tokyo ", ""])
                     + run + r.choice(["", " ", "東京都港区", ")", "円", " Tokyo"]))
    # ... and in table cells (a quoted cell's end skips the next character: a cell may
    # start inside a run of digits, and its header then is the context there)
    for _ in range(300):
        rows = ["name,account no,tel,zip"]
        for _ in range(r.randint(1, 5)):
            cells = [r.choice(["", '"a,b"', "口座 ", "+"]) + " ".join(
                "".join(r.choice("0123456789") for _ in range(r.choice([2, 4, 6, 7, 10])))
                for _ in range(r.randint(1, 4))) for _ in range(r.choice([3, 4, 4]))]
            rows.append(",".join(cells))
        texts.append("\n".join(rows))
    # ... and seven digits shaped like a postal code (7, 3-4) among short groups, after 〒,
    # a postal word or a romaji prefecture, before an address
    for _ in range(1500):
        shape = r.choice([[3, 4], [7], [1, 3, 4], [3, 4, 1], [1, 1, 7], [7, 1, 1], [2, 7], [1, 7]])
        run = r.choice([" ", "-", " - ", "\u3000"]).join(
            "".join(r.choice("0123456789") for _ in range(k)) for k in shape)
        texts.append(r.choice(["〒 ", "〒", "郵便番号：", "zip ", "Tokyo ", "口座番号 ", "+", "x ", ""])
                     + run + r.choice([" 東京都港区", " 港区", ", 大阪市北区", "\t福岡県", " Tokyo", ""]))
    scanner = Scanner()
    scanner.load()
    fast = [scanner.scan(t) for t in texts]
    # seven digits after two one-digit groups and 〒: a postal code
    assert [(f.detector, f.start, f.end) for f in scanner.scan("〒 6 6 - 9860824\u3000千代田区")] == [
        ("pii.postal_code_jp", 8, 15)]
    # +81 and ten digits inside a longer run: a phone (found by the stretches inside it)
    assert [(f.detector, f.start, f.end) for f in scanner.scan("+81 9012345678 5")] == [
        ("pii.phone_jp", 0, 14)]
    # six digits in a cell under "account no" that starts inside the run
    found = scanner.scan('name,account no,tel,zip\n"a,b"0523  535392  0244,x,y\n')
    assert ("pii.bank_account_jp", 35, 41) in [(f.detector, f.start, f.end) for f in found]
    monkeypatch.setattr(_numbers, "_deep_number_from", _general_deep_number_from)
    monkeypatch.setattr(_numbers, "_no_number_in_quads", lambda d, lens: [False] * len(d))
    monkeypatch.setattr(_numbers, "_inner_may_hold", lambda *args: True)
    monkeypatch.setattr(_numbers, "_few_digits_none", lambda *args: False)
    assert [scanner.scan(t) for t in texts] == fast


def test_bank_label_shortcut_and_check_digits_as_the_formulas() -> None:
    """The bank-label search is skipped when no label can end before the number, and the
    check digits are summed by C-level passes: the same answers as the regex alone and as
    the formulas digit by digit."""
    import random

    from prai.guard import _checks

    r = random.Random(19)
    frags = ["口座番号", "口座", "普通預金", "普通", "当座", "貯蓄", "記号番号", "記号・番号", "番号", "預金",
             "savings", "checking", "ordinary", "account no.", "account number", "account #",
             "acct", "acct. ", "acct no.", "a/c", "a/c no.", "bank account", "（普通）", "(x)",
             " ", "\u3000", ":", "：", "#", "＃", "no", "no.", "\n", "12", "-", "x", "口", "t", "."]
    for _ in range(20_000):
        low = "".join(r.choice(frags) for _ in range(r.randint(0, 7))) + "1234567"
        for start in (len(low) - 7, r.randint(0, len(low))):
            m = _numbers._BANK_LABEL.search(low, max(0, start - 40), start)
            want = m is not None and (not m.group().startswith("番号") or _numbers._BANK_WORD.search(
                low, max(0, m.start() - 6), m.start()) is not None)
            assert _numbers._bank_label(low, start) == want, (low, start)

    def luhn(d: str) -> bool:
        return sum((2 * int(c) - 9 if 2 * int(c) > 9 else 2 * int(c)) if i % 2 else int(c)
                   for i, c in enumerate(reversed(d))) % 10 == 0

    for _ in range(20_000):
        d = "".join(r.choice("0123456789") for _ in range(r.choice([13, 15, 16, 19])))
        total = sum(int(d[10 - k]) * (k + 2 if k < 6 else k - 4) for k in range(11))
        assert _checks.my_number_valid(d[:12]) == (
            (0 if total % 11 <= 1 else 11 - total % 11) == int(d[11]))
        corp = sum(int(c) * (2 if k % 2 else 1) for k, c in enumerate(reversed(d[1:13])))
        assert _checks.corporate_number_valid(d[:13]) == (9 - corp % 9 == int(d[0]))
        ean = sum(int(c) * (3 if k % 2 else 1) for k, c in enumerate(d[:12]))
        assert _checks.ean13_valid(d[:13]) == ((10 - ean % 10) % 10 == int(d[12]))
        assert _checks.luhn_valid(d) == luhn(d)


def _general_deep_number_from(
    judge: _numbers._Judge, i: int, *lists: list[Any]
) -> tuple[int, object]:
    j, hit, _ = _numbers._number_from(judge, i, *lists[:-1], deep=True)
    return j, hit  # (lists[-1]: the digit counts, which the general path does not take)


def test_long_runs_of_combining_marks_are_linear() -> None:
    """NFKC sorts a run of combining marks by insertion sort (``"a" + "\\u0301\\u0316" * n``
    is quadratic in CPython): the normaliser takes them 30 at a time."""
    for text in ("a" + "\u0301\u0316" * 10_000, "a" + "\u0301\u0316" * 100_000):
        _per_kb(STRUCTURED.scan, text, runs=1)  # (warm)
    small = _per_kb(STRUCTURED.scan, "a" + "\u0301\u0316" * 10_000, runs=3)
    large = _per_kb(STRUCTURED.scan, "a" + "\u0301\u0316" * 100_000, runs=2)
    assert large < LINEAR_MARGIN * small
    norm, omap = normalize("x" + "\u0301" * (MAX_COMBINING + 5) + "y")
    assert norm.endswith("y") and omap.end(len(norm)) == MAX_COMBINING + 7


def test_memos_change_no_finding(monkeypatch: pytest.MonkeyPatch) -> None:
    """The number and address detectors remember what they judged in identical
    surroundings (and the romaji address windows, the windows of four digit groups): with
    those memos off, every finding is the same."""
    import random

    pieces = ["090-1234-5678", "03 1234 5678", "1234 5678 9012 3456", "4111 1111 1111 1111",
              "123456789018", "Tokyo 106-0032", "〒106-0032", "106-0032 東京都港区", "+81 (0)3 1234 5678",
              "口座番号 1234567", "tel:", "電話 ", "(", ")", "円", "Σ", "ΑΣ", "\n", ",", " ", "  ", "-",
              "0120-123-456", "2023-06-21", "T1234567890123", "1 2 3 4", "12 34 56 78 90",
              "氏名,電話\n山田,090-1234-5678\n", "090 1234 5678 090 1234 5678 090 1234 5678 ",
              "港区", "港区六本木3-2-1 ", "東京都港区六本木", "二丁目9番21号", "住所：", "横浜市 港北区",
              "3-2-1 Roppongi, Minato-ku, ", "Minato-ku, ", "Osaka City", "メゾン青山 301号室", "市"]
    r = random.Random(19)
    texts = []
    for _ in range(300):
        unit = "".join(r.choice(pieces) for _ in range(r.randint(1, 12)))
        texts.append(unit * r.randint(1, 12))
    texts += [_repeat(p, 3) for p in ADVERSARIAL]
    scanner = Scanner()
    scanner.load()
    with_memos = [scanner.scan(t) for t in texts]
    monkeypatch.setattr(_numbers, "MEMO_SIZE", 0)
    monkeypatch.setattr(_address, "MEMO_SIZE", 0)
    assert [scanner.scan(t) for t in texts] == with_memos


def test_plain_table_bodies_read_as_row_by_row() -> None:
    """A table body of unquoted rows is cut by C-level passes over the whole body: the
    cells are those the row-by-row reading gives."""
    import random

    from prai.guard._fields import _cells, _plain_body

    r = random.Random(7)
    words = ["氏名", "住所", " 山田 ", "\u3000港区", "", "a b", "1234567", "x\r", "  "]
    for _ in range(2000):
        width = r.randint(1, 5)
        rows = [",".join(r.choice(words) for _ in range(width)) for _ in range(r.randint(0, 8))]
        headers = [f"h{k}" for k in range(width)]
        base = r.randint(0, 50)
        expected, pos = [], base
        for row in rows:
            expected += [(s, e, headers[k]) for k, (s, e) in enumerate(_cells(row, pos, False))]
            pos += len(row) + 1
        assert _plain_body(rows, base, headers) == expected
