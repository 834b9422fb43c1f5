"""Images through the CLI as a user runs it: `prai bundle create --images-from`,
`prai bundle load --images-to`, then `prai render --image-map` with the map it wrote."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.bundle.bundle_fixtures import PKI, Registry
from tests.bundle.oci_fixtures import Layout, PlainRegistry, skopeo

REPO = Path(__file__).resolve().parents[2]


def _prai(*args: object, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "prai.cli.main", *map(str, args)],
        capture_output=True, text=True, cwd=cwd, timeout=180,
        env={**os.environ, "COLUMNS": "200"},
    )


def test_cli_create_load_and_render(
    tmp_path: Path, minilm: Path, layout: Layout, connected: PlainRegistry, registry: Registry,
    pki: PKI, authfile: Path,
) -> None:
    for src, dst in (("app-1", "rhoai/vllm:0.8"), ("multi-1", "prai/prai:1"),
                     ("app-1", "models/llama:1")):
        skopeo("copy", "--all", "--preserve-digests", "--dest-tls-verify=false",
               f"oci:{layout.path}:{src}", f"docker://{connected.host}/{dst}")
    listing = tmp_path / "images.txt"
    listing.write_text(f"# what the kitchen runs\n{connected.host}/rhoai/vllm:0.8\n\n"
                       f"{connected.host}/prai/prai@{layout.index_digest}  # gateway\n"
                       f"{connected.host}/models/llama@{layout.app.digest}\n")
    refused = _prai("bundle", "create", "-o", tmp_path / "b", "--model", minilm,
                    "--images-from", listing)
    assert refused.returncode == 2 and "a tag is not a pinned image" in refused.stderr
    assert "--allow-tag" in refused.stderr and not (tmp_path / "b").exists()
    made = _prai("bundle", "create", "-o", tmp_path / "b", "--model", minilm,
                 "--images-from", listing, "--allow-tag", "--json")
    assert made.returncode == 0, made.stderr
    images = json.loads(made.stdout)["images"]
    assert [i["digest"] for i in images] == [layout.app.digest, layout.index_digest,
                                             layout.app.digest]
    text = _prai("bundle", "inspect", tmp_path / "b")
    assert "carried, linux/amd64, linux/arm64" in text.stdout

    no_login = _prai("bundle", "load", tmp_path / "b", "--images-to", f"{registry.host}/m",
                     "--ca-bundle", pki.ca_cert, "--image-map-out", tmp_path / "map.json")
    assert no_login.returncode == 19 and "needs a login" in no_login.stderr, no_login.stderr
    loaded = _prai("bundle", "load", tmp_path / "b", "--images-to", f"{registry.host}/m",
                   "--ca-bundle", pki.ca_cert, "--authfile", authfile,
                   "--image-map-out", tmp_path / "map.json")
    assert loaded.returncode == 0, loaded.stderr
    assert "pushed 3 images" in loaded.stdout and "ImageDigestMirrorSet" in loaded.stdout
    assert (tmp_path / "map.idms.yaml").is_file()

    site = tmp_path / "site"
    shutil.copytree(REPO / "examples/cluster", site / "cluster")
    doc = yaml.safe_load((REPO / "examples/kitchen-cluster-modelcar.yaml").read_text())
    doc["cluster"]["registry"] = registry.host
    del doc["cluster"]["images"]
    doc["cluster"]["models"][0]["storage"]["oci"] = {"source": f"{connected.host}/models/llama"}
    (site / "kitchen.yaml").write_text(yaml.safe_dump(doc, allow_unicode=True))
    out = _prai("render", site / "kitchen.yaml", "-o", tmp_path / "out",
                "--image-map", tmp_path / "map.json")
    assert out.returncode == 0, out.stderr
    rt = yaml.safe_load(next((tmp_path / "out").rglob("servingruntime-*.yaml")).read_text())
    assert rt["spec"]["containers"][0]["image"] == \
        f"{registry.host}/m/rhoai/vllm@{layout.app.digest}"
    isvc = yaml.safe_load(next((tmp_path / "out").rglob("inferenceservice-*.yaml")).read_text())
    assert isvc["spec"]["predictor"]["model"]["storageUri"] == \
        f"oci://{registry.host}/m/models/llama@{layout.app.digest}"


def test_progress_in_logs_is_periodic_plain_lines(capsys: pytest.CaptureFixture[str]) -> None:
    """Not a terminal: a line with bytes, bytes/s and ETA every interval (here: every call),
    and a last line when the phase ends (the one progress reporter every command uses)."""
    import sys

    from prai.cli._progress import ByteProgress

    with ByteProgress(interval_s=0, stream=sys.stderr, tty=False) as p:
        p.start("pushing images", 4 << 20)
        p.advance(1 << 20)
        p.advance(1 << 20)
    lines = capsys.readouterr().err.splitlines()
    assert lines[0].startswith("pushing images: 1.0 MiB of 4.0 MiB (25%), "), lines
    assert "/s, ETA " in lines[0] and lines[1].startswith("pushing images: 2.0 MiB of 4.0 MiB"), lines
    assert lines[-1].startswith("pushing images: done"), lines

# --- Docker credential helpers (credHelpers / credsStore in config.json) ---------------------

FAKE_HELPER = """#!/bin/sh
# a Docker credential helper as docker-credential-helpers implement it: `get` reads the
# server address on stdin and answers {"ServerURL", "Username", "Secret"}
[ "$1" = get ] || exit 3
read -r server || true
printf '%s\\n' "$server" >> "$HELPER_LOG"
if [ "$server" = "$HELPER_HOST" ]; then
  printf '{"ServerURL":"%s","Username":"%s","Secret":"%s"}\\n' "$server" "$HELPER_USER" "$HELPER_SECRET"
