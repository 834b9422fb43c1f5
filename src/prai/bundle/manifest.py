"""The bundle manifest (``prai-bundle.json``), SHA256SUMS and the root digest.

Format (documented in docs/bundle-format.md): UTF-8 JSON, keys sorted, two-space
indent, one trailing newline. The root digest is the SHA-256 of exactly those bytes;
a signature (``prai-bundle.json.sig``) is made over the same bytes. ``SHA256SUMS``
lists every payload file in manifest order in GNU coreutils' text format
(``<64 hex>  <path>``), so ``sha256sum -c SHA256SUMS`` run inside the bundle checks it.
"""

from __future__ import annotations

import json
import re
import unicodedata
from datetime import datetime
from typing import Annotated, Any, Literal, get_args

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    WithJsonSchema,
    model_validator,
)
from pydantic_core import PydanticCustomError

from prai.errors import BundleError, BundleManifestError, BundlePartError, BundleUnsafePath

from ._hashing import sha256_bytes
from ._json import load_json

MANIFEST_NAME = "prai-bundle.json"
SIGNATURE_NAME = "prai-bundle.json.sig"
SUMS_NAME = "SHA256SUMS"
CONTROL_FILES = (MANIFEST_NAME, SIGNATURE_NAME, SUMS_NAME)
FORMAT = "prai-bundle"
FORMAT_VERSION = 1

# Bounds (docs/bundle-format.md §2.1). Generous for real bundles, small enough that a
# hostile manifest cannot exhaust memory, the stack or PATH_MAX at a destination.
MAX_MANIFEST_BYTES = 64 << 20  # the manifest file
MAX_FILES = 1_000_000  # entries in files[]
MAX_FILE_BYTES = 1 << 50  # one payload file (1 PiB)
MAX_PATH_BYTES = 1024  # a bundle path, UTF-8 encoded
MAX_PATH_DEPTH = 32  # components of a bundle path
MAX_COMPONENT_BYTES = 200  # one component (NAME_MAX is 255; room for a suffix)
MAX_NAME_CHARS = 256  # logical names, model/adapter names
MAX_TEXT_CHARS = 4096  # free text: warnings, subjects, image references
MAX_LIST = 100_000  # other lists (images, warnings, architectures...)

Role = Literal["model", "adapter", "ca", "images", "eval", "other", "software", "sbom"]
# Every role's files live below its own folder; nothing but the control files sits at
# the top level. A new role adds one line here (and to ``Role``).
ROLE_FOLDERS: dict[str, str] = {
    "model": "model",
    "adapter": "adapters",
    "ca": "ca",
    "images": "images",
    "eval": "eval",
    "other": "other",
    "software": "software",  # issue 14: the wheelhouse
    "sbom": "sbom",  # issue 14: the CycloneDX SBOM
}
assert set(ROLE_FOLDERS) == set(get_args(Role)), "Role and ROLE_FOLDERS disagree"

HEX64 = r"^[0-9a-f]{64}$"
ADAPTER_NAME = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"
_ADAPTER_NAME = re.compile(ADAPTER_NAME)
# C0/C1 controls (newline, ESC…), DEL, line/paragraph separators, bidirectional
# overrides (they make a name print differently from what it is), lone surrogates
# (not encodable: a name that is not valid UTF-8 decodes to these).
_BAD_CHARS = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u200e\u200f\u202a-\u202e"
                        "\u2066-\u2069\ud800-\udfff]")
_DRIVE = re.compile(r"^[A-Za-z]:")
_HEX64 = re.compile(HEX64)


def show(text: str, limit: int = 80) -> str:
    """``text`` safe to print on one line: quoted, controls and surrogates escaped, cut."""
    return repr(text[:limit]) + ("…" if len(text) > limit else "")


