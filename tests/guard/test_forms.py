"""Identifier forms real documents use (issue 15 item 1), through `prai guard scan`."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from prai.guard import DETECTORS, Scanner
from prai.guard.scanner import JA_DETECTORS

S = Scanner(detectors=[d for d in DETECTORS if d not in JA_DETECTORS])

# (line, masked by policy `standard`)
FORMS = [
    ("名刺 TEL +81(0)90-1234-5678", "名刺 TEL ［電話番号］"),
    ("Tel: +81 (0)3 1234 5678", "Tel: ［電話番号］"),
    ("電話 03.1234.5678 まで", "電話 ［電話番号］ まで"),
    ("06-1234-5678（18時以降）", "［電話番号］（18時以降）"),
    ("1001,090-1234-5678,35,2023", "1001,［電話番号］,35,2023"),
    ("1001\t090-1234-5678\t35\t2023", "1001\t［電話番号］\t35\t2023"),
    ("1,123456789018,35", "1,［個人番号］,35"),
    ("corp,9234567890123,3", "corp,［法人番号］,3"),
    ("登録番号 T9234567890123", "登録番号 ［法人番号］"),
    ("適格請求書発行事業者登録番号：T-9234-5678-9012-3", "適格請求書発行事業者登録番号：［法人番号］"),
    ("Ｔ９２３４５６７８９０１２３", "［法人番号］"),
    ("T 9234 5678 90123", "［法人番号］"),
    ("Minato-ku, Tokyo 106-0032", "Minato-ku, Tokyo ［郵便番号］"),
    ("振込口座 2023-06-21 に開設", "振込口座 2023-06-21 に開設"),
    ("口座振替日 20230224", "口座振替日 20230224"),
    ("JAN 4901234567894", "JAN 4901234567894"),
    ("req_id=4111111111111111 bytes=123456789018 lag=9234567890123",
     "req_id=4111111111111111 bytes=123456789018 lag=9234567890123"),
    ("phone=09012345678", "phone=［電話番号］"),
    ("お問い合わせ 型番 0312345678", "お問い合わせ 型番 0312345678"),
    ("口座番号 1234567", "口座番号 ［口座番号］"),
]


def test_forms_through_the_cli() -> None:
    """One `prai guard scan --json` over a document holding every form, one per line."""
    doc = "\n".join(line for line, _ in FORMS) + "\n"
    p = subprocess.run(
        [sys.executable, "-m", "prai.cli.main", "guard", "scan", "-", "--policy", "standard",
         "--json"], input=doc.encode(), capture_output=True, timeout=120,
    )
    assert p.returncode == 0, p.stderr.decode()
    out = json.loads(p.stdout)
    assert out["unavailable"] == []
    assert out["text"].split("\n")[:-1] == [masked for _, masked in FORMS]


@pytest.mark.parametrize(
    ("text", "detector"),
    [
        ("+81(0)90-1234-5678", "pii.phone_jp"),
        ("T-9234-5678-9012-3", "pii.corporate_number"),
        ("106-0032 東京都港区", "pii.postal_code_jp"),
    ],
)
def test_whole_span(text: str, detector: str) -> None:
    f = S.scan(text)[0]
    assert f.detector == detector and text.startswith(f.text)


def test_ean13_with_luhn_is_not_a_card() -> None:
    from prai.guard._checks import card_issuer, ean13_valid

    code = "4901234567894"
    assert ean13_valid(code) and card_issuer(code)  # both checks pass: a real ambiguity
    assert S.scan(f"商品コード {code}") == []
