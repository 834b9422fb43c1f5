"""Tabular and keyed text: CSV/TSV exports, JSON lines and log ``key="value"`` pairs.

HR and customer exports put names, addresses and numbers in cells with nothing around
them but commas; the header says what they are. A header is a line of three or more
comma- or tab-separated short cells (two when one is a
name or address label) (no cell with three digits in a row, not a JSON line)
followed by a row with the same number of cells; the rows after it, until a blank line,
are read cell by cell (CSV quoting understood; a row may use tabs under a comma header).

* :func:`scan_fields`: the cells under a person-name or address column (``氏名``,
  ``フリガナ``, ``住所``, ``name``, ``address`` …), and the values of such keys in JSON
  (``"name":"横田亮太"``) and logs (``name="Sato Yuki"``), are findings;
* :func:`table_cells`: every body cell with its column's header, for the number detectors
  (a 7-digit number under ``口座番号`` is an account, under ``郵便番号`` a postal code, under
  ``伝票番号`` or ``品番`` nothing).

Linear: each line is split once.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Iterator
from itertools import accumulate, cycle, repeat
from operator import add, sub
from typing import NamedTuple

from prai.guard._deadline import UNLIMITED, Deadline

Hit = tuple[str, int, int, float]

NAME_COLUMNS = frozenset((
    "氏名", "名前", "お名前", "姓名", "漢字氏名", "氏名（漢字）", "氏名(漢字)", "フリガナ", "ふりがな",
    "カナ氏名", "氏名カナ", "氏名（カナ）", "氏名(カナ)", "セイ", "メイ", "姓", "名", "担当者",
    "担当者名", "担当", "申請者", "申請者名", "患者名", "患者氏名", "契約者", "契約者名",
    "代表者", "代表者名", "社員名", "従業員名", "会員名", "受取人", "受取人名", "名義", "口座名義",
    "緊急連絡先氏名", "配偶者氏名", "扶養親族氏名", "保護者氏名", "連絡先氏名", "口座名義（カナ）",
    "name", "full name", "full_name", "fullname", "first name", "first_name", "firstname",
    "last name", "last_name", "lastname", "given name", "given_name", "family name",
    "family_name", "surname", "contact", "contact name", "contact_name", "customer name",
    "customer_name", "employee name", "employee_name", "patient name", "patient_name",
))
ADDRESS_COLUMNS = frozenset((
    "住所", "現住所", "所在地", "住所1", "住所2", "住所１", "住所２", "送付先住所", "自宅住所",
    "勤務先住所", "連絡先住所", "本社所在地", "address", "address1", "address2", "address 1",
    "address 2", "street", "street address", "street_address", "home address",
    "home_address", "mailing address", "mailing_address",
))
#: JSON / log keys whose value is a person's name or an address (lower case).
NAME_KEYS = frozenset((
    "name", "full_name", "fullname", "customer", "customer_name", "contact_name", "kana",
    "name_kana", "kana_name", "furigana", "holder", "card_holder", "cardholder", "first_name",
    "last_name", "patient", "patient_name", "employee_name", "user_name", "氏名", "名前",
    "フリガナ", "カナ",
))
ADDRESS_KEYS = frozenset(("address", "addr", "address1", "address2", "street", "住所", "所在地"))
_KEYED = re.compile(
    r'"([A-Za-z_\u3040-\u30ff\u4e00-\u9fff]{2,20})"[ \t]*:[ \t]*"([^"\n]{1,120})"'
    r'|(?<![A-Za-z0-9_])([A-Za-z_]{2,20})="([^"\n]{1,120})"'
)
_LABELS = NAME_COLUMNS | ADDRESS_COLUMNS
_CSV_CELL = re.compile(r'[ \t]*(?:"(?:[^"\n]|"")*"|[^,\n]*)')
_DIGIT = re.compile("[0-9０-９]")
_DIGITS3 = re.compile("[0-9０-９]{3}")
_JA_OR_LATIN = re.compile("[A-Za-z\u3040-\u30ff\u3400-\u9fff]")
_MAX_HEADER_CELL = 30


_TRIM_LEFT = ' "\u3000'
_TRIM_RIGHT = ' "\u3000\r'


def _cells(line: str, base: int, tab: bool) -> list[tuple[int, int]]:
    """(start, end) of each cell of ``line`` (offsets + ``base``), quotes and spaces trimmed."""
    out: list[tuple[int, int]] = []
    if tab or '"' not in line:  # no quoting: the cells are what a split gives
        s = base
        for part in line.split("\t" if tab else ","):
            rest = part.lstrip(_TRIM_LEFT)
            e = s + len(part)
            b = e - len(rest)
            out.append((b, b + len(rest.rstrip(_TRIM_RIGHT))))
            s = e + 1
        return out
    else:
        pos = 0
        n = len(line)
        while pos <= n:
            m = _CSV_CELL.match(line, pos)
            assert m is not None  # the pattern matches the empty string
            out.append(m.span())
            pos = m.end() + 1
            if m.end() >= n:
                break
    trimmed = []
    for s, e in out:
        while s < e and line[s] in _TRIM_LEFT:
            s += 1
        while e > s and line[e - 1] in _TRIM_RIGHT:
            e -= 1
        trimmed.append((base + s, base + e))
    return trimmed


class Cell(NamedTuple):
    """A body cell of a table: offsets into the text and its column's header (lower case)."""

    start: int
    end: int
    header: str


