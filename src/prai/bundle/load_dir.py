"""Load into a directory (a PVC mount path), atomically and resumably.

Layout under DEST mirrors the bundle: ``model/``, ``adapters/NAME/``, ``ca/``, ``eval/``,
``images/``, ``other/``. Each of these units is assembled in ``DEST/.prai-staging/`` and
renamed into place when complete and verified; a unit already in place with the same
files and digests is left alone. Each file is written under a numbered name in
``DEST/.prai-staging/.partial/`` (no bundle path can clash with it: bundle paths lie
below their role's folder) and renamed into the staged unit when complete, so an
interrupted load resumes with the files already staged. Files are 0644, directories
0755, group 0 where the process may set it (OpenShift runs pods with an arbitrary UID in
group 0). Nothing is written outside DEST: every path is checked, and no symlink is
followed below DEST.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import stat
import subprocess
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from prai.errors import BundleDigestMismatch, BundleLoadError

from ._hashing import CHUNK_BYTES, NullProgress, ProgressSink, hash_file, workers
from ._loaded import LoadResult
from ._source import BundleSource
from .manifest import FileEntry, Manifest

STAGING = ".prai-staging"
RECEIPT = ".prai-loaded.json"
PATH_MAX_BYTES = 4096  # Linux PATH_MAX, terminating NUL included
OPENSHIFT_TEST_UID = 1000680000  # a UID from OpenShift's restricted-v2 range
_SELINUX_OK = {"container_file_t", "svirt_sandbox_file_t", "nfs_t", "cephfs_t", "fusefs_t"}


def unit_of(entry: FileEntry) -> str:
    """The directory unit a file belongs to: ``model``, ``adapters/NAME``, ``ca``…"""
    parts = entry.path.split("/")
    return "/".join(parts[:2]) if parts[0] == "adapters" else parts[0]


def _no_symlink_below(dest: Path, path: Path) -> None:
    """Refuse if any existing component between dest and path is a symlink."""
    cur = dest
    for part in path.relative_to(dest).parts:
        cur = cur / part
        if cur.is_symlink():
            raise BundleLoadError(
                f"{cur} is a symbolic link; PrAI does not write through links (it could lead "
                "outside the destination)",
                hint=f"remove the link {cur} or choose another --to",
            )


def _mkdirs(dest: Path, path: Path) -> None:
    _no_symlink_below(dest, path)
    path.mkdir(parents=True, exist_ok=True, mode=0o755)
    cur = path
    while cur != dest and cur.is_relative_to(dest):
        _perms(cur, 0o755)
        cur = cur.parent


def _perms(path: Path, mode: int) -> None:
    if path.is_symlink():
        raise BundleLoadError(f"{path} is a symbolic link; PrAI does not write through links")
    # a directory someone else owns keeps its mode; the read test afterwards says if
    # that blocks the serving user
    with contextlib.suppress(PermissionError):
        os.chmod(path, mode)
    if os.geteuid() == 0 or 0 in os.getgroups():
        # e.g. NFS with root squash refuses: the mode bits still apply
        with contextlib.suppress(PermissionError):
            os.chown(path, -1, 0)


def _copy(
    src: BundleSource, entry: FileEntry, dst: Path, tmp: Path, sink: ProgressSink
) -> None:
    tmp.unlink(missing_ok=True)
    h = hashlib.sha256()
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
    fd = os.open(tmp, flags, 0o644)
    try:
        with src.open(entry.path) as fi, os.fdopen(fd, "wb", buffering=0) as fo:
            buf = bytearray(CHUNK_BYTES)
            view = memoryview(buf)
            while got := fi.readinto(view):  # type: ignore[attr-defined]
                h.update(view[:got])
                fo.write(view[:got])
                sink.advance(got)
            os.fsync(fo.fileno())
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if h.hexdigest() != entry.sha256:
        tmp.unlink(missing_ok=True)
        raise BundleDigestMismatch(f"{entry.path} changed while it was read from the bundle")
    _perms(tmp, 0o644)
    os.replace(tmp, dst)


def _drop_unlisted(stage: Path, unit: str, entries: list[FileEntry]) -> None:
    """Remove files staged by an earlier, interrupted load that this unit does not list
    (a stale shard must not go live beside the new ones)."""
    if not stage.is_dir():
        return
    want = {e.path.removeprefix(unit + "/") for e in entries}
    for dirpath, dirs, names in os.walk(stage):
        for d in list(dirs):
            full = Path(dirpath) / d
            if full.relative_to(stage).as_posix() in want:  # a folder where a file goes
                shutil.rmtree(full)
                dirs.remove(d)
        for fn in names:
            full = Path(dirpath) / fn
            if full.relative_to(stage).as_posix() not in want:
                full.unlink()


def _matches(path: Path, entry: FileEntry) -> bool:
    try:
        st = path.lstat()
    except FileNotFoundError:
        return False
    if not stat.S_ISREG(st.st_mode) or st.st_size != entry.size:
        return False
    return hash_file(path)[0] == entry.sha256


def _unit_in_place(final: Path, unit_root: str, entries: list[FileEntry]) -> bool:
    if not final.is_dir() or final.is_symlink():
        return False
    want = {e.path.removeprefix(unit_root + "/") for e in entries}
    have = set()
    for dirpath, _dirs, files in os.walk(final):
        for fn in files:
            have.add((Path(dirpath) / fn).relative_to(final).as_posix())
    if have != want:
        return False
    with ThreadPoolExecutor(max_workers=workers()) as pool:
        return all(
            pool.map(lambda e: _matches(final / e.path.removeprefix(unit_root + "/"), e), entries)
        )


def check_readable(dest: Path, paths: list[Path], uid: int = OPENSHIFT_TEST_UID) -> list[str]:
    """Problems that would stop a non-root UID in group 0 from reading ``paths``.

    As root, the check is real: a child process with that UID and GID 0 opens every file.
    Otherwise it is computed from mode bits and group ownership.

    Returns:
        One line per unreadable path (empty when all are readable).
    """
    if os.geteuid() == 0:
        script = 'for f do head -c1 -- "$f" >/dev/null 2>&1 || echo "$f: Permission denied"; done'
        try:
            # cwd is entered before the UID changes, so only DEST itself must be
            # traversable, as in a pod where DEST is the mount point
            rel = [os.path.relpath(p, dest) for p in paths]
            proc = subprocess.run(
                ["xargs", "-0", "sh", "-c", script, "sh"],
                input="\0".join(rel),
                capture_output=True,
                text=True,
                user=uid,
                group=0,
                extra_groups=[],
                timeout=300,
                cwd=dest,
            )
        except (OSError, subprocess.SubprocessError) as exc:
            return [f"could not run the read test as UID {uid}: {exc}"]
        return [line for line in proc.stdout.splitlines() if line] + (
            [f"read test as UID {uid} failed: {proc.stderr.strip()[:200]}"]
            if proc.returncode
            else []
        )
    bad = []
    for p in paths:
        for q in [p, *[a for a in p.parents if a.is_relative_to(dest)]]:
            st = q.stat()
            need = stat.S_IXOTH if q != p else stat.S_IROTH
            gneed = stat.S_IXGRP if q != p else stat.S_IRGRP
            if not (st.st_mode & need or (st.st_gid == 0 and st.st_mode & gneed)):
                bad.append(f"{q}: mode {stat.filemode(st.st_mode)} gid {st.st_gid}")
                break
    return bad


def selinux_warning(dest: Path) -> str | None:
    """A warning when SELinux enforces and DEST's label is not one containers can read.

    Reads /sys/fs/selinux/enforce and the ``security.selinux`` xattr of DEST; None when
    SELinux is absent or the label is fine.
    """
    try:
        enforcing = Path("/sys/fs/selinux/enforce").read_text().strip() == "1"
        label = os.getxattr(dest, "security.selinux").decode().rstrip("\0")
    except OSError:
        return None
    return selinux_advice(dest, label, enforcing)


def selinux_advice(dest: Path, label: str, enforcing: bool) -> str | None:
    """The warning for a given label (``user:role:type:level``), or None when readable."""
    fields = label.split(":")
    if enforcing and len(fields) >= 3 and fields[2] not in _SELINUX_OK:
        return (
            f"SELinux label of {dest} is {label}: pods may get 'Permission denied' despite the "
            f"mode bits; run `chcon -R -t container_file_t {dest}` (seed §7)"
        )
    return None


def load_to_dir(
    src: BundleSource,
    manifest: Manifest,
    root: str,
    files: list[FileEntry],
    dest: Path,
    progress: ProgressSink | None = None,
) -> LoadResult:
    """Write ``files`` under ``dest``; see the module docstring.

    Raises:
        BundleLoadError: DEST unusable (not a directory, a symlink inside, unreadable for
            the serving UID afterwards, no space).
        BundleDigestMismatch: a file read back differs from the manifest.
    """
    sink = progress or NullProgress()
    t0 = time.monotonic()
    # every check before the first write
    if dest.is_symlink() or (dest.exists() and not dest.is_dir()):
        raise BundleLoadError(f"--to {dest} exists and is not a directory (or is a link)")
    if not dest.exists() and not dest.parent.is_dir():
        raise BundleLoadError(
            f"--to {dest}: its parent {dest.parent} does not exist",
            hint="mount the PVC (or create the directory) first",
        )
    units: dict[str, list[FileEntry]] = defaultdict(list)
    for f in files:
        units[unit_of(f)].append(f)
    absolute = dest.resolve()
    longest = max((len(os.fsencode(absolute / STAGING / f.path)) for f in files), default=0)
    if longest >= PATH_MAX_BYTES:
        raise BundleLoadError(
            f"--to {dest}: some files would get paths of {longest} bytes, more than the "
            f"{PATH_MAX_BYTES - 1} the system allows",
            hint="choose a destination with a shorter path",
        )
    if dest.exists():
        for unit in [STAGING, *units]:
            _no_symlink_below(absolute, absolute / unit)
    else:
        dest.mkdir(mode=0o755)
        _perms(dest, 0o755)
    dest = absolute
    result = LoadResult(
        destination=str(dest), root_digest=root, files=len(files), location=str(dest)
    )
    staging = dest / STAGING
    partial = staging / ".partial"
    try:
        _mkdirs(dest, staging)
        if partial.exists():
            shutil.rmtree(partial)  # half-written files of an interrupted load
        _mkdirs(dest, partial)
        n_tmp = 0
        for unit, entries in units.items():
            final = dest / unit
            _no_symlink_below(dest, final)
            if _unit_in_place(final, unit, entries):
                result.skipped += len(entries)
                continue
            stage = staging / unit
            _drop_unlisted(stage, unit, entries)
            todo = []
            for e in entries:
                rel = e.path.removeprefix(unit + "/")
                target = stage / rel
                _mkdirs(dest, target.parent)
                if _matches(target, e):
                    result.skipped += 1
                    continue
                old = final / rel
                if not final.is_symlink() and _matches(old, e):
                    try:
                        target.unlink(missing_ok=True)
                        os.link(old, target)
                        result.skipped += 1
                        continue
                    except OSError:
                        pass
                todo.append((e, target))
            sink.start(f"loading {unit}", sum(e.size for e, _ in todo))
            tmps = [partial / str(n_tmp + i) for i in range(len(todo))]
            n_tmp += len(todo)
            with ThreadPoolExecutor(max_workers=workers()) as pool:
                list(
                    pool.map(
                        lambda et, tmp: _copy(src, et[0], et[1], tmp, sink), todo, tmps
                    )
                )
            result.written += len(todo)
            result.bytes_written += sum(e.size for e, _ in todo)
            # read back what was written before it goes live
            with ThreadPoolExecutor(max_workers=workers()) as pool:
                oks = list(
                    pool.map(
                        lambda e, st=stage, u=unit: _matches(st / e.path.removeprefix(u + "/"), e),
                        entries,
                    )
                )
            for e, ok in zip(entries, oks, strict=True):
                if not ok:
                    raise BundleDigestMismatch(
                        f"{stage / e.path.removeprefix(unit + '/')} differs from the manifest "
                        "after writing; the storage may be failing",
                        hint="check the volume (dmesg, df -h) and run the load again",
                    )
            _mkdirs(dest, final.parent)
            if final.exists():
                trash = staging / f".old-{unit.replace('/', '-')}-{int(time.time())}"
                os.replace(final, trash)
                os.replace(stage, final)
                shutil.rmtree(trash, ignore_errors=True)
            else:
                os.replace(stage, final)
            _perms(final, 0o755)
        receipt = {
            "root_digest": root,
            "loaded_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "units": sorted(units),
            "model": manifest.model.model_dump(mode="json") if manifest.model else None,
        }
        tmp = staging / (RECEIPT + ".partial")
        tmp.write_text(json.dumps(receipt, indent=2, sort_keys=True) + "\n")
        _perms(tmp, 0o644)
        os.replace(tmp, dest / RECEIPT)
        shutil.rmtree(staging, ignore_errors=True)
    except OSError as exc:
        raise BundleLoadError(
            f"writing to {dest} failed: {exc.strerror or exc} ({exc.filename or ''})",
            hint="check free space (df -h) and write permission; the next run resumes",
        ) from None
    placed = [dest / f.path for f in files]
    unreadable = check_readable(dest, placed)
    if unreadable:
        raise BundleLoadError(
            f"the serving user (UID {OPENSHIFT_TEST_UID}, group 0) cannot read "
            f"{len(unreadable)} file(s) under {dest}, e.g. {unreadable[0]}",
            hint=f"chgrp -R 0 {dest} && chmod -R g+rX {dest}; check the parent directories too",
        )
    warn = selinux_warning(dest)
    if warn:
        result.warnings.append(warn)
    if manifest.model and any(f.role == "model" for f in files):
        result.location = str(dest / "model")
    result.details["seconds"] = round(time.monotonic() - t0, 3)
    return result
