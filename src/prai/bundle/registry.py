"""One OCI Distribution client (distribution-spec v1.1) over httpx, for every PrAI push/pull.

Used by ``prai bundle create --image`` (pull manifests and blobs), ``prai bundle load
--images-to`` (push carried images) and ``prai bundle load --to oci://`` (modelcar).

* TLS is always verified; an internal CA is added with ``ca_bundle`` (PEM). A registry on
  a loopback address that does not speak TLS is reached over plain HTTP, as Docker and
  Podman do for ``localhost``; any other host must speak TLS.
* Auth: HTTP Basic, or Bearer tokens from the realm the registry names in its
  ``WWW-Authenticate`` challenge (Docker token spec), one token per repository scope,
  fetched again when it expires. An identity token (a credential helper's ``<token>``
  login, Docker's ``identitytoken``) is an OAuth2 refresh token: it is traded at the realm
  with ``POST grant_type=refresh_token`` (distribution ``oauth.md``), falling back to a
  ``GET`` as containerd does. Credentials: :mod:`prai.bundle.registry_auth`.
* Requests other than a PATCH are retried on connection errors and 429/502/503/504
  (3 tries, backoff 0.5 s, 1 s).
* Blob uploads: monolithic ``POST`` + ``PUT`` up to ``chunk_bytes``, larger blobs in
  ``PATCH`` chunks (``Content-Range: start-end``); a failed chunk asks the registry how
  much it holds (``GET`` upload URL, ``Range: 0-N``) and continues from there; an
  :class:`UploadState` file keeps the upload URL so a new process resumes after Ctrl-C.
* Blob downloads are verified against their digest and resume with ``Range`` requests.
* Every manifest is checked: its SHA-256 must equal the digest asked for and the
  ``Docker-Content-Digest`` the registry answers.
"""

from __future__ import annotations

import contextlib
import hashlib
import ipaddress
import json
import os
import re
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, BinaryIO, Literal

from prai._http import http_client
from prai.errors import (
    BundleDigestMismatch,
    ConfigError,
    ImageRegistryError,
    ImageRegistryUnreachable,
    PushInterrupted,
)

from ._hashing import CHUNK_BYTES
from .registry_auth import Credentials, resolve_credentials

MT_OCI_INDEX = "application/vnd.oci.image.index.v1+json"
MT_OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MT_DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
MT_DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
INDEX_TYPES = (MT_OCI_INDEX, MT_DOCKER_LIST)
MANIFEST_TYPES = (MT_OCI_MANIFEST, MT_DOCKER_MANIFEST)
ACCEPT = ", ".join((MT_OCI_INDEX, MT_DOCKER_LIST, MT_OCI_MANIFEST, MT_DOCKER_MANIFEST))
DEFAULT_CHUNK_BYTES = 64 << 20
_RETRY_STATUS = (429, 502, 503, 504)
_TRIES = 3
_PLAIN_HTTP_SIGNS = ("WRONG_VERSION_NUMBER", "record layer failure", "http request", "packet length")


def api_host(host: str) -> str:
    """The host to send API requests to: Docker Hub's references say ``docker.io``."""
    return "registry-1.docker.io" if host in ("docker.io", "index.docker.io") else host


def is_loopback(host: str) -> bool:
    """True for ``localhost``, 127.0.0.0/8 and ::1 (with or without a port)."""
    name = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    name = name.strip("[]")
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _ssl_context(ca_bundle: str | Path | None) -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    if ca_bundle is not None:
        if not Path(ca_bundle).is_file():
            raise ConfigError(f"--ca-bundle {ca_bundle}: no such file")
        try:
            ctx.load_verify_locations(cafile=str(ca_bundle))
        except ssl.SSLError:
            raise ConfigError(f"--ca-bundle {ca_bundle}: not a PEM CA certificate") from None
    return ctx


