"""Number-shaped PII: My Number, Corporate Number, phone, postal code, card, bank account,
driver's licence, passport, IP addresses.

Candidates are found on the (possibly normalised) text by one regex per family whose
first character class lets the regex engine skip non-candidate text quickly; each
candidate is split into digit groups at separators and validated (check digits, issuer
ranges, libphonenumber, context words). Offsets are indices into the scanned text.
"""

from __future__ import annotations

import ipaddress
import re
from bisect import bisect_left
from collections.abc import Iterator, Mapping
from itertools import accumulate, chain, compress, repeat
from operator import add, and_, not_, or_, rshift, sub

from prai.guard._checks import (
    card_issuer,
    corporate_number_valid,
    ean13_valid,
    jp_phone_valid,
    my_number_valid,
)
from prai.guard._deadline import UNLIMITED, Deadline
from prai.guard._fields import CellIndex
from prai.guard._normalize import DIGIT_CLASS, SEP_CHARS, ascii_digits

_SEP = "".join(re.escape(c) for c in SEP_CHARS)
# A digit run with separators; the lookahead rejects runs shorter than five characters
# inside the regex engine (most numbers in prose: years, percentages) without a Python call.
# (Possessive: a group or separator is never given back, which changes no match.)
_RUN = re.compile(
    f"[{DIGIT_CLASS}](?=[{DIGIT_CLASS}{_SEP}]{{4}})[{DIGIT_CLASS}]*+"
    f"(?:[{_SEP}]{{1,3}}+[{DIGIT_CLASS}]++)*+"
)
_SPACE = re.compile(r"\s")
_SEP_SPLIT = re.compile(f"([{_SEP}]+)")  # groups and the separators between them
_SEP_SET = frozenset(SEP_CHARS)
_ANY_SEP = re.compile(f"[{_SEP}]")
_DIGITS3 = re.compile(f"[{DIGIT_CLASS}]{{3}}")
# Inside a run of digit groups (separators: 1-3 characters): a window is a group, up to
# three more, and the separator after the last when another group follows.
# (Possessive: groups and separators are maximal, so nothing is ever given back.)
_WIN = (f"[{DIGIT_CLASS}]++(?:[{_SEP}]{{1,3}}+[{DIGIT_CLASS}]++){{0,3}}+"
        f"(?:[{_SEP}]{{1,3}}+(?=[{DIGIT_CLASS}]))?+")
_WINDOW = re.compile(_WIN)
# A separator holding whitespace (from the whitespace on, at most three characters: all
# separator characters, so it never reaches past the run) and the window after it.
_WS = "".join(re.escape(c) for c in SEP_CHARS if re.match(r"\s", c))
_NEAR_START = re.compile(f"[{_WS}][{_SEP}]{{0,2}}+(?=({_WIN}))")
# ... whose first group is shaped like the start of a number found without a context word
# (see _context_free_starts: 0…, one digit, four digits, ten or more)
_FREE_START = (f"(?:[0０][{DIGIT_CLASS}]*+|[{DIGIT_CLASS}]{{10,}}+|[{DIGIT_CLASS}]{{4}}"
               f"|[{DIGIT_CLASS}])(?![{DIGIT_CLASS}])")
_DEEP_START = re.compile(f"[{_WS}][{_SEP}]{{0,2}}+(?=(?={_FREE_START})({_WIN}))")
_IPV4_TAIL = re.compile(r"\.([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})(?![0-9]|\.[0-9])")
_IPV6_ANCHOR = re.compile(r":[0-9A-Fa-f]{0,4}:")
_HEXCOLON = frozenset("0123456789abcdefABCDEF:.")
_PASSPORT = re.compile(r"(?<![A-Za-z0-9])([A-Za-z]{2})[ ]?([0-9]{7})(?![0-9])")

# Context words, searched in a lower-cased window before the candidate (one regex each).
def _words(*words: str) -> re.Pattern[str]:
    return re.compile("|".join(re.escape(w) for w in words))


_CTX_MY_NUMBER = _words("個人番号", "マイナンバー", "my number", "mynumber", "my_number")
_CTX_CORP = _words("法人番号", "corporate number", "登録番号", "法人")
_CTX_PHONE = _words("電話", "tel", "phone", "携帯", "fax", "連絡先", "call", "ファックス", "でんわ",
                    "mobile", "msisdn", "sms")
# log keys that hold a phone number besides the words above (sms to=090…)
_KEY_PHONE = re.compile(r"^(?:to|from|recipient|sender|caller|callee|number)$")
_CTX_LICENSE = _words("免許", "license", "licence", "運転")
# An account number follows its label directly (口座番号：1234567, 普通 1234567, 記号番号
# 12340-12345671, savings 1234567): a bank word further away (口座振替日 20230224, 普通預金 in a
# journal row, 返金先口座のご連絡（注文番号 #215671）) says nothing about the number.
_BANK_LABEL = re.compile(
    r"(?:口座番号|口座|普通預金|当座預金|貯蓄預金|普通|当座|貯蓄|記号番号|記号・番号|番号"
    r"|savings|checking|ordinary|account (?:no\.?|number|#)|acct\.? ?(?:no\.?|#)?|a/c(?: no\.?)?"
    r"|bank account)(?:[（(][^）)\n]{0,8}[）)])?[ \u3000]*(?:[:：#＃]|no\.?)?[ \u3000]*$"
)
# "番号" alone is a bank label only right after a bank word (口座 番号, 普通 番号).
_BANK_WORD = re.compile("口座|預金|普通|当座|貯蓄|記号")
_BANK_HEADER = re.compile(r"口座番号|^口座$|account ?(?:no|number|#)|^acct|a/c|記号番号")
_BANK_HEADER_NOT = re.compile("名義|種別|種目|コード|code|店|name|type")
_BANK_KEY = re.compile(r"acc(?:oun)?t_?(?:no|num|number)|bank_?account|口座番号")
_CTX_POSTAL = _words("〒", "郵便番号", "郵便", "住所", "postal", "zip", "post code", "postcode")
_HEADER_POSTAL = re.compile("郵便|〒|postal|zip|post ?code")
# Order, invoice and product numbers: a number after these is not personal data.
_CTX_NEGATIVE = re.compile(
    "注文|受注|発注|伝票|請求|インボイス|管理番号|品番|型番|商品|製品|シリアル|追跡|問い合わせ番号"
    "|問合せ番号|受付番号|会員番号|予約番号|整理番号|契約番号|顧客番号|社員番号|部品|ロット|コード"
    "|番号札"
    r"|\b(?:order|invoice|sku|serial|tracking|ref|part|model|item|ticket|lot|ver(?:sion)?|id"
    r"|code|jan|isbn|po|product|batch)\b"
)
_CURRENCY_BEFORE = "¥￥$€£"
_CURRENCY_AFTER = ("円", "yen", "ドル", "万", "億")
_LETTER_CONTEXT_OK = ("tel", "fax", "phone", "mobile", "no", "num")

Hit = tuple[str, int, int, float]  # (detector id, start, end, score)


def _has(window: str, words: re.Pattern[str]) -> bool:
    return words.search(window) is not None


_WORD_CHARS = frozenset(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_"
    + "".join(chr(c) for c in range(0xFF21, 0xFF5B))
)


def _is_word(c: str) -> bool:
    return c in _WORD_CHARS


def _left_ok(t: str, s: int) -> bool:
    """The character(s) before ``s`` do not make the number part of a longer code."""
    if s == 0:
        return True
    c = t[s - 1]
    # a comma is a cell boundary (CSV): numbers of five digits and more never continue a
    # thousands-separated number, whose groups have three
    if c in "-_/.#" and s >= 2 and _is_word(t[s - 2]):
        return False
    if _is_word(c):
        i = s - 1
        while i > 0 and t[i - 1].isascii() and t[i - 1].isalpha():
            i -= 1
        return t[i:s].lower() in _LETTER_CONTEXT_OK
    return c not in _CURRENCY_BEFORE


