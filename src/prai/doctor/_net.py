"""Network probes shared by the checks: DNS, TCP connect, TLS handshake with a given CA.

The TLS probe tells the seed's three certificate failures apart (seed §10) from OpenSSL's
verification result (``ssl.SSLCertVerificationError.verify_code``; codes from OpenSSL's
``x509_vfy.h``): unknown authority (2, 18, 19, 20, 21), hostname or IP mismatch (62, 64),
expired (10) or not yet valid (9). Verification is never turned off.
"""

from __future__ import annotations

import socket
import ssl
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from prai.doctor.report import DoctorReport

_UNKNOWN_CA = {2, 18, 19, 20, 21}
_MISMATCH = {62, 64}
_EXPIRED = 10
_NOT_YET_VALID = 9


@dataclass(frozen=True)
class Endpoint:
    """host, port and scheme of an http(s) URL (port defaulted from the scheme)."""

    url: str
    scheme: str
    host: str
    port: int

    @classmethod
    def parse(cls, url: str) -> Endpoint:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port or (443 if parts.scheme == "https" else 80)
        return cls(url, parts.scheme, host, port)


@dataclass(frozen=True)
class TlsOutcome:
    """Result of :func:`tls_handshake`.

    Attributes:
        kind: ok, unknown_ca, hostname_mismatch, expired, not_yet_valid, other.
        detail: OpenSSL's message (or the peer certificate subject when ok).
    """

    kind: str
    detail: str


def dns(host: str) -> list[str]:
    """The addresses ``host`` resolves to. Raises OSError (socket.gaierror) when it does not."""
    infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    return sorted({str(i[4][0]) for i in infos})


def tcp(host: str, port: int, timeout_s: float = 5.0) -> None:
    """Open and close a TCP connection. Raises OSError (refused, timeout, unreachable)."""
    with socket.create_connection((host, port), timeout=timeout_s):
        pass


def tls_context(ca_file: Path | None) -> ssl.SSLContext:
    """A verifying client context: the CA file when given, else the system trust store."""
    ctx = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
    ctx.check_hostname = True
    ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx


def tls_handshake(host: str, port: int, ca_file: Path | None, timeout_s: float = 5.0) -> TlsOutcome:
    """Connect and complete a TLS handshake verifying the chain and the host name.

    Raises:
        OSError: the TCP connection itself failed (the caller reports it as no route).
    """
    ctx = tls_context(ca_file)
    with socket.create_connection((host, port), timeout=timeout_s) as sock:
        try:
            with ctx.wrap_socket(sock, server_hostname=host) as tls:
                cert = tls.getpeercert() or {}
                subject = ", ".join(
                    f"{pair[0]}={pair[1]}" for rdn in cert.get("subject", ()) for pair in rdn
                )
                return TlsOutcome("ok", f"{tls.version()}, server certificate {subject}")
        except ssl.SSLCertVerificationError as exc:
            code = exc.verify_code
            msg = exc.verify_message or str(exc)
            if code in _UNKNOWN_CA:
                return TlsOutcome("unknown_ca", msg)
            if code in _MISMATCH:
                return TlsOutcome("hostname_mismatch", msg)
            if code == _EXPIRED:
                return TlsOutcome("expired", msg)
            if code == _NOT_YET_VALID:
                return TlsOutcome("not_yet_valid", msg)
            return TlsOutcome("other", msg)
        except ssl.SSLError as exc:
            return TlsOutcome("other", exc.reason or str(exc))


def _fix(kind: str, host: str, ca_file: Path | None) -> str:
    ca = str(ca_file) if ca_file else "the system trust store"
    return {
        "unknown_ca": (
            f"trust the internal CA (社内CA, 証明書): the server's chain does not lead to {ca}; "
            "set cluster.ca_bundle to the root CA that signed it — never use -k/--insecure "
            "(seed §10)"
        ),
        "hostname_mismatch": (
            f"the certificate is not issued for {host!r}: use the host name in its SAN, or "
            "have the PKI team reissue the server 証明書 with this name"
        ),
        "expired": "the server 証明書 has expired: renew it and restart the server",
        "not_yet_valid": "the server 証明書 is not valid yet: check this machine's clock (NTP)",
    }.get(kind, f"the TLS handshake with {host} failed: check that the port speaks TLS")


def probe(
    report: DoctorReport,
    area: str,
    label: str,
    url: str,
    ca_file: Path | None,
    *,
    with_dns: bool = True,
    timeout_s: float = 5.0,
) -> bool:
    """Add dns / tcp / tls checks for ``url`` (tls only for https); True when all passed.

    ``timeout_s``: seconds to wait for the TCP connection and for the TLS handshake each.

    Check names are ``{label} dns``, ``{label} tcp``, ``{label} tls``; TLS failure kinds go
    to ``data["tls"]`` (unknown_ca, hostname_mismatch, expired, not_yet_valid, other).
    """
    ep = Endpoint.parse(url)
    if not ep.host or ep.scheme not in ("http", "https"):
        report.add(area, f"{label} url", "FAIL", f"{url!r} is not an http(s):// URL",
                   "write the endpoint as https://host:port")
        return False
    if with_dns:
        try:
            addrs = dns(ep.host)
        except OSError as exc:
            report.add(area, f"{label} dns", "FAIL", f"{ep.host} does not resolve ({exc})",
                       f"疎通: check the name {ep.host} and the cluster/bastion DNS (seed §5 Tips)")
            return False
        report.add(area, f"{label} dns", "PASS", f"{ep.host} → {', '.join(addrs)}")
    try:
        tcp(ep.host, ep.port, timeout_s)
    except OSError as exc:
        why = exc.strerror or type(exc).__name__
        report.add(area, f"{label} tcp", "FAIL", f"cannot connect to {ep.host}:{ep.port} ({why})",
                   "疎通: no route — check the port, the Service/Route and NetworkPolicy from "
                   "where the pod runs (seed §5 Tips)")
        return False
    report.add(area, f"{label} tcp", "PASS", f"connected to {ep.host}:{ep.port}")
    if ep.scheme != "https":
        if ca_file is not None:
            report.add(area, f"{label} tls", "WARN", f"{url} is plain http: traffic and keys "
                       "travel unencrypted", "serve it over https with an internal 証明書")
        return True
    try:
        out = tls_handshake(ep.host, ep.port, ca_file, timeout_s)
    except OSError as exc:
        report.add(area, f"{label} tls", "FAIL", f"TLS connection to {ep.host}:{ep.port} "
                   f"failed ({exc.strerror or type(exc).__name__})",
                   "疎通: check the port and NetworkPolicy")
        return False
    if out.kind == "ok":
        report.add(area, f"{label} tls", "PASS", out.detail, tls="ok")
        return True
    report.add(area, f"{label} tls", "FAIL",
               f"{ep.host}:{ep.port}: {out.kind.replace('_', ' ')} ({out.detail})",
               _fix(out.kind, ep.host, ca_file), tls=out.kind)
    return False


__all__ = ["Endpoint", "TlsOutcome", "dns", "probe", "tcp", "tls_context", "tls_handshake"]
