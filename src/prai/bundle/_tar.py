"""The one tar reader for bundles: strict, so that PrAI sees what every extractor sees.

Tar readers disagree at the edges. Python's ``tarfile`` stops at the first zero or
damaged header block; GNU tar warns about a "lone zero block" or skips a damaged header
and reads on; each applies GNU long names, pax records, base-256 numbers and ustar
prefixes in its own way. A bundle that PrAI verifies must hold exactly the manifest's
files for all of them (GNU tar, bsdtar, Python ``tarfile``), so this reader accepts
only what they all read alike and refuses the rest:

* every 512-byte header has a valid checksum, the ``ustar\\0`` ``00`` (POSIX) or
  ``ustar  \\0`` (GNU) magic, numeric fields that are plain octal (or positive GNU
  base-256), NUL padding in its name fields, and no link name;
* members are regular files (``0``/``\\0``) and directories (``5``, no data), each
  preceded by at most one pax ``x`` header or one GNU ``L`` long name; links, devices,
  FIFOs, sparse files (``S`` or ``GNU.sparse.*``), global pax headers (``g``),
  contiguous files (``7``) and vendor types are refused;
* pax records are well formed, appear once each, and only keys that do not change which
  bytes make up which file are accepted (``path``, ``size`` and metadata: times, ids,
  names, xattrs, ACLs);
* names are UTF-8, a leading ``./`` is dropped (``tar -C dir -cf x.tar .`` writes
  ``./`` and ``./model/…``), then the bundle path rules apply
  (:func:`prai.bundle.manifest.check_relpath`); no name appears twice, no file is also
  a folder;
* every member's data fits inside the stream, the archive ends with two zero blocks,
  and only zero bytes follow them (tar pads to its record size with zeros).

Format references: POSIX.1-2017 pax (``ustar`` header, extended header records);
GNU tar manual, "Basic Tar Format" (GNU magic, ``L``, base-256 numbers).
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass
from typing import BinaryIO

from prai.errors import BundleError, BundleSizeMismatch, BundleUnsafePath

from .manifest import check_relpath, show

BLOCK = 512
MAX_PAX_BYTES = 1 << 20  # one pax extended header's records
MAX_LONGNAME_BYTES = 4096  # one GNU long name (bundle paths are at most 1024 bytes)
MAX_MEMBERS = 2_000_000  # files and folders in one tar
_POSIX_MAGIC = b"ustar\x0000"
_GNU_MAGIC = b"ustar  \x00"
# octal digits between optional spaces, then NULs/spaces: "0000644\0" (GNU, Python),
# "000644 \0" and "00000000003 " (bsdtar), "007711\0 " (checksums), all NUL (GNU: 0);
# _number implements exactly this pattern with bytes methods (faster), tests compare them
_OCTAL = re.compile(rb"^ *([0-7]*) *(?:\x00[\x00 ]*)?$")
_PAX_DIGITS = re.compile(r"^[0-9]{1,19}$")
_PAX_TIME = re.compile(r"^-?[0-9]{1,19}(\.[0-9]{0,9})?$")
_PAX_UTF8 = "ISO-IR 10646 2000 UTF-8"
_PAX_META = {"mtime", "atime", "ctime", "uid", "gid", "uname", "gname", "comment"}
_PAX_META_EXTRA = {
    "SCHILY.dev",
    "SCHILY.ino",
    "SCHILY.nlink",
    "SCHILY.fflags",
    "LIBARCHIVE.creationtime",
}
_PAX_BINARY_PREFIXES = ("SCHILY.xattr.", "LIBARCHIVE.xattr.", "SCHILY.acl.")
_FIELDS = {  # name: (start, end) of the numeric fields every reader parses
    "mode": (100, 108),
    "uid": (108, 116),
    "gid": (116, 124),
    "size": (124, 136),
    "mtime": (136, 148),
    "devmajor": (329, 337),
    "devminor": (337, 345),
}
_TYPES_REFUSED = {
    b"1": "a hard link (files linked to each other in the source folder: re-create the tar "
    "with GNU tar --hard-dereference)",
    b"2": "a symbolic link",
    b"3": "a character device",
    b"4": "a block device",
    b"6": "a FIFO",
    b"7": "a contiguous file (type 7: some tools read it as a file, others do not)",
    b"S": "a GNU sparse file (re-create the tar without sparse support: GNU tar without -S, "
    "bsdtar --no-read-sparse)",
    b"g": "a global pax header (it changes every later member)",
    b"K": "a GNU long link name",
    b"D": "a GNU dump directory",
    b"M": "a GNU multi-volume continuation",
    b"V": "a volume label",
    b"N": "an old GNU long-name list",
}


@dataclass(frozen=True)
class TarMember:
    """One member as every reader sees it: bundle path, data size and offset (bytes)."""

    name: str
    size: int
    offset: int
    is_dir: bool


def _damaged(where: str, offset: int, what: str) -> BundleError:
    return BundleError(
        f"{where}: the tar header at byte {offset} is damaged ({what}); GNU tar would skip it "
        "and read on, Python's tarfile would stop there",
        hint="copy the tar (or every part) again from the original media, then verify",
    )


def _refused(where: str, offset: int, what: str) -> BundleUnsafePath:
    return BundleUnsafePath(f"{where}: the member at byte {offset} is {what}; bundles hold "
                            "regular files only")


def _truncated(where: str, what: str) -> BundleSizeMismatch:
    return BundleSizeMismatch(
        f"{where} is truncated: {what}",
        hint="the copy was cut short: copy the tar again and check free space on the media",
    )


def _number(field: bytes) -> int | None:
    """A header number: octal ASCII, or GNU base-256 (first byte 0x80, positive only).

    Octal: optional spaces, octal digits, then only NULs and spaces (the same as matching
    ``_OCTAL``); no digits at all reads 0 only if the field holds a NUL (all blanks: GNU
    tar refuses, Python reads 0).
    """
    if field[0] & 0x80:
        return int.from_bytes(field[1:], "big") if field[0] == 0x80 else None
    digits = field.rstrip(b"\x00 ").lstrip(b" ")
    if digits.translate(None, b"01234567"):
        return None  # another byte among the digits: a sign, '8', a NUL, a space, garbage
    if digits:
        return int(digits, 8)
    return 0 if 0 in field else None


def _cstring(field: bytes) -> bytes | None:
    """A NUL-terminated, NUL-padded name field (None when the padding holds bytes)."""
    nul = field.find(0)
    if nul < 0:
        return field
    return field[:nul] if field.count(0, nul) == len(field) - nul else None


def _checksum_ok(block: bytes, stored: int) -> bool:
    unsigned = sum(block) - sum(block[148:156]) + 8 * 32
    if stored == unsigned:
        return True
    signed = struct.unpack_from("148b8x356b", block)
    return stored == sum(signed) + 8 * 32


@dataclass
class _Header:
    type: bytes
    name: bytes
    size: int


def _header(block: bytes, offset: int, where: str) -> _Header:
    stored = _number(block[148:156])
    if stored is None or not _checksum_ok(block, stored):
        raise _damaged(where, offset, "checksum")
    magic = block[257:265]
    if magic not in (_POSIX_MAGIC, _GNU_MAGIC):
        raise _damaged(where, offset, f"magic {block[257:265]!r} is neither POSIX nor GNU ustar")
    values = {}
    for field, (start, end) in _FIELDS.items():
        value = _number(block[start:end])
        if value is None:
            raise _damaged(where, offset, f"{field} field {block[start:end]!r}")
        values[field] = value
    name = _cstring(block[0:100])
    link = _cstring(block[157:257])
    if name is None or link is None:
        raise _damaged(where, offset, "bytes after the end of a name")
    if magic == _POSIX_MAGIC:
        prefix = _cstring(block[345:500])
        if prefix is None:
            raise _damaged(where, offset, "bytes after the end of the name prefix")
        if prefix:
            name = prefix + b"/" + name
    elif block[345:500].count(0) != 155:
        # GNU headers keep times and sparse maps there; Python's tarfile would read a prefix
        raise _damaged(where, offset, "GNU header with data in the prefix field")
    typ = block[156:157]
    if link and typ not in _TYPES_REFUSED:
        raise _damaged(where, offset, "a link name on a member that is not a link")
    return _Header(typ, name, values["size"])


def _utf8(raw: bytes, where: str, offset: int) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        shown = raw[:80].decode("utf-8", "backslashreplace")
        raise BundleUnsafePath(
            f"{where}: the name of the member at byte {offset} is not UTF-8 ({show(shown)})"
        ) from None


def _pax(data: bytes, where: str, offset: int) -> dict[str, str]:
    """Records ``"<len> <key>=<value>\\n"`` covering ``data`` exactly, each key once."""
    records: dict[str, str] = {}
    pos = 0
    while pos < len(data):
        space = data.find(b" ", pos, pos + 8)
        digits = data[pos:space] if space > pos else b""
        if not digits.isdigit() or digits.startswith(b"0"):
            raise _damaged(where, offset, f"pax record at {pos} has no length")
        end = pos + int(digits)
        record = data[space + 1 : end]
        if end > len(data) or not record.endswith(b"\n") or b"=" not in record:
            raise _damaged(where, offset, f"pax record at {pos} is malformed")
        raw_key, _, raw_value = record[:-1].partition(b"=")
        key = _utf8(raw_key, where, offset)
        if not key or key in records:
            raise _damaged(where, offset, f"pax key {show(key)} is empty or repeated")
        if key.startswith(_PAX_BINARY_PREFIXES):
            records[key] = ""  # xattr and ACL values may be binary; never used
        else:
            records[key] = _utf8(raw_value, where, offset)
        pos = end
    for key, value in records.items():
        if key.startswith("GNU.sparse."):
            raise _refused(where, offset, _TYPES_REFUSED[b"S"])
        if key == "path":
            ok = bool(value) and "\0" not in value
        elif key == "size" or key in ("uid", "gid"):
            ok = bool(_PAX_DIGITS.match(value))
        elif key in ("mtime", "atime", "ctime", "LIBARCHIVE.creationtime"):
            ok = bool(_PAX_TIME.match(value))
        elif key == "hdrcharset":
            ok = value == _PAX_UTF8
        elif key in _PAX_META or key in _PAX_META_EXTRA or key.startswith(_PAX_BINARY_PREFIXES):
            ok = True
        else:
            raise _refused(
                where, offset, f"described by the pax key {show(key)}, which not every extractor "
                "reads the same way"
            )
        if not ok:
            raise _damaged(where, offset, f"pax {key} value {show(value)}")
    return records


def looks_like_tar(head: bytes) -> bool:
    """Whether ``head`` (a file's first 512 bytes, or all of a shorter file) starts with a
    ustar header: the POSIX or GNU magic at byte 257. A file without it is not a tar at all
    (a key, a model folder's file), as opposed to a tar damaged or cut short."""
    return head[257:262] == b"ustar"


def _read(stream: BinaryIO, offset: int, n: int, where: str) -> bytes:
    stream.seek(offset)
    data = stream.read(n)
    if len(data) != n:
        raise _truncated(where, f"it ends at byte {offset + len(data)}, inside a header")
    return data


def _check_end(stream: BinaryIO, offset: int, total: int, where: str) -> None:
    """From the first zero block at ``offset``: one more zero block, then zeros only."""
    if offset + 2 * BLOCK > total:
        raise _truncated(where, "the end-of-archive marker (two zero blocks) is cut short")
    stream.seek(offset)
    pos = offset
    while pos < total:
        chunk = stream.read(min(1 << 20, total - pos))
        if not chunk:
            raise _truncated(where, f"it ends at byte {pos}")
        if chunk.count(0) != len(chunk):
            first = pos + next(i for i, b in enumerate(chunk) if b)
            what = (
                "a lone zero block is followed by more data"
                if first < offset + 2 * BLOCK
                else "data follows the end-of-archive marker"
            )
            raise BundleUnsafePath(
                f"{where}: {what} at byte {first}; GNU tar would read it as more members, "
                "Python's tarfile would not, so PrAI refuses the tar",
                hint="do not use this bundle: take a fresh copy from the creator (a tar made by "
                "`prai bundle create` or `tar -cf` has only zeros after its last member)",
            )
        pos += len(chunk)


def _member_name(raw: str, is_dir: bool) -> str | None:
    """Bundle path of a member; None for the archive's own root (``.`` or ``./``)."""
    if raw in (".", "./"):
        return None
    name = raw[2:] if raw.startswith("./") else raw
    if is_dir and name.endswith("/"):
        name = name[:-1]
    return check_relpath(name)


def scan_tar(stream: BinaryIO, total: int, where: str) -> list[TarMember]:
    """Read every header of a tar stream of ``total`` bytes; see the module docstring.

    Args:
        stream: seekable, positioned anywhere (the tar, or the parts joined).
        total: the stream's length in bytes.
        where: the tar's name, for messages.

    Returns:
        Files and folders in archive order (the root ``./`` left out).

    Raises:
        BundleError (3): a damaged header (checksum, magic, numbers, padding, pax records).
        BundleSizeMismatch (13): a member or the end-of-archive marker does not fit.
        BundleUnsafePath (17): links, devices, sparse files, unknown types or pax keys,
            data after a zero block, names that are not UTF-8 or break the path rules,
            a name twice, a file that is also a folder.
    """
    members: list[TarMember] = []
    seen: dict[str, bool] = {}  # name -> is_dir
    offset = 0
    pax: dict[str, str] | None = None
    longname: bytes | None = None
    ext_at = -1
    while True:
        if offset >= total:
            raise _truncated(where, "it ends without the end-of-archive marker (two zero blocks)")
        block = _read(stream, offset, BLOCK, where)
        if block.count(0) == BLOCK:
            if pax is not None or longname is not None:
                raise _damaged(where, ext_at, "an extended header with no member after it")
            _check_end(stream, offset, total, where)
            break
        h = _header(block, offset, where)
        data_at = offset + BLOCK
        if h.type in (b"x", b"L"):
            if pax is not None or longname is not None:
                raise _refused(where, offset, "a second extended header for one member")
            limit = MAX_PAX_BYTES if h.type == b"x" else MAX_LONGNAME_BYTES
            if h.size > limit or data_at + h.size > total:
                raise _damaged(where, offset, f"an extended header of {h.size} bytes")
            data = _read(stream, data_at, h.size, where)
            if h.type == b"x":
                pax = _pax(data, where, offset)
            else:
                stripped = data.rstrip(b"\0")
                if len(stripped) == len(data) or b"\0" in stripped:
                    raise _damaged(where, offset, "GNU long name is not one NUL-ended string")
                longname = stripped
            ext_at = offset
            offset = data_at + (h.size + BLOCK - 1) // BLOCK * BLOCK
            continue
        if h.type in _TYPES_REFUSED:
            raise _refused(where, offset, _TYPES_REFUSED[h.type])
        if h.type not in (b"0", b"\0", b"5"):
            raise _refused(where, offset, f"of unknown type {h.type!r}")
        size = h.size
        if pax is not None and "size" in pax:
            pax_size = int(pax["size"])
            if size != pax_size and not (size == 0 and pax_size >= 8**11):
                raise _damaged(where, offset, f"size {size} but pax size {pax_size}")
            size = pax_size
        if longname is not None:
            raw = _utf8(longname, where, offset)
        elif pax is not None and "path" in pax:
            raw = pax["path"]
        else:
            raw = _utf8(h.name, where, offset)
        pax = longname = None
        is_dir = h.type == b"5"
        if is_dir and size:
            raise _damaged(where, offset, f"a folder with {size} bytes of data")
        end = data_at + (size + BLOCK - 1) // BLOCK * BLOCK
        if end > total:
            raise _truncated(
                where, f"the member at byte {offset} needs {size} bytes, the tar ends first"
            )
        name = _member_name(raw, is_dir)
        offset = end
        if name is None:
            if not is_dir:
                raise _refused(where, data_at - BLOCK, "a file named '.'")
            continue
        if name in seen:
            raise BundleUnsafePath(f"{where}: {show(name)} appears twice in the tar")
        seen[name] = is_dir
        members.append(TarMember(name, size, data_at, is_dir))
        if len(members) > MAX_MEMBERS:
            raise BundleUnsafePath(f"{where}: more than {MAX_MEMBERS} members")
    for m in members:
        head = m.name.rpartition("/")[0]
        while head:
            if seen.get(head) is False:
                raise BundleUnsafePath(
                    f"{where}: {show(head)} is a file and also the folder of {show(m.name)}"
                )
            head = head.rpartition("/")[0]
    return members