def _right_ok(t: str, low: str, e: int) -> bool:
    if e >= len(t):
        return True
    c = t[e]
    if _is_word(c):
        return False
    if c in "-_/.#" and e + 1 < len(t) and _is_word(t[e + 1]):
        return False
    tail = low[e : e + 4].lstrip()
    return not tail.startswith(_CURRENCY_AFTER)


_SEP_STRIP = SEP_CHARS


def _unclosed_paren(run: str) -> int:
    """Index of an opening bracket in ``run`` that is not closed in it (-1 when none)."""
    if "(" not in run and "（" not in run:
        return -1
    depth_at = -1
    for i, c in enumerate(run):
        if c in "(（":
            if depth_at >= 0:
                return depth_at
            depth_at = i
        elif c in ")）":
            depth_at = -1
    return depth_at


def scan_numbers(
    t: str,
    low: str | None = None,
    low_ctx: int = 24,
    *,
    deadline: Deadline = UNLIMITED,
    cells: CellIndex | None = None,
) -> Iterator[Hit]:
    """Number-shaped PII in ``t``.

    Args:
        t: the text to scan (already normalised where needed).
        low: ``t`` lower-cased with the same length (computed when None).
        low_ctx: characters before a candidate searched for context words.
        deadline: stops the scan (GuardTimeExceeded) when its time is up.
        cells: the table cells of ``t`` (:func:`prai.guard._fields.table_cells`): a number
            in a cell takes its column header as context instead of the text before it.
    Yields:
        (detector id, start, end, score), start/end indices into ``t``.
    """
    if low is None:
        low = t.lower()
    if len(low) != len(t):  # a few characters (İ) lower-case to two: keep offsets
        low = "".join(c if len(c.lower()) != 1 else c.lower() for c in t)
    judge = _Judge(t, low, low_ctx, cells)
    short_run = low_ctx + 1  # no group of a run this long starts deep inside it
    tabled: bool | None = None  # the text holds a table (asked once, when first needed)
    for m in _RUN.finditer(t):
        a, b = m.span()
        if b - a < 5:
            continue
        deadline.check()
        run = m.group()
        if tabled is None:
            tabled = bool(cells)
            if not tabled:  # no table: no cell to look up for any number
                cells = judge.cells = None
        if b - a > short_run or tabled:
            yield from _run_numbers(judge, run, a, deadline)
            continue
        # a short run's numbers depend on the run and its surroundings alone: a text that
        # repeats one line of numbers judges each distinct line once
        if run not in judge.runs_seen:
            if len(judge.runs_seen) < MEMO_SIZE:
                judge.runs_seen.add(run)
            if b - a < 14 and run.isascii() and _few_digits_none(judge, run, a):
                continue  # (a run seen before: the memo below is cheaper)
            yield from _run_numbers(judge, run, a, deadline)
            continue
        lo = a - judge.behind if a > judge.behind else 0
        w = t[lo : b + _AHEAD]
        if "Σ" in w:  # (lower-cased by what follows it: see _Judge)
            yield from _run_numbers(judge, run, a, deadline)
            continue
        key = (a - lo, w)  # (the run ends where _RUN's match from a ends: inside w)
        got = judge.runs.get(key)
        if got is None:
            found = _run_numbers(judge, run, a, deadline)
            if len(judge.runs) < MEMO_SIZE:
                judge.runs[key] = [(h[0], h[1] - a, h[2] - a, h[3]) for h in found]
            yield from found
        else:
            for det, x, y, score in got:
                yield (det, a + x, a + y, score)
    yield from scan_kanji_phones(t, low, low_ctx)
    yield from scan_dotted_phones(t, low, low_ctx, cells)
    yield from scan_invoice(t)


_DIGIT_CHARS = "0123456789"


def _few_digits_none(judge: _Judge, run: str, a: int) -> bool:
    """True when a short ASCII run at ``a`` outside tables holds at most nine digits and
    :func:`_run_numbers` certainly finds nothing in it. Five and nine digits make no
    number; six to eight are a bank account only after a label, log key or ``+`` right
    before them (which a stretch that starts inside the run cannot have: digits lie
    between); seven also a postal code, but only as 7 or 3-4 (the run is then read)."""
    total = len(run) - run.count(" ") - run.count("-")  # (ASCII separators: space, -)
    if total > 9:
        return False
    if total >= 7:  # a stretch of seven digits: all, or all but one or two digits taken
        # from the ends in whole groups (so the first or the last group is that short)
        head = len(run) - len(run.lstrip(_DIGIT_CHARS))
        tail = len(run) - len(run.rstrip(_DIGIT_CHARS))
        ends_short = total == 7 or min(head, tail) <= total - 7
        # ... then shaped like a postal code?
        lens = list(map(len, _SEP_SPLIT.split(run)[0::2])) if ends_short else []
        for i in range(len(lens)):
            k = 0
            for j in range(i, len(lens)):
                k += lens[j]
                if k >= 7:
                    if k == 7 and j == i + 1 and lens[i] == 3:
                        return False
                    if k == 7 and j == i and (i > 0 or _postal_word_before(judge, a)):
                        return False  # (7 digits alone: after 〒 or a postal word)
                    break
    if a == 0:
        return True
    return _no_label_before(judge, a)


def _postal_word_before(judge: _Judge, a: int) -> bool:
    """〒 or a postal word before ``a`` where :func:`_classify` looks for them."""
    return "〒" in judge.t[max(0, a - 3) : a] or _CTX_POSTAL.search(
        judge.low, max(0, a - judge.low_ctx), a) is not None


def _no_label_before(judge: _Judge, a: int) -> bool:
    """No ``+``, log key or bank label right before ``a`` (see :func:`_classify`)."""
    return judge.t[a - 1] not in "+＋\":=" and not _bank_label(judge.low, a)


#: A run longer than this is no single number (four groups of up to 19 digits with three
#: separators of up to three characters) nor a number spelled digit by digit (11 groups).
_LONG_RUN = 11 + 10 * 3


def _run_numbers(judge: _Judge, run: str, a: int, deadline: Deadline) -> list[Hit]:
    """The numbers in one run of digit groups and separators ``run`` at ``a`` (a list: most
    runs hold one number or none, and a generator per run would cost more)."""
    t = judge.t
    cut = _unclosed_paren(run)
    if cut >= 0:  # 06-1234-5678（18時以降）: the bracket opens a remark, not a number
        run = run[:cut].rstrip(_SEP_STRIP)
    b = a + len(run)
    if b - a < 5:
        return []
    if len(run) > _LONG_RUN and not (a > 0 and t[a - 1] in "+＋"):
        # longer than one number, than a number spelled digit by digit: two groups and
        # more, one of three digits and more, make numbers (cheap tests, no list built)
        if _ANY_SEP.search(run) and _DIGITS3.search(run):
            return list(_numbers_in_run(judge, a, b, deadline))
        return []
    pieces = _SEP_SPLIT.split(run)  # group, separators, group, …
    digits = pieces[0::2]  # the digit groups
    n = len(digits)
    if not run.isascii():
        digits = list(map(ascii_digits, digits))
    lined_up = True  # the digit groups are the text's
    if n == 5 and digits[0] == "81" and digits[1] == "0" and a > 0 and t[a - 1] in "+＋":
        digits, n = [digits[0], *digits[2:]], 4  # +81 (0)3 …: drop the bracketed trunk 0
        lined_up = False
    lens = list(map(len, digits))
    total = sum(lens)
    if n <= 4 and 5 <= total <= 19:  # the common case: the whole run is one number
        hit = _classify(t, judge.low, "".join(digits), a, b, lens, judge.low_ctx, judge.cells)
        if hit:
            return [hit]
    if n == 1:
        return []
    longest = max(lens)
    if longest == 1:  # "0 9 0 1 2 3 4 5 6 7 8": spelled out digit by digit
        if 10 <= n <= 11:
            hit = _spelled_phone(t, judge.low, "".join(digits), a, b, judge.low_ctx)
            if hit:
                return [hit]
        return []
    if longest <= 2:  # at most two short groups per number: < 5 digits
        return []
    # Below, every candidate but the whole run: judged above when it is one (four groups
    # at most, 5-19 digits), as _numbers_in_groups would take it.
    if lined_up and (
        _SPACE.search(run) is None
        or max(total - lens[0], total - lens[-1]) < 5
        or (
            (judge.cells is None or not judge.cells.starts_within(a, b))  # (in no cell)
            and not _inner_may_hold(judge, a, pieces, digits, lens)
        )
    ):  # a number inside the run is set off by whitespace, and has five digits or more:
        return []  # without either, the whole run was the one candidate (judged above)
    # a run this short: lists of its few groups (also for +81 (0)…, the trunk 0 dropped)
    return list(_numbers_in_groups(judge, a, pieces, digits, lens, deadline))


