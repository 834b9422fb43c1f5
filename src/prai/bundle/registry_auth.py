"""Registry credentials: where ``prai bundle`` finds them and how they are read.

Sources, first found (containers-auth.json(5) and Docker's config.json formats):
``PRAI_REGISTRY_USERNAME``/``PRAI_REGISTRY_PASSWORD``; ``--authfile``;
``REGISTRY_AUTH_FILE``; ``$XDG_RUNTIME_DIR/containers/auth.json`` (podman login);
``$DOCKER_CONFIG/config.json`` or ``~/.docker/config.json`` (docker login).

Within one file, as Docker does: a ``credHelpers`` entry for the registry, else the
``credsStore``, runs the credential helper ``docker-credential-NAME get`` (the server
address on stdin, ``{"ServerURL", "Username", "Secret"}`` JSON on stdout; the protocol
of github.com/docker/docker-credential-helpers); a helper that has nothing for the
registry ("credentials not found") falls back to the file's ``auths``. A helper is run
once per (helper, registry) in a process: its answer is kept in memory for the run
(:func:`clear_credential_cache` forgets it), so a load that pushes and checks the same
registry twice asks once.

Identity tokens: a helper answering ``Username: "<token>"`` (or an ``auths`` entry with
``identitytoken``, as ``docker login`` writes for OAuth registries) holds an OAuth2 refresh
token, not a password. :class:`Credentials` then carries it in ``identity_token`` and
:class:`~prai.bundle.registry.RegistryClient` trades it for access tokens at the
registry's token endpoint, as Docker and containerd do.
"""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path

from prai.errors import ConfigError

HELPER_TIMEOUT_S = 30.0  # seconds a credential helper may take (it may unlock a keychain)
_HELPER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_NOT_FOUND = "credentials not found"  # docker-credential-helpers' ErrCredentialsNotFound
IDENTITY_TOKEN_USER = "<token>"  # docker-credential-helpers: the Secret is an identity token
_cache: dict[tuple[str, str], Credentials | None] = {}
_cache_lock = threading.Lock()


@dataclass(frozen=True)
class Credentials:
    """A registry user and password (or token used as password), or an identity token.

    ``identity_token``: an OAuth2 refresh token (Docker's ``identitytoken``; a credential
    helper's ``Secret`` when its ``Username`` is ``<token>``); it is traded for access
    tokens at the registry's token endpoint and never sent to the registry itself. Never
    printed.
    """

    username: str
    password: str
    identity_token: str | None = None

    def __repr__(self) -> str:
        kind = ", identity_token=***" if self.identity_token else ""
        return f"Credentials(username={self.username!r}, password=***{kind})"

    def basic(self) -> str:
        raw = f"{self.username}:{self.password}".encode()
        return "Basic " + base64.b64encode(raw).decode()


def clear_credential_cache() -> None:
    """Forget the credential helpers' answers kept for this process run."""
    with _cache_lock:
        _cache.clear()


def _auth_keys(key: str) -> str:
    k = re.sub(r"^[a-z]+://", "", key.strip()).rstrip("/")
    k = re.sub(r"/v[12]$", "", k)
    return "docker.io" if k in ("index.docker.io", "registry-1.docker.io") else k


def _helper_error(path: Path, text: str, hint: str | None = None) -> ConfigError:
    return ConfigError(f"registry auth file {path}: {text}", hint=hint or (
        "fix the credential helper, or log in without one (podman login --authfile FILE, "
        "then --authfile FILE), or set PRAI_REGISTRY_USERNAME and PRAI_REGISTRY_PASSWORD"
    ))


def run_credential_helper(helper: str, host: str, path: Path) -> Credentials | None:
    """Ask the Docker credential helper ``docker-credential-<helper>`` for ``host``.

    Runs ``docker-credential-<helper> get`` with the server address on stdin (Docker Hub:
    ``https://index.docker.io/v1/``, else ``host[:port]``), as the Docker CLI does, and
    reads ``{"Username": …, "Secret": …}`` from stdout. ``path`` (the auth file naming
    the helper) is only for messages; the secret is never printed.

    The answer (found or not) is kept for the process run, per helper program and server:
    a second lookup does not run the helper again (:func:`clear_credential_cache`).

    Returns:
        The credentials (``identity_token`` set when the helper answers ``Username:
        <token>``), or None when the helper has none for ``host``.

    Raises:
        ConfigError: the helper is not installed (not on PATH), fails, takes longer than
            HELPER_TIMEOUT_S, or answers something that is not its JSON.
    """
    if not _HELPER_NAME.match(helper):
        raise _helper_error(path, f"credential helper name {helper[:64]!r} is not a program name")
    exe_name = f"docker-credential-{helper}"
    exe = shutil.which(exe_name)
    if exe is None:
        raise _helper_error(
            path,
            f"it names the credential helper {helper!r} for {host}, but {exe_name} is not "
            "installed (not found on PATH)",
            hint=f"install {exe_name} on this machine (or put it on PATH), or remove "
            f"credsStore/credHelpers from {path.name} and log in with podman login --authfile "
            "FILE (then --authfile FILE), or set PRAI_REGISTRY_USERNAME and PRAI_REGISTRY_PASSWORD",
        )
    server = "https://index.docker.io/v1/" if _auth_keys(host) == "docker.io" else host
    with _cache_lock:  # held while the helper runs: concurrent lookups wait for its answer
        if (exe, server) not in _cache:
            _cache[(exe, server)] = _ask_helper(exe, exe_name, server, path)
        return _cache[(exe, server)]


