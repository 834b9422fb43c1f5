"""Word-shaped detectors: e-mail, secrets, prompt injection (Japanese and English).

Every search starts from a literal (``@``, ``AKIA``, ``-----BEGIN``, ``ignore``, ``無視`` …)
so the regex engine's literal search skips ordinary text; the full pattern runs only on a
small window around each anchor. English patterns run on a lower-cased copy of the same
length, so offsets are shared.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import compress
from operator import sub
from typing import Any

from prai.guard._checks import char_classes, shannon_entropy

Hit = tuple[str, int, int, float]


def word_alternation(words: tuple[str, ...]) -> re.Pattern[str]:
    """One regex matching any of ``words`` (longest first), factored as a trie: ``re`` tries
    alternatives one by one, so shared prefixes make the scan ~1.5x faster than a flat
    ``a|b|c`` (measured in bench/guard_scan.py's corpus)."""
    trie: dict[str, Any] = {}
    for word in words:
        node = trie
        for ch in word:
            node = node.setdefault(ch, {})
        node[""] = {}

    def build(node: dict[str, Any]) -> str:
        alts = [re.escape(ch) + build(sub) for ch, sub in sorted(node.items()) if ch]
        if not alts:
            return ""
        body = alts[0] if len(alts) == 1 else "(?:" + "|".join(alts) + ")"
        return f"(?:{body})?" if "" in node else body

    return re.compile(build(trie))


# --- e-mail ------------------------------------------------------------------------

# One regex, linear in the text: the local part may start only where a run of local-part
# characters starts (the lookbehind), so no position inside a long run is tried again.
_L = r"A-Za-z0-9._%+'\-"
_EMAIL = re.compile(
    rf"(?<![{_L}])[{_L}]{{1,64}}@"
    r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+([A-Za-z]{2,24})(?![A-Za-z0-9-])"
)


_AT = re.compile("@(?:[^@]{0,320}@)*")


def scan_email(t: str) -> Iterator[Hit]:
    """E-mail addresses (RFC 5321 dot-atom local part of at most 64 characters, DNS domain
    with an alphabetic TLD). Linear in ``len(t)``."""
    if "@" not in t:
        return
    for ws, we in _email_windows(t):
        yield from _emails_in(t, ws, we)


def _email_windows(t: str) -> list[tuple[int, int]]:
    """Merged windows around each ``@``: 64 characters before, 256 after (linear)."""
    out: list[tuple[int, int]] = []
    n = len(t)
    for m in _AT.finditer(t):  # a cluster of @ less than 320 characters apart: one window
        s, e = max(0, m.start() - 65), min(n, m.end() + 256)
        if out and s <= out[-1][1]:
            out[-1] = (out[-1][0], e)
        else:
            out.append((s, e))
    return out


def _emails_in(t: str, ws: int, we: int) -> Iterator[Hit]:
    for m in _EMAIL.finditer(t, ws, we):
        i, e = m.span()
        at = t.index("@", i)
        while i < at and t[i] in ".-'":
            i += 1
        local = t[i:at]
        if local and not local.endswith(".") and ".." not in local:
            yield ("pii.email", i, e, 0.99)


# --- secrets ---------------------------------------------------------------------

_AWS = re.compile(r"A(?:KIA|SIA|IDA|ROA|IPA|NPA|NVA|GPA)[A-Z0-9]{16}(?![A-Za-z0-9])")
_PRIVATE_BEGIN = re.compile(r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----")
_PRIVATE_END = re.compile(r"-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----")
# Tokens with a known prefix: one pass finds the prefixes, the full pattern runs there.
_PREFIXED = re.compile(
    r"eyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}"  # JWT
    r"|gh[pousr]_[A-Za-z0-9]{36,255}"  # GitHub
    r"|github_pat_[A-Za-z0-9_]{22,255}"
    r"|glpat-[A-Za-z0-9_-]{20,}"  # GitLab
    r"|xox[abprs]-[A-Za-z0-9-]{10,}"  # Slack
    r"|sk-(?:proj-|ant-)?[A-Za-z0-9_-]{20,}"  # OpenAI/Anthropic style
    r"|hf_[A-Za-z0-9]{30,}"  # Hugging Face
)
_TOKEN_PREFIXES = word_alternation(("eyJ", "gh", "glpat-", "xox", "sk-", "hf_"))
# The character class of each prefix's tail (a superset where two tokens share a prefix).
_TAIL_RUN = {
    "eyJ": re.compile(r"[A-Za-z0-9_-]*"),
    "gh": re.compile(r"[A-Za-z0-9_]*"),
    "glpat-": re.compile(r"[A-Za-z0-9_-]*"),
    "xox": re.compile(r"[A-Za-z0-9-]*"),
    "sk-": re.compile(r"[A-Za-z0-9_-]*"),
    "hf_": re.compile(r"[A-Za-z0-9]*"),
}
_BEARER = re.compile(r"bearer[ \t]+([a-z0-9\-._~+/]{16,}=*)")
_CRED_EN = ("pass", "pwd", "secret", "token", "key", "credential")
_CRED_JA = ("パスワード", "暗証番号", "トークン", "シークレット", "キー", "秘密鍵")
_PASSWORD_WORDS = frozenset(("pass", "pwd", "パスワード", "暗証番号"))
_CRED_TAIL = re.compile(
    r"[a-z_\-]{0,12}\s{0,3}[\"']?\s{0,3}(?:[:=：＝]|は|is|:|=>)\s{0,3}[\"'`]?"
    r"([A-Za-z0-9!#$%&()*+\-./<=>?@\[\]^_{|}~]{6,256})"
)


def _ascii_word(c: str) -> bool:
    return c.isascii() and (c.isalnum() or c == "_")


def scan_secrets(t: str, low: str, anchors: Anchors) -> Iterator[Hit]:
    """AWS access keys, private-key blocks, bearer tokens, prefixed API tokens, and
    high-entropy values right after credential words (key/token/password/パスワード…).

    An unterminated private-key block runs to the end of ``t`` (streams hold it back).
    """
    for m in _AWS.finditer(t):
        if m.start() == 0 or not _ascii_word(t[m.start() - 1]):
            yield ("secret.aws_access_key", m.start(), m.end(), 0.99)
    block_end = -1
    for m in _PRIVATE_BEGIN.finditer(t):
        if m.start() < block_end:  # a header inside the previous block
            continue
        close = _PRIVATE_END.search(t, m.end())
        block_end = close.end() if close else len(t)
        yield ("secret.private_key", m.start(), block_end, 0.99)
    # A prefix inside a token run already examined is skipped: a match from it could only
    # be shorter (the tails' character classes hold the prefixes), so the scan stays linear.
    skip = -1
    for p in _TOKEN_PREFIXES.finditer(t):
        s = p.start()
        if s < skip or (s > 0 and _ascii_word(t[s - 1])):
            continue
        tok = _PREFIXED.match(t, s)
        if tok:
            yield ("secret.api_token", s, tok.end(), 0.95)
            skip = tok.end()
        else:  # a later prefix in the same tail run could only match a shorter tail
            run = _TAIL_RUN[p.group()].match(t, p.end())
            skip = run.end() if run else p.end()
    for m in _BEARER.finditer(low):
        yield ("secret.bearer_token", m.start(1), m.end(1), 0.95)
    # A credential word inside a value already judged is not a new credential (linear).
    judged = -1
    for word, end in anchors.cred:
        if end < judged:
            continue
        tail = _CRED_TAIL.match(t, end)
        if tail:
            judged = tail.end(1)
            if _credential_value(tail.group(1), password=word in _PASSWORD_WORDS):
                yield ("secret.credential", tail.start(1), tail.end(1), 0.9)


def _credential_value(v: str, *, password: bool) -> bool:
    if v.lower() in {"none", "null", "required", "xxxxxx", "********", "your_password"}:
        return False
    if password:
        return len(v) >= 6 and char_classes(v) >= 2 and not v.isalpha()
    return len(v) >= 16 and char_classes(v) >= 2 and shannon_entropy(v) >= 3.0


# --- prompt injection ------------------------------------------------------------

_INJ_EN = re.compile(
    r"(?:ignore|disregard|forget|override|bypass)\s+(?:all\s+|any\s+|every\s+)?(?:of\s+)?"
    r"(?:the\s+|your\s+|my\s+|these\s+|those\s+)?(?:previous|prior|above|earlier|preceding|former|"
    r"original|system|initial|existing)\s+(?:instructions?|prompts?|rules?|directions?|"
    r"guidelines?|messages?|context|commands?|directives?)"
    r"|(?:reveal|show|print|display|repeat|output|leak|dump|tell\s+me|give\s+me|what\s+(?:is|are|"
    r"was|were))\s+(?:me\s+)?(?:your|the)\s+(?:full\s+|entire\s+|original\s+|hidden\s+|secret\s+|"
    r"exact\s+)?(?:system\s+(?:prompt|message|instructions)|initial\s+(?:prompt|instructions)|"
    r"hidden\s+(?:prompt|instructions)|instructions\s+above|prompt\s+above)"
    r"|you\s+are\s+now\s+(?:dan\b|in\s+developer\s+mode|an?\s+unrestricted|jailbroken|free\s+from)"
    r"|(?:developer|god|dan|jailbreak)\s+mode\s+(?:is\s+)?(?:enabled|activated|on)\b"
    r"|do\s+anything\s+now"
    r"|(?:pretend|act\s+as\s+if|imagine)\s+(?:that\s+)?(?:you\s+)?(?:have|had|are)\s+no\s+"
    r"(?:rules|restrictions|limits|guidelines|filters)"
    r"|repeat\s+(?:all\s+)?(?:the\s+)?(?:words|text)\s+above"
    r"|(?:ignore|disregard|forget)\s+(?:all\s+)?(?:of\s+)?(?:the\s+|your\s+|these\s+|those\s+)?"
    r"(?:instructions?|prompts?|rules?|directions?|guidelines?|messages?|commands?|directives?)"
    r"\s+(?:above|given\s+(?:above|before|earlier)|so\s+far|you\s+(?:were|have\s+been)\s+given)"
    r"|(?:ignore|disregard|forget)\s+(?:about\s+)?(?:everything|all|anything)\s+"
    r"(?:(?:written|said|stated|i\s+(?:said|told\s+you))\s+)?(?:above|so\s+far|previously|earlier)(?![a-z])"
    r"|(?:act|acting)\s+as\s+(?:an?\s+)?dan(?![a-z])|pretend\s+(?:to\s+be|you\s+are)\s+dan(?![a-z])"
)
_INJ_JA = re.compile(
    r"(?:これまで|今まで|以前|先ほど|先程|前|上記|上|最初|元|既存|システム|全て|すべて)の"
    r"(?:すべての|全ての|全|あらゆる)?(?:指示|命令|指令|ルール|設定|プロンプト|制約|制限|"
    r"ガイドライン|会話)(?:は|を|も)?(?:すべて|全て|全部|一旦)?(?:無視|忘れ|破棄|リセット|取り消|"
    r"上書き|なかったこと)"
    r"|(?:システムプロンプト|システムメッセージ|初期プロンプト|初期指示|隠された指示|内部指示|"
    r"開発者(?:への|向けの)?指示|最初の指示|元の指示)(?:を|の内容を|の全文を|について|は)?(?:すべて|全て)?"
    r"(?:表示|出力|教え|見せ|開示|繰り返|書き出|暴露|公開|そのまま)"
    r"|(?:制限|制約|ルール|倫理|安全(?:機能|対策)?|フィルター?|ガードレール|検閲)(?:を|の)?"
    r"(?:すべて|全て)?(?:解除|無効|無視|外し|なくし|取り払)"
    r"|(?:開発者|デバッグ|管理者|dan|DAN|ジェイルブレイク|脱獄)モード"
    r"|あなたは(?:今から|これから|もう)(?:制限|制約|ルール)の?(?:ない|なし|無い|無し)"
)
_WINDOW = 120
# Every match of _INJ_EN holds one of these words (each alternative of the pattern needs
# one: "previous …", "… system prompt", "you are now", "… mode", "no rules", "so far", …).
_INJ_EN_NEEDS = word_alternation((
    "previous", "prior", "above", "earlier", "preceding", "former", "original", "system",
    "initial", "existing", "hidden", "instruction", "prompt", "now", "mode", "anything", "rule",
    "restriction", "limit", "guideline", "filter", "far", "dan", "direction", "message",
    "command", "directive",
))


def _windows(positions: list[int], size: int) -> list[tuple[int, int]]:
    """``_WINDOW`` characters either side of each position (< ``size``), overlapping
    windows merged: a new window starts where two positions lie more than two windows
    apart. C-level passes, however many positions (a text of one keyword repeated)."""
    ps = sorted(positions)
    if not ps:
        return []
    breaks = list(compress(range(1, len(ps)), map((2 * _WINDOW).__lt__, map(sub, ps[1:], ps))))
    firsts = [ps[0], *map(ps.__getitem__, breaks)]
    lasts = [*map(ps.__getitem__, map((1).__rsub__, breaks)), ps[-1]]
    return [(max(0, a - _WINDOW), min(size, b + _WINDOW)) for a, b in zip(firsts, lasts, strict=True)]


def scan_injection(t: str, low: str, anchors: Anchors) -> Iterator[Hit]:
    """Prompt-injection phrases ("ignore previous instructions", 「これまでの指示を無視」,
    system-prompt extraction, jailbreak modes). Heuristic: score 0.9."""
    for s, e in _windows(anchors.inj_en, len(t)):
        if _INJ_EN_NEEDS.search(low, s, e) is None:
            continue  # (a window of "ignore" repeated: the full pattern is not tried)
        for m in _INJ_EN.finditer(low, s, e):
            yield ("injection.prompt", m.start(), m.end(), 0.9)
    for s, e in _windows(anchors.inj_ja, len(t)):
        for m in _INJ_JA.finditer(t, s, e):
            yield ("injection.prompt", m.start(), m.end(), 0.9)


# --- anchors: one regex pass per script finds every keyword the detectors start from ----

_INJ_EN_WORDS = ("ignore", "disregard", "forget", "override", "bypass", "prompt", "instructions",
                 "system message", "developer mode", "god mode", "dan mode", "jailbreak mode",
                 "anything now", "you are now", "no rules", "no restrictions", "no limits",
                 "no guidelines", "no filters", "words above", "text above", "act as",
                 "acting as", "pretend")
_INJ_JA_WORDS = (
    "無視", "忘れ", "破棄", "リセット", "取り消", "上書き", "なかったこと", "プロンプト", "指示",
    "解除", "無効", "外し", "なくし", "取り払", "モード", "あなたは",
)
_PASSPORT_WORDS = ("passport", "旅券", "パスポート")
_KIND = {w: "cred" for w in _CRED_EN + _CRED_JA}
_KIND.update({w: "inj" for w in _INJ_EN_WORDS + _INJ_JA_WORDS})
_KIND.update({w: "passport" for w in _PASSPORT_WORDS})


_EN_ANCHOR = word_alternation(_CRED_EN + _INJ_EN_WORDS + ("passport",))
_JA_ANCHOR = word_alternation(_CRED_JA + _INJ_JA_WORDS + ("旅券", "パスポート"))


@dataclass
class Anchors:
    """Keyword positions found in one pass per script.

    Attributes:
        cred: (keyword, end index) of credential words (key, token, パスワード …).
        inj_en / inj_ja: start indices of prompt-injection keywords.
        passport: end indices of passport context words.
    """

    cred: list[tuple[str, int]] = field(default_factory=list)
    inj_en: list[int] = field(default_factory=list)
    inj_ja: list[int] = field(default_factory=list)
    passport: list[int] = field(default_factory=list)


def find_anchors(t: str, low: str) -> Anchors:
    """Every anchor keyword in ``t`` (English ones on the lower-cased copy ``low``)."""
    a = Anchors()
    for rx, text, inj in ((_EN_ANCHOR, low, a.inj_en), (_JA_ANCHOR, t, a.inj_ja)):
        for m in rx.finditer(text):
            w = m.group()
            kind = _KIND[w]
            if kind == "cred":
                a.cred.append((w, m.end()))
            elif kind == "inj":
                inj.append(m.start())
            else:
                a.passport.append(m.end())
    return a


__all__ = [
    "Anchors", "find_anchors", "scan_email", "scan_injection", "scan_secrets", "word_alternation",
]
