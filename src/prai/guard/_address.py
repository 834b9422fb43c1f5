"""Postal addresses (``pii.address_jp``): Japanese and romaji.

A Japanese address is found from its municipality, looked up in Japan Post's data
(:func:`prai.guard._ja.postal`: every 市区町村, also without its 郡 and a designated city
without its ward), then extended:

* left over the prefecture (``東京都``), spaces allowed;
* right over the town (大字・町域: the longest name Japan Post lists for that municipality,
  or an unlisted run of kanji/katakana such as Kyoto's ``烏丸通御池下る…町``), the block
  numbers in arabic, full-width or kanji numerals (``3-2-1``, ``３－２－１``,
  ``二丁目9番21号``, ``123番地の4``), then a building and floor or room (``六本木ヒルズ
  森タワー 21F``, ``メゾン青山 301号室``, ``-401``).

A municipality alone (``港区で``) is not an address: it needs a town or block numbers
after it, or an address label (住所, 所在地 …) or a postal code before it. Station, shop and
company names (``東京駅``, ``博多駅``, ``表参道``, ``さくら内科``) hold no municipality with
a town or number and are not findings.

A romaji address is a comma-separated line part around a municipality (``Minato-ku``,
``Osaka-shi``, ``… City``) or a prefecture followed by a postal code (``Tokyo 106-0032``),
with a block number (``3-2-1``, ``1-chome``): ``3-2-1 Roppongi, Minato-ku, Tokyo
106-0032, Japan``. The span covers the whole address. Offsets are indices into the text.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from prai.guard._deadline import Deadline
from prai.guard._ja import PostalData, postal

Hit = tuple[str, int, int, float]

_NUM = "[0-9０-９]{1,5}|[一二三四五六七八九十〇百千]{1,4}"
_DASH = "-－‐‑–—―−ｰー"
# One element of the block part: a number and what follows it; a number in kanji numerals
# only with its unit (二丁目, 十二番: a bare 八 is a word, 北九州市八幡西区).
_BLOCK_PART = re.compile(
    rf"(?:[0-9０-９]{{1,5}}(?:丁目|番地の|番地|番の|番|号|地割|の(?=[0-9０-９一二三四五六七八九十])"
    rf"|[{_DASH}](?=[0-9０-９]))?"
    rf"|[一二三四五六七八九十〇百千]{{1,4}}(?:丁目|番地の|番地|番の|番|号|地割))"
)
_SUFFIX = (
    "ビルディング|ビル|タワー|ハイツ|マンション|コーポ|レジデンス|ハウス|荘|館|棟|ヒルズ|プラザ|センター"
    "|アパート|パレス|メゾン|コート|テラス|ガーデン|スクエア|フォレスト|レジデンシャル|寮|団地|住宅"
)
_ROOM = (
    r"(?:[0-9０-９]{1,3}(?:階|[FＦ])(?:[ \u3000]?[0-9０-９]{1,4}(?:号室|号)?)?"
    r"|[0-9０-９]{1,5}号室|[#＃][0-9０-９]{1,5}|[A-ZＡ-Ｚ]?[0-9０-９]{3,4}(?:号)?(?![0-9０-９]|[-－ー‐][0-9０-９]))"
)
_NAME_CH = "\u30a0-\u30ff\u3400-\u9fffA-Za-zＡ-Ｚａ-ｚ・&＆'’"
_BUILDING = re.compile(
    rf"[ \u3000]{{0,2}}(?:[{_NAME_CH}][{_NAME_CH}0-9０-９ー\- \u3000]{{0,24}}?(?:{_SUFFIX})"
    rf"(?:[ \u3000]?(?:[A-ZＡ-Ｚ0-9０-９]{{1,3}}|[一二三四五六七八九十]{{1,2}})(?:棟|号館|館))?)?"
    rf"(?:[ \u3000]?{_ROOM})?"
)
_UNKNOWN_TOWN = re.compile(
    r"(?:[\u3400-\u9fff\u30a0-\u30ffヶヵ々〆]|上る|下る|入る|の(?=[\u3400-\u9fff])){1,16}?"
    r"(?=[ \u3000]?(?:[0-9０-９]|[一二三四五六七八九十〇百千]{1,4}(?:丁目|番|号|地割)))"
)
_LABEL_BEFORE = re.compile(r"(?:住所|所在地|居住地|現住所|本籍|送付先|届け先|お届け先|勤務地)[^\n]{0,6}$")
_POSTAL_BEFORE = re.compile(rf"〒?[ \u3000]?[0-9０-９]{{3}}[{_DASH}][0-9０-９]{{4}}[ \u3000]*$")
_CITY_END = re.compile("[市区町村]")
_PREF_MAX = 4
_SPACES = " \u3000"


_POSTAL_AFTER = re.compile(
    rf"[ \u3000]{{0,2}}〒?[ \u3000]?([0-9０-９]{{3}}[{_DASH}][0-9０-９]{{4}}|[0-9０-９]{{7}})(?![0-9０-９])"
)
_TO_ASCII = str.maketrans("０１２３４５６７８９", "0123456789")


def _postal_after(t: str, end: int, data: PostalData) -> Hit | None:
    """A postal code written right after an address (``…1208号室 154-0005``) that Japan
    Post lists: a ``pii.postal_code_jp`` finding."""
    m = _POSTAL_AFTER.match(t, end)
    if m is None:
        return None
    code = "".join(c for c in m.group(1).translate(_TO_ASCII) if c.isdigit())
    if code not in data.codes:
        return None
    return ("pii.postal_code_jp", m.start(1), m.end(1), 0.85)


def scan_japanese(t: str, deadline: Deadline, data: PostalData | None = None) -> Iterator[Hit]:
    """Japanese addresses in ``t`` (see the module docstring), and a postal code written
    right after one. The postal data is loaded (:func:`prai.guard._ja.postal`) only when
    ``t`` holds a 市, 区, 町 or 村."""
    if _CITY_END.search(t) is None:
        return
    data = data or postal()
    cities = data.cities
    maxc = data.max_city_chars
    last_end = -1
    seen: set[str] = set()
    memo: dict[tuple[int, str], tuple[Hit, ...]] = {}
    for m in _CITY_END.finditer(t):
        e = m.end()
        if e <= last_end:
            continue
        deadline.check()
        # What follows depends on the characters from _BEFORE before to _AFTER after e
        # alone: a municipality in the same surroundings (a text of one address line, or
        # of 港区 alone, repeated) is judged once. The key is built only where the
        # characters before e came before in this text.
        key = None
        tail = t[e - maxc if e > maxc else 0 : e]
        if tail in seen:
            lo = e - _BEFORE if e > _BEFORE else 0
            key = (e - lo, t[lo : e + _AFTER])
            got = memo.get(key)
            if got is not None:
                for det, a, b, score in got:
                    yield (det, e + a, e + b, score)
                if got:
                    last_end = e + got[0][2]
                continue
        elif len(seen) < MEMO_SIZE:
            seen.add(tail)
        s = -1
        for k in range(min(maxc, e), 1, -1):
            if t[e - k : e] in cities:
                s = e - k
                break
        found = _judge(t, s, e, data) if s >= 0 else ()
        if key is not None and len(memo) < MEMO_SIZE:
            memo[key] = tuple((h[0], h[1] - e, h[2] - e, h[3]) for h in found)
        yield from found
        if found:
            last_end = found[0][2]


#: Judgements remembered per text (0: none; the findings are the same either way).
MEMO_SIZE = 4096
#: What :func:`_judge` reads around a municipality ending at ``e``: from ``e - 31`` (the
#: longest municipality, a space, a prefecture and 16 characters for a label or a postal
#: code before it) to ``e + 193`` (a longer municipality, a town of up to 32 characters or
#: an unlisted one of up to 32 and the number after it, six block numbers with a space
#: and the next one, a building and room of up to 56, and a postal code after those).
_BEFORE = 32
_AFTER = 200


def _judge(t: str, s: int, e: int, data: PostalData) -> tuple[Hit, ...]:
    """The address from the municipality ``t[s:e]``, and a postal code right after it."""
    hit = _extend(t, s, e, data)
    if not hit:
        return ()
    code = _postal_after(t, hit[2], data)
    return (hit, code) if code else (hit,)


def _extend(t: str, s: int, e: int, data: PostalData) -> Hit | None:
    city = t[s:e]
    # a longer municipality ending further right (横浜市 + 港北区) is one municipality
    j = e
    while j < len(t) and t[j] in _SPACES and j - e < 1:
        j += 1
    longer = data.longer.get(city, data.max_city_chars)  # (most have no longer one: 0)
    for k in range(min(data.max_city_chars, longer, len(t) - j), 1, -1):
        nxt = t[j : j + k]
        if (city + nxt) in data.cities:
            city, e = city + nxt, j + k
            break
    start = s
    p = s
    while p > 0 and t[p - 1] in _SPACES and s - p < 1:
        p -= 1
    for k in range(_PREF_MAX, 2, -1):
        if p - k >= 0 and t[p - k : p] in data.prefectures:
            start = p - k
            break
    end = e
    towns = data.cities.get(city, {})
    q = e
    if q < len(t) and t[q] in _SPACES:
        q += 1
    town_end = -1
    longest = data.town_chars.get(city, data.max_town_chars)  # (its longest town)
    for k in range(min(data.max_town_chars, longest, len(t) - q), 1, -1):
        if t[q : q + k] in towns:
            town_end = q + k
            break
    if town_end < 0:
        u = _UNKNOWN_TOWN.match(t, q)
        if u:
            town_end = u.end()
    block_end = _block(t, town_end if town_end >= 0 else q)
    if block_end < 0 and town_end >= 0 and t[town_end : town_end + 1] in _SPACES:
        block_end = _block(t, town_end + 1)
    if town_end < 0 and block_end < 0:
        before = t[max(0, start - 16) : start]
        if not (_LABEL_BEFORE.search(before) or _POSTAL_BEFORE.search(before)):
            return None
        return ("pii.address_jp", start, e, 0.8)
    if block_end < 0:
        # a municipality and town without a number (宇都宮市中河原町の住宅で, 物件：（船橋市
        # 八木が谷）) is a place, not an address, unless a label or a postal code says so
        before = t[max(0, start - 16) : start]
        if not (_LABEL_BEFORE.search(before) or _POSTAL_BEFORE.search(before)):
            return None
        return ("pii.address_jp", start, town_end, 0.8)
    end = block_end
    b = _BUILDING.match(t, end)
    if b and b.group().strip(_SPACES):
        end = b.end()
    while end > start and t[end - 1] in _SPACES:
        end -= 1
    return ("pii.address_jp", start, end, 0.9)


def _block(t: str, i: int) -> int:
    """End of the block numbers starting at ``i`` (-1 when none)."""
    if i < len(t) and t[i] in _SPACES:
        i += 1
    end = -1
    parts = 0
    while parts < 6:
        m = _BLOCK_PART.match(t, i)
        if not m:
            break
        end = i = m.end()
        parts += 1
        if (
            i + 1 < len(t)
            and t[i] in _SPACES
            and t[i + 1] in "0123456789０１２３４５６７８９"
            and _BLOCK_PART.match(t, i + 1)
            and not t[i - 1].isdigit()
        ):
            i += 1  # 二丁目 9番: a space between the parts
    if end < 0:
        return -1
    # a dash left dangling at the end belongs to the text, not the address
    while end > 0 and t[end - 1] in _DASH + "の":
        end -= 1
    return end


# --- romaji -----------------------------------------------------------------------

_PREFS_EN = [
    "Hokkaido", "Aomori", "Iwate", "Miyagi", "Akita", "Yamagata", "Fukushima", "Ibaraki",
    "Tochigi", "Gunma", "Saitama", "Chiba", "Tokyo", "Kanagawa", "Niigata", "Toyama",
    "Ishikawa", "Fukui", "Yamanashi", "Nagano", "Gifu", "Shizuoka", "Aichi", "Mie", "Shiga",
    "Kyoto", "Osaka", "Hyogo", "Nara", "Wakayama", "Tottori", "Shimane", "Okayama",
    "Hiroshima", "Yamaguchi", "Tokushima", "Kagawa", "Ehime", "Kochi", "Fukuoka", "Saga",
    "Nagasaki", "Kumamoto", "Oita", "Miyazaki", "Kagoshima", "Okinawa",
]
_PREF_EN = "(?:" + "|".join(_PREFS_EN) + r")(?:[- ](?:to|fu|ken|Prefecture|Pref\.))?"
_ANCHOR_EN = re.compile(
    r"(?<![A-Za-z])[A-Z][a-z]+(?:[- ][A-Z]?[a-z]+)?-(?:ku|shi|cho|machi|mura|gun)(?![a-z])"
    r"|(?<![A-Za-z])[A-Z][a-z]+ (?:City|Ward)(?![a-z])"
    rf"|(?<![A-Za-z]){_PREF_EN}[ ,]+[0-9]{{3}}-[0-9]{{4}}(?![0-9])"
)
_BLOCK_EN = re.compile(
    r"(?:(?:Room|Rm\.?|Apt\.?|Unit|Suite|#)\s*[0-9A-Z-]+,?\s*)?"
    r"(?:[A-Z][\w'’&.-]*(?:\s+[A-Z][\w'’&.-]*){0,4}\s+(?:Building|Bldg\.?|Tower|Hills|Heights|"
    r"Mansion|Residence|Court|Plaza|House|Center|Centre)(?:\s+[0-9]+F)?,?\s*)?"
    r"(?:[0-9]{1,4}F,?\s*)?"
    r"[0-9]{1,4}(?:-[0-9]{1,4}){1,3}(?:\s+|,\s*)[A-Z][A-Za-z-]+(?:\s[A-Z][a-z]+)?"
    r"(?:,?\s*[0-9]{1,2}-?chome)?|[0-9]{1,2}-?chome"
)
_TAIL_EN = re.compile(
    rf"(?:,?\s*{_PREF_EN})?(?:,?\s*[0-9]{{3}}-[0-9]{{4}})?(?:,?\s*Japan)?(?![A-Za-z0-9])"
)


_ANY_DIGIT = re.compile("[0-9]")
_CAPITAL = re.compile("[A-Z]")
_REST_EN = re.compile(r"[\s,]*(?:[A-Z][A-Za-z-]+[\s,]+){0,2}")


def _block_start(window: str) -> int:
    """Where the block part of an address ending ``window`` starts (-1: none)."""
    for b in _BLOCK_EN.finditer(window):
        if _REST_EN.fullmatch(window, b.end()):
            return b.start()
    return -1


_TRAILER_EN = re.compile(r"(?:[ ,]+(?:[0-9]{3}-[0-9]{4}|Japan|JAPAN))+$")
# ``-(?:ku|shi|cho|machi|mura|gun)(?![a-z])| (?:City|Ward)(?![a-z])|(?<![0-9])[0-9]{3}-[0-9]{4}
# (?![0-9])`` written to start with one character class (its first character picks the
# branch): Python's regex engine then skips to candidates in C, three times faster.
_ANCHOR_HINT = re.compile(
    r"[- 0-9](?:(?<=-)(?:ku|shi|cho|machi|mura|gun)(?![a-z])|(?<= )(?:City|Ward)(?![a-z])"
    r"|(?<=[0-9])(?<![0-9][0-9])[0-9]{2}-[0-9]{4}(?![0-9]))"
)


def _anchors(t: str) -> Iterator[tuple[int, int]]:
    """Spans of :data:`_ANCHOR_EN` matches, searched only just before the literal hints
    (fast). A search reads the characters it is given and the one before them; the same
    characters (a line repeated) are searched once."""
    last = 0
    seen: dict[tuple[bool, str], tuple[int, int] | None] = {}
    for h in _ANCHOR_HINT.finditer(t):
        lo = max(last, h.start() - 40)
        hi = h.end()
        if _CAPITAL.search(t, lo, hi) is None:
            continue  # every anchor starts with a capital (a list of phone numbers: none)
        key = (lo == 0, t[lo - 1 if lo else 0 : hi])
        got = seen.get(key, _NO_ANCHOR)
        if got is _NO_ANCHOR:
            m = _ANCHOR_EN.search(t, lo, hi)
            got = (m.start() - lo, m.end() - lo) if m else None
            if len(seen) < MEMO_SIZE:
                seen[key] = got
        if got is not None:
            last = lo + got[1]
            yield lo + got[0], last


_NO_ANCHOR = (-1, -1)


def scan_romaji(t: str, deadline: Deadline) -> Iterator[Hit]:
    """Romaji addresses (see the module docstring)."""
    last_end = -1
    starts: dict[str, int] = {}  # window before an anchor → where its block part starts
    for a_start, a_end in _anchors(t):
        if a_start < last_end:
            continue
        deadline.check()
        # (the line's start looked for only as far as the window reaches: linear)
        line_start = max(t.rfind("\n", max(0, a_start - 120), a_start) + 1, a_start - 120)
        window = t[line_start:a_start]
        # the block part: the last block number (with town) before the anchor, then only
        # commas and spaces up to the anchor (it holds a digit; a window is judged once)
        found = starts.get(window)
        if found is None:
            found = _block_start(window) if _ANY_DIGIT.search(window) else -1
            if len(starts) < MEMO_SIZE:
                starts[window] = found
        if found < 0:
            continue
        start = line_start + found
        tail = _TAIL_EN.match(t, a_end)
        end = tail.end() if tail else a_end
        # the postal code is its own finding and "Japan" no part of the address
        cut = _TRAILER_EN.search(t, start, end)
        yield ("pii.address_jp", start, cut.start() if cut else end, 0.85)
        last_end = end


__all__ = ["scan_japanese", "scan_romaji"]
