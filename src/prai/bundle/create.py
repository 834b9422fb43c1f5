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
from prai.errors import BundleDigestMismatch, BundleUnsafePath, UsageError
from prai.modelfiles.adapter import AdapterFacts, inspect_adapter
from prai.modelfiles.model_dir import ModelDirReport, ModelFacts, check_model_dir
from prai.settings import get_settings

from ._hashing import CHUNK_BYTES, NullProgress, ProgressSink, hash_file, workers
from ._source import PARTS_SUFFIX
from .certs import check_ca_file
from .delta import plan_delta
from .images import parse_image_ref
from .images_carry import ImageCarryRequest
from .manifest import (
    MANIFEST_NAME,
    SIGNATURE_NAME,
    SUMS_NAME,
    CAFacts,
    DeltaFacts,
    FileEntry,
    ImageRef,
    Manifest,
    ManifestAdapter,
    ManifestModel,
    Role,
    check_relpath,
    colliding_paths,
    collision_message,
    dump_manifest,
    render_sums,
    root_digest,
)
from .receipt import read_base
from .sbom import SBOM_PATH, build_sbom
from .sign import load_sign_key, sign_manifest
from .wheelhouse import SoftwareSpec, prepare_wheelhouse

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


def _stage(staging: Path, item: _Item, sink: ProgressSink) -> tuple[str, int]:
    """Copy (or write) one item under ``staging``; (hex SHA-256, bytes) of what was written."""
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


def _read_item(item: _Item | None, limit: int = 1 << 20) -> bytes | None:
    """A small input file's bytes (model cards for the SBOM), or None."""
    if item is None:
        return None
    if item.src is None:
        return item.data[:limit]
    with open(item.src, "rb") as f:
        return f.read(limit)


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


def _refuse_collisions(items: list[_Item]) -> None:
    """Refuse two bundle paths that are one name on Windows or macOS (case, NFC/NFD).

    Raises:
        BundleUnsafePath (17): names both paths.
    """
    pair = colliding_paths([i.path for i in items])
    if pair is not None:
        raise BundleUnsafePath(
            collision_message(pair),
            hint="rename one of them in the input so that the names differ by more than case "
            "or accents' encoding, then create the bundle again",
        )


#: ModelFacts fields the manifest records under the same name.
_MANIFEST_MODEL_FACTS = ("name", "architectures", "model_type", "dtype", "parameter_count", "max_context_tokens",
                         "hidden_size", "num_hidden_layers", "vocab_size", "has_chat_template", "weight_files")


def _manifest_model(facts: ModelFacts, hf_cache_verified_files: int) -> ManifestModel:
    """The manifest's record of a checked model (its directory is ``model/`` in the bundle)."""
    recorded = {k: getattr(facts, k) for k in _MANIFEST_MODEL_FACTS}
    return ManifestModel(path="model", hf_cache_verified_files=hf_cache_verified_files, **recorded)


