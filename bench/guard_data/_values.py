"""Value makers for the labelled guard set: check digits, number formats, romaji.

Written apart from `prai.guard` on purpose (the set must not share code with the
detectors it measures); nothing here imports prai. Sources of the formats:

- My Number (個人番号) check digit: 行政手続における特定の個人を識別するための番号の利用等に
  関する法律施行令 第8条 (weights 2..7, 2..6 from the right, mod 11).
- Corporate number (法人番号) check digit: 法人番号の指定等に関する省令 第2条 (first digit,
  9 - (sum of digits weighted 1,2,1,2,... from the right) mod 9). Qualified-invoice
  registration numbers are `T` + a corporate number (国税庁, インボイス制度).
- Payment cards: ISO/IEC 7812 Luhn check; IIN ranges of Visa, Mastercard, JCB, Amex, Diners.
- JAN/EAN-13 and ISBN-13: GS1 mod-10 check (weights 1,3).
- Yamato tracking numbers: 12 digits, the last is the first 11 mod 7.
"""

from __future__ import annotations

import random

# --- check digits -----------------------------------------------------------------


def my_number_check(first11: str) -> str:
    """Check digit of a 12-digit My Number from its first 11 digits."""
    total = 0
    for n, ch in enumerate(reversed(first11), start=1):
        q = n + 1 if n <= 6 else n - 5
        total += int(ch) * q
    r = total % 11
    return "0" if r <= 1 else str(11 - r)


def corporate_check(base12: str) -> str:
    """Leading check digit of a 13-digit corporate number from its last 12 digits."""
    total = 0
    for n, ch in enumerate(reversed(base12), start=1):
        total += int(ch) * (1 if n % 2 else 2)
    return str(9 - total % 9)


def luhn_check(body: str) -> str:
    """Luhn check digit to append to ``body``."""
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return str((10 - total % 10) % 10)


def luhn_ok(number: str) -> bool:
    return luhn_check(number[:-1]) == number[-1]


def ean13_check(first12: str) -> str:
    total = sum(int(c) * (3 if i % 2 else 1) for i, c in enumerate(first12))
    return str((10 - total % 10) % 10)


def yamato_check(first11: str) -> str:
    return str(int(first11) % 7)


# --- numbers ----------------------------------------------------------------------

ZEN = str.maketrans(
    "0123456789-ABCDEFGHIJKLMNOPQRSTUVWXYZ()+. ",
    "０１２３４５６７８９－ＡＢＣＤＥＦＧＨＩＪＫＬＭＮＯＰＱＲＳＴＵＶＷＸＹＺ（）＋．　",
)
KANJI_DIGITS = "〇一二三四五六七八九"


def zen(text: str) -> str:
    """Full-width form of ASCII digits, capitals and separators (as typed with a Japanese IME)."""
    return text.translate(ZEN)


def kanji_number(n: int) -> str:
    """1..99 as kanji numerals the way addresses write them (十二, 二十一)."""
    if n < 10:
        return KANJI_DIGITS[n]
    tens, ones = divmod(n, 10)
    head = "十" if tens == 1 else KANJI_DIGITS[tens] + "十"
    return head + (KANJI_DIGITS[ones] if ones else "")


def digits(r: random.Random, k: int, first: str = "0123456789") -> str:
    return r.choice(first) + "".join(r.choice("0123456789") for _ in range(k - 1))


def my_number(r: random.Random) -> str:
    body = digits(r, 11, "123456789")
    return body + my_number_check(body)


# Registry office codes (法務局 / 地方法務局 numbering) and company kinds
# (01 株式会社, 02 有限会社, 03 合名会社, 05 合同会社) that real corporate numbers start with.
_OFFICES = ("0100", "0101", "0104", "0105", "0106", "0107", "0108", "0109", "0110", "0111",
            "0113", "1200", "1201", "1202", "1203", "1800", "1801", "1300", "2900", "4000",
            "3700", "3400", "1000", "0200", "0300", "0400", "0700", "1100", "1400", "2400")


def corporate_number(r: random.Random) -> str:
    base = r.choice(_OFFICES) + r.choice(("01", "01", "01", "02", "05", "03")) + digits(r, 6)
    return corporate_check(base) + base


def sole_trader_invoice_digits(r: random.Random) -> str:
    """Registration digits given to a sole trader: 13 digits with the corporate check digit."""
    base = digits(r, 12, "123456789")
    return corporate_check(base) + base