def _inner_may_hold(
    judge: _Judge, a: int, pieces: list[str], digits: list[str], lens: list[int]
) -> bool:
    """Whether :func:`_numbers_in_groups` may find a number in a short run at ``a`` (outside
    tables) other than the whole run: False when every shorter stretch of its groups is
    ruled out by what :func:`_classify` reads first. Six to eight digits are a bank
    account only after a label, log key or ``+`` right before them, which a stretch that
    starts inside the run cannot have; seven a postal code only as 7 or 3-4 after a postal
    word or 〒, or as 3-4 at an end of the run (an address or a romaji prefecture beside
    it: inside the run only digits and separators are, with which no municipality
    starts); ten or eleven a phone only from a 0 (or after ``+``) grouped as a phone,
    valid or after a phone word; twelve a My Number only with its check digit, a
    driver's licence after its word, or a phone after ``+``; thirteen to nineteen a card only with an issuer and
    a Luhn check (thirteen: or a Corporate Number's check digit, a 5-8 bank account).
    The words are looked for once, in the run and the ``low_ctx`` characters before it
    (more than any stretch's context reads)."""
    t, low = judge.t, judge.low
    n = len(digits)
    cum = list(accumulate(lens, initial=0))
    plus = a > 0 and t[a - 1] in "+＋"
    reach = (max(0, a - judge.low_ctx - 1), a + cum[-1] + len(pieces) // 2 * 3 + 1)
    label: bool | None = None  # a bank label, log key or + before the run (asked once)
    words: dict[re.Pattern[str], bool] = {}  # context words in reach (each asked once)

    def near(pattern: re.Pattern[str]) -> bool:
        got = words.get(pattern)
        if got is None:
            got = words[pattern] = pattern.search(low, *reach) is not None
        return got

    for i in range(n):
        for j in range(i, n - 1 if i == 0 else n):
            k = cum[j + 1] - cum[i]
            if k < 6 or k == 9 or k > 19:
                continue
            if k <= 8 or (k == 13 and j == i + 1 and lens[i] == 5):
                if i == 0:
                    if label is None:
                        label = plus or _log_key(t, a) is not None or _bank_near(low, a, None)
                    if label:
                        return True
                if k == 7 and (j == i or (j == i + 1 and lens[i] == 3)) and (
                    # 3-4 at an end of the run: an address or romaji prefecture beside it
                    (j == i + 1 and (i == 0 or j == n - 1))
                    or "〒" in t[max(0, reach[0] - 2) : reach[1]]
                    or near(_CTX_POSTAL)  # (else only after 〒 or a postal word)
                ):
                    return True
                if k <= 8:
                    continue
            d = "".join(digits[i : j + 1])
            if k == 10 or k == 11:
                if (i == 0 and plus) or (
                    d[0] == "0"
                    and _phone_grouping_ok(lens[i : j + 1], d)
                    and (jp_phone_valid(d, False) or near(_CTX_PHONE))
                ):
                    return True
            elif k == 12:  # (after +: +81 and ten digits, a phone)
                if (i == 0 and plus) or my_number_valid(d) or near(_CTX_LICENSE):
                    return True
            elif card_issuer(d) or (k == 13 and corporate_number_valid(d)):
                return True
    return False


#: Judgements remembered per scan by each memo of :class:`_Judge` (0: none; the findings
#: are the same either way, only the time differs) ...
MEMO_SIZE = 4096
#: ... and by its ``verdicts``, which is part of what the detector finds (see there).
VERDICTS_SIZE = 4096
#: Characters around a candidate that :func:`_classify` may read: before its start (a
#: bracket or + before it, a log key of up to 48 characters, a bank label of 40 and the
#: bank word before that) and after its end (currency words; a prefecture, or a
#: municipality of up to _CITY_REACH characters, after a postal code, past up to three
#: cell separators).
_BEHIND = 64
_AHEAD = 32
_UNSEEN_START = (0, "", 0.0)  # a miss in judge.starts (no stored value is this object)


class _Judge:
    """:func:`_classify` for one scan, and what it remembers where answers cannot differ.

    What a candidate is depends on its digits, their grouping and the characters within
    ``behind`` (``_BEHIND``, or more for a longer ``low_ctx``) before and ``_AHEAD`` after
    it, read in ``t`` and in ``low`` — and ``low`` there is a function of ``t`` there,
    except where a capital sigma is lower-cased by what follows it (such runs are not
    remembered). So:

    * ``runs``: the same short run (one that no group starts deep inside) in the same
      surroundings yields the same numbers (see :func:`scan_numbers`); a key is built only
      for a run seen once already in this scan (``runs_seen``), so text where nothing
      repeats pays a set lookup;
    * ``verdicts`` (the detector's long-standing rule): deep inside a run of numbers, where
      no context word is in reach, a candidate's verdict depends on its digits alone;
    * ``starts``: deep inside a run, the first number from a group depends on the next four
      groups and the separators after them alone (see :func:`_numbers_in_run`).

    Each memo holds at most :data:`MEMO_SIZE` entries (``verdicts``:
    :data:`VERDICTS_SIZE`); past that, candidates are judged afresh.
    """

    __slots__ = ("behind", "cells", "low", "low_ctx", "runs", "runs_seen", "starts", "t",
                 "verdicts")

    def __init__(self, t: str, low: str, low_ctx: int, cells: CellIndex | None) -> None:
        self.t = t
        self.low = low
        self.low_ctx = low_ctx
        self.behind = max(_BEHIND, low_ctx + 2)  # context words: low_ctx before a bracket
        self.cells = cells
        self.runs_seen: set[str] = set()
        self.runs: dict[tuple[int, str], list[Hit]] = {}
        self.verdicts: dict[tuple[str, tuple[int, ...]], tuple[str, float] | None] = {}
        self.starts: dict[str, tuple[int, str, float] | None] = {}

    def classify(self, d: str, s: int, e: int, lens: list[int]) -> Hit | None:
        """``_classify`` of the candidate ``t[s:e]`` (digits ``d``, groups ``lens``)."""
        return _classify(self.t, self.low, d, s, e, lens, self.low_ctx, self.cells)


def _numbers_in_run(judge: _Judge, a: int, b: int, deadline: Deadline) -> Iterator[Hit]:
    """The numbers inside a run ``t[a:b]`` of digit groups that is not one number (a table
    row, a list of phone numbers): each is at most four groups set off by whitespace.

    Linear, and cheap per group: no list is built over the run. A number may start at the
    run's first group or at a group after a separator holding whitespace; deep inside the
    run (past ``low_ctx`` characters: no context word in reach) only at such a group shaped
    like a number found without context (:data:`_FREE_START`). The regex engine finds these
    starts, each with its window: the group, the next three, and the separator after each
    (:data:`_NEAR_START`, :data:`_DEEP_START`). Deep inside, the first number from a start
    depends on its window alone, so a window judged once is looked up (``judge.starts``).
    """
    t = judge.t
    deep_from = a + judge.low_ctx  # a group starting past this has no context word in reach
    first = _WINDOW.match(t, a, b)  # the first group starts a number whatever precedes it
    assert first is not None  # (a run starts with a digit)
    near = ((m.end(), m.group(1)) for m in _NEAR_START.finditer(t, a, b))
    nxt = a  # the end of the last number found: starts before it are inside it
    for s, w in chain(((a, first.group()),), near):
        if s > deep_from:
            break
        if s < nxt:
            continue
        deadline.check()
        e, hit, _ = _number_at(judge, w, s, deep=False)
        if hit:
            yield hit
            nxt = e
    memo = judge.starts
    starts = misses = 0
    # (from up to three characters earlier: the separator before the first deep group)
    for m in _DEEP_START.finditer(t, max(a, nxt - 3, deep_from - 2), b):
        s = m.end()
        if s < nxt or s <= deep_from:
            continue
        w = m.group(1)
        starts += 1
        if w[-1] in _SEP_SET:  # a group follows the window: its numbers end inside the run
            got = memo.get(w, _UNSEEN_START)
            if got is None:
                continue
            if got is not _UNSEEN_START:
                nxt = s + got[0]
                yield (got[1], s, nxt, got[2])
                continue
            misses += 1
            if misses > 64 and misses * 4 > starts:
                # numbers that do not repeat (a list of different ones): judging them from
                # lists built once over the rest of the run is cheaper than window by window
                yield from _deep_numbers(judge, s, b, deadline)
                return
            deadline.check()
            e, hit, pure = _number_at(judge, w, s, deep=True)
            if pure and len(memo) < MEMO_SIZE:
                memo[w] = (e - s, hit[0], hit[3]) if hit else None
        else:
            deadline.check()
            e, hit, _ = _number_at(judge, w, s, deep=True)
        if hit:
            yield hit
            nxt = e


class _Spaced(dict[str, bool]):
    """Whether a separator (1-3 separator characters: a bounded set) holds whitespace,
    remembered: a dict lookup per separator instead of a regex search."""

    def __missing__(self, sep: str) -> bool:
        got = self[sep] = _SPACE.search(sep) is not None
        return got


_SPACED = _Spaced()


def _deep_numbers(judge: _Judge, p: int, b: int, deadline: Deadline) -> Iterator[Hit]:
    """The numbers deep inside a run from the group at ``p`` (a start: after a separator
    holding whitespace, shaped like a number without context) to the run's end ``b``, as
    :func:`_numbers_in_run` finds them, by lists built once over ``t[p:b]``."""
    region = judge.t[p:b]
    pieces = _SEP_SPLIT.split(region)
    digits = pieces[0::2]
    if not region.isascii():
        digits = list(map(ascii_digits, digits))
    lens = list(map(len, digits))
    n = len(digits)
    offsets = list(accumulate(map(len, pieces), initial=p))
    starts, ends = offsets[0::2], offsets[1::2]
    spaced = list(map(_SPACED.__getitem__, pieces[1::2]))
    short = list(map((3).__gt__, lens))
    # the groups a number may start at: the first, and those after whitespace shaped like
    # a number found without context (C-level passes; the loop visits only these)
    free = _context_free_starts(digits[1:], lens[1:])
    fast = judge.cells is None and judge.low_ctx >= 3  # see _deep_number_from
    cum = list(accumulate(lens, initial=0)) if fast else []
    if fast and n > 8 and lens.count(4) * 10 >= n * 9:  # mostly groups of four digits:
        # not those where four such groups make no number (see there)
        free = map(and_, free, map(not_, _no_number_in_quads(digits, lens)[1:]))
    heads = chain((0,), compress(range(1, n), map(and_, spaced, free)))
    nxt = 0  # the first group after the last number found
    for i in heads:
        if i < nxt:
            continue
        deadline.check()
        if fast:
            j, hit = _deep_number_from(judge, i, starts, ends, spaced, short, digits, lens,
                                       cum)
        else:
            j, hit, _ = _number_from(judge, i, starts, ends, spaced, short, digits, lens,
                                     deep=True)
        if hit:
            yield hit
            nxt = j + 1


def _no_number_in_quads(digits: list[str], lens: list[int]) -> list[bool]:
    """For each group of a deep region outside tables, True where :func:`_deep_number_from`
    certainly finds no number from it: the group and the next three have four digits each
    (and a fifth group follows), the twelve digits of the first three fail the My Number
    check and the sixteen of all four the Luhn check. From such a group the candidates are
    4-4-4-4 (a card: Luhn), 4-4-4 (a My Number: its check digit), 4-4 and 4 (no number
    deep inside a run). Computed for all groups at once by C-level passes over per-group
    tables (:func:`_quad_tables`), so lists of random numbers cost no Python step for most
    groups."""
    n = len(digits)
    m = n - 4  # groups 0 … n - 5: their four groups end before the region's last
    luhn, mn_a, mn_b, mn_check, luhn_maybe = _quad_tables()
    # the Luhn shares of four groups summed (a group of another length counts 1,000: the
    # sum then says "not four groups of four", see luhn_maybe)
    cum = list(accumulate(map(luhn.get, digits, repeat(1000)), initial=0))
    maybe_card = map(luhn_maybe.__getitem__, map(sub, cum[4 : m + 4], cum[:m]))
    # the third group's check digit against the first two groups' weighted sum (mod 11)
    my_ok = map(and_, map(rshift, map(mn_check.get, digits[2 : m + 2], repeat(0)),
                          map(add, map(mn_a.get, digits[:m], repeat(0)),
                              map(mn_b.get, digits[1 : m + 1], repeat(0)))), repeat(1))
    out = list(map(not_, map(or_, maybe_card, my_ok)))
    return out + [False] * (n - len(out))


_Tables = tuple[dict[str, int], dict[str, int], dict[str, int], dict[str, int], list[int]]
_QUAD_TABLES: _Tables | None = None


def _quad_tables() -> _Tables:
    """Per four-digit group: its share of a 16-digit Luhn sum (digits 1 and 3 doubled: the
    same in every group of 4-4-4-4); its share of a My Number's weighted sum (mod 11) as
    the first and as the second group (weights Q_11 … Q_8 and Q_7 … Q_4, see
    :func:`prai.guard._checks.my_number_valid`); as the third group, a bit for each sum
    of the first two shares (0 … 20) with which its last digit is the check digit. And by
    the sum of four Luhn shares, 1 where it may be a card (a multiple of 10) or is no sum
    of four 4-digit groups (1,000 and more). Built once (10,000 entries each; plain
    strings and ints, which the garbage collector does not track)."""
    global _QUAD_TABLES
    if _QUAD_TABLES is None:
        luhn, mn_a, mn_b, mn_check = {}, {}, {}, {}
        dbl = (0, 2, 4, 6, 8, 1, 3, 5, 7, 9)
        for k in range(10_000):
            g = f"{k:04d}"
            d0, d1, d2, d3 = (ord(c) - 48 for c in g)
            luhn[g] = dbl[d0] + d1 + dbl[d2] + d3
            mn_a[g] = (6 * d0 + 5 * d1 + 4 * d2 + 3 * d3) % 11
            mn_b[g] = (2 * d0 + 7 * d1 + 6 * d2 + 5 * d3) % 11
            part = 4 * d0 + 3 * d1 + 2 * d2
            mask = 0
            for r in range(21):
                left = (r + part) % 11
                if (0 if left <= 1 else 11 - left) == d3:
                    mask |= 1 << r
            mn_check[g] = mask
        luhn_maybe = [int(v % 10 == 0 or v >= 1000) for v in range(4001)]
        _QUAD_TABLES = (luhn, mn_a, mn_b, mn_check, luhn_maybe)
    return _QUAD_TABLES


def _deep_number_from(
    judge: _Judge,
    i: int,
    starts: list[int],
    ends: list[int],
    spaced: list[bool],
    short: list[bool],
    digits: list[str],
    lens: list[int],
    cum: list[int],
) -> tuple[int, Hit | None]:
    """:func:`_number_from` (``deep=True``) outside any table: the same candidates in the
    same order, each judged by :func:`_deep_classify` (what the digits alone rule out is
    skipped here without a call; ``cum``: the digits before each group). Deep inside a run
    a verdict depends on the digits alone (see :func:`_deep_classify`), so
    ``judge.verdicts``, which remembers them for :func:`_number_from`, is neither read
    nor filled: the answers are the same."""
    last = len(digits) - 1
    first = digits[i][0]
    for j in range(min(last, i + 3), i - 1, -1):
        if j < last and not spaced[j]:
            continue
        if j - i >= 2 and sum(short[i : j + 1]) > 2:
            continue  # "12 34 56 78": a table of small numbers, not one number
        k = cum[j + 1] - cum[i]
        if k > 19:
            continue
        if k < 5:
            break
        if j == last:  # the run's last group: what follows the run is read too
            hit = judge.classify("".join(digits[i : j + 1]), starts[i], ends[j],
                                 lens[i : j + 1])
        else:
            if k < 10:  # only 3-4 (a postal code before an address) may be found
                if k != 7 or j != i + 1 or lens[i] != 3:
                    continue
            elif k < 12:  # a phone starts with 0
                if first != "0":
                    continue
            elif k == 12:  # a My Number as on the card: 12 or 4-4-4
                if lens[i] != 12 and not (j == i + 2 and lens[i] == 4 == lens[i + 1]):
                    continue
            elif k > 13 and first not in "23456":  # no card network starts otherwise
                continue
            hit = _deep_classify(judge.t, judge.low, "".join(digits[i : j + 1]), starts[i],
                                 ends[j], lens[i : j + 1], judge.low_ctx)
        if hit:
            return j, hit
    return i, None


def _deep_classify(
    t: str, low: str, d: str, s: int, e: int, lens: list[int], low_ctx: int
) -> Hit | None:
    """:func:`_classify` of a candidate deep inside a run of digit groups, outside any
    table, not at its end: the separators before ``s`` and after ``e`` hold whitespace and
    the ``low_ctx`` (>= 3) characters before ``s`` lie inside the run (digits and
    separators). There no context word, bank label, log key, ``+``, bracket or 〒 can be
    in reach, and :func:`_left_ok` and :func:`_right_ok` hold, so only the digits and
    their grouping decide; the branch of :func:`_classify` that reads more is taken by
    calling it (7 digits as 3-4: a postal code before an address)."""
    n = len(d)
    if n in (5, 9):
        return None
    issuer = None
    if n >= 13:
        issuer = card_issuer(d)
        if n >= 14 and not issuer:
            return None
        if n == 13 and lens != [5, 8] and not issuer and not corporate_number_valid(d):
            return None
    elif n <= 8:  # only a postal code (3-4) may be found here without a label
        if n == 7 and lens == [3, 4]:
            return _classify(t, low, d, s, e, lens, low_ctx)
        return None
    elif n != 12 and d[0] != "0":  # 10-11 digits: a phone, 0…
        return None
    # (_left_ok and _right_ok hold: a separator holding whitespace lies on each side, so
    # neither a word character, a "-" joined to one nor a currency sign touches the digits)
    if n >= 13:
        if issuer and not (n == 13 and ean13_valid(d)):
            return ("pii.payment_card", s, e, 0.99)
        if (
            n == 13
            and corporate_number_valid(d)
            and lens in ([13], [1, 4, 4, 4], [1, 12])
            and not (ean13_valid(d) and d.startswith(("978", "979", "45", "49")))
        ):
            return ("pii.corporate_number", s, e, 0.9)
        return None
    if n == 12:
        if lens in ([12], [4, 4, 4]) and my_number_valid(d):
            return ("pii.my_number", s, e, 0.99)
        return None
    if _phone_grouping_ok(lens, d) and jp_phone_valid(d, False):
        return ("pii.phone_jp", s, e, 0.95)
    return None


def _number_at(judge: _Judge, w: str, s: int, *, deep: bool) -> tuple[int, Hit | None, bool]:
    """:func:`_number_from` the first group of the window ``w`` at ``s`` (up to four groups,
    with the separator after the last when another group follows): (the end of the number,
    the hit or None, whether the answer came from the digits alone)."""
    pieces = _SEP_SPLIT.split(w)  # group, separators, …; "" last when a group follows
    digits = pieces[0::2]
    if not w.isascii():
        digits = list(map(ascii_digits, digits))
    lens = list(map(len, digits))
    offsets = list(accumulate(map(len, pieces), initial=s))
    ends = offsets[1::2]
    j, hit, pure = _number_from(
        judge, 0, offsets[0::2], ends, list(map(bool, map(_SPACE.search, pieces[1::2]))),
        list(map((3).__gt__, lens)), digits, lens, deep=deep,
    )
    return ends[j], hit, pure


def _numbers_in_groups(
    judge: _Judge, a: int, pieces: list[str], digits: list[str], lens: list[int],
    deadline: Deadline,
) -> Iterator[Hit]:
    """:func:`_numbers_in_run` by lists of the groups, for a run of a few groups (cheaper
    than windows there), and for ``+81 (0)…`` runs, whose digit groups (the trunk 0
    dropped) no longer line up with the groups in the text."""
    n = len(digits)
    offsets = list(accumulate(map(len, pieces), initial=a))
    starts, ends = offsets[0::2], offsets[1::2]
    spaced = list(map(bool, map(_SPACE.search, pieces[1::2])))
    short = list(map((3).__gt__, lens))
    i = 0
    while i < n:
        deep = starts[i] - judge.low_ctx > a
        if (i > 0 and not spaced[i - 1]) or (
            deep and not next(_context_free_starts(digits[i : i + 1], lens[i : i + 1]))
        ):
            i += 1
            continue
        deadline.check()
        j, hit, _ = _number_from(judge, i, starts, ends, spaced, short, digits, lens, deep=deep)
        if hit:
            yield hit
            i = j + 1
        else:
            i += 1


def _number_from(
    judge: _Judge,
    i: int,
    starts: list[int],
    ends: list[int],
    spaced: list[bool],
    short: list[bool],
    digits: list[str],
    lens: list[int],
    *,
    deep: bool,
) -> tuple[int, Hit | None, bool]:
    """The longest number of one to four groups starting at group ``i`` (see
    :func:`_numbers_in_run`): its last group, the hit or None, and whether the answer
    came from the digits alone (from ``judge.verdicts``: the same for the same groups)."""
    n = len(digits)
    verdicts = judge.verdicts
    pure = True
    # a number has at most four groups (card 4-4-4-4, +81 3 1234 5678, 1-4-4-4)
    for j in range(min(n - 1, i + 3), i - 1, -1):
        # a sub-candidate inside a run must be set off by whitespace, not a dash
        if j < n - 1 and not spaced[j]:
            continue
        if sum(short[i : j + 1]) > 2:
            continue  # "12 34 56 78": a table of small numbers, not one number
        d = "".join(digits[i : j + 1])
        if len(d) > 19:
            continue
        if len(d) < 5:
            break
        # deep inside a run (no context word in reach, spaces on both sides) the
        # verdict depends on the digits alone: repeated numbers are judged once
        key = (d, tuple(lens[i : j + 1])) if deep and j < n - 1 else None
        if key is not None and key in verdicts:
            v = verdicts[key]
            hit = (v[0], starts[i], ends[j], v[1]) if v else None
        elif key is not None:  # (verdicts remembers it: no need for the judge's memo)
            hit = _classify(judge.t, judge.low, d, starts[i], ends[j], lens[i : j + 1],
                            judge.low_ctx, judge.cells)
            if len(verdicts) < VERDICTS_SIZE:
                verdicts[key] = (hit[0], hit[3]) if hit else None
            else:
                pure = False
        else:
            hit = judge.classify(d, starts[i], ends[j], lens[i : j + 1])
            pure = False
        if hit:
            return j, hit, pure
    return i, None, pure

_KANJI_DIGITS = "〇一二三四五六七八九"
_KANJI_TO_ASCII = str.maketrans(_KANJI_DIGITS, "0123456789")
# A kanji-numeral phone number starts with 〇 (〇九〇-一二三四-五六七八); separators as in
# digit runs. Only taken after a phone context word (kanji numerals are common in prose).
_KANJI_PHONE = re.compile(
    f"(?<![{_KANJI_DIGITS}])〇(?:[{_KANJI_DIGITS}]|[{_SEP}]{{1,3}}(?=[{_KANJI_DIGITS}])){{9,16}}"
    f"(?![{_KANJI_DIGITS}])"
)


_FREE_LEN = [k in (1, 4) or k >= 10 for k in range(11)]  # by length, capped at 10


def _context_free_starts(groups: list[str], lens: list[int]) -> Iterator[bool]:
    """For each digit group, whether a number found without a context word may start with
    it: a phone (0…), My Number or card (4 digits), Corporate Number (1 digit), one long
    group. Deep inside a run of numbers no context word can be near, so other groups are
    skipped without building candidates (keeps number tables linear and cheap). C-level
    passes: no Python call per group."""
    return map(or_, map(str.startswith, groups, repeat("0")),
               map(_FREE_LEN.__getitem__, map(min, lens, repeat(10))))


def _spelled_phone(t: str, low: str, d: str, s: int, e: int, low_ctx: int) -> Hit | None:
    """A phone number written one digit at a time (or in kanji numerals): taken only after
    a phone context word, 10-11 digits, valid for libphonenumber."""
    if len(d) not in (10, 11) or d[0] != "0":
        return None
    if not _has(low[max(0, s - low_ctx) : s], _CTX_PHONE):
        return None
    if not jp_phone_valid(d, False):
        return None
    return ("pii.phone_jp", s, e, 0.9)


def scan_kanji_phones(t: str, low: str, low_ctx: int = 24) -> Iterator[Hit]:
    """Phone numbers in kanji numerals after a phone context word (電話 〇九〇-一二三四-五六七八)."""
    if "〇" not in t:
        return
    for m in _KANJI_PHONE.finditer(t):
        d = "".join(c for c in m.group() if c in _KANJI_DIGITS).translate(_KANJI_TO_ASCII)
        hit = _spelled_phone(t, low, d, m.start(), m.end(), low_ctx)
        if hit:
            yield hit


def _context(
    t: str, low: str, start: int, low_ctx: int, cells: CellIndex | None
) -> tuple[str, bool, bool]:
    """(context words before the number, bank label, postal label). In a table cell the
    column header is the context (and the text before the number in its cell)."""
    cell = cells.at(start) if cells is not None else None
    if cell is not None:
        cell_start, _, head = cell
        bank = _BANK_HEADER.search(head) is not None and _BANK_HEADER_NOT.search(head) is None
        return head + " " + low[cell_start:start], bank, _HEADER_POSTAL.search(head) is not None
    ctx = low[max(0, start - low_ctx) : start]
    return ctx, _bank_label(low, start), False


#: The last character a match of _BANK_LABEL can have before its trailing spaces: a
#: label's last (口座番号, savings, ordinary, account no., acct, a/c …), a closing bracket,
#: or the mark after them (:, #, no.).
_BANK_LABEL_LAST = frozenset("号座金通蓄sgyo.r#tc）):：＃")


def _bank_near(low: str, start: int, cells: CellIndex | None) -> bool:
    """The bank label of :func:`_context` alone (its column header, or the label before)."""
    cell = cells.at(start) if cells is not None else None
    if cell is not None:
        head = cell[2]
        return _BANK_HEADER.search(head) is not None and _BANK_HEADER_NOT.search(head) is None
    return _bank_label(low, start)


def _bank_label(low: str, start: int) -> bool:
    """A bank-account label right before ``start`` (see _BANK_LABEL)."""
    lo = max(0, start - 40)
    before = low[lo:start]
    if before.endswith("\n"):  # ($ also matches before a last newline)
        before = before[:-1]
    before = before.rstrip(" \u3000")
    if not before or before[-1] not in _BANK_LABEL_LAST:
        return False  # (no match can end here: the regex need not try 40 places)
    m = _BANK_LABEL.search(low, lo, start)
    if m is None:
        return False
    if m.group().startswith("番号"):
        return _BANK_WORD.search(low, max(0, m.start() - 6), m.start()) is not None
    return True


def _classify(
    t: str, low: str, d: str, s: int, e: int, lens: list[int], low_ctx: int,
    cells: CellIndex | None = None,
) -> Hit | None:
    n = len(d)
    if n in (5, 9):  # no detector takes 5 or 9 digits
        return None
    plus = s > 0 and t[s - 1] in "+＋"
    # what the digits alone rule out, before any context is read (the branches below
    # find nothing else for these lengths): 14-19 digits are a card or nothing; 13 a card,
    # a Corporate Number or a 5-8 passbook account; 10-11 a phone (0…, or +81…)
    issuer = card_issuer(d) if n >= 13 else None
    if n >= 14 and not issuer:
        return None
    if n == 13 and lens != [5, 8] and not issuer and not corporate_number_valid(d):
        return None
    if n in (10, 11) and d[0] != "0" and not (plus and d.startswith("81")):
        return None
    open_paren = s > 0 and t[s - 1] in "(（" and any(c in ")）" for c in t[s:e])
    start = s - 1 if plus or open_paren else s
    if n in (6, 8):  # personal data only as a bank account: after its label (see below)
        key = _log_key(t, start)
        if not (_bank_near(low, start, cells) if key is None else _key_says(key, _BANK_KEY)):
            return None
    elif n == 12 and not plus and not my_number_valid(d):  # a driver's licence: after its word
        cell = cells.at(start) if cells is not None else None
        words = (cell[2] + " " + low[cell[0] : start] if cell is not None
                 else low[max(0, start - low_ctx) : start])  # (the context of _context)
        if not _has(words, _CTX_LICENSE):
            return None
    ctx, bank, postal_head = _context(t, low, start, low_ctx, cells)
    near = t[max(0, start - 3) : start]
    key = _log_key(t, start)
    if key is not None:
        bank = _key_says(key, _BANK_KEY)
    if n <= 8 and not (
        bank or (n == 7 and ("〒" in near or postal_head or _has(ctx, _CTX_POSTAL) or lens == [3, 4]))
    ):
        return None  # 6-8 digits are personal data only after a context word
    if not _left_ok(t, start) or not _right_ok(t, low, e):
        return None
    if plus:
        if d.startswith("81") and 11 <= n <= 12 and jp_phone_valid(d, True):
            return ("pii.phone_jp", start, e, 0.97)
        return None
    if 13 <= n <= 19:
        if n == 13 and _has(ctx, _CTX_CORP) and corporate_number_valid(d):
            return ("pii.corporate_number", start, e, 0.99)
        if key is not None and not _key_says(key, _CTX_CARD, _CTX_CORP):
            return None  # bytes=4111…, req_id=…: a log value, not a card or a company
        if issuer and not (n == 13 and ean13_valid(d)):  # JAN/EAN-13 product codes
            return ("pii.payment_card", start, e, 0.99)
        if (
            n == 13
            and corporate_number_valid(d)
            and lens in ([13], [1, 4, 4, 4], [1, 12])
            and not _has(ctx, _CTX_NEGATIVE)
            and not (ean13_valid(d) and d.startswith(("978", "979", "45", "49")))
        ):
            return ("pii.corporate_number", start, e, 0.9)
        if n == 13 and bank and lens == [5, 8]:
            return ("pii.bank_account_jp", start, e, 0.85)  # ゆうちょ 記号5桁-番号8桁
        return None
    if n == 12:
        if _has(ctx, _CTX_LICENSE):
            return ("pii.drivers_license_jp", start, e, 0.9)
        if my_number_valid(d):
            if _has(ctx, _CTX_MY_NUMBER):
                return ("pii.my_number", start, e, 0.99)
            # without a context word: only as written on the card (12 digits or 4-4-4),
            # and not as a log value (lag=123456789018)
            if lens in ([12], [4, 4, 4]) and not _has(ctx, _CTX_NEGATIVE) and key is None:
                return ("pii.my_number", start, e, 0.99)
        return None
    if (
        n in (10, 11)
        and d[0] == "0"
        and _phone_grouping_ok(lens, d)
        and (jp_phone_valid(d, False) or (_has(ctx, _CTX_PHONE) and _phone_shape_ok(d)))
        and _phone_context_ok(ctx)
        and (key is None or _key_says(key, _CTX_PHONE, _KEY_PHONE))
    ):
        return ("pii.phone_jp", start, e, 0.95)
    if 6 <= n <= 8 and bank and not _date_like(d, lens):
        return ("pii.bank_account_jp", start, e, 0.85)
    if n == 7 and lens in ([7], [3, 4]):
        explicit = "〒" in near or postal_head or _has(ctx, _CTX_POSTAL)
        if explicit or (lens == [3, 4] and _postal_by_address(t, start, e)):
            if not _postal_code_exists(d):
                return None
            start = start - 1 if start > 0 and t[start - 1] == "〒" else start
            return ("pii.postal_code_jp", start, e, 0.9 if explicit else 0.85)
    return None


_CTX_CARD = _words("card", "カード", "pan", "visa", "master", "amex", "jcb", "cc_", "ccnum")
_LOG_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]{0,40}[=:]$")
_JSON_KEY = re.compile(r'"([A-Za-z_][A-Za-z0-9_.\-]{0,40})"[ \t]*:[ \t]*"?$|([A-Za-z_][A-Za-z0-9_.\-]{0,40})="$')


