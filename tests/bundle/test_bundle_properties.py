"""Property tests (hypothesis) for the bundle readers: path rules, bounded JSON, the
manifest and parts-index schemas, and the strict tar reader.

Every input either parses or is refused with a BundleError (never another exception);
what is accepted obeys the rules; and a tar the reader accepts is read the same way by
Python's tarfile (in both of its modes). GNU tar and bsdtar are compared in the longer
run, bench/bundle_fuzz.py.
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import posixpath
import tarfile
import unicodedata
from typing import Any

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from prai.bundle._json import load_json
from prai.bundle._tar import TarMember, scan_tar
from prai.bundle.manifest import (
    MAX_PATH_BYTES,
    MAX_PATH_DEPTH,
    ROLE_FOLDERS,
    check_relpath,
    parse_manifest,
    parse_parts_index,
    path_problem,
)
from prai.errors import BundleError, BundleManifestError
from tests.bundle.hostile_corpus import (
    BLOCK,
    canonical,
    control,
    finish,
    manifest_dict,
    member,
    pax,
    payload,
    tar_of,
)

FAST = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# --- path rules -------------------------------------------------------------------------

path_chars = st.sampled_from(list("ab./\\-_ :\x00\n\x1b\u202e\udc80日本")) | st.characters()
paths = st.text(path_chars, max_size=40) | st.lists(
    st.sampled_from(["model", "a", "..", ".", "", "日本", "x" * 250]), max_size=40
).map("/".join)


@FAST
@given(paths)
def test_path_rules(path: str) -> None:
    problem = path_problem(path)
    try:
        check_relpath(path)
    except BundleError:
        assert problem is not None
        return
    assert problem is None
    assert not path.startswith("/") and "\\" not in path
    assert posixpath.normpath(path) == path
    parts = path.split("/")
    assert ".." not in parts and "." not in parts and "" not in parts
    assert len(parts) <= MAX_PATH_DEPTH and len(path.encode("utf-8")) <= MAX_PATH_BYTES
    assert all(c.isprintable() or unicodedata.category(c) == "Zs" for c in path)


# --- bounded JSON -----------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=5), kids, max_size=4),
    max_leaves=30,
)


def _depth(v: Any) -> int:
    if isinstance(v, dict):
        return 1 + max((_depth(x) for x in v.values()), default=0)
    if isinstance(v, list):
        return 1 + max((_depth(x) for x in v), default=0)
    return 0


@FAST
@given(json_values)
def test_json_round_trip(value: Any) -> None:
    data = json.dumps(value).encode()
    try:
        got = load_json(data, "x", BundleManifestError, max_bytes=1 << 20, max_depth=6)
    except BundleManifestError as exc:
        text = str(exc)
        assert "\n" not in text and len(text) < 300
        assert _depth(value) > 6 or "integer literal" in text or "surrogate" in text
        return
    assert got == value


@FAST
@given(st.binary(max_size=300))
def test_json_any_bytes(data: bytes) -> None:
    with contextlib.suppress(BundleManifestError):
        load_json(data, "x", BundleManifestError, max_bytes=200)


# --- manifest and parts index: mutations of valid documents -----------------------------

hostile_values = st.one_of(
    json_values,
    st.sampled_from(
        [None, True, 0, -1, 1 << 70, 1.5, "", "../x", "/etc/passwd", "model", "README", "-rf",
         "a\nb", "\udc80", "x" * 5000, [], {}, "sha256:" + "0" * 64, "0" * 64, "adapters/faq"]
    ),
)


def _locations(doc: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(doc, dict):
        for k, v in doc.items():
            out += _locations(v, (*prefix, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            out += _locations(v, (*prefix, i))
    return out


def _mutate(doc: Any, data: st.DataObject) -> Any:
    doc = copy.deepcopy(doc)
    for _ in range(data.draw(st.integers(1, 3))):
        where = data.draw(st.sampled_from(_locations(doc)))
        value = data.draw(hostile_values)
        if not where:
            return value
        parent = doc
        for k in where[:-1]:
            parent = parent[k]
        if data.draw(st.booleans()) and isinstance(parent, dict):
            parent[data.draw(st.sampled_from(["extra", "path", "size", "files", "rank"]))] = value
        elif data.draw(st.integers(0, 9)) == 0 and isinstance(parent, dict | list):
            del parent[where[-1]]
        else:
            parent[where[-1]] = value
    return doc


def _encode(doc: Any) -> bytes:
    return json.dumps(doc, ensure_ascii=False).encode("utf-8", "surrogatepass")


BASE_MANIFEST = manifest_dict(payload())


@FAST
@given(st.data())
def test_manifest_mutations(data: st.DataObject) -> None:
    doc = _mutate(BASE_MANIFEST, data)
    try:
        m = parse_manifest(_encode(doc))
    except BundleError as exc:
        assert "\n" not in str(exc) and len(str(exc)) < 600
        return
    for f in m.files:
        check_relpath(f.path)
        folder = f"adapters/{f.name}/" if f.role == "adapter" else ROLE_FOLDERS[f.role] + "/"
        assert f.path.startswith(folder)
        assert f.size >= 0
    assert len({f.path for f in m.files}) == len(m.files)
    for a in m.adapters:
        assert a.path == f"adapters/{a.name}" and (a.rank is None or a.rank > 0)
    # what was accepted survives its own canonical form
    assert parse_manifest(canonical(m.model_dump(mode="json"))) == m


def _index(tar: bytes) -> dict[str, Any]:
    import hashlib

    return {
        "format": "prai-bundle-parts",
        "format_version": 1,
        "tar": "b.tar",
        "size": len(tar),
        "sha256": hashlib.sha256(tar).hexdigest(),
        "root_digest": "sha256:" + "a" * 64,
        "parts": [
            {"path": f"b.tar.part-{i:04d}", "size": len(tar[j : j + 4096]),
             "sha256": hashlib.sha256(tar[j : j + 4096]).hexdigest()}
            for i, j in enumerate(range(0, len(tar), 4096))
        ],
    }


BASE_INDEX = _index(tar_of(payload()))


@FAST
@given(st.data())
def test_parts_index_mutations(data: st.DataObject) -> None:
    doc = _mutate(BASE_INDEX, data)
    try:
        idx = parse_parts_index(_encode(doc), "b.tar.parts.json")
    except BundleError as exc:
        assert "\n" not in str(exc)
        return
    assert sum(p.size for p in idx.parts) == idx.size
    for i, p in enumerate(idx.parts):
        assert p.path == f"{idx.tar}.part-{i:04d}" and "/" not in p.path


# --- the tar reader ---------------------------------------------------------------------

BASE_TAR = tar_of(payload())
PAX_TAR = finish(
    pax({"path": "other/pax-named-file"})
    + member("other/short", b"data")
    + b"".join(member(n, d) for n, d in {**control(payload()), **payload()}.items())
)


def _reference(data: bytes, ignore_zeros: bool) -> dict[str, bytes] | None:
    """What Python's tarfile extracts: regular files by normalised name (None: refuses)."""
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:", ignore_zeros=ignore_zeros) as tf:
            out = {}
            for m in tf:
                if m.isreg():
                    f = tf.extractfile(m)
                    assert f is not None
                    out[m.name.removeprefix("./")] = f.read()
                elif not m.isdir():
                    out[m.name] = b"<not a file>"
            return out
    except (tarfile.TarError, EOFError, ValueError, OSError):
        return None


