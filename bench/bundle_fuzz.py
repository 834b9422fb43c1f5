"""Fuzz run: hostile bundles against `prai bundle verify` / `load`, compared with GNU tar,
bsdtar and Python's tarfile (issue 19).

Inputs, in interleaved rounds (one of each family per round, then random picks):

* the seed corpus (tests/bundle/hostile_corpus.py: every recipe once, expected exit code
  known);
* tar mutations of five clean tars of one bundle (PrAI-style pax, GNU tar `gnu` and
  `posix` formats with `./`, bsdtar, Python GNU format): bit flips, changed size or
  checksum digits, inserted zero / duplicated / evil blocks, cuts, trailing members;
* manifest mutations (structural: a value anywhere replaced by a hostile one; and
  textual: bytes flipped, deleted, duplicated in the JSON text);
* parts-index mutations of a split bundle, and flips in its parts.

For each input: `verify_bundle` (the library), and every 10th input also the CLI
in-process (one line, no traceback). Outcomes:

* refusal: a PraiError (counted by exit code);
* crash: any other exception, or a CLI refusal that is not one `error:` line + hint
  (goal 0);
* wrong acceptance (goal 0): verify passed, but (tars) GNU tar, GNU tar --ignore-zeros,
  bsdtar or tarfile (plain or ignore_zeros) extract other files or other bytes than the
  manifest lists; or (all kinds) `load` into a fresh directory does not produce exactly
  the manifest's files; or a seed recipe that must be refused was accepted;
* written outside (goal 0): after `verify` anything in the case's folder, the run's work
  folder, the working directory or at the places a hostile path names (``/x``, ``/etc/x``,
  ``/tmp/x`` …) differs from before; after `load`, anything but its destination does.

    .venv/bin/python bench/bundle_fuzz.py --inputs 20000 [--minutes M] [--seed 1] \
        [--keep-failures DIR]

Stops after ``--inputs`` inputs or ``--minutes`` minutes, whichever comes first.

Prints one JSON line per 1000 inputs and a summary (JSON) at the end.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import hashlib
import io
import json
import os
import random
import re
import shutil
import stat
import subprocess
import sys
import tarfile
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "bundle"))

import hostile_corpus as hc

from prai.bundle import load_bundle, verify_bundle
from prai.bundle.load_dir import RECEIPT as LOADED_RECORD
from prai.bundle.manifest import CONTROL_FILES
from prai.bundle.receipt import RECEIPT_NAME
from prai.errors import PraiError

EVIL_MEMBERS = [
    hc.member("model/config.json", hc.EVIL),
    hc.member("other/new", b"new"),
    hc.member("model/link", b"", b"2", linkname=b"/etc/passwd"),
    hc.pax({"path": "model/config.json"}) + hc.member("other/p", hc.EVIL),
    hc.pax({"GNU.sparse.major": "1"}) + hc.member("other/s", b"s"),
    hc.longname(b"model/config.json") + hc.member("other/l", hc.EVIL, magic=hc.GNU),
    hc.member("model/sub/", b"", b"5"),
    bytes(hc.BLOCK),
]


def _base_tars(work: Path) -> dict[str, bytes]:
    files = hc.payload()
    files["other/" + "n" * 120] = b"a long name\n"
    files["other/日本語.txt"] = "名前\n".encode()
    ctl = hc.control(files)
    src = hc.write_dir(work / "src", {**ctl, **files})
    out: dict[str, bytes] = {}
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for name, data in {**ctl, **files}.items():
            ti = tarfile.TarInfo(name)
            ti.size, ti.mtime = len(data), 1767225600
            tf.addfile(ti, io.BytesIO(data))
    out["prai-pax"] = buf.getvalue()
    for name, cmd in {
        "gnu": ["tar", "-C", str(src), "-cf", "-", "."],
        "gnu-posix": ["tar", "--format=posix", "-C", str(src), "-cf", "-", "."],
        "bsdtar": ["bsdtar", "-C", str(src), "-cf", "-", "."],
        "bsdtar-pax": ["bsdtar", "--format", "pax", "-C", str(src), "-cf", "-", "."],
    }.items():
        if shutil.which(cmd[0]):
            out[name] = subprocess.run(cmd, capture_output=True, check=True).stdout
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tf:
        for name, data in {**ctl, **files}.items():
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            tf.addfile(ti, io.BytesIO(data))
    out["python-gnu"] = buf.getvalue()
    shutil.rmtree(src)
    return out


def _mutate_tar(rng: random.Random, data: bytes) -> bytes:
    buf = bytearray(data)
    for _ in range(rng.randint(1, 3)):
        blocks = max(1, len(buf) // hc.BLOCK)
        headers = [
            i for i in range(0, len(buf) - hc.BLOCK + 1, hc.BLOCK)
            if buf[i + 257 : i + 262] == b"ustar"
        ]
        op = rng.randrange(9)
        if op == 0:  # bit flip anywhere
            buf[rng.randrange(len(buf))] ^= 1 << rng.randrange(8)
        elif op == 1 and headers:  # a size / checksum / type / magic byte of a header
            h = rng.choice(headers)
            pos = h + rng.choice([124, 125, 130, 134, 135, 148, 150, 155, 156, 257, 263, 345, 0])
            buf[pos] = rng.choice(b"0127\x00 x5LSgK\x80\xff")
        elif op == 2:  # insert a member or block from the evil list at a block boundary
            at = rng.randrange(blocks + 1) * hc.BLOCK
            buf[at:at] = rng.choice(EVIL_MEMBERS)
        elif op == 3:  # duplicate a block
            src = rng.randrange(blocks) * hc.BLOCK
            at = rng.randrange(blocks + 1) * hc.BLOCK
            buf[at:at] = buf[src : src + hc.BLOCK]
        elif op == 4:  # delete a block
            at = rng.randrange(blocks) * hc.BLOCK
            del buf[at : at + hc.BLOCK]
        elif op == 5:  # cut
            del buf[rng.randrange(len(buf)) :]
        elif op == 6:  # append members after the end
            buf += rng.choice(EVIL_MEMBERS) + bytes(2 * hc.BLOCK)
        elif op == 7 and headers:  # rewrite a checksum after changing a field (valid checksum)
            h = rng.choice(headers)
            field = rng.choice([(124, 136), (0, 100), (156, 157), (345, 500)])
            for i in range(*field):
                if rng.random() < 0.3:
                    buf[i] = rng.choice(b"0123456789abc./\x00 \x80")
            _fix_checksum(buf, h)
        elif op == 8 and headers:  # change a name to a hostile one, checksum fixed
            h = rng.choice(headers)
            name = rng.choice([b"../x", b"/etc/x", b"model/config.json", b"./", b"model/./a",
                               b"model//a", b"\xff\xfe", b"model/a\nb", b"prai-bundle.json"])
            buf[h : h + 100] = name.ljust(100, b"\x00")
            _fix_checksum(buf, h)
        if len(buf) < hc.BLOCK:
            buf = bytearray(hc.BLOCK)
    return bytes(buf)


def _fix_checksum(buf: bytearray, h: int) -> None:
    buf[h + 148 : h + 156] = b" " * 8
    buf[h + 148 : h + 156] = b"%06o\x00 " % sum(buf[h : h + hc.BLOCK])


HOSTILE_VALUES: list[Any] = [
    None, True, False, 0, -1, 1 << 70, 1.5, "", "../x", "/etc/passwd", "model", "README", "-rf",
    "a\nb", "\udc80", "x" * 3000, [], {}, "0" * 64, "adapters/faq", "model/config.json",
    "other/../x", "model/a.partial", "sha256:" + "0" * 64, 7,
]


def _locations(doc: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(doc, dict):
        for k, v in doc.items():
            out += _locations(v, (*prefix, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            out += _locations(v, (*prefix, i))
    return out


def _mutate_doc(rng: random.Random, doc: Any) -> Any:
    doc = copy.deepcopy(doc)
    for _ in range(rng.randint(1, 3)):
        where = rng.choice(_locations(doc))
        value = rng.choice(HOSTILE_VALUES)
        if not where:
            return value
        parent = doc
        for k in where[:-1]:
            parent = parent[k]
        r = rng.random()
        if r < 0.1 and isinstance(parent, dict | list):
            del parent[where[-1]]
        elif r < 0.2 and isinstance(parent, list):
            parent.append(copy.deepcopy(parent[where[-1]]))
        elif r < 0.3 and isinstance(parent, dict):
            parent[rng.choice(["extra", "path", "size", "rank", "files"])] = value
        else:
            parent[where[-1]] = value
    return doc


def _mutate_text(rng: random.Random, text: bytes) -> bytes:
    buf = bytearray(text)
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(5)
        at = rng.randrange(len(buf) + 1)
        if op == 0 and buf:
            buf[min(at, len(buf) - 1)] = rng.randrange(256)
        elif op == 1:
            del buf[at : at + rng.randint(1, 20)]
        elif op == 2:
            buf[at:at] = rng.choice([b"[" * 5000, b"9" * 5000, b"\\ud800", b"Infinity", b'"x":1,',
                                     b"{", b"}", b",", b"\xff", b"\x00", b"1e999"])
        elif op == 3:
            span = buf[at : at + rng.randint(1, 200)]
            buf[at:at] = span
        else:
            buf = bytearray(re.sub(rb'"size": [0-9]+', b'"size": ' + str(rng.choice(
                [-1, 0, 1 << 53, 2**64]
            )).encode(), bytes(buf), count=1))
    return bytes(buf)


def _encode(doc: Any) -> bytes:
    return json.dumps(doc, ensure_ascii=False, sort_keys=True, indent=2).encode(
        "utf-8", "surrogatepass"
    )


def _extract(cmd: list[str], tar: Path, into: Path) -> dict[str, bytes]:
    into.mkdir()
    subprocess.run([*cmd, "-xf", str(tar), "-C", str(into)], capture_output=True, timeout=60)
    got: dict[str, bytes] = {}
    for dirpath, _dirs, files in os.walk(into):
        for fn in files:
            full = Path(dirpath) / fn
            if full.is_symlink():
                got[full.relative_to(into).as_posix()] = b"<symlink>"
            else:
                got[full.relative_to(into).as_posix()] = full.read_bytes()
    return got


def _tarfile_view(tar: Path, ignore_zeros: bool) -> dict[str, bytes] | None:
    try:
        with tarfile.open(tar, ignore_zeros=ignore_zeros) as tf:
            out = {}
            for m in tf:
                if m.isreg():
                    f = tf.extractfile(m)
                    out[m.name.removeprefix("./")] = f.read() if f else b""
                elif not m.isdir():
                    out[m.name] = b"<not a file>"
            return out
    except (tarfile.TarError, OSError, EOFError, ValueError):
        return None


def _disagreements(tar: Path, want: dict[str, bytes], work: Path) -> list[str]:
    """Readers that see other files or bytes than the verified bundle holds."""
    bad = []
    readers: dict[str, Callable[[], dict[str, bytes] | None]] = {
        "tarfile": lambda: _tarfile_view(tar, False),
        "tarfile-ignore-zeros": lambda: _tarfile_view(tar, True),
        "gnu-tar": lambda: _extract(["tar"], tar, work / "gnu"),
        "gnu-tar-ignore-zeros": lambda: _extract(["tar", "--ignore-zeros"], tar, work / "gnui"),
    }
    if shutil.which("bsdtar"):
        readers["bsdtar"] = lambda: _extract(["bsdtar"], tar, work / "bsd")
    for name, read in readers.items():
        if read() != want:
            bad.append(name)
    return bad


#: Places a hostile path could name outside a case's folder (absolute paths, "../x" from
#: the work folder under /tmp): none may appear or change.
PLACES = [Path(p) for p in ("/x", "/etc/x", "/etc/passwd", "/tmp/x", "/tmp/new", "/README",
                            "/model", "/-rf", "/other", "/tmp/other", "/tmp/model")]

State = dict[str, tuple[int, int, int]]


def _state(work: Path, skip: Path | None = None) -> State:
    """Every entry under ``work`` but ``skip`` (type, size, mtime), and the :data:`PLACES`."""
    out: State = {}
    for dp, dirs, files in os.walk(work):
        if skip is not None:
            dirs[:] = [x for x in dirs if Path(dp) / x != skip]
        for name in dirs + files:
            full = Path(dp) / name
            try:
                st = full.lstat()
            except OSError:
                continue
            kind = stat.S_IFMT(st.st_mode)  # (a folder's size and time change with entries)
            out[full.relative_to(work).as_posix()] = (
                (kind, 0, 0) if kind == stat.S_IFDIR else (kind, st.st_size, st.st_mtime_ns))
    for place in PLACES:
        try:
            st = place.lstat()
        except OSError:
            continue
        out[str(place)] = (stat.S_IFMT(st.st_mode), st.st_size, st.st_mtime_ns)
    return out


def _changed(before: State, after: State) -> list[str]:
    return sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))


def _cli_check(path: Path) -> str | None:
    """Run `prai bundle verify` in-process; a problem description or None."""
    from prai.cli.main import main

    err = io.StringIO()
    out = io.StringIO()
    code: Any = 0
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
        try:
            main(["bundle", "verify", str(path)])
        except SystemExit as exc:
            code = exc.code
    text = err.getvalue()
    if "Traceback" in text:
        return "traceback"
    if code and (not text.startswith("error: ") or "hint: " not in text):
        return f"exit {code} without error/hint lines"
    return None


class Run:
    def __init__(self, work: Path, keep: Path | None) -> None:
        self.work = work
        self.keep = keep
        self.stats: Counter[str] = Counter()
        self.codes: Counter[int] = Counter()
        self.failures: list[dict[str, Any]] = []
        self.slowest = 0.0
        self.slowest_family = ""
        self.n = 0
        self.refused_loads = 0

    def case(self, family: str, make: Callable[[Path], tuple[Path, int | None]]) -> None:
        self.n += 1
        d = self.work / f"case{self.n}"
        d.mkdir()
        try:
            path, expected = make(d)
        except Exception as exc:
            self.stats["generator errors"] += 1
            print(f"generator error in {family}: {exc!r}", file=sys.stderr)
            shutil.rmtree(d, ignore_errors=True)
            return
        t0 = time.perf_counter()
        outcome = self._verify(family, path, expected, d)
        took = time.perf_counter() - t0
        if took > self.slowest:
            self.slowest, self.slowest_family = took, family
        if self.n % 10 == 0 and outcome != "crash":
            problem = _cli_check(path)
            if problem:
                self._fail("crash", family, path, f"CLI: {problem}")
        if not any(f["dir"] == str(d) for f in self.failures):
            shutil.rmtree(d, ignore_errors=True)

    def _verify(self, family: str, path: Path, expected: int | None, d: Path) -> str:
        self.stats[f"tried {family}"] += 1
        before = _state(self.work)
        try:
            try:
                report = verify_bundle(path)
                if not report.ok:
                    report.raise_for_problems()
            finally:
                moved = _changed(before, _state(self.work))
                if moved:
                    self._fail("written outside", family, path, f"verify changed {moved[:3]}")
        except PraiError as exc:
            self.stats["refused"] += 1
            self.codes[exc.exit_code] += 1
            if "\n" in exc.message.split("\nalso:")[0]:
                self._fail("crash", family, path, f"multi-line message: {exc.message[:200]!r}")
                return "crash"
            if expected is not None and expected != exc.exit_code:
                self.stats["seed: other exit code"] += 1
            self.refused_loads += 1
            if self.refused_loads % 5 == 1:  # load must refuse it too, before any write
                return self._load_refused(family, path, d)
            return "refused"
        except Exception as exc:
            self._fail("crash", family, path, f"{type(exc).__name__}: {exc}"[:300])
            return "crash"
        self.stats["accepted"] += 1
        self.stats[f"accepted {family}"] += 1
        if expected not in (None, 0):
            self._fail("wrong acceptance", family, path, f"seed recipe expected exit {expected}")
            return "wrong"
        assert report.manifest is not None
        want: dict[str, bytes] = {}
        dest = d / "loaded"
        before = _state(self.work)
        try:
            src_files = {f.path: f for f in report.manifest.files}
            try:
                load_bundle(path, str(dest))
            finally:
                moved = _changed(before, _state(self.work, skip=dest))
                if moved:
                    self._fail("written outside", family, path, f"load changed {moved[:3]}")
            for p, f in src_files.items():
                data = (dest / p).read_bytes()
                if hashlib.sha256(data).hexdigest() != f.sha256:
                    raise AssertionError(f"{p} loaded with other bytes")
                want[p] = data
            loaded = {
                (Path(dp) / fn).relative_to(dest).as_posix()
                for dp, _ds, fns in os.walk(dest) for fn in fns
            } - {LOADED_RECORD, RECEIPT_NAME}
            if loaded != set(src_files):
                raise AssertionError(f"load wrote {sorted(loaded ^ set(src_files))[:3]}")
        except PraiError as exc:
            self._fail("wrong acceptance", family, path, f"verify passed, load refused: {exc}")
            return "wrong"
        except Exception as exc:
            self._fail("wrong acceptance", family, path, f"load: {type(exc).__name__}: {exc}")
            return "wrong"
        if path.suffix == ".tar" and path.is_file():
            with tarfile.open(path) as tf:  # control files, as every reader must see them
                for m in tf:
                    name = m.name.removeprefix("./")
                    if name in CONTROL_FILES and m.isreg():
                        fh = tf.extractfile(m)
                        want[name] = fh.read() if fh else b""
            bad = _disagreements(path, want, d)
            self.stats["tars compared with 5 readers"] += 1
            if bad:
                self._fail("wrong acceptance", family, path, f"readers disagree: {bad}")
                return "wrong"
        return "ok"

    def _load_refused(self, family: str, path: Path, d: Path) -> str:
        """`load` of a bundle verify refused: a PraiError, nothing written anywhere (its
        destination included)."""
        self.stats["refused inputs also loaded"] += 1
        dest = d / "loaded"
        before = _state(self.work)
        try:
            load_bundle(path, str(dest))
        except PraiError:
            pass
        except Exception as exc:
            self._fail("crash", family, path, f"load: {type(exc).__name__}: {exc}"[:300])
            return "crash"
        else:
            self._fail("wrong acceptance", family, path, "verify refused, load accepted")
            return "wrong"
        finally:
            moved = _changed(before, _state(self.work))
            if moved:
                self._fail("written outside", family, path,
                           f"refused load changed {moved[:3]}")
        return "refused"

    def _fail(self, kind: str, family: str, path: Path, why: str) -> None:
        self.stats[kind + "s"] += 1
        entry = {"kind": kind, "family": family, "why": why, "dir": str(path.parent)}
        self.failures.append(entry)
        if self.keep is not None:
            target = self.keep / f"{len(self.failures):04d}-{family}"
            shutil.copytree(path.parent, target, dirs_exist_ok=True, symlinks=True)
            (target / "WHY.txt").write_text(why + "\n")
        print(json.dumps(entry, ensure_ascii=False), file=sys.stderr)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--inputs", type=int, default=2000)
    ap.add_argument("--minutes", type=float, default=None,
                    help="also stop after this many minutes")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--keep-failures", type=Path, default=None)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    t0 = time.monotonic()
    deadline = t0 + args.minutes * 60 if args.minutes else float("inf")
    home = Path.cwd()
    with tempfile.TemporaryDirectory(prefix="prai-fuzz-") as tmp:
        work = Path(tmp)
        (work / "cwd").mkdir()
        os.chdir(work / "cwd")  # a relative path a reader wrongly uses lands here
        bases = _base_tars(work)
        base_manifest = hc.manifest_dict(hc.payload())
        run = Run(work, args.keep_failures)
        for _name, (recipe, code, _needle) in sorted(hc.RECIPES.items()):

            def seed_case(d: Path, r: hc.Recipe = recipe, c: int = code) -> tuple[Path, int | None]:
                return r(d), c

            run.case("seed", seed_case)

        def tar_case(d: Path) -> tuple[Path, int | None]:
            data = _mutate_tar(rng, bases[rng.choice(sorted(bases))])
            (d / "b.tar").write_bytes(data)
            return d / "b.tar", None

        def manifest_case(d: Path) -> tuple[Path, int | None]:
            files = hc.payload()
            if rng.random() < 0.5:
                text = _encode(_mutate_doc(rng, base_manifest))
            else:
                text = _mutate_text(rng, hc.canonical(base_manifest))
            root = d / "b"
            hc.write_dir(root, files)
            (root / "prai-bundle.json").write_bytes(text)
            try:
                sums = hc.sums_for(json.loads(text))
            except Exception:
                sums = hc.control(files)["SHA256SUMS"]
            (root / "SHA256SUMS").write_bytes(sums or hc.control(files)["SHA256SUMS"])
            if rng.random() < 0.5:  # the same manifest inside a tar
                tar = d / "m.tar"
                tar.write_bytes(hc.finish(b"".join(
                    hc.member(p.relative_to(root).as_posix(), p.read_bytes())
                    for p in sorted(root.rglob("*")) if p.is_file()
                )))
                shutil.rmtree(root)
                return tar, None
            return root, None

        def parts_case(d: Path) -> tuple[Path, int | None]:
            index = hc.write_parts(d / "p.tar", bases["prai-pax"], rng.choice([1024, 4096, 10240]))
            if rng.random() < 0.6:
                doc = _mutate_doc(rng, json.loads(index.read_text()))
                index.write_bytes(_encode(doc))
                if isinstance(doc, dict) and isinstance(doc.get("parts"), list):
                    sums = "".join(
                        f"{p.get('sha256')}  {p.get('path')}\n"
                        for p in doc["parts"] if isinstance(p, dict)
                    )
                    index.with_name("p.tar.parts.SHA256SUMS").write_text(
                        sums, errors="surrogateescape"
                    )
            if rng.random() < 0.5:
                parts = sorted(d.glob("p.tar.part-*"))
                victim = rng.choice(parts)
                data = bytearray(victim.read_bytes())
                data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
                victim.write_bytes(bytes(data))
            return index, None

        families = [("tar", tar_case), ("manifest", manifest_case), ("parts", parts_case)]
        while run.n < args.inputs and time.monotonic() < deadline:
            family, make = families[run.n % 3] if rng.random() < 0.5 else rng.choice(families)
            run.case(family, make)
            if run.n % 1000 == 0:
                print(json.dumps({"inputs": run.n, "seconds": round(time.monotonic() - t0),
                                  **run.stats}), file=sys.stderr, flush=True)
        summary = {
            "inputs": run.n,
            "seed": args.seed,
            "seconds": round(time.monotonic() - t0, 1),
            "accepted": run.stats["accepted"],
            "refused": run.stats["refused"],
            "refusals_by_exit_code": dict(sorted(run.codes.items())),
            "crashes": run.stats["crashs"],
            "wrong_acceptances": run.stats["wrong acceptances"],
            "written_outside": run.stats["written outsides"],
            "refused_inputs_also_loaded": run.stats["refused inputs also loaded"],
            "seed_recipes_with_other_exit_code": run.stats["seed: other exit code"],
            "slowest_input_seconds": round(run.slowest, 3),
            "slowest_input_family": run.slowest_family,
            "tried_by_family": {k.removeprefix("tried "): v for k, v in run.stats.items()
                                if k.startswith("tried ")},
            "accepted_by_family": {k.removeprefix("accepted "): v for k, v in run.stats.items()
                                   if k.startswith("accepted ")},
            "accepted_tars_compared_with_other_readers": run.stats["tars compared with 5 readers"],
            "generator_errors": run.stats["generator errors"],
            "failures": run.failures[:20],
        }
        os.chdir(home)
        print(json.dumps(summary, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
