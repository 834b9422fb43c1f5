"""`prai bundle create / inspect / verify / load`: bring-in bundles (持ち込み).

Thin: parse flags, call :mod:`prai.bundle`, print rich tables or ``--json``.
Exit codes: 0 all good; 2 usage (not a bundle, a malformed --root-digest); 3/10–18 integrity
and load failures, 9 wheelhouse, 19 container registry (see docs/bundle-format.md).
"""

from __future__ import annotations

import contextlib
import json
import re
import signal
import sys
from collections.abc import Iterator
from pathlib import Path
from types import FrameType
from typing import Any

import typer
from rich.table import Table
from rich.text import Text

from prai.cli._console import make_console
from prai.cli._interrupt import on_interrupt
from prai.cli._params import (
    check_input,
    check_output,
    input_bundle,
    input_dir,
    input_file,
    input_model_dir,
    input_path,
    output_path,
)
from prai.cli._progress import ByteProgress
from prai.errors import UsageError

console = make_console()
err = make_console(stderr=True)


@contextlib.contextmanager
def _cancel_workers(bar: ByteProgress) -> Iterator[None]:
    """Ctrl-C sets ``bar.cancelled`` before the KeyboardInterrupt, so the hashing and copying
    threads stop at their next chunk instead of finishing their files."""

    def on_sigint(signum: int, frame: FrameType | None) -> None:
        bar.cancelled.set()
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _human(n: int | None) -> str:
    if n is None:
        return "-"
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return str(n)


def _printable(text: str) -> str:
    """``text`` writable to any UTF-8 stream: a name that was not UTF-8 (lone surrogates
    from the file system) is shown escaped (``\\udcff``) instead of failing the print."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _print_json(data: Any) -> None:
    text = json.dumps(data, indent=2, ensure_ascii=False, default=str)
    sys.stdout.write(_printable(text) + "\n")


def _role_summary(rows: list[tuple[str, int | None, str]]) -> Table:
    """One row per role: files, bytes, and how many have each status (rows: role, size,
    status). A bundle of 100,000 files prints a handful of rows, not 100,000."""
    by_role: dict[str, dict[str, Any]] = {}
    for role, size, status in rows:
        r = by_role.setdefault(role, {"files": 0, "bytes": 0, "status": {}})
        r["files"] += 1
        r["bytes"] += size or 0
        r["status"][status] = r["status"].get(status, 0) + 1
    table = Table("role", "files", "size", "status")
    for role, r in by_role.items():
        status = ", ".join(f"{n} {st}" for st, n in sorted(r["status"].items()))
        style = "green" if set(r["status"]) <= {"ok", "listed"} else "red"
        table.add_row(
            Text(role), str(r["files"]), _human(r["bytes"]), Text(status, style=style)
        )
    return table


def _print_file_lines(rows: list[tuple[str, str, int | None, str]]) -> None:
    """``--files``: one plain line per file (status, role, size, path), fast for 100,000."""
    out = sys.stdout
    for status, role, size, path in rows:
        out.write(f"{status:<13} {role:<8} {_human(size):>10}  {path}\n")
    out.flush()


def _parse_adapters(values: list[str]) -> dict[str, Path]:
    out: dict[str, Path] = {}
    for v in values:
        name, sep, path = v.partition("=")
        if not sep or not name or not path:
            raise UsageError(
                f"--adapter {v!r}: expected NAME=DIR", hint="e.g. --adapter faq=./lora-faq"
            )
        if name in out:
            raise UsageError(f"--adapter {name!r} is given twice")
        out[name] = check_input(f"--adapter {name}=", Path(path), "dir", model_dir=True)
    return out


def _public_key_name(sign_key: Path) -> str:
    """The public key file beside ``sign_key`` (``sign.key`` -> ``sign.pub``) when it exists,
    else the name the README's openssl commands give it."""
    for cand in (sign_key.with_suffix(".pub"), sign_key.with_name(sign_key.name + ".pub")):
        if cand.is_file():
            return str(cand)
    return str(sign_key.with_suffix(".pub")) if sign_key.suffix in (".key", ".pem") else "PUBLIC.pem"