def path_problem(path: object) -> str | None:
    """Why ``path`` is not a safe bundle path, or None when it is.

    A bundle path is a relative POSIX path: no leading ``/``, no empty, ``.`` or ``..``
    component, no backslash, no drive letter, only printable characters and spaces
    (``str.isprintable`` or Unicode category Zs: no controls such as a newline or ESC,
    no bidi or other format characters, no lone surrogate, so it is valid UTF-8), at most
    MAX_PATH_BYTES bytes, MAX_PATH_DEPTH components of at most MAX_COMPONENT_BYTES
    bytes each.
    """
    if not isinstance(path, str):
        return "not a string"
    if not path:
        return "empty"
    if len(path) > MAX_PATH_BYTES:
        return f"longer than {MAX_PATH_BYTES} bytes"
    if not path.isprintable():
        for c in path:
            if not c.isprintable() and unicodedata.category(c) != "Zs":
                if "\ud800" <= c <= "\udfff":
                    return "contains a lone surrogate (not UTF-8)"
                return f"contains the unprintable character U+{ord(c):04X}"
    if path.startswith("/"):
        return "absolute"
    if "\\" in path or _DRIVE.match(path):
        return "a Windows path"
    parts = path.split("/")
    if len(parts) > MAX_PATH_DEPTH:
        return f"deeper than {MAX_PATH_DEPTH} components"
    for part in parts:
        if part in ("", ".", ".."):
            return "has an empty, '.' or '..' component"
    if path.isascii():
        longest = max(map(len, parts))
    else:
        if len(path.encode("utf-8")) > MAX_PATH_BYTES:
            return f"longer than {MAX_PATH_BYTES} bytes"
        longest = max(len(p.encode("utf-8")) for p in parts)
    if longest > MAX_COMPONENT_BYTES:
        return f"has a component longer than {MAX_COMPONENT_BYTES} bytes"
    return None


def check_relpath(path: str) -> str:
    """Return ``path`` if it is a safe relative POSIX path inside a bundle.

    Raises:
        BundleUnsafePath (exit 17): see :func:`path_problem` for the rules.
    """
    problem = path_problem(path)
    if problem is not None:
        raise BundleUnsafePath(f"unsafe path in bundle: {show(path)} ({problem})")
    return path


def fold_path(path: str) -> str:
    """The key under which file systems that ignore case or Unicode normalisation store
    ``path``: its canonical caseless form, NFD(casefold(NFD(path))) (Unicode §3.13, D145).

    Windows (NTFS) and macOS (APFS, HFS+) compare names this way (or more loosely than
    exact bytes), so ``model/A.bin`` and ``model/a.bin``, or ``other/café`` in NFC and in
    NFD, are one file there.
    """
    if path.isascii():
        return path.lower()
    return unicodedata.normalize("NFD", unicodedata.normalize("NFD", path).casefold())


def colliding_paths(paths: list[str]) -> tuple[str, str] | None:
    """Two of ``paths`` (or of their folders) that differ only by case or Unicode
    normalisation, or None.

    Such names are distinct on Linux but one name on case-insensitive or normalising file
    systems (Windows, macOS): a copy there keeps one file and loses the other, or merges
    two folders. Folders count too: ``model/A/x`` and ``model/a/y`` collide.
    """
    seen: dict[str, str] = {}
    for path in paths:
        head = path
        while head:
            key = fold_path(head)
            other = seen.get(key)
            if other is None:
                seen[key] = head
            elif other != head:
                return other, head
            elif head != path:
                break  # this folder, and every folder above it, was seen already
            head = head.rpartition("/")[0]
    return None


def collision_message(pair: tuple[str, str]) -> str:
    """One line naming two colliding paths (see :func:`colliding_paths`)."""
    a, b = pair
    nfc_a, nfc_b = unicodedata.normalize("NFC", a), unicodedata.normalize("NFC", b)
    how = ("Unicode normalisation (NFC/NFD)" if nfc_a == nfc_b
           else "case" if nfc_a.casefold() == nfc_b.casefold() or a.lower() == b.lower()
           else "case and Unicode normalisation")
    if nfc_a == nfc_b:  # they print alike: show the code points
        a, b = ascii(a[:80]), ascii(b[:80])
    else:
        a, b = show(a), show(b)
    return (
        f"{a} and {b} differ only by {how}: they are one name on "
        "case-insensitive or normalising file systems (Windows, macOS)"
    )


