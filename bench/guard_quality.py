"""Span-level quality of the guard's PII detectors on the labelled set bench/guard_data/docs.jsonl,
with Presidio + GiNZA side by side (issue 15, item 6).

    .venv/bin/python bench/guard_quality.py [--check] [--json] [--misses LABEL]
        [--presidio-python /path/to/venv/bin/python] [--rounds 5] [--exposure]

The set is written apart from the detectors (bench/guard_data/README.md: sources, labelling
rules). Matching rule, per label:

- recall: a labelled span is found when one finding of the same label overlaps at least
  50 % of the labelled span's characters;
- precision: a finding is correct when it matches a labelled span by that rule, or when at
  least half of the finding lies inside a labelled span of the same label (an address
  reported in two pieces is one hit and no false alarm); a label with labelled spans and no
  finding at all has precision 0, so no goal passes vacuously;
- address coverage: the share of labelled address characters inside any address finding;
- clean documents: the share of the documents without personal data that get any finding
  at all (any detector, in or out of the nine labels).

Goals (--check exits 1 when one misses): each structured identifier label (phone, My Number,
corporate number incl. invoice T-numbers, postal code, bank account, card, e-mail) recall
>= 0.98 and precision >= 0.98; person names recall >= 0.93 and precision >= 0.90;
addresses recall >= 0.90 with >= 0.90 of address characters covered; <= 3 % of clean
documents with any finding.

PrAI runs with names and addresses on: every built-in detector id of ``prai.guard.DETECTORS``
(deny lists aside) plus any boolean option of ``Scanner`` that turns them on; the options
used are printed. Presidio (``presidio-analyzer`` with spaCy model ``ja_ginza``) runs
in-process when it imports, else in ``--presidio-python`` (a separate venv holding them), else
it is skipped with a note. CPU: process CPU time of the scan calls only (models loaded
before), in ms per KB of UTF-8 text; PrAI: median of ``--rounds`` passes.
"""

from __future__ import annotations

import argparse
import inspect
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DATA = Path(__file__).resolve().parent / "guard_data" / "docs.jsonl"

NAME, ADDR = "pii.person_name", "pii.address_jp"
STRUCTURED = ("pii.phone_jp", "pii.my_number", "pii.corporate_number", "pii.postal_code_jp",
              "pii.bank_account_jp", "pii.payment_card", "pii.email")
LABELS = (NAME, ADDR, *STRUCTURED)
GOAL_STRUCTURED = 0.98
GOAL_NAME_RECALL, GOAL_NAME_PRECISION = 0.93, 0.90
GOAL_ADDR_RECALL, GOAL_ADDR_COVERAGE = 0.90, 0.90
GOAL_CLEAN_SHARE = 0.03

Spans = list[tuple[str, int, int]]

# Presidio: entity types -> our labels; GiNZA's NER labels (Extended Named Entity) -> Presidio's.
PRESIDIO_LABELS = {"PERSON": NAME, "LOCATION": ADDR, "PHONE_NUMBER": "pii.phone_jp",
                   "EMAIL_ADDRESS": "pii.email", "CREDIT_CARD": "pii.payment_card"}
PRESIDIO_SUPPORTED = set(PRESIDIO_LABELS.values())
GINZA_TO_PRESIDIO = {"Person": "PERSON", "Province": "LOCATION", "City": "LOCATION", "County": "LOCATION",
                     "GPE_Other": "LOCATION", "Postal_Address": "LOCATION", "Location_Other": "LOCATION",
                     "Domestic_Region": "LOCATION"}


def load_docs(path: Path = DATA) -> list[dict[str, Any]]:
    """The labelled set: one dict per document with id, source, text and spans [{label, start, end}]."""
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


# --- scoring ---------------------------------------------------------------------------


@dataclass
class LabelScore:
    gold: int = 0
    found: int = 0
    gold_hit: int = 0
    found_ok: int = 0
    chars: int = 0
    chars_covered: int = 0
    misses: list[tuple[str, int, int]] = field(default_factory=list)  # (doc id, start, end)
    false: list[tuple[str, int, int]] = field(default_factory=list)

    @property
    def recall(self) -> float:
        return self.gold_hit / self.gold if self.gold else 1.0

    @property
    def precision(self) -> float:
        """Correct findings / findings; 0 when a labelled label got no finding at all (no vacuous pass)."""
        if not self.found:
            return 0.0 if self.gold else 1.0
        return self.found_ok / self.found

    @property
    def coverage(self) -> float:
        return self.chars_covered / self.chars if self.chars else 1.0