def _manifest_adapter(facts: AdapterFacts) -> ManifestAdapter:
    """The manifest's record of a checked adapter (its directory is ``adapters/NAME/``)."""
    return ManifestAdapter(
        name=facts.name,
        path=f"adapters/{facts.name}",
        peft_type=facts.peft_type,
        base_model_name_or_path=facts.base_model_name,
        rank=facts.rank,
        lora_alpha=facts.alpha,
        target_modules=facts.target_modules,
    )


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
    software: SoftwareSpec | None = None,
    since: str | Path | None = None,
    carry: ImageCarryRequest | None = None,
    progress: ProgressSink | None = None,
    now: datetime | None = None,
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
        software: carry PrAI's own software as a wheelhouse (wheelhouse.py).
        since: make a delta against this import receipt or manifest (delta.py): files the
            base holds with the same path and SHA-256 are listed but not carried.
        progress: receives bytes copied/hashed.

    Every bundle also carries a CycloneDX 1.6 SBOM (``sbom/bom.cdx.json``, sbom.py).

    Returns:
        CreateResult with the root digest (``sha256:…``) to write on the transfer form.

    Raises:
        UsageError: bad names or paths, output exists, neither a model, an adapter, an image
            nor software.
        ImageRegistryError: a source registry refused, failed TLS or auth.
        BundleSoftwareError: a wheel is missing for the target Python/platform.
        ModelError: model incomplete.
        AdapterError: adapter does not fit. ConfigError: bad CA or key.
        BundleDigestMismatch: a file differs from the SHA-256 Hugging Face recorded, or
        changed while it was packed, or an image blob does not match its digest.
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
    if sign_key:
        password = get_settings().sign_key_password
        load_sign_key(sign_key, password.encode() if password else None)  # a wrong key costs no packing
    adapter_dirs = {k: Path(v) for k, v in (adapters or {}).items()}
    model_dir = Path(model) if model is not None else None
    report: ModelDirReport | None = None
    if model_dir is not None:
        report = check_model_dir(model_dir, require_chat_template=require_chat_template)
        report.raise_for_problems()
    elif not (adapter_dirs or software is not None or (carry is not None and carry.specs)):
        raise UsageError(
            "nothing to pack: no model, no adapter, no image and no software",
            hint="give --model DIR, --adapter NAME=DIR (an adapter-only bundle), --image REF or --software base",
        )
    warnings = list(report.warnings) if report else []
    adapter_facts: list[ManifestAdapter] = []
    for name, d in adapter_dirs.items():
        if not _NAME.match(name):
            raise UsageError(f"adapter name {name!r}: use letters, digits, '.', '_' or '-'")
        if not d.is_dir():
            raise UsageError(f"--adapter {name}={d}: not a directory")
        # Without a model (an adapter-only bundle) each adapter's own files are checked.
        facts = inspect_adapter(name, d, report.facts if report else None)
        adapter_facts.append(_manifest_adapter(facts))
        warnings += facts.warnings
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

    base = read_base(since) if since is not None else None  # issue 14: delta
    # --- issue 14: carried container images, fetched and checked before anything is written
    workdir = out.with_name(f".{out.name}.images.partial")
    carried_items: list[_Item] = []
    if carry is not None and carry.specs:
        from .images_carry import cleanup, collect_images

        cleanup(workdir)
        try:
            carried_images = collect_images(carry, workdir, sink)
        except BaseException:
            cleanup(workdir)
            raise
        image_refs += carried_images.refs
        warnings += carried_images.warnings
        carried_items = [
            _Item("images", "images", f.src, f.path, f.data or b"", (f.sha256, f.size), f.move)
            for f in carried_images.files
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
    staging = out.with_name(f".{out.name}.partial")
    software_work = out.with_name(f".{out.name}.software.partial")
    for old in (staging, software_work):
        if old.exists():
            shutil.rmtree(old) if old.is_dir() else old.unlink()
    digests: dict[str, tuple[str, int]] = {}
    wheelhouse = None
    try:
        _refuse_collisions(items)  # before anything is copied
        if software is not None:  # issue 14: PrAI's own wheelhouse
            sink.start(f"wheelhouse ({software.profile}, CPython {software.python}, {software.platform})", 0)
            wheelhouse = prepare_wheelhouse(software, software_work)
            items += [_Item("software", "software", f, path) for path, f in wheelhouse.files.items()]
            _refuse_collisions(items)
        total = sum(i.src.stat().st_size if i.src else len(i.data) for i in items)
        hash_first = as_tar or base is not None
        if not hash_first:
            staging.mkdir(mode=0o755)
            sink.start("packing", total)
            with ThreadPoolExecutor(max_workers=workers()) as pool:
                for item, res in zip(items, pool.map(lambda i: _stage(staging, i, sink), items), strict=True):
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

        def manifest_for(entries: list[_Item], delta: DeltaFacts | None) -> Manifest:
            return Manifest(
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
                    for i in entries
                ],
                model=_manifest_model(report.facts, verified) if report is not None else None,
                adapters=adapter_facts,
                cas=ca_facts,
                images=image_refs,
                warnings=warnings,
                software=wheelhouse.facts if wheelhouse is not None else None,
                delta=delta,
            )

        # issue 14: the SBOM describes every other file; then the delta drops what the base holds
        sources = {i.path: i for i in items}
        draft = manifest_for(items, DeltaFacts(base_root_digest=base.root_digest, in_base=[]) if base else None)
        sbom = build_sbom(draft, lambda path: _read_item(sources.get(path)))
        sbom_item = _Item("sbom", "sbom", None, SBOM_PATH, sbom)
        items.append(sbom_item)
        digests[SBOM_PATH] = (hashlib.sha256(sbom).hexdigest(), len(sbom))
        delta = plan_delta(base, digests) if base is not None else None
        manifest = manifest_for(items, delta)
        carried = [i for i in items if not delta or i.path not in set(delta.in_base)]
        if not as_tar:
            if not hash_first:
                _stage(staging, sbom_item, sink)
            else:
                staging.mkdir(mode=0o755)
                sink.start("packing", sum(digests[i.path][1] for i in carried))
                with ThreadPoolExecutor(max_workers=workers()) as pool:
                    for item, res in zip(carried, pool.map(lambda i: _stage(staging, i, sink), carried), strict=True):
                        if res != digests[item.path]:
                            raise BundleDigestMismatch(
                                f"{item.src} changed while it was packed",
                                hint="stop whatever writes to the input directory, then create again",
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
            parts = _write_tar(out, carried, control, manifest, split_bytes, sink)
            kind = "parts" if split_bytes else "tar"
    except BaseException:
        if staging.is_dir():
            shutil.rmtree(staging, ignore_errors=True)
        raise
    finally:
        shutil.rmtree(software_work, ignore_errors=True)
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
