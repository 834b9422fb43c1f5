"""Load into S3 / MinIO with boto3 (what KServe's storage initializer reads).

Object keys are ``PREFIX/<bundle path>`` (``PREFIX/model/config.json``…); each object
carries ``x-amz-meta-sha256`` (the file's SHA-256) and is uploaded with S3's SHA-256
part checksums, so the server checks every part it receives. An object already present
with the same size and ``sha256`` metadata is skipped, and a large file whose multipart
upload was cut off keeps the parts already stored, which makes the load resumable.
``PREFIX/.prai-bundle.json`` (the manifest) is written last and marks a complete load.
TLS is always verified: ``--ca-bundle`` names the internal CA; there is no switch to
turn verification off.
"""

from __future__ import annotations

import base64
import hashlib
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from prai.errors import BundleLoadError, ConfigError, UsageError
from prai.settings import get_settings

from ._hashing import NullProgress, ProgressSink
from ._loaded import LoadResult
from ._source import BundleSource
from .manifest import MANIFEST_NAME, FileEntry, Manifest

PART_BYTES = 16 * 1024 * 1024  # multipart chunk: memory per upload thread is one chunk
THRESHOLD_BYTES = 64 * 1024 * 1024
FILE_WORKERS = 4
PART_WORKERS = 4


