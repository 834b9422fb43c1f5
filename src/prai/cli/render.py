"""`prai render`: kitchen.yaml -> validated OpenShift AI / KServe manifests (kustomize)."""

from __future__ import annotations

from pathlib import Path

import typer

from prai.cli._output import print_json
from prai.cli._params import input_dir, input_file, output_path
from prai.errors import UsageError


def _default_crd_dir() -> Path | None:
    """../shared/schemas/kserve beside the repository (or the working directory)."""
    import prai

    candidates = [Path(prai.__file__).resolve().parents[2].parent, Path.cwd().parent, Path.cwd()]
    for root in candidates:
        d = root / "shared" / "schemas" / "kserve"
        if d.is_dir():
            return d
    return None


def checks_ran(summary: dict[str, object]) -> list[str]:
    """Which checks ran, one line each: every schema source with its file count, then the
    semantic checks (from the render summary's ``schemas``: file -> schema source)."""
    from collections import Counter

    schemas = summary.get("schemas")
    counts = Counter(schemas.values()) if isinstance(schemas, dict) else Counter()
    lines = [f"schema {src}: {n} file(s) valid" if "not available" not in src else
             f"schema {src}: {n} file(s) NOT schema-validated (see the note below)"
             for src, n in sorted(counts.items())]
    lines.append(f"{summary.get('objects')} objects validated; semantic checks: images internal and pinned, "
                 "storageUri/PVC, adapter ranks and bases, no external hostnames, no secrets in plain "
                 "fields, GPU fit")
    return lines


def register(app: typer.Typer) -> None:
    @app.command("render")
    def render_cmd(
        kitchen: Path = typer.Argument(..., callback=input_file, help="kitchen.yaml with a `cluster:` section."),
        out: Path | None = typer.Option(
            None, "-o", "--out", callback=output_path, help="Output directory (kustomize)."),
        diff: Path | None = typer.Option(
            None, "--diff", callback=input_dir, help="Show what would change against an earlier render; writes "
            "nothing; exit 1 when something would change."),
        entrance: str = typer.Option(
            "prai", "--entrance", help="prai (Route to the gateway) or kong (+ kong/kong.yaml)."),
        include_secrets: bool = typer.Option(
            False, "--include-secrets",
            help="Put the S3 keys (from the env variables named in the config) into the Data "
            "Connection Secret."),
        crd_dir: Path | None = typer.Option(
            None, "--crd-dir", callback=input_dir,
            help="Directory of the target cluster's KServe CRDs (YAML), e.g. from `oc get crd "
            "inferenceservices.serving.kserve.io servingruntimes.serving.kserve.io -o yaml > "
            "crds/kserve-crds.yaml`. Without it the KServe objects get semantic checks only."),
        registry: str | None = typer.Option(
            None, "--registry", metavar="URL|auto",
            help="Render the promoted adapter versions of the model registry (the gateway's "
            "database: sqlite:///PATH or postgresql://...; `auto` = kitchen.yaml's "
            "gateway.storage.url): --lora-modules ALIAS@VERSION for each current and canary "
            "version, and the prai.io/promoted annotation. Default: no registry."),
        image_map: Path | None = typer.Option(
            None, "--image-map", metavar="FILE", callback=input_file,
            help="Mirror map from `prai bundle load --images-to`: cluster.images (and images "
            "given with source: only) are taken from it."),
        as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
    ) -> None:
        """Render Namespaces, PVC, Data Connection, vLLM runtime, InferenceService, CA, IDMS,
        NetworkPolicies, gateway, monitoring; validate them offline; write atomically."""
        from rich.table import Table

        from prai.cli._console import make_console
        from prai.deploy import diff_against, render, write_atomic

        if (out is None) == (diff is None):
            raise UsageError("give exactly one of -o DIR (write) or --diff DIR (compare)")
        if diff is not None and include_secrets:
            raise UsageError("--diff with --include-secrets would print the S3 keys",
                             hint="compare without --include-secrets")
        if entrance not in ("prai", "kong"):
            raise UsageError(f"--entrance {entrance!r}: choose prai or kong")
        result = render(kitchen, entrance=entrance,  # type: ignore[arg-type]
                        include_secrets=include_secrets, crd_dir=crd_dir or _default_crd_dir(),
                        registry=registry, image_map=image_map)
        console = make_console()
        if diff is not None:
            d = diff_against(result.files, diff)
            if as_json:
                print_json({"added": d.added, "removed": d.removed, "changed": d.changed,
                            "summary": result.summary})
            elif d.empty:
                console.print(f"no changes against {diff}")
            else:
                print(d.patch, end="")
                console.print(f"{len(d.added)} added, {len(d.removed)} removed, "
                              f"{len(d.changed)} changed", style="bold")
            raise typer.Exit(0 if d.empty else 1)
        assert out is not None
        written = write_atomic(result.files, out)
        s = result.summary
        if as_json:
            print_json({"out": str(written), **s})
            return
        t = Table(title=f"prai render → {written}")
        for col in ("model", "namespace", "adapters", "max_model_len", "GPU need / budget",
                    "largest len that fits"):
            t.add_column(col)
        for m in s["models"]:
            fit = m["gpu_fit"] or {}
            gib = 1024**3
            need, budget = fit.get("need_bytes", 0) / gib, fit.get("budget_bytes", 0) / gib
            t.add_row(m["name"], m["namespace"],
                      ", ".join(f"{a['name']} (r{a['rank'] or '?'})" for a in m["adapters"]) or "-",
                      str(fit.get("max_model_len", "")), f"{need:.1f} / {budget:.1f} GiB",
                      str(fit.get("max_model_len_fit", "")))
        console.print(t)
        if "registry" in s:
            routed = ", ".join(
                f"{n} → {r['current']}" + (f" (canary {r['canary']} {r['canary_percent']}%)"
                                           if r["canary"] else "")
                for n, r in s["registry"]["aliases"].items()) or "no adapter alias"
            console.print(f"registry {s['registry']['url']}: {routed}")
        for line in checks_ran(s):
            console.print(line, markup=False)
        console.print(f"apply with: oc apply -k {written}")
        for n in s["notes"]:
            console.print(f"note: {n}", style="yellow", markup=False)
