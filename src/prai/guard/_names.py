"""Person names (``pii.person_name``): Japanese names in kanji and kana, and romaji names.

Evidence, strongest first:

* a full name: a surname followed by a given name, with or without a space between them.
  A surname is a word the morphological analyser (MeCab + UniDic, :mod:`prai.guard._ja`)
  tags ``名詞-固有名詞-人名-姓``, or a word of the surname list (``gimei``'s 500 most
  frequent surnames: the analyser reads many of them as place names, ``北川``, ``千葉``);
  a given name is a word tagged ``…-人名-名`` or one of the given-name list (``杏``,
  ``孝``) that ends the word. In kana, a surname reading followed by a given-name reading
  (``オオニシ エミ``, ``ヨコタリョウタ``, ``おがわ　たかこ``);
* context, which makes a single surname (or given name) a finding:
  an honorific or title right after it (様 さん 氏 殿 先生, 部長, 係長, 知事, 総裁 …, also
  after a space and with 元/前: ``岸田元首相``); a field label before it (氏名 担当
  申請者 患者 受付者 オペレーター 連帯保証人 …, also after a role word: ``記入者：受付
  菅原``, ``記入者：Ns.篠原``); a list after 出席者/参加者 (``出席者：比嘉、小山係長、樋口
  （営業）``); a self-introduction (``株式会社…の横田です``, ``担当の辻と申します``);
  a reading in brackets right after a name (``石田　次郎（イシダ　ジロウ）``,
  ``浜田　和也（Kazuya Hamada）``); CSV/TSV columns and JSON/log keys (:mod:`prai.guard._fields`);
* the document: once a name is found, its other occurrences in the same text are too, and
  so is the surname of a full name written alone (``金子 綾`` … ``金子が調査する``);
* romaji: two capitalised words written in Hepburn romaji of which one reads as a surname
  and the other as a given name of the lists (``ISHII Koji``, ``Sachiko Nishimura``), or of
  which the analyser knows one as a name; any two Hepburn words in a position names take
  (a chat speaker tag ``[10:02] Riku Hara:``, ``From: … <``, the line after ``Regards,``,
  ``Holder:``, ``name="…"``); a word after ``Mr.``/``Ms.``/``Dr.``/``Dear``, ``-san``,
  ``Name:``.

Not names: a surname inside an organisation's name (``株式会社鈴木建設``, ``鈴木建設``: the
word goes on), a word the analyser cut out of a longer katakana word (``羽田クロノゲート``,
``瀬木南プレイス``), company account holders (``カ）サクラショウジ``).

Spans cover the whole name (surname, space, given name), never the honorific. Text is
analysed sentence by sentence (pieces over :data:`MAX_UNIT_CHARS` are cut at punctuation),
only sentences that hold kanji or kana. Offsets are indices into the scanned text.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Iterator
from functools import lru_cache
from itertools import accumulate
from typing import cast

from prai.guard._deadline import UNLIMITED, Deadline
from prai.guard._ja import NameLists, analyser, names

Hit = tuple[str, int, int, float]
NAME = "pii.person_name"

#: Longest piece of text given to the analyser at once (characters).
MAX_UNIT_CHARS = 400

HONORIFICS = frozenset(
    ("様", "さま", "サマ", "さん", "サン", "氏", "殿", "先生", "くん", "君", "ちゃん", "御中様")
)
TITLES = frozenset((
    "部長", "課長", "係長", "社長", "副社長", "会長", "専務", "常務", "取締役", "主任", "所長",
    "室長", "支店長", "店長", "院長", "医師", "教授", "准教授", "弁護士", "税理士", "看護師",
    "議員", "理事長", "本部長", "次長", "代表", "選手", "監督", "記者", "主査", "参事",
    "副部長", "課長代理", "部長代理", "主幹", "局長", "署長", "校長", "教諭", "師長", "薬剤師",
    "リーダー", "マネージャー", "マネジャー", "担当", "知事", "副知事", "市長", "町長", "村長",
    "区長", "総裁", "副総裁", "首相", "総理", "大臣", "長官", "議長", "委員長", "理事",
    "容疑者", "被告", "被告人", "CEO", "COO", "CFO", "CTO",
))
# An honorific or title right after a name (a space and 元/前/現 allowed: 岸田元首相).
_AFTER = re.compile(
    "[ \u3000]?(?:元|前|現)?(?:"
    + "|".join(sorted(map(re.escape, HONORIFICS | TITLES), key=len, reverse=True)) + ")"
)
# Words right before a surname that make it part of an organisation's name.
_ORG_BEFORE = frozenset(("株式会社", "会社", "有限会社", "(株)", "（株）", "㈱", "合同会社"))
# Field labels after which a name follows (the longest match wins: 患者氏名 over 患者).
LABELS = (
    "氏名", "お名前", "名前", "姓名", "担当者", "担当", "申請者", "申込者", "患者氏名", "患者名",
    "患者", "受診者", "契約者", "代表者", "代表取締役", "記入者", "作成者", "承認者", "依頼者",
    "連絡者", "差出人", "受取人", "被保険者", "保護者", "責任者", "担当医", "主治医", "利用者",
    "宛名", "名義", "口座名義", "名義人", "送り主", "届出人", "本人", "署名", "世帯主",
    "受付者", "対応者", "入力者", "確認者", "オペレーター", "連帯保証人", "保証人", "会員氏名",
    "宿泊者名", "宿泊者", "漢字氏名", "面談者", "紹介者", "来訪者", "訪問者", "緊急連絡先",
    "カード名義", "名義人氏名", "申込人", "借主", "貸主", "配偶者",
)
KANA_LABELS = ("フリガナ", "ふりがな", "カナ氏名", "氏名カナ", "氏名（カナ）", "カナ", "よみがな")
#: Labels followed by a list of people (出席者：比嘉、小山係長、樋口（営業）).
LIST_LABELS = ("出席者", "参加者", "欠席者", "同席者", "出席", "参加", "メンバー", "参加メンバー")
_LABEL_RX = re.compile(
    "(?:" + "|".join(sorted(map(re.escape, LABELS + KANA_LABELS), key=len, reverse=True)) + ")"
    r"(?:（[^）\n]{0,8}）|\([^)\n]{0,8}\))?[ \u3000]*[:：]?[ \u3000]*"
)
_LIST_RX = re.compile(
    "(?:" + "|".join(sorted(map(re.escape, LIST_LABELS), key=len, reverse=True)) + ")"
    r"(?:（[^）\n]{0,8}）|\([^)\n]{0,8}\))?[ \u3000]*[:：][ \u3000]*"
)
# A role written between a label and the name (記入者：受付 菅原, 記入者：Ns.篠原).
_ROLE = re.compile(
    r"(?:受付|看護師|医師|担当|事務|薬剤師|Ns\.?|Dr\.?|ＮＳ|Ｎｓ)[ \u3000]*"
)
# Self-introductions: 〜の横田です / 担当の辻と申します.
_INTRO_AFTER = re.compile("(?:です|と申します|でございます|といいます|と言います)")
_INTRO_BEFORE = frozenset(("の", "は", "、", "。", "！", "!", "：", ":"))
# A role or title before 〜の + surname (部長の山田が, 弊社の佐藤より, 担当の辻が).
_ROLE_BEFORE = re.compile(
    "(?:" + "|".join(sorted(map(re.escape, TITLES | {"弊社", "当社", "秘書", "上司", "同僚", "部下"}),
                            key=len, reverse=True)) + ")$"
)
_HONORIFIC_OR_TITLE = re.compile(
    "|".join(sorted(map(re.escape, HONORIFICS | TITLES), key=len, reverse=True))
)
_JA = re.compile("[\u3040-\u30ff\u3400-\u9fff\uf900-\ufaff\uff66-\uff9f]")
_KANA_WORD = re.compile("[\u3041-\u3096\u30a1-\u30fa\u30fc\uff66-\uff9f]+")
_KANA_NAME = re.compile(
    "[\u3041-\u3096\u30a1-\u30fa\u30fc]{2,12}(?:[ \u3000・][\u3041-\u3096\u30a1-\u30fa\u30fc]{1,12})?"
)
_NAMEISH = frozenset(("sei", "mei", "jin"))
_WORDISH = frozenset(("prop", "place", "noun"))
_SPACE_CHARS = " \u3000\u00a0"


def _is_kanji(c: str) -> bool:
    return "\u3400" <= c <= "\u9fff" or "\uf900" <= c <= "\ufaff" or c in "々〆ヶ"


def _is_kata(c: str) -> bool:
    return "\u30a1" <= c <= "\u30fa" or c == "ー" or "\uff66" <= c <= "\uff9f"


def _is_hira(c: str) -> bool:
    return "\u3041" <= c <= "\u3096"


def _kind(pos: str) -> str:
    kind = _KINDS.get(pos)
    if kind is None:
        kind = _kind_of(pos)
        if len(_KINDS) < 4096:  # UniDic has a few hundred POS strings
            _KINDS[pos] = kind
    return kind


_KINDS: dict[str, str] = {}


def _kind_of(pos: str) -> str:
    if "人名" in pos:
        if pos.endswith("姓"):
            return "sei"
        if pos.endswith("名"):
            return "mei"
        return "jin"
    if pos == "空白":
        return "space"
    if "固有名詞" in pos:
        return "place" if "地名" in pos else "prop"
    if pos.startswith("名詞") or pos.startswith("接尾辞"):
        return "noun"
    return "other"


Tok = tuple[str, str, int, int]  # surface, kind, start, end (offsets into the unit)


def _fields_of(out: str) -> list[str]:
    """The analyser's output (``surface\\tPOS`` lines, then ``EOS``: see
    prai.guard._ja.TAGGER_ARGS) as one flat list: surface, POS, surface, POS, …, ``EOS``."""
    return out.replace("\n", "\t").split("\t")


def _tokens(unit: str, out: str, flat: list[str] | None = None) -> list[Tok]:
    """The analyser's tokens with their offsets in ``unit``. Fast path, the usual case:
    every line is a surface and its POS and the surfaces written end to end are the unit
    (MeCab dropped nothing), so the offsets are their running lengths, computed without a
    Python step per token."""
    flat = _fields_of(out) if flat is None else flat
    if len(flat) % 2 and flat[-1] == "EOS" and "\t" not in unit and "\u00a0" not in unit:
        surfs = flat[0:-1:2]
        if "" not in surfs and "".join(surfs) == unit:
            poses = flat[1::2]
            known = list(map(_KINDS.get, poses))
            kinds = list(map(_kind, poses)) if None in known else cast("list[str]", known)
            ends = list(accumulate(map(len, surfs)))
            return list(zip(surfs, kinds, [0, *ends[:-1]], ends, strict=True))
    toks: list[Tok] = []
    pos = 0
    n = len(unit)
    for line in out.split("\n"):
        if not line or line == "EOS":
            continue
        f = line.split("\t", 1)
        surf = f[0]
        if not surf:
            continue
        while pos < n and unit[pos] in " \t\u00a0":
            pos += 1
        s = pos if unit.startswith(surf, pos) else unit.find(surf, pos)
        if s < 0:
            continue
        pos = s + len(surf)
        toks.append((surf, _kind(f[1]) if len(f) > 1 else "other", s, pos))
    return toks


# 。！？!? and line ends, and a full stop before a space (``[。！？!?\n]|\.(?=\s)`` written to
# start with one character class: Python's regex engine then skips to candidates in C)
_SENTENCE_END = re.compile(r"[。！？!?\n.](?:(?<=\.)(?=\s)|(?<!\.))")


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
    return b - a <= 1 and (a == b or unit[a] in _SPACE_CHARS)


class _Unit:
    """One analysed sentence and the name rules over its tokens."""

    def __init__(self, unit: str, toks: list[Tok], lists: NameLists) -> None:
        self.u = unit
        self.toks = toks
        self.lists = lists
        self.starts = dict(zip([tk[2] for tk in toks], range(len(toks)), strict=True))

    # -- word classes ---------------------------------------------------------------

    def surname(self, k: int) -> bool:
        surf, kind, _s, _e = self.toks[k]
        return kind == "sei" or (surf in self.lists.surnames and kind != "other")

    def given(self, k: int) -> bool:
        surf, kind, _s, _e = self.toks[k]
        return kind in ("mei", "jin") or (surf in self.lists.given and kind != "other")

    def single_ok(self, k: int) -> bool:
        """A word that may be a name alone, given context."""
        return self.toks[k][1] in _NAMEISH or self.surname(k)

    # -- boundaries -------------------------------------------------------------------

    def after_title(self, e: int) -> bool:
        return _AFTER.match(self.u, e) is not None

    def cut_from_word(self, s: int, e: int) -> bool:
        """True when [s, e) is a piece of a longer word (katakana goes on before or after;
        a kanji name followed by katakana: 瀬木南プレイス)."""
        u = self.u
        if s > 0 and _is_kata(u[s - 1]) and (_is_kata(u[s]) or u[s - 1] != "ー"):
            return True
        return bool(e < len(u) and _is_kata(u[e]) and u[e] != "ー" and not self.after_title(e))

    def word_ends(self, e: int) -> bool:
        """Nothing of the same word follows ``e``: not kanji or kana, unless a title."""
        u = self.u
        if e >= len(u):
            return True
        c = u[e]
        if not (_is_kanji(c) or _is_kata(c) or _is_hira(c)):
            return True
        return self.after_title(e)

    def org_before(self, k: int) -> bool:
        return k > 0 and self.toks[k - 1][0] in _ORG_BEFORE and self.toks[k - 1][3] == self.toks[k][2]

    # -- candidates -------------------------------------------------------------------

    def full_name(self, i: int) -> tuple[int, float] | None:
        """(index of the last token, score) of a surname + given name starting at token i."""
        toks = self.toks
        n = len(toks)
        if not (self.surname(i) or toks[i][1] == "jin"):
            return None
        k = i + 1
        if k < n and toks[k][1] == "space":
            k += 1
        if k >= n or not _gap_ok(self.u, toks[i][3], toks[k][2]) or not (
            self.given(k) or toks[k][1] == "sei"
        ):
            return None
        j = k
        while j + 1 < n and j - i < 4 and toks[j + 1][1] in ("mei", "jin") and toks[j + 1][2] == toks[j][3]:
            j += 1
        tagged = toks[i][1] in _NAMEISH and toks[j][1] in _NAMEISH
        if toks[j][1] not in _NAMEISH:
            # a given name only on the list must end the word (岩崎元社長: 元 is no name)
            s, e = toks[i][2], toks[j][3]
            nxt = self.u[e : e + 1]
            if not self.word_ends(e) or (e - toks[j][2] == 1 and nxt and _is_kanji(nxt)):
                return None
            if toks[i][1] not in _NAMEISH and e - s - (1 if k > i + 1 else 0) < 3:
                return None  # two list words need 3+ characters (東大)
        return j, (0.9 if tagged else 0.85)

    def candidate(self, k: int) -> tuple[int, int, float] | None:
        """(start, end, score) of the name at token k: a full name, else a single word."""
        if self.org_before(k):
            return None
        full = self.full_name(k)
        if full is not None:
            j, score = full
            s, e = self.toks[k][2], self.toks[j][3]
        elif self.single_ok(k) or self.toks[k][1] == "prop":
            s, e, score = self.toks[k][2], self.toks[k][3], 0.0
        else:
            return None
        if self.cut_from_word(s, e):
            return None
        return s, e, score

    def names(
        self, labels: list[tuple[int, int, bool]] | None = None
    ) -> Iterator[tuple[int, int, float]]:
        """Names in the unit, from every rule (overlaps are resolved by the scanner);
        ``labels``: :func:`_label_spans` of the unit when already known."""
        u, toks = self.u, self.toks
        for ls, le, kana in _label_spans(u) if labels is None else labels:
            span = self.after_label(le, kana, u[ls:le])
            if span:
                yield span
        for m in _LIST_RX.finditer(u):
            yield from self.list_items(m.end())
        done = -1
        # only a person tag or a word of the surname list can start a name here (a full
        # name needs one first, a single word needs one to be single_ok): skip the rest
        surnames = self.lists.surnames
        for k, (surf, kind, s, _e) in enumerate(toks):
            if kind not in _NAMEISH and not (kind in _WORDISH and surf in surnames):
                continue
            if s < done:
                continue
            c = self.candidate(k)
            if c is None:
                continue
            cs, ce, score = c
            if score:  # a full name
                yield cs, ce, score
                done = ce
                continue
            if not self.single_ok(k):
                continue
            if (self.after_title(ce) and (self.word_ends(ce))) or self.intro(k):
                yield cs, ce, 0.85

    def intro(self, k: int) -> bool:
        """``…の横田です``, ``担当の辻と申します``, ``佐野です！`` (at the start), and a role
        before: ``部長の山田が``, ``弊社の佐藤より``."""
        toks = self.toks
        if toks[k][1] != "sei" and toks[k][0] not in self.lists.surnames:
            return False
        if (
            k >= 2
            and toks[k - 1][0] == "の"
            and _ROLE_BEFORE.search(self.u, max(0, toks[k - 1][2] - 8), toks[k - 1][2])
            and self.u[toks[k][3] : toks[k][3] + 1] in _PARTICLE_AFTER
        ):
            return True
        if _INTRO_AFTER.match(self.u, toks[k][3]) is None:
            return False
        if k == 0 or self.u[: toks[k][2]].strip(" \u3000「『【[") == "":
            return True
        return toks[k - 1][0] in _INTRO_BEFORE

    def after_label(self, at: int, kana: bool, word: str) -> tuple[int, int, float] | None:
        """The name right after a field label ``word`` ending at ``at`` (None when none
        follows). After a kana label any kana words are the name; after a name label
        (氏名, 名義 …) katakana words are; after other labels kana words only when they read
        as surname + given name."""
        u = self.u
        m = _ROLE.match(u, at)
        for pos in (at, m.end()) if m else (at,):
            m2 = _KANA_NAME.match(u, pos)
            if m2 is not None:
                end = m2.end()
                if end < len(u) and u[end] in ")）":  # カ）サクラ: a company's account
                    continue
                first, _, second = m2.group().replace("\u3000", " ").replace("・", " ").partition(" ")
                if kana or (_is_kata(u[pos]) and any(w in word for w in ("名", "義"))) or _kana_name(
                    first, self.lists, second
                ):
                    return pos, end, 0.85
                continue
            k = self.starts.get(pos)
            if k is None and pos < len(u) and u[pos] in _SPACE_CHARS:
                k = self.starts.get(pos + 1)
            if k is None:
                continue
            c = self.candidate(k)
            if c is None:
                continue
            s, e, score = c
            if score or self.word_ends(e) or u[e : e + 1] in ("（", "("):
                return s, e, max(score, 0.85)
        return None

    def list_items(self, at: int) -> Iterator[tuple[int, int, float]]:
        """Each person of a list after 出席者：… up to the end of the unit."""
        u = self.u
        pos = at
        while pos < len(u):
            while pos < len(u) and u[pos] in _SPACE_CHARS:
                pos += 1
            k = self.starts.get(pos)
            if k is not None:
                c = self.candidate(k)
                if c is not None:
                    s, e, score = c
                    nxt = u[e : e + 1]
                    if score or nxt in ("", "、", ",", "，", "（", "(", " ", "\u3000", "\n") or self.after_title(e):
                        yield s, e, max(score, 0.85)
            cut = min((i for i in (u.find(c, pos) for c in "、,，") if i >= 0), default=-1)
            if cut < 0:
                break
            pos = cut + 1

    def readings(self, spans: list[tuple[int, int, float]]) -> Iterator[tuple[int, int, float]]:
        """A reading in brackets right after a name: 石田　次郎（イシダ　ジロウ）, 浜田　和也
        （Kazuya Hamada）, 菅原正樹　殿（スガワラ　マサキ）."""
        u = self.u
        for _s, e, _sc in spans:
            m = _READING.match(u, e)
            if m:
                g = 1 if m.group(1) else 2
                yield m.start(g), m.end(g), 0.85


_READING = re.compile(
    r"[ \u3000]*(?:様|さま|殿|さん|氏)?[ \u3000]*[（(][ \u3000]*"
    r"(?:([\u3041-\u3096\u30a1-\u30fa\u30fc]{2,12}(?:[ \u3000・][\u3041-\u3096\u30a1-\u30fa\u30fc]{1,12})?)"
    r"|([A-Z][A-Za-z]{1,14}(?:[ \u3000][A-Z][A-Za-z]{1,14}){1,2}))[ \u3000]*[）)]"
)


def _label_spans(unit: str) -> list[tuple[int, int, bool]]:
    out = []
    for m in _LABEL_RX.finditer(unit):
        word = m.group().rstrip(" \u3000:：")
        kana = any(word.startswith(k) for k in KANA_LABELS) or "カナ" in word
        # a label is a label only at a field start: line start, after a separator, or
        # followed by a colon / space
        s = m.start()
        start_ok = s == 0 or unit[s - 1] in " \u3000\t,、。:：|｜/／()（）[]【】「」『』・\n"
        sep = m.group()[len(word) :]
        if sep or (start_ok and not kana):  # ）カナニワ: カナ here is no label
            out.append((s, m.end(), kana))
    return out


def scan_japanese(t: str, deadline: Deadline, lo: int = 0, hi: int | None = None) -> Iterator[Hit]:
    """Japanese names in ``t[lo:hi]`` (see the module docstring).

    A sentence's names depend on the sentence alone, so they are remembered per sentence
    (:data:`UNIT_CACHE_SIZE` sentences, keyed by a BLAKE2b digest: the cache holds offsets,
    never text): a chat history sent again with each turn, or a stream's context window,
    is analysed once."""
    hi = len(t) if hi is None else hi
    for us, ue in _units(t, lo, hi):
        unit = t[us:ue]
        if _JA.search(unit) is None:
            continue
        deadline.check()
        if UNIT_CACHE_SIZE <= 0:
            spans = _unit_names(unit)
        else:
            key = hashlib.blake2b(unit.encode("utf-8", "surrogatepass"), digest_size=16).digest()
            cached = _UNIT_CACHE.get(key)
            if cached is None:
                cached = _unit_names(unit)
                if len(_UNIT_CACHE) >= UNIT_CACHE_SIZE:
                    _UNIT_CACHE.clear()
                _UNIT_CACHE[key] = cached
            spans = cached
        yield from ((NAME, us + s, us + e, sc) for s, e, sc in spans)


#: Sentences whose names are remembered (see :func:`scan_japanese`); 0 turns the cache off
#: (bench/guard_scan.py does for its scan rates: its corpus repeats a few sentences).
UNIT_CACHE_SIZE = 4096
_UNIT_CACHE: dict[bytes, tuple[tuple[int, int, float], ...]] = {}


def _unit_names(unit: str) -> tuple[tuple[int, int, float], ...]:
    """(start, end, score) of the names in one sentence."""
    lists = names()
    # the analyser drops ASCII spaces and may then read across them (運送 後藤様 →
    # 運送/後/藤): an ideographic space (same length) is a word boundary to it
    if " " in unit:
        unit = unit.replace(" ", "\u3000")
    out = analyser().parse(unit)
    labels = _label_spans(unit)
    flat = None
    if "人名" not in out and not labels and _LIST_RX.search(unit) is None:
        # No person tag and no label: a name can only start at a word of the surname list,
        # and then only with context (an honorific or a title anywhere in the sentence, a
        # self-introduction); the cheap regexes first, the surname lookup last.
        if _INTRO_AFTER.search(unit) is None and _HONORIFIC_OR_TITLE.search(unit) is None:
            return ()
        flat = _fields_of(out)
        if lists.surnames.isdisjoint(flat[0::2]):
            return ()
    u = _Unit(unit, _tokens(unit, out, flat), lists)
    spans = list(u.names(labels))
    spans.extend(u.readings(spans))
    return tuple(spans)


# --- kana names without context ------------------------------------------------------

# Katakana names: two words (either may be short) or one word of 4+ letters; no ー (names
# rarely hold one, loanwords often do: データ, サーバー), so most loanwords never match.
_KATA_RUN = re.compile(
    r"(?:([\u30a1-\u30fa](?<![\u30a1-\u30fa\u30fc\uff66-\uff9f][\u30a1-\u30fa])[\u30a1-\u30fa]{1,9})"
    r"[ \u3000・]([\u30a1-\u30fa]{1,10})"
    r"|([\u30a1-\u30fa](?<![\u30a1-\u30fa\u30fc\uff66-\uff9f][\u30a1-\u30fa])[\u30a1-\u30fa]{3,11}))"
    r"(?![\u30a1-\u30fa\u30fc\uff66-\uff9f])"
)
# A katakana run (the class of _KATA_RUN's look-behind): _KATA_RUN can only start a match
# where one starts, so it is tried there alone (its leading look-behind would otherwise make
# the regex engine try every position of the text in turn, three times slower).
_KATA_ANY = re.compile("[\u30a1-\u30fa\u30fc\uff66-\uff9f]+")


def _kata_runs(t: str) -> Iterator[re.Match[str]]:
    """The matches of ``_KATA_RUN.finditer(t)``."""
    end = 0
    for r in _KATA_ANY.finditer(t):
        p = r.start()
        if p < end or not ("\u30a1" <= t[p] <= "\u30fa"):
            continue
        m = _KATA_RUN.match(t, p)
        if m is not None:
            end = m.end()
            yield m


# two hiragana words: anchored on the space between them (rare in Japanese prose)
_HIRA_GAP = re.compile(r"[ \u3000](?=[\u3041-\u3096])(?<=[\u3041-\u3096][ \u3000])")
_HIRA_LEFT = re.compile(r"(?<![\u3041-\u3096])[\u3041-\u3096]{2,8}$")
_HIRA_RIGHT = re.compile(r"[\u3041-\u3096]{1,8}(?![\u3041-\u3096])")
# hiragana written without a space: only alone in a table cell (しのはらこうへい)
_HIRA_CELL = re.compile(r"[\u3041-\u3096](?<![^\t,\n][\u3041-\u3096])[\u3041-\u3096]{3,11}(?=[\t,\n]|$)")


def _to_kata(s: str) -> str:
    return "".join(chr(ord(c) + 0x60) if "\u3041" <= c <= "\u3096" else c for c in s)


def _kana_name(word: str, lists: NameLists, second: str = "") -> bool:
    """True when kana ``word`` (+ ``second``) reads as surname + given name (either order
    for two words), or, written without a space, splits into a surname and a given name."""
    a = _to_kata(word)
    if second:
        b = _to_kata(second)
        return (a in lists.surname_kana and b in lists.given_kana) or (
            a in lists.given_kana and b in lists.surname_kana and len(b) >= 3
        )
    return any(a[:k] in lists.surname_kana and a[k:] in lists.given_kana for k in range(2, len(a) - 1))


def scan_kana(t: str, deadline: Deadline) -> Iterator[Hit]:
    """Names written in katakana or hiragana with no context: a surname reading and a
    given-name reading of the lists (``オオニシ エミ``, ``ヨコタリョウタ``); hiragana only
    as two words (``おがわ　たかこ``) or alone in a table cell (``しのはらこうへい``)."""
    lists = names()
    for m in _kata_runs(t):
        deadline.check()
        if m.start() > 0 and t[m.start() - 1] in ")）":  # ）カナニワ: a company's account
            continue
        a, b = m.group(1), m.group(2)
        if a is None:
            if _kana_name(m.group(3), lists):
                yield (NAME, m.start(), m.end(), 0.8)
        elif _kana_name(a, lists, b):
            yield (NAME, m.start(), m.end(), 0.8)
        elif len(a) >= 4 and _kana_name(a, lists):  # ヨコタリョウタ followed by a word
            yield (NAME, m.start(1), m.end(1), 0.8)
    for g in _HIRA_GAP.finditer(t):
        deadline.check()
        left = _HIRA_LEFT.search(t, max(0, g.start() - 8), g.start())
        right = _HIRA_RIGHT.match(t, g.end())
        if left and right and _kana_name(left.group(), lists, right.group()):
            yield (NAME, left.start(), right.end(), 0.8)
    for m in _HIRA_CELL.finditer(t):
        deadline.check()
        if _kana_name(m.group(), lists):
            yield (NAME, m.start(), m.end(), 0.8)


# --- the same name elsewhere in the text -------------------------------------------------

_PARTICLE_AFTER = frozenset("がはをにのともへでやよか、。，,（(）)」』 \u3000\n\t:：")


#: Most distinct names one text's repeats are searched for (keeps the search linear).
MAX_PROPAGATED = 256


def propagate(t: str, hits: Iterable[Hit], deadline: Deadline = UNLIMITED) -> list[Hit]:
    """Other occurrences of names already found in ``t``: the whole name, and the surname
    of a kanji full name written alone (``金子 綾`` … ``金子が``). An occurrence must be a
    word of its own (no kanji or katakana of the same word around it; a one-character
    surname only before a particle, punctuation or a title). Linear: one regex of at most
    :data:`MAX_PROPAGATED` names, overlaps checked against the sorted findings in one pass."""
    lists = names()
    found: dict[str, float] = {}
    spans: list[tuple[int, int]] = []
    for det, s, e, _sc in hits:
        if det != NAME:
            continue
        spans.append((s, e))
        if len(found) >= MAX_PROPAGATED:
            continue
        word = t[s:e]
        if len(word) >= 2:
            found.setdefault(word, 0.8)
        sur = _surname_of(word, lists)
        if sur:
            found.setdefault(sur, 0.75)
    if not found:
        return []
    rx = re.compile("|".join(map(re.escape, sorted(found, key=len, reverse=True))))
    taken = sorted(spans)
    out: list[Hit] = []
    k = 0
    reach = -1  # the furthest end of the findings starting before the match's end
    for m in rx.finditer(t):
        deadline.check()
        s, e = m.span()
        while k < len(taken) and taken[k][0] < e:
            reach = max(reach, taken[k][1])
            k += 1
        # matches come in order: a finding starting before e overlaps when it ends after s
        if reach > s:
            continue
        if not _own_word(t, s, e):
            continue
        out.append((NAME, s, e, found[m.group()]))
    return out


def _surname_of(word: str, lists: NameLists) -> str:
    """The surname part of a kanji full name (``金子 綾`` → ``金子``), '' when unknown."""
    if not word or not _is_kanji(word[0]):
        return ""
    head = re.split("[ \u3000]", word, maxsplit=1)
    if len(head) == 2 and head[0] and all(_is_kanji(c) for c in head[0]):
        return head[0] if (len(head[0]) >= 2 or head[0] in lists.surnames) else ""
    for k in (3, 2, 1):
        if len(word) > k and word[:k] in lists.surnames:
            return word[:k]
    return ""


def _own_word(t: str, s: int, e: int) -> bool:
    before = t[s - 1] if s > 0 else ""
    after = t[e] if e < len(t) else ""
    first, last = t[s], t[e - 1]
    if first.isascii():
        return not (before.isalnum() or after.isalnum())
    if _is_kanji(first) and before and _is_kanji(before):
        return False
    if _is_kata(first) and before and _is_kata(before):
        return False
    if _is_hira(first) and before and _is_hira(before):
        return False
    if not after:
        return True
    if _is_kanji(last) and (_is_kanji(after) or _is_kata(after)):
        return _AFTER.match(t, e) is not None
    if (_is_kata(last) and _is_kata(after)) or (_is_hira(last) and _is_hira(after)):
        return False
    if e - s == 1:
        return after in _PARTICLE_AFTER or _AFTER.match(t, e) is not None
    return True


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
# A name after a title (Mr. Sato, Ms. YAMADA Hanako).
_ROMAJI_TITLED = re.compile(
    r"(?:Mr|Ms|Mrs|Miss|Dr|Prof)(?<![A-Za-z][MDP][a-z])(?<![A-Za-z][MD][a-z][a-z])\.?[ \u3000]+"
    r"([A-Z][a-z]{1,13}(?:[ \u3000]+[A-Z][a-z]{1,13})?|[A-Z]{2,14}(?:[ \u3000]+[A-Z][a-z]{1,13})?)"
    r"(?![A-Za-z'-])"
)
# A name before an honorific (Tanaka-san, Yoshikawaさん): anchored on the honorific's
# first letter, the word found leftwards.
_ROMAJI_HONORIFIC = re.compile(r"[a-z](?:-(?:san|sama|sensei|kun|shi)(?![a-z])|さん|様|さま|氏|くん)")
# its honorific alone: every branch starts with a literal, which the regex engine skips to
_HONORIFIC_EN = re.compile(r"-(?:san|sama|sensei|kun|shi)(?![a-z])|さん|様|さま|氏|くん")


def _romaji_honorifics(t: str) -> Iterator[int]:
    """Start of each match of ``_ROMAJI_HONORIFIC.finditer(t)`` (a lower-case letter right
    before an honorific), found from the honorifics: no two of them overlap, so each match
    is the letter before one."""
    end = 0
    for h in _HONORIFIC_EN.finditer(t):
        q = h.start()
        if q - 1 >= end and "a" <= t[q - 1] <= "z":
            end = h.end()
            yield q - 1
_CAP_WORD_BEFORE = re.compile(r"(?<![A-Za-z])[A-Z][a-z]{1,13}$")
# A name after a label (Name: …, CARD HOLDER: …, カード名義：…): anchored on the colon,
# the label checked leftwards.
_COLON_NAME = re.compile(
    r"[:：][ \t]*([A-Z][a-z]{1,13}(?:[ \u3000]+[A-Z][a-z]{1,13}){0,2}|[A-Z]{2,14}(?:[ \u3000]+[A-Z]{2,14}){0,2})"
    r"(?![A-Za-z'-])"
)
_NAME_LABEL_BEFORE = re.compile(
    r"(?i:(?<![a-z])(?:full[ _]?name|name|card ?holder(?: name)?|holder|guest(?: name)?"
    r"|contact(?: person)?|attn\.?|名義|氏名|お名前|宿泊者名|署名))[ \t]*$"
)

# Positions where a person's name is written (any two Hepburn words there are a name): a
# chat speaker tag, an e-mail From header, the line after a closing, a key="…" value.
_PAIR_BODY = rf"((?=[A-Z])(?i:{_SYL}){{1,8}}[ \u3000](?=[A-Z])(?i:{_SYL}){{1,8}})(?![A-Za-z'-])"
# Each branch starts with a literal character, so the regex engine skips to the candidates
# quickly; the rest of each position is checked in Python (line start, the key, the
# closing word on the line before).
_ROMAJI_PLACED = re.compile(
    rf"\[[0-9]{{1,2}}:[0-9]{{2}}(?::[0-9]{{2}})?\][ \t]*{_PAIR_BODY}"
    rf"|From:[ \t]*{_PAIR_BODY}"
    rf"|=\"{_PAIR_BODY}"
    rf"|,[ \t]*\r?\n(?:[ \t]*\r?\n)?[ \t]*{_PAIR_BODY}"
    rf"|Dear[ \t]+((?=[A-Z])(?i:{_SYL}){{1,8}})(?=[ \t]*,)"  # Dear Ohashi,
)
_CLOSING = re.compile(r"(?i:regards|sincerely|best|thanks|thank you|cheers)[ \t]*$")
_NAME_KEY_BEFORE = re.compile(r"(?<![A-Za-z_])(?:name|customer|user|holder|contact)$")


def _placed_ok(t: str, m: re.Match[str], g: int) -> bool:
    s = m.start()
    if g in (1, 2):  # a chat tag or From: at the start of a line
        return s == 0 or t[s - 1] == "\n"
    if g == 3:
        return _NAME_KEY_BEFORE.search(t, max(0, s - 12), s) is not None
    if g == 4:  # the line ending with this comma is a closing (Best regards,)
        line_start = t.rfind("\n", max(0, s - 40), s) + 1
        return _CLOSING.search(t, line_start, s) is not None and (s - line_start) <= 30
    return s == 0 or not t[s - 1].isalpha()

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


_OH = re.compile("oh(?![aiueo])")
_LONG_O = "オコゴソゾトドノホボポモヨロョ"
_LONG_U = "クグスズツヌフブプムユルュ"


def _to_katakana(word: str) -> list[str]:
    """Katakana spellings of a Hepburn word: as written, and with the long vowels romaji
    usually drops, one or two of them (Koji → コジ, コウジ; Ota → オタ, オオタ; Kotaro →
    コウタロウ). Empty when not Hepburn."""
    w = _OH.sub("oo", word.lower())
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
    spots = [
        k for k, ch in enumerate(base)
        if (ch in _LONG_O and (k + 1 == len(base) or base[k + 1] not in "ウオー"))
        or (ch in _LONG_U and (k + 1 == len(base) or base[k + 1] != "ウ"))
    ][:6]
    for a in spots:
        one = base[: a + 1] + "ウ" + base[a + 1 :]
        variants.append(one)
        if base[a] == "オ":
            variants.append(base[: a + 1] + "オ" + base[a + 1 :])
        for b in spots:
            if b > a:
                variants.append(one[: b + 2] + "ウ" + one[b + 2 :])
    return variants


@lru_cache(maxsize=8192)
def romaji_name_kind(word: str) -> str:
    """What the romaji ``word`` reads as: ``sei`` (a surname of the list, or one the
    analyser knows), ``mei`` (a given name), ``both``, ``kana`` when it is only Hepburn,
    else ``""`` (cached: names repeat)."""
    if not _HEPBURN_WORD.fullmatch(word):
        return ""
    lists = names()
    spellings = _to_katakana(word)
    sei = any(k in lists.surname_kana for k in spellings)
    mei = any(k in lists.given_kana for k in spellings)
    if sei or mei:
        return "both" if sei and mei else ("sei" if sei else "mei")
    an = analyser()
    for kana in spellings[:4]:
        out = an.parse(kana)
        lines = [ln for ln in out.split("\n") if ln and ln != "EOS"]
        if len(lines) == 1:
            kind = _kind(lines[0].split("\t")[1] if "\t" in lines[0] else "")
            if kind in ("sei", "mei"):
                return kind
            if "地名" in lines[0]:
                return ""
    return "kana"


def scan_romaji(t: str, deadline: Deadline) -> Iterator[Hit]:
    """Romaji names: see the module docstring. Linear: each regex runs once over ``t``."""
    for m in _ROMAJI_TITLED.finditer(t):
        yield (NAME, m.start(1), m.end(1), 0.85)
    for at in _romaji_honorifics(t):
        deadline.check()
        w = _CAP_WORD_BEFORE.search(t, max(0, at - 13), at + 1)
        if w:
            yield (NAME, w.start(), w.end(), 0.85)
    for m in _COLON_NAME.finditer(t):
        deadline.check()
        if _NAME_LABEL_BEFORE.search(t, max(0, m.start() - 24), m.start()):
            yield (NAME, m.start(1), m.end(1), 0.85)
    for m in _ROMAJI_PLACED.finditer(t):
        deadline.check()
        g = m.lastindex or 0
        if not g or not _placed_ok(t, m, g):
            continue
        a, _, b = m.group(g).replace("\u3000", " ").partition(" ")
        if _case_ok(a) and (not b or _case_ok(b)):
            yield (NAME, m.start(g), m.end(g), 0.85)
    for m in _ROMAJI_PAIR.finditer(t):
        deadline.check()
        a, b = m.group(1), m.group(2)
        if not (_case_ok(a) and _case_ok(b)):
            continue
        ka, kb = romaji_name_kind(a), romaji_name_kind(b)
        if ka and kb and {ka, kb} & {"sei", "mei", "both"}:
            yield (NAME, m.start(), m.end(), 0.85)


def _case_ok(word: str) -> bool:
    """Capitalised (Taro) or all upper case (TARO)."""
    return word.isupper() or (word[0].isupper() and word[1:].islower())


__all__ = [
    "HONORIFICS", "LABELS", "TITLES", "propagate", "romaji_name_kind", "scan_japanese", "scan_kana",
    "scan_romaji",
]