CARD_PREFIXES = (
    ("visa", "4", 16), ("visa", "4", 16), ("visa", "4", 16),
    ("master", "51", 16), ("master", "53", 16), ("master", "55", 16), ("master", "2221", 16),
    ("master", "2720", 16), ("jcb", "3528", 16), ("jcb", "3540", 16), ("jcb", "3566", 16),
    ("jcb", "3589", 16), ("amex", "34", 15), ("amex", "37", 15), ("diners", "36", 14),
)


def card_number(r: random.Random) -> tuple[str, str]:
    brand, prefix, length = r.choice(CARD_PREFIXES)
    body = prefix + digits(r, length - len(prefix) - 1)
    return brand, body + luhn_check(body)


def format_card(r: random.Random, number: str) -> str:
    n = len(number)
    if n == 15 or n == 14:
        groups = [number[:4], number[4:10], number[10:]]
    else:
        groups = [number[i:i + 4] for i in range(0, 16, 4)]
    style = r.random()
    if style < 0.45:
        return " ".join(groups)
    if style < 0.75:
        return "-".join(groups)
    if style < 0.9:
        return number
    return zen("-".join(groups)) if r.random() < 0.5 else zen(" ".join(groups))


def jan13(r: random.Random) -> str:
    """A Japanese JAN code (GS1 prefix 45/49) with its check digit."""
    body = r.choice(("49", "45")) + digits(r, 10)
    return body + ean13_check(body)


def isbn13(r: random.Random) -> str:
    body = "9784" + digits(r, 8)
    d = body + ean13_check(body)
    return f"{d[:3]}-{d[3]}-{d[4:6]}-{d[6:12]}-{d[12]}"


def yamato_number(r: random.Random) -> str:
    body = digits(r, 11, "2345")
    return body + yamato_check(body)


# --- phones -----------------------------------------------------------------------

# (area code without the leading 0, local digits, kind). Area codes from the 総務省
# numbering plan: 2-digit (Tokyo, Osaka), 3-digit and 4-digit areas, mobiles, IP, toll-free.
AREAS = (
    ("3", 8, "land"), ("3", 8, "land"), ("3", 8, "land"), ("6", 8, "land"), ("6", 8, "land"),
    ("45", 7, "land"), ("44", 7, "land"), ("48", 7, "land"), ("43", 7, "land"), ("52", 7, "land"),
    ("75", 7, "land"), ("78", 7, "land"), ("82", 7, "land"), ("92", 7, "land"), ("11", 7, "land"),
    ("22", 7, "land"), ("96", 7, "land"), ("98", 7, "land"), ("25", 7, "land"), ("26", 7, "land"),
    ("27", 7, "land"), ("29", 7, "land"), ("54", 7, "land"), ("58", 7, "land"), ("76", 7, "land"),
    ("86", 7, "land"), ("87", 7, "land"), ("88", 7, "land"), ("89", 7, "land"), ("99", 7, "land"),
    ("422", 6, "land"), ("466", 6, "land"), ("467", 6, "land"), ("428", 6, "land"), ("463", 6, "land"),
    ("538", 6, "land"), ("798", 6, "land"), ("4992", 5, "land"),
    ("90", 8, "mobile"), ("90", 8, "mobile"), ("80", 8, "mobile"), ("80", 8, "mobile"),
    ("70", 8, "mobile"), ("50", 8, "ip"), ("120", 6, "free"), ("800", 7, "free"), ("570", 6, "navi"),
)


class Phone:
    """A Japanese number as groups: area (no 0), exchange, subscriber."""

    def __init__(self, r: random.Random, kind: str | None = None) -> None:
        choices = [a for a in AREAS if kind is None or a[2] == kind]
        area, local, self.kind = r.choice(choices)
        self.area = area
        if local == 8:
            self.mid, self.last = digits(r, 4, "23456789"), digits(r, 4)
        elif local == 7 and self.kind == "free":
            self.mid, self.last = digits(r, 3, "123456789"), digits(r, 4)
        elif local == 7:
            self.mid, self.last = digits(r, 3, "23456789"), digits(r, 4)
        elif local == 6 and self.kind in ("free", "navi"):
            self.mid, self.last = digits(r, 3, "123456789"), digits(r, 3)
        elif local == 6:
            self.mid, self.last = digits(r, 2, "23456789"), digits(r, 4)
        else:
            self.mid, self.last = digits(r, 1, "23456789"), digits(r, 4)

    @property
    def national(self) -> str:
        return f"0{self.area}{self.mid}{self.last}"

    def domestic(self, sep: str = "-") -> str:
        return f"0{self.area}{sep}{self.mid}{sep}{self.last}"

    def render(self, r: random.Random, style: str | None = None) -> str:
        """One of the forms people write; ``style`` picks one, else weighted at random."""
        a, m, s = self.area, self.mid, self.last
        styles = {
            "hyphen": f"0{a}-{m}-{s}",
            "paren": f"0{a}({m}){s}",
            "plain": f"0{a}{m}{s}",
            "dot": f"0{a}.{m}.{s}",
            "space": f"0{a} {m} {s}",
            "intl": f"+81-{a}-{m}-{s}",
            "intl_space": f"+81 {a} {m} {s}",
            "intl_zero": f"+81(0){a}-{m}-{s}",
            "intl_zero_space": f"+81 (0){a} {m} {s}",
            "e164": f"+81{a}{m}{s}",
            "zen": zen(f"0{a}-{m}-{s}"),
            "zen_paren": zen(f"0{a}") + "（" + zen(m) + "）" + zen(s),
        }
        if self.kind in ("free", "navi"):
            for k in ("intl", "intl_space", "intl_zero", "intl_zero_space", "e164"):
                styles[k] = styles["hyphen"]
        if style is None:
            style = r.choices(
                list(styles),
                weights=[40, 5, 6, 6, 4, 4, 4, 5, 4, 2, 6, 2],
            )[0]
        return styles[style]


