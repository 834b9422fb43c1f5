"""Filtering text that arrives in pieces (SSE deltas) without buffering the whole answer.

:class:`TextFilter` keeps a small hold-back buffer. Each :meth:`~TextFilter.feed` scans
the last few characters already sent (context words such as 口座番号) plus the buffer, and
releases everything up to a safe cut:

* at most ``len(buffer) - holdback_chars`` (so a deny word or phrase split across chunks
  is seen whole; the gateway derives the window from the policy), and
* never inside a finding or inside a token still being written — digits with spaces
  between groups (``1234 5678 90…``), any run of visible ASCII or full-width ASCII (an
  e-mail, a key, a password, ``+81-90-…``, ``〒100-…``) — because the next delta may
  extend it. Such a token is held until it ends, up to ``max_hold_chars``.

Added time to first token: the first text is released once the model has written more
than ``holdback_chars`` characters and any token at the window edge has ended (or the
choice ends). With the default window 0 and no deny list, Japanese prose is released
delta by delta; only a number, e-mail or ASCII word being written is held until its end.
Scanning a delta costs tens of microseconds (bench/guard_scan.py). Each scan covers the
context and the buffer again, but the name analyser remembers the names of each sentence
(:func:`prai.guard._names.scan_japanese`), so per delta it analyses only the sentence being
written (about 6 characters per 3-character delta on the bench corpus instead of 25).
"""

from __future__ import annotations

from collections import Counter

from prai.guard._words import _PRIVATE_END
from prai.guard.policy import Direction, Policy, violation
from prai.guard.scanner import Finding, mask

# Characters that can continue a number, e-mail, key or password being written: any
# visible ASCII, full-width ASCII (０-９, Ａ-Ｚ, ＠, －, （ …), the dash family, 〒.
_TOKEN_EXTRA = frozenset("\u2010\u2011\u2012\u2013\u2014\u2015\u2212\u30fc\uff70〒")
# Characters that may sit inside a number between digit groups (1234 5678).
_SPACES = frozenset(" \t\u00a0\u3000\u200b\u200c\u200d\u2060\ufeff")


def _tokenish(c: str) -> bool:
    return (c.isascii() and c.isprintable() and c != " ") or "\uff01" <= c <= "\uff5e" or (
        c in _TOKEN_EXTRA
    )


def _digit_before_spaces(text: str, i: int) -> bool:
    """True when the run of spaces ending before ``text[i]`` follows a digit."""
    j = i
    while j > 0 and text[j - 1] in _SPACES:
        j -= 1
    return j > 0 and text[j - 1].isdigit()


def _joined(text: str, i: int) -> bool:
    """True when a cut before ``text[i]`` would split a token (``i == len(text)``: the
    next character is unknown, so a token at the end is assumed to continue)."""
    a = text[i - 1]
    if i == len(text):
        return _digit_before_spaces(text, i) if a in _SPACES else _tokenish(a)
    b = text[i]
    if b in _SPACES:  # a space may continue a number: 1234 5678
        return a.isdigit()
    if a in _SPACES:
        return b.isdigit() and _digit_before_spaces(text, i)
    return _tokenish(a) and _tokenish(b)


class TextFilter:
    """A policy applied to one stream of text (one choice of an answer).

    Args:
        policy: the compiled policy.
        direction: ``output`` for answers (``input`` works too).
        holdback_chars: characters always held back (see the module docstring).
        max_hold_chars: most characters held while waiting for a token to end.
        context_chars: characters already sent that are re-scanned as context.
    Attributes:
        counts: (detector, action) → findings so far (for the audit record).
        blocked: detector ids that blocked this stream (empty = not blocked).
    """

    def __init__(
        self,
        policy: Policy,
        direction: Direction = "output",
        *,
        holdback_chars: int = 0,
        max_hold_chars: int = 8192,
        context_chars: int = 48,
    ) -> None:
        self.policy = policy
        self.direction: Direction = direction
        self.holdback = holdback_chars
        self.max_hold = max(max_hold_chars, holdback_chars + 64)
        self.context_chars = context_chars
        self.counts: Counter[tuple[str, str]] = Counter()
        self.blocked: list[str] = []
        self._ctx = ""
        self._buf = ""
        self._in_key = False
        self._seen_ends: set[int] = set()

    def filter_text(self, text: str) -> str:
        """A whole text at once (non-stream answers).

        Raises:
            GuardrailViolation: a finding's action is ``block``.
        """
        out = self.policy.apply(text, self.direction)
        self.counts.update(out.counts)
        if out.blocked:
            self.blocked = out.blocked
            raise violation(out.blocked, self.direction, self.policy.name)
        return out.text

    def feed(self, delta: str) -> str:
        """Add a delta; returns the text that may be sent now (possibly ``""``).

        Raises:
            GuardrailViolation: a finding's action is ``block`` (the text before it was
                already sent; nothing of the finding was).
        """
        if self.blocked:
            return ""
        self._buf += delta
        return self._release(final=False)

    def finish(self) -> str:
        """The stream ended: the rest of the held-back text, filtered.

        Raises:
            GuardrailViolation: as :meth:`feed`.
        """
        if self.blocked:
            return ""
        return self._release(final=True)

    def _release(self, *, final: bool) -> str:
        if self._in_key:
            m = _PRIVATE_END.search(self._buf)
            if not m:  # still inside an unterminated private key: send nothing of it
                self._buf = self._buf[-40:]
                return ""
            self._in_key = False
            self._buf = self._buf[m.end() :]
            self._ctx = ""
        text = self._ctx + self._buf
        off = len(self._ctx)
        findings = self.policy.scanner.scan(text)
        if final:
            cut = len(text)
        else:
            cut = max(off, len(text) - self.holdback)
            lo = max(off, len(text) - self.max_hold)
            while cut > lo and _joined(text, cut):
                cut -= 1
            for f in findings:
                if f.start < cut < f.end or (f.start < cut and f.end == len(text)):
                    cut = max(off, min(cut, f.start))
            if cut <= off and len(text) - off > self.max_hold:
                cut = len(text)  # nothing closes: release (masked) rather than hold forever
        if cut <= off:
            return ""
        released: list[Finding] = []
        for f in findings:
            if f.end <= off or f.start >= cut:
                continue
            s = max(f.start, off)
            released.append(Finding(f.detector, s - off, min(f.end, cut) - off, "", f.score))
            if f.detector == "secret.private_key" and f.end == len(text) and not final:
                self._in_key = True
        out_text = self._apply(text[off:cut], released)
        self._ctx = text[max(0, cut - self.context_chars) : cut] if not self._in_key else ""
        self._buf = text[cut:] if not self._in_key else ""
        return out_text

    def _apply(self, piece: str, findings: list[Finding]) -> str:
        to_mask = []
        for f in findings:
            act = self.policy.action(f.detector, self.direction)
            if act == "allow":
                continue
            self.counts[(f.detector, act)] += 1
            if act == "mask":
                to_mask.append(f)
            elif act == "block" and f.detector not in self.blocked:
                self.blocked.append(f.detector)
        if self.blocked:
            raise violation(self.blocked, self.direction, self.policy.name)
        return mask(piece, to_mask) if to_mask else piece


__all__ = ["TextFilter"]