def _unsafe(reason: str) -> PydanticCustomError:
    return PydanticCustomError("unsafe_path", "{reason}", {"reason": reason})


def _safe_path(value: str) -> str:
    problem = path_problem(value)
    if problem is not None:
        raise _unsafe(f"{show(value)}: {problem}")
    return value


def _safe_text(value: str) -> str:
    if _BAD_CHARS.search(value):
        raise PydanticCustomError(
            "unsafe_text", "control characters or lone surrogates are not allowed"
        )
    return value


def _timestamp(value: Any) -> Any:
    if isinstance(value, str):
        if len(value) > 40:
            raise PydanticCustomError("datetime_parsing", "not an ISO 8601 time")
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            raise PydanticCustomError("datetime_parsing", "not an ISO 8601 time") from None
    if isinstance(value, datetime) and value.tzinfo is None:
        raise PydanticCustomError("timezone_aware", "needs a time zone (UTC: a trailing Z)")
    return value


# JSON Schema of a bundle path (ECMA-262 pattern; the Python check above is the
# authority: it also bounds bytes per component and depth, and refuses format characters)
_PATH_SCHEMA = {
    "type": "string",
    "minLength": 1,
    "maxLength": MAX_PATH_BYTES,
    "pattern": r"^(?![A-Za-z]:)(?!/)(?!.*(?:^|/)\.{0,2}(?:/|$))[^\\\u0000-\u001f\u007f-\u009f]+$",
    "description": "relative POSIX path: no leading '/', no empty, '.' or '..' component, no "
    f"backslash, printable characters only, at most {MAX_PATH_BYTES} bytes, "
    f"{MAX_PATH_DEPTH} components of {MAX_COMPONENT_BYTES} bytes",
}
BundlePath = Annotated[str, AfterValidator(_safe_path), WithJsonSchema(_PATH_SCHEMA)]
Name = Annotated[str, Field(max_length=MAX_NAME_CHARS), AfterValidator(_safe_text)]
Text = Annotated[str, Field(max_length=MAX_TEXT_CHARS), AfterValidator(_safe_text)]
Timestamp = Annotated[datetime, BeforeValidator(_timestamp)]
Count = Annotated[int, Field(ge=0, le=1 << 62)]
Positive = Annotated[int, Field(ge=1, le=1 << 62)]


class _Strict(BaseModel):
    """Base of every bundle document: unknown keys refused, immutable.

    Documents read from a bundle are validated with ``strict=True`` (no coercion: ``"1"``
    is not an integer, ``1`` is not ``true``); objects built in code are validated as
    usual.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)


class FileEntry(_Strict):
    """One payload file: role, logical name, relative path, size (bytes), SHA-256 (hex).

    ``path`` lies below the role's folder (``ROLE_FOLDERS``); an adapter's below
    ``adapters/<name>/`` with ``name`` a valid adapter name.
    """

    role: Role
    name: Annotated[str, Field(min_length=1, max_length=MAX_NAME_CHARS),
                    AfterValidator(_safe_text)]
    path: BundlePath
    size: Annotated[int, Field(ge=0, le=MAX_FILE_BYTES)]
    sha256: Annotated[str, Field(pattern=HEX64)]

    @model_validator(mode="after")
    def _below_role_folder(self) -> FileEntry:
        if self.role == "adapter":
            if not _ADAPTER_NAME.match(self.name):
                raise _unsafe(f"adapter name {show(self.name)} is not a valid adapter name")
            prefix = f"adapters/{self.name}/"
        else:
            prefix = ROLE_FOLDERS[self.role] + "/"
        if not self.path.startswith(prefix) or len(self.path) == len(prefix):
            raise _unsafe(f"{show(self.path)} ({self.role}) is not below {prefix}")
        return self


class ManifestModel(_Strict):
    """Facts read from the model's config.json and safetensors headers."""

    name: Name
    path: Literal["model"] = "model"
    architectures: Annotated[list[Name], Field(max_length=256)] = []
    model_type: Name | None = None
    dtype: Name | None = None
    parameter_count: Count | None = None
    max_context_tokens: Positive | None = None
    hidden_size: Positive | None = None
    num_hidden_layers: Positive | None = None
    vocab_size: Positive | None = None
    has_chat_template: bool = False
    weight_files: Annotated[list[BundlePath], Field(max_length=MAX_LIST)] = []
    hf_cache_verified_files: Count = 0


