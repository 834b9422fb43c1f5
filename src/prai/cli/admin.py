"""`prai admin create-user | list-users | reset-password | disable-user | enable-user`:
console users (separate from API keys), managed on the gateway host."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import typer

from prai.cli._console import make_console
from prai.cli._kitchen import open_kitchen_store
from prai.cli._params import input_file
from prai.errors import UsageError

_CONFIG_HELP = ("kitchen.yaml with a `gateway:` section; its storage holds the users (default: "
                "PRAI_KITCHEN, else the kitchen of `prai up`).")


def _actor() -> str:
    from prai.settings import get_settings

    return get_settings().actor


def _stdin_password(flag: bool) -> str | None:
    if not flag:
        return None
    line = sys.stdin.readline().rstrip("\r\n")
    if not line:
        raise UsageError("--password-stdin: no password on standard input",
                         hint="pipe it in: printf '%s\\n' \"$PASSWORD\" | prai admin ... --password-stdin")
    return line


def _show_password(new: Any, as_json: bool, what: str) -> None:
    if as_json:
        out = {"username": new.user.username, "role": new.user.role, "tenant": new.user.tenant,
               "must_change_password": new.generated}
        if new.generated:
            out["password"] = new.password
        print(json.dumps(out, ensure_ascii=False))
        return
    if new.generated:
        print(new.password)
        print(f"{what}; one-time password above (shown once): the user must choose a new one at the "
              "first login", file=sys.stderr)
    else:
        print(what, file=sys.stderr)


def register(app: typer.Typer) -> None:
    admin = typer.Typer(help="Console users: platform-admin, tenant-admin, auditor (not API keys).",
                        no_args_is_help=True)
    app.add_typer(admin, name="admin")

    @admin.command("create-user")
    def create_user(
        username: str = typer.Argument(..., help="User name (letters, digits, . _ - @)."),
        role: str = typer.Option(..., "--role", help="platform-admin, tenant-admin or auditor."),
        tenant: str | None = typer.Option(None, "--tenant", help="The tenant of a tenant-admin."),
        password_stdin: bool = typer.Option(
            False, "--password-stdin", help="Read the password from standard input (default: generate a "
            "one-time password, printed once)."),
        config: Path | None = typer.Option(None, "--config", "-c", callback=input_file, help=_CONFIG_HELP),
        as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    ) -> None:
        """Create a console user; a generated password is printed once and must be changed at first login."""
        from prai.console.users import create_user as do_create

        password = _stdin_password(password_stdin)
        engine, gw = open_kitchen_store(config)
        known = [t.name for t in gw.tenants] if gw is not None else None
        new = do_create(engine, username, role=role, tenant=tenant, password=password, actor=_actor(),
                        known_tenants=known)
        scope = f" of tenant {tenant}" if tenant else ""
        _show_password(new, as_json, f"created {role}{scope} {username}")

    @admin.command("list-users")
    def list_users(
        config: Path | None = typer.Option(None, "--config", "-c", callback=input_file, help=_CONFIG_HELP),
        as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    ) -> None:
        """Console users, their roles and state (never passwords or hashes)."""
        from rich.table import Table

        from prai.console.users import user_rows

        engine, _gw = open_kitchen_store(config)
        rows = user_rows(engine)
        if as_json:
            print(json.dumps(rows, ensure_ascii=False, indent=2))
            return
        if not rows:
            print("no console users yet: prai admin create-user NAME --role platform-admin")
            return
        table = Table("USER", "ROLE", "TENANT", "STATE", "CREATED BY")
        for r in rows:
            state = "disabled" if r["disabled"] else "must change password" if r["must_change_password"] else "active"
            table.add_row(str(r["username"]), str(r["role"]), str(r["tenant"] or "-"), state, str(r["created_by"]))
        make_console().print(table)

    @admin.command("reset-password")
    def reset_password(
        username: str = typer.Argument(..., help="User name."),
        password_stdin: bool = typer.Option(False, "--password-stdin", help="Read the new password from stdin."),
        config: Path | None = typer.Option(None, "--config", "-c", callback=input_file, help=_CONFIG_HELP),
        as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    ) -> None:
        """Set a new password (generated: one-time) and end the user's sessions."""
        from prai.console.users import reset_password as do_reset

        password = _stdin_password(password_stdin)
        engine, _gw = open_kitchen_store(config)
        new = do_reset(engine, username, actor=_actor(), password=password)
        _show_password(new, as_json, f"password of {username} reset; their sessions ended")

    @admin.command("disable-user")
    def disable_user(
        username: str = typer.Argument(..., help="User name."),
        config: Path | None = typer.Option(None, "--config", "-c", callback=input_file, help=_CONFIG_HELP),
    ) -> None:
        """Disable a user: logins refused, sessions ended."""
        from prai.console.users import set_disabled

        engine, _gw = open_kitchen_store(config)
        set_disabled(engine, username, True, actor=_actor())
        print(f"disabled {username}; their sessions ended")

    @admin.command("enable-user")
    def enable_user(
        username: str = typer.Argument(..., help="User name."),
        config: Path | None = typer.Option(None, "--config", "-c", callback=input_file, help=_CONFIG_HELP),
    ) -> None:
        """Enable a disabled user again."""
        from prai.console.users import set_disabled

        engine, _gw = open_kitchen_store(config)
        set_disabled(engine, username, False, actor=_actor())
        print(f"enabled {username}")