@dataclass
class Report:
    labels: dict[str, LabelScore]
    clean_docs: int
    clean_flagged: list[str]
    other_findings: int

    @property
    def clean_share(self) -> float:
        return len(self.clean_flagged) / self.clean_docs if self.clean_docs else 0.0


def _overlap(a0: int, a1: int, b0: int, b1: int) -> int:
    return max(0, min(a1, b1) - max(a0, b0))


def score(docs: Sequence[dict[str, Any]], found_per_doc: Sequence[Spans]) -> Report:
    """Compare findings with the labels by the module's matching rule."""
    labels = {label: LabelScore() for label in LABELS}
    clean, flagged, other = 0, [], 0
    for doc, found in zip(docs, found_per_doc, strict=True):
        gold = [(s["label"], s["start"], s["end"]) for s in doc["spans"]]
        if not gold:
            clean += 1
            if found:
                flagged.append(doc["id"])
        other += sum(1 for f in found if f[0] not in labels)
        for label, g0, g1 in gold:
            st = labels[label]
            st.gold += 1
            st.chars += g1 - g0
            same = [(f0, f1) for fl, f0, f1 in found if fl == label]
            if any(_overlap(f0, f1, g0, g1) * 2 >= g1 - g0 for f0, f1 in same):
                st.gold_hit += 1
            else:
                st.misses.append((doc["id"], g0, g1))
            covered: set[int] = set()
            for f0, f1 in same:
                covered.update(range(max(f0, g0), min(f1, g1)))
            st.chars_covered += len(covered)
        for label, f0, f1 in found:
            if label not in labels:
                continue
            st = labels[label]
            st.found += 1
            ok = any(
                gl == label and (_overlap(f0, f1, g0, g1) * 2 >= g1 - g0 or _overlap(f0, f1, g0, g1) * 2 >= f1 - f0)
                for gl, g0, g1 in gold
            )
            if ok:
                st.found_ok += 1
            else:
                st.false.append((doc["id"], f0, f1))
    return Report(labels, clean, flagged, other)


def goal_results(rep: Report) -> list[tuple[str, float, float, bool]]:
    """(goal, measured, target, met) for every goal of item 6."""
    out = []
    for label in STRUCTURED:
        st = rep.labels[label]
        out.append((f"{label} recall", st.recall, GOAL_STRUCTURED, st.recall >= GOAL_STRUCTURED))
        out.append((f"{label} precision", st.precision, GOAL_STRUCTURED, st.precision >= GOAL_STRUCTURED))
    n, a = rep.labels[NAME], rep.labels[ADDR]
    out.append((f"{NAME} recall", n.recall, GOAL_NAME_RECALL, n.recall >= GOAL_NAME_RECALL))
    out.append((f"{NAME} precision", n.precision, GOAL_NAME_PRECISION, n.precision >= GOAL_NAME_PRECISION))
    out.append((f"{ADDR} recall", a.recall, GOAL_ADDR_RECALL, a.recall >= GOAL_ADDR_RECALL))
    out.append((f"{ADDR} character coverage", a.coverage, GOAL_ADDR_COVERAGE, a.coverage >= GOAL_ADDR_COVERAGE))
    out.append(("clean documents with any finding (at most)", rep.clean_share, GOAL_CLEAN_SHARE,
                rep.clean_share <= GOAL_CLEAN_SHARE))
    return out


# --- systems ---------------------------------------------------------------------------


