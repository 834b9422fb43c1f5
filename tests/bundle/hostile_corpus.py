"""A seed corpus of malformed bundles, generated from small recipes (no binaries in git).

Each recipe writes one bundle (directory, tar or split parts) under a given folder and
returns the path to pass to `prai bundle verify`, with the exit code PrAI must answer
(0: the bundle is fine and must be accepted). Used by tests/bundle/test_bundle_hostile.py
and bench/bundle_fuzz.py (which also mutates these bundles at random).

Raw tar headers are built here byte by byte (POSIX.1-2017 ustar/pax, GNU tar's formats),
so the corpus can hold what no well-behaved writer produces.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from prai.bundle.manifest import (
    FileEntry,
    ImageRef,
    Manifest,
    ManifestAdapter,
    ManifestModel,
    dump_manifest,
    render_sums,
    root_digest,
)

BLOCK = 512
POSIX = b"ustar\x0000"
GNU = b"ustar  \x00"
CONFIG = b'{"architectures": ["LlamaForCausalLM"], "model_type": "llama"}\n'
EVIL = b'{"architectures": ["Evil"], "evil": true}\n'

# --- a small valid bundle -------------------------------------------------------------


def payload() -> dict[str, bytes]:
    """The payload files of the base bundle (path -> bytes)."""
    return {
        "model/config.json": CONFIG,
        "model/model.safetensors": b"\x08\x00\x00\x00\x00\x00\x00\x00{}      " + bytes(700),
        "adapters/faq/adapter_config.json": b'{"r": 8, "peft_type": "LORA"}\n',
        "other/notes.txt": "持ち込み notes\n".encode(),
    }


def _role(path: str) -> tuple[str, str]:
    top = path.split("/")[0]
    if top == "adapters":
        return "adapter", path.split("/")[1]
    if top in ("images", "software", "sbom"):  # one logical name per role, as create writes
        return top, top
    return {"model": "model", "other": "other", "eval": "eval", "ca": "ca"}.get(top, "other"), (
        "model" if top == "model" else path.rsplit("/", 1)[-1]
    )


def manifest_dict(files: dict[str, bytes], images: list[ImageRef] | None = None) -> dict[str, Any]:
    """A valid manifest (as plain JSON data) for ``files`` (and carried ``images``)."""
    entries = []
    for path, data in files.items():
        role, name = _role(path)
        entries.append(
            FileEntry(
                role=role,  # type: ignore[arg-type]
                name=name,
                path=path,
                size=len(data),
                sha256=hashlib.sha256(data).hexdigest(),
            )
        )
    adapters = sorted({p.split("/")[1] for p in files if p.startswith("adapters/")})
    m = Manifest(
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
        created_by="prai test",
        files=entries,
        model=ManifestModel(name="tiny", weight_files=["model.safetensors"])
        if "model/model.safetensors" in files
        else (ManifestModel(name="tiny") if any(p.startswith("model/") for p in files) else None),
        adapters=[ManifestAdapter(name=a, path=f"adapters/{a}", rank=8) for a in adapters],
        images=images or [],
    )
    return json.loads(dump_manifest(m))


def canonical(data: dict[str, Any]) -> bytes:
    """Manifest bytes as PrAI writes them (sorted keys, indent 2, newline)."""
    return (json.dumps(data, sort_keys=True, indent=2, ensure_ascii=False) + "\n").encode()


def sums_for(data: dict[str, Any]) -> bytes:
    """SHA256SUMS text for a manifest given as plain data (any shape: best effort)."""
    try:
        return render_sums(Manifest.model_validate(data))
    except Exception:
        return b""


def control(files: dict[str, bytes], mbytes: bytes | None = None) -> dict[str, bytes]:
    """Manifest and SHA256SUMS (consistent with ``files`` unless ``mbytes`` is given)."""
    if mbytes is None:
        data = manifest_dict(files)
        return {"prai-bundle.json": canonical(data), "SHA256SUMS": sums_for(data)}
    try:
        sums = sums_for(json.loads(mbytes))
    except Exception:
        sums = b""
    return {"prai-bundle.json": mbytes, "SHA256SUMS": sums}


def write_dir(root: Path, files: dict[str, bytes]) -> Path:
    for path, data in files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_bytes(data)
    return root


# --- raw tar ----------------------------------------------------------------------------


def _octal(value: int, width: int) -> bytes:
    return b"%0*o\x00" % (width - 1, value)


def header(
    name: bytes,
    size: int,
    typ: bytes = b"0",
    *,
    magic: bytes = POSIX,
    prefix: bytes = b"",
    linkname: bytes = b"",
    size_field: bytes | None = None,
    mode_field: bytes | None = None,
    gnu_area: bytes = b"",
    bad_checksum: bool = False,
) -> bytes:
    """One 512-byte header; ``*_field`` replace the encoded field verbatim."""
    h = bytearray(BLOCK)
    h[0 : len(name[:100])] = name[:100]
    h[100:108] = mode_field or _octal(0o644, 8)
    h[108:116] = _octal(0, 8)
    h[116:124] = _octal(0, 8)
    h[124:136] = size_field if size_field is not None else _octal(size, 12)
    h[136:148] = _octal(1767225600, 12)
    h[156:157] = typ
    h[157 : 157 + len(linkname)] = linkname
    h[257:265] = magic
    if magic == POSIX:
        h[329:337] = _octal(0, 8)
        h[337:345] = _octal(0, 8)
        h[345 : 345 + len(prefix)] = prefix
    else:
        h[345 : 345 + len(gnu_area)] = gnu_area
    h[148:156] = b" " * 8
    chk = sum(h) + (1 if bad_checksum else 0)
    h[148:156] = b"%06o\x00 " % chk
    return bytes(h)


def pad(data: bytes) -> bytes:
    return data + bytes(-len(data) % BLOCK)


def member(name: str | bytes, data: bytes = b"", typ: bytes = b"0", **kw: Any) -> bytes:
    raw = name.encode() if isinstance(name, str) else name
    return header(raw, len(data), typ, **kw) + pad(data)


def pax_records(records: Mapping[str, str | bytes]) -> bytes:
    out = b""
    for key, value in records.items():
        v = value.encode() if isinstance(value, str) else value
        body = b" " + key.encode() + b"=" + v + b"\n"
        n = len(body) + 1
        while len(str(n).encode() + body) != n:
            n += 1
        out += str(n).encode() + body
    return out


def pax(records: Mapping[str, str | bytes], typ: bytes = b"x") -> bytes:
    return member(b"PaxHeader/x", pax_records(records), typ)


def longname(name: bytes) -> bytes:
    return member(b"././@LongLink", name + b"\x00", b"L", magic=GNU)


def end(record: int = 10240) -> bytes:
    return bytes(2 * BLOCK)


def finish(body: bytes, record: int = 10240) -> bytes:
    """Append the end-of-archive marker and pad to the record size, as tar does."""
    data = body + bytes(2 * BLOCK)
    return data + bytes(-len(data) % record)


def tar_of(files: dict[str, bytes], mbytes: bytes | None = None) -> bytes:
    """A clean POSIX tar of the bundle: control files first, then the payload."""
    ctl = control(files, mbytes)
    return finish(b"".join(member(n, d) for n, d in {**ctl, **files}.items()))


def write_parts(
    base: Path, tar: bytes, part_bytes: int, edit: Callable[[dict[str, Any]], None] | None = None
) -> Path:
    """Split ``tar`` as `prai bundle create --split-size` does; ``edit`` may change the
    index (then SHA256SUMS is written from the edited index, so only the edit differs)."""
    name = base.name
    records = []
    for i in range(0, len(tar), part_bytes):
        chunk = tar[i : i + part_bytes]
        part = base.with_name(f"{name}.part-{i // part_bytes:04d}")
        part.write_bytes(chunk)
        records.append(
            {"path": part.name, "size": len(chunk), "sha256": hashlib.sha256(chunk).hexdigest()}
        )
    mbytes = _manifest_in(tar)
    index: dict[str, Any] = {
        "format": "prai-bundle-parts",
        "format_version": 1,
        "tar": name,
        "size": len(tar),
        "sha256": hashlib.sha256(tar).hexdigest(),
        "root_digest": root_digest(mbytes),
        "parts": records,
    }
    if edit is not None:
        edit(index)
    sums = "".join(
        f"{p.get('sha256')}  {p.get('path')}\n" for p in index.get("parts", []) if isinstance(p, dict)
    )
    base.with_name(f"{name}.parts.SHA256SUMS").write_text(sums)
    text = json.dumps(index, indent=2, sort_keys=True)
    base.with_name(f"{name}.parts.json").write_text(text + "\n")
    return base.with_name(f"{name}.parts.json")


def _manifest_in(tar: bytes) -> bytes:
    size = int(tar[124:135].decode().strip("\x00 ") or "0", 8)
    return tar[BLOCK : BLOCK + size]


# --- recipes --------------------------------------------------------------------------

Recipe = Callable[[Path], Path]
# name -> (recipe, exit code PrAI must answer, a phrase its message must hold: the
# refusal is for the reason the recipe is about, not for a side effect of building it)
RECIPES: dict[str, tuple[Recipe, int, str]] = {}


def recipe(name: str, code: int, needle: str = "") -> Callable[[Recipe], Recipe]:
    def deco(fn: Recipe) -> Recipe:
        RECIPES[name] = (fn, code, needle)
        return fn

    return deco


def _tar_file(d: Path, data: bytes, name: str = "b.tar") -> Path:
    (d / name).write_bytes(data)
    return d / name


def _with(d: Path, extra: bytes, name: str = "b.tar") -> Path:
    """A clean bundle with ``extra`` (headers and data) before the end-of-archive marker."""
    files = payload()
    body = b"".join(member(n, x) for n, x in {**control(files), **files}.items())
    return _tar_file(d, finish(body + extra), name)


def _evil_after(d: Path, separator: bytes, name: str = "b.tar") -> Path:
    """A clean bundle, then ``separator``, then a member overwriting model/config.json."""
    files = payload()
    ctl = control(files)
    body = b"".join(member(n, x) for n, x in {**ctl, **files}.items())
    return _tar_file(d, finish(body + separator + member("model/config.json", EVIL)), name)


@recipe("tar-ok", 0)
def _tar_ok(d: Path) -> Path:
    return _tar_file(d, tar_of(payload()))


@recipe("tar-corrupt-block-mid-tar", 3, "damaged (checksum)")
def _corrupt_block(d: Path) -> Path:
    bad = bytearray(member("other/x", b"x"))
    bad[0] ^= 0xFF  # name changes, checksum no longer matches
    return _evil_after(d, bytes(bad))


@recipe("tar-zero-block-mid-tar", 17, "lone zero block")
def _zero_block(d: Path) -> Path:
    return _evil_after(d, bytes(BLOCK))


@recipe("tar-trailing-member-after-end", 17, "follows the end-of-archive marker")
def _trailing(d: Path) -> Path:
    files = payload()
    clean = tar_of(files)
    return _tar_file(d, clean + member("model/config.json", EVIL) + bytes(2 * BLOCK))


@recipe("tar-nonzero-byte-after-end", 17, "follows the end-of-archive marker")
def _after_end(d: Path) -> Path:
    data = bytearray(tar_of(payload()))
    data[-100] = 1
    return _tar_file(d, bytes(data))


@recipe("tar-no-end-marker", 13, "without the end-of-archive marker")
def _no_end(d: Path) -> Path:
    files = payload()
    body = b"".join(member(n, x) for n, x in {**control(files), **files}.items())
    return _tar_file(d, body)


@recipe("tar-gnu-sparse-type", 17, "sparse")
def _sparse_s(d: Path) -> Path:
    return _evil_after(d, member("other/sparse", b"abc", b"S", magic=GNU))


@recipe("tar-gnu-sparse-pax-headers", 17, "sparse")
def _sparse_pax(d: Path) -> Path:
    rec = {"GNU.sparse.major": "1", "GNU.sparse.minor": "0", "GNU.sparse.name": "model/x",
           "GNU.sparse.realsize": "4096"}
    return _evil_after(d, pax(rec) + member("other/GNUSparseFile.0/x", b"1\n0\n3\n" + bytes(509)))


@recipe("tar-huge-size-field", 13, "the tar ends first")
def _huge_size(d: Path) -> Path:
    field = b"\x80" + (1 << 80).to_bytes(11, "big")
    return _evil_after(d, header(b"other/huge", 0, size_field=field))


@recipe("tar-size-past-end", 13, "the tar ends first")
def _size_past(d: Path) -> Path:
    files = payload()
    body = b"".join(member(n, x) for n, x in {**control(files), **files}.items())
    return _tar_file(d, body + header(b"other/big", 1 << 30) + bytes(4 * BLOCK))


@recipe("tar-negative-size", 3, "size field")
def _neg_size(d: Path) -> Path:
    return _evil_after(d, header(b"other/neg", 0, size_field=b"\xff" * 12))


@recipe("tar-size-field-garbage", 3, "size field")
def _garbage_size(d: Path) -> Path:
    return _evil_after(d, header(b"other/g", 0, size_field=b"0000000001x\x00"))


@recipe("tar-pax-size-mismatch", 3, "pax size")
def _pax_size(d: Path) -> Path:
    return _evil_after(d, pax({"size": "0"}) + member("other/p", b"abc"))


@recipe("tar-oversized-pax-header", 3, "extended header of")
def _big_pax(d: Path) -> Path:
    return _evil_after(d, pax({"comment": "x" * (1 << 20)}) + member("other/p", b"abc"))


@recipe("tar-global-pax-header", 17, "global pax header")
def _global(d: Path) -> Path:
    return _evil_after(d, pax({"path": "model/config.json"}, b"g"))


@recipe("tar-two-extended-headers", 17, "second extended header")
def _two_ext(d: Path) -> Path:
    return _evil_after(d, longname(b"other/a") + pax({"path": "other/b"}) + member("other/c", b"c"))


@recipe("tar-pax-unknown-key", 17, "linkpath")
def _pax_key(d: Path) -> Path:
    return _evil_after(d, pax({"linkpath": "/etc/passwd"}) + member("other/p", b"p"))


@recipe("tar-pax-path-traversal", 17, "../../etc/cron.d/x")
def _pax_dotdot(d: Path) -> Path:
    return _evil_after(d, pax({"path": "../../etc/cron.d/x"}) + member("other/p", b"p"))


@recipe("tar-duplicate-name", 17, "appears twice")
def _dup(d: Path) -> Path:
    return _evil_after(d, b"")


@recipe("tar-symlink", 17, "symbolic link")
def _symlink(d: Path) -> Path:
    return _evil_after(d, member("model/link", b"", b"2", linkname=b"/etc/passwd"))


@recipe("tar-hardlink", 17, "hard link")
def _hardlink(d: Path) -> Path:
    return _evil_after(d, member("model/hard", b"", b"1", linkname=b"prai-bundle.json"))


@recipe("tar-device", 17, "character device")
def _device(d: Path) -> Path:
    return _evil_after(d, member("model/dev", b"", b"3"))


@recipe("tar-fifo", 17, "FIFO")
def _fifo(d: Path) -> Path:
    return _evil_after(d, member("model/fifo", b"", b"6"))


@recipe("tar-contiguous-type-7", 17, "contiguous")
def _contig(d: Path) -> Path:
    return _evil_after(d, member("other/c7", b"abc", b"7"))


@recipe("tar-non-utf8-name", 17, "not UTF-8")
def _non_utf8(d: Path) -> Path:
    return _evil_after(d, member(b"model/\xff\xfe.bin", b"x"))


@recipe("tar-absolute-name", 17, "(absolute)")
def _absolute(d: Path) -> Path:
    return _evil_after(d, member("/etc/cron.d/evil", b"x"))


@recipe("tar-file-is-also-folder", 17, "is a file and also the folder")
def _file_folder(d: Path) -> Path:
    return _with(d, member("model/config.json/x", b"x"))


@recipe("tar-folder-with-data", 3, "folder with")
def _dir_data(d: Path) -> Path:
    return _evil_after(d, header(b"model/sub/", 512, b"5") + bytes(BLOCK))


@recipe("tar-gnu-prefix-area-used", 3, "prefix field")
def _gnu_prefix(d: Path) -> Path:
    return _evil_after(d, member("x", b"x", magic=GNU, gnu_area=b"model/config.json"))


@recipe("tar-v7-magic", 3, "magic")
def _v7(d: Path) -> Path:
    return _evil_after(d, member("other/v7", b"x", magic=bytes(8)))


@recipe("tar-name-padding-garbage", 3, "after the end of a name")
def _name_pad(d: Path) -> Path:
    return _evil_after(d, member(b"other/a\x00model/config.json", b"x"))


@recipe("tar-link-name-on-file", 3, "link name")
def _link_on_file(d: Path) -> Path:
    return _evil_after(d, member("other/l", b"x", linkname=b"/etc/passwd"))


@recipe("tar-bad-checksum-first-header", 3, "byte 0 is damaged")
def _bad_first(d: Path) -> Path:
    files = payload()
    ctl = control(files)
    first = header(b"prai-bundle.json", len(ctl["prai-bundle.json"]), bad_checksum=True)
    rest = b"".join(member(n, x) for n, x in {"SHA256SUMS": ctl["SHA256SUMS"], **files}.items())
    return _tar_file(d, finish(first + pad(ctl["prai-bundle.json"]) + rest))


@recipe("tar-extra-folder", 11, "folder model/empty/")
def _extra_folder(d: Path) -> Path:
    files = payload()
    body = b"".join(member(n, x) for n, x in {**control(files), **files}.items())
    return _tar_file(d, finish(body + member("model/empty/", b"", b"5")))


@recipe("tar-standard-gnu-dot-slash", 0)
def _gnu_dot(d: Path) -> Path:
    src = write_dir(d / "src", {**control(payload()), **payload()})
    subprocess.run(["tar", "-C", str(src), "-cf", str(d / "b.tar"), "."], check=True)
    shutil.rmtree(src)
    return d / "b.tar"


@recipe("tar-standard-gnu-posix-format", 0)
def _gnu_posix(d: Path) -> Path:
    src = write_dir(d / "src", {**control(payload()), **payload()})
    subprocess.run(
        ["tar", "--format=posix", "-C", str(src), "-cf", str(d / "b.tar"), "."], check=True
    )
    shutil.rmtree(src)
    return d / "b.tar"


@recipe("tar-standard-bsdtar", 0)
def _bsdtar(d: Path) -> Path:
    src = write_dir(d / "src", {**control(payload()), **payload()})
    subprocess.run(["bsdtar", "-C", str(src), "-cf", str(d / "b.tar"), "."], check=True)
    shutil.rmtree(src)
    return d / "b.tar"


@recipe("tar-standard-python-gnu-longname", 0)
def _py_gnu(d: Path) -> Path:
    import tarfile

    files = payload()
    files["other/" + "n" * 150] = b"long name\n"
    with tarfile.open(d / "b.tar", "w", format=tarfile.GNU_FORMAT) as tf:
        for name, data in {**control(files), **files}.items():
            import io

            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            tf.addfile(ti, io.BytesIO(data))
    return d / "b.tar"


# manifests (directory bundles: the manifest is read before any payload file)


def _dir_with_manifest(d: Path, text: bytes | str, files: dict[str, bytes] | None = None) -> Path:
    files = payload() if files is None else files
    raw = text.encode() if isinstance(text, str) else text
    write_dir(d / "b", {**control(files, raw), **files})
    return d / "b"


def _edited(d: Path, edit: Callable[[dict[str, Any]], None], files: dict[str, bytes] | None = None
            ) -> Path:
    files = payload() if files is None else files
    data = manifest_dict(files)
    edit(data)
    return _dir_with_manifest(d, canonical(data), files)


@recipe("dir-ok", 0)
def _dir_ok(d: Path) -> Path:
    return _edited(d, lambda m: None)


@recipe("json-nested-100000-deep", 14, "nested too deeply")
def _deep(d: Path) -> Path:
    return _dir_with_manifest(d, '{"files": ' + "[" * 100_000 + "]" * 100_000 + "}")


@recipe("json-nested-50-deep", 14, "deeper than 16")
def _deep50(d: Path) -> Path:
    return _dir_with_manifest(d, '{"warnings": ' + "[" * 50 + "]" * 50 + "}")


def _size_literal(d: Path, literal: bytes) -> Path:
    text = canonical(manifest_dict(payload()))
    return _dir_with_manifest(d, re.sub(rb'"size": [0-9]+', b'"size": ' + literal, text, count=1))


@recipe("json-int-4301-digits", 14, "4301 digits")
def _bigint(d: Path) -> Path:
    return _size_literal(d, b"9" * 4301)


@recipe("json-float-overflow", 14, "out of range")
def _float(d: Path) -> Path:
    return _size_literal(d, b"1e400")


@recipe("json-nan", 14, "NaN")
def _nan(d: Path) -> Path:
    return _size_literal(d, b"NaN")


@recipe("json-duplicate-key", 14, "appears twice")
def _dupkey(d: Path) -> Path:
    text = canonical(manifest_dict(payload()))
    return _dir_with_manifest(d, text.replace(b'"files": [', b'"files": [], "files": [', 1))


@recipe("json-not-utf8", 14, "not UTF-8")
def _not_utf8(d: Path) -> Path:
    return _dir_with_manifest(d, b'{"created_by": "\xff"}')


@recipe("json-lone-surrogate-in-path", 14, "surrogate")
def _surrogate(d: Path) -> Path:
    text = canonical(manifest_dict(payload()))
    return _dir_with_manifest(d, text.replace(b"other/notes.txt", b"other/\\udc80notes.txt", 1))


@recipe("manifest-files-number", 14, "files: Input should be a valid list")
def _files_num(d: Path) -> Path:
    return _edited(d, lambda m: m.update(files=7))


@recipe("manifest-files-boolean", 14, "files: Input should be a valid list")
def _files_bool(d: Path) -> Path:
    return _edited(d, lambda m: m.update(files=True))


@recipe("manifest-files-null", 14, "files: Input should be a valid list")
def _files_null(d: Path) -> Path:
    return _edited(d, lambda m: m.update(files=None))


@recipe("manifest-top-level-array", 14, "valid dictionary")
def _top_array(d: Path) -> Path:
    return _dir_with_manifest(d, "[]")


@recipe("manifest-unknown-key", 14, "extra: Extra inputs")
def _unknown(d: Path) -> Path:
    return _edited(d, lambda m: m.update(extra="x"))


@recipe("manifest-format-version-true", 14, "format_version")
def _fv(d: Path) -> Path:
    return _edited(d, lambda m: m.update(format_version=True))


@recipe("manifest-size-string", 14, "files.0.size")
def _size_str(d: Path) -> Path:
    return _edited(d, lambda m: m["files"][0].update(size="31"))


@recipe("manifest-size-negative", 14, "files.0.size")
def _size_neg(d: Path) -> Path:
    return _edited(d, lambda m: m["files"][0].update(size=-1))


@recipe("manifest-size-too-large", 14, "files.0.size")
def _size_big(d: Path) -> Path:
    return _edited(d, lambda m: m["files"][0].update(size=1 << 60))


@recipe("manifest-sha256-uppercase", 14, "files.0.sha256")
def _sha_upper(d: Path) -> Path:
    return _edited(d, lambda m: m["files"][0].update(sha256=m["files"][0]["sha256"].upper()))


@recipe("manifest-created-at-garbage", 14, "created_at")
def _created(d: Path) -> Path:
    return _edited(d, lambda m: m.update(created_at="yesterday"))


@recipe("manifest-created-at-naive", 14, "time zone")
def _naive(d: Path) -> Path:
    return _edited(d, lambda m: m.update(created_at="2026-01-01T00:00:00"))


@recipe("manifest-rank-negative", 14, "adapters.0.rank")
def _rank(d: Path) -> Path:
    return _edited(d, lambda m: m["adapters"][0].update(rank=-1))


@recipe("manifest-rank-zero", 14, "adapters.0.rank")
def _rank0(d: Path) -> Path:
    return _edited(d, lambda m: m["adapters"][0].update(rank=0))


@recipe("manifest-adapter-path-dotdot", 17, "adapters.0.path")
def _apath(d: Path) -> Path:
    return _edited(d, lambda m: m["adapters"][0].update(path="../x"))


@recipe("manifest-adapter-path-other-folder", 17, "not adapters/faq")
def _apath2(d: Path) -> Path:
    return _edited(d, lambda m: m["adapters"][0].update(path="model"))


@recipe("manifest-control-chars-in-name", 14, "created_by")
def _ctl_name(d: Path) -> Path:
    return _edited(d, lambda m: m.update(created_by="prai\x1b[2J\nrm -rf /"))


def _path_recipe(path: str) -> Recipe:
    """The valid bundle with other/notes.txt renamed to ``path`` (in the manifest and,
    where a file system allows it, on disk)."""

    def make(d: Path) -> Path:
        files = payload()
        data = manifest_dict(files)
        entry = next(e for e in data["files"] if e["path"] == "other/notes.txt")
        entry["path"] = path
        files[path] = files.pop("other/notes.txt")
        return _dir_with_manifest_raw(d, canonical(data), files)

    return make


def _dir_with_manifest_raw(d: Path, mbytes: bytes, files: dict[str, bytes]) -> Path:
    root = d / "b"
    root.mkdir()
    (root / "prai-bundle.json").write_bytes(mbytes)
    (root / "SHA256SUMS").write_bytes(b"")
    for path, data in files.items():
        target = root / path
        if ".." in path.split("/") or path.startswith("/") or "\x00" in path:
            continue  # never write outside the bundle, even in tests
        if path.count("/") > 64 or len(path) > 1000:
            continue  # deeper or longer than file systems allow: in the manifest only
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        except OSError:
            pass  # names the file system refuses (too long or deep): manifest only
    return root


for _name, _path in {
    "path-top-level-README": "README",
    "path-top-level-model": "model",
    "path-top-level-dash-rf": "-rf",
    "path-newline-in-name": "other/a\nb",
    "path-escape-in-name": "other/\x1b[31mred",
    "path-bidi-override": "other/evil\u202etxt.exe",
    "path-dotdot": "other/../../etc/passwd",
    "path-absolute": "/etc/passwd",
    "path-backslash": "other\\..\\x",
    "path-2000-deep": "other/" + "d/" * 2000 + "f",
    "path-component-300-bytes": "other/" + "c" * 300,
    "path-wrong-role-folder": "adapters/faq/x",  # role "other" below adapters/
    "path-dot-component": "other/./x",
    "path-trailing-slash": "other/x/",
}.items():
    RECIPES[_name] = (_path_recipe(_path), 17, repr(_path)[:20])


def _colliding(*paths: str) -> Recipe:
    """The valid bundle plus files at ``paths`` (distinct on Linux, one name on Windows or
    macOS), in the manifest and on disk."""

    def make(d: Path) -> Path:
        files = payload()
        files[paths[0]] = b"file 0\n"
        data = manifest_dict(files)  # valid: the others are added past the model's checks
        for i, path in enumerate(paths[1:], 1):
            files[path] = f"file {i}\n".encode()
            data["files"].append({"role": _role(path)[0], "name": _role(path)[1], "path": path,
                                  "size": len(files[path]),
                                  "sha256": hashlib.sha256(files[path]).hexdigest()})
        return _dir_with_manifest(d, canonical(data), files)

    return make


RECIPES["path-case-collision"] = (
    _colliding("other/Readme.txt", "other/README.txt"), 17, "differ only by case"
)
RECIPES["path-folder-case-collision"] = (
    _colliding("model/Sub/a.json", "model/sub/b.json"), 17, "'model/Sub' and 'model/sub'"
)
RECIPES["path-nfc-nfd-collision"] = (
    _colliding("other/caf\u00e9.txt", "other/cafe\u0301.txt"), 17, "Unicode normalisation"
)


@recipe("manifest-file-and-folder", 17, "is a file and also the folder")
def _file_and_folder(d: Path) -> Path:
    files = payload()
    data = manifest_dict(files)
    inner = dict(next(e for e in data["files"] if e["path"] == "other/notes.txt"))
    inner["path"] = "other/notes.txt/inner"
    data["files"].append(inner)
    return _dir_with_manifest_raw(d, canonical(data), files)


@recipe("manifest-duplicate-path", 14, "listed twice")
def _dup_path(d: Path) -> Path:
    return _edited(d, lambda m: m["files"].append(dict(m["files"][0])))


@recipe("manifest-partial-names-collide", 0)
def _partial(d: Path) -> Path:
    files = payload()
    files["model/a"] = b"file a\n"
    files["model/a.partial"] = b"file a.partial\n"
    return _edited(d, lambda m: None, files)


@recipe("dir-extra-empty-folder", 11, "folder model/empty/")
def _dir_extra_folder(d: Path) -> Path:
    root = _edited(d, lambda m: None)
    (root / "model" / "empty").mkdir()
    return root


@recipe("dir-non-utf8-file-name", 17, "surrogate")
def _dir_non_utf8(d: Path) -> Path:
    root = _edited(d, lambda m: None)
    with open(os.path.join(os.fsencode(root), b"model", b"\xff\xfe.bin"), "wb") as f:
        f.write(b"x")
    return root


@recipe("sums-hostile-line", 14, "SHA256SUMS does not match")
def _sums(d: Path) -> Path:
    root = _edited(d, lambda m: None)
    (root / "SHA256SUMS").write_bytes(b"0" * 64 + b"  \x1b[2J\xff\n")
    return root


# split parts


def _parts(d: Path, edit: Callable[[dict[str, Any]], None] | None = None,
           damage: Callable[[Path], None] | None = None) -> Path:
    index = write_parts(d / "p.tar", tar_of(payload()), 2048, edit)
    if damage is not None:
        damage(d)
    return index


@recipe("parts-ok", 0)
def _parts_ok(d: Path) -> Path:
    return _parts(d)


@recipe("parts-sha256-null", 16, "sha256")
def _parts_null(d: Path) -> Path:
    return _parts(d, lambda i: i.update(sha256=None))


@recipe("parts-part-sha256-null", 16, "parts.0.sha256")
def _parts_part_null(d: Path) -> Path:
    return _parts(d, lambda i: i["parts"][0].update(sha256=None))


@recipe("parts-size-infinity", 16, "Infinity")
def _parts_inf(d: Path) -> Path:
    index = _parts(d)
    text = re.sub(r'"size": [0-9]+,\n  "tar"', '"size": Infinity,\n  "tar"', index.read_text())
    assert "Infinity" in text
    index.write_text(text)
    return index


@recipe("parts-size-float", 16, "size")
def _parts_float(d: Path) -> Path:
    return _parts(d, lambda i: i.update(size=float(i["size"])))


@recipe("parts-sizes-do-not-add-up", 16, "add up")
def _parts_sum(d: Path) -> Path:
    return _parts(d, lambda i: i.update(size=i["size"] + 512))


@recipe("parts-tar-sha256-wrong", 16, "the index was edited")
def _parts_tar_sha(d: Path) -> Path:
    return _parts(d, lambda i: i.update(sha256="0" * 64))


@recipe("parts-flipped-byte-in-last-part-padding", 16, "part p.tar.part-0004 is corrupted")
def _parts_flip_end(d: Path) -> Path:
    def flip(dd: Path) -> None:
        last = sorted(dd.glob("p.tar.part-*"))[-1]
        data = bytearray(last.read_bytes())
        data[-1] ^= 0x01
        last.write_bytes(bytes(data))

    return _parts(d, damage=flip)


@recipe("parts-flipped-byte-in-member-padding", 16, "is corrupted")
def _parts_flip_pad(d: Path) -> Path:
    tar = tar_of(payload())
    off = tar.index(b"{\"r\": 8") + 40  # inside the padding after the adapter config

    def flip(dd: Path) -> None:
        part = dd / f"p.tar.part-{off // 2048:04d}"
        data = bytearray(part.read_bytes())
        data[off % 2048] ^= 0x01
        part.write_bytes(bytes(data))

    return _parts(d, damage=flip)


@recipe("parts-path-traversal", 17, "parts.0.path")
def _parts_path(d: Path) -> Path:
    return _parts(d, lambda i: i["parts"][0].update(path="../p.tar.part-0000"))


@recipe("parts-misnamed-part", 16, "is named")
def _parts_name(d: Path) -> Path:
    return _parts(d, lambda i: i["parts"].reverse())


@recipe("parts-other-tar-name", 16, "is named")
def _parts_tar(d: Path) -> Path:
    return _parts(d, lambda i: i.update(tar="q.tar"))


@recipe("parts-root-digest-of-another-bundle", 16, "another bundle")
def _parts_root(d: Path) -> Path:
    return _parts(d, lambda i: i.update(root_digest="sha256:" + "1" * 64))


@recipe("parts-missing-sums-file", 16, "is missing")
def _parts_sums(d: Path) -> Path:
    return _parts(d, damage=lambda dd: (dd / "p.tar.parts.SHA256SUMS").unlink())


@recipe("parts-index-not-json", 16, "nested too deeply")
def _parts_json(d: Path) -> Path:
    index = _parts(d)
    index.write_text('{"parts": ' + "[" * 100_000)
    return index


# container images: the OCI layout under images/ (issue 14) -------------------------------


def _sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _doc(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


def _image_layout(layer_size_delta: int = 0) -> tuple[dict[str, bytes], ImageRef]:
    """images/ of a bundle that carries one image: an index naming one image manifest,
    its config and one layer (``layer_size_delta`` is added to the layer's descriptor size).
    Returns the files and the manifest's ``images[]`` entry."""
    config = _doc({"architecture": "amd64", "os": "linux",
                   "rootfs": {"type": "layers", "diff_ids": [_sha(b"layer")]}})
    layer = b"layer-bytes " * 50
    image = _doc({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": _sha(config), "size": len(config)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                    "digest": _sha(layer), "size": len(layer) + layer_size_delta}],
    })
    index = _doc({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
                       "digest": _sha(image), "size": len(image),
                       "platform": {"os": "linux", "architecture": "amd64"}}],
    })
    top = {"mediaType": "application/vnd.oci.image.index.v1+json", "digest": _sha(index),
           "size": len(index), "annotations": {"org.opencontainers.image.ref.name": "team/app:1"}}
    files = {
        "images/oci-layout": b'{"imageLayoutVersion":"1.0.0"}',
        "images/index.json": _doc({"schemaVersion": 2, "manifests": [top]}),
    }
    for blob in (index, image, config, layer):
        files["images/blobs/sha256/" + _sha(blob)[7:]] = blob
    ref = ImageRef(ref=f"registry.example/team/app:1@{_sha(index)}", repository="registry.example/team/app",
                   tag="1", digest=_sha(index), carried=True,
                   media_type="application/vnd.oci.image.index.v1+json", platforms=["linux/amd64"],
                   source="oci-layout")
    return files, ref


