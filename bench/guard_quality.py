"""Precision and recall per detector on the labelled corpus in tests/guard/guard_corpus.py.

    .venv/bin/python bench/guard_quality.py [--seed N] [--misses]

Goals (issue 5): recall >= 0.99 and precision >= 0.98 for pii.my_number, pii.phone_jp,
pii.payment_card and pii.email. Exit 1 when a goal is missed.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "guard"))

from guard_corpus import build, evaluate

from prai.guard import Scanner

GOALS = ("pii.my_number", "pii.phone_jp", "pii.payment_card", "pii.email")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, default=20261129)
    ap.add_argument("--misses", action="store_true", help="print missed and false findings")
    args = ap.parse_args()
    samples = build(args.seed)
    scanner = Scanner()

    def scan(text: str) -> list[tuple[str, int, int]]:
        return [(f.detector, f.start, f.end) for f in scanner.scan(text)]

    stats = evaluate(samples, scan)
    pos = sum(1 for s in samples if s.spans)
    print(f"corpus: {len(samples)} samples ({pos} positive, {len(samples) - pos} hard negative)")
    print(f"{'detector':26s} {'tp':>5s} {'fp':>4s} {'fn':>4s} {'precision':>9s} {'recall':>7s}")
    ok = True
    for det in sorted(stats):
        v = stats[det]
        goal = det in GOALS
        miss = goal and (v["precision"] < 0.98 or v["recall"] < 0.99)
        ok &= not miss
        mark = " <- goal missed" if miss else (" (goal)" if goal else "")
        print(
            f"{det:26s} {v['tp']:5.0f} {v['fp']:4.0f} {v['fn']:4.0f} {v['precision']:9.4f}"
            f" {v['recall']:7.4f}{mark}"
        )
    exposure(scanner)
    if args.misses:
        for s in samples:
            found = scan(s.text)
            gold = {(d, a, b) for d, a, b in s.spans}
            if {f[0] for f in found} != {g[0] for g in gold}:
                print(repr(s.text), "gold", sorted(gold), "found", found)
    return 0 if ok else 1


def exposure(scanner: Scanner, n: int = 2000) -> None:
    """How often random digits with no context word are reported (not in the goals: a
    random number that passes a check digit cannot be told from a real one)."""
    import random

    r = random.Random(1)

    def digits(k: int) -> str:
        return "".join(r.choice("0123456789") for _ in range(k))

    cases = {
        "random 12 digits as 4-4-4 -> pii.my_number": (
            lambda: (lambda d: f"{d[:4]}-{d[4:8]}-{d[8:]}")(digits(12)), "pii.my_number"),
        "random 0 + 9 digits as 0X-XXXX-XXXX -> pii.phone_jp": (
            lambda: (lambda d: f"0{d[0]}-{d[1:5]}-{d[5:]}")(digits(9)), "pii.phone_jp"),
        "random 16 digits starting 4 -> pii.payment_card": (
            lambda: "4" + digits(15), "pii.payment_card"),
    }
    print("exposure: share of random digit strings (no context word) reported")
    for label, (make, det) in cases.items():
        hits = sum(
            any(f.detector == det for f in scanner.scan(f"値 {make()} です")) for _ in range(n)
        )
        print(f"  {label:52s} {hits / n:6.1%}")


if __name__ == "__main__":
    sys.exit(main())
