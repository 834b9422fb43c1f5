"""Every command answers a mistake before work starts: one ``error:`` line, one ``hint:``
line, a documented exit code, no traceback.

The test walks the real CLI (typer's click tree): every path option and argument must
carry one of :mod:`prai.cli._params`' validators, and is then fed a missing path (relative,
so it must be called a path, not a hub id), a path of the wrong kind, an unreadable one and
a file with garbage in it. Every port option gets malformed values and a port another
socket holds. Commands run in-process through ``prai.cli.main.main`` (what the console
script calls); the ones that would start servers if the check were missing run as
processes.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer
import yaml

import prai.errors
from prai.cli._params import KIND_ATTR
from prai.cli.main import app, main
from prai.settings import get_settings
from tests.conftest import free_port

# What a user may see as an exit code: every code of the error hierarchy, click's usage 2.
DOCUMENTED = {2} | {
    c.exit_code for c in vars(prai.errors).values()
    if isinstance(c, type) and issubclass(c, prai.errors.PraiError)
}
# Path-like options whose type is a string (NAME=DIR, FILE or a scheme): checked by hand.
EXTRA_PATH_OPTIONS = [
    (("doctor",), "--adapter", "x={}", "dir"),
    (("bundle", "create", "-o", "out"), "--adapter", "x={}", "dir"),
    (("bench",), "--data", "{}", "file"),
]
# Commands whose job is to report on a file's content: garbage is a finding, not a refusal.
REPORTS_ON_CONTENT = {("doctor",)}


def _path_params() -> list[tuple[tuple[str, ...], Any]]:
    """(command words, click parameter) for every parameter typed as a path."""
    found: list[tuple[tuple[str, ...], Any]] = []

    def walk(cmd: Any, words: tuple[str, ...]) -> None:
        for p in cmd.params:
            d = getattr(p, "type_descriptor", None)
            if d is not None and (d.is_path or "Path" in str(d.annotation)):
                found.append((words, p))
        for name, sub in (getattr(cmd, "commands", None) or {}).items():
            walk(sub, (*words, name))

    walk(typer.main.get_command(app), ())
    return found


PATH_PARAMS = _path_params()
IDS = [" ".join(w) + " " + (p.opts[0] if p.opts else p.name) for w, p in PATH_PARAMS]


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):  # type: ignore[no-untyped-def]
    """Run `prai ARGS` in-process from an empty directory with an empty cache; returns
    (exit code, stdout, stderr, seconds)."""
    work = Path(tempfile.mkdtemp(prefix="prai-mistakes-"))
    work.chmod(0o755)  # reachable by the unprivileged user of the unreadable cases
    monkeypatch.chdir(work)
    monkeypatch.setenv("PRAI_CACHE_DIR", str(work / "cache"))
    monkeypatch.delenv("PRAI_KITCHEN", raising=False)
    get_settings.cache_clear()

    def run(*args: str) -> tuple[int, str, str, float]:
        start = time.monotonic()
        code = 0
        try:
            main(list(args))
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        out, err = capsys.readouterr()
        return code, out, err, time.monotonic() - start

    run.work = work  # type: ignore[attr-defined]
    yield run
    get_settings.cache_clear()
    for p in work.rglob("*"):  # undo chmod 000 so the folder can be removed
        with contextlib.suppress(OSError):
            p.chmod(0o755)
    subprocess.run(["rm", "-rf", str(work)], check=False)


def _one_line_and_hint(code: int, out: str, err: str, what: str) -> list[str]:
    lines = err.strip().splitlines()
    assert "Traceback" not in out + err, f"{what}: traceback\n{err}"
    assert code in DOCUMENTED, f"{what}: exit {code} is not a documented exit code\n{err}"
    assert len(lines) == 2 and lines[0].startswith("error: ") and lines[1].startswith("hint: "), (
        f"{what}: expected one error line and one hint, got:\n{err}")
    return lines


@contextlib.contextmanager
def _unprivileged() -> Iterator[None]:
    """As root, act as `nobody` (effective ids) so that mode 000 means unreadable."""
    if os.geteuid() != 0:
        yield
        return
    os.setegid(65534)
    os.seteuid(65534)
    try:
        yield
    finally:
        os.seteuid(0)
        os.setegid(0)


def _argv(words: tuple[str, ...], param: Any, value: str) -> list[str]:
    if param.param_type_name == "argument":
        return [*words, value]
    return [*words, param.opts[0], value]


def test_every_path_option_is_checked_before_work_starts() -> None:
    unchecked = [i for i, (_, p) in zip(IDS, PATH_PARAMS, strict=True) if not hasattr(p.callback, KIND_ATTR)]
    assert not unchecked, f"path options without a prai.cli._params validator: {unchecked}"
    assert len(PATH_PARAMS) > 40  # the walk found the CLI


@pytest.mark.parametrize(("words", "param"), PATH_PARAMS, ids=IDS)
def test_path_option_mistakes(cli, words: tuple[str, ...], param: Any) -> None:  # type: ignore[no-untyped-def]
    kind = getattr(param.callback, KIND_ATTR)
    work: Path = cli.work
    what = " ".join(_argv(words, param, "VALUE"))

    # 1. missing (a relative path whose folder does not exist either): named as missing, as a path
    if kind != "output":
        code, out, err, took = cli(*_argv(words, param, "stroe/modle.yaml"))
        lines = _one_line_and_hint(code, out, err, what)
        assert code == 2 and "no such" in lines[0] and "relative to" in lines[0], lines
        assert "hub" not in lines[0].replace(str(cli.work), "WORK") and "format" not in lines[0]
        assert took < 2, f"{what}: {took:.1f} s"

    # 2. the wrong kind: a folder for a file, a file for a folder, a file in the way of an output
    a_file = work / "a-file.txt"
    a_file.write_text("x")
    a_dir = work / "a-dir"
    a_dir.mkdir()
    wrong = {"file": str(a_dir), "dir": str(a_file), "output": str(a_file / "out")}.get(kind)
    if wrong is not None:
        code, out, err, _ = cli(*_argv(words, param, wrong))
        lines = _one_line_and_hint(code, out, err, what)
        assert code == 2 and ("is a directory" in lines[0] or "is a file" in lines[0]), lines

    # 3. unreadable (or, for an output, a folder that cannot be written)
    locked = work / ("locked-dir" if kind in ("dir", "output") else "locked.yaml")
    if kind in ("dir", "output"):
        locked.mkdir(mode=0o555 if kind == "output" else 0o000)
    else:
        locked.write_text("x")
        locked.chmod(0o000)
    value = str(locked / "out") if kind == "output" else str(locked)
    with _unprivileged():
        code, out, err, _ = cli(*_argv(words, param, value))
    lines = _one_line_and_hint(code, out, err, what)
    assert code == 5 and "permission denied" in lines[0], lines

    # 4. malformed content: garbage where a kitchen.yaml, PEM, JSON or bundle is expected
    if kind in ("file", "any", "bundle") and words not in REPORTS_ON_CONTENT:
        garbage = work / "garbage.yaml"
        garbage.write_bytes(b"\x00\xff: [unclosed\n-----BEGIN nothing\n")
        code, out, err, _ = cli(*_argv(words, param, str(garbage)))
        _one_line_and_hint(code, out, err, what)


@pytest.mark.parametrize(("words", "flag", "template", "kind"), EXTRA_PATH_OPTIONS,
                         ids=[" ".join(w) + " " + f for w, f, _, _ in EXTRA_PATH_OPTIONS])
def test_path_like_string_options(cli, words: tuple[str, ...], flag: str, template: str, kind: str) -> None:  # type: ignore[no-untyped-def]
    code, out, err, _ = cli(*words, flag, template.format("stroe/modle"))
    lines = _one_line_and_hint(code, out, err, f"{' '.join(words)} {flag}")
    assert code == 2 and "no such" in lines[0], lines


PORT_OPTIONS = [
    (("demo",), "--port"), (("demo",), "--gateway-port"), (("up",), "--engine-port"), (("up",), "--port"),
    (("gateway",), "--port"), (("guard", "serve"), "--port"),
]


@pytest.mark.parametrize(("words", "flag"), PORT_OPTIONS, ids=[" ".join(w) + " " + f for w, f in PORT_OPTIONS])
@pytest.mark.parametrize("value", ["abc", "0", "70000"])
def test_malformed_ports(cli, words: tuple[str, ...], flag: str, value: str) -> None:  # type: ignore[no-untyped-def]
    code, out, err, _ = cli(*words, flag, value)
    lines = _one_line_and_hint(code, out, err, f"{' '.join(words)} {flag} {value}")
    assert code == 2 and flag in lines[0], lines


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        yield s.getsockname()[1]


def _gateway_kitchen(path: Path) -> Path:
    path.write_text(yaml.safe_dump({"gateway": {
        "upstreams": [{"name": "e", "base_urls": [f"http://127.0.0.1:{free_port()}"], "models": ["m"]}],
        "tenants": [{"name": "t", "projects": [{"name": "p", "models": ["*"]}]}],
        "storage": {"url": f"sqlite:///{path.parent / 'gw.db'}"},
    }}))
    return path


def test_busy_ports_are_refused_at_once(busy_port: int, tmp_path: Path) -> None:
    """Each command that listens refuses a held port in one line (exit 5) before starting
    anything; run as processes, as a user does (a missing check would start servers)."""
    from tests._support.model_dirs import write_tiny_model

    model = write_tiny_model(tmp_path / "tiny")
    kitchen = _gateway_kitchen(tmp_path / "kitchen.yaml")
    cases = [
        ["serve", str(model), "--port", str(busy_port)],
        ["demo", "--smoke", "--gateway-port", str(busy_port), "--port", str(free_port())],
        ["up", "--port", str(busy_port), "--engine-port", str(free_port())],
        ["up", "--engine-port", str(busy_port)],
        ["gateway", "-c", str(kitchen), "--port", str(busy_port)],
        ["guard", "serve", "--port", str(busy_port)],
    ]
    env = dict(os.environ, PRAI_CACHE_DIR=str(tmp_path / "cache"))
    for args in cases:
        start = time.monotonic()
        r = subprocess.run([sys.executable, "-m", "prai.cli.main", *args], capture_output=True, text=True,
                           timeout=60, env=env)
        took = time.monotonic() - start
        lines = _one_line_and_hint(r.returncode, r.stdout, r.stderr, " ".join(args))
        assert r.returncode == 5 and str(busy_port) in lines[0] and "in use" in lines[0], lines
        flag = lines[0].split()[1]
        if flag.startswith("--"):  # the hint names the option the error names (not always --port)
            assert f"choose another {flag} " in lines[1], lines
        assert took < 30, f"{args}: {took:.1f} s (interpreter start included)"


def test_up_with_a_kitchen_refuses_the_demo_port_options(tmp_path: Path) -> None:
    """--port / --engine-port choose the demo kitchen's ports: with a kitchen.yaml (argument or
    PRAI_KITCHEN) they are refused in one line, not ignored (the gateway would come up on the
    kitchen's port). Run as processes: an ignored option would start a gateway (timeout)."""
    kitchen = _gateway_kitchen(tmp_path / "kitchen.yaml")
    env = {k: v for k, v in os.environ.items() if k != "PRAI_KITCHEN"}
    env["PRAI_CACHE_DIR"] = str(tmp_path / "cache")
    cases = [(["up", str(kitchen), "--port", "4300"], env, "--port 4300"),
             (["up", str(kitchen), "--engine-port", "8300"], env, "--engine-port 8300"),
             (["up", "--port", "4300"], {**env, "PRAI_KITCHEN": str(kitchen)}, "--port 4300")]
    for args, e, flag in cases:
        r = subprocess.run([sys.executable, "-m", "prai.cli.main", *args], capture_output=True, text=True,
                           timeout=30, env=e)
        lines = _one_line_and_hint(r.returncode, r.stdout, r.stderr, " ".join(args))
        assert r.returncode == 2 and lines[0].startswith(f"error: {flag}: ") and str(kitchen) in lines[0], lines
        assert str(kitchen) in lines[1] and "drop " + flag.split()[0] in lines[1], lines


def test_serve_refuses_a_busy_port_in_under_two_seconds(busy_port: int, tmp_path: Path) -> None:
    """The check itself (parse, preflight, bind) takes well under 2 s: measured in-process."""
    from prai.engine.serve import serve_main
    from prai.errors import PortInUse
    from tests._support.model_dirs import write_tiny_model

    model = write_tiny_model(tmp_path / "tiny")
    serve_main([str(model), "--preflight-only"])  # imports done (part of the interpreter's start)
    start = time.monotonic()
    with pytest.raises(PortInUse, match=f"--port {busy_port}"):
        serve_main([str(model), "--port", str(busy_port)])
    assert time.monotonic() - start < 2


def test_relative_path_typo_is_a_path_not_a_hub_id(cli) -> None:  # type: ignore[no-untyped-def]
    (cli.work / "store").mkdir()
    code, out, err, _ = cli("serve", "store/modle", "--preflight-only")
    lines = _one_line_and_hint(code, out, err, "serve store/modle")
    assert code == 4 and "store/modle (relative to" in lines[0] and "no such directory" in lines[0], lines
    assert "hub" not in lines[0].replace(str(cli.work), "WORK")


def test_gateway_store_commands_without_a_kitchen_refuse_with_the_fix(cli) -> None:  # type: ignore[no-untyped-def]
    for args in (["keys", "create", "--tenant", "t", "--project", "p"], ["keys", "list"], ["audit", "verify"],
                 ["model", "list"], ["gateway"], ["usage"], ["admin", "list-users"],
                 ["admin", "create-user", "ops", "--role", "platform-admin"], ["admin", "reset-password", "admin"],
                 ["admin", "disable-user", "ops"], ["admin", "enable-user", "ops"]):
        code, out, err, _ = cli(*args)
        lines = _one_line_and_hint(code, out, err, " ".join(args))
        assert code == 2 and "no kitchen.yaml" in lines[0], lines
        assert "-c kitchen.yaml" in lines[1] and "PRAI_KITCHEN" in lines[1], lines
        assert not list((cli.work / "cache").glob("*.db")), "a store was created anyway"


def test_kitchen_from_prai_kitchen(cli, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    kitchen = _gateway_kitchen(cli.work / "kitchen.yaml")
    monkeypatch.setenv("PRAI_KITCHEN", str(kitchen))
    get_settings.cache_clear()
    code, out, err, _ = cli("keys", "create", "--tenant", "t", "--project", "p")
    assert code == 0, err
    assert out.startswith("sk-") and (cli.work / "gw.db").is_file()  # the store kitchen.yaml names
    code, out, err, _ = cli("keys", "create", "--tenant", "t", "--project", "nope")
    lines = _one_line_and_hint(code, out, err, "keys create unknown project")
    assert "t/nope is not in gateway.tenants" in lines[0]
    # usage and admin read the same store as keys (not a stray $PRAI_CACHE_DIR/gateway.db)
    code, out, err, _ = cli("usage", "--by", "key", "--format", "json")
    assert code == 0, err
    code, out, err, _ = cli("admin", "create-user", "ops", "--role", "platform-admin", "--json")
    assert code == 0, err
    code, out, err, _ = cli("admin", "list-users", "--json")
    assert code == 0 and [r["username"] for r in json.loads(out)] == ["ops"], (out, err)
    assert not (cli.work / "cache" / "gateway.db").exists()
    from prai.db.admins import get_user
    from prai.db.engine import open_engine

    engine = open_engine(f"sqlite:///{cli.work / 'gw.db'}")
    assert get_user(engine, "ops") is not None
    engine.dispose()


def test_store_commands_refuse_a_missing_prai_kitchen(cli, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("PRAI_KITCHEN", str(cli.work / "nonexistent.yaml"))
    get_settings.cache_clear()
    for args in (["keys", "list"], ["usage"], ["admin", "list-users"],
                 ["admin", "create-user", "ops", "--role", "platform-admin"]):
        code, out, err, _ = cli(*args)
        lines = _one_line_and_hint(code, out, err, " ".join(args))
        assert code == 2 and "PRAI_KITCHEN=" in lines[0] and "no such file" in lines[0], lines
        assert not out and not list((cli.work / "cache").glob("*.db")), "a store was created anyway"


@pytest.mark.parametrize(
    ("args", "expect"),
    [
        (["keys", "list", "--tenant", "tt"], "--tenant tt: no such tenant in the kitchen (known: t)"),
        (["usage", "--tenant", "tt"], "--tenant tt: no such tenant in the kitchen (known: t)"),
        (["audit", "export", "--tenant", "tt"], "--tenant tt: no such tenant in the kitchen (known: t)"),
        (["audit", "export", "--tenant", "tt", "-o", "out.jsonl"], "no such tenant in the kitchen (known: t)"),
        (["keys", "list", "--project", "pp"], "--project pp: no tenant has such a project (known: t/p)"),
        (["usage", "--project", "pp", "--by", "project"], "no tenant has such a project (known: t/p)"),
        (["audit", "export", "--tenant", "t", "--project", "pp"], "tenant t has no such project (its projects: p)"),
    ],
)
def test_unknown_tenant_or_project_filter_is_refused(cli, args: list[str], expect: str) -> None:  # type: ignore[no-untyped-def]
    """A typo in --tenant/--project is refused with the known names, not answered with an
    empty export, table or key list (exit 0 looked like "no records")."""
    kitchen = _gateway_kitchen(cli.work / "kitchen.yaml")
    code, out, err, _ = cli(*args, "-c", str(kitchen))
    lines = _one_line_and_hint(code, out, err, " ".join(args))
    assert code == 2 and expect in lines[0], lines
    assert not out and not (cli.work / "out.jsonl").exists()


def test_project_filter_in_tenant_slash_project_form_gets_the_flags_to_type(cli) -> None:  # type: ignore[no-untyped-def]
    """`--project t/p` (the form `prai usage --by project` prints) names the two flags."""
    kitchen = _gateway_kitchen(cli.work / "kitchen.yaml")
    code, out, err, _ = cli("usage", "--project", "t/p", "-c", str(kitchen))
    lines = _one_line_and_hint(code, out, err, "usage --project t/p")
    assert code == 2 and lines[1] == "hint: --project takes a project's name: --tenant t --project p", lines


def test_a_tenant_known_only_to_the_store_can_still_be_filtered(cli) -> None:  # type: ignore[no-untyped-def]
    """A tenant removed from kitchen.yaml keeps its keys and records: its filters still work."""
    kitchen = _gateway_kitchen(cli.work / "kitchen.yaml")
    assert cli("keys", "create", "--tenant", "t", "--project", "p", "-c", str(kitchen))[0] == 0
    text = kitchen.read_text().replace("name: t\n", "name: u\n")
    kitchen.write_text(text)
    for args in (["keys", "list", "--tenant", "t", "--project", "p", "--json"], ["audit", "export", "--tenant", "t"],
                 ["usage", "--tenant", "t", "--project", "p"], ["keys", "list", "--tenant", "u"]):
        code, out, err, _ = cli(*args, "-c", str(kitchen))
        assert code == 0, (args, err)
    code, out, err, _ = cli("keys", "list", "--tenant", "t", "--json", "-c", str(kitchen))
    assert [r["tenant"] for r in json.loads(out)] == ["t"]
    code, _, err, _ = cli("keys", "list", "--tenant", "v", "-c", str(kitchen))
    assert code == 2 and "(known: t, u)" in err, err


def test_store_commands_use_the_kitchen_prai_up_wrote(cli) -> None:  # type: ignore[no-untyped-def]
    from prai.kitchen.up import demo_kitchen_path

    up = demo_kitchen_path(cli.work / "cache")
    up.parent.mkdir(parents=True)
    _gateway_kitchen(up)
    for args in (["usage"], ["admin", "create-user", "admin", "--role", "platform-admin"],
                 ["admin", "reset-password", "admin"]):
        code, _out, err, _ = cli(*args)
        assert code == 0 and f"kitchen: {up} (written by `prai up`" in err, (args, err)
    assert (up.parent / "gw.db").is_file() and not (cli.work / "cache" / "gateway.db").exists()


def _model_dir_cases(model: str, adapter: str, absolute: str, out: Path) -> list[tuple[tuple[str, ...], str]]:
    """(argv, the option that holds the relative path) for every command taking a model,
    tokenizer or adapter directory; the other directories are given as ``absolute``."""
    return [
        (("serve", model, "--preflight-only"), "--model"),
        (("serve", "--model", model, "--preflight-only"), "--model"),
        (("serve", absolute, "--tokenizer", model, "--preflight-only"), "--tokenizer"),
        (("serve", absolute, "--lora-modules", f"a={adapter}", "--preflight-only"), "--lora-modules a="),
        (("doctor", "--model", model, "--only", "model"), "--model"),
        (("doctor", "--model", absolute, "--adapter", f"a={adapter}", "--only", "lora"), "--adapter a="),
        (("bundle", "create", "-o", str(out), "--model", model), "--model"),
        (("bundle", "create", "-o", str(out), "--model", absolute, "--adapter", f"a={adapter}"), "--adapter a="),
        (("bench", "--target", "http://127.0.0.1:9", "--model", "m", "-o", str(out), "--tokenizer", model),
         "--tokenizer"),
        (("model", "promote", "m", "v1", "--tokenizer", model), "--tokenizer"),
    ]


def test_model_dir_commands_agree_on_a_hub_shaped_name(cli, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    """``org/name`` where neither exists here: every command gives the same first line
    ("no such directory; org does not exist either") and a hint that a hub repo id is
    never downloaded; `prai serve` keeps its model-preflight exit 4, the others exit 2."""
    from tests._support.model_dirs import write_tiny_model

    model_dir = cli.work / "abs" / "model"
    write_tiny_model(model_dir)
    (cli.work / "there").mkdir()
    monkeypatch.chdir(cli.work / "there")
    for argv, flag in _model_dir_cases("someorg/model", "someorg/lora", str(model_dir), cli.work / "out"):
        code, out, err, _ = cli(*argv)
        what = " ".join(argv)
        lines = _one_line_and_hint(code, out, err, what)
        rel = "someorg/lora" if flag.endswith("=") else "someorg/model"
        sep = "" if flag.endswith("=") else " "
        assert (f"{flag}{sep}{rel} (relative to {cli.work / 'there'}): no such directory; "
                "someorg does not exist either") in lines[0], (what, lines)
        assert f"if {rel} is a hub repo id: nothing is downloaded in a closed network" in lines[1], (what, lines)
        assert code == (4 if argv[0] == "serve" else 2), (what, code)
        assert not (cli.work / "out").exists(), what


def test_model_dir_commands_agree_on_a_relative_path(cli, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    """The same relative path, run from a directory that is neither the test's nor the
    model's parent: where it exists every command takes it as the local directory (never a
    hub repo id); where it does not (its first folder exists) every command says "no such
    directory", relative to the current directory."""
    import json

    from tests._support.model_dirs import write_adapter, write_tiny_model

    here, there = cli.work / "here", cli.work / "there"
    write_tiny_model(here / "store" / "model")
    write_adapter(here / "store", "lora")
    (there / "store").mkdir(parents=True)
    model, adapter = "store/model", "store/adapters/lora"

    monkeypatch.chdir(here)
    code, out, err, _ = cli("serve", model, "--tokenizer", model, "--lora-modules", f"a={adapter}",
                            "--preflight-only", "--json")
    assert code == 0, err
    found = json.loads(out)
    assert found["model"]["path"] == str(here / model)
    assert [a["path"] for a in found["adapters"]] == [str(here / adapter)]
    assert found["command"][found["command"].index("--tokenizer") + 1] == str(here / model)
    code, out, err, _ = cli("doctor", "--model", model, "--adapter", f"a={adapter}", "--only", "model,lora", "--json")
    checks = {c["name"]: c for c in json.loads(out)["checks"]}
    assert checks["model present"]["status"] == "PASS" and checks["model complete"]["status"] == "PASS", checks
    assert checks["model/a"]["status"] == "PASS", checks["model/a"]
    code, out, err, _ = cli("bundle", "create", "-o", str(cli.work / "bundle"), "--model", model,
                            "--adapter", f"a={adapter}")
    assert code == 0, err

    monkeypatch.chdir(there)
    for argv, flag in _model_dir_cases(model, adapter, str(here / model), cli.work / "out"):
        code, out, err, _ = cli(*argv)
        what = " ".join(argv)
        lines = _one_line_and_hint(code, out, err, what)
        rel = adapter if flag.endswith("=") else model
        assert f"{flag}{'' if flag.endswith('=') else ' '}{rel} (relative to {there}): no such directory" in lines[0], (
            what, lines)
        assert "hub" not in lines[0].replace(str(there), "THERE"), (what, lines)
        assert code == (4 if argv[0] == "serve" else 2), (what, code)


# --- messages a fresh user met that named the wrong problem or leaked internal names -------


def test_bundle_verify_of_a_file_that_is_not_a_tar(cli) -> None:  # type: ignore[no-untyped-def]
    key = cli.work / "sign.pub"
    key.write_text("-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE=\n"
                   "-----END PUBLIC KEY-----\n")
    code, out, err, _ = cli("bundle", "verify", str(key))
    lines = _one_line_and_hint(code, out, err, "bundle verify sign.pub")
    assert code == 2 and "not a PrAI bundle (not a tar archive or bundle directory)" in lines[0], lines
    assert "truncated" not in err and "prai bundle create" in lines[1], lines


def test_bundle_verify_of_a_directory_without_a_manifest(cli) -> None:  # type: ignore[no-untyped-def]
    model = cli.work / "model"
    model.mkdir()
    (model / "config.json").write_text("{}")
    code, out, err, _ = cli("bundle", "verify", str(model))
    lines = _one_line_and_hint(code, out, err, "bundle verify model")
    assert code == 14 and "no prai-bundle.json" in lines[0], lines
    assert "not a bundle directory" in lines[1] and "prai bundle create" in lines[1], lines
    assert "changed or damaged" not in lines[1], lines


@pytest.mark.parametrize("value", ["1c21e86f", "sha256:1c21e86f", "md5:" + "0" * 64, "sha256:" + "g" * 64])
def test_a_short_root_digest_is_a_usage_error(cli, value: str) -> None:  # type: ignore[no-untyped-def]
    empty = cli.work / "b"
    empty.mkdir()  # without the check, this would be answered "no prai-bundle.json"
    for words in (("bundle", "verify", str(empty)), ("bundle", "load", str(empty), "--to", str(cli.work / "d"))):
        code, out, err, _ = cli(*words, "--root-digest", value)
        lines = _one_line_and_hint(code, out, err, f"{words[1]} --root-digest {value}")
        assert code == 2 and f"--root-digest {value}" in lines[0] and "sha256: and 64 hex" in lines[0], lines


@pytest.mark.parametrize("value", ["abc", "0", "70000"])
def test_serve_port_names_the_flag_not_argparse_internals(cli, value: str) -> None:  # type: ignore[no-untyped-def]
    code, out, err, _ = cli("serve", "./store/model", "--port", value)
    lines = _one_line_and_hint(code, out, err, f"serve --port {value}")
    assert code == 2 and f"--port {value}: not a TCP port (1-65535)" in lines[0], lines
    assert "_port" not in err, lines


def test_postgresql_database_that_does_not_exist(cli, postgres_url: str) -> None:  # type: ignore[no-untyped-def]
    kitchen = _gateway_kitchen(cli.work / "kitchen.yaml")
    data = yaml.safe_load(kitchen.read_text())
    host = postgres_url.split("@", 1)[1].rsplit("/", 1)[0]  # 127.0.0.1:5432
    data["gateway"]["storage"]["url"] = f"postgresql://postgres:s3cr3t-pw@{host}/prai_no_such_db"
    kitchen.write_text(yaml.safe_dump(data))
    code, out, err, _ = cli("keys", "list", "-c", str(kitchen))
    lines = _one_line_and_hint(code, out, err, "keys list with a missing database")
    assert code == 5 and 'database "prai_no_such_db" does not exist' in lines[0], lines
    assert "OperationalError" not in err and "s3cr3t-pw" not in err, lines
    assert "createdb prai_no_such_db" in lines[1], lines


def _keys(work: Path) -> tuple[Path, Path]:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    key = ed25519.Ed25519PrivateKey.generate()
    priv, pub = work / "sign.key", work / "sign.pub"
    priv.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    pub.write_bytes(key.public_key().public_bytes(serialization.Encoding.PEM,
                                                  serialization.PublicFormat.SubjectPublicKeyInfo))
    return priv, pub


def test_sign_key_given_the_public_key(cli) -> None:  # type: ignore[no-untyped-def]
    _, pub = _keys(cli.work)
    model = cli.work / "model"
    model.mkdir()  # refused before the model is looked at
    code, out, err, took = cli("bundle", "create", "-o", str(cli.work / "b"), "--model", str(model),
                               "--sign-key", str(pub))
    lines = _one_line_and_hint(code, out, err, "create --sign-key sign.pub")
    assert code == 2 and "sign.pub is a public key; --sign-key needs the private key" in lines[0], lines
    assert "verify --key" in lines[1] and "ValueError" not in err, lines
    assert not (cli.work / "b").exists() and took < 2


def test_create_prints_the_verify_command_with_the_key(cli) -> None:  # type: ignore[no-untyped-def]
    from tests._support.model_dirs import write_tiny_model

    priv, pub = _keys(cli.work)
    model = write_tiny_model(cli.work / "tiny")
    code, out, err, _ = cli("bundle", "create", "-o", str(cli.work / "b"), "--model", str(model),
                            "--sign-key", str(priv))
    assert code == 0, err
    line = next(ln for ln in out.splitlines() if "the receiver runs" in ln)
    assert f"--key {pub}`" in line and "--root-digest sha256:" in line, line


def test_adapter_typo_hint_says_adapter(cli) -> None:  # type: ignore[no-untyped-def]
    model = cli.work / "model"
    model.mkdir()
    code, out, err, _ = cli("bundle", "create", "-o", "out", "--model", str(model), "--adapter", "faq=lora-fqa")
    lines = _one_line_and_hint(code, out, err, "create --adapter typo")
    assert code == 2 and "no such directory" in lines[0], lines
    assert "the adapter must be a local directory" in lines[1] and "the model" not in lines[1], lines


@pytest.mark.parametrize("section", ["gateway", "cluster", "guard", "doctor"])
def test_a_kitchen_section_that_is_a_list(cli, section: str) -> None:  # type: ignore[no-untyped-def]
    kitchen = cli.work / "kitchen.yaml"
    kitchen.write_text(f"{section}:\n  - name: x\n")
    code, out, err, _ = cli("doctor", str(kitchen))
    lines = _one_line_and_hint(code, out, err, f"{section}: as a list")
    assert code == 2 and f"{section}: must be a mapping (key: value), not a list" in lines[0], lines
    assert "dictionary" not in err and "instance of" not in err, lines


@pytest.mark.parametrize("value", ["127.0.0.1:8000", "localhost:8000", "ftp://h:1", "http://"])
def test_doctor_endpoint_without_a_scheme(cli, value: str) -> None:  # type: ignore[no-untyped-def]
    code, out, err, took = cli("doctor", "--endpoint", value)
    lines = _one_line_and_hint(code, out, err, f"doctor --endpoint {value}")
    assert code == 2 and f"--endpoint {value}: not a URL" in lines[0], lines
    assert took < 2 and "checking" not in err
    if value == "127.0.0.1:8000":
        assert "http://127.0.0.1:8000" in lines[1], lines


def test_up_with_a_serve_model_typo_gets_the_preflight_answer(cli) -> None:  # type: ignore[no-untyped-def]
    kitchen = _gateway_kitchen(cli.work / "kitchen.yaml")
    data = yaml.safe_load(kitchen.read_text())
    data["gateway"]["port"] = free_port()
    data["gateway"]["upstreams"][0]["serve"] = {"model": str(cli.work / "stroe" / "modle")}
    kitchen.write_text(yaml.safe_dump(data))
    code, out, err, took = cli("up", str(kitchen))
    lines = _one_line_and_hint(code, out, err, "up with a serve.model typo")
    assert code == 4 and "upstream e (serve:)" in lines[0] and "no such directory" in lines[0], lines
    assert "vLLM log" not in err and "starting engine" not in out + err, lines
    assert took < 5


@pytest.mark.parametrize(("host", "cause"), [
    ("127.0.0.1:{closed_port}", "connection refused"),
    ("no-such-host.invalid", "name not resolved"),
])
def test_unreachable_registry_is_named_in_words(cli, host: str, cause: str) -> None:  # type: ignore[no-untyped-def]
    host = host.format(closed_port=free_port())  # a port taken at run time (ids stay the same in every worker)
    code, out, err, _ = cli("bundle", "create", "-o", "b", "--image", f"{host}/x@sha256:{'0' * 64}")
    lines = _one_line_and_hint(code, out, err, f"create --image {host}")
    assert code == 19 and f"cannot talk to the registry {host}: {cause}" in lines[0], lines
    assert "ConnectError" not in err and "--image-ref-only" in lines[1], lines


def test_transport_causes_in_words() -> None:
    import httpx

    from prai.bundle.registry import _transport_cause

    assert _transport_cause(httpx.ConnectTimeout("")).startswith("timed out")
    assert _transport_cause(httpx.ReadTimeout("timed out")).startswith("timed out")
    assert _transport_cause(httpx.ConnectError("[Errno 101] Network is unreachable")).startswith("network unreachable")


@pytest.mark.parametrize(
    "args",
    [["usage", "--by"], ["usage", "--since"], ["keys", "list", "--tenant"], ["audit", "export", "--since"],
     ["model", "list", "--config"]],
    ids=lambda a: " ".join(a),
)
def test_an_option_without_its_value_points_at_its_commands_help(cli, args: list[str]) -> None:  # type: ignore[no-untyped-def]
    """Click raises this before the command's context exists: the hint still names the
    command's --help (as for an unknown option), not `prai --help`."""
    code, out, err, _ = cli(*args)
    lines = _one_line_and_hint(code, out, err, " ".join(args))
    assert code == 2 and f"'{args[-1]}' requires an argument" in lines[0]
    assert lines[1] == f"hint: see `prai {' '.join(args[:-1])} --help`"
