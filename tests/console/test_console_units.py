"""Console pieces without a server: password hashing, the catalogs, roles, sessions and
throttling on SQLite and PostgreSQL, and migration step 2 on a database of step 1."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import get_args

import pytest
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import Engine

from prai.config.console import ConsoleConfig
from prai.console import passwords, sessions
from prai.console.i18n import LANGS, catalog
from prai.console.roles import Principal
from prai.console.users import create_user, set_disabled
from prai.db.engine import normalize_url, open_engine
from prai.db.migrations import MIGRATIONS, migrate, schema_version
from prai.errors import AdminAuthRequired, AdminForbidden, AdminLoginFailed, AdminUserError, LoginThrottled

CONSOLE = Path(__file__).resolve().parents[2] / "src" / "prai" / "console"


# --- passwords ----------------------------------------------------------------------------


def test_scrypt_hashes_verify_and_never_repeat() -> None:
    h1, h2 = passwords.hash_password("a long passphrase"), passwords.hash_password("a long passphrase")
    assert h1 != h2 and h1.startswith("scrypt$32768$8$1$")
    assert passwords.verify_password("a long passphrase", h1)
    assert not passwords.verify_password("a long passphrasE", h1)
    for broken in ("", "scrypt$1$2", "bcrypt$x$y$z$a$b", h1.replace("scrypt", "plain"), h1[:-4]):
        assert not passwords.verify_password("a long passphrase", broken)
    assert not passwords.verify_password("", passwords.DUMMY_HASH)


def test_generated_and_chosen_passwords() -> None:
    generated = {passwords.generate_password() for _ in range(50)}
    assert len(generated) == 50 and all(len(p) == 20 and p.isalnum() for p in generated)
    with pytest.raises(AdminUserError, match="at least 12"):
        passwords.check_new_password("short", username="x")
    with pytest.raises(AdminUserError, match="user name"):
        passwords.check_new_password("my name is Alice indeed", username="alice")
    passwords.check_new_password("correct horse battery", username="alice")


# --- catalogs, roles ----------------------------------------------------------------------


def test_both_languages_have_every_key_the_pages_use() -> None:
    en, ja = catalog("en"), catalog("ja")
    assert set(en) == set(ja) and LANGS == ("en", "ja")
    used: set[str] = set()
    for f in [*(CONSOLE / "templates").glob("*.jinja"), *CONSOLE.glob("*.py")]:
        used |= set(re.findall(r"""\bt\(\s*["']([a-z_]+\.[a-z_0-9-]+)["']""", f.read_text(encoding="utf-8")))
        used |= set(re.findall(r'"((?:nav|usage|keys|account)\.[a-z_]+)"', f.read_text(encoding="utf-8")))
        used |= set(re.findall(r'title_key = "([a-z_.]+)"', f.read_text(encoding="utf-8")))
    used = {k for k in used if not k.endswith((".jinja", "_"))}  # "keys.state_" ~ state: below
    dynamic = {f"role.{r}" for r in ("platform-admin", "tenant-admin", "auditor")} | {
        f"keys.state_{s}" for s in ("active", "revoked", "expired")} | {f"lang.{lang}" for lang in LANGS}
    missing = (used | dynamic) - set(en)
    assert not missing, missing
    assert all(ja[k] for k in ja) and sum(ja[k] != en[k] for k in ja) > len(ja) * 0.8


def test_doctor_areas_in_the_api_schema_are_doctors() -> None:
    from prai.console.schemas import DoctorArea
    from prai.doctor import AREAS

    assert get_args(DoctorArea) == AREAS


def test_roles() -> None:
    alice = Principal("alice", "tenant-admin", "acme", "s")
    audrey = Principal("audrey", "auditor", None, "s")
    root = Principal("root", "platform-admin", None, "s")
    assert alice.tenant_filter(None) == "acme" and root.tenant_filter(None) is None
    with pytest.raises(AdminForbidden):
        alice.tenant_filter("globex")
    with pytest.raises(AdminForbidden):
        alice.require_write_tenant("globex")
    alice.require_write_tenant("acme")
    with pytest.raises(AdminForbidden, match="read-only"):
        audrey.require_write_tenant("acme")
    assert not alice.can_read_tenant(None) and audrey.can_read_tenant(None)
    with pytest.raises(AdminForbidden):
        audrey.require_platform_admin("promoting")
    assert root.actor == "root (console platform-admin)"


# --- sessions and throttling on both databases --------------------------------------------


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "sqlite":
        eng = open_engine(f"sqlite:///{tmp_path / 'console.db'}")
        yield eng
        eng.dispose()
        return
    url = request.getfixturevalue("postgres_url")
    schema = "prai_console_" + uuid.uuid4().hex[:10]
    admin = create_engine(normalize_url(url))
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    eng = open_engine(f"{url}?options=-csearch_path%3D{schema}")
    try:
        yield eng
    finally:
        eng.dispose()
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


def test_sessions_expire_and_throttling_is_per_user_and_per_client(engine: Engine) -> None:
    create_user(engine, "ops", role="platform-admin", password="a long passphrase", actor="t")
    cfg = ConsoleConfig(login_max_failures=2, login_max_failures_per_client=3, login_window_s=60,
                        session_idle_s=1.5, session_max_s=30)
    done = sessions.login(engine, cfg, "ops", "a long passphrase", client="10.0.0.1")
    assert sessions.resolve(engine, cfg, done.token).username == "ops"
    for _ in range(3):  # activity keeps it open past session_idle_s
        time.sleep(0.6)
        sessions.resolve(engine, cfg, done.token)
    assert sessions.csrf_ok(done.token, sessions.csrf_token(done.token))
    assert not sessions.csrf_ok(done.token, sessions.csrf_token(done.token + "x"))
    with pytest.raises(AdminAuthRequired):
        sessions.resolve(engine, cfg, done.token + "x")
    time.sleep(1.8)  # idle longer than session_idle_s
    with pytest.raises(AdminAuthRequired, match="expired"):
        sessions.resolve(engine, cfg, done.token)
    # per user: two failures, then refused even with the right password
    for _ in range(2):
        with pytest.raises(AdminLoginFailed):
            sessions.login(engine, cfg, "ops", "wrong", client="10.0.0.2")
    with pytest.raises(LoginThrottled) as exc:
        sessions.login(engine, cfg, "ops", "a long passphrase", client="10.0.0.3")
    assert 0 < exc.value.retry_after_s <= 60
    # per client: names vary, the address is the same
    for name in ("x1", "x2", "x3"):
        with pytest.raises(AdminLoginFailed):
            sessions.login(engine, cfg, name, "guess", client="10.0.0.9")
    with pytest.raises(LoginThrottled):
        sessions.login(engine, cfg, "x4", "guess", client="10.0.0.9")
    # a disabled user cannot log in, and the message does not say why
    create_user(engine, "gone", role="auditor", password="another long one", actor="t")
    set_disabled(engine, "gone", True, actor="t")
    with pytest.raises(AdminLoginFailed, match="wrong user name or password"):
        sessions.login(engine, cfg, "gone", "another long one", client="10.0.0.4")
    from prai.db.audit_log import verify_audit

    assert verify_audit(engine).ok


def test_migration_step_2_on_a_step_1_database(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    old = create_engine(url)
    from prai.db import schema as s

    with old.begin() as conn:  # what PrAI 0.1 left: schema version 1
        s.metadata.create_all(conn, tables=[s.schema_table])
        MIGRATIONS[0](conn)
        conn.execute(s.schema_table.insert().values(id=1, version=1))
    old.dispose()
    engine = open_engine(url)
    with engine.connect() as conn:
        assert schema_version(conn) == len(MIGRATIONS) >= 2
        tables = set(inspect(conn).get_table_names())
    assert {"prai_admin_users", "prai_admin_sessions", "prai_admin_login_failures", "prai_keys"} <= tables
    assert migrate(engine) == len(MIGRATIONS)  # idempotent
    engine.dispose()
