"""HTTP clients: the one place PrAI configures httpx and aiohttp.

Every client PrAI opens:

- ignores proxies from the environment (``trust_env=False``): in a closed network every
  host PrAI talks to is named in its configuration, and an inherited ``HTTP_PROXY`` would
  send loopback and in-cluster traffic (and API keys) to a proxy;
- verifies TLS, against the system trust store or the internal CA file configured
  (``ca_bundle``, ``--ca``): never disabled;
- has explicit timeouts (seconds).
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from prai.errors import ConfigError

if TYPE_CHECKING:  # imported where a client is made: `import prai.bundle` stays cheap
    import aiohttp
    import httpx


def tls_verify(ca_file: str | Path | None) -> ssl.SSLContext | bool:
    """What to verify servers against: True (the system trust store) or a context that
    trusts only ``ca_file`` (PEM, the internal CA).

    Raises:
        ConfigError: ``ca_file`` does not exist or is not a PEM CA file.
    """
    if ca_file is None:
        return True
    try:
        return ssl.create_default_context(cafile=str(ca_file))
    except FileNotFoundError:
        raise ConfigError(f"{ca_file}: no such CA file",
                          hint="point ca_bundle/--ca at the internal CA's PEM file") from None
    except ssl.SSLError:
        raise ConfigError(f"{ca_file}: not a PEM CA certificate", hint="use the internal root CA's PEM file") from None


def http_client(
    *,
    base_url: str = "",
    ca_file: str | Path | None = None,
    verify: ssl.SSLContext | None = None,
    timeout_s: float = 30.0,
    read_timeout_s: float | None = None,
    headers: Mapping[str, str] | None = None,
    follow_redirects: bool = False,
    max_connections: int | None = None,
) -> httpx.Client:
    """A synchronous httpx client configured as the module docstring says.

    Args:
        base_url: prefix for relative request URLs.
        ca_file: PEM file of the internal CA (None: the system trust store).
        verify: a ready SSL context instead of ``ca_file``.
        timeout_s: connect/write/pool timeout and, unless ``read_timeout_s``, read timeout.
        read_timeout_s: seconds to wait for each chunk of a response (long downloads).
        headers: sent with every request.
        follow_redirects: follow 3xx answers (registries redirect blob downloads).
        max_connections: pool size (and keep-alive connections); at least the number of
            threads sharing the client (httpcore can hang otherwise, encode/httpcore#1110).
    """
    import httpx

    timeout = httpx.Timeout(timeout_s, read=read_timeout_s if read_timeout_s is not None else timeout_s)
    limits = (
        httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections)
        if max_connections
        else httpx.Limits(max_connections=100, max_keepalive_connections=20)  # httpx's defaults
    )
    return httpx.Client(
        base_url=base_url,
        verify=verify if verify is not None else tls_verify(ca_file),
        timeout=timeout,
        headers=dict(headers or {}),
        follow_redirects=follow_redirects,
        trust_env=False,
        limits=limits,
    )


def get_ok(client: httpx.Client, url: str, **kwargs: Any) -> bool:
    """True when GET ``url`` answers 200; False on any other status or HTTP error."""
    import httpx

    try:
        return client.get(url, **kwargs).status_code == 200
    except httpx.HTTPError:
        return False


def aiohttp_session(
    *,
    limit: int = 100,
    keepalive_timeout_s: float = 15.0,
    ttl_dns_cache_s: int | None = 10,
    timeout: aiohttp.ClientTimeout | None = None,
    **session_kwargs: Any,
) -> aiohttp.ClientSession:
    """An aiohttp session configured as the module docstring says (TLS per request:
    pass ``ssl=tls_verify(ca_file)``); must be created inside a running event loop.

    Args:
        limit: simultaneous connections (0: no limit).
        keepalive_timeout_s: idle seconds before a pooled connection is closed.
        ttl_dns_cache_s: seconds DNS answers are cached (None: forever).
        timeout: the session's default timeouts.
        session_kwargs: passed to ``aiohttp.ClientSession`` (``auto_decompress`` ...).
    """
    import aiohttp

    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=limit, keepalive_timeout=keepalive_timeout_s,
                                       ttl_dns_cache=ttl_dns_cache_s),
        timeout=timeout if timeout is not None else aiohttp.ClientTimeout(total=None, sock_connect=10),
        trust_env=False,
        **session_kwargs,
    )


__all__ = ["aiohttp_session", "get_ok", "http_client", "tls_verify"]
