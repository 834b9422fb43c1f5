"""Hostile bundles (issue 19): every malformed input is a one-line refusal with its exit
code, no traceback, nothing written; what PrAI accepts, every extractor reads alike.

The corpus is generated from the recipes in hostile_corpus.py (nothing binary in git).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest

from prai.bundle import load_bundle, verify_bundle
from prai.cli.main import main
from prai.errors import BundleError, PraiError
from tests.bundle.hostile_corpus import (
    EVIL,
    RECIPES,
    canonical,
    control,
    manifest_dict,
    payload,
    tar_of,
    write_dir,
)

PRAI = [sys.executable, "-m", "prai.cli.main"]


def _cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """Run the CLI in this process (as `prai …` does); exit code, stdout, stderr."""
    code = 0
    try:
        main(list(args))
    except SystemExit as exc:
        code = int(exc.code or 0)
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.mark.parametrize("name", sorted(RECIPES))
def test_seed_corpus(name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    make, want, needle = RECIPES[name]
    (tmp_path / "in").mkdir()
    bundle = make(tmp_path / "in")
    code, _, err = _cli(capsys, "bundle", "verify", str(bundle))
    assert code == want, f"{name}: exit {code}, expected {want}\n{err}"
    assert "Traceback" not in err
    if want:
        lines = err.splitlines()
        assert lines[0].startswith("error: ") and any(x.startswith("hint: ") for x in lines)
        assert needle in lines[0], f"{name}: refused for another reason: {lines[0]}"
        assert len(lines[0]) < 400, lines[0]  # no echo of a 100,000-deep document
        assert "\x1b" not in err and "\udc80" not in err
        code_json, out_json, _ = _cli(capsys, "bundle", "verify", str(bundle), "--json")
        assert code_json == want and json.loads(out_json)["exit_code"] == want
    code_i, _, err_i = _cli(capsys, "bundle", "inspect", str(bundle))
    assert "Traceback" not in err_i and (code_i == 0 or err_i.startswith("error: "))
    dest = tmp_path / "dest"
    if want:
        with pytest.raises(PraiError) as info:
            load_bundle(bundle, str(dest))
        assert info.value.exit_code == want, f"{name}: load said {info.value}"
        assert not dest.exists(), f"{name}: load wrote to the destination"
    else:
        res = load_bundle(bundle, str(dest))
        manifest = verify_bundle(bundle).manifest
        assert manifest is not None and res.files == len(manifest.files)
        for f in manifest.files:
            assert hashlib.sha256((dest / f.path).read_bytes()).hexdigest() == f.sha256
        assert not (dest / ".prai-staging").exists()


def _extract(tool: list[str], tar: Path, into: Path) -> dict[str, bytes]:
    into.mkdir(parents=True)
    subprocess.run([*tool, "-xf", str(tar), "-C", str(into)], capture_output=True, check=False)
    got = {}
    for dirpath, _dirs, files in os.walk(into):
        for fn in files:
            full = Path(dirpath) / fn
            got[full.relative_to(into).as_posix()] = full.read_bytes()
    return got


@pytest.mark.parametrize(
    "name", [n for n in sorted(RECIPES) if n.startswith("tar-") and RECIPES[n][1] == 0]
)
def test_accepted_tars_read_alike_everywhere(name: str, tmp_path: Path) -> None:
    """What PrAI verifies, GNU tar, bsdtar and Python's tarfile extract identically."""
    tar = RECIPES[name][0](tmp_path)
    report = verify_bundle(tar)
    assert report.ok and report.manifest is not None
    want = {f.path: f for f in report.manifest.files}
    for i, tool in enumerate((["tar"], ["bsdtar"])):
        got = _extract(tool, tar, tmp_path / f"x{i}")
        payload_files = {k: v for k, v in got.items() if "/" in k}
        assert set(payload_files) == set(want), tool
        for path, data in payload_files.items():
            assert hashlib.sha256(data).hexdigest() == want[path].sha256
    with tarfile.open(tar) as tf:
        names = {m.name.removeprefix("./") for m in tf if m.isreg()}
    assert {n for n in names if "/" in n} == set(want)


