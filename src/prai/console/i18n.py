"""Japanese and English for the console: message catalogs (``i18n/en.json``, ``i18n/ja.json``,
flat ``key -> text`` with ``{name}`` placeholders) and the choice of language.

The language is the ``prai_lang`` cookie (set by ``/console/lang/{ja|en}``), else the
browser's Accept-Language (``ja`` first -> Japanese), else English. Both catalogs must have
the same keys (a test checks); a missing key shows the key itself.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import cache
from importlib import resources

from starlette.requests import Request

LANGS = ("en", "ja")
LANG_COOKIE = "prai_lang"


@cache
def catalog(lang: str) -> dict[str, str]:
    """The catalog of ``lang`` (one of :data:`LANGS`)."""
    text = resources.files("prai.console").joinpath("i18n", f"{lang}.json").read_text(encoding="utf-8")
    data: dict[str, str] = json.loads(text)
    return data


def pick_lang(request: Request) -> str:
    """The request's language (cookie, then Accept-Language, then English)."""
    chosen = request.cookies.get(LANG_COOKIE)
    if chosen in LANGS:
        return str(chosen)
    for part in request.headers.get("accept-language", "").split(","):
        tag = part.split(";")[0].strip().lower()
        if tag.startswith("ja"):
            return "ja"
        if tag.startswith("en"):
            return "en"
    return "en"


def translator(lang: str) -> Callable[..., str]:
    """``t(key, **values)``: the text of ``key`` in ``lang`` with ``{name}`` filled in."""
    cat = catalog(lang if lang in LANGS else "en")

    def t(key: str, **values: object) -> str:
        text = cat.get(key, key)
        return text.format(**values) if values else text

    return t


__all__ = ["LANGS", "LANG_COOKIE", "catalog", "pick_lang", "translator"]
