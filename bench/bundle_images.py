"""Benchmark: pushing a carried image from a bundle (`prai bundle load --images-to`) vs
`skopeo copy oci:… docker://…` of the same OCI layout, side by side, interleaved rounds.

Setup (in ``--dir``, removed at the end unless ``--keep``):

* an OCI layout with one ~``--gib`` GiB image of ``--layers`` incompressible gzip-typed
  layers (random bytes, as compressed layers are) plus a config;
* a bundle made from it with ``prai bundle create --image oci:…`` (its ``images/`` is the
  layout both tools read);
* Debian's docker-registry on 127.0.0.1 with TLS (a CA made here) and htpasswd auth — the
  internal registry of the tests.

Each round starts a fresh registry (new port, empty storage: skopeo's blob-info cache
would otherwise mount blobs it saw in earlier rounds instead of uploading them) and runs,
in alternating order:

* prai: :func:`prai.bundle.images_push.push_images` in a fresh process (bundle already
  verified, as `load` does first), which reports its own peak RSS (``ru_maxrss``);
* skopeo: ``skopeo copy --preserve-digests oci:BUNDLE/images:REF docker://…``;
* re-push: prai again to the same repositories (every blob present: HEAD only), and
  skopeo again for comparison. prai's time is the push itself in a running process
  (client setup, every request); the one-time imports (httpx, httpcore, trio, yaml) are
  reported beside it.

Goals (issue 14): prai >= 0.9x skopeo's throughput; re-push <= 2 s; peak RSS < 200 MB.
Also printed once: the whole `prai bundle load --images-to` (verify + push) wall time.

    .venv/bin/python bench/bundle_images.py [--gib 1] [--layers 8] [--rounds 3] [--dir D]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

MT_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


def _sha(data: bytes) -> str:
    import hashlib

    return "sha256:" + hashlib.sha256(data).hexdigest()


def write_layout(root: Path, total: int, n_layers: int) -> str:
    """An OCI layout with one image of ``n_layers`` random layers; returns its ref name."""
    import hashlib

    blobs = root / "blobs" / "sha256"
    blobs.mkdir(parents=True)
    per = total // n_layers
    chunk = 1 << 20
    layers = []
    for i in range(n_layers):
        h = hashlib.sha256()
        tmp = blobs / f"tmp-{i}"
        with open(tmp, "wb") as f:
            left = per
            while left:
                data = os.urandom(min(chunk, left))
                f.write(data)
                h.update(data)
                left -= len(data)
        digest = "sha256:" + h.hexdigest()
        tmp.rename(blobs / digest[7:])
        layers.append({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                       "digest": digest, "size": per})
    config = json.dumps({"architecture": "amd64", "os": "linux",
                         "rootfs": {"type": "layers", "diff_ids": [ly["digest"] for ly in layers]},
                         "config": {}}).encode()
    (blobs / _sha(config)[7:]).write_bytes(config)
    manifest = json.dumps({"schemaVersion": 2, "mediaType": MT_MANIFEST,
                           "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                      "digest": _sha(config), "size": len(config)},
                           "layers": layers}).encode()
    (blobs / _sha(manifest)[7:]).write_bytes(manifest)
    (root / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    (root / "index.json").write_text(json.dumps({
        "schemaVersion": 2, "manifests": [{
            "mediaType": MT_MANIFEST, "digest": _sha(manifest), "size": len(manifest),
            "annotations": {"org.opencontainers.image.ref.name": "bench"}}]}))
    return "bench"


def make_pki(d: Path) -> tuple[Path, tuple[str, str]]:
    """A CA, a server certificate for 127.0.0.1 and an htpasswd file in ``d``."""
    import ipaddress

    import bcrypt
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    def name(cn: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])

    now = datetime.now(UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (x509.CertificateBuilder().subject_name(name("bench CA")).issuer_name(name("bench CA"))
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=2))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    srv = (x509.CertificateBuilder().subject_name(name("127.0.0.1")).issuer_name(ca.subject)
           .public_key(key.public_key()).serial_number(x509.random_serial_number())
           .not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=2))
           .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
           .add_extension(x509.SubjectAlternativeName(
               [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
           .sign(ca_key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    (d / "ca.pem").write_bytes(ca.public_bytes(pem))
    (d / "srv.pem").write_bytes(srv.public_bytes(pem))
    (d / "srv.key").write_bytes(key.private_bytes(pem, serialization.PrivateFormat.PKCS8,
                                                  serialization.NoEncryption()))
    user, pw = "bench", "bench-pw"
    (d / "htpasswd").write_bytes(user.encode() + b":" +
                                 bcrypt.hashpw(pw.encode(), bcrypt.gensalt(rounds=4)) + b"\n")
    return d / "ca.pem", (user, pw)


def start_registry(d: Path, pki: Path) -> tuple[subprocess.Popen[bytes], str]:
    """docker-registry on a free port with TLS and htpasswd (files from make_pki in pki)."""
    d.mkdir(parents=True)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    (d / "config.yml").write_text(f"""version: 0.1
