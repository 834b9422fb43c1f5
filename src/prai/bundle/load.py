"""``prai bundle load``: verify, then write the selected files to a destination.

Destinations: a directory (PVC mount path), ``s3://bucket/prefix`` or
``oci://registry/repo:tag``. The whole bundle is checked first (manifest, signature
when a key is given, every file present with the right size, nothing extra, selected
files hashed), so bad input is refused before anything is written.
"""

from __future__ import annotations

from pathlib import Path

from prai.errors import UsageError

from ._hashing import ProgressSink
from ._loaded import LoadResult
from ._source import BundleSource, open_bundle
from .manifest import FileEntry, Manifest, parse_manifest
from .registry import GracefulStop
from .verify import verify_source


def select_files(manifest: Manifest, only: str | None) -> list[FileEntry]:
    """The manifest's files that ``--only`` selects.

    Args:
        only: None (all), "model", "adapters", or a logical name (an adapter's name, a CA
            or eval file name).

    Raises:
        UsageError: nothing is called ``only`` (the message lists what there is).
    """
    if only is None:
        return list(manifest.files)
    if only == "model":
        chosen = [f for f in manifest.files if f.role == "model"]
    elif only == "adapters":
        chosen = [f for f in manifest.files if f.role == "adapter"]
    else:
        chosen = [f for f in manifest.files if f.name == only and f.role != "model"]
    if not chosen:
        names = sorted({f.name for f in manifest.files if f.role != "model"})
        raise UsageError(
            f"--only {only!r} selects nothing in this bundle",
            hint=f"use model, adapters, or one of: {', '.join(names) or '(no other names)'}",
        )
    return chosen


