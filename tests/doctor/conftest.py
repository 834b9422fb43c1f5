"""Doctor fixtures: a PKI, a small real model with adapters, and moto's S3 server over TLS
with real credential checking (IAM auth on), holding a bundle loaded by `prai bundle load`."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests._support.net import free_port, wait_port
from tests.bundle.bundle_fixtures import build_adapter, build_tiny_llama
from tests.doctor.doctor_util import S3, Pki, build_pki

VENV_BIN = Path(sys.executable).parent


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return build_pki(tmp_path_factory.mktemp("doctor-pki"))


@pytest.fixture
def model_dir(tmp_path: Path) -> Path:
    """A sharded tiny Llama (2 shards + index, tokenizer, chat template), world-readable as
    `prai bundle load` leaves it (safetensors itself writes mode 0600 files)."""
    d = build_tiny_llama(tmp_path / "models" / "tiny-llama")
    for f in d.iterdir():
        f.chmod(0o644)
    return d


@pytest.fixture
def adapter_dirs(tmp_path: Path) -> dict[str, Path]:
    return {
        "faq": build_adapter(tmp_path / "adapters" / "faq", r=8),
        "legal": build_adapter(tmp_path / "adapters" / "legal", r=16,
                               targets=("q_proj", "k_proj", "v_proj", "o_proj")),
    }


@pytest.fixture(scope="module")
def s3(tmp_path_factory: pytest.TempPathFactory, pki: Pki) -> Iterator[S3]:
    """moto_server over HTTPS (cert for 127.0.0.1 signed by pki.ca) with IAM auth enforced
    after the first three requests (which create the user, its key and its policy); a bundle
    of the tiny model and two adapters is loaded into s3://kitchen/models/v1."""
    import boto3

    from prai.bundle import create_bundle, load_bundle

    d = tmp_path_factory.mktemp("doctor-s3")
    port = free_port()
    env = dict(os.environ, INITIAL_NO_AUTH_ACTION_COUNT="3")
    log = open(d / "moto.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen(
        [str(VENV_BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(port),
         "-c", str(pki.good[0]), "-k", str(pki.good[1])],
        stdout=log, stderr=subprocess.STDOUT, env=env)
    try:
        wait_port(port, proc=proc, what="moto_server", timeout_s=60)
        url = f"https://127.0.0.1:{port}"
        iam = boto3.client("iam", endpoint_url=url, region_name="us-east-1", verify=str(pki.ca),
                           aws_access_key_id="bootstrap", aws_secret_access_key="bootstrap")
        iam.create_user(UserName="kitchen")
        key = iam.create_access_key(UserName="kitchen")["AccessKey"]
        iam.put_user_policy(UserName="kitchen", PolicyName="all", PolicyDocument=(
            '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}'))
        ak, sk = key["AccessKeyId"], key["SecretAccessKey"]
        s3c = boto3.client("s3", endpoint_url=url, region_name="us-east-1", verify=str(pki.ca),
                           aws_access_key_id=ak, aws_secret_access_key=sk)
        s3c.create_bucket(Bucket="kitchen")
        bundle = d / "bundle"
        create_bundle(bundle, model=build_tiny_llama(d / "src" / "tiny-llama"),
                      adapters={"faq": build_adapter(d / "src" / "faq", r=8)})
        (d / "dc.env").write_text(f"AWS_ACCESS_KEY_ID={ak}\nAWS_SECRET_ACCESS_KEY={sk}\n")
        load_bundle(bundle, "s3://kitchen/models/v1", endpoint_url=url, ca_bundle=pki.ca,
                    env_file=d / "dc.env")
        yield S3(url, ak, sk, "kitchen", "models/v1", bundle)
    finally:
        proc.terminate()
        proc.wait(10)
        log.close()