else
  echo "credentials not found in native keychain"; exit 1
fi
"""


def _helper_env(tmp_path: Path, registry: Registry, config: dict[str, object]) -> dict[str, str]:
    """PATH with docker-credential-praitest, DOCKER_CONFIG with ``config``, no other login."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    helper = bin_dir / "docker-credential-praitest"
    helper.write_text(FAKE_HELPER)
    helper.chmod(0o755)
    docker = tmp_path / "docker"
    docker.mkdir(exist_ok=True)
    (docker / "config.json").write_text(json.dumps(config))
    env = {k: v for k, v in os.environ.items()
           if k not in ("PRAI_REGISTRY_USERNAME", "PRAI_REGISTRY_PASSWORD", "REGISTRY_AUTH_FILE",
                        "XDG_RUNTIME_DIR")}
    return env | {
        "PATH": f"{bin_dir}:{env.get('PATH', '')}", "DOCKER_CONFIG": str(docker), "COLUMNS": "200",
        "HELPER_LOG": str(tmp_path / "helper.log"), "HELPER_HOST": registry.host,
        "HELPER_USER": registry.user, "HELPER_SECRET": registry.password,
    }


def _run(env: dict[str, str], *args: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "prai.cli.main", *map(str, args)],
                          capture_output=True, text=True, timeout=180, env=env)


def test_docker_credential_helpers(
    tmp_path: Path, layout: Layout, registry: Registry, pki: PKI
) -> None:
    from prai.bundle import create_bundle
    from prai.bundle.images_carry import ImageCarryRequest

    bundle = tmp_path / "b"
    create_bundle(bundle, model=None,
                  carry=ImageCarryRequest([f"oci:{layout.path}:app-1=quay.io/corp/helper:1"]))
    push = ("bundle", "load", bundle, "--images-to", f"{registry.host}/helper",
            "--ca-bundle", pki.ca_cert, "--image-map-out", tmp_path / "map.json")

    # credHelpers: the helper for this registry is asked, with the registry on stdin
    env = _helper_env(tmp_path, registry, {"auths": {registry.host: {}},
                                           "credHelpers": {registry.host: "praitest"}})
    out = _run(env, *push)
    assert out.returncode == 0, out.stderr
    assert "pushed 1 images" in out.stdout
    assert (tmp_path / "helper.log").read_text().split() == [registry.host]
    certs = tmp_path / "certs"
    certs.mkdir()
    (certs / "ca.crt").write_bytes(pki.ca_cert.read_bytes())
    raw = skopeo("inspect", "--raw", "--cert-dir", str(certs), "--creds",
                 f"{registry.user}:{registry.password}",
                 f"docker://{registry.host}/helper/corp/helper:1").stdout
    assert "sha256:" + hashlib.sha256(raw.encode()).hexdigest() == layout.app.digest

    # credsStore: the default helper for every registry (docker login's "desktop", "pass"…)
    (tmp_path / "map.json").unlink()
    env = _helper_env(tmp_path, registry, {"credsStore": "praitest"})
    out = _run(env, *push)
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "map.json").is_file()

    # a helper that has nothing for this registry: anonymous, so the registry asks for a login
    env = _helper_env(tmp_path, registry, {"credsStore": "praitest"}) | {"HELPER_HOST": "other:1"}
    out = _run(env, *push)
    assert out.returncode == 19 and "needs a login" in out.stderr, out.stderr

    # a helper that is not installed: one line, the fix, and nothing written
    env = _helper_env(tmp_path, registry, {"credsStore": "desktop"})
    (tmp_path / "map.json").unlink()
    out = _run(env, *push[:3], "--to", tmp_path / "pvc", *push[3:])
    assert out.returncode == 2, out.stderr
    lines = out.stderr.splitlines()
    assert len(lines) == 2 and lines[0].startswith("error: ") and "Traceback" not in out.stderr
    assert "docker-credential-desktop is not installed" in lines[0]
    assert lines[1].startswith("hint: install docker-credential-desktop")
    assert not (tmp_path / "pvc").exists() and not (tmp_path / "map.json").exists()