def _with_images(d: Path, edit: Callable[[dict[str, bytes], ImageRef], ImageRef] | None = None,
                 layer_size_delta: int = 0) -> Path:
    """The valid bundle plus a carried image; ``edit`` changes the images/ files (and may
    return another images[] entry) before the manifest is written to match them."""
    images, ref = _image_layout(layer_size_delta)
    if edit is not None:
        ref = edit(images, ref)
    files = {**payload(), **images}
    return _dir_with_manifest(d, canonical(manifest_dict(files, [ref])), files)


def _blob_of(files: dict[str, bytes], kind: str) -> str:
    """The path of the image's ``kind`` blob (``index``, ``image``, ``config``, ``layer``)."""
    paths = [p for p in files if p.startswith("images/blobs/")]
    return paths[["index", "image", "config", "layer"].index(kind)]


@recipe("images-layout-ok", 0)
def _images_ok(d: Path) -> Path:
    return _with_images(d)


@recipe("images-index-json-not-json", 14, "images/index.json: not valid JSON")
def _images_index_broken(d: Path) -> Path:
    def edit(f: dict[str, bytes], ref: ImageRef) -> ImageRef:
        f["images/index.json"] = b'{"schemaVersion": 2, "manifests": ['
        return ref

    return _with_images(d, edit)