def prai_scanner() -> tuple[Callable[[str], Spans], dict[str, Any]]:
    """PrAI's Scanner with names and addresses on, and the options used to get there."""
    from prai.guard import DETECTORS, Scanner

    params = inspect.signature(Scanner).parameters
    kwargs: dict[str, Any] = {}
    for opt in ("names", "addresses", "person_names", "enable_names", "enable_addresses", "names_and_addresses"):
        if opt in params:
            kwargs[opt] = True
    if "detectors" in params and (NAME in DETECTORS or ADDR in DETECTORS):
        kwargs["detectors"] = [d for d in DETECTORS if not d.startswith("deny.")]
    scanner = Scanner(**kwargs)

    def scan(text: str) -> Spans:
        return [(f.detector, f.start, f.end) for f in scanner.scan(text)]

    shown = {k: (f"{len(v)} ids" if k == "detectors" else v) for k, v in kwargs.items()}
    info = {"options": shown or "defaults", "name_detector": NAME in DETECTORS, "address_detector": ADDR in DETECTORS}
    return scan, info


def run_prai(docs: Sequence[dict[str, Any]], rounds: int) -> tuple[list[Spans], float, dict[str, Any]]:
    scan, info = prai_scanner()
    kb = sum(len(d["text"].encode()) for d in docs) / 1024
    found: list[Spans] = []
    cpu = []
    for _ in range(max(1, rounds)):
        t0 = time.process_time()
        found = [scan(d["text"]) for d in docs]
        cpu.append(time.process_time() - t0)
    return found, statistics.median(cpu) * 1000 / kb, info


def presidio_analyzer() -> Callable[[str], Spans]:
    """Presidio's AnalyzerEngine for Japanese: GiNZA's NER for names and places, Presidio's
    pattern recognizers for phones (libphonenumber, region JP), e-mails and cards."""
    from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
    from presidio_analyzer.nlp_engine import NlpEngineProvider
    from presidio_analyzer.predefined_recognizers import (
        CreditCardRecognizer,
        EmailRecognizer,
        PhoneRecognizer,
        SpacyRecognizer,
    )

    conf = {
        "nlp_engine_name": "spacy",
        "models": [{"lang_code": "ja", "model_name": "ja_ginza"}],
        "ner_model_configuration": {"model_to_presidio_entity_mapping": GINZA_TO_PRESIDIO,
                                    "low_score_entity_names": [], "labels_to_ignore": []},
    }
    nlp_engine = NlpEngineProvider(nlp_configuration=conf).create_engine()
    registry = RecognizerRegistry(supported_languages=["ja"])
    registry.add_recognizer(SpacyRecognizer(supported_language="ja", supported_entities=["PERSON", "LOCATION"]))
    registry.add_recognizer(PhoneRecognizer(supported_language="ja", supported_regions=("JP",)))
    registry.add_recognizer(EmailRecognizer(supported_language="ja"))
    registry.add_recognizer(CreditCardRecognizer(supported_language="ja"))
    engine = AnalyzerEngine(registry=registry, nlp_engine=nlp_engine, supported_languages=["ja"])

    def scan(text: str) -> Spans:
        return [(PRESIDIO_LABELS.get(r.entity_type, "presidio." + r.entity_type), r.start, r.end)
                for r in engine.analyze(text=text, language="ja")]

    return scan


def presidio_versions() -> dict[str, str]:
    from importlib.metadata import version

    return {p: version(p) for p in ("presidio-analyzer", "ja-ginza", "ginza", "spacy")}


def presidio_worker(path: Path) -> int:
    """Run Presidio over the set and print {spans, cpu_s, versions} as JSON (for a separate venv)."""
    docs = load_docs(path)
    scan = presidio_analyzer()
    scan("ウォームアップ：東京都港区の山田太郎です。")
    t0 = time.process_time()
    spans = [scan(d["text"]) for d in docs]
    cpu = time.process_time() - t0
    json.dump({"spans": spans, "cpu_s": cpu, "versions": presidio_versions()}, sys.stdout)
    return 0