#: A cell as the scanner keeps it: ``(start, end, header)``. A plain tuple: a table of
#: 100,000 rows makes 100,000s of them, and Python's garbage collector stops tracking a
#: tuple of numbers and strings (a named tuple it walks at every full collection).
RawCell = tuple[int, int, str]


def _header(t: str, ls: int, line: str) -> list[tuple[int, int]] | None:
    """The cells of ``line`` when it reads as a header line (see the module docstring)."""
    if len(line) > 400 or line.lstrip().startswith(("{", "[", "#", "//")):
        return None
    if '"' not in line and _DIGITS3.search(line):  # (unquoted, three digits lie in one
        return None  # cell, and no cell of a header has them)
    tab = "\t" in line
    cells = _cells(line, ls, tab)
    if len(cells) < 2:
        return None
    if len(cells) == 2 and not any(t[s:e].strip().lower() in _LABELS for s, e in cells):
        return None
    for s, e in cells:
        if e <= s or e - s > _MAX_HEADER_CELL or _DIGITS3.search(t, s, e) or '":' in t[s:e]:
            return None
    return cells


def tables(t: str, deadline: Deadline = UNLIMITED) -> list[Cell]:
    """Every body cell of every table in ``t`` with its column header, sorted by start."""
    return [Cell(*c) for c in table_cells_raw(t, deadline)]


def table_cells_raw(t: str, deadline: Deadline = UNLIMITED) -> list[RawCell]:
    """:func:`tables` as plain ``(start, end, header)`` tuples."""
    out: list[RawCell] = []
    if ("," not in t and "\t" not in t) or "\n" not in t:
        return out
    lines = t.split("\n")
    starts = list(accumulate(map((1).__add__, map(len, lines)), initial=0))  # (C-level)
    has_sep = [("," in line or "\t" in line) for line in lines]
    has_sep.append(False)
    i = 0
    while i < len(lines) - 1:
        line = lines[i]
        if not has_sep[i]:
            i += 1
            continue
        head = _header(t, starts[i], line)
        if head is None:
            i += 1
            continue
        names = [(t[s:e].strip().lower(),) for s, e in head]
        width = len(head)
        end = has_sep.index(False, i + 1)  # the body: the lines holding a separator
        fast = _plain_body(lines[i + 1 : end], starts[i + 1], [n for (n,) in names])
        if fast is not None:
            deadline.check()
            out.extend(fast)
            i = end if end > i + 1 else i + 1
            continue
        j = i + 1
        body: list[list[tuple[int, int]]] = []
        while j < len(lines):
            row = lines[j]
            if not row.strip() or ("," not in row and "\t" not in row):
                break
            cells = _cells(row, starts[j], "\t" in row)
            if len(cells) == width:
                body.append(cells)
            elif not body:
                break  # the line after the header must fit it
            j += 1
        deadline.check()
        for cells in body:  # (s, e) + (header,): C-level passes, no Python call per cell
            out.extend(map(add, cells, names))
        i = j if body else i + 1
    return out


def _plain_body(rows: list[str], base: int, headers: list[str]) -> list[RawCell] | None:
    """The cells of a table body whose rows all hold exactly one cell per column, with
    no quotes and no tabs — what the row-by-row reading gives them, by C-level passes
    (a table of 100,000 rows costs no Python loop) — or None for any other body."""
    if not rows:
        return []
    width = len(headers)
    text = "\n".join(rows)
    if '"' in text or "\t" in text or not all(map((width - 1).__eq__,
                                                   map(str.count, rows, repeat(",")))):
        return None
    parts = text.replace("\n", ",").split(",")  # each row's cells, row after row
    lens = list(map(len, parts))
    begins = accumulate(map((1).__add__, lens), initial=base)  # each part's start
    rest = list(map(str.lstrip, parts, repeat(_TRIM_LEFT)))
    # trimmed as _cells trims: start + len(part) - len(part.lstrip()), then the right
    lefts = list(map(sub, map(add, begins, lens), map(len, rest)))
    rights = map(add, lefts, map(len, map(str.rstrip, rest, repeat(_TRIM_RIGHT))))
    return list(zip(lefts, rights, cycle(headers)))


