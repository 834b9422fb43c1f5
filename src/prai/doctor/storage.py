"""storage: the Data Connection (MinIO / S3, seed §5, §14) from where doctor runs.

Order (each step only when the previous passed): DNS, TCP connect, TLS handshake with the
configured CA (unknown authority / hostname mismatch / expiry told apart), credentials
(``ListBuckets``: a signature error means wrong keys; AccessDenied means the keys are
valid but not allowed to list), the bucket (``ListObjectsV2``), then the bundle's objects
under ``doctor.s3_prefix``: every file of the manifest present with its size and the
``x-amz-meta-sha256`` that ``prai bundle load s3://`` writes; with ``--deep`` each object
is downloaded and hashed (SHA-256) against the manifest.
"""

from __future__ import annotations

import hashlib
from typing import Any

from prai.doctor._net import probe
from prai.doctor.plan import DoctorPlan, S3Target
from prai.doctor.report import DoctorReport

AREA = "storage"
MANIFEST_KEY = ".prai-bundle.json"  # written last by `prai bundle load s3://`
_BAD_KEYS = {"InvalidAccessKeyId", "InvalidClientTokenId", "SignatureDoesNotMatch",
             "AuthorizationHeaderMalformed"}


def _client(s3: S3Target, ca: Any) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.session.Session().client(
        "s3", endpoint_url=s3.endpoint, region_name=s3.region,
        aws_access_key_id=s3.access_key, aws_secret_access_key=s3.secret_key,
        verify=str(ca) if ca else True,
        config=Config(retries={"max_attempts": 2, "mode": "standard"}, connect_timeout=5,
                      read_timeout=30, s3={"addressing_style": "path"}),
    )


def _code(exc: Any) -> str:
    return str(exc.response.get("Error", {}).get("Code", "?"))


def check_storage(plan: DoctorPlan, report: DoctorReport) -> None:
    """Add the storage checks to ``report`` (see the module docstring)."""
    s3 = plan.s3
    if s3 is None:
        report.add(AREA, "data connection", "SKIP", "no cluster.data_connection in kitchen.yaml")
        return
    if not probe(report, AREA, "endpoint", s3.endpoint, plan.ca_file):
        return
    if not s3.access_key or not s3.secret_key:
        report.add(AREA, "credentials", "FAIL",
                   f"{s3.access_key_env} / {s3.secret_key_env} are not set in this environment",
                   f"export {s3.access_key_env} and {s3.secret_key_env} with the Data "
                   "Connection's Access/Secret Key")
        return
    from botocore.exceptions import BotoCoreError, ClientError

    client = _client(s3, plan.ca_file)
    try:
        client.list_buckets()
        report.add(AREA, "credentials", "PASS", f"access key from {s3.access_key_env} accepted")
    except ClientError as exc:
        code = _code(exc)
        if code in _BAD_KEYS:
            which = s3.secret_key_env if code == "SignatureDoesNotMatch" else s3.access_key_env
            report.add(AREA, "credentials", "FAIL", f"S3 refused the keys: {code}",
                       f"check {which} against the Data Connection (Access Key / Secret Key)",
                       code=code)
            return
        report.add(AREA, "credentials", "PASS",
                   f"keys accepted (ListBuckets answered {code}: listing all buckets is not allowed)")
    except BotoCoreError as exc:
        report.add(AREA, "credentials", "FAIL", f"S3 request failed: {type(exc).__name__}",
                   "疎通: check the endpoint URL and the proxy settings (NO_PROXY)")
        return
    try:
        client.list_objects_v2(Bucket=s3.bucket, MaxKeys=1)
        report.add(AREA, "bucket", "PASS", f"bucket {s3.bucket!r} exists and can be listed")
    except ClientError as exc:
        code = _code(exc)
        if code in ("NoSuchBucket", "404"):
            report.add(AREA, "bucket", "FAIL", f"bucket {s3.bucket!r} does not exist at {s3.endpoint}",
                       f"create it (aws s3 mb s3://{s3.bucket} --endpoint-url {s3.endpoint}) or fix "
                       "cluster.data_connection.bucket", code=code)
        else:
            report.add(AREA, "bucket", "FAIL", f"bucket {s3.bucket!r}: {code}",
                       "grant the key s3:ListBucket on the bucket (MinIO policy)", code=code)
        return
    _check_objects(plan, s3, client, report)