def test_credential_helper_runs_once_per_registry(
    tmp_path: Path, minilm: Path, layout: Layout, registry: Registry, pki: PKI
) -> None:
    """`--to oci://REGISTRY/…` and `--images-to REGISTRY/…` in one load: the modelcar push,
    the login check before any write, the image push and the receipt all need the same
    registry's login; the helper runs once."""
    from prai.bundle import create_bundle
    from prai.bundle.images_carry import ImageCarryRequest

    bundle = tmp_path / "b"
    create_bundle(bundle, model=minilm,
                  carry=ImageCarryRequest([f"oci:{layout.path}:app-1=quay.io/corp/once:1"]))
    env = _helper_env(tmp_path, registry, {"credHelpers": {registry.host: "praitest"}})
    out = _run(env, "bundle", "load", bundle, "--to", f"oci://{registry.host}/once/model:1",
               "--images-to", f"{registry.host}/once", "--ca-bundle", pki.ca_cert,
               "--image-map-out", tmp_path / "map.json")
    assert out.returncode == 0, out.stderr
    assert "pushed 1 images" in out.stdout
    assert (tmp_path / "helper.log").read_text().split() == [registry.host]
    # --to DIR and --images-to: once as well
    (tmp_path / "helper.log").unlink()
    out = _run(env, "bundle", "load", bundle, "--to", tmp_path / "pvc", "--images-to",
               f"{registry.host}/once2", "--ca-bundle", pki.ca_cert,
               "--image-map-out", tmp_path / "map2.json")
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "helper.log").read_text().split() == [registry.host]


def test_identity_token_from_credential_helper(
    tmp_path: Path, layout: Layout, registry: Registry, pki: PKI
) -> None:
    """A helper answering `Username: <token>` holds an OAuth2 refresh token: it is traded at
    the registry's token service (POST grant_type=refresh_token), with the GET fallback for
    services that take no POST; a refused token is one line and nothing is written."""
    from prai.bundle import create_bundle
    from prai.bundle.images_carry import ImageCarryRequest
    from tests.bundle.oci_fixtures import start_token_registry

    d = tmp_path / "token-registry"
    d.mkdir()
    gen = start_token_registry(d, d, pki.server_cert, pki.server_key)
    reg = next(gen)
    try:
        bundle = tmp_path / "b"
        create_bundle(bundle, model=None, carry=ImageCarryRequest(
            [f"oci:{layout.path}:multi-1=quay.io/corp/multi:1"]))
        env = _helper_env(tmp_path, registry, {"credHelpers": {reg.host: "praitest"}}) | {
            "HELPER_HOST": reg.host, "HELPER_USER": "<token>", "HELPER_SECRET": reg.refresh_token}

        def push(prefix: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
            return _run(env, "bundle", "load", bundle, "--images-to", f"{reg.host}/{prefix}",
                        "--ca-bundle", pki.ca_cert, "--image-map-out", tmp_path / f"{prefix}.json")

        out = push("m", env)
        assert out.returncode == 0, out.stderr
        assert set(reg.grants) == {"POST refresh_token"}, reg.grants
        certs = tmp_path / "certs"
        certs.mkdir()
        (certs / "ca.crt").write_bytes(pki.ca_cert.read_bytes())
        raw = skopeo("inspect", "--raw", "--cert-dir", str(certs), "--creds",
                     f"{reg.user}:{reg.password}", f"docker://{reg.host}/m/corp/multi:1").stdout
        assert "sha256:" + hashlib.sha256(raw.encode()).hexdigest() == layout.index_digest

        # a token service that takes no POST (GCR answers 404): GET with the token as password
        reg.grants.clear()
        reg.post_status.append(404)
        out = push("n", env)
        assert out.returncode == 0, out.stderr
        assert reg.grants[:2] == ["POST 404", "GET refresh"] and "GET basic" not in reg.grants
        reg.post_status.clear()

        # Docker's config.json `identitytoken` (docker login to an OAuth registry): the same
        env2 = env | {"DOCKER_CONFIG": str(tmp_path / "docker2")}
        (tmp_path / "docker2").mkdir()
        (tmp_path / "docker2/config.json").write_text(json.dumps(
            {"auths": {reg.host: {"auth": "eDp5", "identitytoken": reg.refresh_token}}}))
        out = push("o", env2)
        assert out.returncode == 0, out.stderr

        # a revoked token: one line and its fix, no map written
        out = push("p", env | {"HELPER_SECRET": "revoked"})
        assert out.returncode == 19, out.stderr
        lines = out.stderr.splitlines()
        assert len(lines) == 2 and "Traceback" not in out.stderr, out.stderr
        assert "refused the identity token" in lines[0] and "log in again" in lines[1]
        assert not (tmp_path / "p.json").exists()
    finally:
        for _ in gen:
            pass