def _ours(data: bytes) -> list[TarMember] | None:
    try:
        return scan_tar(io.BytesIO(data), len(data), "t.tar")
    except BundleError as exc:
        assert "\n" not in str(exc)
        return None


mutation = st.one_of(
    st.tuples(st.just("flip"), st.integers(0, 1 << 20), st.integers(1, 255)),
    st.tuples(st.just("cut"), st.integers(0, 1 << 20), st.just(0)),
    st.tuples(st.just("zero-block"), st.integers(0, 1 << 20), st.just(0)),
    st.tuples(st.just("dup-block"), st.integers(0, 1 << 20), st.integers(0, 1 << 20)),
    st.tuples(st.just("append"), st.integers(0, 1 << 20), st.just(0)),
    st.tuples(st.just("digit"), st.integers(0, 1 << 20), st.integers(0, 11)),
)


def _apply(data: bytes, op: tuple[str, int, int]) -> bytes:
    kind, a, b = op
    buf = bytearray(data)
    if kind == "flip":
        buf[a % len(buf)] ^= b
    elif kind == "cut":
        del buf[a % len(buf) :]
    elif kind == "zero-block":
        at = a % (len(buf) // BLOCK) * BLOCK
        buf[at:at] = bytes(BLOCK)
    elif kind == "dup-block":
        src = a % (len(buf) // BLOCK) * BLOCK
        at = b % (len(buf) // BLOCK) * BLOCK
        buf[at:at] = buf[src : src + BLOCK]
    elif kind == "append":
        buf += member("model/config.json", b"evil")
    elif kind == "digit":  # a size or checksum digit of some header
        headers = [i for i in range(0, len(buf), BLOCK) if buf[i + 257 : i + 262] == b"ustar"]
        h = headers[a % len(headers)]
        pos = h + (124 if b < 6 else 148) + b % 6
        buf[pos] = ord("7") if buf[pos] != ord("7") else ord("1")
    return bytes(buf)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from([BASE_TAR, PAX_TAR]), st.lists(mutation, min_size=1, max_size=3))
def test_tar_reader_agrees_with_python_tarfile(base: bytes, ops: list[tuple[str, int, int]]) -> None:
    data = base
    for op in ops:
        data = _apply(data, op)
        assume(len(data) >= BLOCK)
    ours = _ours(data)
    if ours is None:
        return
    got = {}
    for m in ours:
        if not m.is_dir:
            got[m.name] = data[m.offset : m.offset + m.size]
    # accepted: both of tarfile's readings extract exactly these files and bytes
    assert _reference(data, ignore_zeros=False) == got
    assert _reference(data, ignore_zeros=True) == got


@FAST
@given(st.binary(min_size=8, max_size=12) | st.lists(st.sampled_from(b"0178 \x00\x80\xff+-x"),
                                                       min_size=8, max_size=12).map(bytes))
def test_header_numbers_follow_the_documented_pattern(field: bytes) -> None:
    from prai.bundle._tar import _OCTAL, _number

    m = _OCTAL.match(field)
    if field[0] & 0x80:
        want = int.from_bytes(field[1:], "big") if field[0] == 0x80 else None
    elif m is None:
        want = None
    elif m.group(1):
        want = int(m.group(1), 8)
    else:
        want = 0 if 0 in field else None
    assert _number(field) == want