class CellIndex:
    """Finds the table cell (and so the column header) around an offset: O(log n).

    ``CellIndex(cells)`` indexes cells found already; ``CellIndex.of(t, deadline)`` finds
    the tables of ``t`` on first use (:attr:`cells`, :meth:`at`, truth value), so a scan
    that never asks — no number in the text, names and addresses not looked for — does not
    read its tables. False when there is no cell.
    """

    __slots__ = ("_cells", "_deadline", "_starts", "_text")

    def __init__(self, cells: list[RawCell]) -> None:
        self._cells: list[RawCell] | None = cells
        self._starts = [c[0] for c in cells]
        self._text = ""
        self._deadline = UNLIMITED

    @classmethod
    def of(cls, t: str, deadline: Deadline = UNLIMITED) -> CellIndex:
        """The cells of the tables in ``t``, found on first use."""
        index = cls([])
        index._cells, index._text, index._deadline = None, t, deadline
        return index

    @property
    def cells(self) -> list[RawCell]:
        """Every body cell, sorted by start (see :func:`tables`)."""
        if self._cells is None:
            self._cells = table_cells_raw(self._text, self._deadline)
            self._starts = [c[0] for c in self._cells]
        return self._cells

    def __bool__(self) -> bool:
        return bool(self.cells)

    def starts_within(self, lo: int, hi: int) -> bool:
        """Whether a cell holds offset ``lo`` or starts in ``lo + 1 … hi - 1`` (a quoted
        cell's end skips the character after it, so a cell may start inside a run of
        digits)."""
        if self.at(lo) is not None:  # (finds the cells on first use)
            return True
        k = bisect_right(self._starts, lo)
        return k < len(self._starts) and self._starts[k] < hi

    def at(self, pos: int) -> RawCell | None:
        """The cell holding offset ``pos`` (None when it lies in no cell)."""
        cells = self.cells
        k = bisect_right(self._starts, pos) - 1
        if k >= 0:
            start, end, _ = cells[k]
            if start <= pos < max(end, start + 1):
                return cells[k]
        return None


def table_cells(t: str, deadline: Deadline = UNLIMITED) -> CellIndex | None:
    """:class:`CellIndex` of the tables in ``t`` (None when there is none)."""
    cells = table_cells_raw(t, deadline)
    return CellIndex(cells) if cells else None


def scan_fields(
    t: str, deadline: Deadline, *, names: bool, addresses: bool,
    cells: list[RawCell] | None = None,
) -> Iterator[Hit]:
    """Name and address cells of tables and keyed values in ``t`` (see the module docstring)."""
    for start, end, header in table_cells_raw(t, deadline) if cells is None else cells:
        deadline.check()
        det = (
            "pii.person_name" if names and header in NAME_COLUMNS
            else "pii.address_jp" if addresses and header in ADDRESS_COLUMNS
            else None
        )
        if det is None:
            continue
        value = t[start:end]
        if end - start < 2 or not _JA_OR_LATIN.search(value):
            continue
        if det == "pii.person_name" and (end - start > 40 or _DIGIT.search(value)):
            continue
        yield (det, start, end, 0.9)
    if '"' not in t:
        return
    for m in _KEYED.finditer(t):
        deadline.check()
        g = 1 if m.group(1) else 3
        key = m.group(g).lower()
        det = (
            "pii.person_name" if names and key in NAME_KEYS
            else "pii.address_jp" if addresses and key in ADDRESS_KEYS
            else None
        )
        if det is None:
            continue
        s, e = m.span(g + 1)
        value = t[s:e].strip()
        if len(value) < 2 or not _JA_OR_LATIN.search(value):
            continue
        if det == "pii.person_name" and (len(value) > 40 or _DIGIT.search(value) or "@" in value):
            continue
        s += len(t[s:e]) - len(t[s:e].lstrip())
        yield (det, s, s + len(value), 0.9)


__all__ = [
    "ADDRESS_COLUMNS", "ADDRESS_KEYS", "NAME_COLUMNS", "NAME_KEYS", "Cell", "CellIndex", "scan_fields",
    "table_cells", "table_cells_raw", "tables",
]
