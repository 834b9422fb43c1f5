"""Normalisation with offsets that map back to the original text.

Two levels, chosen for speed (see bench/guard_scan.py):

* Numbers and e-mail addresses are matched on the ORIGINAL text with character classes
  that already contain the variant forms (full-width digits ０-９, the dash family
  ー ‐ ‑ ‒ – — ― − －, ideographic and no-break spaces, zero-width characters); only the
  matched candidate is normalised (:func:`digits_of`, :func:`nfkc_span`). Most text has
  no candidate at all, so most text is never copied.
* When the text holds characters that change the words detectors look for — full-width
  Latin letters (ｉｇｎｏｒｅ), half-width katakana (ﾊﾟｽﾜｰﾄﾞ), zero-width or soft-hyphen
  characters, combining marks — :func:`normalize` builds an NFKC copy (zero-width
  characters removed) together with an :class:`OffsetMap`, and every detector runs on
  that copy. Otherwise the text is used as it is (NFKC would not change any detector's
  result) and the map is the identity.

Offsets are Python string indices (Unicode code points), the unit of the FMS detector API.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_right
from itertools import accumulate, compress
from operator import add
from typing import NamedTuple

#: Full-width and ASCII digits.
DIGIT_CLASS = "0-9\uff10-\uff19"
#: Characters that may sit between the digits of one number: spaces (ASCII, no-break,
#: ideographic; not tab: a tab separates cells), the dash family, the long-vowel mark used as a dash (ー, ｰ),
#: zero-width characters, and parentheses around area codes.
SEP_CHARS = (
    " \u00a0\u3000"
    "-\u2010\u2011\u2012\u2013\u2014\u2015\u2212\uff0d\u30fc\uff70\ufe63"
    "\u200b\u200c\u200d\u2060\ufeff\u00ad"
    "()\uff08\uff09"
)
ZERO_WIDTH = "\u200b\u200c\u200d\u2060\ufeff\u00ad"

# Characters whose presence makes a full NFKC copy necessary for word detectors.
_GATE = re.compile(
    "[\uff20\uff0e\uff21-\uff3a\uff41-\uff5a\uff61-\uff9f\u200b-\u200f\u2060\ufeff\u00ad\u0300-\u036f"
    "\u3099\u309a]"
)
_DIGIT_TRANS = {0xFF10 + i: ord("0") + i for i in range(10)}
_COMBINING_FOLLOWERS = "\uff9e\uff9f\u3099\u309a"
_ZW_OR_COMBINING = re.compile(
    "[\u200b-\u200f\u2060\ufeff\u00ad\u0300-\u036f\u3099-\u309c\uff9e\uff9f]"
)


def digits_of(text: str, start: int, end: int) -> tuple[str, list[int]]:
    """The ASCII digits in ``text[start:end]`` and the original index of each.

    Full-width digits become ASCII; every other character (separators) is dropped.

    Returns:
        (digits, positions) with ``len(digits) == len(positions)``.
    """
    out: list[str] = []
    pos: list[int] = []
    for i in range(start, end):
        c = text[i]
        if "0" <= c <= "9":
            out.append(c)
            pos.append(i)
        elif "\uff10" <= c <= "\uff19":
            out.append(chr(ord(c) - 0xFF10 + 48))
            pos.append(i)
    return "".join(out), pos


def ascii_digits(s: str) -> str:
    """Full-width digits → ASCII (length-preserving)."""
    return s.translate(_DIGIT_TRANS)


_DROP_ZERO_WIDTH = {ord(c): None for c in ZERO_WIDTH}


def nfkc_span(s: str) -> str:
    """NFKC of a short span with zero-width characters removed (for validating matches)."""
    return unicodedata.normalize("NFKC", s).translate(_DROP_ZERO_WIDTH)


class _ClusterNFKC(dict[str, str]):
    """``nfkc_span`` of each character cluster, computed once per distinct cluster (one per
    :func:`normalize` call: a text made of one cluster repeated costs one NFKC)."""

    def __missing__(self, raw: str) -> str:
        out = self[raw] = nfkc_span(raw)
        return out


class OffsetMap:
    """Maps indices of a normalised copy back to the original text.

    The copy is made of pieces in order: text left as it was, and runs of changing
    characters. A piece of ``rel=None`` maps character for character; a run whose NFKC
    changes lengths (an expansion or composition, e.g. ``ｶﾞ`` → ``ガ``, ``㍻`` → ``平成``) maps
    through its own segments ``(norm_start, orig_start, orig_end, exact)``, relative to the
    run: an exact one character for character, an inexact one every character in it to the
    whole original range. Lookups are two binary searches, so building the map costs no
    Python work per character cluster (see :func:`normalize`). No pieces = identity.
    """

    __slots__ = ("_count", "_nstarts", "_ostarts", "_rels")

    def __init__(
        self,
        nstarts: list[int] | None = None,
        ostarts: list[int] | None = None,
        rels: list[_Run | None] | None = None,
    ) -> None:
        self._nstarts = nstarts or []
        self._ostarts = ostarts or []
        self._rels = rels or []
        self._count = len(self._rels)

    @property
    def identity(self) -> bool:
        """True when the copy is the original text (indices map to themselves)."""
        return self._count == 0

    @property
    def segments(self) -> tuple[tuple[int, int, int, bool], ...]:
        """Every segment ``(norm_start, orig_start, orig_end, exact)`` in absolute offsets,
        sorted (pieces that left nothing in the copy have none; identity: empty)."""
        out: list[tuple[int, int, int, bool]] = []
        for k in range(self._count):
            ns, os_, rel = self._nstarts[k], self._ostarts[k], self._rels[k]
            if rel is None:
                if self._nstarts[k + 1] > ns:
                    out.append((ns, os_, self._ostarts[k + 1], True))
            else:
                assert rel.segs is not None
                out.extend((ns + n, os_ + a, os_ + b, ex) for n, a, b, ex in rel.segs)
        return tuple(out)

    def _piece(self, i: int) -> tuple[int, int, int, bool]:
        """The segment holding normalised index ``i``, in absolute offsets."""
        k = bisect_right(self._nstarts, i, 0, self._count) - 1
        ns, os_, rel = self._nstarts[k], self._ostarts[k], self._rels[k]
        if rel is None:
            return ns, os_, self._ostarts[k + 1], True
        assert rel.segs is not None
        n, a, b, exact = rel.segs[bisect_right(rel.starts, i - ns) - 1]
        return ns + n, os_ + a, os_ + b, exact

    def start(self, i: int) -> int:
        """Original index of normalised index ``i`` (a span start)."""
        if not self._count:
            return i
        ns, os_, _oe, exact = self._piece(i)
        return os_ + (i - ns) if exact else os_

    def end(self, j: int) -> int:
        """Original exclusive end for a normalised exclusive end ``j`` (``j > 0``)."""
        if not self._count:
            return j
        ns, os_, oe, exact = self._piece(j - 1)
        return os_ + (j - ns) if exact else oe


IDENTITY = OffsetMap()


def needs_full_normalization(text: str) -> bool:
    """True when word detectors must see an NFKC copy (see the module docstring)."""
    return _GATE.search(text) is not None


# Runs of characters NFKC may change, or that combine with the previous character.
_CHANGING_RANGES = (
    (0x00A0, 0x00BF), (0x0300, 0x036F), (0x2000, 0x206F), (0x2100, 0x218F), (0x2460, 0x24FF),
    (0x3000, 0x3000), (0x3099, 0x309C), (0x3200, 0x33FF), (0xF900, 0xFAFF), (0xFE30, 0xFE6F),
    (0xFF00, 0xFFEF),
)
_CHANGING = re.compile("[" + "".join(f"{chr(lo)}-{chr(hi)}" for lo, hi in _CHANGING_RANGES) + "]+")


def _combiners() -> str:
    """The characters that join the cluster before them inside a run of :data:`_CHANGING`
    (its combining marks and the sound marks ﾞ ﾟ ゙ ゚), escaped for a regex class."""
    chars = set(_COMBINING_FOLLOWERS)
    for lo, hi in _CHANGING_RANGES:
        chars.update(chr(c) for c in range(lo, hi + 1) if unicodedata.combining(chr(c)))
    return "".join(re.escape(c) for c in sorted(chars))


_COMBINERS = _combiners()
#: Combining marks taken into one cluster at most: Unicode's Stream-Safe Text Format (UAX
#: #15) bounds a run of non-starters at 30. NFKC reorders a run of marks by insertion sort
#: (``"a" + "\u0301\u0316" * 40_000`` takes seconds, quadratic), so a longer run is
#: normalised 30 marks at a time: linear, and no real text is changed.
MAX_COMBINING = 30
# One character cluster of a run: any character, then the combiners after it (the first
# character of a run may lie outside the ranges; every later one lies inside them).
_CLUSTER = re.compile(f"(?s).[{_COMBINERS}]{{0,{MAX_COMBINING}}}")
# A run as the normaliser takes it: changing characters, with the character before them
# when the first one combines with it (e.g. カ + ゛, ｶ + ﾞ, e + U+0301).
_RUN = re.compile(f"((?s:.(?=[{_COMBINERS}]))?{_CHANGING.pattern})")
_PLAIN_RUN = re.compile(f"({_CHANGING.pattern})")
_ANY_COMBINER = re.compile(f"[{_COMBINERS}]")


class _Run(NamedTuple):
    """A run's NFKC copy (zero-width characters removed) and its segments, relative to the
    run (None: it maps character for character); ``starts``: the segments' normalised
    starts, for the binary search."""

    out: str
    starts: list[int]
    segs: tuple[tuple[int, int, int, bool], ...] | None


class _Runs(dict[str, _Run]):
    """Each distinct run normalised once per :func:`normalize` call."""

    def __init__(self) -> None:
        super().__init__()
        self.clusters = _ClusterNFKC()

    def __missing__(self, run: str) -> _Run:
        self[run] = res = self._normalize(run)
        return res

    def _normalize(self, run: str) -> _Run:
        if not _ZW_OR_COMBINING.search(run):  # no combining marks: NFKC is linear
            out = unicodedata.normalize("NFKC", run)
            if len(out) == len(run):
                # every character maps to exactly one (（→(, ０→0, 　→space): one exact piece
                return _Run(out, [], None)
        # otherwise one segment per character cluster (base + following combiners), built
        # by C-level passes: a run of a million clusters costs no Python loop
        raws = _CLUSTER.findall(run)
        outs = list(map(self.clusters.__getitem__, raws))
        raw_lens = list(map(len, raws))
        out_lens = list(map(len, outs))
        ostarts = list(accumulate(raw_lens, initial=0))
        nstarts = list(accumulate(out_lens, initial=0))
        # exact: one character to one (both lengths are >= 1 where a segment is made)
        exact = map((2).__eq__, map(add, raw_lens, out_lens))
        segs = tuple(compress(zip(nstarts, ostarts, ostarts[1:], exact, strict=False), outs))
        return _Run("".join(outs), [sg[0] for sg in segs], segs)


def normalize(text: str) -> tuple[str, OffsetMap]:
    """NFKC copy of ``text`` without zero-width characters, and its offset map.

    The identity (``text`` itself, :data:`IDENTITY`) when :func:`needs_full_normalization`
    is false. Only runs of changing characters (:data:`_RUN`) are normalised, each
    distinct run once; the text between them is kept as it is. Complexity: one regex
    split and a few C-level passes over its pieces, whatever their number.
    """
    if not needs_full_normalization(text):
        return text, IDENTITY
    # text, run, text, run, …, text (without a combining mark no run takes the character
    # before it, and the plain class is found by a much faster scan)
    pieces = (_RUN if _ANY_COMBINER.search(text) else _PLAIN_RUN).split(text)
    runs = list(map(_Runs().__getitem__, pieces[1::2]))
    rels: list[_Run | None] = [None] * len(pieces)
    rels[1::2] = [r if r.segs is not None else None for r in runs]
    ostarts = list(accumulate(map(len, pieces), initial=0))
    pieces[1::2] = [r.out for r in runs]
    nstarts = list(accumulate(map(len, pieces), initial=0))
    return "".join(pieces), OffsetMap(nstarts, ostarts, rels)


__all__ = [
    "DIGIT_CLASS",
    "IDENTITY",
    "SEP_CHARS",
    "OffsetMap",
    "ascii_digits",
    "digits_of",
    "needs_full_normalization",
    "nfkc_span",
    "normalize",
]