def _ask_helper(exe: str, exe_name: str, server: str, path: Path) -> Credentials | None:
    try:
        proc = subprocess.run(
            [exe, "get"], input=server.encode(), capture_output=True, timeout=HELPER_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise _helper_error(path, f"{exe_name} did not answer within {HELPER_TIMEOUT_S:.0f} s") from None
    except OSError as exc:
        raise _helper_error(path, f"{exe_name} cannot be run ({exc.strerror or exc.__class__.__name__})") from None
    if proc.returncode != 0:
        said = (proc.stdout + proc.stderr).decode("utf-8", "replace").strip()
        if _NOT_FOUND in said.lower():
            return None
        first = said.splitlines()[0][:200] if said else "no message"
        raise _helper_error(path, f"{exe_name} get failed for {server} (exit {proc.returncode}: {first!r})")
    try:
        answer = json.loads(proc.stdout)
        user, secret = answer["Username"], answer["Secret"]
        if not isinstance(user, str) or not isinstance(secret, str):
            raise TypeError
    except (ValueError, KeyError, TypeError):
        raise _helper_error(path, f"{exe_name} get answered something other than its JSON for {server}") from None
    if user == IDENTITY_TOKEN_USER:
        if not secret:
            raise _helper_error(path, f"{exe_name} get answered an empty identity token for {server}")
        return Credentials("", "", identity_token=secret)
    return Credentials(user, secret)


def _helper_for(data: dict[str, object], host: str, path: Path) -> str | None:
    """The helper Docker would run for ``host``: ``credHelpers[host]``, else ``credsStore``."""
    helpers = data.get("credHelpers") or {}
    store = data.get("credsStore") or None
    if not isinstance(helpers, dict) or not (store is None or isinstance(store, str)):
        raise ConfigError(f"registry auth file {path}: credHelpers is not an object or credsStore not a name")
    want = _auth_keys(host)
    for key, name in helpers.items():
        if _auth_keys(str(key)) == want:
            if not isinstance(name, str) or not name:
                raise ConfigError(f"registry auth file {path}: credHelpers[{key!r}] is not a helper name")
            return name
    return store


def _creds_from_file(path: Path, host: str, repo: str | None) -> Credentials | None:
    """Look ``host[/repo…]`` up in a containers-auth.json / Docker config.json.

    A credential helper for ``host`` (``credHelpers``, else ``credsStore``) is asked first
    (:func:`run_credential_helper`). Then ``auths``: the most specific key wins
    (``host/ns/repo``, then ``host/ns``, then ``host``), as containers-auth.json(5)
    describes; entries hold ``auth`` (base64 ``user:password``), ``username``/``password``,
    or ``identitytoken`` (an OAuth2 refresh token; it wins over ``auth``, as in Docker).
    """
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        auths = data.get("auths") or {}
        if not isinstance(auths, dict):
            raise ValueError("auths is not an object")
    except FileNotFoundError:
        return None
    except (OSError, ValueError, AttributeError, RecursionError) as exc:
        raise ConfigError(
            f"registry auth file {path}: unreadable ({exc.__class__.__name__})",
            hint="log in again (podman login / docker login) or fix the JSON",
        ) from None
    helper = _helper_for(data, host, path)
    if helper is not None:
        found = run_credential_helper(helper, host, path)
        if found is not None:
            return found
    want = _auth_keys(host)
    table = {_auth_keys(k): v for k, v in auths.items() if isinstance(v, dict)}
    candidates = []
    if repo:
        parts = repo.split("/")
        candidates += [f"{want}/{'/'.join(parts[:i])}" for i in range(len(parts), 0, -1)]
    candidates.append(want)
    for key in candidates:
        entry = table.get(key)
        if not entry:
            continue
        if entry.get("identitytoken"):
            return Credentials("", "", identity_token=str(entry["identitytoken"]))
        if entry.get("auth"):
            try:
                user, _, pw = base64.b64decode(entry["auth"]).decode().partition(":")
            except (ValueError, UnicodeDecodeError):
                raise ConfigError(
                    f"registry auth file {path}: the entry for {key} is not base64 user:password"
                ) from None
            return Credentials(user, pw)
        if entry.get("username"):
            return Credentials(str(entry["username"]), str(entry.get("password", "")))
    return None


def resolve_credentials(
    host: str, repo: str | None = None, *, authfile: str | Path | None = None
) -> Credentials | None:
    """Credentials for ``host`` (``repo`` picks a repository-scoped entry).

    Order: ``PRAI_REGISTRY_USERNAME``/``PRAI_REGISTRY_PASSWORD``; ``authfile``
    (``--authfile``); ``REGISTRY_AUTH_FILE``; ``$XDG_RUNTIME_DIR/containers/auth.json``
    (podman login); ``$DOCKER_CONFIG/config.json`` or ``~/.docker/config.json`` (docker
    login), each with its credential helpers (``credHelpers``, ``credsStore``). None when
    nothing matches (anonymous access).

    Raises:
        ConfigError: ``authfile`` missing, an auth file that is not valid JSON, or a
            credential helper that is not installed or fails.
    """
    from prai.settings import get_settings

    s = get_settings()
    if s.registry_username:
        return Credentials(s.registry_username, s.registry_password or "")
    if authfile is not None and not Path(authfile).is_file():
        raise ConfigError(f"--authfile {authfile}: no such file")
    files: list[Path] = [Path(authfile)] if authfile is not None else []
    if s.registry_authfile is not None:
        files.append(s.registry_authfile)
    if s.xdg_runtime_dir is not None:
        files.append(s.xdg_runtime_dir / "containers" / "auth.json")
    files.append((s.docker_config or Path.home() / ".docker") / "config.json")
    for f in files:
        found = _creds_from_file(f, host, repo)
        if found is not None:
            return found
    return None


__all__ = [
    "IDENTITY_TOKEN_USER",
    "Credentials",
    "clear_credential_cache",
    "resolve_credentials",
    "run_credential_helper",
]