def _manifest(plan: DoctorPlan, s3: S3Target, client: Any, report: DoctorReport) -> Any:
    from botocore.exceptions import ClientError

    from prai.bundle import read_manifest
    from prai.bundle.manifest import parse_manifest
    from prai.errors import PraiError

    local = next((m.bundle for m in plan.models if m.bundle is not None), None)
    if local is not None:
        try:
            return read_manifest(local)
        except PraiError as exc:
            report.add(AREA, "objects", "FAIL", f"bundle {local}: {exc.message}", exc.hint)
            return None
    key = f"{s3.prefix}/{MANIFEST_KEY}" if s3.prefix else MANIFEST_KEY
    try:
        data = client.get_object(Bucket=s3.bucket, Key=key)["Body"].read()
    except ClientError as exc:
        report.add(AREA, "objects", "FAIL",
                   f"s3://{s3.bucket}/{key} is missing ({_code(exc)}): the bundle load did not "
                   "finish or the prefix is wrong",
                   f"run `prai bundle load BUNDLE --to s3://{s3.bucket}/{s3.prefix}` again, or "
                   "fix doctor.s3_prefix")
        return None
    try:
        return parse_manifest(data, key)
    except PraiError as exc:
        report.add(AREA, "objects", "FAIL", f"s3://{s3.bucket}/{key}: {exc.message}", exc.hint)
        return None


def _check_objects(plan: DoctorPlan, s3: S3Target, client: Any, report: DoctorReport) -> None:
    from botocore.exceptions import ClientError

    if s3.prefix is None:
        report.add(AREA, "objects", "SKIP", "doctor.s3_prefix is not set: bundle objects not checked")
        return
    manifest = _manifest(plan, s3, client, report)
    if manifest is None:
        return
    missing, wrong, no_meta = [], [], []
    total = 0
    for f in manifest.files:
        key = f"{s3.prefix}/{f.path}" if s3.prefix else f.path
        try:
            head = client.head_object(Bucket=s3.bucket, Key=key)
        except ClientError:
            missing.append(f.path)
            continue
        if head["ContentLength"] != f.size:
            wrong.append(f"{f.path} is {head['ContentLength']} bytes, the manifest says {f.size}")
            continue
        meta = head.get("Metadata", {}).get("sha256")
        if meta is None:
            no_meta.append(f.path)
        elif meta != f.sha256:
            wrong.append(f"{f.path}: stored sha256 {meta[:12]}… differs from the manifest")
            continue
        if plan.deep:
            h = hashlib.sha256()
            body = client.get_object(Bucket=s3.bucket, Key=key)["Body"]
            while chunk := body.read(1 << 20):
                h.update(chunk)
            if h.hexdigest() != f.sha256:
                wrong.append(f"{f.path} is corrupted: SHA-256 {h.hexdigest()[:12]}… but the "
                             f"manifest says {f.sha256[:12]}…")
                continue
        total += f.size
    where = f"s3://{s3.bucket}/{s3.prefix}"
    if missing or wrong:
        shown = [*(f"{p} is missing" for p in missing), *wrong]
        more = f" (+{len(shown) - 3} more)" if len(shown) > 3 else ""
        report.add(AREA, "objects", "FAIL", f"{where}: {'; '.join(shown[:3])}{more}",
                   f"load the bundle again: prai bundle load BUNDLE --to {where} (it resumes)",
                   missing=missing, mismatched=wrong)
        return
    how = "size and SHA-256 (--deep)" if plan.deep else "size and stored sha256"
    report.add(AREA, "objects", "PASS",
               f"{where}: {len(manifest.files)} objects, {total} bytes, {how} match the manifest",
               objects=len(manifest.files), bytes=total)
    if no_meta:
        report.add(AREA, "objects metadata", "WARN",
                   f"{len(no_meta)} object(s) carry no sha256 metadata (e.g. {no_meta[0]})",
                   "run with --deep to hash them, or load with `prai bundle load`")


__all__ = ["check_storage"]
