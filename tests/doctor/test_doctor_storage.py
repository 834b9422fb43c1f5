"""storage against moto's real S3 server over TLS on 127.0.0.1 (IAM auth on): each failure
is created for real and the verdict and remediation asserted."""

from __future__ import annotations

from pathlib import Path

import boto3
import pytest

from prai.bundle import load_bundle
from prai.doctor import build_plan, run_doctor
from tests.doctor.doctor_util import S3, Pki, checks, cluster_kitchen, http_server


def _kitchen(tmp_path: Path, s3: S3, ca: Path, *, bucket: str | None = None,
             endpoint: str | None = None, prefix: str = "models/v1") -> Path:
    return cluster_kitchen(
        tmp_path / "kitchen.yaml", model_dir=tmp_path, ca=ca,
        data_connection={"name": "pantry", "endpoint": endpoint or s3.url,
                         "bucket": bucket or s3.bucket,
                         "credentials": {"access_key_id_env": "PANTRY_AK",
                                         "secret_access_key_env": "PANTRY_SK"}},
        doctor={"s3_prefix": prefix},
    )


def _run(kitchen: Path, env: dict[str, str], deep: bool = False):  # type: ignore[no-untyped-def]
    plan = build_plan(kitchen, env=env, deep=deep)
    return checks(run_doctor(plan, ["storage"]), "storage")


def _env(s3: S3, ak: str | None = None, sk: str | None = None) -> dict[str, str]:
    return {"PANTRY_AK": ak or s3.access_key, "PANTRY_SK": sk or s3.secret_key}


def _client(s3: S3, pki: Pki):  # type: ignore[no-untyped-def]
    return boto3.client("s3", endpoint_url=s3.url, region_name="us-east-1", verify=str(pki.ca),
                        aws_access_key_id=s3.access_key, aws_secret_access_key=s3.secret_key)


def test_everything_passes_with_deep_hashes(tmp_path: Path, s3: S3, pki: Pki) -> None:
    c = _run(_kitchen(tmp_path, s3, pki.ca), _env(s3), deep=True)
    for name in ("endpoint dns", "endpoint tcp", "endpoint tls", "credentials", "bucket", "objects"):
        assert c[name].status == "PASS", (name, c[name])
    assert "SHA-256 (--deep)" in c["objects"].evidence
    assert c["objects"].data["objects"] >= 8


def test_wrong_bucket(tmp_path: Path, s3: S3, pki: Pki) -> None:
    c = _run(_kitchen(tmp_path, s3, pki.ca, bucket="no-such-pantry"), _env(s3))
    assert c["credentials"].status == "PASS"
    assert c["bucket"].status == "FAIL"
    assert "'no-such-pantry' does not exist" in c["bucket"].evidence
    assert "aws s3 mb s3://no-such-pantry" in c["bucket"].remediation


def test_bad_access_key_and_bad_secret_are_told_apart(tmp_path: Path, s3: S3, pki: Pki) -> None:
    k = _kitchen(tmp_path, s3, pki.ca)
    c = _run(k, _env(s3, ak="AKIAWRONGWRONGWRONG0"))
    assert c["credentials"].status == "FAIL"
    assert c["credentials"].data["code"] == "InvalidAccessKeyId"
    assert "PANTRY_AK" in c["credentials"].remediation
    assert "bucket" not in c
    c = _run(k, _env(s3, sk="wrong-secret"))
    assert c["credentials"].data["code"] == "SignatureDoesNotMatch"
    assert "PANTRY_SK" in c["credentials"].remediation
    assert "wrong-secret" not in str(c["credentials"])


def test_missing_credentials(tmp_path: Path, s3: S3, pki: Pki) -> None:
    c = _run(_kitchen(tmp_path, s3, pki.ca), {})
    assert c["credentials"].status == "FAIL"
    assert "export PANTRY_AK and PANTRY_SK" in c["credentials"].remediation


