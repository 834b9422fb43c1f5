"""``prai render --image-map FILE``: take ``cluster.images`` from a mirror map.

The map is what ``prai bundle load --images-to`` writes (format ``prai-image-map`` v1,
docs/bundle-format.md §8): per image its ``source_repository``, ``digest`` and
``mirror_repository``. Before kitchen.yaml is validated, :func:`apply_image_map` fills in

* ``cluster.images.vllm`` / ``cluster.images.prai`` when missing: the one source
  repository of the map whose last path component contains ``vllm`` / ``prai``;
* any image given with ``source:`` only (also ``cluster.models[].storage.oci``): mirror
  and digest of that source repository in the map.

An image written out in full is kept, but must agree with the map when the map holds
its source (a different digest means kitchen.yaml or the map is stale).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from prai.errors import ConfigError


class _Entry(BaseModel):
    model_config = ConfigDict(extra="ignore")

    source: str
    source_repository: str
    tag: str | None = None
    digest: str
    mirror_repository: str


class ImageMap(BaseModel):
    """A parsed mirror map (unknown keys ignored, so newer maps still read)."""

    model_config = ConfigDict(extra="ignore")

    format: str
    format_version: int
    images: list[_Entry]
    path: str = ""

    def by_source(self, repository: str) -> list[_Entry]:
        """Entries of one source repository, one per distinct digest."""
        seen: dict[str, _Entry] = {}
        for e in self.images:
            if e.source_repository == repository:
                seen.setdefault(e.digest, e)
        return list(seen.values())


def read_image_map(path: str | Path) -> ImageMap:
    """Read a ``prai-image-map`` JSON file.

    Raises:
        ConfigError: missing, not JSON, another format or version.
    """
    p = Path(path)
    try:
        raw = json.loads(p.read_text(encoding="utf-8"))
    except OSError:
        raise ConfigError(f"--image-map {p}: no such file",
                          hint="`prai bundle load --images-to` writes prai-image-map.json") from None
    except ValueError:
        raise ConfigError(f"--image-map {p}: not JSON") from None
    if not isinstance(raw, dict) or raw.get("format") != "prai-image-map":
        raise ConfigError(f"--image-map {p}: not a prai-image-map file")
    if raw.get("format_version") != 1:
        raise ConfigError(f"--image-map {p}: format_version {raw.get('format_version')!r} is "
                          "not supported (1 is)", hint="upgrade prai")
    try:
        m = ImageMap.model_validate({**raw, "path": str(p)})
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(x) for x in first["loc"])
        raise ConfigError(f"--image-map {p}: {loc}: {first['msg']}") from None
    return m


def _one(imap: ImageMap, entries: list[_Entry], what: str) -> _Entry:
    if len(entries) == 1:
        return entries[0]
    if not entries:
        have = sorted({e.source_repository for e in imap.images})
        raise ConfigError(
            f"{what}: not in the mirror map {imap.path} (it has: {', '.join(have) or 'nothing'})",
            hint="write the image's source: as pushed (see the map), or carry the image in the "
            "bundle with --image",
        )
    found = ", ".join(f"{e.source_repository}@{e.digest[:19]}…" for e in entries)
    raise ConfigError(
        f"{what}: the mirror map {imap.path} holds several candidates ({found})",
        hint=f"name the one to use: {what}.source (and digest: when one repository has several)",
    )


def _fill(node: dict[str, Any], imap: ImageMap, what: str, notes: list[str]) -> None:
    source = node.get("source")
    if not isinstance(source, str):
        return
    pushed = imap.by_source(source)
    digest = node.get("digest")
    if "mirror" in node and isinstance(digest, str):
        if pushed and all(e.digest != digest for e in pushed):
            raise ConfigError(
                f"{what}: kitchen.yaml pins {source}@{digest}, but the mirror map {imap.path} "
                f"pushed {pushed[0].digest}",
                hint=f"remove mirror: and digest: from {what} to take them from the map, or "
                "push the image kitchen.yaml names",
            )
        return
    if isinstance(digest, str):
        pushed = [e for e in pushed if e.digest == digest]
    e = _one(imap, pushed, what)
    node["mirror"], node["digest"] = e.mirror_repository, e.digest
    notes.append(f"{what}: {e.mirror_repository}@{e.digest} (from the mirror map)")


def apply_image_map(data: dict[str, Any], imap: ImageMap, notes: list[str]) -> dict[str, Any]:
    """Fill ``cluster.images`` and source-only modelcars of kitchen.yaml data (in place).

    Returns:
        ``data``; ``notes`` gets one line per image taken from the map.

    Raises:
        ConfigError: an image not in the map, several candidates, or a digest that
            disagrees with the map.
    """
    cluster = data.get("cluster")
    if not isinstance(cluster, dict):
        return data
    images = cluster.setdefault("images", {})
    if not isinstance(images, dict):
        return data
    for role in ("vllm", "prai"):
        what = f"cluster.images.{role}"
        if images.get(role) is None:
            repos = sorted({e.source_repository for e in imap.images
                            if role in e.source_repository.rsplit("/", 1)[-1]})
            if len(repos) != 1:
                _one(imap, [e for r in repos for e in imap.by_source(r)], what)
            images[role] = {"source": repos[0]}
        if isinstance(images[role], dict):
            _fill(images[role], imap, what, notes)
    for i, m in enumerate(cluster.get("models") or []):
        oci = (m.get("storage") or {}).get("oci") if isinstance(m, dict) else None
        if isinstance(oci, dict):
            _fill(oci, imap, f"cluster.models[{m.get('name', i)}].storage.oci", notes)
    return data


__all__ = ["ImageMap", "apply_image_map", "read_image_map"]