class ManifestAdapter(_Strict):
    """Facts read from a PEFT adapter's adapter_config.json.

    ``path`` is ``adapters/<name>``; ``rank`` (LoRA ``r``) is positive.
    """

    name: Annotated[str, Field(pattern=ADAPTER_NAME)]
    path: BundlePath
    peft_type: Name | None = None
    base_model_name_or_path: Text | None = None
    rank: Annotated[int, Field(ge=1, le=1 << 20)] | None = None
    lora_alpha: Annotated[float, Field(allow_inf_nan=False)] | None = None
    target_modules: Annotated[list[Name], Field(max_length=MAX_LIST)] = []

    @model_validator(mode="after")
    def _own_folder(self) -> ManifestAdapter:
        if self.path != f"adapters/{self.name}":
            raise _unsafe(f"adapter path {show(self.path)} is not adapters/{self.name}")
        return self


class CAFacts(_Strict):
    """One CA certificate (a PEM file may hold several; one entry each)."""

    name: Name
    path: BundlePath
    subject: Text
    issuer: Text
    not_before: Timestamp
    not_after: Timestamp
    sha256_fingerprint: Annotated[str, Field(pattern=HEX64)]


class ImageRef(_Strict):
    """A container image reference, pinned by digest when ``digest`` is set.

    Carried images (``prai bundle create --image``, issue 14) are in ``images/`` as an OCI
    image layout: ``carried`` is true, ``digest`` is the manifest (or index) digest stored
    there byte for byte, ``media_type`` its media type, ``platforms`` the ``os/arch``
    of the image(s), ``index_digest`` the source's index when ``--platform`` narrowed it,
    ``source`` where it came from (registry | oci-layout | docker-archive).
    """

    ref: Text
    repository: Text
    tag: Name | None = None
    digest: Annotated[str, Field(pattern=r"^sha256:[0-9a-f]{64}$")] | None = None
    # --- issue 14: carried images ---
    carried: bool = False
    media_type: Text | None = None
    platforms: Annotated[list[Name], Field(max_length=MAX_LIST)] = []
    index_digest: Annotated[str, Field(pattern=r"^sha256:[0-9a-f]{64}$")] | None = None
    source: Literal["registry", "oci-layout", "docker-archive"] | None = None


# --- software, delta (issue 14: wheelhouse, SBOM, deltas; see wheelhouse.py, delta.py) ---
class WheelFacts(_Strict):
    """One wheel of the wheelhouse: distribution name (normalised), version, bundle path.
    Size and SHA-256 are in the file's ``files[]`` entry."""

    name: Name
    version: Name
    path: BundlePath


class SoftwareFacts(_Strict):
    """PrAI's own software carried as a wheelhouse (``prai bundle create --software``).

    ``platforms``: the wheel platform tags accepted at creation (pip ``--platform``);
    ``python``: the target interpreter's ``MAJOR.MINOR``; ``implementation``: ``cp``.
    """

    profile: Literal["base", "cpu", "gpu"]
    python: Annotated[str, Field(pattern=r"^[0-9]{1,2}\.[0-9]{1,3}$")]
    implementation: Name = "cp"
    platforms: Annotated[list[Name], Field(max_length=MAX_LIST)]
    requirement: Text
    prai_version: Name
    lock: BundlePath
    install_script: BundlePath
    wheels: Annotated[list[WheelFacts], Field(max_length=MAX_LIST)]