def load_bundle(
    bundle: str | Path,
    to: str | None,
    *,
    only: str | None = None,
    key: str | Path | None = None,
    expected_root: str | None = None,
    ca_bundle: str | Path | None = None,
    endpoint_url: str | None = None,
    env_file: str | Path | None = None,
    authfile: str | Path | None = None,
    base_image: str | None = None,
    progress: ProgressSink | None = None,
    receipt_out: str | Path | None = None,
    images_to: str | None = None,
    image_map_out: str | Path = "prai-image-map.json",
    chunk_bytes: int | None = None,
    stop: GracefulStop | None = None,
    allow_unfit_software: bool = False,
) -> LoadResult:
    """Verify ``bundle`` and load it (or the ``only`` part) into ``to``.

    Args:
        to: a directory path, ``s3://bucket/prefix`` or ``oci://host[:port]/repo:tag``.
        key, expected_root: as for :func:`prai.bundle.verify_bundle`.
        ca_bundle: PEM CA file for TLS to S3 or the registry (verification is never off).
        endpoint_url, env_file: S3 endpoint; Data Connection-style KEY=VALUE file.
        authfile: containers-auth.json for the registry (else REGISTRY_AUTH_FILE or
            PRAI_REGISTRY_USERNAME/PASSWORD).
        base_image: OCI only: ``repo[:tag|@digest]`` in the same registry to build the
            modelcar on (an image with ``sh``, as KServe's modelcar sidecar needs).
        images_to: ``REGISTRY[:PORT][/PREFIX]``: push the carried container images there
            (with or without ``to``); the mirror map goes to ``image_map_out`` and an
            ImageDigestMirrorSet beside it (:func:`prai.bundle.images_push.push_images`).
        chunk_bytes: image blobs above this size are uploaded in chunks of it (bytes).
        stop: lets Ctrl-C end an image push between chunks (resumable).
        receipt_out: also write the import receipt to this file (to carry back out for
            the next ``prai bundle create --since``).
        allow_unfit_software: load PrAI's wheelhouse (``software/``) even when it does not
            install on this machine (it is meant for another one). Without it such a load
            is refused before anything is hashed or written (exit 9).

    A delta bundle first checks that ``to`` holds its base (nothing is written otherwise),
    and ends in the full new state. Every load into ``to`` leaves an import receipt
    (receipt.py), with the pushed images when there were any.

    Raises:
        BundleError subclasses: the bundle is not intact (nothing written).
        BundleLoadError: the destination refused or cannot be read back.
        BundleBaseMismatch: a delta whose base the destination does not hold.
        BundleSoftwareError: the selected files include a wheelhouse that does not install
            on this machine (Python, CPU, glibc), and ``allow_unfit_software`` is false.
        UsageError: bad ``to``/``only``.
    """
    if to is None and images_to is None:
        raise UsageError(
            "nothing to load into: give --to DEST and/or --images-to REGISTRY",
            hint="e.g. --to /mnt/pvc/models or --images-to registry.internal:5000/mirror",
        )
    if base_image is not None and not (to or "").startswith("oci://"):
        raise UsageError("--base-image applies to oci:// destinations only")
    if images_to is not None:  # issue 14: reject a bad target before hashing anything
        from .images_push import parse_target

        parse_target(images_to)
    src: BundleSource = open_bundle(bundle)
    try:
        manifest_preview = None
        if only is not None or to is None:
            manifest_preview = parse_manifest(src.manifest_bytes)
        only_paths = None
        if manifest_preview is not None:
            only_paths = (
                {f.path for f in select_files(manifest_preview, only)} if to is not None else set()
            )
            if images_to is not None:
                only_paths |= {f.path for f in manifest_preview.files if f.role == "images"}
        # issue 14: a wheelhouse that cannot install here is refused before anything is written
        software_loaded = to is not None and (
            manifest_preview is None
            or any(f.role == "software" for f in select_files(manifest_preview, only))
        )
        report = verify_source(
            src, key=key, expected_root=expected_root, progress=progress, only_paths=only_paths,
            software_must_fit=software_loaded and not allow_unfit_software,
        )
        report.raise_for_problems()
        assert report.manifest is not None and report.root_digest is not None
        manifest, root = report.manifest, report.root_digest
        # --- issue 14: a delta is refused before any write unless the destination holds its base
        base = None
        if manifest.delta is not None:
            if to is None:
                raise UsageError("a delta bundle needs --to (the destination that holds its base)")
            from .delta import check_holds_base

            base = check_holds_base(
                to, manifest, only, endpoint_url=endpoint_url, ca_bundle=ca_bundle, env_file=env_file
            )
        if images_to is not None and to is not None:
            from .images_push import push_credentials

            push_credentials(manifest, images_to, authfile=authfile)  # a broken login: before any write
        if to is None:
            result = LoadResult(destination=str(images_to), root_digest=root)
        else:
            result = _load_files(
                src, manifest, root, to, only=only, ca_bundle=ca_bundle,
                endpoint_url=endpoint_url, env_file=env_file, authfile=authfile,
                base_image=base_image, progress=progress,
            )
        if software_loaded and report.software_fit:
            result.warnings.append(
                f"PrAI's wheelhouse was loaded but does not install on this machine: "
                f"{report.software_fit[0]}"
            )
        if images_to is not None:  # issue 14: carried container images -> internal registry
            from .images_push import push_images
            from .registry import DEFAULT_CHUNK_BYTES

            pushed = push_images(
                src, manifest, root, images_to, ca_bundle=ca_bundle,
                authfile=authfile, map_out=image_map_out,
                chunk_bytes=chunk_bytes or DEFAULT_CHUNK_BYTES, progress=progress, stop=stop,
            )
            result.images = pushed.to_json()
            result.details["images"] = result.images
        if to is not None:
            # finish a delta (drop what the new state no longer lists), leave a receipt
            from .receipt import record_load

            if base is not None:
                from .delta import remove_dropped

                result.details["removed"] = remove_dropped(
                    to, base, manifest, endpoint_url=endpoint_url, ca_bundle=ca_bundle, env_file=env_file
                )
            record_load(
                result, src, manifest, select_files(manifest, only), to, only=only,
                receipt_out=receipt_out, endpoint_url=endpoint_url, ca_bundle=ca_bundle,
                env_file=env_file, authfile=authfile,
            )
        # --- end issue 14
        return result
    finally:
        src.close()


def _load_files(
    src: BundleSource,
    manifest: Manifest,
    root: str,
    to: str,
    *,
    only: str | None,
    ca_bundle: str | Path | None,
    endpoint_url: str | None,
    env_file: str | Path | None,
    authfile: str | Path | None,
    base_image: str | None,
    progress: ProgressSink | None,
) -> LoadResult:
    """The ``--to`` part of :func:`load_bundle` (the bundle is verified)."""
    files = select_files(manifest, only)
    if to.startswith("s3://"):
        from .load_s3 import load_to_s3

        return load_to_s3(
            src,
            manifest,
            root,
            files,
            to,
            endpoint_url=endpoint_url,
            ca_bundle=ca_bundle,
            env_file=env_file,
            progress=progress,
        )
    if to.startswith("oci://"):
        from .load_oci import load_to_oci

        return load_to_oci(
            src,
            manifest,
            root,
            files,
            to,
            ca_bundle=ca_bundle,
            authfile=authfile,
            base_image=base_image,
            progress=progress,
        )
    if "://" in to:
        raise UsageError(
            f"--to {to!r}: unknown scheme",
            hint="use a directory path, s3://bucket/prefix or oci://registry/repo:tag",
        )
    from .load_dir import load_to_dir

    return load_to_dir(src, manifest, root, files, Path(to), progress=progress)


__all__ = ["LoadResult", "load_bundle", "select_files"]
