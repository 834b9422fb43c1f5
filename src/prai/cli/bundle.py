"""`prai bundle create / inspect / verify / load`: bring-in bundles (持ち込み).

Thin: parse flags, call :mod:`prai.bundle`, print rich tables or ``--json``.
Exit codes: 0 all good; 3/10–18 integrity and load failures (see docs/bundle-format.md).
"""

from __future__ import annotations

import json
import sys
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import Any

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table

from prai.errors import UsageError

console = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


class _Bar:
    """ProgressSink drawn with rich: bytes, bytes/s, ETA (on stderr; hidden when not a TTY
    or with --json)."""

    def __init__(self, enabled: bool) -> None:
        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            console=err,
            transient=False,
            disable=not enabled,
        )
        self._task: TaskID | None = None
        self._lock = threading.Lock()

    def __enter__(self) -> _Bar:
        self._progress.start()
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._progress.stop()

    def start(self, description: str, total_bytes: int) -> None:
        with self._lock:
            if self._task is not None:
                self._progress.update(
                    self._task, completed=self._progress.tasks[self._task].total or 0
                )
            self._task = self._progress.add_task(description, total=max(total_bytes, 1))

    def advance(self, n_bytes: int) -> None:
        if self._task is not None:
            self._progress.advance(self._task, n_bytes)


class _PlainLines:
    """ProgressSink for logs (stderr not a terminal): one line every ``interval_s`` seconds
    with bytes done, bytes/s and ETA, and a last line when a phase that printed ends."""

    def __init__(self, interval_s: float = 10.0) -> None:
        self._interval_s = interval_s
        self._lock = threading.Lock()
        self._desc = ""
        self._total = 0
        self._done = 0
        self._t0 = self._last = time.monotonic()
        self._printed = False

    def __enter__(self) -> _PlainLines:
        return self

    def __exit__(self, *exc: object) -> None:
        self._finish()

    def _line(self, now: float) -> str:
        rate = self._done / max(now - self._t0, 1e-6)
        eta = (self._total - self._done) / rate if rate > 0 else 0.0
        pct = 100.0 * self._done / self._total if self._total else 100.0
        return (f"{self._desc}: {_human(self._done)} of {_human(self._total)} ({pct:.0f} %), "
                f"{_human(int(rate))}/s, ETA {eta:.0f} s")

    def _finish(self) -> None:
        if self._printed:
            err.print(self._line(time.monotonic()), markup=False)
        self._printed = False

    def start(self, description: str, total_bytes: int) -> None:
        with self._lock:
            self._finish()
            self._desc, self._total, self._done = description, total_bytes, 0
            self._t0 = self._last = time.monotonic()

    def advance(self, n_bytes: int) -> None:
        with self._lock:
            self._done += n_bytes
            now = time.monotonic()
            if now - self._last >= self._interval_s:
                self._last = now
                self._printed = True
                err.print(self._line(now), markup=False)


def _progress(as_json: bool) -> _Bar | _PlainLines:
    """A rich bar on a terminal, periodic plain lines in logs; --json draws neither."""
    if not as_json and not err.is_terminal:
        return _PlainLines()
    return _Bar(enabled=not as_json and err.is_terminal)


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
        out[name] = Path(path)
    return out


_KEY = typer.Option(None, "--key", help="Creator's PEM public key; a valid signature is required.")
_ROOT = typer.Option(None, "--root-digest", help="Expected root digest (sha256:…).")


