"""Helpers for doctor tests: a PKI with good and bad server certificates, real TLS servers
on 127.0.0.1, kitchen.yaml writing, and a small OpenAI-shaped fake engine for FAIL paths."""

from __future__ import annotations

import http.server
import ipaddress
import json
import ssl
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "PrAI Doctor Test"),
                      x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def make_cert(cn: str, key: ec.EllipticCurvePrivateKey, *, issuer: x509.Certificate | None = None,
              issuer_key: ec.EllipticCurvePrivateKey | None = None, ca: bool = False,
              not_before_days: float = -1, not_after_days: float = 365,
              sans: tuple[str, ...] = ()) -> x509.Certificate:
    """A certificate valid from now+not_before_days to now+not_after_days (days)."""
    now = datetime.now(UTC)
    b = (x509.CertificateBuilder().subject_name(_name(cn))
         .issuer_name(issuer.subject if issuer else _name(cn))
         .public_key(key.public_key()).serial_number(x509.random_serial_number())
         .not_valid_before(now + timedelta(days=not_before_days))
         .not_valid_after(now + timedelta(days=not_after_days))
         .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if ca:
        b = b.add_extension(x509.KeyUsage(
            digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
            key_encipherment=False, data_encipherment=False, key_agreement=False,
            encipher_only=False, decipher_only=False), critical=True)
    if sans:
        names: list[x509.GeneralName] = []
        for s in sans:
            try:
                names.append(x509.IPAddress(ipaddress.ip_address(s)))
            except ValueError:
                names.append(x509.DNSName(s))
        b = b.add_extension(x509.SubjectAlternativeName(names), critical=False)
    return b.sign(issuer_key or key, hashes.SHA256())


@dataclass
class Pki:
    """PEM files: the internal CA, another CA, and server certs signed by the internal CA."""

    dir: Path
    ca: Path                      # internal root CA
    other_ca: Path                # a CA that signed nothing here
    expiring_ca: Path             # a CA that expires in 10 days
    leaf: Path                    # a server certificate (not a CA)
    good: tuple[Path, Path]       # (cert, key) for 127.0.0.1 / localhost
    wrong_host: tuple[Path, Path]  # issued for other.kitchen.internal
    expired: tuple[Path, Path]    # for 127.0.0.1, expired yesterday
    unknown: tuple[Path, Path]    # for 127.0.0.1, signed by other_ca


def build_pki(d: Path) -> Pki:
    def write(name: str, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey | None = None) -> Any:
        (d / f"{name}.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        if key is None:
            return d / f"{name}.pem"
        (d / f"{name}.key").write_bytes(key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption()))
        return d / f"{name}.pem", d / f"{name}.key"

    d.mkdir(parents=True, exist_ok=True)
    ca_key, other_key, exp_key = (ec.generate_private_key(ec.SECP256R1()) for _ in range(3))
    ca = make_cert("Kitchen Root CA", ca_key, ca=True)
    other = make_cert("Someone Else CA", other_key, ca=True)
    expiring = make_cert("Expiring CA", exp_key, ca=True, not_after_days=10)

    def leaf(name: str, issuer: x509.Certificate, ikey: ec.EllipticCurvePrivateKey, **kw: Any) -> Any:
        k = ec.generate_private_key(ec.SECP256R1())
        return write(name, make_cert(name, k, issuer=issuer, issuer_key=ikey, **kw), k)

    good = leaf("good", ca, ca_key, sans=("127.0.0.1", "localhost"))
    return Pki(
        dir=d, ca=write("ca", ca), other_ca=write("other-ca", other),
        expiring_ca=write("expiring-ca", expiring), leaf=good[0], good=good,
        wrong_host=leaf("wrong-host", ca, ca_key, sans=("other.kitchen.internal",)),
        expired=leaf("expired", ca, ca_key, sans=("127.0.0.1", "localhost"),
                     not_before_days=-30, not_after_days=-1),
        unknown=leaf("unknown", other, other_key, sans=("127.0.0.1", "localhost")),
    )


Handler = Callable[[http.server.BaseHTTPRequestHandler], None]


@contextmanager
def http_server(handler: Handler | None = None, tls: tuple[Path, Path] | None = None) -> Iterator[str]:
    """A real HTTP(S) server on 127.0.0.1 in a thread; yields its base URL.

    ``handler(req)`` answers every request (default: 200 "ok").
    """

    class H(http.server.BaseHTTPRequestHandler):
        def log_message(self, *a: Any) -> None:
            pass

        def _any(self) -> None:
            if handler is not None:
                handler(self)
                return
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        do_GET = do_POST = do_HEAD = _any

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
    if tls is not None:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(str(tls[0]), str(tls[1]))
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    scheme = "https" if tls else "http"
    try:
        yield f"{scheme}://127.0.0.1:{srv.server_address[1]}"
    finally:
        srv.shutdown()
        srv.server_close()


def send_json(req: http.server.BaseHTTPRequestHandler, status: int, body: Any) -> None:
    data = json.dumps(body).encode()
    req.send_response(status)
    req.send_header("Content-Type", "application/json")
    req.send_header("Content-Length", str(len(data)))
    req.end_headers()
    req.wfile.write(data)


def fake_engine(models: list[str], *, chat_status: int = 200, answer: str = "まいど") -> Handler:
    """An OpenAI-shaped engine: /health, /v1/models, streamed /v1/chat/completions."""

    def handle(req: http.server.BaseHTTPRequestHandler) -> None:
        if req.path == "/health":
            req.send_response(200)
            req.send_header("Content-Length", "0")
            req.end_headers()
        elif req.path == "/v1/models":
            send_json(req, 200, {"object": "list", "data": [{"id": m, "object": "model"} for m in models]})
        elif req.path == "/v1/chat/completions":
            n = int(req.headers.get("Content-Length", "0"))
            body = json.loads(req.rfile.read(n))
            if chat_status != 200:
                send_json(req, chat_status, {"error": {"message": "engine exploded", "type": "server_error",
                                                       "param": None, "code": chat_status}})
                return
            chunks = [{"choices": [{"index": 0, "delta": {"content": answer}}]},
                      {"choices": [], "usage": {"completion_tokens": 1}}]
            data = b"".join(f"data: {json.dumps(c)}\n\n".encode() for c in chunks) + b"data: [DONE]\n\n"
            assert body["model"] in models
            req.send_response(200)
            req.send_header("Content-Type", "text/event-stream")
            req.send_header("Content-Length", str(len(data)))
            req.end_headers()
            req.wfile.write(data)
        else:
            send_json(req, 404, {"error": {"message": "not found"}})

    return handle


def write_kitchen(path: Path, doc: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def checks(report: Any, area: str | None = None) -> dict[str, Any]:
    """name -> Check for one area (or all)."""
    return {c.name: c for c in report.checks if area is None or c.area == area}


@dataclass
class S3:
    """moto's S3 server over TLS with a bundle loaded at s3://BUCKET/PREFIX."""

    url: str
    access_key: str
    secret_key: str
    bucket: str
    prefix: str
    bundle: Path


DIGEST = "sha256:" + "a" * 64


def cluster_kitchen(
    path: Path,
    *,
    model_dir: Path | None = None,
    bundle: Path | None = None,
    adapters: dict[str, Path] | None = None,
    ca: Path | None = None,
    data_connection: dict[str, Any] | None = None,
    doctor: dict[str, Any] | None = None,
    vllm: dict[str, Any] | None = None,
    memory_gib: float = 80,
    vllm_mirror: str = "registry.kitchen.internal:5000/rhoai/vllm",
    registry: str = "registry.kitchen.internal:5000",
    vllm_digest: str = DIGEST,
) -> Path:
    """Write a minimal valid kitchen.yaml with a ``cluster:`` section (and ``doctor:``)."""
    model: dict[str, Any] = {
        "name": "tiny", "namespace": "t1-pa",
        "storage": {"pvc": {"name": "tiny-store", "path": "tiny"}},
        "adapters": [{"name": n, "path": f"adapters/{n}", "local_dir": str(p)}
                     for n, p in (adapters or {}).items()],
        "gpu": {"memory_gib": memory_gib},
        "vllm": vllm or {"max_model_len": 1024, "max_num_seqs": 4},
    }
    if model_dir is not None:
        model["local_dir"] = str(model_dir)
    if bundle is not None:
        model["bundle"] = str(bundle)
    cluster: dict[str, Any] = {
        "registry": registry,
        "internal_domains": ["kitchen.internal"],
        "images": {
            "vllm": {"source": "quay.io/modh/vllm", "mirror": vllm_mirror, "digest": vllm_digest},
            "prai": {"source": "quay.io/prai/prai", "mirror": f"{registry}/prai/prai",
                     "digest": DIGEST},
        },
        "namespaces": [{"name": "t1-pa", "tenant": "t1", "project": "pa"}],
        "models": [model],
        "gateway": {"host": "llm.apps.kitchen.internal"},
    }
    if ca is not None:
        cluster["ca_bundle"] = str(ca)
    if data_connection is not None:
        cluster["data_connection"] = data_connection
    doc: dict[str, Any] = {"version": 1, "cluster": cluster}
    if doctor is not None:
        doc["doctor"] = doctor
    return write_kitchen(path, doc)