class DeltaFacts(_Strict):
    """A delta bundle: ``files[]`` is the full new state; the files in ``in_base`` are not
    carried, because the destination already holds them (base ``base_root_digest``)."""

    base_root_digest: Annotated[str, Field(pattern=r"^sha256:[0-9a-f]{64}$")]
    in_base: Annotated[list[BundlePath], Field(max_length=MAX_FILES)]


# --- end software, delta ---


class Manifest(_Strict):
    """The whole manifest. ``files`` lists every payload file, in bundle order.

    Beyond each field's own rules: paths are unique; no path is also another path's
    folder (``model/a`` and ``model/a/b``); no two paths (or folders) differ only by case
    or Unicode normalisation (``model/A.bin`` and ``model/a.bin``); each adapter's facts name a folder that holds
    its files; each CA's ``path``, and each of the model's ``weight_files``, is a listed
    file.
    """

    format: Literal["prai-bundle"] = "prai-bundle"
    format_version: Annotated[Literal[1], BeforeValidator(lambda v: _exact_int(v))] = 1
    created_at: Timestamp
    created_by: Text
    files: Annotated[list[FileEntry], Field(max_length=MAX_FILES)]
    model: ManifestModel | None = None
    adapters: Annotated[list[ManifestAdapter], Field(max_length=MAX_LIST)] = []
    cas: Annotated[list[CAFacts], Field(max_length=MAX_LIST)] = []
    images: Annotated[list[ImageRef], Field(max_length=MAX_LIST)] = []
    warnings: Annotated[list[Text], Field(max_length=MAX_LIST)] = []
    software: SoftwareFacts | None = None  # issue 14
    delta: DeltaFacts | None = None  # issue 14

    def carried(self) -> list[FileEntry]:
        """The files physically in this bundle (all of ``files`` unless it is a delta)."""
        skip = set(self.delta.in_base) if self.delta else set()
        return [f for f in self.files if f.path not in skip]

    @model_validator(mode="after")
    def _consistent(self) -> Manifest:
        paths: set[str] = set()
        for f in self.files:
            if f.path in paths:
                raise PydanticCustomError(
                    "duplicate_path", "path {path} is listed twice", {"path": show(f.path)}
                )
            paths.add(f.path)
        for f in self.files:
            head, _, _ = f.path.rpartition("/")
            while head:
                if head in paths:
                    raise _unsafe(f"{show(head)} is a file and also the folder of {show(f.path)}")
                head, _, _ = head.rpartition("/")
        pair = colliding_paths([f.path for f in self.files])
        if pair is not None:
            raise _unsafe(collision_message(pair))
        names = [a.name for a in self.adapters]
        if len(set(names)) != len(names):
            raise PydanticCustomError("duplicate_adapter", "an adapter is listed twice")
        by_path = {f.path: f for f in self.files}
        for c in self.cas:
            if c.path not in by_path or by_path[c.path].role != "ca":
                raise PydanticCustomError(
                    "missing_file", "CA {path} is not a listed ca file", {"path": show(c.path)}
                )
        if self.model is not None:
            for w in self.model.weight_files:
                if f"model/{w}" not in by_path:
                    raise PydanticCustomError(
                        "missing_file",
                        "weight file {path} is not a listed model file",
                        {"path": show(w)},
                    )
        return self

    @property
    def total_bytes(self) -> int:
        """Sum of the payload files' sizes (bytes)."""
        return sum(f.size for f in self.files)

    def by_path(self) -> dict[str, FileEntry]:
        """path -> entry (paths are unique; checked when the manifest is built)."""
        return {f.path: f for f in self.files}


def _exact_int(value: Any) -> Any:
    # Literal[1] would accept true and 1.0 even in strict mode
    if type(value) is not int:
        raise PydanticCustomError("int_type", "Input should be the integer 1")
    return value


