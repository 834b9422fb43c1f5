"""certs: CA files and TLS handshakes against real TLS servers on 127.0.0.1 with
certificates generated per run (unknown authority, hostname mismatch, expired)."""

from __future__ import annotations

from pathlib import Path

import pytest

from prai.doctor import build_plan, run_doctor
from tests.doctor.doctor_util import Pki, checks, http_server


def _certs(ca: list[Path], endpoint: str | None = None):  # type: ignore[no-untyped-def]
    plan = build_plan(None, env={}, ca=ca, endpoint=endpoint)
    return checks(run_doctor(plan, ["certs"]), "certs")


def test_good_ca_and_endpoint_pass(pki: Pki) -> None:
    with http_server(tls=pki.good) as url:
        c = _certs([pki.ca], url)
    assert c["--ca"].status == "PASS"
    assert c["endpoint tls"].status == "PASS"
    assert "commonName=good" in c["endpoint tls"].evidence


@pytest.mark.parametrize(("which", "kind", "fix"), [
    ("unknown", "unknown_ca", "社内CA"),
    ("wrong_host", "hostname_mismatch", "SAN"),
    ("expired", "expired", "renew"),
])
def test_tls_failures_are_told_apart(pki: Pki, which: str, kind: str, fix: str) -> None:
    with http_server(tls=getattr(pki, which)) as url:
        c = _certs([pki.ca], url)
    tls = c["endpoint tls"]
    assert tls.status == "FAIL"
    assert tls.data["tls"] == kind
    assert kind.replace("_", " ") in tls.evidence
    assert fix in tls.remediation


def test_ca_file_problems(pki: Pki, tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a certificate")
    plan = build_plan(None, env={}, ca=[pki.leaf, pki.expiring_ca, garbage, tmp_path / "nope.pem"])
    got = [c for c in run_doctor(plan, ["certs"]).checks]
    assert [c.status for c in got] == ["FAIL", "WARN", "FAIL", "FAIL"]
    assert "is not a CA" in got[0].evidence and "not a server 証明書" in got[0].remediation
    assert "expires on" in got[1].evidence and "renewal" in got[1].remediation
    assert "not a PEM certificate" in got[2].evidence
    assert "no such file" in got[3].evidence


def test_unreachable_endpoint_is_only_a_warning_here(pki: Pki) -> None:
    c = _certs([pki.ca], "https://127.0.0.1:9")
    assert c["endpoint tls"].status == "WARN"
    assert "not reachable" in c["endpoint tls"].evidence
