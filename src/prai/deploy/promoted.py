"""The promoted state of the model registry, as ``prai render --registry`` and ``prai doctor``
read it.

The registry (:mod:`prai.lifecycle.registry`, in the gateway's database) says where each
alias routes: its ``current`` version and, for ``canary_percent`` % of API keys, its
``canary``. The gateway sends ``kansai`` to the served name ``kansai@v2``; the engine must
therefore serve ``kansai@v2`` (and the canary's served name) as LoRA modules. A render with
the registry adds them to ``--lora-modules`` and records the state it rendered in the
InferenceService annotation :data:`ANNOTATION` (canonical JSON, see :func:`annotation_text`),
so ``prai doctor`` can tell when GitOps and the running gateway disagree.

Only what the gateway routes counts (the same rule as
:func:`prai.lifecycle.registry.routing_table`): adapter aliases with a current version.
Base-model aliases are not rendered (a base model's served name is its InferenceService's
``--served-model-name``).

Reading never writes: the database is opened without creating tables (unlike
:func:`prai.db.open_engine`), and a SQLite file that does not exist is refused
rather than created.
"""

from __future__ import annotations

import json
import posixpath
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from prai.deploy._common import MODEL_ROOT, PromotedVersion, Role
from prai.errors import RegistryStateError

if TYPE_CHECKING:
    from prai.config.gateway import GatewayConfig

#: InferenceService annotation holding the promoted state a render used (canonical JSON).
ANNOTATION = "prai.io/promoted"
#: ``--registry auto``: the registry ``prai model -c kitchen.yaml`` uses.
AUTO = "auto"
#: Seconds to wait for a PostgreSQL registry to accept the connection.
CONNECT_TIMEOUT_S = 10
_SAFE_PATH = re.compile(r"^/[A-Za-z0-9._+@/-]+$")

@dataclass(frozen=True)
class PromotedAlias:
    """An adapter alias with a current version and its optional canary.

    Attributes:
        canary_percent: share of API keys sent to the canary (0–100; 0 without canary).
        versions: the current version first, then the canary (when it differs).
    """

    name: str
    current: str
    canary: str | None
    canary_percent: float
    versions: tuple[PromotedVersion, ...]

    def record(self) -> dict[str, Any]:
        """The annotation entry: current, canary, canary_percent and both bundle digests."""
        by_role = {v.role: v for v in self.versions}
        pct = self.canary_percent
        return {
            "current": self.current,
            "digest": by_role["current"].digest,
            "canary": self.canary,
            "canary_digest": by_role["canary"].digest if "canary" in by_role else None,
            # 10.0 → 10: integral percentages read as integers in the annotation
            "canary_percent": int(pct) if float(pct).is_integer() else pct,
        }


@dataclass(frozen=True)
class RegistryState:
    """What the registry routes, read once.

    Attributes:
        url: the database URL with any password masked (safe to print).
        aliases: adapter aliases the gateway routes, by name.
        not_rendered: one line per alias left out (base-model aliases, aliases never
            promoted), for notes.
    """

    url: str
    aliases: tuple[PromotedAlias, ...]
    not_rendered: tuple[str, ...] = ()

    def alias(self, name: str) -> PromotedAlias | None:
        """The alias named ``name``, or None."""
        return next((a for a in self.aliases if a.name == name), None)


def display_url(url: str) -> str:
    """The URL with its password replaced by ``***`` (never print database secrets)."""
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # a URL SQLAlchemy cannot parse carries nothing we can mask safely
        return url.split("://", 1)[0] + "://…"


def sqlite_file(url: str) -> Path | None:
    """The database file of a ``sqlite:///PATH`` URL; None for other databases or memory."""
    m = re.match(r"^sqlite(\+\w+)?:///(.*)$", url)
    if not m or m.group(2) in ("", ":memory:"):
        return None
    return Path(m.group(2))


def resolve_registry_url(spec: str, *, gateway: GatewayConfig | None, env: Mapping[str, str]) -> str:
    """``--registry`` → a database URL.

    Args:
        spec: a SQLAlchemy URL (``sqlite:///gateway.db``, ``postgresql://...``) or ``auto``:
            the kitchen's ``gateway.storage.url``, else PrAI's default gateway database
            (``PRAI_CACHE_DIR/gateway.db``) — the registry ``prai model -c kitchen.yaml``
            reads.
        gateway: the kitchen's ``gateway:`` section (None when absent).
        env: environment (for ``PRAI_CACHE_DIR``).

    Raises:
        RegistryStateError: not ``auto`` and not a sqlite:// or postgresql:// URL.
    """
    if spec == AUTO:
        if gateway is not None and gateway.storage.url:
            return gateway.storage.url
        from prai.settings import Settings

        return f"sqlite:///{Settings.from_env(env).cache_dir / 'gateway.db'}"
    if re.match(r"^postgres(\+\w+)?://", spec):
        spec = "postgresql" + spec[len("postgres"):]  # as gateway.storage.url reads it
    if not re.match(r"^(sqlite|postgresql)(\+\w+)?://", spec):
        raise RegistryStateError(
            f"--registry {display_url(spec)!r} is not a database URL",
            hint="pass the gateway's storage URL (sqlite:///PATH/gateway.db or "
            "postgresql://USER@HOST/DB), or `auto` for kitchen.yaml's gateway.storage.url",
        )
    return spec