def run_presidio(
    docs: Sequence[dict[str, Any]], path: Path, python: str | None
) -> tuple[list[Spans], float, dict[str, Any]] | str:
    """Presidio's findings and CPU ms/KB, or a note saying why it did not run."""
    kb = sum(len(d["text"].encode()) for d in docs) / 1024
    try:
        import ja_ginza  # noqa: F401
        import presidio_analyzer
    except ImportError:
        if not python:
            return ("skipped: presidio_analyzer / ja_ginza do not import here; install them in a separate venv "
                    "(pip install presidio-analyzer ja-ginza) and pass --presidio-python VENV/bin/python")
        proc = subprocess.run([python, __file__, "--presidio-worker", str(path)], capture_output=True, text=True)
        if proc.returncode:
            return f"skipped: the Presidio worker in {python} failed: {proc.stderr.strip().splitlines()[-1:]}"
        out = json.loads(proc.stdout)
        return [[tuple(s) for s in doc] for doc in out["spans"]], out["cpu_s"] * 1000 / kb, out["versions"]
    scan = presidio_analyzer()
    scan("ウォームアップ：東京都港区の山田太郎です。")
    t0 = time.process_time()
    spans = [scan(d["text"]) for d in docs]
    return spans, (time.process_time() - t0) * 1000 / kb, presidio_versions()


# --- output ----------------------------------------------------------------------------


def _cell(value: float | None) -> str:
    return "   —  " if value is None else f"{value:6.3f}"


def print_table(docs: Sequence[dict[str, Any]], systems: dict[str, dict[str, Any]]) -> None:
    clean = sum(1 for d in docs if not d["spans"])
    kb = sum(len(d["text"].encode()) for d in docs) / 1024
    print(f"set: {len(docs)} documents ({clean} without personal data), {kb:.0f} KB, "
          f"{len({d['source'] for d in docs})} sources")
    names = list(systems)
    head = f"{'label':24s} {'gold':>5s}" + "".join(f" | {n[:14]:>14s}  found    rec   prec" for n in names)
    print(head)
    print("-" * len(head))
    for label in LABELS:
        gold = next(iter(systems.values()))["report"].labels[label].gold if systems else 0
        row = f"{label:24s} {gold:5d}"
        for n in names:
            st = systems[n]["report"].labels[label]
            sup = systems[n]["supported"]
            rec, prec = (st.recall, st.precision) if label in sup else (None, None)
            found = f"{st.found:5d}" if label in sup else "    —"
            row += f" | {'':>9s}{found} {_cell(rec)} {_cell(prec)}"
        print(row)
    print("-" * len(head))
    for n in names:
        rep: Report = systems[n]["report"]
        a = rep.labels[ADDR]
        print(f"{n}: address characters covered {a.coverage:.3f}; clean documents with any finding "
              f"{len(rep.clean_flagged)}/{rep.clean_docs} = {rep.clean_share:.1%}; findings outside the nine labels "
              f"{rep.other_findings}; CPU {systems[n]['cpu_ms_per_kb']:.3f} ms/KB; {systems[n]['info']}")


def as_json(
    docs: Sequence[dict[str, Any]], systems: dict[str, dict[str, Any]], notes: dict[str, str]
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "documents": len(docs),
        "clean_documents": sum(1 for d in docs if not d["spans"]),
        "kb": round(sum(len(d["text"].encode()) for d in docs) / 1024, 1),
        "systems": {},
        "notes": notes,
    }
    for n, s in systems.items():
        rep: Report = s["report"]
        out["systems"][n] = {
            "labels": {label: {"gold": st.gold, "found": st.found, "recall": round(st.recall, 4),
                               "precision": round(st.precision, 4), "supported": label in s["supported"]}
                       for label, st in rep.labels.items()},
            "address_char_coverage": round(rep.labels[ADDR].coverage, 4),
            "clean_share": round(rep.clean_share, 4),
            "clean_flagged": rep.clean_flagged,
            "cpu_ms_per_kb": round(s["cpu_ms_per_kb"], 4),
            "info": s["info"],
        }
        if n == "prai":
            out["systems"][n]["goals"] = [{"goal": g, "measured": round(v, 4), "target": t, "met": ok}
                                          for g, v, t, ok in goal_results(rep)]
    return out