def sha256_digest(data: bytes) -> str:
    """``sha256:<hex>`` of ``data``."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _transport_cause(exc: Exception) -> str:
    """A transport error in words: connection refused, name not resolved, timed out, …"""
    text = str(exc).lower()
    name = type(exc).__name__
    if "timeout" in name.lower() or "timed out" in text:
        return "timed out (no answer; a firewall may drop the packets)"
    if "refused" in text:
        return "connection refused (nothing listens on that host and port)"
    if any(s in text for s in ("name or service not known", "name resolution", "nodename nor servname",
                               "no address associated", "getaddrinfo")):
        return "name not resolved (DNS does not know the host)"
    if "unreachable" in text:
        return "network unreachable (no route to the host)"
    if "reset" in text or "disconnected" in text or "closed" in text:
        return f"the connection was closed by the other side ({name})"
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{first} ({name})" if first else name


@dataclass(frozen=True)
class FetchedManifest:
    """A manifest or index exactly as the registry stored it (bytes never re-serialised)."""

    data: bytes
    media_type: str
    digest: str


class UploadState:
    """Upload URLs of unfinished chunked uploads, kept in a JSON file (mode 0600).

    A new process finds the registry's upload session here and asks it how many bytes
    it holds, so an interrupted push continues where it stopped. Written atomically after
    every chunk; entries disappear when their blob is complete.
    """

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._data: dict[str, dict[str, Any]] = {}
        if path is not None and path.is_file():
            try:
                raw = json.loads(path.read_text(encoding="utf-8"))
                self._data = {k: v for k, v in raw.get("uploads", {}).items() if "location" in v}
            except (OSError, ValueError, AttributeError):
                self._data = {}

    def get(self, key: str) -> str | None:
        with self._lock:
            entry = self._data.get(key)
            return str(entry["location"]) if entry else None

    def put(self, key: str, location: str | None, offset: int = 0) -> None:
        with self._lock:
            if location is None:
                if self._data.pop(key, None) is None:
                    return
            else:
                self._data[key] = {"location": location, "offset": offset}
            self._save()

    def _save(self) -> None:
        if self.path is None:
            return
        if not self._data:
            self.path.unlink(missing_ok=True)
            return
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump({"format": "prai-upload-state", "uploads": self._data}, f, indent=1)
        os.replace(tmp, self.path)


class GracefulStop:
    """Ctrl-C for pushes: finish the chunk in flight, keep the upload state, then stop.

    docker-registry (distribution) drops an upload session when a chunk was cut off in the
    middle, so a push stops only between chunks. ``active`` is true while a push runs;
    :meth:`request` returns False otherwise (the caller then aborts at once).
    """

    def __init__(self) -> None:
        self._event = threading.Event()
        self.active = False

    def request(self) -> bool:
        """Ask the running push to stop; False when none runs or a stop was already asked."""
        if not self.active or self._event.is_set():
            return False
        self._event.set()
        return True

    @property
    def requested(self) -> bool:
        return self._event.is_set()

    def check(self) -> None:
        """Raise PushInterrupted once a stop was asked."""
        if self._event.is_set():
            raise PushInterrupted(
                "image push stopped (Ctrl-C); finished chunks and blobs stay in the registry"
            )


class RegistryClient:
    """Talks to one registry host. Thread-safe; close it (or use ``with``).

    Args:
        host: as written in image references (``quay.io``, ``10.0.0.5:5000``).
        ca_bundle: PEM CA file added to the system trust store.
        creds: None = anonymous (see :func:`resolve_credentials`).
        timeout_s: connect/write timeout; reads wait up to 2 minutes (a registry
            finishing a large blob before it answers).
        max_connections: connection pool size; use at least as many as threads sharing
            the client (httpcore's pool can strand a queued request otherwise,
            encode/httpcore#1110).
        side: ``"source"`` when ``bundle create --image`` reads from it (connected side),
            ``"destination"`` when ``bundle load`` writes to it (closed side); only the
            hints of an unreachable registry differ.
    """

    def __init__(
        self,
        host: str,
        *,
        ca_bundle: str | Path | None = None,
        creds: Credentials | None = None,
        timeout_s: float = 60.0,
        max_connections: int = 8,
        side: Literal["source", "destination"] = "destination",
    ) -> None:

        self.host = host
        self.side = side
        self.creds = creds
        self._ctx = _ssl_context(ca_bundle)
        self.scheme = "https"
        self._scheme_known = not is_loopback(host)
        self._lock = threading.Lock()
        self._basic = False
        self._tokens: dict[str, str] = {}
        self.http = http_client(
            verify=self._ctx, timeout_s=timeout_s, read_timeout_s=120.0, follow_redirects=True,
            max_connections=max_connections,
        )

    def __enter__(self) -> RegistryClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.http.close()

    @property
    def base(self) -> str:
        return f"{self.scheme}://{api_host(self.host)}"

    # --- auth -------------------------------------------------------------------------

    def _auth_header(self, repo: str | None) -> dict[str, str]:
        with self._lock:
            token = self._tokens.get(repo or "")
            if token:
                return {"Authorization": f"Bearer {token}"}
            if self._basic and self.creds:
                return {"Authorization": self.creds.basic()}
        return {}

    def _login(self, challenge: str, repo: str | None) -> None:
        """Answer a 401 challenge: remember Basic, or fetch a Bearer token for its scope."""
        scheme, _, params = challenge.partition(" ")
        if scheme.lower() == "basic":
            if not self.creds:
                raise ImageRegistryError(
                    f"{self.host} needs a login",
                    hint="set PRAI_REGISTRY_USERNAME/PRAI_REGISTRY_PASSWORD, pass --authfile, "
                    "or log in with podman/docker login (REGISTRY_AUTH_FILE)",
                )
            if self.creds.identity_token:
                raise ImageRegistryError(
                    f"{self.host} asks for a user and password (Basic auth), but the login "
                    "found for it is an identity token (OAuth), which only a token service takes",
                    hint="log in with a user and password (podman login --authfile FILE, then "
                    "--authfile FILE), or set PRAI_REGISTRY_USERNAME and PRAI_REGISTRY_PASSWORD",
                )
            with self._lock:
                self._basic = True
            return
        if scheme.lower() != "bearer":
            raise ImageRegistryError(f"{self.host} asks for unsupported auth scheme {scheme!r}")
        fields = dict(re.findall(r'(\w+)="([^"]*)"', params))
        realm = fields.get("realm", "")
        if not realm.startswith(("https://", "http://")):
            raise ImageRegistryError(f"{self.host}: token realm {realm!r} is not an URL")
        scopes = fields.get("scope", "").split()
        if self.creds is not None and self.creds.identity_token:
            resp = self._oauth_token(realm, fields.get("service", ""), scopes)
        else:
            query: list[tuple[str, str | int | float | bool | None]] = []
            if fields.get("service"):
                query.append(("service", fields["service"]))
            for scope in scopes:
                query.append(("scope", scope))
            headers = {"Authorization": self.creds.basic()} if self.creds else {}
            resp = self.http.get(realm, params=query, headers=headers)
        if resp.status_code != 200:
            if self.creds is not None and self.creds.identity_token:
                raise ImageRegistryError(
                    f"the token service of {self.host} refused the identity token "
                    f"({resp.status_code})",
                    hint="the refresh token has expired or was revoked: log in again (docker "
                    "login) so the credential helper holds a fresh one",
                )
            raise ImageRegistryError(
                f"the token service of {self.host} refused the login ({resp.status_code})",
                hint="check the registry user and password",
            )
        try:
            body = resp.json()
            token = body.get("token") or body.get("access_token")
            refreshed = body.get("refresh_token")
        except (ValueError, AttributeError):
            token = refreshed = None
        if not token:
            raise ImageRegistryError(f"the token service of {self.host} answered no token")
        with self._lock:
            self._tokens[repo or ""] = str(token)
            if refreshed and self.creds is not None and self.creds.identity_token:
                self.creds = Credentials("", "", identity_token=str(refreshed))  # rotated

    def _oauth_token(self, realm: str, service: str, scopes: list[str]) -> Any:
        """Trade the identity token for an access token (distribution ``oauth.md``).

        ``POST realm`` with the form ``grant_type=refresh_token``, ``refresh_token``,
        ``service``, ``scope`` (space separated) and ``client_id``. A token service that
        does not take the POST (400, 401, 404 or 405: GCR, Artifactory and ACR answer so)
        is asked with ``GET realm?service=&scope=`` and the identity token as the Basic
        password of an empty user, as containerd does.
        """
        assert self.creds is not None and self.creds.identity_token
        form = {"grant_type": "refresh_token", "refresh_token": self.creds.identity_token,
                "service": service, "client_id": "prai", "access_type": "offline"}
        if scopes:
            form["scope"] = " ".join(scopes)
        resp = self.http.post(realm, data=form)
        if resp.status_code not in (400, 401, 404, 405):
            return resp
        query: list[tuple[str, str | int | float | bool | None]] = []
        if service:
            query.append(("service", service))
        for scope in scopes:
            query.append(("scope", scope))
        fallback = Credentials("", self.creds.identity_token)
        return self.http.get(realm, params=query, headers={"Authorization": fallback.basic()})

    # --- requests ---------------------------------------------------------------------

    def request(
        self,
        method: str,
        url: str,
        *,
        repo: str | None,
        headers: dict[str, str] | None = None,
        content: Callable[[], Iterator[bytes] | bytes] | None = None,
        params: dict[str, str] | None = None,
        stream: bool = False,
        retry: bool = True,
    ) -> Any:
        """Send one request (``url``: a path under the registry, or a full upload URL).

        ``content`` is a factory so a body can be sent again after a 401 or a retry.
        Returns the httpx response (streamed when ``stream``; the caller closes it).

        Raises:
            ImageRegistryError: TLS failure, unreachable, 401 after login, 403.
        """
        import httpx

        tries = _TRIES if retry else 1
        auth_done = False
        attempt = 0
        while True:
            attempt += 1
            full = url if url.startswith(("http://", "https://")) else self.base + url
            hdrs = dict(headers or {})
            if full.split("/")[2] == api_host(self.host):  # credentials go to this host only
                hdrs.update(self._auth_header(repo))
            req = self.http.build_request(
                method, full, headers=hdrs, params=params,
                content=content() if content is not None else None,
            )
            try:
                resp = self.http.send(req, stream=stream)
            except httpx.HTTPError as exc:
                if not self._scheme_known and self.scheme == "https" and _speaks_plain(exc):
                    self.scheme, self._scheme_known = "http", True
                    attempt -= 1
                    continue
                if attempt < tries and isinstance(exc, httpx.TransportError):
                    time.sleep(0.5 * attempt)
                    continue
                raise self.translate(exc) from None
            self._scheme_known = True
            if resp.status_code == 401 and not auth_done:
                challenge = resp.headers.get("www-authenticate", "Basic")
                resp.close()
                self._login(challenge, repo)
                auth_done = True
                attempt -= 1
                continue
            if resp.status_code in _RETRY_STATUS and attempt < tries:
                resp.close()
                time.sleep(0.5 * attempt)
                continue
            if resp.status_code == 401:
                resp.close()
                raise ImageRegistryError(
                    f"{self.host} refused the credentials (401)",
                    hint="check the registry user and password (or log in again)",
                )
            if resp.status_code == 403:
                resp.close()
                raise ImageRegistryError(
                    f"{self.host}: no permission for {method} on {repo or 'the registry'} (403)",
                    hint="ask the registry administrator for push/pull rights on this repository",
                )
            return resp

    def translate(self, exc: Exception) -> ImageRegistryError:
        """A transport error as one ImageRegistryError with a fix."""
        text = str(exc)
        if "CERTIFICATE_VERIFY_FAILED" in text or isinstance(exc, ssl.SSLError):
            return ImageRegistryError(
                f"TLS to {self.host} failed: the registry certificate is not trusted",
                hint="pass the internal CA with --ca-bundle ca.pem (seed §10); verification "
                "stays on",
            )
        if self.side == "source":
            hint = ("check the host, port, DNS and proxy settings; `bundle create --image` must run "
                    "where the registry is reachable (the connected side), or record the image without "
                    "its bytes with --image-ref-only")
        else:
            hint = ("check the host, port, DNS and proxy settings (NO_PROXY for internal hosts); "
                    "`bundle load` must run where the internal registry is reachable; run the same "
                    "command again when it is (it resumes)")
        return ImageRegistryUnreachable(
            f"cannot talk to the registry {self.host}: {_transport_cause(exc)}", hint=hint)

    def _fail(self, what: str, resp: Any) -> ImageRegistryError:
        body = ""
        try:
            body = resp.read()[:300].decode("utf-8", "replace") if resp.stream else resp.text[:300]
        except Exception:
            body = ""
        return ImageRegistryError(f"{self.host}: {what} ({resp.status_code}: {body.strip()})")

    # --- manifests ---------------------------------------------------------------------

    def get_manifest(self, repo: str, reference: str) -> FetchedManifest:
        """Fetch ``repo:reference`` (a tag or ``sha256:…``) byte for byte.

        Raises:
            ImageRegistryError: not found (the message names it), or the registry's
                ``Docker-Content-Digest`` differs from the bytes' SHA-256.
            BundleDigestMismatch: fetched by digest and the bytes hash to another digest.
        """
        found = self.find_manifest(repo, reference)
        if found is None:
            raise ImageRegistryError(
                f"{self.host}/{repo}: no manifest {reference}",
                hint="check the repository and the tag or digest (skopeo inspect docker://…)",
            )
        return found

    def find_manifest(self, repo: str, reference: str) -> FetchedManifest | None:
        """:meth:`get_manifest`, but None when the registry has no such manifest (404)."""
        r = self.request(
            "GET", f"/v2/{repo}/manifests/{reference}", repo=repo, headers={"Accept": ACCEPT}
        )
        if r.status_code == 404:
            return None
        if r.status_code != 200:
            raise self._fail(f"reading manifest {repo}:{reference}", r)
        data = r.content
        digest = sha256_digest(data)
        if reference.startswith("sha256:") and digest != reference:
            raise BundleDigestMismatch(
                f"{self.host}/{repo}@{reference}: the registry sent a manifest whose SHA-256 "
                f"is {digest}",
                hint="the registry or a proxy changed the manifest; do not carry this image",
            )
        answered = r.headers.get("docker-content-digest")
        if answered and answered != digest:
            raise ImageRegistryError(
                f"{self.host}/{repo}:{reference}: the registry answers digest {answered} for "
                f"a manifest whose SHA-256 is {digest}",
                hint="the registry rewrites manifests; mirror with a registry that stores them "
                "byte for byte",
            )
        media_type = r.headers.get("content-type", "").split(";")[0].strip()
        try:
            declared = json.loads(data).get("mediaType")
        except (ValueError, AttributeError):
            raise ImageRegistryError(f"{self.host}/{repo}:{reference}: the manifest is not JSON") from None
        return FetchedManifest(data, declared or media_type, digest)

    def manifest_digest(self, repo: str, reference: str) -> str | None:
        """The digest the registry answers for ``repo:reference`` (HEAD), None when absent."""
        r = self.request(
            "HEAD", f"/v2/{repo}/manifests/{reference}", repo=repo, headers={"Accept": ACCEPT}
        )
        if r.status_code == 404:
            return None
        if r.status_code != 200:
            raise self._fail(f"checking manifest {repo}:{reference}", r)
        answered = r.headers.get("docker-content-digest")
        if answered:
            return str(answered)
        return self.get_manifest(repo, reference).digest

    def put_manifest(self, repo: str, reference: str, data: bytes, media_type: str) -> None:
        """Store a manifest under a digest or a tag, byte for byte.

        Raises:
            ImageRegistryError: refused, or the registry answers another digest than the bytes'.
        """
        digest = sha256_digest(data)
        r = self.request(
            "PUT",
            f"/v2/{repo}/manifests/{reference}",
            repo=repo,
            headers={"Content-Type": media_type},
            content=lambda: data,
        )
        if r.status_code not in (200, 201):
            raise self._fail(f"storing manifest {repo}:{reference}", r)
        answered = r.headers.get("docker-content-digest")
        if answered and answered != digest:
            raise ImageRegistryError(
                f"{self.host}/{repo}:{reference}: the registry stored the manifest as "
                f"{answered}, not {digest}",
                hint="the registry rewrites manifests; pods pinned to the digest would not find "
                "the image",
            )

    # --- blobs -------------------------------------------------------------------------

    def blob_size(self, repo: str, digest: str) -> int | None:
        """Size (bytes) of a blob in ``repo`` (HEAD), None when absent."""
        r = self.request("HEAD", f"/v2/{repo}/blobs/{digest}", repo=repo)
        if r.status_code == 404:
            return None
        if r.status_code != 200:
            raise self._fail(f"checking blob {digest[:19]}", r)
        return int(r.headers.get("content-length", -1))

    def mount_blob(self, repo: str, digest: str, from_repo: str) -> bool:
        """Cross-repository mount (no upload); False when the registry declines."""
        r = self.request(
            "POST",
            f"/v2/{repo}/blobs/uploads/",
            repo=repo,
            params={"mount": digest, "from": from_repo},
        )
        if r.status_code == 201:
            return True
        if r.status_code == 202:  # declined: an upload session was opened instead
            self._cancel(r.headers.get("location"), repo)
        return False

    def _cancel(self, location: str | None, repo: str) -> None:
        if location:
            with contextlib.suppress(ImageRegistryError):
                self.request("DELETE", self._abs(location), repo=repo, retry=False).close()

    def _abs(self, location: str) -> str:
        return location if location.startswith(("http://", "https://")) else self.base + location

    def download_blob(
        self,
        repo: str,
        digest: str,
        size: int,
        dest: Path,
        *,
        on_bytes: Callable[[int], None] | None = None,
        label: str = "",
    ) -> None:
        """Stream blob ``digest`` into ``dest`` (created), checking size and SHA-256.

        A dropped connection resumes with a ``Range`` request (3 tries).

        Raises:
            BundleDigestMismatch: the bytes do not hash to ``digest`` (``label`` names the
                image in the message); ``dest`` is removed.
            ImageRegistryError: not found or refused.
        """
        import httpx

        h = hashlib.sha256()
        got = 0
        failures = 0
        with open(dest, "wb") as out:
            while got < size or size == 0:
                headers = {"Range": f"bytes={got}-"} if got else {}
                r = self.request(
                    "GET", f"/v2/{repo}/blobs/{digest}", repo=repo, headers=headers, stream=True
                )
                try:
                    if r.status_code == 404:
                        raise ImageRegistryError(
                            f"{self.host}/{repo}: blob {digest} is missing"
                            + (f" (image {label})" if label else ""),
                            hint="the image is incomplete in the source registry",
                        )
                    if r.status_code not in (200, 206) or (got and r.status_code != 206):
                        raise self._fail(f"reading blob {digest[:19]}", r)
                    for chunk in r.iter_raw(CHUNK_BYTES):
                        h.update(chunk)
                        out.write(chunk)
                        got += len(chunk)
                        if on_bytes is not None:
                            on_bytes(len(chunk))
                        if got > size:
                            break
                except httpx.TransportError as exc:
                    failures += 1
                    if failures >= _TRIES:
                        raise self.translate(exc) from None
                    time.sleep(0.5 * failures)
                    continue
                finally:
                    r.close()
                break
        actual = "sha256:" + h.hexdigest()
        if got != size or actual != digest:
            dest.unlink(missing_ok=True)
            what = f"image {label}: " if label else ""
            raise BundleDigestMismatch(
                f"{what}blob {digest} from {self.host}/{repo} is {got} bytes with SHA-256 "
                f"{actual} (expected {size} bytes); nothing was written",
                hint="the registry (or a proxy) serves damaged content; fix the source and "
                "create the bundle again",
            )

    def upload_blob(
        self,
        repo: str,
        digest: str,
        size: int,
        opener: Callable[[], BinaryIO],
        *,
        chunk_bytes: int = DEFAULT_CHUNK_BYTES,
        on_bytes: Callable[[int], None] | None = None,
        state: UploadState | None = None,
        stop: GracefulStop | None = None,
    ) -> int:
        """Upload one blob; returns the bytes sent by this call.

        ``opener`` opens the blob's content, seekable. Up to ``chunk_bytes`` it goes up in
        one ``PUT``; larger blobs in ``PATCH`` chunks that survive dropped connections and
        (with ``state``) a new process; ``stop`` is checked before every chunk.

        Raises:
            PushInterrupted: ``stop`` was requested (the upload state is saved).
            ImageRegistryError: refused (e.g. the registry computed another digest), or too many
                failures in a row (the next run resumes).
        """
        import httpx

        key = f"{self.host}/{repo}@{digest}"
        location: str | None = state.get(key) if state is not None else None
        offset = 0
        if location is not None:
            held = self._upload_offset(location, repo)
            if held is None:
                location = None
            else:
                offset, location = held
        if stop is not None:
            stop.check()
        if location is None:
            location = self._start_upload(repo)
        sent = 0
        if offset == 0 and size <= chunk_bytes:
            r = self.request(
                "PUT",
                self._with_digest(location, digest),
                repo=repo,
                headers={"Content-Type": "application/octet-stream",
                         "Content-Length": str(size)},
                content=lambda: _file_chunks(opener, 0, size, on_bytes),
            )
            if r.status_code != 201:
                raise self._blob_refused(digest, r)
            return size
        failures = 0
        while offset < size:
            if stop is not None:
                stop.check()
            end = min(size, offset + chunk_bytes)
            start = offset
            try:
                r = self.request(
                    "PATCH",
                    location,
                    repo=repo,
                    headers={
                        "Content-Type": "application/octet-stream",
                        "Content-Range": f"{start}-{end - 1}",
                        "Content-Length": str(end - start),
                    },
                    content=partial(_file_chunks, opener, start, end - start, on_bytes),
                    retry=False,
                )
            except ImageRegistryUnreachable:
                r = None
            if r is not None and r.status_code == 202:
                location = self._abs(r.headers.get("location", location))
                offset = end
                sent += end - start
                failures = 0
                if state is not None:
                    state.put(key, location, offset)
                continue
            if r is not None and r.status_code not in _RETRY_STATUS and r.status_code != 416:
                raise self._blob_refused(digest, r)
            failures += 1
            if failures >= _TRIES + 2:
                raise ImageRegistryError(
                    f"{self.host}/{repo}: uploading {digest} failed {failures} times at byte "
                    f"{offset} of {size}",
                    hint="check the network and the registry, then run the same command again: "
                    "it resumes where it stopped",
                )
            time.sleep(0.5 * failures)
            try:
                held = self._upload_offset(location, repo)
            except ImageRegistryUnreachable:
                continue  # try the same chunk again; a 416 answer asks for the offset
            if held is None:  # the session is gone: start this blob again
                location, offset = self._start_upload(repo), 0
            else:
                offset, location = held
        try:
            r = self.request(
                "PUT", self._with_digest(location, digest), repo=repo,
                headers={"Content-Length": "0"},
            )
        except httpx.HTTPError as exc:  # pragma: no cover - request() translates
            raise self.translate(exc) from None
        if r.status_code != 201:
            raise self._blob_refused(digest, r)
        if state is not None:
            state.put(key, None)
        return sent

    def _blob_refused(self, digest: str, r: Any) -> ImageRegistryError:
        err = self._fail(f"blob {digest} refused", r)
        if "DIGEST_INVALID" in err.message:
            err.hint = (
                "the bytes sent do not hash to the digest: the bundle changed after `prai "
                "bundle verify`; verify it again"
            )
        return err

    def _start_upload(self, repo: str) -> str:
        r = self.request("POST", f"/v2/{repo}/blobs/uploads/", repo=repo)
        if r.status_code != 202 or "location" not in r.headers:
            raise self._fail(f"starting an upload to {repo}", r)
        return self._abs(r.headers["location"])

    def _upload_offset(self, location: str, repo: str) -> tuple[int, str] | None:
        """(bytes the registry holds, the session's current URL); None when it is gone.

        ``Range: 0-N`` means N + 1 bytes, except that distribution also answers ``0-0``
        for an empty session; it is read as 0 (a chunk is never a single byte but the
        last, and a wrong guess is answered with 416 and asked again).
        """
        r = self.request("GET", location, repo=repo)
        if r.status_code not in (200, 204):
            return None
        m = re.match(r"^(?:bytes=)?0-(\d+)$", r.headers.get("range", ""))
        end = int(m.group(1)) if m else -1
        return (end + 1 if end > 0 else 0), self._abs(r.headers.get("location", location))

    @staticmethod
    def _with_digest(location: str, digest: str) -> str:
        return f"{location}{'&' if '?' in location else '?'}digest={digest}"


def _file_chunks(
    opener: Callable[[], BinaryIO], start: int, length: int, on_bytes: Callable[[int], None] | None
) -> Iterator[bytes]:
    """``length`` bytes of the blob from ``start``, in 1 MiB pieces (constant memory)."""
    with opener() as f:
        f.seek(start)
        left = length
        while left > 0:
            piece = f.read(min(CHUNK_BYTES, left))
            if not piece:
                raise ImageRegistryError(
                    f"the blob ended {left} bytes early while uploading",
                    hint="the bundle changed after verification; verify it again",
                )
            left -= len(piece)
            if on_bytes is not None:
                on_bytes(len(piece))
            yield piece


def _speaks_plain(exc: Exception) -> bool:
    text = f"{exc} {exc.__cause__ or ''} {exc.__context__ or ''}"
    return any(s.lower() in text.lower() for s in _PLAIN_HTTP_SIGNS)


def split_repository(repository: str) -> tuple[str, str]:
    """``host[:port]/path`` -> (host, path); Docker Hub short names get ``docker.io`` and
    ``library/``.

    Raises:
        ConfigError: no repository path.
    """
    first, sep, rest = repository.partition("/")
    if not sep or not ("." in first or ":" in first or first == "localhost"):
        host, path = "docker.io", repository
    else:
        host, path = first, rest
    if not path:
        raise ConfigError(f"{repository!r} names no repository")
    if host == "docker.io" and "/" not in path:
        path = f"library/{path}"
    return host, path


__all__ = [
    "ACCEPT",
    "DEFAULT_CHUNK_BYTES",
    "INDEX_TYPES",
    "MANIFEST_TYPES",
    "MT_DOCKER_LIST",
    "MT_DOCKER_MANIFEST",
    "MT_OCI_INDEX",
    "MT_OCI_MANIFEST",
    "Credentials",
    "FetchedManifest",
    "GracefulStop",
    "RegistryClient",
    "UploadState",
    "api_host",
    "is_loopback",
    "resolve_credentials",
    "sha256_digest",
    "split_repository",
]