@recipe("images-index-json-nested", 14, "nested")
def _images_index_deep(d: Path) -> Path:
    def edit(f: dict[str, bytes], ref: ImageRef) -> ImageRef:
        f["images/index.json"] = b'{"manifests": ' + b"[" * 50_000 + b"]" * 50_000 + b"}"
        return ref

    return _with_images(d, edit)


@recipe("images-index-json-names-no-image", 14, "not in images/index.json")
def _images_not_in_index(d: Path) -> Path:
    def edit(f: dict[str, bytes], ref: ImageRef) -> ImageRef:
        f["images/index.json"] = _doc({"schemaVersion": 2, "manifests": []})
        f.pop(_blob_of(f, "index"))  # nothing names it: only the manifest's images[] does
        return ref

    return _with_images(d, edit)


@recipe("images-index-json-names-unknown-image", 14, "does not list")
def _images_unknown_in_index(d: Path) -> Path:
    def edit(f: dict[str, bytes], ref: ImageRef) -> ImageRef:
        image = _blob_of(f, "image")
        return ref.model_copy(update={"digest": "sha256:" + image.rsplit("/", 1)[1],
                                      "ref": "registry.example/team/app@sha256:" + image.rsplit("/", 1)[1]})

    return _with_images(d, edit)


@recipe("images-layer-not-in-bundle", 10, "names it as a layers blob")
def _images_layer_missing(d: Path) -> Path:
    def edit(f: dict[str, bytes], ref: ImageRef) -> ImageRef:
        f.pop(_blob_of(f, "layer"))
        return ref

    return _with_images(d, edit)


