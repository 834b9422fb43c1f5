"""Person names (``pii.person_name``): Japanese names in kanji and kana, and romaji names.

Evidence, strongest first:

* the morphological analyser (MeCab + UniDic, :mod:`prai.guard._ja`) tags a surname
  followed by a given name (``名詞-固有名詞-人名-姓`` then ``…-人名-名``), with or without a
  space between them: a full name needs no other context;
* context: an honorific or title right after a name-tagged word (様 さん 氏 殿 先生 …,
  部長 …), or a field label right before it (氏名 担当 申請者 患者 フリガナ …, also as
  a CSV/TSV header: see :mod:`prai.guard._fields`), makes a single surname or given name
  a finding; after a kana label (フリガナ) any kana words are the name;
* romaji: two capitalised words written in Hepburn romaji of which one the analyser knows
  as a Japanese surname or given name (``ISHII Koji``, ``Sachiko Nishimura``), or a word
  after ``Mr.``/``Ms.``/``Dr.``, ``-san``, ``Name:``.

Spans cover the whole name (surname, space, given name), never the honorific. Text is
analysed line by line (lines over :data:`MAX_UNIT_CHARS` are cut at punctuation), only
lines that hold kanji or kana; a line whose analysis shows no name tag and no context word
costs one MeCab call. Offsets are indices into the scanned text.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import lru_cache

from prai.guard._deadline import Deadline
from prai.guard._ja import analyser

Hit = tuple[str, int, int, float]

#: Longest piece of text given to the analyser at once (characters).
MAX_UNIT_CHARS = 400

HONORIFICS = frozenset(
    ("様", "さま", "サマ", "さん", "サン", "氏", "殿", "先生", "くん", "君", "ちゃん", "御中様")
)
TITLES = frozenset((
    "部長", "課長", "係長", "社長", "副社長", "会長", "専務", "常務", "取締役", "主任", "所長",
    "室長", "支店長", "店長", "院長", "医師", "教授", "准教授", "弁護士", "税理士", "看護師",
    "議員", "理事長", "本部長", "次長", "代表", "選手", "監督", "記者", "主査", "参事",
))
# Words right before a surname that make it part of an organisation's name.
_ORG_BEFORE = frozenset(("株式会社", "会社", "有限会社", "(株)", "（株）", "㈱", "合同会社"))
# Field labels after which a name follows (the longest match wins: 患者氏名 over 患者).
LABELS = (
    "氏名", "お名前", "名前", "姓名", "担当者", "担当", "申請者", "申込者", "患者氏名", "患者名",
    "患者", "受診者", "契約者", "代表者", "代表取締役", "記入者", "作成者", "承認者", "依頼者",
    "連絡者", "差出人", "受取人", "被保険者", "保護者", "責任者", "担当医", "主治医", "利用者",
    "宛名", "名義", "口座名義", "名義人", "送り主", "届出人", "本人", "署名", "世帯主",
)
KANA_LABELS = ("フリガナ", "ふりがな", "カナ氏名", "氏名カナ", "氏名（カナ）", "カナ", "よみがな")
_LABEL_RX = re.compile(
    "(?:" + "|".join(sorted(map(re.escape, LABELS + KANA_LABELS), key=len, reverse=True)) + ")"
    r"(?:（[^）\n]{0,8}）|\([^)\n]{0,8}\))?[ \u3000]*[:：]?[ \u3000]*"
)
_TRIGGER = re.compile(
    "|".join(sorted(map(re.escape, HONORIFICS | TITLES), key=len, reverse=True))
    + "|" + _LABEL_RX.pattern
)
_JA = re.compile("[\u3040-\u30ff\u3400-\u9fff\uf900-\ufaff\uff66-\uff9f]")
_UNIT_CUT = re.compile("[。！？!?\n]")
_KANA_WORD = re.compile("[\u3041-\u309f\u30a0-\u30ff\uff66-\uff9f]+")
_NAMEISH = frozenset(("sei", "mei", "jin"))


def _kind(pos: str) -> str:
    if "人名" in pos:
        if pos.endswith("姓"):
            return "sei"
        if pos.endswith("名"):
            return "mei"
        return "jin"
    if pos == "空白":
        return "space"
    if "固有名詞" in pos and "地名" not in pos:
        return "prop"
    return "other"


Tok = tuple[str, str, int, int]  # surface, kind, start, end (offsets into the unit)


def _tokens(unit: str, out: str) -> list[Tok]:
    toks: list[Tok] = []
    pos = 0
    n = len(unit)
    for line in out.split("\n"):
        if not line or line == "EOS":
            continue
        f = line.split("\t")
        surf = f[0]
        if not surf:
            continue
        while pos < n and unit[pos] in " \t\u00a0":
            pos += 1
        s = pos if unit.startswith(surf, pos) else unit.find(surf, pos)
        if s < 0:
            continue
        pos = s + len(surf)
        toks.append((surf, _kind(f[4]) if len(f) > 4 else "other", s, pos))
    return toks


_SENTENCE_END = re.compile(r"[。！？!?\n]|\.(?=\s)")


def _units(t: str, lo: int, hi: int) -> Iterator[tuple[int, int]]:
    """(start, end) sentences of ``t[lo:hi]`` (cut at 。！？, line ends and English full
    stops), pieces of at most MAX_UNIT_CHARS: the analyser sees one sentence at a time and
    only sentences with kanji or kana (English sentences are skipped whole)."""
    s = lo
    for m in _SENTENCE_END.finditer(t, lo, hi):
        e = m.end()
        while e - s > MAX_UNIT_CHARS:
            cut = max(t.rfind(c, s, s + MAX_UNIT_CHARS) for c in "、 ,\t")
            c = cut + 1 if cut > s else s + MAX_UNIT_CHARS
            yield s, c
            s = c
        if e > s:
            yield s, e
        s = e
    while hi - s > MAX_UNIT_CHARS:
        cut = max(t.rfind(c, s, s + MAX_UNIT_CHARS) for c in "、 ,\t")
        c = cut + 1 if cut > s else s + MAX_UNIT_CHARS
        yield s, c
        s = c
    if hi > s:
        yield s, hi


def _gap_ok(unit: str, a: int, b: int) -> bool:
    """Characters between two tokens of one name: nothing or one space."""
    return b - a <= 1 and (a == b or unit[a] in " \u3000\u00a0")


def _accept_run(toks: list[Tok], i: int, j: int, unit: str) -> float:
    """Score (0 = no) for tokens i..j (inclusive) as a name, from the tokens around."""
    kinds = [k for _, k, _, _ in toks[i : j + 1]]
    nxt = toks[j + 1] if j + 1 < len(toks) else None
    if nxt is not None and nxt[1] == "space":
        nxt = toks[j + 2] if j + 2 < len(toks) else None
    prev = toks[i - 1][0] if i > 0 else ""
    if prev in _ORG_BEFORE:
        return 0.0
    if "sei" in kinds and ("mei" in kinds or len(kinds) > 1):
        return 0.9
    if nxt is not None and (nxt[0] in HONORIFICS or nxt[0] in TITLES) and nxt[2] - toks[j][3] <= 1:
        return 0.85
    if len(kinds) >= 2 and "jin" in kinds:
        return 0.8
    return 0.0


def scan_japanese(t: str, deadline: Deadline, lo: int = 0, hi: int | None = None) -> Iterator[Hit]:
    """Japanese names in ``t[lo:hi]`` (see the module docstring)."""
    an = analyser()
    hi = len(t) if hi is None else hi
    for us, ue in _units(t, lo, hi):
        unit = t[us:ue]
        if _JA.search(unit) is None:
            continue
        deadline.check()
        out = an.parse(unit)
        if "人名" not in out and _TRIGGER.search(unit) is None:
            continue
        toks = _tokens(unit, out)
        yield from ((d, us + s, us + e, sc) for d, s, e, sc in _names_in(unit, toks))


def _names_in(unit: str, toks: list[Tok]) -> Iterator[Hit]:
    labelled = _label_spans(unit)
    taken = -1
    for _ls, le, kana in labelled:
        span = _after_label(unit, toks, le, kana)
        if span:
            yield ("pii.person_name", span[0], span[1], 0.85)
            taken = max(taken, span[1])
    i = 0
    n = len(toks)
    while i < n:
        if toks[i][1] not in _NAMEISH and not (
            toks[i][1] == "prop" and i + 1 < n and toks[i + 1][1] in ("mei", "sei")
        ):
            i += 1
            continue
        j = i
        while j + 1 < n:
            k = j + 1
            if toks[k][1] == "space" and k + 1 < n and toks[k + 1][1] in _NAMEISH:
                k += 1
            if toks[k][1] in _NAMEISH and _gap_ok(unit, toks[j][3], toks[k][2]) and k - i < 5:
                j = k
            else:
                break
        if toks[i][2] >= taken:
            score = _accept_run(toks, i, j, unit)
            if score:
                yield ("pii.person_name", toks[i][2], toks[j][3], score)
        i = j + 1


def _label_spans(unit: str) -> list[tuple[int, int, bool]]:
    out = []
    for m in _LABEL_RX.finditer(unit):
        word = m.group().rstrip(" \u3000:：")
        kana = any(word.startswith(k) for k in KANA_LABELS) or "カナ" in word
        # a label is a label only at a field start: line start, after a separator, or
        # followed by a colon / space
        s = m.start()
        start_ok = s == 0 or unit[s - 1] in " \u3000\t,、。:：|｜/／()（）[]【】「」『』・\n"
        sep = m.group()[len(word) :] if len(m.group()) > len(word) else ""
        if start_ok or sep.strip() or sep:
            out.append((s, m.end(), kana))
    return out


def _after_label(unit: str, toks: list[Tok], at: int, kana: bool) -> tuple[int, int] | None:
    """The name right after a field label ending at ``at`` (None when none follows)."""
    if kana:
        m = _KANA_WORD.match(unit, at)
        if not m:
            return None
        end = m.end()
        m2 = re.compile("[ \u3000]").match(unit, end)
        if m2:
            m3 = _KANA_WORD.match(unit, m2.end())
            if m3:
                end = m3.end()
        return (at, end) if end - at >= 2 else None
    first = next((k for k, tk in enumerate(toks) if tk[2] >= at), None)
    if first is None or toks[first][2] - at > 1:
        return None
    j = first
    if toks[j][1] not in _NAMEISH and toks[j][1] != "prop":
        return None
    while j + 1 < len(toks) and j - first < 4:
        k = j + 1
        if toks[k][1] == "space" and k + 1 < len(toks):
            k += 1
        if toks[k][1] in _NAMEISH and _gap_ok(unit, toks[j][3], toks[k][2]):
            j = k
        else:
            break
    return toks[first][2], toks[j][3]


# --- romaji ------------------------------------------------------------------------

_HEPBURN = re.compile(
    r"(?:kk|ss|tt|pp|cch)?(?:ky|gy|sh|ch|ny|hy|by|py|my|ry|ts|j|[kgsztdnhbpmyrwfv])?[aiueo]h?"
    r"|n(?![aiueoy])",
)
_HEPBURN_WORD = re.compile(f"(?:{_HEPBURN.pattern})+", re.IGNORECASE)
# Two capitalised words, each entirely Hepburn syllables, separated by spaces: the regex
# engine rejects English words ("The", "Please") without a Python call.
_SYL = r"(?:(?:kk|ss|tt|pp|cch)?(?:ky|gy|sh|ch|ny|hy|by|py|my|ry|ts|j|[kgsztdnhbpmyrwfv])?[aiueo]h?|n(?![aiueoy]))"
_ROMAJI_PAIR = re.compile(
    rf"(?<![A-Za-z'.-])(?=[A-Z])((?i:{_SYL}){{1,8}})[ \u3000]{{1,2}}(?=[A-Z])((?i:{_SYL}){{1,8}})"
    r"(?![A-Za-z'-])"
)
_ROMAJI_TITLED = re.compile(
    r"(?<![A-Za-z])(?:Mr|Ms|Mrs|Miss|Dr|Prof)\.?[ \u3000]+"
    r"([A-Z][a-z]{1,13}(?:[ \u3000]+[A-Z][a-z]{1,13})?|[A-Z]{2,14}(?:[ \u3000]+[A-Z][a-z]{1,13})?)"
    r"(?![A-Za-z'-])"
    r"|(?<![A-Za-z])([A-Z][a-z]{1,13})-(?:san|sama|sensei|kun|shi)(?![a-z])"
    r"|(?i:(?<![a-z])(?:full[ _]?name|name|card ?holder(?: name)?|contact(?: person)?|attn\.?)"
    r"[ \t]*[:：][ \t]*)([A-Z][a-z]{1,13}(?:[ \u3000]+[A-Z][a-z]{1,13}){0,2}|[A-Z]{2,14}(?:[ \u3000]+[A-Z]{2,14}){0,2})"
    r"(?![A-Za-z'-])"
)

_KANA = {
    "a": "ア", "i": "イ", "u": "ウ", "e": "エ", "o": "オ",
    "ka": "カ", "ki": "キ", "ku": "ク", "ke": "ケ", "ko": "コ",
    "ga": "ガ", "gi": "ギ", "gu": "グ", "ge": "ゲ", "go": "ゴ",
    "sa": "サ", "shi": "シ", "si": "シ", "su": "ス", "se": "セ", "so": "ソ",
    "za": "ザ", "ji": "ジ", "zi": "ジ", "zu": "ズ", "ze": "ゼ", "zo": "ゾ",
    "ta": "タ", "chi": "チ", "ti": "チ", "tsu": "ツ", "tu": "ツ", "te": "テ", "to": "ト",
    "da": "ダ", "di": "ヂ", "du": "ヅ", "de": "デ", "do": "ド",
    "na": "ナ", "ni": "ニ", "nu": "ヌ", "ne": "ネ", "no": "ノ",
    "ha": "ハ", "hi": "ヒ", "fu": "フ", "hu": "フ", "he": "ヘ", "ho": "ホ",
    "ba": "バ", "bi": "ビ", "bu": "ブ", "be": "ベ", "bo": "ボ",
    "pa": "パ", "pi": "ピ", "pu": "プ", "pe": "ペ", "po": "ポ",
    "ma": "マ", "mi": "ミ", "mu": "ム", "me": "メ", "mo": "モ",
    "ya": "ヤ", "yu": "ユ", "yo": "ヨ",
    "ra": "ラ", "ri": "リ", "ru": "ル", "re": "レ", "ro": "ロ",
    "wa": "ワ", "wo": "ヲ", "n": "ン",
    "kya": "キャ", "kyu": "キュ", "kyo": "キョ", "gya": "ギャ", "gyu": "ギュ", "gyo": "ギョ",
    "sha": "シャ", "shu": "シュ", "sho": "ショ", "ja": "ジャ", "ju": "ジュ", "jo": "ジョ",
    "cha": "チャ", "chu": "チュ", "cho": "チョ", "nya": "ニャ", "nyu": "ニュ", "nyo": "ニョ",
    "hya": "ヒャ", "hyu": "ヒュ", "hyo": "ヒョ", "bya": "ビャ", "byu": "ビュ", "byo": "ビョ",
    "pya": "ピャ", "pyu": "ピュ", "pyo": "ピョ", "mya": "ミャ", "myu": "ミュ", "myo": "ミョ",
    "rya": "リャ", "ryu": "リュ", "ryo": "リョ", "je": "ジェ", "she": "シェ", "che": "チェ",
    "fa": "ファ", "fi": "フィ", "fe": "フェ", "fo": "フォ", "va": "ヴァ", "vi": "ヴィ",
    "ve": "ヴェ", "vo": "ヴォ", "vu": "ヴ", "ye": "イェ", "wi": "ウィ", "we": "ウェ",
}
_SYLLABLE = re.compile(
    "(" + "|".join(sorted((k for k in _KANA if k != "n"), key=len, reverse=True)) + "|n)"
)


def _to_katakana(word: str) -> list[str]:
    """Katakana spellings of a Hepburn word: as written, and with the long vowels romaji
    usually drops (Koji → コジ, コウジ; Ota → オタ, オオタ). Empty when not Hepburn."""
    w = word.lower().replace("oh", "oo")
    out: list[str] = []
    i = 0
    while i < len(w):
        if i + 1 < len(w) and w[i] == w[i + 1] and w[i] not in "aiueon":
            out.append("ッ")
            i += 1
            continue
        m = _SYLLABLE.match(w, i)
        if not m:
            return []
        out.append(_KANA[m.group()])
        i = m.end()
    base = "".join(out)
    variants = [base]
    # insert ウ after the o of one syllable (コジ → コウジ) or オ for "Ota" → オオタ
    for k, ch in enumerate(base):
        if ch in "オコゴソゾトドノホボポモヨロョ" and (k + 1 == len(base) or base[k + 1] not in "ウオー"):
            variants.append(base[: k + 1] + "ウ" + base[k + 1 :])
            if ch == "オ":
                variants.append(base[: k + 1] + "オ" + base[k + 1 :])
        if ch in "クグスズツヌフブプムユルュ" and (k + 1 == len(base) or base[k + 1] != "ウ"):
            variants.append(base[: k + 1] + "ウ" + base[k + 1 :])
        if len(variants) > 8:
            break
    return variants


@lru_cache(maxsize=8192)
def romaji_name_kind(word: str) -> str:
    """``sei``/``mei`` when the analyser knows the romaji ``word`` as a Japanese surname or
    given name (in any of its katakana spellings), ``kana`` when it is only Hepburn, else
    ``""`` (cached: names repeat)."""
    if not _HEPBURN_WORD.fullmatch(word):
        return ""
    an = analyser()
    for kana in _to_katakana(word):
        out = an.parse(kana)
        lines = [ln for ln in out.split("\n") if ln and ln != "EOS"]
        if len(lines) == 1:
            kind = _kind(lines[0].split("\t")[4] if lines[0].count("\t") >= 4 else "")
            if kind in ("sei", "mei"):
                return kind
            if "地名" in lines[0]:
                return ""
    return "kana"


def scan_romaji(t: str, deadline: Deadline) -> Iterator[Hit]:
    """Romaji names: see the module docstring. Linear: each regex runs once over ``t``."""
    for m in _ROMAJI_TITLED.finditer(t):
        g = next(k for k in (1, 2, 3) if m.group(k))
        yield ("pii.person_name", m.start(g), m.end(g), 0.85)
    for m in _ROMAJI_PAIR.finditer(t):
        deadline.check()
        a, b = m.group(1), m.group(2)
        if not (_case_ok(a) and _case_ok(b)):
            continue
        ka, kb = romaji_name_kind(a), romaji_name_kind(b)
        if ka and kb and {ka, kb} & {"sei", "mei"}:
            yield ("pii.person_name", m.start(), m.end(), 0.85)


def _case_ok(word: str) -> bool:
    """Capitalised (Taro) or all upper case (TARO)."""
    return word.isupper() or (word[0].isupper() and word[1:].islower())


__all__ = ["HONORIFICS", "LABELS", "TITLES", "romaji_name_kind", "scan_japanese", "scan_romaji"]
