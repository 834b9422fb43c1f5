"""prai bundle load --to s3://: moto's real S3 server on 127.0.0.1, over HTTP and HTTPS."""

from __future__ import annotations

import boto3
import pytest

from prai.bundle import create_bundle, load_bundle, read_manifest
from prai.errors import BundleDigestMismatch, BundleLoadError
from tests.bundle.bundle_fixtures import PKI, S3Server


def _client(s3: S3Server, verify: str | bool = True):  # type: ignore[no-untyped-def]
    return boto3.client(
        "s3",
        endpoint_url=s3.url,
        region_name="us-east-1",
        verify=verify,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def _objects(c, bucket: str) -> dict[str, int]:  # type: ignore[no-untyped-def]
    out = {}
    for page in c.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        out |= {o["Key"]: o["Size"] for o in page.get("Contents", [])}
    return out


def test_load_minilm_resumable(tmp_path, minilm, s3_http, s3_env) -> None:  # type: ignore[no-untyped-def]
    c = _client(s3_http)
    c.create_bucket(Bucket="models")
    create_bundle(tmp_path / "b.tar", model=minilm)
    m = read_manifest(tmp_path / "b.tar")
    res = load_bundle(tmp_path / "b.tar", "s3://models/minilm/v1", endpoint_url=s3_http.url)
    assert res.written == 14 and res.location == "s3://models/minilm/v1/model"  # 13 + the SBOM
    objs = _objects(c, "models")
    for f in m.files:
        assert objs[f"minilm/v1/{f.path}"] == f.size
        head = c.head_object(Bucket="models", Key=f"minilm/v1/{f.path}")
        assert head["Metadata"]["sha256"] == f.sha256
    body = c.get_object(Bucket="models", Key="minilm/v1/model/model.safetensors")["Body"].read()
    assert body == (minilm / "model.safetensors").read_bytes()  # multipart upload reassembled
    assert "minilm/v1/.prai-bundle.json" in objs
    # interrupted load: one object missing, one replaced by other bytes
    c.delete_object(Bucket="models", Key="minilm/v1/model/vocab.txt")
    c.put_object(Bucket="models", Key="minilm/v1/model/config.json", Body=b"{}")
    again = load_bundle(tmp_path / "b.tar", "s3://models/minilm/v1", endpoint_url=s3_http.url)
    assert again.written == 2 and again.skipped == 12  # 11 + the SBOM
    assert (
        c.get_object(Bucket="models", Key="minilm/v1/model/config.json")["Body"].read()
        == (minilm / "config.json").read_bytes()
    )
    assert (
        load_bundle(tmp_path / "b.tar", "s3://models/minilm/v1", endpoint_url=s3_http.url).written
        == 0
    )


def test_data_connection_env_file(tmp_path, tiny_llama, adapters, s3_http, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE"):
        monkeypatch.delenv(k, raising=False)
    c = _client(s3_http)
    c.create_bucket(Bucket="lora")
    create_bundle(tmp_path / "b", model=tiny_llama, adapters=adapters)
    env = tmp_path / "dc.env"
    env.write_text(
        f"# OpenShift AI Data Connection\nAWS_ACCESS_KEY_ID=testing\n"
        f"AWS_SECRET_ACCESS_KEY='testing'\nAWS_S3_ENDPOINT={s3_http.url}\n"
        "AWS_DEFAULT_REGION=us-east-1\nAWS_S3_BUCKET=lora\n"
    )
    res = load_bundle(tmp_path / "b", "s3://lora/adapters-v2", only="adapters", env_file=env)
    assert res.written == 4
    assert sorted(_objects(c, "lora")) == [
        "adapters-v2/.prai-bundle.json",
        "adapters-v2/.prai-import-receipt.json",
        "adapters-v2/adapters/faq/adapter_config.json",
        "adapters-v2/adapters/faq/adapter_model.safetensors",
        "adapters-v2/adapters/legal/adapter_config.json",
        "adapters-v2/adapters/legal/adapter_model.safetensors",
    ]


def test_tls_with_internal_ca(tmp_path, tiny_llama, s3_https, pki: PKI, s3_env) -> None:  # type: ignore[no-untyped-def]
    _client(s3_https, verify=str(pki.ca_cert)).create_bucket(Bucket="secure")
    create_bundle(tmp_path / "b", model=tiny_llama)
    with pytest.raises(BundleLoadError, match="not trusted") as exc:
        load_bundle(tmp_path / "b", "s3://secure/m", endpoint_url=s3_https.url)
    assert "--ca-bundle" in exc.value.hint
    res = load_bundle(
        tmp_path / "b", "s3://secure/m", endpoint_url=s3_https.url, ca_bundle=pki.ca_cert
    )
    assert res.written == 8  # 7 + the SBOM


def test_errors(tmp_path, tiny_llama, s3_http, s3_env) -> None:  # type: ignore[no-untyped-def]
    create_bundle(tmp_path / "b", model=tiny_llama)
    with pytest.raises(BundleLoadError, match="NoSuchBucket") as exc:
        load_bundle(tmp_path / "b", "s3://no-such-bucket/x", endpoint_url=s3_http.url)
    assert "create the bucket" in exc.value.hint
    # a corrupted bundle is refused before any upload
    _client(s3_http).create_bucket(Bucket="clean")
    cfg = tmp_path / "b/model/config.json"
    cfg.write_text(cfg.read_text().replace("2048", "4096"))
    with pytest.raises(BundleDigestMismatch, match=r"model/config\.json"):
        load_bundle(tmp_path / "b", "s3://clean/x", endpoint_url=s3_http.url)
    assert _objects(_client(s3_http), "clean") == {}


def test_interrupted_multipart_upload_resumes(tmp_path, minilm, s3_http, s3_env) -> None:  # type: ignore[no-untyped-def]
    """A large shard whose upload was cut off keeps the parts already stored."""
    from prai.bundle.load_s3 import PART_BYTES

    c = _client(s3_http)
    c.create_bucket(Bucket="resume")
    create_bundle(tmp_path / "b", model=minilm)
    data = (minilm / "model.safetensors").read_bytes()
    key = "m/model/model.safetensors"
    m = read_manifest(tmp_path / "b")
    sha = next(f.sha256 for f in m.files if f.path == "model/model.safetensors")
    up = c.create_multipart_upload(Bucket="resume", Key=key, Metadata={"sha256": sha})
    for n in (1, 2, 3):
        body = data[(n - 1) * PART_BYTES : n * PART_BYTES]
        if n == 2:
            body = b"\0" * len(body)  # a damaged part is uploaded again
        c.upload_part(Bucket="resume", Key=key, UploadId=up["UploadId"], PartNumber=n, Body=body)
    res = load_bundle(tmp_path / "b", "s3://resume/m", endpoint_url=s3_http.url)
    assert res.details["reused_parts"] == 2
    assert c.get_object(Bucket="resume", Key=key)["Body"].read() == data
    assert c.head_object(Bucket="resume", Key=key)["Metadata"]["sha256"] == sha
    assert c.list_multipart_uploads(Bucket="resume").get("Uploads", []) == []