def test_wrong_ca_is_unknown_authority(tmp_path: Path, s3: S3, pki: Pki) -> None:
    c = _run(_kitchen(tmp_path, s3, pki.other_ca), _env(s3))
    assert c["endpoint tcp"].status == "PASS"
    assert c["endpoint tls"].status == "FAIL"
    assert c["endpoint tls"].data["tls"] == "unknown_ca"
    assert "社内CA" in c["endpoint tls"].remediation and "--insecure" in c["endpoint tls"].remediation
    assert "credentials" not in c


def test_dns_and_tcp_failures(tmp_path: Path, s3: S3, pki: Pki) -> None:
    c = _run(_kitchen(tmp_path, s3, pki.ca, endpoint="https://minio.kitchen.invalid:9000"), _env(s3))
    assert c["endpoint dns"].status == "FAIL"
    assert "疎通" in c["endpoint dns"].remediation
    c = _run(_kitchen(tmp_path, s3, pki.ca, endpoint="https://127.0.0.1:9"), _env(s3))
    assert c["endpoint tcp"].status == "FAIL"
    assert "Connection refused" in c["endpoint tcp"].evidence


def test_missing_and_corrupted_objects(tmp_path: Path, s3: S3, pki: Pki) -> None:
    env_file = tmp_path / "dc.env"
    env_file.write_text(f"AWS_ACCESS_KEY_ID={s3.access_key}\nAWS_SECRET_ACCESS_KEY={s3.secret_key}\n")
    load_bundle(s3.bundle, "s3://kitchen/models/broken", endpoint_url=s3.url, ca_bundle=pki.ca,
                env_file=env_file)
    client = _client(s3, pki)
    k = _kitchen(tmp_path, s3, pki.ca, prefix="models/broken")
    # same size, same sha256 metadata, different bytes: only --deep sees it
    key = "models/broken/model/config.json"
    head = client.head_object(Bucket="kitchen", Key=key)
    body = client.get_object(Bucket="kitchen", Key=key)["Body"].read()
    client.put_object(Bucket="kitchen", Key=key, Body=body.replace(b"llama", b"LLAMA"),
                      Metadata=head["Metadata"])
    assert _run(k, _env(s3))["objects"].status == "PASS"
    deep = _run(k, _env(s3), deep=True)["objects"]
    assert deep.status == "FAIL" and "model/config.json is corrupted" in deep.evidence
    client.delete_object(Bucket="kitchen", Key="models/broken/model/tokenizer.json")
    c = _run(k, _env(s3))["objects"]
    assert c.status == "FAIL"
    assert "model/tokenizer.json is missing" in c.evidence
    assert "prai bundle load" in c.remediation and "s3://kitchen/models/broken" in c.remediation


def test_wrong_prefix_has_no_manifest(tmp_path: Path, s3: S3, pki: Pki) -> None:
    c = _run(_kitchen(tmp_path, s3, pki.ca, prefix="models/v9"), _env(s3))["objects"]
    assert c.status == "FAIL"
    assert "models/v9/.prai-bundle.json is missing" in c.evidence


@pytest.fixture(autouse=True)
def _no_aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE"):
        monkeypatch.delenv(k, raising=False)


@pytest.mark.parametrize(("which", "kind"), [
    ("unknown", "unknown_ca"), ("wrong_host", "hostname_mismatch"), ("expired", "expired")])
def test_endpoint_certificate_failures(tmp_path: Path, s3: S3, pki: Pki, which: str, kind: str) -> None:
    with http_server(tls=getattr(pki, which)) as url:
        c = _run(_kitchen(tmp_path, s3, pki.ca, endpoint=url), _env(s3))
    assert c["endpoint tcp"].status == "PASS"
    assert c["endpoint tls"].status == "FAIL" and c["endpoint tls"].data["tls"] == kind
    assert "証明書" in c["endpoint tls"].remediation or "社内CA" in c["endpoint tls"].remediation
    assert "credentials" not in c
