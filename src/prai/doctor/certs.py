"""certs: the internal CA files (社内CA, seed §10) and the endpoints they must validate.

Each configured CA file must parse as PEM, hold only CA certificates (BasicConstraints
CA:TRUE), be valid now, and not expire within :data:`EXPIRY_WARNING_DAYS` (a WARN). Each
configured https endpoint (Data Connection, registry, upstreams, ``--endpoint``) must
complete a verified TLS handshake with its CA; an endpoint that cannot be reached at all
is a WARN here (the no-route case belongs to storage/endpoint).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from prai.doctor._net import Endpoint, _fix, tls_handshake
from prai.doctor.plan import DoctorPlan
from prai.doctor.report import DoctorReport

AREA = "certs"
EXPIRY_WARNING_DAYS = 30


def check_ca_file(label: str, path: Path, report: DoctorReport, now: datetime | None = None) -> bool:
    """Add one check for a CA file; True unless it FAILed."""
    from cryptography import x509

    now = now or datetime.now(UTC)
    try:
        certs = x509.load_pem_x509_certificates(path.read_bytes())
    except FileNotFoundError:
        report.add(AREA, label, "FAIL", f"{path}: no such file",
                   "copy the internal root CA (社内CA) PEM there, or fix the path in kitchen.yaml")
        return False
    except (OSError, ValueError) as exc:
        report.add(AREA, label, "FAIL", f"{path}: not a PEM certificate file ({type(exc).__name__})",
                   "export the CA as PEM (-----BEGIN CERTIFICATE-----), e.g. openssl x509 -inform der")
        return False
    soon = []
    for cert in certs:
        subject = cert.subject.rfc4514_string()
        try:
            is_ca = cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
        except x509.ExtensionNotFound:
            is_ca = False
        if not is_ca:
            report.add(AREA, label, "FAIL", f"{path}: {subject!r} is not a CA (no BasicConstraints CA:TRUE)",
                       "use the CA that issued the server certificates, not a server 証明書")
            return False
        if cert.not_valid_after_utc <= now:
            report.add(AREA, label, "FAIL",
                       f"{path}: {subject!r} expired on {cert.not_valid_after_utc:%Y-%m-%d}",
                       "get the current CA 証明書 from the PKI team and update the CA bundle")
            return False
        if cert.not_valid_before_utc > now:
            report.add(AREA, label, "FAIL",
                       f"{path}: {subject!r} is not valid before {cert.not_valid_before_utc:%Y-%m-%d}",
                       "check this machine's clock (NTP)")
            return False
        if cert.not_valid_after_utc - now < timedelta(days=EXPIRY_WARNING_DAYS):
            soon.append(f"{subject!r} expires on {cert.not_valid_after_utc:%Y-%m-%d}")
    if soon:
        report.add(AREA, label, "WARN", f"{path}: {'; '.join(soon)}",
                   "plan the CA renewal now and roll the new bundle to every pod")
    else:
        report.add(AREA, label, "PASS",
                   f"{path}: {len(certs)} CA certificate(s), valid for {EXPIRY_WARNING_DAYS}+ days")
    return True


def check_certs(plan: DoctorPlan, report: DoctorReport) -> None:
    """Add the certs checks to ``report`` (see the module docstring)."""
    if not plan.ca_files and not plan.tls_endpoints:
        report.add(AREA, "ca bundle", "SKIP", "no CA file and no https endpoint configured")
        return
    bad = {p for label, p in plan.ca_files if not check_ca_file(label, p, report)}
    for label, url, ca in plan.tls_endpoints:
        ep = Endpoint.parse(url)
        if ep.scheme != "https":
            continue
        if ca is not None and ca in bad:
            report.add(AREA, f"{label} tls", "SKIP", f"{url}: its CA file failed above")
            continue
        try:
            out = tls_handshake(ep.host, ep.port, ca)
        except OSError as exc:
            report.add(AREA, f"{label} tls", "WARN",
                       f"{url}: not reachable from here ({exc.strerror or type(exc).__name__}); "
                       "certificate not checked",
                       "run doctor where the route exists (inside the pod: oc rsh), see 疎通")
            continue
        if out.kind == "ok":
            report.add(AREA, f"{label} tls", "PASS", f"{url}: {out.detail}")
        else:
            report.add(AREA, f"{label} tls", "FAIL",
                       f"{url}: {out.kind.replace('_', ' ')} ({out.detail})",
                       _fix(out.kind, ep.host, ca), tls=out.kind)


__all__ = ["EXPIRY_WARNING_DAYS", "check_ca_file", "check_certs"]
