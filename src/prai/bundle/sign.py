"""Manifest signatures that a standard tool verifies without PrAI.

The signature file ``prai-bundle.json.sig`` holds the raw signature over the exact
bytes of ``prai-bundle.json``:

* Ed25519 key: 64 raw bytes (RFC 8032). Verify with OpenSSL 3::

      openssl pkeyutl -verify -pubin -inkey pub.pem -rawin \
          -in prai-bundle.json -sigfile prai-bundle.json.sig

* ECDSA key (P-256/P-384/P-521): DER signature over SHA-256 of the file. Verify with::

      openssl dgst -sha256 -verify pub.pem -signature prai-bundle.json.sig prai-bundle.json

Keys are PEM (PKCS#8 private, SubjectPublicKeyInfo public), as ``openssl genpkey`` writes.
"""

from __future__ import annotations

from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from prai.errors import BundleSignatureError, ConfigError


def sign_manifest(
    manifest_bytes: bytes, key_path: str | Path, password: bytes | None = None
) -> bytes:
    """Sign manifest bytes with a PEM private key (Ed25519 or ECDSA).

    Raises:
        ConfigError: unreadable key, encrypted without password, unsupported key type.
    """
    p = Path(key_path)
    try:
        key = serialization.load_pem_private_key(p.read_bytes(), password=password)
    except (OSError, ValueError, TypeError) as exc:
        if "encrypted" in str(exc).lower() or "password" in str(exc).lower():
            raise ConfigError(
                f"--sign-key {p}: the key is encrypted and the passphrase is missing or wrong",
                hint="export PRAI_SIGN_KEY_PASSWORD=… (never on the command line)",
            ) from None
        raise ConfigError(
            f"--sign-key {p}: cannot read a PEM private key ({exc.__class__.__name__})",
            hint="create one with `openssl genpkey -algorithm ed25519 -out sign.key` "
            "and give its public half (`openssl pkey -in sign.key -pubout`) to the receiver",
        ) from None
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return key.sign(manifest_bytes)
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return key.sign(manifest_bytes, ec.ECDSA(hashes.SHA256()))
    raise ConfigError(
        f"--sign-key {p}: {type(key).__name__} keys are not supported",
        hint="use an Ed25519 or ECDSA (P-256) key",
    )


def verify_signature(manifest_bytes: bytes, signature: bytes | None, pub_path: str | Path) -> str:
    """Check the signature with a PEM public key.

    Returns:
        The key type that verified ("ed25519" or "ecdsa-<curve>").

    Raises:
        ConfigError: the key file is unreadable or not a supported public key.
        BundleSignatureError: signature missing, or not made by this key over these bytes.
    """
    p = Path(pub_path)
    try:
        data = p.read_bytes()
        try:
            pub = serialization.load_pem_public_key(data)
        except ValueError:
            pub = serialization.load_pem_private_key(data, password=None).public_key()
    except (OSError, ValueError, TypeError) as exc:
        raise ConfigError(
            f"--key {p}: cannot read a PEM public key ({exc.__class__.__name__})",
            hint="pass the creator's public key (openssl pkey -in sign.key -pubout -out sign.pub)",
        ) from None
    if signature is None:
        raise BundleSignatureError(
            "the bundle has no prai-bundle.json.sig, but --key was given",
            hint="ask the creator for a signed bundle (prai bundle create --sign-key …)",
        )
    try:
        if isinstance(pub, ed25519.Ed25519PublicKey):
            pub.verify(signature, manifest_bytes)
            return "ed25519"
        if isinstance(pub, ec.EllipticCurvePublicKey):
            pub.verify(signature, manifest_bytes, ec.ECDSA(hashes.SHA256()))
            return f"ecdsa-{pub.curve.name}"
    except InvalidSignature:
        raise BundleSignatureError(
            f"prai-bundle.json.sig is not a valid signature of prai-bundle.json by {p.name}"
        ) from None
    raise ConfigError(f"--key {p}: {type(pub).__name__} keys are not supported")