log: {{level: error}}
storage: {{filesystem: {{rootdirectory: {d / "data"}}}, delete: {{enabled: true}}}}
http:
  addr: 127.0.0.1:{port}
  secret: bench
  tls: {{certificate: {pki / "srv.pem"}, key: {pki / "srv.key"}}}
auth: {{htpasswd: {{realm: bench, path: {pki / "htpasswd"}}}}}
""")
    exe = shutil.which("docker-registry") or shutil.which("registry")
    if exe is None:
        sys.exit("docker-registry is not installed (apt-get install docker-registry skopeo)")
    proc = subprocess.Popen([exe, "serve", str(d / "config.yml")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.1)
    return proc, f"127.0.0.1:{port}"


_PUSH = """
import json, resource, sys, time
t0 = time.perf_counter()
import httpx, yaml  # what push_images imports on first use (httpx pulls in httpcore, trio)
from prai.bundle._source import open_bundle
from prai.bundle.images_push import push_images
from prai.bundle.manifest import parse_manifest, root_digest
bundle, to, ca, out = sys.argv[1:5]
imports = time.perf_counter() - t0
src = open_bundle(bundle)
m = parse_manifest(src.manifest_bytes)
t = time.perf_counter()
r = push_images(src, m, root_digest(src.manifest_bytes), to, ca_bundle=ca, map_out=out)
d = time.perf_counter() - t
print(json.dumps({"seconds": d, "imports": imports, "bytes": r.bytes_uploaded,
                  "present": r.blobs_present,
                  "maxrss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def prai_push(bundle: Path, to: str, ca: Path, env: dict[str, str], work: Path) -> dict[str, Any]:
    out = subprocess.run([sys.executable, "-c", _PUSH, str(bundle), to, str(ca),
                          str(work / "map.json")], capture_output=True, text=True, env=env)
    if out.returncode:
        sys.exit(f"prai push failed: {out.stderr[-2000:]}")
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def skopeo_copy(layout: Path, ref: str, dest: str, certs: Path, creds: tuple[str, str]) -> float:
    t = time.perf_counter()
    out = subprocess.run(["skopeo", "--insecure-policy", "copy", "--quiet", "--preserve-digests",
                          "--dest-cert-dir", str(certs), "--dest-creds", ":".join(creds),
                          f"oci:{layout}:{ref}", f"docker://{dest}"], capture_output=True,
                         text=True)
    if out.returncode:
        sys.exit(f"skopeo failed: {out.stderr[-2000:]}")
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--gib", type=float, default=1.0)
    ap.add_argument("--layers", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--dir", type=Path, default=None)
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    total = int(args.gib * (1 << 30))
    base = args.dir or Path(tempfile.mkdtemp(prefix="prai-bench-images-"))
    base.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(base).free
    if free < 4 * total:
        sys.exit(f"{base}: {free >> 30} GiB free, need {4 * total >> 30} GiB (layout, bundle, "
                 "registry)")
    proc = None
    try:
        from prai.bundle import create_bundle
        from prai.bundle.images_carry import ImageCarryRequest

        layout = base / "layout"
        refname = write_layout(layout, total, args.layers)
        (base / "pki").mkdir()
        ca, creds = make_pki(base / "pki")
        certs = base / "certs"
        certs.mkdir()
        shutil.copy(ca, certs / "ca.crt")
        res = create_bundle(base / "bundle", model=None,
                            carry=ImageCarryRequest([f"oci:{layout}:{refname}="
                                                     "quay.io/bench/big:1"]))
        images = base / "bundle" / "images"
        size = sum(f.size for f in res.manifest.files if f.role == "images")
        env = {**os.environ, "PRAI_REGISTRY_USERNAME": creds[0],
               "PRAI_REGISTRY_PASSWORD": creds[1]}
        work = base / "work"
        work.mkdir()
        rows = []
        for i in range(args.rounds):
            proc, host = start_registry(base / f"reg{i}", base / "pki")
            order = ["prai", "skopeo"] if i % 2 == 0 else ["skopeo", "prai"]
            row: dict[str, Any] = {"round": i}
            for tool in order:
                if tool == "prai":
                    p = prai_push(base / "bundle", f"{host}/prai{i}", ca, env, work)
                    row["prai_s"], row["prai_rss_mib"] = p["seconds"], p["maxrss_mib"]
                else:
                    row["skopeo_s"] = skopeo_copy(images, "quay.io/bench/big:1",
                                                  f"{host}/skopeo{i}/bench/big:1", certs, creds)
            again = prai_push(base / "bundle", f"{host}/prai{i}", ca, env, work)
            assert again["bytes"] == 0
            row["prai_repush_s"], row["repush_rss_mib"] = again["seconds"], again["maxrss_mib"]
            row["prai_repush_imports_s"] = again["imports"]
            row["skopeo_repush_s"] = skopeo_copy(images, "quay.io/bench/big:1",
                                                 f"{host}/skopeo{i}/bench/big:1", certs, creds)
            rows.append(row)
            print(json.dumps(row), file=sys.stderr)
            proc.terminate()
            proc.wait(10)
            proc = None
            shutil.rmtree(base / f"reg{i}", ignore_errors=True)
        proc, host = start_registry(base / "reg-full", base / "pki")
        # the whole command once: verify (hash every file) + push
        t = time.perf_counter()
        full = subprocess.run([sys.executable, "-m", "prai.cli.main", "bundle", "load",
                               str(base / "bundle"), "--images-to", f"{host}/full",
                               "--ca-bundle", str(ca), "--image-map-out",
                               str(work / "full.json"), "--json"], capture_output=True,
                              text=True, env=env)
        full_s = time.perf_counter() - t
        if full.returncode:
            sys.exit(f"prai bundle load failed: {full.stderr[-2000:]}")
        med = statistics.median
        mib = size / (1 << 20)
        summary = {
            "image_MiB": round(mib, 1),
            "layers": args.layers,
            "rounds": args.rounds,
            "prai_MiB_s": round(mib / med(r["prai_s"] for r in rows), 1),
            "skopeo_MiB_s": round(mib / med(r["skopeo_s"] for r in rows), 1),
            "prai_vs_skopeo": round(med(r["skopeo_s"] / r["prai_s"] for r in rows), 3),
            "prai_repush_s": round(med(r["prai_repush_s"] for r in rows), 3),
            "prai_repush_plus_imports_s": round(
                med(r["prai_repush_s"] + r["prai_repush_imports_s"] for r in rows), 3),
            "skopeo_repush_s": round(med(r["skopeo_repush_s"] for r in rows), 3),
            "prai_peak_rss_MiB": round(max(max(r["prai_rss_mib"], r["repush_rss_mib"])
                                           for r in rows), 1),
            "full_load_with_verify_s": round(full_s, 2),
            "cores": os.cpu_count(),
            "load_avg_1m": round(os.getloadavg()[0], 2),
        }
        print(json.dumps({"summary": summary, "rounds": rows}, indent=2))
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(10)
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
