"""`prai bundle create / inspect / verify / load`: bring-in bundles (持ち込み).

Thin: parse flags, call :mod:`prai.bundle`, print rich tables or ``--json``.
Exit codes: 0 all good; 3/10–18 integrity and load failures (see docs/bundle-format.md).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from prai.cli._console import make_console
from prai.cli._interrupt import on_interrupt
from prai.cli._params import check_input, check_output, input_bundle, input_dir, input_file, output_path
from prai.cli._progress import ByteProgress
from prai.errors import UsageError

console = make_console()
err = make_console(stderr=True)


def _human(n: int | None) -> str:
    if n is None:
        return "-"
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return str(n)


def _print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")


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
        out[name] = check_input(f"--adapter {name}=", Path(path), "dir")
    return out


_KEY = typer.Option(
    None, "--key", callback=input_file, help="Creator's PEM public key; a valid signature is required."
)
_ROOT = typer.Option(None, "--root-digest", help="Expected root digest (sha256:…).")


def register(app: typer.Typer) -> None:
    group = typer.Typer(
        help="Bring-in bundles (持ち込み): create, inspect, verify, load.", no_args_is_help=True
    )
    app.add_typer(group, name="bundle")

    @group.command("create")
    def create(
        out: Path = typer.Option(..., "-o", "--out", callback=output_path, help="Bundle directory, or NAME.tar."),
        model: Path | None = typer.Option(
            None, "--model", callback=input_dir,
            help="Hugging Face model directory (omit for an adapter-only bundle).",
        ),
        adapter: list[str] = typer.Option([], "--adapter", help="NAME=DIR of a LoRA adapter."),
        ca: list[Path] = typer.Option([], "--ca", callback=input_file, help="PEM file of a CA to carry in."),
        image: list[str] = typer.Option([], "--image", help="Image reference (pin @sha256:…)."),
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
        as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    ) -> None:
        """Validate the inputs and pack them with a manifest, SHA256SUMS and a root digest."""
        from prai.bundle import create_bundle, parse_size

        split = parse_size(split_size) if split_size else None
        bar = ByteProgress(enabled=not as_json)
        with bar, on_interrupt(bar.summary, f"nothing was written to {out} (bundles are built in a staging "
                               "folder and renamed when complete): run the same command again"):
            res = create_bundle(
                out,
                model=model,
                adapters=_parse_adapters(adapter),
                cas=list(ca),
                images=list(image),
                evals=list(eval_),
                others=list(other),
                sign_key=sign_key,
                split_bytes=split,
                require_chat_template=False if no_chat_template else None,
                progress=bar,
            )
        if as_json:
            _print_json(
                {
                    "out": str(res.out),
                    "kind": res.kind,
                    "root_digest": res.root_digest,
                    "files": len(res.manifest.files),
                    "total_bytes": res.manifest.total_bytes,
                    "parts": [str(p) for p in res.parts],
                    "warnings": res.warnings,
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
        if res.kind == "parts":
            console.print(f"parts: {len(res.parts) - 2} (+ .parts.json, .parts.SHA256SUMS)")
        console.print(f"root digest: {res.root_digest}", markup=False)
        console.print(
            "write the root digest on the transfer form; the receiver runs "
            f"`prai bundle verify {res.out} --root-digest {res.root_digest}`",
            markup=False,
        )

    @group.command("inspect")
    def inspect(
        bundle: Path = typer.Argument(..., callback=input_bundle, help="Bundle directory, .tar or .parts.json."),
        as_json: bool = typer.Option(False, "--json", help="Print the manifest as JSON."),
    ) -> None:
        """Show what a bundle holds (manifest facts; no hashing)."""
        from prai.bundle._source import open_bundle
        from prai.bundle.manifest import parse_manifest, root_digest

        src = open_bundle(bundle)
        mbytes = src.manifest_bytes
        m = parse_manifest(mbytes)
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
            f"bundle {bundle} ({src.kind}), created {m.created_at:%Y-%m-%d %H:%M} UTC by "
            f"{m.created_by}",
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
        for i in m.images:
            console.print(
                f"image {i.ref}" + ("" if i.digest else "  (NOT pinned by digest)"), markup=False
            )
        table = Table("role", "name", "path", "size", "sha256")
        for e in m.files:
            table.add_row(e.role, e.name, e.path, _human(e.size), e.sha256[:16] + "…")
        console.print(table)
        console.print(f"{len(m.files)} files, {_human(m.total_bytes)}")
        for w in m.warnings:
            console.print(f"warning (at creation): {w}", style="yellow", markup=False)

    @group.command("verify")
    def verify(
        bundle: Path = typer.Argument(..., callback=input_bundle, help="Bundle directory, .tar or .parts.json."),
        key: Path | None = _KEY,
        root: str | None = _ROOT,
        as_json: bool = typer.Option(False, "--json", help="Print the per-file report as JSON."),
    ) -> None:
        """Check every file (present, size, SHA-256), nothing extra, signature, parts."""
        from prai.bundle import verify_bundle
        from prai.errors import BundleError

        try:
            bar = ByteProgress(enabled=not as_json)
            with bar, on_interrupt(bar.summary, "verifying changes nothing: run the same command again"):
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
        table = Table("status", "role", "path", "size")
        for f in report.files:
            style = "green" if f.status == "ok" else "red"
            table.add_row(
                f"[{style}]{f.status}[/]",
                f.role,
                f.path,
                _human(f.actual_size if f.actual_size is not None else f.expected_size),
            )
        console.print(table)
        console.print(
            f"root digest: {report.root_digest}; signature: {report.signature}", markup=False
        )
        if report.ok:
            console.print(
                f"[green]OK[/]: {len(report.files)} files, {_human(report.total_bytes)} verified"
            )
            return
        report.raise_for_problems()

    @group.command("load")
    def load(
        bundle: Path = typer.Argument(..., callback=input_bundle, help="Bundle directory, .tar or .parts.json."),
        to: str = typer.Option(
            ..., "--to", help="DIR (PVC path), s3://bucket/prefix or oci://registry/repo:tag."
        ),
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
        as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    ) -> None:
        """Verify, then load into a directory, S3/MinIO or an OCI registry (resumable)."""
        from prai.bundle import load_bundle

        if "://" not in to:
            check_output("--to", Path(to))
        bar = ByteProgress(enabled=not as_json)
        resume = (f"run the same command again (prai bundle load {bundle} --to {to} ...): it resumes, "
                  "keeping the files already copied and verified")
        with bar, on_interrupt(bar.summary, resume):
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
                progress=bar,
            )
        if as_json:
            _print_json(res.__dict__)
            return
        for w in res.warnings:
            err.print(f"warning: {w}", style="yellow", markup=False)
        console.print(
            f"loaded {res.files} files into {res.destination}: {res.written} written "
            f"({_human(res.bytes_written)}), {res.skipped} already there",
            markup=False,
        )
        console.print(f"use: {res.location}", markup=False)
