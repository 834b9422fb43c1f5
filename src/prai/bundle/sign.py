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


def _is_public_key(data: bytes) -> bool:
    """True for PEM or OpenSSH public key bytes (given where the private key belongs)."""
    if b"PUBLIC KEY-----" in data or data.startswith((b"ssh-ed25519 ", b"ecdsa-sha2-")):
        return True
    try:
        serialization.load_pem_public_key(data)
    except (ValueError, TypeError):
        return False
    return True


def sign_manifest(
    manifest_bytes: bytes, key_path: str | Path, password: bytes | None = None
) -> bytes:
    """Sign manifest bytes with a PEM private key (Ed25519 or ECDSA).

    Raises:
        ConfigError: see :func:`load_sign_key`.
    """
    key = load_sign_key(key_path, password)
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return key.sign(manifest_bytes)
    return key.sign(manifest_bytes, ec.ECDSA(hashes.SHA256()))


def load_sign_key(
    key_path: str | Path, password: bytes | None = None
) -> ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey:
    """Read the PEM private key ``--sign-key`` names (Ed25519 or ECDSA); `bundle create`
    calls it before any work, so a wrong key costs no packing.

    Raises:
        ConfigError: unreadable key, a public key given instead, encrypted without
            password, unsupported key type.
    """
    p = Path(key_path)
    data = b""
    try:
        data = p.read_bytes()
        key = serialization.load_pem_private_key(data, password=password)
    except (OSError, ValueError, TypeError) as exc:
        if "encrypted" in str(exc).lower() or "password" in str(exc).lower():
            raise ConfigError(
                f"--sign-key {p}: the key is encrypted and the passphrase is missing or wrong",
                hint="export PRAI_SIGN_KEY_PASSWORD=… (never on the command line)",
            ) from None
        if _is_public_key(data):
            raise ConfigError(
                f"--sign-key {p}: {p.name} is a public key; --sign-key needs the private key",
                hint=f"pass the private key (e.g. sign.key) to --sign-key; the public one goes to "
                f"`prai bundle verify --key {p}`",
            ) from None
        what = (
            exc.strerror or exc.__class__.__name__ if isinstance(exc, OSError)
            else "no readable -----BEGIN … PRIVATE KEY----- block"
        )
        raise ConfigError(
            f"--sign-key {p}: not a PEM private key ({what})",
            hint="create one with `openssl genpkey -algorithm ed25519 -out sign.key` "
            "and give its public half (`openssl pkey -in sign.key -pubout`) to the receiver",
        ) from None
    if isinstance(key, ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey):
        return key
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