def dump_manifest(manifest: Manifest) -> bytes:
    """Canonical bytes of the manifest (sorted keys, indent 2, trailing newline)."""
    data = manifest.model_dump(mode="json")
    for optional in ("software", "delta"):  # absent when unused: older readers still parse it
        if data.get(optional) is None:
            data.pop(optional, None)
    return (json.dumps(data, sort_keys=True, indent=2, ensure_ascii=False) + "\n").encode()


def root_digest(manifest_bytes: bytes) -> str:
    """``sha256:<hex>`` of the manifest's bytes: the one value to carry out of band."""
    return "sha256:" + sha256_bytes(manifest_bytes)


def _loc(loc: tuple[int | str, ...]) -> str:
    out = []
    for part in loc:
        text = str(part)
        out.append(text if re.fullmatch(r"[A-Za-z0-9_-]{1,64}", text) else show(text, 40))
    return ".".join(out) or "top level"


def schema_error(
    exc: ValidationError, source: str, error: type[BundleError], what: str
) -> BundleError:
    """One line for the first problem a schema found.

    Path-rule violations become BundleUnsafePath (17) whatever ``error`` is; the message
    names the field (``files.3.path``) and never echoes unbounded input.
    """
    errors = exc.errors(include_url=False, include_input=False)
    unsafe = next((e for e in errors if e["type"] == "unsafe_path"), None)
    if unsafe is not None:
        return BundleUnsafePath(f"{source}: {_loc(unsafe['loc'])}: {unsafe['msg']}")
    first = errors[0]
    more = f" (+{len(errors) - 1} more problems)" if len(errors) > 1 else ""
    return error(f"{source}: not a {what} ({_loc(first['loc'])}: {first['msg']}){more}")


def parse_manifest(data: bytes, source: str = MANIFEST_NAME) -> Manifest:
    """Parse and check manifest bytes against the schema, before anything else reads them.

    JSON is parsed within bounds (:func:`prai.bundle._json.load_json`: MAX_MANIFEST_BYTES,
    16 levels, short number literals, no NaN/Infinity, no duplicate keys, no lone
    surrogates), then validated strictly (no type coercion) by :class:`Manifest`.

    Raises:
        BundleManifestError (14): not JSON within the bounds, not the schema.
        BundleUnsafePath (17): a path breaks the path rules (absolute, ``..``, control
            characters, too long or deep, not below its role's folder...).
    """
    raw = load_json(data, source, BundleManifestError, max_bytes=MAX_MANIFEST_BYTES)
    try:
        manifest = Manifest.model_validate(raw, strict=True)
    except ValidationError as exc:
        raise schema_error(exc, source, BundleManifestError, "PrAI bundle manifest") from None
    if manifest.delta is not None and not set(manifest.delta.in_base) <= {f.path for f in manifest.files}:
        raise BundleManifestError(f"{source}: delta.in_base names a path that files[] does not list")
    return manifest


PARTS_FORMAT = "prai-bundle-parts"
MAX_PARTS_INDEX_BYTES = 16 << 20
MAX_PARTS = 100_000
MAX_TAR_BYTES = 1 << 53  # a whole tar (8 PiB)


def _file_name(value: str) -> str:
    problem = path_problem(value)
    if problem is None and "/" in value:
        problem = "not a plain file name"
    if problem is not None:
        raise _unsafe(f"{show(value)}: {problem}")
    return value


FileName = Annotated[
    str,
    AfterValidator(_file_name),
    WithJsonSchema({**_PATH_SCHEMA, "pattern": r"^(?!\.{1,2}$)[^/\\\u0000-\u001f\u007f-\u009f]+$",
                    "description": "a plain file name (no folder)"}),
]


class PartRecord(_Strict):
    """One part of a split tar: file name (next to the index), size (bytes), SHA-256."""

    path: FileName
    size: Annotated[int, Field(ge=1, le=MAX_TAR_BYTES)]
    sha256: Annotated[str, Field(pattern=HEX64)]