@recipe("images-platform-manifest-not-in-bundle", 10, "index sha256:")
def _images_child_missing(d: Path) -> Path:
    def edit(f: dict[str, bytes], ref: ImageRef) -> ImageRef:
        image = f.pop(_blob_of(f, "image"))
        f.pop("images/blobs/sha256/" + hashlib.sha256(b"layer-bytes " * 50).hexdigest())
        config = json.loads(image)["config"]["digest"]
        f.pop("images/blobs/sha256/" + config[7:])
        return ref

    return _with_images(d, edit)


@recipe("images-unused-blob", 11, "no image in images/index.json refers to it")
def _images_extra_blob(d: Path) -> Path:
    def edit(f: dict[str, bytes], ref: ImageRef) -> ImageRef:
        stray = b"a blob no manifest names"
        f["images/blobs/sha256/" + _sha(stray)[7:]] = stray
        return ref

    return _with_images(d, edit)


@recipe("images-blob-content-not-its-name", 12, "must hash to its name")
def _images_misnamed(d: Path) -> Path:
    def edit(f: dict[str, bytes], ref: ImageRef) -> ImageRef:
        path = _blob_of(f, "layer")
        f[path] = bytes(len(f[path]))  # same size, other bytes (the manifest lists their hash)
        return ref

    return _with_images(d, edit)


@recipe("images-layer-size-differs-from-descriptor", 13, "says")
def _images_layer_size(d: Path) -> Path:
    return _with_images(d, layer_size_delta=7)


@recipe("images-oci-layout-version", 14, "imageLayoutVersion")
def _images_layout_version(d: Path) -> Path:
    def edit(f: dict[str, bytes], ref: ImageRef) -> ImageRef:
        f["images/oci-layout"] = b'{"imageLayoutVersion":"2.0.0"}'
        return ref

    return _with_images(d, edit)