def print_misses(docs: Sequence[dict[str, Any]], rep: Report, label: str, limit: int = 40) -> None:
    by_id = {d["id"]: d for d in docs}
    st = rep.labels[label]

    def ctx(doc_id: str, a: int, b: int) -> str:
        t = by_id[doc_id]["text"]
        return (t[max(0, a - 18):a] + "⟦" + t[a:b] + "⟧" + t[b:b + 12]).replace("\n", "⏎")

    print(f"\n{label}: {len(st.misses)} missed, {len(st.false)} false")
    for doc_id, a, b in st.misses[:limit]:
        print(f"  miss  {doc_id:28s} {ctx(doc_id, a, b)}")
    for doc_id, a, b in st.false[:limit]:
        print(f"  false {doc_id:28s} {ctx(doc_id, a, b)}")


def exposure(n: int = 2000) -> None:
    """How often random digits with no context word are reported (not a goal: a random
    number that passes a check digit cannot be told from a real one)."""
    import random

    scan, _info = prai_scanner()
    r = random.Random(1)

    def digits(k: int) -> str:
        return "".join(r.choice("0123456789") for _ in range(k))

    cases: dict[str, tuple[Callable[[], str], str]] = {
        "random 12 digits as 4-4-4 -> pii.my_number": (
            lambda: (lambda d: f"{d[:4]}-{d[4:8]}-{d[8:]}")(digits(12)), "pii.my_number"),
        "random 0 + 9 digits as 0X-XXXX-XXXX -> pii.phone_jp": (
            lambda: (lambda d: f"0{d[0]}-{d[1:5]}-{d[5:]}")(digits(9)), "pii.phone_jp"),
        "random 16 digits starting 4 -> pii.payment_card": (lambda: "4" + digits(15), "pii.payment_card"),
    }
    print("exposure: share of random digit strings (no context word) reported")
    for label, (make, det) in cases.items():
        hits = sum(any(f[0] == det for f in scan(f"値 {make()} です")) for _ in range(n))
        print(f"  {label:52s} {hits / n:6.1%}")


def main(argv: Iterable[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Span-level guard quality on the labelled set, PrAI and Presidio.")
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    ap.add_argument("--json-out", type=Path, help="also write the JSON object to this file")
    ap.add_argument("--check", action="store_true", help="exit 1 when a goal of issue 15 misses")
    ap.add_argument("--rounds", type=int, default=5, help="PrAI passes for the CPU median")
    ap.add_argument("--presidio-python", help="python of a venv with presidio-analyzer and ja-ginza")
    ap.add_argument("--no-presidio", action="store_true")
    ap.add_argument("--misses", action="append", default=[], metavar="LABEL",
                    help="list PrAI's misses and false findings")
    ap.add_argument("--exposure", action="store_true", help="also print the exposure to random digits")
    ap.add_argument("--presidio-worker", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args(list(argv) if argv is not None else None)
    if args.presidio_worker:
        return presidio_worker(args.presidio_worker)

    docs = load_docs(args.data)
    systems: dict[str, dict[str, Any]] = {}
    notes: dict[str, str] = {}
    found, cpu, info = run_prai(docs, args.rounds)
    systems["prai"] = {"report": score(docs, found), "cpu_ms_per_kb": cpu, "info": info, "supported": set(LABELS)}
    if args.no_presidio:
        notes["presidio"] = "skipped: --no-presidio"
    else:
        res = run_presidio(docs, args.data, args.presidio_python)
        if isinstance(res, str):
            notes["presidio"] = res
        else:
            p_found, p_cpu, p_info = res
            systems["presidio+ginza"] = {"report": score(docs, p_found), "cpu_ms_per_kb": p_cpu, "info": p_info,
                                         "supported": PRESIDIO_SUPPORTED}
    rep = systems["prai"]["report"]
    goals = goal_results(rep)
    result = as_json(docs, systems, notes)
    if args.json_out:
        args.json_out.write_text(json.dumps(result, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=1))
    else:
        print_table(docs, systems)
        for note in notes.values():
            print(f"presidio: {note}")
        print("\nPrAI against the goals of issue 15:")
        for g, v, t, ok in goals:
            print(f"  {'ok  ' if ok else 'MISS'} {g:48s} {v:6.3f} (goal {'<=' if 'clean' in g else '>='} {t})")
        for label in args.misses:
            print_misses(docs, rep, label)
        if args.exposure:
            exposure()
    return 1 if args.check and not all(ok for *_, ok in goals) else 0


if __name__ == "__main__":
    sys.exit(main())