class PartsIndex(_Strict):
    """``NAME.tar.parts.json``: the whole tar's size and SHA-256, and its parts in order.

    Part ``i`` is named ``<tar>.part-<i, 4 digits or more>``; the sizes add up to
    ``size``; ``root_digest`` is the root digest of the manifest inside.
    """

    format: Literal["prai-bundle-parts"]
    format_version: Annotated[Literal[1], BeforeValidator(lambda v: _exact_int(v))]
    tar: FileName
    size: Annotated[int, Field(ge=0, le=MAX_TAR_BYTES)]
    sha256: Annotated[str, Field(pattern=HEX64)]
    root_digest: Annotated[str, Field(pattern=r"^sha256:[0-9a-f]{64}$")]
    parts: Annotated[list[PartRecord], Field(min_length=1, max_length=MAX_PARTS)]

    @model_validator(mode="after")
    def _consistent(self) -> PartsIndex:
        for i, part in enumerate(self.parts):
            if part.path != f"{self.tar}.part-{i:04d}":
                raise PydanticCustomError(
                    "part_name", "part {i} is named {name}, expected {want}",
                    {"i": i, "name": show(part.path), "want": show(f"{self.tar}.part-{i:04d}")},
                )
        total = sum(p.size for p in self.parts)
        if total != self.size:
            raise PydanticCustomError(
                "part_sizes", "part sizes add up to {total} bytes, size says {size}",
                {"total": total, "size": self.size},
            )
        return self


def parse_parts_index(data: bytes, source: str) -> PartsIndex:
    """Parse and check a parts index (bounded JSON, strict schema).

    Raises:
        BundlePartError (16): not JSON within bounds, not the schema (``"sha256": null``,
            ``"size": Infinity``, sizes that do not add up, misnamed parts).
        BundleUnsafePath (17): a part name with a folder or unsafe characters.
    """
    raw = load_json(data, source, BundlePartError, max_bytes=MAX_PARTS_INDEX_BYTES)
    try:
        return PartsIndex.model_validate(raw, strict=True)
    except ValidationError as exc:
        raise schema_error(exc, source, BundlePartError, "PrAI parts index") from None


def render_part_sums(index: PartsIndex) -> bytes:
    """``NAME.tar.parts.SHA256SUMS`` text for an index (``sha256sum -c`` format)."""
    return "".join(f"{p.sha256}  {p.path}\n" for p in index.parts).encode()


def render_sums(manifest: Manifest) -> bytes:
    """SHA256SUMS text for the files the bundle carries (``sha256sum -c`` format)."""
    return "".join(f"{f.sha256}  {f.path}\n" for f in manifest.carried()).encode()


def check_sums(manifest: Manifest, sums: bytes, source: str = SUMS_NAME) -> None:
    """SHA256SUMS must list exactly the manifest's files and digests.

    Raises:
        BundleManifestError: any line differs (one of the two files was edited).
    """
    if sums != render_sums(manifest):
        expected = {f.path: f.sha256 for f in manifest.carried()}
        got: dict[str, str] = {}
        for line in sums.decode("utf-8", "replace").splitlines():
            digest, _, path = line.partition("  ")
            got[path.lstrip("*")] = digest
        differing = sorted(set(expected.items()) ^ set(got.items()))
        where = show(differing[0][0]) if differing else "(line format)"
        raise BundleManifestError(
            f"{source} does not match {MANIFEST_NAME} (first difference: {where}); "
            "one of them was edited after the bundle was created"
        )


def json_schemas() -> dict[str, dict[str, Any]]:
    """JSON Schema (draft 2020-12) of the manifest and of the parts index, generated from
    the models above (the one definition); ``python -m prai.bundle.manifest`` prints it."""
    return {
        "prai-bundle.json": Manifest.model_json_schema(),
        "NAME.tar.parts.json": PartsIndex.model_json_schema(),
    }


if __name__ == "__main__":
    print(json.dumps(json_schemas(), indent=2, ensure_ascii=False))
