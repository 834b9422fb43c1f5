"""Registry credentials: where ``prai bundle`` finds them and how they are read.

Sources, first found (containers-auth.json(5) and Docker's config.json formats):
``PRAI_REGISTRY_USERNAME``/``PRAI_REGISTRY_PASSWORD``; ``--authfile``;
``REGISTRY_AUTH_FILE``; ``$XDG_RUNTIME_DIR/containers/auth.json`` (podman login);
``$DOCKER_CONFIG/config.json`` or ``~/.docker/config.json`` (docker login).
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass
from pathlib import Path

from prai.errors import ConfigError


@dataclass(frozen=True)
class Credentials:
    """A registry user and password (or token used as password). Never printed."""

    username: str
    password: str

    def __repr__(self) -> str:
        return f"Credentials(username={self.username!r}, password=***)"

    def basic(self) -> str:
        raw = f"{self.username}:{self.password}".encode()
        return "Basic " + base64.b64encode(raw).decode()


def _auth_keys(key: str) -> str:
    k = re.sub(r"^[a-z]+://", "", key.strip()).rstrip("/")
    k = re.sub(r"/v[12]$", "", k)
    return "docker.io" if k in ("index.docker.io", "registry-1.docker.io") else k


def _creds_from_file(path: Path, host: str, repo: str | None) -> Credentials | None:
    """Look ``host[/repo…]`` up in a containers-auth.json / Docker config.json.

    The most specific key wins (``host/ns/repo``, then ``host/ns``, then ``host``), as
    containers-auth.json(5) describes. Entries hold ``auth`` (base64 ``user:password``) or
    ``username``/``password``; credential helpers (``credsStore``) are not run.
    """
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        auths = data.get("auths") or {}
        if not isinstance(auths, dict):
            raise ValueError("auths is not an object")
    except FileNotFoundError:
        return None
    except (OSError, ValueError, AttributeError) as exc:
        raise ConfigError(
            f"registry auth file {path}: unreadable ({exc.__class__.__name__})",
            hint="log in again (podman login / docker login) or fix the JSON",
        ) from None
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
    login). None when nothing matches (anonymous access).

    Raises:
        ConfigError: ``authfile`` missing, or an auth file that is not valid JSON.
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


__all__ = ["Credentials", "resolve_credentials"]
