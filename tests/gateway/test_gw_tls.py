"""`prai gateway --tls-cert/--tls-key`: HTTPS for OpenShift Routes with reencrypt termination,
checked by a client that trusts only the internal CA generated here."""

from __future__ import annotations

import datetime as dt
import ipaddress
import subprocess
import time
from pathlib import Path

import httpx
import openai
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.gateway._gwutil import PRAI, FakeUpstream, Gateway, Proc, tenants


def _pki(tmp: Path) -> tuple[Path, Path, Path]:
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "PrAI test internal CA")])
    ca = (
        x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "gateway")]))
        .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    ca_pem, cert_pem, key_pem = tmp / "ca.pem", tmp / "tls.crt", tmp / "tls.key"
    ca_pem.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    cert_pem.write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    key_pem.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return ca_pem, cert_pem, key_pem


def test_gateway_serves_https_with_the_internal_ca(tmp_path: Path, fake_upstream: FakeUpstream) -> None:
    ca, cert, key = _pki(tmp_path)
    gw = Gateway(
        tmp_path / "gw",
        {"upstreams": [{"name": "main", "base_urls": [fake_upstream.url]}], "tenants": tenants()},
        extra_args=["--tls-cert", str(cert), "--tls-key", str(key)],
    )
    gw.url = gw.url.replace("http://", "https://")
    api_key = gw.key("acme", "chat")
    gw.proc = Proc([*PRAI, "gateway", "--config", str(gw.config), *gw.extra_args], env=gw.env)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(gw.url + "/health", verify=str(ca), trust_env=False).status_code == 200:
                    break
            except httpx.HTTPError:
                if time.monotonic() > deadline or gw.proc.p.poll() is not None:
                    raise
            time.sleep(0.2)
        client = openai.OpenAI(
            base_url=gw.url + "/v1", api_key=api_key, http_client=httpx.Client(verify=str(ca), trust_env=False)
        )
        r = client.chat.completions.create(model="fake", messages=[{"role": "user", "content": "hi"}])
        assert r.choices[0].message.content
        # A client without the internal CA is refused: TLS stays verified.
        with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            httpx.get(gw.url + "/health", trust_env=False)
    finally:
        gw.stop()
    half = subprocess.run([*PRAI, "gateway", "-c", str(gw.config), "--tls-cert", str(cert)],
                          capture_output=True, text=True, env=gw.env, timeout=60)
    assert half.returncode == 2 and "--tls-cert and --tls-key go together" in half.stderr
