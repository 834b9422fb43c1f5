"""CA certificates carried in a bundle: really a CA, and valid now."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes

from prai.errors import ConfigError

from .manifest import CAFacts

EXPIRY_WARNING_DAYS = 30


def check_ca_file(
    path: str | Path, name: str, bundle_path: str, now: datetime | None = None
) -> tuple[list[CAFacts], list[str]]:
    """Read every certificate in a PEM file and check it is a CA valid at ``now``.

    Returns:
        (one CAFacts per certificate, warnings such as "expires in 12 days").

    Raises:
        ConfigError: unreadable/not PEM, no BasicConstraints CA=true, expired or not yet valid.
    """
    p = Path(path)
    now = now or datetime.now(UTC)
    try:
        certs = x509.load_pem_x509_certificates(p.read_bytes())
    except (OSError, ValueError) as exc:
        raise ConfigError(
            f"--ca {p}: not a PEM certificate file ({exc.__class__.__name__})",
            hint="pass the internal CA's certificate in PEM format (-----BEGIN CERTIFICATE-----)",
        ) from None
    facts: list[CAFacts] = []
    warnings: list[str] = []
    for cert in certs:
        subject = cert.subject.rfc4514_string()
        try:
            bc = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
            is_ca = bc.ca
        except x509.ExtensionNotFound:
            is_ca = False
        if not is_ca:
            raise ConfigError(
                f"--ca {p}: {subject!r} is not a CA certificate (no BasicConstraints CA:TRUE)",
                hint="carry the CA that issued the server certificates, not a server certificate",
            )
        if cert.not_valid_after_utc <= now:
            raise ConfigError(
                f"--ca {p}: {subject!r} expired on {cert.not_valid_after_utc:%Y-%m-%d}",
                hint="get the current CA certificate from the PKI team",
            )
        if cert.not_valid_before_utc > now:
            raise ConfigError(
                f"--ca {p}: {subject!r} is not valid before {cert.not_valid_before_utc:%Y-%m-%d}",
                hint="check this machine's clock, or use the CA certificate valid today",
            )
        if cert.not_valid_after_utc - now < timedelta(days=EXPIRY_WARNING_DAYS):
            warnings.append(
                f"CA {subject!r} expires on {cert.not_valid_after_utc:%Y-%m-%d}; plan its renewal"
            )
        facts.append(
            CAFacts(
                name=name,
                path=bundle_path,
                subject=subject,
                issuer=cert.issuer.rfc4514_string(),
                not_before=cert.not_valid_before_utc,
                not_after=cert.not_valid_after_utc,
                sha256_fingerprint=cert.fingerprint(hashes.SHA256()).hex(),
            )
        )
    if not facts:
        raise ConfigError(f"--ca {p}: no certificate in the file")
    return facts, warnings