def read_env_file(path: str | Path) -> dict[str, str]:
    """KEY=VALUE lines (``#`` comments, optional ``export`` and quotes), as an OpenShift AI
    Data Connection secret exported to a file (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
    AWS_S3_ENDPOINT, AWS_DEFAULT_REGION, AWS_S3_BUCKET).

    Raises:
        ConfigError: unreadable file or a line without ``=`` (line number given, value never).
    """
    p = Path(path)
    try:
        lines = p.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ConfigError(f"--env-file {p}: {exc.strerror}") from None
    env: dict[str, str] = {}
    for n, line in enumerate(lines, 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        line = line.removeprefix("export ").strip()
        k, sep, v = line.partition("=")
        if not sep or not k.strip():
            raise ConfigError(f"--env-file {p}: line {n} is not KEY=VALUE")
        v = v.strip()
        if len(v) >= 2 and v[0] == v[-1] and v[0] in "'\"":
            v = v[1:-1]
        env[k.strip()] = v
    return env


def _client(endpoint_url: str | None, ca_bundle: str | Path | None, env: dict[str, str]) -> Any:
    import boto3
    from botocore.config import Config

    kwargs: dict[str, Any] = {}
    if env.get("AWS_ACCESS_KEY_ID"):
        kwargs["aws_access_key_id"] = env["AWS_ACCESS_KEY_ID"]
        kwargs["aws_secret_access_key"] = env.get("AWS_SECRET_ACCESS_KEY")
        if env.get("AWS_SESSION_TOKEN"):
            kwargs["aws_session_token"] = env["AWS_SESSION_TOKEN"]
    region = env.get("AWS_DEFAULT_REGION") or env.get("AWS_REGION") or "us-east-1"
    verify: bool | str = True
    if ca_bundle is not None:
        if not Path(ca_bundle).is_file():
            raise ConfigError(f"--ca-bundle {ca_bundle}: no such file")
        verify = str(ca_bundle)
    config = Config(
        retries={"max_attempts": 5, "mode": "standard"},
        max_pool_connections=FILE_WORKERS * PART_WORKERS + 2,
        s3={"addressing_style": "path"},
        request_checksum_calculation="when_required",
    )
    return boto3.session.Session().client(
        "s3",
        endpoint_url=endpoint_url,
        region_name=region,
        verify=verify,
        config=config,
        **kwargs,
    )


def _translate(exc: Exception, url: str) -> BundleLoadError:
    from botocore.exceptions import (
        ClientError,
        EndpointConnectionError,
        NoCredentialsError,
        SSLError,
    )

    if isinstance(exc, SSLError):
        return BundleLoadError(
            f"TLS to {url} failed: the server certificate is not trusted",
            hint="pass the internal CA with --ca-bundle ca.pem (seed §10); verification stays on",
        )
    if isinstance(exc, EndpointConnectionError):
        return BundleLoadError(
            f"cannot reach the S3 endpoint {url}",
            hint="check --endpoint-url, DNS and NetworkPolicy (seed §5 Tips)",
        )
    if isinstance(exc, NoCredentialsError):
        return BundleLoadError(
            "no S3 credentials",
            hint="set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or pass --env-file with the "
            "Data Connection's values",
        )
    if isinstance(exc, ClientError):
        code = exc.response.get("Error", {}).get("Code", "?")
        if code == "404" and getattr(exc, "operation_name", "") == "HeadBucket":
            code = "NoSuchBucket"
        hints = {
            "NoSuchBucket": "create the bucket first (aws s3 mb s3://NAME --endpoint-url …)",
            "AccessDenied": "the access key may not write to this bucket/prefix",
            "InvalidAccessKeyId": "check AWS_ACCESS_KEY_ID (Data Connection)",
            "SignatureDoesNotMatch": "check AWS_SECRET_ACCESS_KEY (Data Connection)",
        }
        return BundleLoadError(
            f"S3 refused the request at {url}: {code}", hint=hints.get(code, BundleLoadError.hint)
        )
    return BundleLoadError(f"S3 upload to {url} failed: {exc.__class__.__name__}")


def _b64_sha256(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def _multipart_resumable(
    client: Any, src: BundleSource, bucket: str, key: str, f: FileEntry, sink: ProgressSink
) -> int:
    """Upload one large file in PART_BYTES parts, reusing the parts of an unfinished
    multipart upload of the same key (left by an interrupted load).

    A stored part is reused when its size and ETag (the MD5 of the part, as S3 and MinIO
    compute it for unencrypted parts) match the bytes of the bundle file.

    Returns:
        Number of parts reused.
    """
    upload_id = None
    listing = client.list_multipart_uploads(Bucket=bucket, Prefix=key)
    candidates = [u for u in listing.get("Uploads", []) if u["Key"] == key]
    if candidates:
        upload_id = max(candidates, key=lambda u: u["Initiated"])["UploadId"]
    stored: dict[int, dict[str, Any]] = {}
    if upload_id is not None:
        for page in client.get_paginator("list_parts").paginate(
            Bucket=bucket, Key=key, UploadId=upload_id
        ):
            stored |= {p["PartNumber"]: p for p in page.get("Parts", [])}
    else:
        upload_id = client.create_multipart_upload(
            Bucket=bucket, Key=key, Metadata={"sha256": f.sha256}, ChecksumAlgorithm="SHA256"
        )["UploadId"]
    count = (f.size + PART_BYTES - 1) // PART_BYTES
    reused = 0

    def one(number: int) -> dict[str, Any]:
        nonlocal reused
        with src.open(f.path) as fh:
            fh.seek((number - 1) * PART_BYTES)
            data = fh.read(PART_BYTES)
        old = stored.get(number)
        if (
            old is not None
            and old["Size"] == len(data)
            and old["ETag"].strip('"') == (hashlib.md5(data, usedforsecurity=False).hexdigest())
        ):
            reused += 1
            sink.advance(len(data))
            kept = {"PartNumber": number, "ETag": old["ETag"]}
            if old.get("ChecksumSHA256"):
                kept["ChecksumSHA256"] = old["ChecksumSHA256"]
            return kept
        checksum = _b64_sha256(data)
        resp = client.upload_part(
            Bucket=bucket,
            Key=key,
            UploadId=upload_id,
            PartNumber=number,
            Body=data,
            ChecksumAlgorithm="SHA256",
            ChecksumSHA256=checksum,
        )
        sink.advance(len(data))
        return {"PartNumber": number, "ETag": resp["ETag"], "ChecksumSHA256": checksum}

    with ThreadPoolExecutor(max_workers=PART_WORKERS) as pool:
        parts = list(pool.map(one, range(1, count + 1)))
    if any("ChecksumSHA256" not in p for p in parts):
        for p in parts:  # mixing reused parts (no checksum known) with new ones: send none
            p.pop("ChecksumSHA256", None)
    client.complete_multipart_upload(
        Bucket=bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": parts}
    )
    return reused


def load_to_s3(
    src: BundleSource,
    manifest: Manifest,
    root: str,
    files: list[FileEntry],
    to: str,
    *,
    endpoint_url: str | None = None,
    ca_bundle: str | Path | None = None,
    env_file: str | Path | None = None,
    progress: ProgressSink | None = None,
) -> LoadResult:
    """Upload ``files`` under ``s3://bucket/prefix``; see the module docstring.

    Raises:
        UsageError: no bucket in the URL. ConfigError: bad env file or CA path.
        BundleLoadError: S3 errors (TLS, credentials, missing bucket) or a read-back that
            does not match.
    """
    from boto3.s3.transfer import TransferConfig
    from botocore.exceptions import BotoCoreError, ClientError

    sink = progress or NullProgress()
    t0 = time.monotonic()
    bucket, _, prefix = to.removeprefix("s3://").partition("/")
    prefix = prefix.strip("/")
    if not bucket:
        raise UsageError(f"--to {to!r}: no bucket", hint="use s3://bucket/prefix")
    env = read_env_file(env_file) if env_file else {}
    settings = get_settings()
    endpoint = endpoint_url or env.get("AWS_S3_ENDPOINT") or settings.aws_s3_endpoint
    client = _client(endpoint, ca_bundle, env)
    url = endpoint or "AWS S3"
    tconf = TransferConfig(
        multipart_threshold=THRESHOLD_BYTES,
        multipart_chunksize=PART_BYTES,
        max_concurrency=PART_WORKERS,
        use_threads=True,
    )

    def key(f: FileEntry | str) -> str:
        rel = f if isinstance(f, str) else f.path
        return f"{prefix}/{rel}" if prefix else rel

    def present(f: FileEntry) -> bool:
        try:
            head = client.head_object(Bucket=bucket, Key=key(f))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise
        return bool(
            head["ContentLength"] == f.size and head.get("Metadata", {}).get("sha256") == f.sha256
        )

    result = LoadResult(
        destination=to,
        root_digest=root,
        files=len(files),
        location=f"s3://{bucket}/{key('model') if manifest.model else prefix}",
    )
    try:
        client.head_bucket(Bucket=bucket)
        with ThreadPoolExecutor(max_workers=FILE_WORKERS) as pool:
            have = list(pool.map(present, files))
        todo = [f for f, h in zip(files, have, strict=True) if not h]
        result.skipped = len(files) - len(todo)
        sink.start("uploading", sum(f.size for f in todo))

        reused_parts = 0

        def upload(f: FileEntry) -> None:
            nonlocal reused_parts
            extra = {"Metadata": {"sha256": f.sha256}, "ChecksumAlgorithm": "SHA256"}
            if f.size >= THRESHOLD_BYTES:
                reused_parts += _multipart_resumable(client, src, bucket, key(f), f, sink)
            elif src.kind == "dir":
                client.upload_file(
                    str(src.location / f.path),
                    bucket,
                    key(f),
                    ExtraArgs=extra,
                    Config=tconf,
                    Callback=sink.advance,
                )
            else:
                with src.open(f.path) as fh:
                    client.upload_fileobj(
                        fh, bucket, key(f), ExtraArgs=extra, Config=tconf, Callback=sink.advance
                    )

        with ThreadPoolExecutor(max_workers=FILE_WORKERS) as pool:
            list(pool.map(upload, todo))
        result.written = len(todo)
        result.details["reused_parts"] = reused_parts
        result.bytes_written = sum(f.size for f in todo)
        with ThreadPoolExecutor(max_workers=FILE_WORKERS) as pool:
            after = list(pool.map(present, files))
        bad = [f.path for f, ok in zip(files, after, strict=True) if not ok]
        if bad:
            raise BundleLoadError(
                f"after the upload, s3://{bucket}/{key(bad[0])} does not have the manifest's "
                "size and SHA-256",
                hint="another writer may use the same prefix; run the load again",
            )
        client.put_object(
            Bucket=bucket,
            Key=key("." + MANIFEST_NAME),
            Body=src.manifest_bytes,
            Metadata={"root-digest": root},
            ChecksumAlgorithm="SHA256",
        )
    except (ClientError, BotoCoreError) as exc:
        raise _translate(exc, url) from None
    result.details |= {
        "bucket": bucket,
        "prefix": prefix,
        "endpoint": url,
        "seconds": round(time.monotonic() - t0, 3),
    }
    return result
