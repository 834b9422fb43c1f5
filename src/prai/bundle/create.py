"""``prai bundle create``: validate the inputs, then pack them with a manifest.

A bundle holds a base model with its adapters, or adapters alone (a new adapter version
for a base already in the closed network: the manifest then has no ``model`` and each
adapter's facts record the base model name from its adapter_config.json).

Inputs are checked before anything is written (model directory complete, adapters fit,
CA certificates valid, image references pinned). The output is built under a temporary
name next to ``out`` and renamed at the end, so an interrupted run leaves no bundle that
looks complete.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tarfile
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from prai import __version__
from prai.errors import BundleDigestMismatch, UsageError
from prai.settings import get_settings

from ._hashing import CHUNK_BYTES, NullProgress, ProgressSink, hash_file, workers
from ._source import PARTS_SUFFIX
from .certs import check_ca_file
from .images import parse_image_ref
from .images_carry import ImageCarryRequest
from .manifest import (
    MANIFEST_NAME,
    SIGNATURE_NAME,
    SUMS_NAME,
    AdapterFacts,
    CAFacts,
    FileEntry,
    ImageRef,
    Manifest,
    ModelFacts,
    Role,
    check_relpath,
    dump_manifest,
    render_sums,
    root_digest,
)
from .modeldir import ModelDirReport, check_adapter, check_model_dir
from .sign import sign_manifest

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_SKIP_DIRS = {".git", ".cache"}
_UNITS = {
    "": 1,
    "b": 1,
    "k": 1000,
    "kb": 1000,
    "kib": 1024,
    "m": 1000**2,
    "mb": 1000**2,
    "mib": 1024**2,
    "g": 1000**3,
    "gb": 1000**3,
    "gib": 1024**3,
    "t": 1000**4,
    "tb": 1000**4,
    "tib": 1024**4,
}


def parse_size(text: str) -> int:
    """Bytes from ``4GiB``, ``700MB``, ``4096`` (binary and decimal units).

    Raises:
        UsageError: not a positive size.
    """
    m = re.match(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*([A-Za-z]*)\s*$", text)
    if not m or m.group(2).lower() not in _UNITS or float(m.group(1)) <= 0:
        raise UsageError(f"{text!r} is not a size", hint="write it like 4GiB, 700MB or 1048576")
    return int(float(m.group(1)) * _UNITS[m.group(2).lower()])


@dataclass
class _Item:
    role: Role
    name: str
    src: Path | None  # None: generated content in ``data``
    path: str
    data: bytes = b""
    known: tuple[str, int] | None = None  # (sha256 hex, size) already checked (issue 14)
    move: bool = False  # src is a work file that may be moved into the bundle (issue 14)


@dataclass
class CreateResult:
    """What ``create_bundle`` wrote. Sizes in bytes, duration in seconds."""

    out: Path
    kind: str  # "dir", "tar" or "parts"
    root_digest: str
    manifest: Manifest
    warnings: list[str]
    parts: list[Path] = field(default_factory=list)
    seconds: float = 0.0


def _walk(src: Path, prefix: str, role: Role, name: str) -> list[_Item]:
    items = []
    for dirpath, dirnames, filenames in os.walk(src, followlinks=True):
        dirnames[:] = sorted(d for d in dirnames if d not in _SKIP_DIRS)
        for fn in sorted(filenames):
            full = Path(dirpath) / fn
            if not full.is_file():  # broken symlink, socket...
                continue
            rel = full.relative_to(src).as_posix()
            items.append(_Item(role, name, full, check_relpath(f"{prefix}/{rel}")))
    return items


def _hf_recorded_sha256(model_dir: Path, rel: str) -> str | None:
    """SHA-256 that huggingface_hub recorded when it downloaded ``rel`` (LFS files only).

    Sources: in a hub cache snapshot, an LFS file is a symlink to ``blobs/<sha256>``; in a
    ``--local-dir`` download, ``<local_dir>/.cache/huggingface/download/<rel>.metadata``
    holds lines commit hash, etag, timestamp, and an LFS file's etag is its SHA-256.
    """
    link = model_dir / rel
    if link.is_symlink():  # a hub cache snapshot: LFS files link to blobs/<sha256>
        target = Path(os.readlink(link)).name
        if re.fullmatch(r"[0-9a-f]{64}", target):
            return target
    meta = model_dir / ".cache" / "huggingface" / "download" / f"{rel}.metadata"
    try:
        lines = meta.read_text(encoding="utf-8").splitlines()
    except OSError:
        return None
    etag = lines[1].strip().strip('"').lower() if len(lines) > 1 else ""
    return etag if re.fullmatch(r"[0-9a-f]{64}", etag) else None


def _copy_hash(src: Path, dst: Path, sink: ProgressSink) -> tuple[str, int]:
    h = hashlib.sha256()
    n = 0
    with open(src, "rb", buffering=0) as fi, open(dst, "xb", buffering=0) as fo:
        buf = bytearray(CHUNK_BYTES)
        view = memoryview(buf)
        while got := fi.readinto(view):
            h.update(view[:got])
            fo.write(view[:got])
            n += got
            sink.advance(got)
        os.fsync(fo.fileno())
    os.chmod(dst, 0o644)
    return h.hexdigest(), n


class _HashingReader:
    """Wraps a file for tarfile: hashes what it reads, so a file changed since it was
    hashed is caught."""

    def __init__(self, f: BinaryIO, sink: ProgressSink) -> None:
        self._f = f
        self._h = hashlib.sha256()
        self._sink = sink

    def read(self, n: int = -1) -> bytes:
        data = self._f.read(n)
        self._h.update(data)
        self._sink.advance(len(data))
        return data

    def hexdigest(self) -> str:
        return self._h.hexdigest()


class _SplitWriter:
    """A write-only stream cut into parts of ``part_bytes``; hashes each part and the whole."""

    def __init__(self, base: Path, part_bytes: int | None) -> None:
        self.base = base
        self.part_bytes = part_bytes
        self.parts: list[tuple[Path, int, str]] = []
        self.total = hashlib.sha256()
        self.size = 0
        self._fh: BinaryIO | None = None
        self._h = hashlib.sha256()
        self._n = 0

    def _tmp(self, i: int) -> Path:
        suffix = f".part-{i:04d}" if self.part_bytes else ""
        return self.base.with_name(f".{self.base.name}{suffix}.partial")

    def _roll(self) -> None:
        self._close_part()
        self._fh = open(self._tmp(len(self.parts)), "xb")  # noqa: SIM115
        self._h = hashlib.sha256()
        self._n = 0

    def _close_part(self) -> None:
        if self._fh is not None:
            self._fh.flush()
            os.fsync(self._fh.fileno())
            self._fh.close()
            self.parts.append((self._tmp(len(self.parts)), self._n, self._h.hexdigest()))
            self._fh = None

    def write(self, data: bytes) -> int:
        view = memoryview(data)
        while view:
            if self._fh is None or (self.part_bytes and self._n >= self.part_bytes):
                self._roll()
            assert self._fh is not None
            room = len(view) if not self.part_bytes else min(len(view), self.part_bytes - self._n)
            chunk = view[:room]
            self._fh.write(chunk)
            self._h.update(chunk)
            self.total.update(chunk)
            self._n += room
            self.size += room
            view = view[room:]
        return len(data)

    def close(self) -> None:
        self._close_part()

    def abort(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None
        for i in range(len(self.parts) + 1):
            self._tmp(i).unlink(missing_ok=True)


def _plan(
    model: Path | None,
    adapters: dict[str, Path],
    cas: list[Path],
    images: list[ImageRef],
    evals: list[Path],
    others: list[Path],
) -> list[_Item]:
    items = _walk(model, "model", "model", "model") if model is not None else []
    for name, d in adapters.items():
        items += _walk(d, f"adapters/{name}", "adapter", name)
    for role, prefix, files in (
        ("ca", "ca", cas),
        ("eval", "eval", evals),
        ("other", "other", others),
    ):
        seen: set[str] = set()
        for f in files:
            if f.name in seen:
                raise UsageError(f"two {role} files are named {f.name!r}; rename one")
            seen.add(f.name)
            items.append(_Item(role, f.name, f, check_relpath(f"{prefix}/{f.name}")))  # type: ignore[arg-type]
    if images:
        text = "".join(i.ref + "\n" for i in images).encode()
        items.append(_Item("images", "images", None, "images/images.txt", text))
    return items


def create_bundle(
    out: str | Path,
    *,
    model: str | Path | None,
    adapters: Mapping[str, str | Path] | None = None,
    cas: list[str | Path] | None = None,
    images: list[str] | None = None,
    evals: list[str | Path] | None = None,
    others: list[str | Path] | None = None,
    sign_key: str | Path | None = None,
    split_bytes: int | None = None,
    require_chat_template: bool | None = None,
    progress: ProgressSink | None = None,
    now: datetime | None = None,
    carry: ImageCarryRequest | None = None,
) -> CreateResult:
    """Validate the inputs and write a bundle.

    Args:
        out: a directory to create, or ``NAME.tar`` for one tar; with ``split_bytes`` the
            tar is written as ``NAME.tar.part-0000…`` plus ``NAME.tar.parts.json``.
        model: Hugging Face model directory (symlinks into a HF cache are followed), or
            None for an adapter-only bundle: the manifest's ``model`` is then null, and
            adapters are checked from their own files (config, weights, rank) only, since
            there is no base to check their shapes against.
        adapters: adapter name -> PEFT adapter directory.
        cas: PEM files with CA certificates. images: image references only (pin by
            digest; ``--image-ref-only``).
        carry: container images to copy into ``images/`` as an OCI image layout
            (``--image``; see :mod:`prai.bundle.images_carry`).
        evals, others: single files carried as role ``eval`` / ``other``.
        sign_key: PEM private key (Ed25519 or ECDSA) to sign the manifest; an encrypted
            key's passphrase comes from PRAI_SIGN_KEY_PASSWORD.
        split_bytes: part size in bytes (tar output only).
        progress: receives bytes copied/hashed.

    Returns:
        CreateResult with the root digest (``sha256:…``) to write on the transfer form.

    Raises:
        UsageError: bad names or paths, output exists, neither a model nor an adapter.
        ModelError: model incomplete.
        AdapterError: adapter does not fit. ConfigError: bad CA or key.
        BundleDigestMismatch: a file differs from the SHA-256 Hugging Face recorded, or
        changed while it was packed, or an image blob does not match its digest.
        ImageRegistryError: a source registry refused, failed TLS or auth.
    """
    t0 = time.monotonic()
    sink = progress or NullProgress()
    out = Path(out)
    as_tar = out.name.endswith(".tar")
    if split_bytes and not as_tar:
        raise UsageError(
            "--split-size needs a tar output", hint="use -o NAME.tar --split-size 4GiB"
        )
    targets = [out, out.with_name(out.name + PARTS_SUFFIX)] if split_bytes else [out]
    for t in targets:
        if t.exists() or t.is_symlink():
            raise UsageError(
                f"{t} already exists", hint="choose another -o or remove the old bundle"
            )
    if not out.parent.is_dir():
        raise UsageError(
            f"{out.parent} does not exist", hint="create the output's parent directory"
        )
    adapter_dirs = {k: Path(v) for k, v in (adapters or {}).items()}
    model_dir = Path(model) if model is not None else None
    if model_dir is not None:
        report = check_model_dir(model_dir, require_chat_template=require_chat_template)
        report.raise_for_problems()
    elif adapter_dirs or (carry is not None and carry.specs):
        # No base to compare with: no tensor shapes, no name, so check_adapter checks
        # each adapter's own files only. (An images-only bundle is fine too: issue 14.)
        report = ModelDirReport(Path(), ModelFacts(name="", path="model"))
    else:
        raise UsageError(
            "nothing to pack: no model, no adapter and no image",
            hint="give --model DIR, --adapter NAME=DIR for an adapter-only bundle, or --image",
        )
    warnings = list(report.warnings)
    adapter_facts: list[AdapterFacts] = []
    for name, d in adapter_dirs.items():
        if not _NAME.match(name):
            raise UsageError(f"adapter name {name!r}: use letters, digits, '.', '_' or '-'")
        if not d.is_dir():
            raise UsageError(f"--adapter {name}={d}: not a directory")
        facts, w = check_adapter(name, d, report)
        adapter_facts.append(facts)
        warnings += w
    ca_facts: list[CAFacts] = []
    for ca in map(Path, cas or []):
        facts_list, w = check_ca_file(ca, ca.name, f"ca/{ca.name}")
        ca_facts += facts_list
        warnings += w
    image_refs: list[ImageRef] = []
    for ref in images or []:
        img, w = parse_image_ref(ref)
        image_refs.append(img)
        warnings += w
    for f in [*map(Path, evals or []), *map(Path, others or [])]:
        if not f.is_file():
            raise UsageError(f"{f} is not a file")
    out_abs = out.resolve()
    for d in [*([model_dir] if model_dir else []), *adapter_dirs.values()]:
        if out_abs.is_relative_to(d.resolve()):
            raise UsageError(f"-o {out} is inside the input directory {d}")

    # --- issue 14: carried container images, fetched and checked before anything is written
    workdir = out.with_name(f".{out.name}.images.partial")
    carried_items: list[_Item] = []
    if carry is not None and carry.specs:
        from .images_carry import cleanup, collect_images

        cleanup(workdir)
        try:
            carried = collect_images(carry, workdir, sink)
        except BaseException:
            cleanup(workdir)
            raise
        image_refs += carried.refs
        warnings += carried.warnings
        carried_items = [
            _Item("images", "images", f.src, f.path, f.data or b"", (f.sha256, f.size), f.move)
            for f in carried.files
        ]
    items = _plan(
        model_dir,
        adapter_dirs,
        [Path(c) for c in cas or []],
        image_refs,
        [Path(e) for e in evals or []],
        [Path(o) for o in others or []],
    )
    items += carried_items
    total = sum(i.src.stat().st_size if i.src else len(i.data) for i in items)
    staging = out.with_name(f".{out.name}.partial")
    if staging.exists():
        shutil.rmtree(staging) if staging.is_dir() else staging.unlink()
    digests: dict[str, tuple[str, int]] = {}
    try:
        if not as_tar:
            staging.mkdir(mode=0o755)
            sink.start("packing", total)

            def copy(item: _Item) -> tuple[str, int]:
                dst = staging / item.path
                dst.parent.mkdir(parents=True, exist_ok=True)
                if item.src is None:
                    dst.write_bytes(item.data)
                    os.chmod(dst, 0o644)
                    return hashlib.sha256(item.data).hexdigest(), len(item.data)
                if item.known is not None and item.move:  # a checked image blob (issue 14)
                    os.replace(item.src, dst)
                    os.chmod(dst, 0o644)
                    sink.advance(item.known[1])
                    return item.known
                res = _copy_hash(item.src, dst, sink)
                if item.known is not None and res != item.known:
                    raise BundleDigestMismatch(
                        f"{item.src} changed while it was packed",
                        hint="stop whatever writes to the image layout, then create again",
                    )
                return res

            with ThreadPoolExecutor(max_workers=workers()) as pool:
                for item, res in zip(items, pool.map(copy, items), strict=True):
                    digests[item.path] = res
        else:
            sink.start("hashing", total)
            with ThreadPoolExecutor(max_workers=workers()) as pool:
                for item, res in zip(
                    items,
                    pool.map(
                        lambda i: (
                            i.known
                            if i.known is not None
                            else hash_file(i.src, sink.advance)
                            if i.src
                            else (hashlib.sha256(i.data).hexdigest(), len(i.data))
                        ),
                        items,
                    ),
                    strict=True,
                ):
                    digests[item.path] = res
        verified = 0
        for item in items:
            if item.role == "model" and item.src is not None and model_dir is not None:
                rel = item.path.removeprefix("model/")
                recorded = _hf_recorded_sha256(model_dir, rel)
                if recorded is not None:
                    if recorded != digests[item.path][0]:
                        raise BundleDigestMismatch(
                            f"model/{rel}: SHA-256 {digests[item.path][0][:16]}… differs from "
                            f"{recorded[:16]}… that Hugging Face recorded at download",
                            hint="download the file again (hf download …), then create the bundle",
                        )
                    verified += 1
        manifest = Manifest(
            created_at=(now or datetime.now(UTC)).replace(microsecond=0),
            created_by=f"prai {__version__}",
            files=[
                FileEntry(
                    role=i.role,
                    name=i.name,
                    path=i.path,
                    size=digests[i.path][1],
                    sha256=digests[i.path][0],
                )
                for i in items
            ],
            model=report.facts.model_copy(update={"hf_cache_verified_files": verified})
            if model_dir is not None
            else None,
            adapters=adapter_facts,
            cas=ca_facts,
            images=image_refs,
            warnings=warnings,
        )
        mbytes = dump_manifest(manifest)
        password = get_settings().sign_key_password
        sig = (
            sign_manifest(mbytes, sign_key, password.encode() if password else None)
            if sign_key
            else None
        )
        control = [(MANIFEST_NAME, mbytes), (SUMS_NAME, render_sums(manifest))]
        if sig is not None:
            control.insert(1, (SIGNATURE_NAME, sig))
        parts: list[Path] = []
        if not as_tar:
            for name, data in control:
                (staging / name).write_bytes(data)
                os.chmod(staging / name, 0o644)
            os.replace(staging, out)
            kind = "dir"
        else:
            parts = _write_tar(out, items, control, manifest, split_bytes, sink)
            kind = "parts" if split_bytes else "tar"
    except BaseException:
        if staging.is_dir():
            shutil.rmtree(staging, ignore_errors=True)
        raise
    finally:
        if carried_items:
            from .images_carry import cleanup

            cleanup(workdir)
    return CreateResult(
        out, kind, root_digest(mbytes), manifest, warnings, parts, time.monotonic() - t0
    )


def _tarinfo(name: str, size: int, mtime: int) -> tarfile.TarInfo:
    ti = tarfile.TarInfo(name)
    ti.size, ti.mode, ti.mtime, ti.type = size, 0o644, mtime, tarfile.REGTYPE
    ti.uid = ti.gid = 0
    ti.uname = ti.gname = ""
    return ti


def _write_tar(
    out: Path,
    items: list[_Item],
    control: list[tuple[str, bytes]],
    manifest: Manifest,
    split_bytes: int | None,
    sink: ProgressSink,
) -> list[Path]:
    import io

    writer = _SplitWriter(out, split_bytes)
    mtime = int(manifest.created_at.timestamp())
    expected = manifest.by_path()
    sink.start("writing tar", manifest.total_bytes)
    try:
        with tarfile.open(fileobj=writer, mode="w|", format=tarfile.PAX_FORMAT) as tf:  # type: ignore[call-overload]
            for name, data in control:
                tf.addfile(_tarinfo(name, len(data), mtime), io.BytesIO(data))
            for item in items:
                entry = expected[item.path]
                if item.src is None:
                    tf.addfile(_tarinfo(item.path, len(item.data), mtime), io.BytesIO(item.data))
                    sink.advance(len(item.data))
                    continue
                with open(item.src, "rb") as f:
                    reader = _HashingReader(f, sink)
                    tf.addfile(_tarinfo(item.path, entry.size, mtime), reader)
                if reader.hexdigest() != entry.sha256:
                    raise BundleDigestMismatch(
                        f"{item.src} changed while it was packed",
                        hint="stop whatever writes to the model directory, then create again",
                    )
        writer.close()
    except BaseException:
        writer.abort()
        raise
    if not split_bytes:
        os.replace(writer.parts[0][0], out)
        return [out]
    finals = []
    sums = ""
    records = []
    for i, (tmp, size, digest) in enumerate(writer.parts):
        final = out.with_name(f"{out.name}.part-{i:04d}")
        os.replace(tmp, final)
        finals.append(final)
        records.append({"path": final.name, "size": size, "sha256": digest})
        sums += f"{digest}  {final.name}\n"
    index = {
        "format": "prai-bundle-parts",
        "format_version": 1,
        "tar": out.name,
        "size": writer.size,
        "sha256": writer.total.hexdigest(),
        "root_digest": root_digest(control[0][1]),
        "parts": records,
    }
    sums_path = out.with_name(out.name + ".parts.SHA256SUMS")
    sums_path.write_text(sums)
    index_path = out.with_name(out.name + PARTS_SUFFIX)
    tmp_index = index_path.with_name("." + index_path.name + ".partial")
    tmp_index.write_text(json.dumps(index, indent=2, sort_keys=True) + "\n")
    os.replace(tmp_index, index_path)
    return [*finals, sums_path, index_path]