def _log_key(t: str, s: int) -> str | None:
    """The key when the number is a log ``key=value`` / ``key:value`` value (no space),
    a JSON value (``"tel":"03…"``, ``"zip":1000001``) or a quoted log value (``id="…"``)."""
    if s == 0:
        return None
    if t[s - 1] in "\":" or (t[s - 1] == '"' and s > 1 and t[s - 2] in "=:"):
        j = _JSON_KEY.search(t, max(0, s - 48), s)
        if j is not None:
            return (j.group(1) or j.group(2)).lower()
    if t[s - 1] not in "=:":
        return None
    m = _LOG_KEY.search(t, max(0, s - 42), s)
    if m is None or (m.start() > 0 and t[m.start() - 1].isalnum()):
        return None
    return m.group()[:-1].lower()


def _key_says(key: str, *words: re.Pattern[str]) -> bool:
    return any(w.search(key) for w in words) or any(
        w.search(key.replace("_", " ")) for w in words
    )


def _phone_context_ok(ctx: str) -> bool:
    """No product/order word closer to the number than the last phone word (型番 after
    お問い合わせ: a part number, not a phone)."""
    neg = [m.end() for m in _CTX_NEGATIVE.finditer(ctx)]
    if not neg:
        return True
    phone = [m.end() for m in _CTX_PHONE.finditer(ctx)]
    return bool(phone) and phone[-1] > neg[-1]


