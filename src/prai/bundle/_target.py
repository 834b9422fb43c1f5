"""Does a bundle's wheelhouse fit this interpreter? Standard library only.

This file is also shipped inside every bundle that carries PrAI's software, as
``software/check_target.py``: ``software/install.sh`` runs it with the interpreter it is
about to use, before any virtual environment is made, so a bundle built for another
Python or platform is refused with one clear line instead of pip's "is not a supported
wheel on this platform".

Tags follow PEP 425 (``{python}-{abi}-{platform}``, each part may be a ``.``-separated
set), PEP 600 (``manylinux_2_X_ARCH`` needs glibc >= 2.X; the legacy aliases
``manylinux1``/``2010``/``2014`` mean glibc 2.5/2.12/2.17) and PEP 384 (``abi3`` wheels
built for CPython 3.N load on CPython >= 3.N).

Run: ``python3 check_target.py BUNDLE_DIR`` (exit 0: fits; 9: does not, one line on stderr).
"""

from __future__ import annotations

import json
import os
import platform
import sys
from pathlib import Path

EXIT_DOES_NOT_FIT = 9  # prai.errors.BundleSoftwareError.exit_code
_LEGACY_MANYLINUX = {"manylinux1": (2, 5), "manylinux2010": (2, 12), "manylinux2014": (2, 17)}


def glibc_version() -> tuple[int, int] | None:
    """(major, minor) of the C library this process runs on; None when it is not glibc."""
    try:
        text = os.confstr("CS_GNU_LIBC_VERSION") or ""
    except (ValueError, OSError, AttributeError):
        return None
    name, _, version = text.partition(" ")
    if name != "glibc":
        return None
    major, _, minor = version.partition(".")
    try:
        return int(major), int(minor.split(".")[0])
    except ValueError:
        return None


def _platform_fits(tag: str, machine: str, glibc: tuple[int, int] | None) -> bool:
    if tag == "any":
        return True
    for legacy, need in _LEGACY_MANYLINUX.items():
        if tag == f"{legacy}_{machine}":
            return glibc is not None and glibc >= need
    if tag.startswith("manylinux_") and tag.endswith("_" + machine):
        parts = tag.removesuffix("_" + machine).split("_")  # manylinux, 2, 28
        try:
            need = (int(parts[1]), int(parts[2]))
        except (IndexError, ValueError):
            return False
        return glibc is not None and glibc >= need
    return tag == f"linux_{machine}" and sys.platform == "linux"


def _python_fits(py_tag: str, abi_tag: str, impl: str, version: tuple[int, int]) -> bool:
    major, minor = version
    if py_tag.startswith("py"):
        # pip's compatible tags: py3 and py30 … py3N for this 3.N (packaging.tags.compatible_tags)
        digits = py_tag[2:]
        if abi_tag != "none" or not digits.startswith(str(major)):
            return False
        rest = digits[len(str(major)):]
        return rest == "" or (rest.isdigit() and int(rest) <= minor)
    if py_tag.startswith("cp") and impl == "cpython":
        digits = py_tag[2:]
        if abi_tag == "abi3":
            return digits.startswith(str(major)) and int(digits[1:] or 0) <= minor
        return digits == f"{major}{minor}"
    return False


def wheel_fits(
    filename: str,
    *,
    impl: str,
    version: tuple[int, int],
    machine: str,
    glibc: tuple[int, int] | None,
) -> bool:
    """True when the wheel ``filename`` (``name-ver[-build]-py-abi-plat.whl``) installs here."""
    stem = filename.removesuffix(".whl").split("-")
    if len(stem) < 5:
        return False
    py_tags, abi_tags, plat_tags = stem[-3].split("."), stem[-2].split("."), stem[-1].split(".")
    return any(
        _python_fits(p, a, impl, version) for p in py_tags for a in abi_tags
    ) and any(_platform_fits(t, machine, glibc) for t in plat_tags)


def check_fit(
    software: dict[str, object],
    *,
    impl: str | None = None,
    version: tuple[int, int] | None = None,
    machine: str | None = None,
    glibc: tuple[int, int] | bool | None = True,
) -> list[str]:
    """Why the wheelhouse described by ``software`` (the manifest's ``software`` object)
    does not fit an interpreter (this one, unless given).

    Args:
        impl: ``sys.implementation.name`` (``cpython``). version: (major, minor).
        machine: ``platform.machine()`` (``x86_64``, ``aarch64``).
        glibc: (major, minor), None for no glibc (musl, macOS), True: this process's.

    Returns:
        Problems, one line each; empty when every wheel installs here.
    """
    impl = impl or sys.implementation.name
    version = version or (sys.version_info.major, sys.version_info.minor)
    machine = machine or platform.machine()
    libc = glibc_version() if glibc is True else glibc
    assert libc is None or isinstance(libc, tuple)
    want = str(software.get("python", ""))
    here = f"{impl} {version[0]}.{version[1]} on {sys.platform} {machine}" + (
        f" (glibc {libc[0]}.{libc[1]})" if libc else ""
    )
    platforms = software.get("platforms") or []
    assert isinstance(platforms, list)
    target = f"CPython {want} on {', '.join(str(p) for p in platforms[:1]) or '?'}"
    problems = []
    if want and want != f"{version[0]}.{version[1]}":
        problems.append(f"PrAI's wheelhouse in this bundle is for {target}; this interpreter is {here}")
    if software.get("implementation", "cp") == "cp" and impl != "cpython":
        problems.append(f"PrAI's wheelhouse needs CPython; this interpreter is {here}")
    wheels = software.get("wheels") or []
    assert isinstance(wheels, list)
    for w in wheels:
        name = Path(str(w.get("path", ""))).name
        if not wheel_fits(name, impl=impl, version=version, machine=machine, glibc=libc):
            problems.append(f"wheel {name} does not install on {here} (bundle made for {target})")
            break
    return problems


def main(argv: list[str]) -> int:
    """``check_target.py BUNDLE_DIR``: exit 0 when the software fits, 9 when it does not."""
    bundle = Path(argv[1] if len(argv) > 1 else ".")
    try:
        manifest = json.loads((bundle / "prai-bundle.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        print(f"error: cannot read {bundle / 'prai-bundle.json'}: {exc}", file=sys.stderr)
        return 3
    software = manifest.get("software")
    if not isinstance(software, dict):
        print(f"error: {bundle} carries no PrAI software (create it with --software)", file=sys.stderr)
        return EXIT_DOES_NOT_FIT
    problems = check_fit(software)
    for p in problems:
        print(f"error: {p}", file=sys.stderr)
    if problems:
        print(
            "hint: run install.sh with the Python the bundle was made for (PRAI_PYTHON=python3.X), "
            "or ask for a bundle made with --python/--platform for this machine",
            file=sys.stderr,
        )
        return EXIT_DOES_NOT_FIT
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