def _root_digest(ctx: Any, param: Any, value: str | None) -> str | None:
    """``--root-digest``: ``sha256:`` and 64 hex digits, refused before any work (exit 2)."""
    if value is None or getattr(ctx, "resilient_parsing", False):
        return value
    if not _ROOT_FORM.fullmatch(value.strip()):
        raise UsageError(
            f"--root-digest {value}: not a root digest (expected sha256: and 64 hex digits)",
            hint="copy the whole line `root digest: sha256:…` that `prai bundle create` printed "
            "(it is on the transfer form); a short prefix is not enough",
        )
    return value.strip().lower()


_ROOT_FORM = re.compile(r"sha256:[0-9a-fA-F]{64}")
_KEY = typer.Option(
    None, "--key", callback=input_file, help="Creator's PEM public key; a valid signature is required."
)
_ROOT = typer.Option(
    None, "--root-digest", callback=_root_digest, help="Expected root digest (sha256: and 64 hex digits)."
)


def register(app: typer.Typer) -> None:
    group = typer.Typer(
        help="Bring-in bundles (持ち込み): create, inspect, verify, load.", no_args_is_help=True
    )
    app.add_typer(group, name="bundle")

    @group.command("create")
    def create(
        out: Path = typer.Option(..., "-o", "--out", callback=output_path, help="Bundle directory, or NAME.tar."),
        model: Path | None = typer.Option(
            None, "--model", callback=input_model_dir,
            help="Hugging Face model directory (omit for an adapter-only bundle).",
        ),
        adapter: list[str] = typer.Option([], "--adapter", help="NAME=DIR of a LoRA adapter."),
        ca: list[Path] = typer.Option([], "--ca", callback=input_file, help="PEM file of a CA to carry in."),
        image: list[str] = typer.Option(
            [], "--image", help="Copy an image into the bundle: REGISTRY/REPO@sha256:…, "
            "oci:DIR[:NAME] or docker-archive:FILE[:REPO:TAG] (append =REPO:TAG to name it)."),
        images_from: Path | None = typer.Option(
            None, "--images-from", callback=input_file, help="File with one --image source per line (# comments)."),
        image_ref_only: list[str] = typer.Option(
            [], "--image-ref-only", help="Record an image reference only (pin @sha256:…; for "
            "sites that mirror with oc-mirror)."),
        platform: str | None = typer.Option(
            None, "--platform", help="Narrow multi-platform images to one, e.g. linux/amd64."),
        allow_tag: bool = typer.Option(
            False, "--allow-tag", help="Resolve registry tags now and record their digests."),
        ca_bundle: Path | None = typer.Option(
            None, "--ca-bundle", callback=input_file, help="PEM CA for TLS to the source registries."),
        authfile: Path | None = typer.Option(
            None, "--authfile", callback=input_file, help="containers-auth.json for the source registries."),
        eval_: list[Path] = typer.Option([], "--eval", callback=input_file, help="Evaluation set file."),
        other: list[Path] = typer.Option([], "--other", callback=input_file, help="Any other file to carry."),
        sign_key: Path | None = typer.Option(
            None, "--sign-key", callback=input_file, help="PEM private key (Ed25519/ECDSA)."
        ),
        split_size: str | None = typer.Option(
            None, "--split-size", help="Split the tar, e.g. 4GiB."
        ),
        no_chat_template: bool = typer.Option(
            False, "--no-chat-template", help="Allow a generative model without a chat template."
        ),
        software: str | None = typer.Option(
            None, "--software", help="Carry PrAI itself as a wheelhouse: base, cpu or gpu."
        ),
        python: str | None = typer.Option(None, "--python", help="Target Python for --software (e.g. 3.11)."),
        wheel_platform: str = typer.Option(
            "manylinux_2_28_x86_64", "--wheel-platform", help="Target wheel platform tag for --software."
        ),
        wheels_from: Path | None = typer.Option(
            None, "--wheels-from", callback=input_dir, help="Take wheels from this folder only (no index)."
        ),
        constraints: Path | None = typer.Option(
            None, "--constraints", callback=input_file,
            help="Pins for the wheelhouse (default: constraints/gpu.txt for gpu, else cpu.txt).",
        ),
        since: Path | None = typer.Option(
            None, "--since", callback=input_path, help="Delta: carry only what this import receipt or manifest lacks."
        ),
        as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    ) -> None:
        """Validate the inputs and pack them with a manifest, SHA256SUMS, an SBOM and a root digest."""
        from prai.bundle import create_bundle, parse_size
        from prai.bundle.images_carry import ImageCarryRequest, read_images_file
        from prai.bundle.wheelhouse import SoftwareSpec, install_command

        split = parse_size(split_size) if split_size else None
        specs = list(image) + (read_images_file(images_from) if images_from else [])
        if (platform or allow_tag) and not specs:
            raise UsageError("--platform and --allow-tag apply to --image / --images-from")
        carry = ImageCarryRequest(specs, platform=platform, allow_tag=allow_tag,
                                  ca_bundle=ca_bundle, authfile=authfile) if specs else None
        if software is None and (python or wheels_from or constraints):
            raise UsageError("--python, --wheels-from and --constraints go with --software", hint="add --software base")
        spec = None
        if software is not None:
            spec = SoftwareSpec(software, platform=wheel_platform, wheels_from=wheels_from, constraints=constraints)
            if python:
                spec = SoftwareSpec(software, python, wheel_platform, wheels_from, constraints)
        bar = ByteProgress(enabled=not as_json)
        resume = (f"nothing was written to {out} (bundles are built in a staging folder and renamed "
                  "when complete): run the same command again")
        with bar, on_interrupt(bar.summary, resume), _cancel_workers(bar):
            res = create_bundle(
                out,
                model=model,
                adapters=_parse_adapters(adapter),
                cas=list(ca),
                images=list(image_ref_only),
                carry=carry,
                evals=list(eval_),
                others=list(other),
                sign_key=sign_key,
                split_bytes=split,
                require_chat_template=False if no_chat_template else None,
                software=spec,
                since=since,
                progress=bar,
            )
        carried = res.manifest.carried()
        if as_json:
            _print_json(
                {
                    "delta_base": res.manifest.delta.base_root_digest if res.manifest.delta else None,
                    "carried_files": len(carried),
                    "carried_bytes": sum(f.size for f in carried),
                    "out": str(res.out),
                    "kind": res.kind,
                    "root_digest": res.root_digest,
                    "files": len(res.manifest.files),
                    "total_bytes": res.manifest.total_bytes,
                    "parts": [str(p) for p in res.parts],
                    "images": [i.model_dump(mode="json") for i in res.manifest.images],
                    "warnings": res.warnings,
                    "install": (install_command(res.out, res.kind, res.manifest.software.install_script)
                                if res.manifest.software is not None else None),
                    "seconds": round(res.seconds, 3),
                }
            )
            return
        for w in res.warnings:
            err.print(f"warning: {w}", style="yellow", markup=False)
        console.print(
            f"created {res.kind} bundle {res.out}: {len(res.manifest.files)} files, "
            f"{_human(res.manifest.total_bytes)} in {res.seconds:.1f} s",
            markup=False,
        )
        if res.manifest.delta is not None:
            console.print(
                f"delta against {res.manifest.delta.base_root_digest}: carries {len(carried)} files "
                f"({_human(sum(f.size for f in carried))}); {len(res.manifest.delta.in_base)} already there",
                markup=False,
            )
        if res.manifest.software is not None:
            sw = res.manifest.software
            console.print(
                f"software: {sw.requirement}, {len(sw.wheels)} wheels for CPython {sw.python} "
                f"({sw.platforms[0]}); install on the closed side, before PrAI is there, with "
                f"`{install_command(res.out, res.kind, sw.install_script)}`",
                markup=False,
            )
        if res.kind == "parts":
            console.print(f"parts: {len(res.parts) - 2} (+ .parts.json, .parts.SHA256SUMS)")
        for i in res.manifest.images:
            if i.carried:
                console.print(f"image {i.ref} ({', '.join(i.platforms) or '?'})", markup=False)
        console.print(f"root digest: {res.root_digest}", markup=False)
        key = f" --key {_public_key_name(sign_key)}" if sign_key is not None else ""
        console.print(
            "write the root digest on the transfer form; the receiver runs "
            f"`prai bundle verify {res.out} --root-digest {res.root_digest}{key}`",
            markup=False,
        )
        if sign_key is not None and not key.endswith(".pub"):
            console.print(
                f"(--key is the public half of {sign_key}: `openssl pkey -in {sign_key} -pubout`)",
                markup=False,
            )

    @group.command("inspect")
    def inspect(
        bundle: Path = typer.Argument(..., callback=input_bundle, help="Bundle directory, .tar or .parts.json."),
        files: bool = typer.Option(False, "--files", help="List every file (one line each)."),
        as_json: bool = typer.Option(False, "--json", help="Print the manifest as JSON."),
        sbom: bool = typer.Option(False, "--sbom", help="Print the CycloneDX 1.6 SBOM (JSON)."),
    ) -> None:
        """Show what a bundle holds (manifest facts; no hashing)."""
        from prai.bundle._source import open_bundle
        from prai.bundle.manifest import parse_manifest, root_digest

        src = open_bundle(bundle)
        mbytes = src.manifest_bytes
        m = parse_manifest(mbytes)
        if sbom:
            from prai.bundle.sbom import SBOM_PATH, build_sbom

            data = src.read_small(SBOM_PATH)
            if data is None:  # a bundle made before SBOMs, or a delta whose SBOM is in the base
                err.print(f"{bundle} carries no {SBOM_PATH}; generated from its manifest", markup=False)
                data = build_sbom(m, lambda p: src.read_small(p, 1 << 20) if p in src.entries else None)
            sys.stdout.write(data.decode("utf-8"))
            return
        if as_json:
            _print_json(
                {
                    "location": str(bundle),
                    "kind": src.kind,
                    "root_digest": root_digest(mbytes),
                    "signed": src.signature is not None,
                    "manifest": m.model_dump(mode="json"),
                }
            )
            return
        console.print(
            _printable(
                f"bundle {bundle} ({src.kind}), created {m.created_at:%Y-%m-%d %H:%M} UTC by "
                f"{m.created_by}"
            ),
            markup=False,
        )
        console.print(
            f"root digest: {root_digest(mbytes)}; signature: "
            f"{'yes' if src.signature is not None else 'no'}",
            markup=False,
        )
        if m.model:
            f = m.model
            console.print(
                f"model: {f.name} {f.architectures} dtype={f.dtype} params={f.parameter_count} "
                f"max_context={f.max_context_tokens} chat_template={f.has_chat_template}",
                markup=False,
            )
        for a in m.adapters:
            console.print(
                f"adapter {a.name}: r={a.rank} alpha={a.lora_alpha} targets={a.target_modules} "
                f"base={a.base_model_name_or_path}",
                markup=False,
            )
        for c in m.cas:
            console.print(
                f"ca {c.path}: {c.subject} (expires {c.not_after:%Y-%m-%d})", markup=False
            )
        if m.software is not None:
            sw = m.software
            console.print(
                f"software: {sw.requirement} ({sw.profile}), {len(sw.wheels)} wheels, CPython {sw.python}, "
                f"{sw.platforms[0]}",
                markup=False,
            )
        if m.delta is not None:
            console.print(
                f"delta: base {m.delta.base_root_digest}, {len(m.delta.in_base)} files not carried",
                markup=False,
            )
        for i in m.images:
            what = (f"  carried, {', '.join(i.platforms) or 'platform ?'}" if i.carried
                    else "  reference only" if i.digest else "  (NOT pinned by digest)")
            console.print(f"image {i.ref}{what}", markup=False)
        in_base = set(m.delta.in_base) if m.delta is not None else set()

        def state(path: str) -> str:
            return "in_base" if path in in_base else "listed"

        console.print(_role_summary([(e.role, e.size, state(e.path)) for e in m.files]))
        if files:
            _print_file_lines([(state(e.path), e.role, e.size, e.path) for e in m.files])
        console.print(f"{len(m.files)} files, {_human(m.total_bytes)}", markup=False)
        for w in m.warnings:
            console.print(f"warning (at creation): {w}", style="yellow", markup=False)

    @group.command("verify")
    def verify(
        bundle: Path = typer.Argument(..., callback=input_bundle, help="Bundle directory, .tar or .parts.json."),
        key: Path | None = _KEY,
        root: str | None = _ROOT,
        manifest: Path | None = typer.Option(
            None, "--manifest", callback=input_file,
            help="Load destination only: check it against this prai-bundle.json."
        ),
        files: bool = typer.Option(False, "--files", help="List every file's result."),
        as_json: bool = typer.Option(False, "--json", help="Print the per-file report as JSON."),
    ) -> None:
        """Check every file (present, size, SHA-256), nothing extra, signature, parts.

        BUNDLE may also be a directory `prai bundle load` wrote: it is checked against the
        manifest its import receipt holds (or --manifest). Prints a summary per role (and the
        problems); --files lists every file."""
        from prai.bundle import verify_bundle
        from prai.errors import BundleError

        try:
            bar = ByteProgress(enabled=not as_json)
            with bar, on_interrupt(bar.summary, "verifying changes nothing: run the same command again"):
                if manifest is not None:
                    from prai.bundle.destination import verify_destination

                    report = verify_destination(
                        bundle, key=key, expected_root=root, manifest_path=manifest, progress=bar
                    )
                else:
                    report = verify_bundle(bundle, key=key, expected_root=root, progress=bar)
        except BundleError as exc:
            if as_json:
                _print_json(
                    {
                        "ok": False,
                        "exit_code": exc.exit_code,
                        "location": str(bundle),
                        "files": [],
                        "problems": [
                            {
                                "type": type(exc).__name__,
                                "exit_code": exc.exit_code,
                                "message": exc.message,
                                "hint": exc.hint,
                            }
                        ],
                    }
                )
                raise typer.Exit(exc.exit_code) from None
            raise
        if as_json:
            _print_json(report.to_json())
            raise typer.Exit(report.exit_code)
        if report.software_fit:  # issue 14: intact, but not for this machine (--json: every reason)
            err.print(f"warning: {report.software_fit[0]}; software/install.sh will refuse it here",
                      style="yellow", markup=False)

        def size(f: Any) -> int | None:
            return f.actual_size if f.actual_size is not None else f.expected_size

        if files:
            _print_file_lines([(f.status, f.role, size(f), f.path) for f in report.files])
        console.print(_role_summary([(f.role, size(f), f.status) for f in report.files]))
        console.print(
            f"root digest: {report.root_digest}; signature: {report.signature}", markup=False
        )
        if report.ok:
            in_base = [f for f in report.files if f.status == "in_base"]
            checked = [f for f in report.files if f.status != "in_base"]
            console.print(
                f"[green]OK[/]: {len(checked)} files, "
                f"{_human(sum(f.expected_size or 0 for f in checked))} verified"
                + (f"; {len(in_base)} in the delta's base (checked at load)" if in_base else "")
            )
            return
        report.raise_for_problems()

    @group.command("load")
    def load(
        bundle: Path = typer.Argument(..., callback=input_bundle, help="Bundle directory, .tar or .parts.json."),
        to: str | None = typer.Option(
            None, "--to", help="DIR (PVC path), s3://bucket/prefix or oci://registry/repo:tag."
        ),
        images_to: str | None = typer.Option(
            None, "--images-to", help="Push the carried images to REGISTRY[:PORT][/PREFIX]."
        ),
        image_map_out: Path = typer.Option(
            Path("prai-image-map.json"), "--image-map-out", callback=output_path,
            help="Mirror map written by --images-to (an ImageDigestMirrorSet goes beside it "
            "as NAME.idms.yaml).",
        ),
        chunk_size: str | None = typer.Option(
            None, "--chunk-size", help="Upload image blobs above this size in chunks of it "
            "(default 64MiB; lower it for proxies with a body limit)."),
        only: str | None = typer.Option(None, "--only", help="model, adapters, or one NAME."),
        key: Path | None = _KEY,
        root: str | None = _ROOT,
        ca_bundle: Path | None = typer.Option(
            None, "--ca-bundle", callback=input_file, help="PEM CA for TLS to S3/registry."
        ),
        endpoint_url: str | None = typer.Option(
            None, "--endpoint-url", help="S3 endpoint (else AWS_S3_ENDPOINT)."
        ),
        env_file: Path | None = typer.Option(
            None, "--env-file", callback=input_file, help="Data Connection-style KEY=VALUE file."
        ),
        authfile: Path | None = typer.Option(
            None, "--authfile", callback=input_file, help="containers-auth.json for the registry."
        ),
        base_image: str | None = typer.Option(
            None, "--base-image", help="OCI: repo[:tag] in the same registry, with a shell."
        ),
        receipt: Path | None = typer.Option(
            None, "--receipt", callback=output_path,
            help="Also write the import receipt here (to send back for --since)."
        ),
        allow_unfit_software: bool = typer.Option(
            False, "--allow-unfit-software",
            help="Load PrAI's wheelhouse even if it does not install on this machine "
            "(it is for another one)."),
        as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    ) -> None:
        """Verify, then load into a directory, S3/MinIO or an OCI registry, and/or push the
        carried images to the internal registry (resumable).

        A delta bundle is refused unless the destination holds its base. Every load leaves
        an import receipt (.prai-import-receipt.json) at the destination."""
        import signal

        from prai.bundle import load_bundle, parse_size
        from prai.bundle.registry import GracefulStop

        chunk = parse_size(chunk_size) if chunk_size else None
        stop = GracefulStop()

        def on_sigint(signum: int, frame: object) -> None:
            if not stop.request():
                raise KeyboardInterrupt
            err.print("stopping after the chunks in flight (Ctrl-C again to abort now)",
                      markup=False)

        if to is not None and "://" not in to:
            check_output("--to", Path(to))
        bar = ByteProgress(enabled=not as_json)
        resume = (f"run the same command again (prai bundle load {bundle} ...): it resumes, keeping "
                  "the files already copied and verified and the image chunks already uploaded")
        previous = signal.signal(signal.SIGINT, on_sigint) if images_to else None
        try:
            with bar, on_interrupt(bar.summary, resume), (
                contextlib.nullcontext() if images_to else _cancel_workers(bar)
            ):
                res = load_bundle(
                    bundle,
                    to,
                    only=only,
                    key=key,
                    expected_root=root,
                    ca_bundle=ca_bundle,
                    endpoint_url=endpoint_url,
                    env_file=env_file,
                    authfile=authfile,
                    base_image=base_image,
                    receipt_out=receipt,
                    progress=bar,
                    images_to=images_to,
                    image_map_out=image_map_out,
                    chunk_bytes=chunk,
                    stop=stop,
                    allow_unfit_software=allow_unfit_software,
                )
        finally:
            if previous is not None:
                signal.signal(signal.SIGINT, previous)
        if as_json:
            _print_json(res.__dict__)
            return
        for w in res.warnings:
            err.print(f"warning: {w}", style="yellow", markup=False)
        if to is not None:
            console.print(
                f"loaded {res.files} files into {res.destination}: {res.written} written "
                f"({_human(res.bytes_written)}), {res.skipped} already there",
                markup=False,
            )
            console.print(f"use: {res.location}", markup=False)
        if res.images is not None:
            im = res.images
            console.print(
                f"pushed {len(im['images'])} images to {im['registry']}: "
                f"{im['blobs_uploaded']} blobs uploaded ({_human(im['bytes_uploaded'])}), "
                f"{im['blobs_mounted']} mounted, {im['blobs_present']} already there, "
                f"in {im['seconds']:.1f} s",
                markup=False,
            )
            for e in im["images"]:
                console.print(f"  {e['source']} -> {e['mirror']}", markup=False)
            console.print(
                f"mirror map: {im['map_path']} (prai render --image-map); "
                f"ImageDigestMirrorSet: {im['idms_path']} (oc apply -f)",
                markup=False,
            )
        if res.details.get("removed"):
            console.print(f"delta: removed {len(res.details['removed'])} file(s) the new state drops", markup=False)
        for where in res.details.get("receipt") or []:
            console.print(f"import receipt: {where}", markup=False)

    @group.command("fetch-wheels")
    def fetch_wheels(
        dest: Path = typer.Option(..., "-d", "--dest", callback=output_path, help="Folder for the wheels."),
        software: str = typer.Option("base", "--software", help="Profile: base, cpu or gpu."),
        python: str | None = typer.Option(None, "--python", help="Target Python (e.g. 3.11)."),
        platform: str = typer.Option("manylinux_2_28_x86_64", "--platform", help="Target wheel platform tag."),
        wheels_from: Path | None = typer.Option(
            None, "--wheels-from", callback=input_dir, help="Take wheels from this folder only."),
        constraints: Path | None = typer.Option(
            None, "--constraints", callback=input_file,
            help="Pins (default: constraints/gpu.txt for gpu, else cpu.txt)."),
    ) -> None:
        """Download a software profile's wheels once (connected side), for later --wheels-from."""
        from prai.bundle.wheelhouse import SoftwareSpec, download_profile

        spec = SoftwareSpec(software, platform=platform, wheels_from=wheels_from, constraints=constraints)
        if python:
            spec = SoftwareSpec(software, python, platform, wheels_from, constraints)
        wheels = download_profile(spec, dest)
        size = sum(w.stat().st_size for w in wheels)
        console.print(f"{len(wheels)} wheels ({_human(size)}) in {dest}", markup=False)