def _date_like(d: str, lens: list[int]) -> bool:
    """2023-06-21, 20230224, 2023 06 21: a calendar date (years 1900-2099)."""
    if len(d) != 8 or lens not in ([8], [4, 2, 2]) or d[:2] not in ("19", "20"):
        return False
    month, day = int(d[4:6]), int(d[6:8])
    return 1 <= month <= 12 and 1 <= day <= 31


_PREFECTURES = [
    "北海道", "青森県", "岩手県", "宮城県", "秋田県", "山形県", "福島県", "茨城県", "栃木県",
    "群馬県", "埼玉県", "千葉県", "東京都", "神奈川県", "新潟県", "富山県", "石川県", "福井県",
    "山梨県", "長野県", "岐阜県", "静岡県", "愛知県", "三重県", "滋賀県", "京都府", "大阪府",
    "兵庫県", "奈良県", "和歌山県", "鳥取県", "島根県", "岡山県", "広島県", "山口県", "徳島県",
    "香川県", "愛媛県", "高知県", "福岡県", "佐賀県", "長崎県", "熊本県", "大分県", "宮崎県",
    "鹿児島県", "沖縄県",
]
#: The longest municipality name looked for after a postal code (Japan Post's longest is
#: 10 characters; a bound keeps what a number's verdict reads around it fixed, see _Judge).
_CITY_REACH = 24
_PREF_AFTER = re.compile("[ \u3000]{0,2}(?:" + "|".join(_PREFECTURES) + ")")
# between a postal code and the address after it: spaces, a cell separator, a line end
_CELL_GAP = " \u3000\t,\r\n"
_PREFS_EN = frozenset([
    "hokkaido", "aomori", "iwate", "miyagi", "akita", "yamagata", "fukushima",
    "ibaraki", "tochigi", "gunma", "saitama", "chiba", "tokyo", "kanagawa", "niigata",
    "toyama", "ishikawa", "fukui", "yamanashi", "nagano", "gifu", "shizuoka", "aichi",
    "mie", "shiga", "kyoto", "osaka", "hyogo", "nara", "wakayama", "tottori", "shimane",
    "okayama", "hiroshima", "yamaguchi", "tokushima", "kagawa", "ehime", "kochi",
    "fukuoka", "saga", "nagasaki", "kumamoto", "oita", "miyazaki", "kagoshima",
    "okinawa"
])
_WORD_BEFORE = re.compile(r"([A-Z][a-z]+)(?:[- ](?:to|fu|ken|Prefecture|Pref\.))?,? ?$")


