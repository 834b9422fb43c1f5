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
from dataclasses import dataclass

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


def nfkc_span(s: str) -> str:
    """NFKC of a short span with zero-width characters removed (for validating matches)."""
    s = unicodedata.normalize("NFKC", s)
    return s.translate({ord(c): None for c in ZERO_WIDTH})


@dataclass(frozen=True)
class OffsetMap:
    """Maps indices of a normalised copy back to the original text.

    ``segments`` is a sorted list of ``(norm_start, orig_start, orig_end, exact)``: an exact
    segment maps character for character; an inexact one (an expansion or composition,
    e.g. ``ｶﾞ`` → ``ガ``, ``㍻`` → ``平成``) maps every character in it to the whole
    original range. Empty segments list = identity.
    """

    segments: tuple[tuple[int, int, int, bool], ...] = ()

    def start(self, i: int) -> int:
        """Original index of normalised index ``i`` (a span start)."""
        if not self.segments:
            return i
        k = bisect_right(self._starts, i) - 1
        ns, os_, _oe, exact = self.segments[k]
        return os_ + (i - ns) if exact else os_

    def end(self, j: int) -> int:
        """Original exclusive end for a normalised exclusive end ``j`` (``j > 0``)."""
        if not self.segments:
            return j
        k = bisect_right(self._starts, j - 1) - 1
        ns, os_, oe, exact = self.segments[k]
        return os_ + (j - ns) if exact else oe

    @property
    def _starts(self) -> list[int]:
        cached = self.__dict__.get("_starts_cache")
        if cached is None:
            cached = [s[0] for s in self.segments]
            object.__setattr__(self, "_starts_cache", cached)
        return cached


IDENTITY = OffsetMap()


def needs_full_normalization(text: str) -> bool:
    """True when word detectors must see an NFKC copy (see the module docstring)."""
    return _GATE.search(text) is not None


# Runs of characters NFKC may change, or that combine with the previous character.
_CHANGING = re.compile(
    "[\u00a0-\u00bf\u0300-\u036f\u2000-\u206f\u2100-\u218f\u2460-\u24ff\u3000\u3099-\u309c"
    "\u3200-\u33ff\uf900-\ufaff\ufe30-\ufe6f\uff00-\uffef]+"
)


def normalize(text: str) -> tuple[str, OffsetMap]:
    """NFKC copy of ``text`` without zero-width characters, and its offset map.

    The identity (``text`` itself, :data:`IDENTITY`) when :func:`needs_full_normalization`
    is false. Complexity: one regex pass; Python work only on runs of changing characters.
    """
    if not needs_full_normalization(text):
        return text, IDENTITY
    parts: list[str] = []
    segs: list[tuple[int, int, int, bool]] = []
    n = 0  # length of the normalised output so far
    prev = 0
    for m in _CHANGING.finditer(text):
        a, b = m.span()
        # a run may compose with the character before it (e.g. カ + ゛, ｶ + ﾞ)
        if (a > prev and text[a] in _COMBINING_FOLLOWERS) or unicodedata.combining(text[a]):
            a = max(prev, a - 1)
        if a > prev:
            segs.append((n, prev, a, True))
            parts.append(text[prev:a])
            n += a - prev
        run = text[a:b]
        out = unicodedata.normalize("NFKC", run)
        if len(out) == b - a and not _ZW_OR_COMBINING.search(run):
            # every character maps to exactly one (（→(, ０→0, 　→space): one exact segment
            segs.append((n, a, b, True))
            parts.append(out)
            n += b - a
            prev = b
            continue
        # otherwise one segment per character cluster (base + following combiners)
        i = a
        while i < b:
            j = i + 1
            while j < b and (text[j] in _COMBINING_FOLLOWERS or unicodedata.combining(text[j])):
                j += 1
            raw = text[i:j]
            out = nfkc_span(raw)
            if out:
                exact = len(out) == len(raw) == 1
                segs.append((n, i, j, exact))
                parts.append(out)
                n += len(out)
            i = j
        prev = b
    if prev < len(text):
        segs.append((n, prev, len(text), True))
        parts.append(text[prev:])
    return "".join(parts), OffsetMap(tuple(segs))


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