def read_registry(url: str) -> RegistryState:
    """Read the aliases the gateway routes and their versions (read-only).

    Raises:
        RegistryStateError: the SQLite file does not exist, the database cannot be reached,
            or it holds no registry tables (no `prai model register` ever ran on it).
    """
    from sqlalchemy import create_engine, inspect
    from sqlalchemy.exc import SQLAlchemyError

    from prai.db.engine import normalize_url
    from prai.lifecycle import registry

    shown = display_url(url)
    f = sqlite_file(url)
    if f is not None and not f.is_file():
        raise RegistryStateError(
            f"no registry database at {f}",
            hint="pass the database `prai model register/promote` used (gateway.storage.url "
            "of its kitchen.yaml, or --registry auto with that kitchen)",
        )
    u = normalize_url(url)
    # A database that does not answer must not hang render or doctor for minutes (TCP timeout).
    connect_args = {"connect_timeout": CONNECT_TIMEOUT_S} if u.startswith("postgresql") else {}
    try:
        engine = create_engine(u, future=True, connect_args=connect_args)
    except (SQLAlchemyError, ImportError, ValueError) as exc:
        raise RegistryStateError(f"registry {shown}: not usable ({type(exc).__name__})") from None
    try:
        if not inspect(engine).has_table("prai_aliases"):
            raise RegistryStateError(
                f"registry {shown} holds no model registry (no prai_aliases table)",
                hint="register and promote versions first (`prai model register`, "
                "`prai model promote`), or pass the right database",
            )
        aliases = registry.list_aliases(engine)
        versions = {(v.name, v.version): v for v in registry.list_versions(engine)}
    except SQLAlchemyError as exc:
        raise RegistryStateError(
            f"registry {shown}: cannot read it ({type(exc).__name__})",
            hint="check that the database is reachable from here and the URL is right",
        ) from None
    finally:
        engine.dispose()
    out: list[PromotedAlias] = []
    left: list[str] = []
    for a in aliases:
        if a.current is None:
            left.append(f"{a.name}: registered but never promoted (nothing is routed to it)")
            continue
        if a.kind != "adapter":
            left.append(f"{a.name}: a base-model alias (served as --served-model-name "
                        f"{registry.served_name(a.name, a.current)}, not as a LoRA module)")
            continue
        vs: list[PromotedVersion] = []
        roles: list[tuple[Role, str]] = [("current", a.current)]
        if a.canary is not None and a.canary != a.current:
            roles.append(("canary", a.canary))
        for role, label in roles:
            mv = versions.get((a.name, label))
            if mv is None:  # set_route refuses this; a hand-edited database could still hold it
                raise RegistryStateError(f"registry {shown}: {a.name} routes to {label}, "
                                         "which is not registered")
            vs.append(PromotedVersion(
                alias=a.name, role=role, version=label, served_name=mv.served_name,
                base=mv.base or "", path=mv.path or "", rank=mv.rank, digest=mv.digest))
        out.append(PromotedAlias(a.name, a.current, a.canary if len(vs) > 1 else None,
                                 a.canary_percent if len(vs) > 1 else 0.0, tuple(vs)))
    return RegistryState(shown, tuple(sorted(out, key=lambda x: x.name)), tuple(left))


def check_engine_path(v: PromotedVersion, model: str) -> str:
    """The version's path when the predictor can see it: absolute, normalised, below
    ``/mnt/models/`` (where KServe mounts the model storage).

    Raises:
        RegistryStateError: anything else (e.g. a local path registered by ``prai up`` or
            by ``prai model register`` from a bundle directory on this machine).
    """
    p = v.path.rstrip("/")
    ok = (p.startswith(MODEL_ROOT + "/") and posixpath.normpath(p) == p
          and ".." not in p.split("/") and bool(_SAFE_PATH.match(p)))
    if not ok:
        raise RegistryStateError(
            f"{v.served_name} ({v.role} version of {v.alias}, base {model}): the registry's "
            f"path {v.path!r} is not under {MODEL_ROOT}/, so the predictor cannot load it",
            hint=f"put the adapter on the model storage (`prai bundle load` to the PVC) and "
            f"register it with the path the predictor sees: `prai model register BUNDLE "
            f"--version {v.version} --only {v.alias} --path {MODEL_ROOT}/adapters/{v.alias}-{v.version}` "
            "(the same bundle and label again corrects the path; a version taking traffic must be "
            "rolled back first)",
        )
    return p


def annotation_text(aliases: list[PromotedAlias]) -> str:
    """Canonical JSON of ``{alias: PromotedAlias.record()}``: sorted keys, no spaces, UTF-8
    (same state → same bytes, so renders stay deterministic)."""
    return json.dumps({a.name: a.record() for a in sorted(aliases, key=lambda x: x.name)},
                      sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def parse_annotation(text: str) -> dict[str, dict[str, Any]]:
    """The annotation back as ``{alias: record}``.

    Raises:
        ValueError: not a JSON object of objects.
    """
    data = json.loads(text)
    if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
        raise ValueError("not a JSON object of objects")
    return data


def lora_module_names(args: list[str]) -> list[str]:
    """The adapter names in an engine's ``--lora-modules`` arguments (JSON or NAME=PATH form)."""
    out: list[str] = []
    for i, a in enumerate(args):
        if a != "--lora-modules":
            continue
        for item in args[i + 1:]:
            if item.startswith("--"):
                break
            try:
                mod = json.loads(item)
                name = mod.get("name") if isinstance(mod, dict) else None
            except json.JSONDecodeError:
                name = item.split("=", 1)[0]
            if name:
                out.append(str(name))
    return out


__all__ = [
    "ANNOTATION",
    "AUTO",
    "PromotedAlias",
    "PromotedVersion",
    "RegistryState",
    "annotation_text",
    "check_engine_path",
    "display_url",
    "lora_module_names",
    "parse_annotation",
    "read_registry",
    "resolve_registry_url",
    "sqlite_file",
]