def _postal_by_address(t: str, s: int, e: int) -> bool:
    """A 3-4 code without 〒 is a postal code right before a prefecture or municipality
    (``106-0032 東京都港区…``) or right after a romaji prefecture (``Tokyo 106-0032``)."""
    if _PREF_AFTER.match(t, e):
        return True
    w = _WORD_BEFORE.search(t, max(0, s - 24), s)
    if w and w.group(1).lower() in _PREFS_EN:
        return True
    from prai.guard._ja import postal_if_available

    data = postal_if_available()
    if data is None:
        return False
    j = e
    while j < len(t) and t[j] in _CELL_GAP and j - e < 3:
        j += 1
    if _PREF_AFTER.match(t, j):
        return True
    if j >= len(t) or t[j] not in _city_initials(data.cities):
        return False  # (no municipality starts with this character: none to look up)
    reach = min(data.max_city_chars, _CITY_REACH, len(t) - j)
    return any(t[j : j + k] in data.cities for k in range(2, reach + 1))


_CITY_INITIALS: list[tuple[Mapping[str, object], frozenset[str]]] = []


def _city_initials(cities: Mapping[str, object]) -> frozenset[str]:
    """The first characters of the municipality names (once per loaded data set)."""
    if not _CITY_INITIALS or _CITY_INITIALS[0][0] is not cities:
        _CITY_INITIALS[:] = [(cities, frozenset(c[0] for c in cities if c))]
    return _CITY_INITIALS[0][1]


