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
from collections.abc import Iterator

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
_RUN = re.compile(
    f"[{DIGIT_CLASS}](?=[{DIGIT_CLASS}{_SEP}]{{4}})[{DIGIT_CLASS}]*(?:[{_SEP}]{{1,3}}[{DIGIT_CLASS}]+)*"
)
_GROUP = re.compile(f"[{DIGIT_CLASS}]+")
_SPACE = re.compile(r"\s")
_SEPS = re.compile(f"[{_SEP}]+")
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


def _groups(t: str, a: int, b: int) -> list[tuple[int, int]]:
    return [m.span() for m in _GROUP.finditer(t, a, b)]


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
    verdicts: dict[tuple[str, tuple[int, ...]], tuple[str, float] | None] = {}
    for m in _RUN.finditer(t):
        a, b = m.span()
        if b - a < 5:
            continue
        deadline.check()
        run = m.group()
        cut = _unclosed_paren(run)
        if cut >= 0:  # 06-1234-5678（18時以降）: the bracket opens a remark, not a number
            run = run[:cut].rstrip(_SEP_STRIP)
            b = a + len(run)
            if b - a < 5:
                continue
        digits = _SEPS.split(run)
        n = len(digits)
        if not run.isascii():
            digits = [ascii_digits(g) for g in digits]
        if n == 5 and digits[0] == "81" and digits[1] == "0" and a > 0 and t[a - 1] in "+＋":
            digits, n = [digits[0], *digits[2:]], 4  # +81 (0)3 …: drop the bracketed trunk 0
        lens = [len(g) for g in digits]
        if n <= 4 and 5 <= sum(lens) <= 19:  # the common case: the whole run is one number
            hit = _classify(t, low, "".join(digits), a, b, lens, low_ctx, cells)
            if hit:
                yield hit
                continue
        if n == 1:
            continue
        longest = max(lens)
        if longest == 1:  # "0 9 0 1 2 3 4 5 6 7 8": spelled out digit by digit
            if 10 <= n <= 11:
                hit = _spelled_phone(t, low, "".join(digits), a, b, low_ctx)
                if hit:
                    yield hit
            continue
        if longest <= 2:  # at most two short groups per number: < 5 digits
            continue
        groups = _groups(t, a, b)
        # gap k (between group k and k+1) holds whitespace: only there may a number end
        spaced = [
            _SPACE.search(t, groups[k][1], groups[k + 1][0]) is not None for k in range(n - 1)
        ]
        short = [len(g) < 3 for g in digits]
        i = 0
        while i < n:
            hit = None
            if (
                (i > 0 and not spaced[i - 1])
                or (groups[i][0] - low_ctx > a and not _context_free_start(digits[i]))
            ):
                i += 1  # not set off by a space, or no number without context starts so
                continue
            # a number has at most four groups (card 4-4-4-4, +81 3 1234 5678, 1-4-4-4)
            for j in range(min(n - 1, i + 3), i - 1, -1):
                # a sub-candidate inside a run must be set off by whitespace, not a dash
                if (i > 0 and not spaced[i - 1]) or (j < n - 1 and not spaced[j]):
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
                deep = j < n - 1 and groups[i][0] - low_ctx > a
                key = (d, tuple(lens[i : j + 1])) if deep else None
                if key is not None and key in verdicts:
                    v = verdicts[key]
                    hit = (v[0], groups[i][0], groups[j][1], v[1]) if v else None
                else:
                    hit = _classify(
                        t, low, d, groups[i][0], groups[j][1], lens[i : j + 1], low_ctx, cells
                    )
                    if key is not None and len(verdicts) < 4096:
                        verdicts[key] = (hit[0], hit[3]) if hit else None
                if hit:
                    yield hit
                    i = j + 1
                    break
            if not hit:
                i += 1
    yield from scan_kanji_phones(t, low, low_ctx)
    yield from scan_dotted_phones(t, low, low_ctx, cells)
    yield from scan_invoice(t)


_KANJI_DIGITS = "〇一二三四五六七八九"
_KANJI_TO_ASCII = str.maketrans(_KANJI_DIGITS, "0123456789")
# A kanji-numeral phone number starts with 〇 (〇九〇-一二三四-五六七八); separators as in
# digit runs. Only taken after a phone context word (kanji numerals are common in prose).
_KANJI_PHONE = re.compile(
    f"(?<![{_KANJI_DIGITS}])〇(?:[{_KANJI_DIGITS}]|[{_SEP}]{{1,3}}(?=[{_KANJI_DIGITS}])){{9,16}}"
    f"(?![{_KANJI_DIGITS}])"
)


def _context_free_start(group: str) -> bool:
    """True when a number found without a context word may start with this digit group:
    a phone (0…), My Number or card (4 digits), Corporate Number (1 digit), one long group.
    Deep inside a run of numbers no context word can be near, so other groups are skipped
    without building candidates (keeps number tables linear and cheap)."""
    return group[0] == "0" or len(group) in (1, 4) or len(group) >= 10


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
        head = cell.header
        bank = _BANK_HEADER.search(head) is not None and _BANK_HEADER_NOT.search(head) is None
        return head + " " + low[cell.start : start], bank, _HEADER_POSTAL.search(head) is not None
    ctx = low[max(0, start - low_ctx) : start]
    return ctx, _bank_label(low, start), False


def _bank_label(low: str, start: int) -> bool:
    """A bank-account label right before ``start`` (see _BANK_LABEL)."""
    m = _BANK_LABEL.search(low, max(0, start - 40), start)
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
    open_paren = s > 0 and t[s - 1] in "(（" and any(c in ")）" for c in t[s:e])
    start = s - 1 if plus or open_paren else s
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
        if card_issuer(d) and not (n == 13 and ean13_valid(d)):  # JAN/EAN-13 product codes
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
    return any(t[j : j + k] in data.cities for k in range(2, min(data.max_city_chars, len(t) - j) + 1))


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
    if not (2 <= lens[0] <= 5 and all(1 <= n <= 4 for n in lens[1:])):
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
    for m in _IPV6_ANCHOR.finditer(t):
        if m.start() < last:  # inside a stretch already examined
            continue
        left = m.start()
        floor = max(0, last, m.start() - 45)
        while left > floor and t[left - 1] in _HEXCOLON:
            left -= 1
        right = m.end()
        while right < len(t) and t[right] in _HEXCOLON and right - m.start() < 45:
            right += 1
        last = right
        tok = t[left:right].strip(".")
        if tok.endswith(":") and not tok.endswith("::"):
            tok = tok[:-1]
        if left > 0 and _is_word(t[left - 1]):
            continue
        end = left + len(tok)
        if end < len(t) and _is_word(t[end]):
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
