"""`prai gateway`, `prai keys create|list|revoke`, `prai audit verify|export`, `prai usage`."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from prai.cli._console import make_console
from prai.cli._kitchen import open_kitchen_store
from prai.cli._output import print_json
from prai.cli._params import LogLevel, input_file, output_path

# what --since/--until of `prai usage` accept (prai.gateway.admin.parse_since)
_TIME_FORMS = (
    "an ISO date or date/time (UTC unless it has an offset: 2026-12-01, 2026-12-01T09:00, "
    "2026-12-01T09:00+09:00) or a duration back from now (30m, 24h, 7d, 2w)"
)
_CONFIG_HELP = (
    "kitchen.yaml with a `gateway:` section, the one `prai gateway` runs with (default: "
    "PRAI_KITCHEN, else the kitchen of `prai up`)."
)


def register(app: typer.Typer) -> None:
    keys = typer.Typer(help="Create, list and revoke gateway API keys.", no_args_is_help=True)
    audit = typer.Typer(help="Verify and export the gateway's audit log.", no_args_is_help=True)
    app.add_typer(keys, name="keys")
    app.add_typer(audit, name="audit")

    @app.command("gateway")
    def gateway(
        config: Path | None = typer.Option(
            None, "--config", "-c", callback=input_file,
            help="kitchen.yaml with a `gateway:` section (default: PRAI_KITCHEN, else the kitchen of `prai up`).",
        ),
        host: str | None = typer.Option(
            None, "--host", help="Listen address (default gateway.host)."
        ),
        port: int | None = typer.Option(
            None, "--port", min=1, max=65535, help="Listen port (default gateway.port)."),
        workers: int = typer.Option(
            1, "--workers", min=1, help="Processes sharing the port (needs Redis limits)."
        ),
        reuse_port: bool = typer.Option(False, "--reuse-port", hidden=True),
        log_level: LogLevel = typer.Option(
            LogLevel.warning, "--log-level", case_sensitive=False, help="Log level (any case)."
        ),
        tls_cert: Path | None = typer.Option(
            None, "--tls-cert", callback=input_file, help="PEM certificate (chain): serve HTTPS."),
        tls_key: Path | None = typer.Option(
            None, "--tls-key", callback=input_file, help="PEM private key for --tls-cert."),
    ) -> None:
        """Run the multi-tenant OpenAI-compatible gateway."""
        from rich.console import Console

        from prai.cli._kitchen import resolve_kitchen
        from prai.console import build_console
        from prai.gateway.server import serve
        from prai.settings import get_settings

        console = Console(stderr=True, highlight=False, soft_wrap=True)
        config = resolve_kitchen(config)

        def ready(h: str, p: int) -> None:
            if not reuse_port or workers > 1:
                scheme = "https" if tls_cert else "http"
                console.print(f"prai gateway: listening on {scheme}://{h}:{p} (workers: {workers})")

        serve(
            config,
            cache_dir=get_settings().cache_dir,
            host=host,
            port=port,
            workers=workers,
            reuse_port=reuse_port,
            log_level=log_level.value,
            on_ready=ready,
            tls_cert=tls_cert,
            tls_key=tls_key,
            console=build_console,
        )

    @keys.command("create")
    def keys_create(
        tenant: str = typer.Option(..., "--tenant", help="Tenant name (gateway.tenants[].name)."),
        project: str = typer.Option(..., "--project", help="Project name of that tenant."),
        name: str = typer.Option("", "--name", help="A label for the key (who holds it)."),
        expires: str | None = typer.Option(None, "--expires", help="Lifetime, e.g. 30d, 12h."),
        config: Path | None = typer.Option(None, "--config", "-c", callback=input_file, help=_CONFIG_HELP),
        as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    ) -> None:
        """Create a key; it is printed once and only its hash is stored."""
        from prai.gateway import admin

        engine, gw = open_kitchen_store(config)
        created = admin.create_key(
            engine, gw, tenant=tenant, project=project, name=name, expires=expires
        )
        if as_json:
            print_json({
                "id": created.record.id,
                "key": created.key,
                "tenant": tenant,
                "project": project,
                "expires_at": created.record.expires_at,
            })
            return
        print(created.key)
        print(
            f"key id {created.record.id} for {tenant}/{project}: "
            "store it now, it is not shown again",
            file=sys.stderr,
        )

    @keys.command("list")
    def keys_list(
        tenant: str | None = typer.Option(None, "--tenant", help="Only this tenant's keys."),
        project: str | None = typer.Option(None, "--project", help="Only this project's keys."),
        config: Path | None = typer.Option(None, "--config", "-c", callback=input_file, help=_CONFIG_HELP),
        as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    ) -> None:
        """List keys (ids and metadata; never the keys).

        An unknown --tenant/--project is refused (exit 2) with the known ones.
        """
        from rich.table import Table

        from prai.gateway import admin

        engine, gw = open_kitchen_store(config)
        admin.check_scope(engine, gw, tenant=tenant, project=project)
        rows = admin.key_rows(engine, tenant, project)
        if as_json:
            print_json(rows)
            return
        table = Table("id", "tenant", "project", "name", "state", "created", "expires")
        for r in rows:
            table.add_row(
                *(
                    str(r[c] or "")
                    for c in ("id", "tenant", "project", "name", "state", "created", "expires")
                )
            )
        make_console().print(table)

    @keys.command("revoke")
    def keys_revoke(
        key_id: str = typer.Argument(..., help="Key id from `prai keys list`."),
        config: Path | None = typer.Option(None, "--config", "-c", callback=input_file, help=_CONFIG_HELP),
    ) -> None:
        """Revoke a key; running gateways refuse it within gateway.key_cache_refresh_s."""
        from prai.gateway import admin

        engine, _ = open_kitchen_store(config)
        admin.revoke(engine, key_id)
        print(f"revoked {key_id}")

    @audit.command("verify")
    def audit_verify(
        config: Path | None = typer.Option(None, "--config", "-c", callback=input_file, help=_CONFIG_HELP),
        as_json: bool = typer.Option(False, "--json", help="Print JSON."),
        expect_head: str | None = typer.Option(
            None,
            "--expect-head",
            help="SEQ:HASH recorded earlier (head_seq:head_hash of --json): fail unless the "
            "log still reaches SEQ with that hash.",
        ),
    ) -> None:
        """Check the audit hash chain; exit 3 when a record was edited, reordered or deleted."""
        from prai.gateway import admin

        expected = admin.parse_expect_head(expect_head) if expect_head else None
        engine, _ = open_kitchen_store(config)
        res = admin.verify(engine, expected)
        if as_json:
            print_json({"ok": True, "records": res.records, "head_seq": res.records, "head_hash": res.head_hash})
        else:
            print(f"audit log OK: {res.records} records, hash chain intact")
            print(f"head: {res.records}:{res.head_hash}")

    @audit.command("export")
    def audit_export(
        tenant: str | None = typer.Option(None, "--tenant", help="Only this tenant."),
        project: str | None = typer.Option(None, "--project", help="Only this project."),
        since: str | None = typer.Option(None, "--since", help="ISO date/time (UTC) or 24h, 7d."),
        fmt: str = typer.Option("jsonl", "--format", help="jsonl or csv."),
        output: Path | None = typer.Option(
            None, "--output", "-o", callback=output_path, help="File (default: stdout)."),
        config: Path | None = typer.Option(None, "--config", "-c", callback=input_file, help=_CONFIG_HELP),
    ) -> None:
        """Export audit records (no keys; prompts only when stored masked).

        An unknown --tenant/--project is refused (exit 2) with the known ones, not exported
        as an empty file.
        """
        from prai.gateway import admin

        since_us = admin.parse_since(since) if since else None
        engine, gw = open_kitchen_store(config)
        admin.check_scope(engine, gw, tenant=tenant, project=project)
        lines = admin.export_lines(
            engine, fmt=fmt, tenant=tenant, project=project, since_us=since_us
        )
        if output is None:
            for line in lines:
                sys.stdout.write(line)
        else:
            n = admin.write_atomic(output, lines)
            print(f"wrote {output} ({n} lines)", file=sys.stderr)

    @app.command("usage")
    def usage(
        tenant: str | None = typer.Option(None, "--tenant", help="Only this tenant."),
        project: str | None = typer.Option(None, "--project", help="Only this project."),
        by: str = typer.Option(
            "model", "--by", help="Group by tenant, project, model, key, day or month (any case)."
        ),
        since: str | None = typer.Option(
            None, "--since", help="Start, inclusive (default: everything): " + _TIME_FORMS + "."
        ),
        until: str | None = typer.Option(
            None, "--until", help="End, exclusive (default: now): " + _TIME_FORMS + "."
        ),
        fmt: str = typer.Option("table", "--format", help="table, json or csv (any case)."),
        timezone: str | None = typer.Option(
            None,
            "--timezone",
            help="Zone of days and months (default gateway.budget_timezone, else Asia/Tokyo).",
        ),
        config: Path | None = typer.Option(None, "--config", "-c", callback=input_file, help=_CONFIG_HELP),
    ) -> None:
        """Requests, tokens and cost per tenant, project, model, key, day or month (audit log).

        An unknown --tenant/--project is refused (exit 2) with the known ones, and so is a --since not before --until.

        Requests refused without a valid API key (HTTP 401) have no tenant, project or key.

        Every grouping but day and month shows them as `(no key)` (json: null tenant and project).
        """
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        from prai.errors import UsageError
        from prai.gateway import admin
        from prai.gateway.usage import check_format, check_group_by, format_usage, parse_window, usage_report

        by = check_group_by(by)
        fmt = check_format(fmt)
        since_us, until_us = parse_window(since, until)
        engine, gw = open_kitchen_store(config)
        admin.check_scope(engine, gw, tenant=tenant, project=project)
        zone = timezone or gw.budget_timezone
        try:
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise UsageError(
                f"--timezone {zone!r}: not an IANA time zone", hint="e.g. Asia/Tokyo or UTC"
            ) from None
        rows = usage_report(
            engine,
            tenant=tenant,
            project=project,
            by=by,
            since_us=since_us,
            until_us=until_us,
            timezone=zone,
            prices=gw.prices,
        )
        sys.stdout.write(format_usage(rows, fmt, by))