def _postal_code_exists(d: str) -> bool:
    """True unless Japan Post's data (the ``ja`` extra) is installed and lacks the code."""
    from prai.guard._ja import postal_if_available

    data = postal_if_available()
    return data is None or d in data.codes


# The letter first (the regex engine then skips to each T quickly), the word boundary
# before it checked by a two-character lookbehind.
_INVOICE = re.compile(
    "[TＴ](?<![A-Za-z0-9Ａ-Ｚａ-ｚ０-９_][TＴ])[ \u3000\\-－]?(?:[0-9０-９][ \u3000\\-－‐]?){12}"
    "[0-9０-９](?![0-9０-９])"
)


def scan_invoice(t: str) -> Iterator[Hit]:
    """Qualified-invoice registration numbers (適格請求書発行事業者登録番号): ``T`` and the
    13-digit Corporate Number (check digit verified), with or without hyphens or spaces,
    half- or full-width: ``T1234567890123``, ``Ｔ１２３４…``, ``T-1234-5678-9012-3``."""
    if "T" not in t and "Ｔ" not in t:
        return
    for m in _INVOICE.finditer(t):
        d = ascii_digits("".join(c for c in m.group() if c.isdigit()))
        if len(d) == 13 and corporate_number_valid(d):
            yield ("pii.corporate_number", m.start(), m.end(), 0.99)


