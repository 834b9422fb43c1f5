"""`prai guard scan / serve / detectors`: guardrails for operators.

Thin: parse flags, call :mod:`prai.guard`, print rich tables or ``--json``.
Exit codes: 0 passed; 40 the policy blocks the text (GuardrailViolation); 41 the input
is not UTF-8 text; 2 configuration errors; 5 port busy.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from prai.cli._console import make_console
from prai.cli._output import print_json
from prai.cli._params import input_file

console = make_console()

_CONFIG_HELP = "kitchen.yaml whose `guard:` section defines policies (built-in ones otherwise)."


def _guardrails(config: Path | None) -> Any:
    from prai.config import load_kitchen
    from prai.guard.policy import Guardrails

    if config is None:
        return Guardrails()
    return Guardrails(load_kitchen(config).guard)


def _read(source: str) -> str:
    from prai.errors import GuardInputError

    try:
        data = sys.stdin.buffer.read() if source == "-" else Path(source).read_bytes()
    except FileNotFoundError:
        raise GuardInputError(f"{source}: no such file") from None
    except OSError as exc:
        raise GuardInputError(f"{source}: cannot read ({exc.strerror})") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise GuardInputError(
            f"{source}: not UTF-8 (invalid byte at offset {exc.start})",
            hint="convert it first, e.g. `iconv -f SHIFT_JIS -t UTF-8 FILE | prai guard scan -`",
        ) from None


def register(app: typer.Typer) -> None:
    guard = typer.Typer(
        help="Guardrails: scan text for Japanese PII, secrets and prompt injection.",
        no_args_is_help=True,
    )
    app.add_typer(guard, name="guard")

    @guard.command("scan")
    def scan(
        source: str = typer.Argument("-", help="A UTF-8 text file, or - for standard input."),
        policy: str = typer.Option(
            "audit", "--policy", "-p", help="Policy name (built-in: standard, strict, audit)."
        ),
        direction: str = typer.Option(
            "input", "--direction", "-d", help="Apply the policy's `input` or `output` rules."
        ),
        config: Path | None = typer.Option(None, "--config", "-c", callback=input_file, help=_CONFIG_HELP),
        as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
        masked: bool = typer.Option(
            False, "--masked", help="Print only the text as the policy would pass it on."
        ),
    ) -> None:
        """Scan a file (or stdin) and show what the policy would do; exit 40 when it blocks.

        Findings never show the matched text (detector, offsets, action, score); --masked and
        --json show the text as the policy would pass it on — nothing when the policy blocks
        it (--json then has ``"text": null``).
        """
        from prai.errors import UsageError
        from prai.guard.policy import violation

        if direction not in ("input", "output"):
            raise UsageError(f"--direction {direction!r}: use input or output")
        if as_json and masked:
            raise UsageError("--json and --masked cannot be combined", hint="choose one output")
        pol = _guardrails(config).policy(policy)
        text = _read(source)
        out = pol.apply(text, direction)
        unavailable = sorted(pol.scanner.unavailable)
        if unavailable:
            from prai.guard._ja import INSTALL_HINT

            err = make_console(stderr=True)
            err.print(f"note: {', '.join(unavailable)} not checked: the Japanese analyser and "
                      f"postal data are not installed ({INSTALL_HINT})", style="yellow", markup=False)
        if masked:
            if not out.blocked:  # a blocked text is never printed, not even in part
                sys.stdout.write(out.text)
        elif as_json:
            data = {
                "policy": pol.name,
                "direction": direction,
                "chars": len(text),
                "blocked": out.blocked,
                "findings": [
                    {"detector": f.detector, "detection_type": f.detection_type,
                     "start": f.start, "end": f.end, "action": act, "score": f.score}
                    for f, act in out.findings
                ],
                "counts": [
                    {"detector": d, "action": a, "count": n}
                    for (d, a), n in sorted(out.counts.items())
                ],
                "text": None if out.blocked else out.text,
                "unavailable": unavailable,
            }
            print_json(data)
        else:
            table = Table(title=f"policy {pol.name} ({direction}) — {len(text)} characters")
            for col in ("detector", "start", "end", "action", "score"):
                right = col in ("start", "end", "score")
                table.add_column(col, justify="right" if right else "left")
            for f, act in out.findings:
                table.add_row(f.detector, str(f.start), str(f.end), act, f"{f.score:.2f}")
            console.print(table)
            if not out.findings:
                console.print("no findings")
        if out.blocked:
            raise violation(out.blocked, direction, pol.name)  # type: ignore[arg-type]

    @guard.command("detectors")
    def detectors(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
        """List detector ids, their detection type and masking placeholder."""
        from prai.guard._ja import INSTALL_HINT, available
        from prai.guard.scanner import DETECTORS, JA_DETECTORS

        ja = available()
        if as_json:
            rows = [{"detector": d, "detection_type": t, "placeholder": p}
                    for d, (t, p) in DETECTORS.items() if ja or d not in JA_DETECTORS]
            print_json(rows)
            return
        table = Table()
        for col in ("detector", "detection_type", "placeholder", "available"):
            table.add_column(col)
        for d, (t, p) in DETECTORS.items():
            table.add_row(d, t, p, "yes" if ja or d not in JA_DETECTORS else "no")
        console.print(table)
        if not ja:
            console.print(f"pii.person_name and pii.address_jp need the ja extra: {INSTALL_HINT}",
                          markup=False)

    @guard.command("serve")
    def serve(
        host: str = typer.Option("127.0.0.1", "--host", help="Listen address."),
        port: int = typer.Option(8001, "--port", min=1, max=65535, help="Listen port."),
        config: Path | None = typer.Option(None, "--config", "-c", callback=input_file, help=_CONFIG_HELP),
    ) -> None:
        """Serve the detectors with the FMS / TrustyAI detector API (POST /api/v1/text/contents)."""
        import uvicorn

        from prai.cli._params import ensure_port_free
        from prai.guard.server import build_app

        ensure_port_free(host, port, "--port")
        app_ = build_app(_guardrails(config))
        console.print(f"prai guard serve: http://{host}:{port}/api/v1/text/contents", style="green")
        uvicorn.run(app_, host=host, port=port, log_level="warning", access_log=False)


__all__ = ["register"]