@pytest.mark.parametrize(
    "name", ["tar-corrupt-block-mid-tar", "tar-zero-block-mid-tar", "tar-trailing-member-after-end"]
)
def test_refused_tars_are_the_ones_readers_disagree_on(name: str, tmp_path: Path) -> None:
    """The attack in issue 19: another extractor sees a member that overwrites config.json."""
    tar = RECIPES[name][0](tmp_path)
    seen = [
        _extract(tool, tar, tmp_path / str(i))["model/config.json"]
        for i, tool in enumerate((["tar"], ["tar", "--ignore-zeros"], ["bsdtar"]))
    ]
    with tarfile.open(tar) as tf:
        seen.append(tf.extractfile("model/config.json").read())  # type: ignore[union-attr]
    # the readers disagree: some see the original config, some the one added behind it
    assert payload()["model/config.json"] in seen and EVIL in seen
    with pytest.raises(BundleError):
        verify_bundle(tar)


def test_partial_names_do_not_collide(tmp_path: Path) -> None:
    make = RECIPES["manifest-partial-names-collide"][0]
    bundle = make(tmp_path)
    dest = tmp_path / "dest"
    load_bundle(bundle, str(dest))
    assert (dest / "model/a").read_bytes() == b"file a\n"
    assert (dest / "model/a.partial").read_bytes() == b"file a.partial\n"


def test_stale_staged_file_does_not_go_live(tmp_path: Path) -> None:
    """A shard staged by an interrupted load of another version is not carried into place."""
    bundle = RECIPES["dir-ok"][0](tmp_path)
    dest = tmp_path / "dest"
    stale = dest / ".prai-staging/model/model-00003-of-00003.safetensors"
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"old shard")
    load_bundle(bundle, str(dest))
    assert not (dest / "model/model-00003-of-00003.safetensors").exists()
    assert (dest / "model/config.json").is_file()


def test_standard_tar_of_a_created_bundle(tmp_path: Path) -> None:
    """`tar -C dir -cf x.tar .` of a bundle directory (a `./` entry) verifies and loads."""
    files = payload()
    src = write_dir(tmp_path / "b", {**control(files), **files})
    subprocess.run(["tar", "-C", str(src), "-cf", str(tmp_path / "x.tar"), "."], check=True)
    assert (tmp_path / "x.tar").read_bytes()[:3] == b"./\x00"  # the archive's root entry
    assert verify_bundle(tmp_path / "x.tar").ok
    res = load_bundle(tmp_path / "x.tar", str(tmp_path / "dest"))
    assert res.written == len(files)


def test_cli_prints_non_utf8_names_safely(tmp_path: Path) -> None:
    """A file name that is not UTF-8 is refused and shown escaped (a real subprocess)."""
    bundle = RECIPES["dir-non-utf8-file-name"][0](tmp_path)
    out = subprocess.run(
        [*PRAI, "bundle", "verify", str(bundle)], capture_output=True, env={**os.environ}
    )
    assert out.returncode == 17
    assert b"Traceback" not in out.stderr and b"\\udcff" in out.stderr