def register(app: typer.Typer) -> None:
    group = typer.Typer(
        help="Bring-in bundles (持ち込み): create, inspect, verify, load.", no_args_is_help=True
    )
    app.add_typer(group, name="bundle")

    @group.command("create")
    def create(
        out: Path = typer.Option(..., "-o", "--out", help="Bundle directory, or NAME.tar."),
        model: Path | None = typer.Option(
            None, "--model", help="Hugging Face model directory (omit for an adapter-only bundle)."
        ),
        adapter: list[str] = typer.Option([], "--adapter", help="NAME=DIR of a LoRA adapter."),
        ca: list[Path] = typer.Option([], "--ca", help="PEM file of a CA to carry in."),
        image: list[str] = typer.Option(
            [], "--image", help="Copy an image into the bundle: REGISTRY/REPO@sha256:…, "
            "oci:DIR[:NAME] or docker-archive:FILE[:REPO:TAG] (append =REPO:TAG to name it)."),
        images_from: Path | None = typer.Option(
            None, "--images-from", help="File with one --image source per line (# comments)."),
        image_ref_only: list[str] = typer.Option(
            [], "--image-ref-only", help="Record an image reference only (pin @sha256:…; for "
            "sites that mirror with oc-mirror)."),
        platform: str | None = typer.Option(
            None, "--platform", help="Narrow multi-platform images to one, e.g. linux/amd64."),
        allow_tag: bool = typer.Option(
            False, "--allow-tag", help="Resolve registry tags now and record their digests."),
        ca_bundle: Path | None = typer.Option(
            None, "--ca-bundle", help="PEM CA for TLS to the source registries."),
        authfile: Path | None = typer.Option(
            None, "--authfile", help="containers-auth.json for the source registries."),
        eval_: list[Path] = typer.Option([], "--eval", help="Evaluation set file."),
        other: list[Path] = typer.Option([], "--other", help="Any other file to carry."),
        sign_key: Path | None = typer.Option(
            None, "--sign-key", help="PEM private key (Ed25519/ECDSA)."
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
        from prai.bundle.images_carry import ImageCarryRequest, read_images_file

        split = parse_size(split_size) if split_size else None
        specs = list(image) + (read_images_file(images_from) if images_from else [])
        if (platform or allow_tag) and not specs:
            raise UsageError("--platform and --allow-tag apply to --image / --images-from")
        carry = ImageCarryRequest(specs, platform=platform, allow_tag=allow_tag,
                                  ca_bundle=ca_bundle, authfile=authfile) if specs else None
        with _progress(as_json) as bar:
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
                    "images": [i.model_dump(mode="json") for i in res.manifest.images],
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
        for i in res.manifest.images:
            if i.carried:
                console.print(f"image {i.ref} ({', '.join(i.platforms) or '?'})", markup=False)
        console.print(f"root digest: {res.root_digest}", markup=False)
        console.print(
            "write the root digest on the transfer form; the receiver runs "
            f"`prai bundle verify {res.out} --root-digest {res.root_digest}`",
            markup=False,
        )

    @group.command("inspect")
    def inspect(
        bundle: Path = typer.Argument(..., help="Bundle directory, .tar or .parts.json."),
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
            what = (f"  carried, {', '.join(i.platforms) or 'platform ?'}" if i.carried
                    else "  reference only" if i.digest else "  (NOT pinned by digest)")
            console.print(f"image {i.ref}{what}", markup=False)
        table = Table("role", "name", "path", "size", "sha256")
        for e in m.files:
            table.add_row(e.role, e.name, e.path, _human(e.size), e.sha256[:16] + "…")
        console.print(table)
        console.print(f"{len(m.files)} files, {_human(m.total_bytes)}")
        for w in m.warnings:
            console.print(f"warning (at creation): {w}", style="yellow", markup=False)

    @group.command("verify")
    def verify(
        bundle: Path = typer.Argument(..., help="Bundle directory, .tar or .parts.json."),
        key: Path | None = _KEY,
        root: str | None = _ROOT,
        as_json: bool = typer.Option(False, "--json", help="Print the per-file report as JSON."),
    ) -> None:
        """Check every file (present, size, SHA-256), nothing extra, signature, parts."""
        from prai.bundle import verify_bundle
        from prai.errors import BundleError

        try:
            with _Bar(enabled=not as_json and err.is_terminal) as bar:
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
        bundle: Path = typer.Argument(..., help="Bundle directory, .tar or .parts.json."),
        to: str | None = typer.Option(
            None, "--to", help="DIR (PVC path), s3://bucket/prefix or oci://registry/repo:tag."
        ),
        images_to: str | None = typer.Option(
            None, "--images-to", help="Push the carried images to REGISTRY[:PORT][/PREFIX]."
        ),
        image_map_out: Path = typer.Option(
            Path("prai-image-map.json"), "--image-map-out",
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
            None, "--ca-bundle", help="PEM CA for TLS to S3/registry."
        ),
        endpoint_url: str | None = typer.Option(
            None, "--endpoint-url", help="S3 endpoint (else AWS_S3_ENDPOINT)."
        ),
        env_file: Path | None = typer.Option(
            None, "--env-file", help="Data Connection-style KEY=VALUE file."
        ),
        authfile: Path | None = typer.Option(
            None, "--authfile", help="containers-auth.json for the registry."
        ),
        base_image: str | None = typer.Option(
            None, "--base-image", help="OCI: repo[:tag] in the same registry, with a shell."
        ),
        as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    ) -> None:
        """Verify, then load into a directory, S3/MinIO or an OCI registry, and/or push the
        carried images to the internal registry (resumable)."""
        import signal

        from prai.bundle import load_bundle, parse_size
        from prai.bundle.registry import GracefulStop

        chunk = parse_size(chunk_size) if chunk_size else None
        stop = GracefulStop()

        def on_interrupt(signum: int, frame: object) -> None:
            if not stop.request():
                raise KeyboardInterrupt
            err.print("stopping after the chunks in flight (Ctrl-C again to abort now)",
                      markup=False)

        previous = signal.signal(signal.SIGINT, on_interrupt) if images_to else None
        try:
            with _progress(as_json) as bar:
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
                    images_to=images_to,
                    image_map_out=image_map_out,
                    chunk_bytes=chunk,
                    stop=stop,
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
