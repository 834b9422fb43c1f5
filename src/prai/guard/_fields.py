"""Tabular text (CSV/TSV exports): the cells under a header that names a person-name or
address column (``氏名``, ``フリガナ``, ``住所``, ``name``, ``address`` …) are findings.

HR and customer exports put names and addresses in cells with nothing around them but
commas; the header says what they are. A header is a line of comma- or tab-separated
cells one of which is exactly such a label; the rows after it (until a blank line or a
line with another cell count) are read cell by cell (CSV quoting understood). Linear:
each line is split once.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from prai.guard._deadline import Deadline

Hit = tuple[str, int, int, float]

NAME_COLUMNS = frozenset((
    "氏名", "名前", "お名前", "姓名", "漢字氏名", "氏名（漢字）", "氏名(漢字)", "フリガナ", "ふりがな",
    "カナ氏名", "氏名カナ", "氏名（カナ）", "氏名(カナ)", "セイ", "メイ", "姓", "名", "担当者",
    "担当者名", "担当", "申請者", "申請者名", "患者名", "患者氏名", "契約者", "契約者名",
    "代表者", "代表者名", "社員名", "従業員名", "会員名", "受取人", "受取人名", "名義", "口座名義",
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
_WORDS = sorted(NAME_COLUMNS | ADDRESS_COLUMNS, key=len, reverse=True)
_HEADER_WORD = re.compile("|".join(map(re.escape, _WORDS)), re.IGNORECASE)
_CSV_CELL = re.compile(r'[ \t]*(?:"(?:[^"\n]|"")*"|[^,\n]*)')
_DIGIT = re.compile("[0-9０-９]")
_JA_OR_LATIN = re.compile("[A-Za-z\u3040-\u30ff\u3400-\u9fff]")


def _cells(line: str, base: int, tab: bool) -> list[tuple[int, int]]:
    """(start, end) of each cell of ``line`` (offsets + ``base``), quotes and spaces trimmed."""
    out: list[tuple[int, int]] = []
    if tab:
        s = 0
        for part in line.split("\t"):
            out.append((s, s + len(part)))
            s += len(part) + 1
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
        while s < e and line[s] in ' "\u3000':
            s += 1
        while e > s and line[e - 1] in ' "\u3000\r':
            e -= 1
        trimmed.append((base + s, base + e))
    return trimmed


def scan_fields(t: str, deadline: Deadline, *, names: bool, addresses: bool) -> Iterator[Hit]:
    """Name and address cells of CSV/TSV tables in ``t`` (see the module docstring)."""
    if "," not in t and "\t" not in t:
        return
    done_until = -1
    pos = 0
    for line in t.split("\n"):
        ls, le = pos, pos + len(line)
        pos = le + 1
        # a header: a short line with a delimiter and a label word (checked cell by cell)
        if ls < done_until or len(line) > 400 or ("," not in line and "\t" not in line):
            continue
        if _HEADER_WORD.search(line) is None:
            continue
        tab = "\t" in line
        cols: dict[int, str] = {}
        for k, (s, e) in enumerate(_cells(line, ls, tab)):
            label = t[s:e].strip().lower()
            if names and label in NAME_COLUMNS:
                cols[k] = "pii.person_name"
            elif addresses and label in ADDRESS_COLUMNS:
                cols[k] = "pii.address_jp"
        done_until = le
        if not cols:
            continue
        width = line.count("\t") if tab else None
        rpos = le + 1
        while rpos < len(t):
            deadline.check()
            end = t.find("\n", rpos)
            end = len(t) if end < 0 else end
            row = t[rpos:end]
            if not row.strip() or (tab and row.count("\t") != width) or (not tab and "," not in row):
                break
            cells = _cells(row, rpos, tab)
            for k, det in cols.items():
                if k >= len(cells):
                    continue
                s, e = cells[k]
                value = t[s:e]
                if e - s < 2 or not _JA_OR_LATIN.search(value):
                    continue
                if det == "pii.person_name" and (e - s > 40 or _DIGIT.search(value)):
                    continue
                yield (det, s, e, 0.9)
            rpos = end + 1
        done_until = rpos


__all__ = ["ADDRESS_COLUMNS", "NAME_COLUMNS", "scan_fields"]