def test_verify_output_is_a_summary_for_many_files(tmp_path: Path) -> None:
    """10,000 files: the CLI prints a summary by role unless --files asks for every row."""
    n = 10_000
    files = {f"other/f{i:05d}": b"%d\n" % i for i in range(n)}
    entries = manifest_dict({"other/x": b""})
    entries["files"] = [
        {"role": "other", "name": f"f{i:05d}", "path": p, "size": len(d),
         "sha256": hashlib.sha256(d).hexdigest()}
        for i, (p, d) in enumerate(files.items())
    ]
    entries["model"] = None
    entries["adapters"] = []
    mbytes = canonical(entries)
    tar = tmp_path / "many.tar"
    tar.write_bytes(tar_of(files, mbytes))
    for command in (["verify"], ["inspect"]):
        t0 = time.monotonic()
        out = subprocess.run(
            [*PRAI, "bundle", *command, str(tar)], capture_output=True, text=True, timeout=120
        )
        seconds = time.monotonic() - t0
        assert out.returncode == 0, out.stderr
        assert len(out.stdout.splitlines()) < 30 and "10000" in out.stdout
        assert seconds < 60, f"{command}: {seconds:.1f} s"  # typically 2-4 s; a noisy machine
    listed = subprocess.run(
        [*PRAI, "bundle", "verify", str(tar), "--files"], capture_output=True, text=True
    )
    assert listed.returncode == 0 and len(listed.stdout.splitlines()) >= n


def test_created_parts_index_is_valid(tmp_path: Path, tiny_llama: Path) -> None:
    """create writes a parts index and SHA256SUMS the strict reader accepts, and verify
    checks every part and the whole tar every time."""
    from prai.bundle import create_bundle

    create_bundle(tmp_path / "p.tar", model=tiny_llama, split_bytes=100_000)
    report = verify_bundle(tmp_path / "p.tar.parts.json")
    assert report.ok and all(p["ok"] is True for p in report.parts)
    index = json.loads((tmp_path / "p.tar.parts.json").read_text())
    index["sha256"] = "f" * 64
    (tmp_path / "p.tar.parts.json").write_text(json.dumps(index))
    report = verify_bundle(tmp_path / "p.tar.parts.json")
    assert not report.ok and "the index was edited" in str(report.problems[0])


def test_python_tarfile_written_bundle_with_pax_names(tmp_path: Path) -> None:
    """Non-ASCII and long names get pax records from Python's writer: accepted."""
    files = payload()
    files["other/日本語のファイル名.txt"] = b"x"
    files["other/" + "x" * 180] = b"y"
    ctl = control(files)
    with tarfile.open(tmp_path / "b.tar", "w", format=tarfile.PAX_FORMAT) as tf:
        for name, data in {**ctl, **files}.items():
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            tf.addfile(ti, io.BytesIO(data))
    assert verify_bundle(tmp_path / "b.tar").ok


def test_manifest_as_built_by_other_rooms_still_validates() -> None:
    data = manifest_dict(payload())
    assert json.loads(canonical(data)) == data


def test_json_schema_is_generated_from_the_models() -> None:
    """`python -m prai.bundle.manifest` prints a JSON Schema that tools without PrAI can
    use: valid for draft 2020-12, accepts a real manifest, refuses the path attacks."""
    import jsonschema

    from prai.bundle.manifest import json_schemas

    out = subprocess.run(
        [sys.executable, "-m", "prai.bundle.manifest"], capture_output=True, text=True, check=True
    )
    schemas = json.loads(out.stdout)
    assert schemas == json.loads(json.dumps(json_schemas()))
    schema = schemas["prai-bundle.json"]
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.validate(manifest_dict(payload()), schema)
    for bad in ["../x", "/etc/passwd", "other//x", "other/./x", "other/a\nb", "other\\x"]:
        doc = manifest_dict(payload())
        doc["files"][0]["path"] = bad
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(doc, schema)


def test_load_checks_the_destination_before_writing(tmp_path: Path) -> None:
    """Paths that would pass PATH_MAX below --to are refused before DEST is created."""
    from prai.errors import BundleLoadError

    bundle = RECIPES["dir-ok"][0](tmp_path)
    parent = tmp_path / "p"
    while len(os.fsencode(parent)) < 4000:
        parent = parent / ("d" * 200)
    parent = parent.parent
    parent.mkdir(parents=True)
    dest = parent / ("e" * (4075 - len(os.fsencode(parent)) - 1))
    with pytest.raises(BundleLoadError, match="more than the 4095"):
        load_bundle(bundle, str(dest))
    assert not dest.exists()
