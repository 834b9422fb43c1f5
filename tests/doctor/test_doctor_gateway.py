"""endpoint through a real `prai gateway` (in front of the gateway tests' fake upstream):
with a key every check passes; without one /v1/models is refused with the key remediation;
the key never appears in the output."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator

import pytest

from tests.gateway._gwutil import FakeUpstream, Gateway


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Gateway, str]]:
    up = FakeUpstream(models="fake,fake-lora:fake")
    gw = Gateway(tmp_path_factory.mktemp("doctor-gw"), {
        "upstreams": [{"name": "fake", "base_urls": [up.url], "models": ["fake", "fake-lora"]}],
        "tenants": [{"name": "acme", "projects": [{"name": "chat", "models": ["fake", "fake-lora"]}]}],
    })
    try:
        gw.start()
        yield gw, gw.key("acme", "chat")
    finally:
        gw.stop()
        up.stop()


def _doctor(url: str, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "prai.cli.main", "doctor", "--endpoint", url,
                           "--only", "endpoint", "--json", *extra],
                          capture_output=True, text=True, timeout=120)


def test_through_the_gateway_with_a_key(gateway: tuple[Gateway, str]) -> None:
    gw, key = gateway
    out = _doctor(gw.url, "--api-key", key)
    report = json.loads(out.stdout)
    by = {c["name"]: c for c in report["checks"]}
    assert out.returncode == 0, report
    assert set(by["models"]["data"]["listed"]) == {"fake", "fake-lora"}
    assert by["taste fake-lora"]["status"] == "PASS" and by["taste fake-lora"]["data"]["ttft_s"] > 0
    assert key not in out.stdout + out.stderr


def test_gateway_without_a_key(gateway: tuple[Gateway, str]) -> None:
    gw, _ = gateway
    out = _doctor(gw.url)
    by = {c["name"]: c for c in json.loads(out.stdout)["checks"]}
    assert out.returncode == 1
    assert by["health"]["status"] == "PASS"
    assert by["models"]["status"] == "FAIL" and "401" in by["models"]["evidence"]
    assert "--api-key" in by["models"]["remediation"]
