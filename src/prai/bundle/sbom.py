"""The bundle's SBOM: CycloneDX 1.6 JSON, written with cyclonedx-python-lib.

Every bundle carries ``sbom/bom.cdx.json``, made from the manifest (nothing else is
read but model cards): the model and each adapter as ``machine-learning-model``
components with their files (SHA-256), licence and base model from the model card's
front matter (``model/README.md``, ``adapters/NAME/README.md``: ``license``,
``base_model``) where present, and adapter -> base model dependencies; PrAI's wheels as
``library`` components with ``pkg:pypi`` purls and SHA-256; container images as
``container`` components with ``pkg:oci`` purls (digest as version); CA certificates as
``cryptographic-asset`` components (certificate properties); evaluation and other files
as ``file``/``data``. Specification: https://cyclonedx.org/docs/1.6/json/ ; purl types:
https://github.com/package-url/purl-spec (``pypi``, ``oci``).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from typing import Any

import yaml

from prai import __version__

from .manifest import FileEntry, Manifest

SBOM_PATH = "sbom/bom.cdx.json"
_CARD_LIMIT = 1 << 20


def model_card(text: bytes | None) -> dict[str, Any]:
    """The YAML front matter of a Hugging Face model card (``---`` … ``---``), or {}."""
    if not text:
        return {}
    body = text.decode("utf-8", "replace")
    if not body.startswith("---"):
        return {}
    end = body.find("\n---", 3)
    if end < 0:
        return {}
    try:
        data = yaml.safe_load(body[3:end])
    except yaml.YAMLError:
        return {}
    return data if isinstance(data, dict) else {}


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, list):
        return [str(v) for v in value if v]
    return [str(value)]


def build_sbom(manifest: Manifest, read: Callable[[str], bytes | None]) -> bytes:
    """CycloneDX 1.6 JSON (UTF-8 bytes) for ``manifest``.

    Args:
        manifest: the bundle manifest (``files[]`` is the full content, deltas included).
        read: returns a bundle file's bytes by path (only model cards are read), or None.

    Returns:
        The SBOM; its serial number derives from the files' digests and it has no
        timestamp, so the same content always gives the same bytes.
    """
    from cyclonedx.model import HashAlgorithm, HashType, Property
    from cyclonedx.model.bom import Bom, BomMetaData
    from cyclonedx.model.component import Component, ComponentType, Pedigree
    from cyclonedx.model.crypto import CertificateProperties, CryptoAssetType, CryptoProperties
    from cyclonedx.model.license import LicenseExpression
    from cyclonedx.output.json import JsonV1Dot6
    from packageurl import PackageURL

    def sha(entry: FileEntry) -> list[HashType]:
        return [HashType(alg=HashAlgorithm.SHA_256, content=entry.sha256)]

    def files(entries: Iterable[FileEntry]) -> list[Component]:
        return [
            Component(
                type=ComponentType.FILE,
                name=e.path,
                bom_ref=f"file:{e.path}",
                hashes=sha(e),
                properties=[Property(name="prai:size_bytes", value=str(e.size))],
            )
            for e in entries
        ]

    def licenses(card: dict[str, Any]) -> list[LicenseExpression]:
        found = _as_list(card.get("license"))
        if not found:
            return []
        return [LicenseExpression(" OR ".join(found) if len(found) > 1 else found[0])]

    def ancestors(names: list[str]) -> Pedigree | None:
        if not names:
            return None
        return Pedigree(
            ancestors=[Component(type=ComponentType.MACHINE_LEARNING_MODEL, name=n) for n in names]
        )

    by_role: dict[str, list[FileEntry]] = {}
    for f in manifest.files:
        by_role.setdefault(f.role, []).append(f)
    seed = "\n".join(f"{f.sha256} {f.path}" for f in manifest.files)
    bom = Bom(
        serial_number=uuid.uuid5(uuid.NAMESPACE_URL, "prai-bundle:" + seed),
        metadata=BomMetaData(
            component=Component(
                type=ComponentType.DATA,
                name=manifest.model.name if manifest.model else "prai-bundle",
                bom_ref="bundle",
                description="PrAI bring-in bundle (持ち込み)",
            ),
            properties=[Property(name="prai:created_by", value=manifest.created_by)]
            + (
                [Property(name="prai:delta_base_root_digest", value=manifest.delta.base_root_digest)]
                if manifest.delta
                else []
            ),
        ),
    )
    # No metadata.timestamp: the same content gives the same SBOM bytes, so a rerun or a
    # delta does not carry a new SBOM when nothing changed (the manifest's created_at says when).
    bom.metadata.timestamp = None  # type: ignore[assignment]
    bom.metadata.tools.components.add(
        Component(type=ComponentType.APPLICATION, name="prai", version=__version__)
    )
    model_ref = None
    if manifest.model is not None:
        m = manifest.model
        card = model_card(_read_card(read, "model/README.md"))
        props = [
            Property(name="prai:architectures", value=",".join(m.architectures) or "-"),
            Property(name="prai:dtype", value=m.dtype or "-"),
            Property(name="prai:parameter_count", value=str(m.parameter_count or 0)),
        ]
        model = Component(
            type=ComponentType.MACHINE_LEARNING_MODEL,
            name=m.name,
            bom_ref="model",
            licenses=licenses(card),
            pedigree=ancestors(_as_list(card.get("base_model"))),
            properties=props,
            components=files(by_role.get("model", [])),
        )
        bom.components.add(model)
        model_ref = model
    adapter_files: dict[str, list[FileEntry]] = {}
    for f in by_role.get("adapter", []):
        adapter_files.setdefault(f.name, []).append(f)
    for a in manifest.adapters:
        card = model_card(_read_card(read, f"adapters/{a.name}/README.md"))
        base_names = _as_list(card.get("base_model")) or _as_list(a.base_model_name_or_path)
        adapter = Component(
            type=ComponentType.MACHINE_LEARNING_MODEL,
            name=a.name,
            bom_ref=f"adapter:{a.name}",
            licenses=licenses(card),
            pedigree=ancestors(base_names),
            properties=[
                Property(name="prai:peft_type", value=a.peft_type or "-"),
                Property(name="prai:rank", value=str(a.rank or 0)),
                Property(name="prai:base_model_name_or_path", value=a.base_model_name_or_path or "-"),
            ],
            components=files(adapter_files.get(a.name, [])),
        )
        bom.components.add(adapter)
        if model_ref is not None:
            bom.register_dependency(adapter, [model_ref])
    entries = manifest.by_path()
    if manifest.software is not None:
        sw = manifest.software
        for w in sw.wheels:
            e = entries.get(w.path)
            filename = w.path.rsplit("/", 1)[-1]
            bom.components.add(
                Component(
                    type=ComponentType.LIBRARY,
                    name=w.name,
                    version=w.version,
                    bom_ref=f"pypi:{filename}",
                    purl=PackageURL("pypi", name=w.name, version=w.version, qualifiers={"file_name": filename}),
                    hashes=sha(e) if e else None,
                )
            )
        wheel_paths = {w.path for w in sw.wheels}
        for comp in files(f for f in by_role.get("software", []) if f.path not in wheel_paths):
            bom.components.add(comp)
    for i, img in enumerate(getattr(manifest, "images", []) or []):
        bom.components.add(_image_component(img, i))
    ca_files = {f.path: f for f in by_role.get("ca", [])}
    for n, c in enumerate(manifest.cas):
        e = ca_files.get(c.path)
        bom.components.add(
            Component(
                type=ComponentType.CRYPTOGRAPHIC_ASSET,
                name=c.subject,
                bom_ref=f"ca:{n}:{c.sha256_fingerprint[:16]}",
                hashes=sha(e) if e else None,
                crypto_properties=CryptoProperties(
                    asset_type=CryptoAssetType.CERTIFICATE,
                    certificate_properties=CertificateProperties(
                        subject_name=c.subject,
                        issuer_name=c.issuer,
                        not_valid_before=c.not_before,
                        not_valid_after=c.not_after,
                        certificate_format="X.509",
                        certificate_extension="pem",
                    ),
                ),
                properties=[
                    Property(name="prai:path", value=c.path),
                    Property(name="prai:sha256_fingerprint", value=c.sha256_fingerprint),
                ],
            )
        )
    for role in ("eval", "other"):
        for comp in files(by_role.get(role, [])):
            if role == "eval":
                comp.type = ComponentType.DATA
            bom.components.add(comp)
    bom.register_dependency(bom.metadata.component, list(bom.components))  # type: ignore[arg-type]
    text: str = JsonV1Dot6(bom).output_as_string(indent=2)
    return (text + "\n").encode()


def _read_card(read: Callable[[str], bytes | None], path: str) -> bytes | None:
    try:
        data = read(path)
    except OSError:
        return None
    return data[:_CARD_LIMIT] if data else None


def _image_component(img: Any, index: int) -> Any:
    """A ``container`` component for an image entry of the manifest (a reference, or an
    image carried as an OCI layout): ``pkg:oci/NAME@DIGEST?repository_url=…&tag=…``."""
    from cyclonedx.model import HashAlgorithm, HashType, Property
    from cyclonedx.model.component import Component, ComponentType
    from packageurl import PackageURL

    repository = str(getattr(img, "repository", "") or getattr(img, "ref", "") or f"image-{index}")
    digest = getattr(img, "digest", None)
    tag = getattr(img, "tag", None)
    name = repository.rsplit("/", 1)[-1].lower()
    qualifiers = {"repository_url": repository}
    if tag:
        qualifiers["tag"] = str(tag)
    hashes = None
    if digest and str(digest).startswith("sha256:"):
        hashes = [HashType(alg=HashAlgorithm.SHA_256, content=str(digest).removeprefix("sha256:"))]
    return Component(
        type=ComponentType.CONTAINER,
        name=name,
        version=str(digest) if digest else (str(tag) if tag else None),
        bom_ref=f"oci:{index}:{getattr(img, 'ref', repository)}",
        purl=PackageURL("oci", name=name, version=str(digest) if digest else None, qualifiers=qualifiers),
        hashes=hashes,
        properties=[
            Property(name="prai:ref", value=str(getattr(img, "ref", repository))),
            Property(name="prai:pinned_by_digest", value="true" if digest else "false"),
        ],
    )


def validate_sbom(data: bytes) -> str | None:
    """Validate against CycloneDX 1.6's JSON schema (shipped with cyclonedx-python-lib;
    needs its ``json-validation`` extra). Returns None when valid, else the first error."""
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    error = JsonStrictValidator(SchemaVersion.V1_6).validate_str(data.decode("utf-8"))
    return None if error is None else str(error)