_NON_GEOGRAPHIC = ("0120", "0800", "0570", "0990", "0180")
_ELEVEN = ("050", "060", "070", "080", "090", "0800")


def _phone_shape_ok(d: str) -> bool:
    """A number shaped by the numbering plan (10 digits 0X…, not a prefix that needs 11; or
    11 digits 050/070/080/090/0800): taken after a phone label even where libphonenumber's
    allocation data (which lags new allocations) does not list the range."""
    if len(d) == 11:
        return d.startswith(_ELEVEN)
    return len(d) == 10 and d[0] == "0" and d[1] != "0" and not d.startswith(_ELEVEN[:5])


def _phone_grouping_ok(lens: list[int], d: str = "") -> bool:
    """Separated numbers must be grouped like a phone number (総務省 電気通信番号計画): an
    area code of 2-5 digits with its 0, a local exchange, and a 4-digit subscriber number
    (03-1234-5678, 0123-45-6789, 090-1234-5678); 0120/0800/0570/0990/0180 numbers may end
    in 3 (0120-123-456). ``0205-2273-941`` or ``6073-7199-21`` are part numbers."""
    if len(lens) == 1:
        return True
    if not (2 <= lens[0] <= 5 and min(lens[1:]) >= 1 and max(lens[1:]) <= 4):
        return False
    return lens[-1] == 4 or d.startswith(_NON_GEOGRAPHIC)


_DOTTED = re.compile(r"\.[0-9]{1,4}\.[0-9]{3,4}(?![0-9]|\.[0-9])")
_DOTTED_HEAD = re.compile(r"(?<![0-9.])0[0-9]{1,4}$")


def scan_dotted_phones(
    t: str, low: str, low_ctx: int = 24, cells: CellIndex | None = None
) -> Iterator[Hit]:
    """Phone numbers written with dots (``03.1234.5678``), validated like the others."""
    if "." not in t:
        return
    for tail in _DOTTED.finditer(t):  # anchored on ".1234.5678", the head found leftwards
        head = _DOTTED_HEAD.search(t, max(0, tail.start() - 6), tail.start())
        if head is None:
            continue
        s = head.start()
        group = t[s : tail.end()]
        d = group.replace(".", "")
        lens = [len(g) for g in group.split(".")]
        if len(d) in (10, 11) and _phone_grouping_ok(lens, d):
            m = tail
            ctx = _context(t, low, s, low_ctx, cells)[0]
            if (
                _left_ok(t, s)
                and _right_ok(t, low, m.end())
                and (jp_phone_valid(d, False) or (_has(ctx, _CTX_PHONE) and _phone_shape_ok(d)))
                and _phone_context_ok(ctx)
            ):
                yield ("pii.phone_jp", s, m.end(), 0.9)


_HEXCOLON_RUN = re.compile("[0-9A-Fa-f:.]*")
_IPV6_ANCHORS = re.compile(f"({_IPV6_ANCHOR.pattern})")  # (split keeps the anchors)


def _next_ipv6_anchor(t: str, q: int, last: int) -> re.Match[str] | None:
    """The first match of ``_IPV6_ANCHOR.finditer(t, q)`` that starts at ``last`` or later:
    the matches before it (inside a stretch already examined) are stepped over in C. An
    anchor is at most six characters, so those before ``last`` lie in ``t[q:last + 5]``."""
    if q < last and last < len(t) and t[last] in _HEXCOLON:
        parts = _IPV6_ANCHORS.split(t[q : last + 5])  # text, anchor, text, …, text
        offsets = list(accumulate(map(len, parts), initial=q))
        k = bisect_left(offsets[1:-1:2], last)  # anchors starting before last
        if k:
            q = offsets[2 * k]  # the end of the last of them
    else:  # no anchor spans last (a character no anchor holds, or the end)
        q = max(q, last)
    return _IPV6_ANCHOR.search(t, q)


def scan_ip(t: str) -> Iterator[Hit]:
    """IPv4 and IPv6 addresses (validated with :mod:`ipaddress`)."""
    # anchored on the dots (rarer than digits): ".168.1.10", then the first octet leftwards
    for m in _IPV4_TAIL.finditer(t):
        e = m.end()
        s = m.start()
        while s > 0 and "0" <= t[s - 1] <= "9" and m.start() - s < 3:
            s -= 1
        if s == m.start() or (s > 0 and t[s - 1] in "0123456789."):
            continue
        octets = (t[s : m.start()], *m.groups())
        if any(int(g) > 255 for g in octets):
            continue
        before = t[max(0, s - 12) : s].lower()
        if s > 0 and (t[s - 1].isalpha() or "ver" in before or "バージョン" in before):
            continue
        if int(octets[0]) == 127 or all(int(o) == 0 for o in octets):
            continue  # loopback and 0.0.0.0 identify nothing
        yield ("pii.ip_address", s, e, 0.95)
    last = -1
    m6 = _IPV6_ANCHOR.search(t)
    while m6 is not None:
        left = m6.start()
        floor = max(0, last, m6.start() - 45)
        while left > floor and t[left - 1] in _HEXCOLON:
            left -= 1
        right = _HEXCOLON_RUN.match(t, m6.end(), m6.start() + 45).end()  # type: ignore[union-attr]
        last = right
        # the next anchor outside the stretch examined, as finditer would give it
        m6 = _next_ipv6_anchor(t, m6.end(), last)
        tok = t[left:right].strip(".")
        if tok.endswith(":") and not tok.endswith("::"):
            tok = tok[:-1]
        if left > 0 and _is_word(t[left - 1]):
            continue
        end = left + len(tok)
        if end < len(t) and _is_word(t[end]):
            continue
        if len(tok) > 45 or ":::" in tok:  # what ipaddress refuses first, cheaply
            continue
        try:
            addr6 = ipaddress.IPv6Address(tok)
        except ValueError:
            continue
        if addr6.is_loopback or addr6.is_unspecified:
            continue
        yield ("pii.ip_address", left, end, 0.95)


def scan_passport(t: str, context_ends: list[int]) -> Iterator[Hit]:
    """Japanese passport numbers (two letters + seven digits) within 30 characters after a
    context word (旅券, パスポート, passport) ending at one of ``context_ends``."""
    for end in context_ends:
        m = _PASSPORT.search(t, end, min(len(t), end + 30))
        if m:
            yield ("pii.passport_jp", m.start(), m.end(), 0.9)


__all__ = [
    "ascii_digits", "scan_dotted_phones", "scan_invoice", "scan_ip", "scan_numbers", "scan_passport",
]