# --- romaji -----------------------------------------------------------------------

_KANA = {
    "ア": "a", "イ": "i", "ウ": "u", "エ": "e", "オ": "o",
    "カ": "ka", "キ": "ki", "ク": "ku", "ケ": "ke", "コ": "ko",
    "サ": "sa", "シ": "shi", "ス": "su", "セ": "se", "ソ": "so",
    "タ": "ta", "チ": "chi", "ツ": "tsu", "テ": "te", "ト": "to",
    "ナ": "na", "ニ": "ni", "ヌ": "nu", "ネ": "ne", "ノ": "no",
    "ハ": "ha", "ヒ": "hi", "フ": "fu", "ヘ": "he", "ホ": "ho",
    "マ": "ma", "ミ": "mi", "ム": "mu", "メ": "me", "モ": "mo",
    "ヤ": "ya", "ユ": "yu", "ヨ": "yo",
    "ラ": "ra", "リ": "ri", "ル": "ru", "レ": "re", "ロ": "ro",
    "ワ": "wa", "ヲ": "o", "ン": "n",
    "ガ": "ga", "ギ": "gi", "グ": "gu", "ゲ": "ge", "ゴ": "go",
    "ザ": "za", "ジ": "ji", "ズ": "zu", "ゼ": "ze", "ゾ": "zo",
    "ダ": "da", "ヂ": "ji", "ヅ": "zu", "デ": "de", "ド": "do",
    "バ": "ba", "ビ": "bi", "ブ": "bu", "ベ": "be", "ボ": "bo",
    "パ": "pa", "ピ": "pi", "プ": "pu", "ペ": "pe", "ポ": "po",
    "ヴ": "vu",
}
_YOON = {"ャ": "a", "ュ": "u", "ョ": "o"}
_SMALL_VOWEL = {"ァ": "a", "ィ": "i", "ゥ": "u", "ェ": "e", "ォ": "o"}


def hira_to_kata(text: str) -> str:
    return "".join(chr(ord(c) + 0x60) if "ぁ" <= c <= "ゖ" else c for c in text)


def romaji(kana: str, long_vowels: bool = False) -> str:
    """Hepburn romaji of a kana word as passports and business cards write it
    (long vowels dropped unless ``long_vowels``: さとう -> sato, ゆうこ -> yuko).
    A ``|`` in ``kana`` marks a morpheme boundary that no long vowel crosses
    (いの|うえ -> inoue)."""
    if "|" in kana:
        return "".join(romaji(part, long_vowels) for part in kana.split("|"))
    kata = hira_to_kata(kana)
    out: list[str] = []
    i = 0
    double = False
    while i < len(kata):
        c = kata[i]
        if c == "ッ":
            double = True
            i += 1
            continue
        if c == "ー":
            i += 1
            continue
        syl = _KANA.get(c, "")
        nxt = kata[i + 1] if i + 1 < len(kata) else ""
        if nxt in _YOON and syl.endswith("i"):
            base = syl[:-1]
            syl = base + _YOON[nxt] if base in ("sh", "ch", "j") else base + "y" + _YOON[nxt]
            i += 1
        elif nxt in _SMALL_VOWEL and syl:
            syl = syl[:-1] + _SMALL_VOWEL[nxt]
            i += 1
        if double and syl:
            syl = ("t" + syl) if syl.startswith("ch") else syl[0] + syl
            double = False
        out.append(syl)
        i += 1
    word = "".join(out)
    if not long_vowels:
        word = word.replace("ou", "o").replace("oo", "o").replace("uu", "u")
    return word
