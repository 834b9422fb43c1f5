"""`prai model register/promote/rollback/history` end to end: real `prai gateway`, real
bundles, the `prai` CLI, the openai SDK as client, and a fake vLLM with the runtime LoRA
API (tests/_support/fake_openai.py --base) so promotions can be watched under load."""

from __future__ import annotations

import json
import sqlite3
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import openai
import pytest

from prai.bundle import create_bundle
from prai.db.engine import open_engine
from prai.errors import RegistryError
from tests._support import fake_openai
from tests._support.net import free_port, wait_http
from tests.bench.conftest import tiny_tokenizer  # noqa: F401  (session fixture)
from tests.bundle.bundle_fixtures import build_adapter, build_tiny_llama
from tests.gateway._gwutil import Gateway, Proc, http_json

#: The fake upstream as a vLLM with the runtime LoRA API (``--base NAME ...``).
FAKE = fake_openai.__file__


@dataclass
class Kitchen:
    gw: Gateway
    engine_url: str
    engine: Proc
    bundles: dict[str, Path] = field(default_factory=dict)

    def prai(self, *args: str, check: bool = True) -> Any:
        return self.gw.cli(*args, check=check)

    def model(self, *args: str, check: bool = True) -> Any:
        return self.prai("model", *args, "-c", str(self.gw.config), check=check)

    def stats(self) -> dict[str, Any]:
        return http_json(self.engine_url + "/stats")[2]


def _bundle(root: Path, name: str, r: int, alpha_tag: int) -> Path:
    """A bundle with the tiny Llama and one adapter; ``alpha_tag`` makes versions differ."""
    model = root / f"src-{name}" / "model"
    build_tiny_llama(model)
    adapter = build_adapter(root / f"src-{name}" / "kansai", r=r, base="base")
    cfg = json.loads((adapter / "adapter_config.json").read_text())
    cfg["lora_alpha"] = alpha_tag
    (adapter / "adapter_config.json").write_text(json.dumps(cfg))
    out = root / name
    create_bundle(out, model=model, adapters={"kansai": adapter})
    return out


@pytest.fixture
def kitchen(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Kitchen]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    extra = [x if x.startswith("--") else f"--slow={x}" for x in getattr(request, "param", [])]
    engine = Proc([sys.executable, str(FAKE), str(port), "--base", "base", "--delay-ms", "60", *extra])
    wait_http(url + "/health", proc=engine.p)
    gw = Gateway(
        tmp_path / "gw",
        {
            "upstreams": [{"name": "engine", "base_urls": [url], "health_interval_s": 0.5}],
            "tenants": [
                {"name": "acme", "projects": [{"name": "chat", "models": ["kansai"]}]},
                {"name": "globex", "projects": [{"name": "ops", "models": ["base"]}]},
            ],
            "routing_refresh_s": 0.2,
        },
    )
    k = Kitchen(gw, url, engine)
    k.bundles = {"v1": _bundle(tmp_path, "bundle-v1", 4, 8), "v2": _bundle(tmp_path, "bundle-v2", 4, 16)}
    gw.start()
    yield k
    gw.stop()
    engine.stop()


class Load:
    """Clients (openai SDK) sending chat requests for ``kansai`` until stopped."""

    def __init__(self, base_url: str, key: str, workers: int = 6) -> None:
        self.base_url, self.key = base_url, key
        self.results: list[tuple[float, str | None, str | None]] = []  # (t, model, error)
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self._run, args=(i,), daemon=True) for i in range(workers)]

    def _run(self, i: int) -> None:
        client = openai.OpenAI(base_url=self.base_url, api_key=self.key, max_retries=0, timeout=30)
        n = 0
        while not self.stop.is_set():
            n += 1
            t = time.monotonic()
            try:
                if (i + n) % 2:
                    stream = client.chat.completions.create(
                        model="kansai", messages=[{"role": "user", "content": "hi"}], stream=True
                    )
                    model, text = None, ""
                    for chunk in stream:
                        model = chunk.model
                        if chunk.choices:
                            text += chunk.choices[0].delta.content or ""
                    assert text == f"answer from {model}", text
                    self.results.append((t, model, None))
                else:
                    resp = client.chat.completions.create(
                        model="kansai", messages=[{"role": "user", "content": "hi"}]
                    )
                    self.results.append((t, resp.model, None))
            except Exception as exc:  # every failure is a test failure, recorded with its kind
                self.results.append((t, None, f"{type(exc).__name__}: {exc}"))

    def __enter__(self) -> Load:
        for th in self.threads:
            th.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for th in self.threads:
            th.join(30)

    def wait_for(self, n: int, timeout_s: float = 30) -> None:
        deadline = time.monotonic() + timeout_s
        start = len(self.results)
        while len(self.results) - start < n and time.monotonic() < deadline:
            time.sleep(0.05)


def test_promote_and_rollback_under_load_fail_no_request(kitchen: Kitchen) -> None:
    k = kitchen
    for v in ("v1", "v2"):
        out = k.model("register", str(k.bundles[v]), "--version", v, "--only", "kansai", "--actor", "alice")
        assert f"registered adapter kansai {v} as kansai@{v}" in out.stdout
    first = k.model("promote", "kansai", "v1", "--actor", "alice")
    assert "loaded   kansai@v1" in first.stdout
    assert k.stats()["adapters"] == {"kansai@v1": str((k.bundles["v1"] / "adapters" / "kansai").resolve())}

    key = k.gw.key("acme", "chat")
    with Load(k.gw.url + "/v1", key) as load:
        load.wait_for(30)
        t_promote = time.monotonic()
        out = k.model("promote", "kansai", "v2", "--actor", "bob")
        t_promoted = time.monotonic()
        assert "unloaded kansai@v1" in out.stdout, out.stdout
        load.wait_for(30)
        t_rollback = time.monotonic()
        back = k.model("rollback", "kansai", "--actor", "carol")
        t_rolled = time.monotonic()
        assert "unloaded kansai@v2" in back.stdout, back.stdout
        load.wait_for(30)

    errors = [r for r in load.results if r[2]]
    assert not errors, errors[:5]
    assert len(load.results) > 90
    # Before the switch v1 answered; after `promote` returned only v2; after rollback only v1.
    assert {m for t, m, _ in load.results if t < t_promote} == {"kansai@v1"}
    assert {m for t, m, _ in load.results if t_promoted < t < t_rollback} == {"kansai@v2"}
    assert {m for t, m, _ in load.results if t > t_rolled} == {"kansai@v1"}
    stats = k.stats()
    assert stats["violations"] == []  # never unloaded while its requests were running
    assert [e[:2] for e in stats["events"]] == [
        ["load", "kansai@v1"], ["load", "kansai@v2"], ["unload", "kansai@v1"],
        ["load", "kansai@v1"], ["unload", "kansai@v2"],
    ]

    hist = json.loads(k.model("history", "kansai", "--json").stdout)
    assert [(e["action"], e["from_version"], e["to_version"], e["actor"]) for e in hist] == [
        ("register", None, "v1", "alice"), ("register", None, "v2", "alice"),
        ("promote", None, "v1", "alice"), ("promote", "v1", "v2", "bob"), ("rollback", "v2", "v1", "carol"),
    ]
    # Every change is in the hash-chained audit log, which still verifies.
    verify = k.prai("audit", "verify", "-c", str(k.gw.config))
    assert verify.returncode == 0
    con = sqlite3.connect(k.gw.tmp / "gw.db")
    rows = con.execute("SELECT endpoint, client, detail FROM prai_audit WHERE endpoint LIKE 'model.%' ORDER BY seq")
    changes = [(e, c, json.loads(d)) for e, c, d in rows]
    assert [(e, c, d["from"], d["to"]) for e, c, d in changes if e != "model.register"] == [
        ("model.promote", "alice", None, "v1"), ("model.promote", "bob", "v1", "v2"),
        ("model.rollback", "carol", "v2", "v1"),
    ]
    # Request records name the version that answered.
    adapters = {a for (a,) in con.execute("SELECT adapter FROM prai_audit WHERE endpoint = 'chat.completions'")}
    assert adapters == {"kansai@v1", "kansai@v2"}


def test_canary_is_sticky_per_key_and_rollback_drops_it(kitchen: Kitchen) -> None:
    k = kitchen
    for v in ("v1", "v2"):
        k.model("register", str(k.bundles[v]), "--version", v, "--only", "kansai")
    k.model("promote", "kansai", "v1")
    out = k.model("promote", "kansai", "v2", "--canary", "30%")
    assert "canary kansai@v2 (30%)" in out.stdout or "canary v2 (30%)" in out.stdout, out.stdout
    assert set(k.stats()["adapters"]) == {"kansai@v1", "kansai@v2"}
    time.sleep(0.5)  # > routing_refresh_s

    from prai.gateway.auth import create_key

    db = open_engine(f"sqlite:///{k.gw.tmp / 'gw.db'}")
    keys = [create_key(db, tenant="acme", project="chat").key for _ in range(30)]  # in-process: fast
    db.dispose()
    seen: dict[str, set[str]] = {}
    for key in keys:
        client = openai.OpenAI(base_url=k.gw.url + "/v1", api_key=key, max_retries=0)
        for _ in range(3):
            r = client.chat.completions.create(model="kansai", messages=[{"role": "user", "content": "x"}])
            seen.setdefault(key, set()).add(r.model)
    assert all(len(v) == 1 for v in seen.values()), "a key saw both versions"
    canary_keys = sum(v == {"kansai@v2"} for v in seen.values())
    assert 2 <= canary_keys <= 18  # binomial(30, 0.3): mean 9

    listed = json.loads(k.model("list", "--json").stdout)
    assert listed[0]["canary"] == "v2" and listed[0]["canary_percent"] == 30.0

    k.model("rollback", "kansai")
    time.sleep(0.5)
    for key in keys[:10]:
        client = openai.OpenAI(base_url=k.gw.url + "/v1", api_key=key, max_retries=0)
        r = client.chat.completions.create(model="kansai", messages=[{"role": "user", "content": "x"}])
        assert r.model == "kansai@v1"
    assert set(k.stats()["adapters"]) == {"kansai@v1"}


def test_models_list_and_project_policy_follow_the_alias(kitchen: Kitchen) -> None:
    k = kitchen
    k.model("register", str(k.bundles["v1"]), "--version", "v1", "--only", "kansai")
    k.model("promote", "kansai", "v1")
    # No wait: promote returns once every gateway routes the alias.
    acme = openai.OpenAI(base_url=k.gw.url + "/v1", api_key=k.gw.key("acme", "chat"), max_retries=0)
    ids = {m.id for m in acme.models.list()}
    assert "kansai" in ids and "base" not in ids
    # A pinned version of an allowed alias is allowed too.
    r = acme.chat.completions.create(model="kansai@v1", messages=[{"role": "user", "content": "x"}])
    assert r.model == "kansai@v1"
    globex = openai.OpenAI(base_url=k.gw.url + "/v1", api_key=k.gw.key("globex", "ops"), max_retries=0)
    with pytest.raises(openai.PermissionDeniedError):
        globex.chat.completions.create(model="kansai", messages=[{"role": "user", "content": "x"}])


def test_user_mistakes_get_clear_errors_and_change_nothing(kitchen: Kitchen) -> None:
    k = kitchen
    k.model("register", str(k.bundles["v1"]), "--version", "v1", "--only", "kansai")
    # Same version label, another bundle: versions are immutable.
    res = k.model("register", str(k.bundles["v2"]), "--version", "v1", "--only", "kansai", check=False)
    assert res.returncode == 60 and "already registered" in res.stderr and "Traceback" not in res.stderr
    # Same bundle again under another label.
    res = k.model("register", str(k.bundles["v1"]), "--version", "v9", "--only", "kansai", check=False)
    assert res.returncode == 60 and "already registered as kansai v1" in res.stderr
    # A tampered bundle is refused before anything is registered.
    (k.bundles["v2"] / "adapters" / "kansai" / "adapter_config.json").write_text("{}")
    res = k.model("register", str(k.bundles["v2"]), "--version", "v2", "--only", "kansai", check=False)
    assert res.returncode != 0 and "Traceback" not in res.stderr
    res = k.model("promote", "kansai", "v2", check=False)
    assert res.returncode == 61 and "kansai v2 is not registered" in res.stderr
    res = k.model("promote", "kansai", "v1", "--canary", "10%", check=False)
    assert res.returncode == 60 and "no current version" in res.stderr
    res = k.model("promote", "kansai", "v1", "--canary", "150%", check=False)
    assert res.returncode == 2 and "--canary" in res.stderr
    res = k.model("rollback", "kansai", check=False)
    assert res.returncode == 60 and "nothing to roll back" in res.stderr
    res = k.model("show", "nope", check=False)
    assert res.returncode == 61 and "kansai" in res.stderr  # names what exists
    assert k.stats()["adapters"] == {}  # nothing was loaded by the refused commands


def test_a_failed_load_switches_nothing(kitchen: Kitchen, tmp_path: Path) -> None:
    k = kitchen
    k.model("register", str(k.bundles["v1"]), "--version", "v1", "--only", "kansai")
    k.model("promote", "kansai", "v1")
    # v2 registered with an engine-side path that does not exist on the engine.
    k.model("register", str(k.bundles["v2"]), "--version", "v2", "--only", "kansai",
            "--path", str(tmp_path / "not-there"))
    res = k.model("promote", "kansai", "v2", check=False)
    assert res.returncode == 63 and "loading kansai@v2" in res.stderr and "Traceback" not in res.stderr
    shown = json.loads(k.model("show", "kansai", "--json").stdout)
    assert shown["alias"]["current"] == "v1"
    assert set(k.stats()["adapters"]) == {"kansai@v1"}


def test_promote_again_reloads_what_a_restarted_engine_lost(kitchen: Kitchen) -> None:
    k = kitchen
    k.model("register", str(k.bundles["v1"]), "--version", "v1", "--only", "kansai")
    k.model("promote", "kansai", "v1")
    # An engine restart forgets runtime-loaded adapters.
    http_json(k.engine_url + "/v1/unload_lora_adapter", {"lora_name": "kansai@v1"})
    out = k.model("promote", "kansai", "v1")
    assert "loaded   kansai@v1 on engine@" in out.stdout and "already routed" in out.stdout
    assert set(k.stats()["adapters"]) == {"kansai@v1"}
    assert [e["action"] for e in json.loads(k.model("history", "kansai", "--json").stdout)] == ["register", "promote"]


def test_a_failing_eval_gate_refuses_with_the_items_and_switches_nothing(kitchen: Kitchen, tmp_path: Path) -> None:
    k = kitchen
    for v in ("v1", "v2"):
        k.model("register", str(k.bundles[v]), "--version", v, "--only", "kansai")
    k.model("promote", "kansai", "v1")
    suite = tmp_path / "suite.yaml"
    suite.write_text(
        "name: kansai-gate\nmodels: [kansai]\nitems:\n"
        "  - id: names-itself\n    prompt: hi\n    assert:\n      - contains: answer from\n"
        "  - id: speaks-kansai\n    prompt: hi\n    models: [kansai]\n    assert:\n      - regex: ^まいど\n",
        encoding="utf-8",
    )
    res = k.model("promote", "kansai", "v2", "--gate-eval", str(suite), "--gate-dir", str(tmp_path / "gates"),
                  check=False)
    assert res.returncode == 62, res.stderr
    assert "speaks-kansai" in res.stderr and "names-itself" not in res.stderr and "Traceback" not in res.stderr
    assert (tmp_path / "gates" / "kansai-v2" / "eval" / "report.html").is_file()
    shown = json.loads(k.model("show", "kansai", "--json").stdout)
    assert shown["alias"]["current"] == "v1" and shown["alias"]["generation"] == 1
    assert set(k.stats()["adapters"]) == {"kansai@v1"}  # v2 was loaded for the gate, then unloaded
    # The same gate passes with an achievable suite, and the promotion goes through.
    suite.write_text(suite.read_text(encoding="utf-8").replace("regex: ^まいど", "regex: kansai@v2$"), encoding="utf-8")
    ok = k.model("promote", "kansai", "v2", "--gate-eval", str(suite), "--gate-dir", str(tmp_path / "gates"))
    assert "gate eval: passed" in ok.stdout and "now current v2" in ok.stdout


def test_adapter_only_bundle_from_the_cli_registers_and_promotes(kitchen: Kitchen, tmp_path: Path) -> None:
    """The connected side packs only the new adapter (`prai bundle create` without --model)."""
    k = kitchen
    adapter = build_adapter(tmp_path / "kansai-v3", r=4, base="base")
    bundle = tmp_path / "kansai-v3-bundle"
    k.prai("bundle", "create", "-o", str(bundle), "--adapter", f"kansai={adapter}")
    out = k.model("register", str(bundle), "--version", "v3")
    assert "registered adapter kansai v3 as kansai@v3" in out.stdout
    shown = json.loads(k.model("show", "kansai", "--json").stdout)["versions"][0]
    assert shown["base"] == "base" and shown["rank"] == 4 and "prai bundle verify" in shown["verified_by"]
    k.model("promote", "kansai", "v3")
    assert set(k.stats()["adapters"]) == {"kansai@v3"}


@pytest.mark.slow
@pytest.mark.parametrize("kitchen", [["kansai@v2=300"]], indirect=True)
def test_a_slower_version_fails_the_bench_gate(
    kitchen: Kitchen, tmp_path: Path, tiny_tokenizer: Path  # noqa: F811  (the imported fixture)
) -> None:
    """`--gate-bench` runs the same GuideLLM load on v1 and v2 and compares them; v2's first
    token comes 300 ms later, so the promotion is refused with the metric, nothing switched."""
    k = kitchen
    for v in ("v1", "v2"):
        k.model("register", str(k.bundles[v]), "--version", v, "--only", "kansai")
    k.model("promote", "kansai", "v1")
    res = k.model("promote", "kansai", "v2", "--gate-bench", "--tokenizer", str(tiny_tokenizer),
                  "--max-regression", "ttft_p95=50%", "--gate-dir", str(tmp_path / "gates"), check=False)
    assert res.returncode == 62, res.stderr[-2000:]
    assert "ttft_p95_ms" in res.stderr and "limit 50%" in res.stderr and "Traceback" not in res.stderr
    assert (tmp_path / "gates" / "kansai-v2" / "bench" / "comparison.json").is_file()
    assert json.loads(k.model("show", "kansai", "--json").stdout)["alias"]["current"] == "v1"
    assert set(k.stats()["adapters"]) == {"kansai@v1"}


def test_base_model_versions_switch_between_running_engines(tmp_path: Path) -> None:
    """A base-model version is not loaded at runtime: each version runs in its own engine
    (served as NAME@VERSION); promote/rollback switch the alias between them."""
    engines, urls = [], []
    for version in ("v1", "v2"):
        port = free_port()
        urls.append(f"http://127.0.0.1:{port}")
        engines.append(Proc([sys.executable, str(FAKE), str(port), "--base", f"tsuzumi@{version}"]))
        wait_http(urls[-1] + "/health", proc=engines[-1].p)
    gw = Gateway(tmp_path / "gw", {
        "upstreams": [{"name": f"engine-{i}", "base_urls": [u], "health_interval_s": 0.5} for i, u in enumerate(urls)],
        "tenants": [{"name": "acme", "projects": [{"name": "chat", "models": ["tsuzumi"]}]}],
        "routing_refresh_s": 0.2,
    }).start()
    try:
        model_dir = build_tiny_llama(tmp_path / "src" / "tsuzumi")
        cfg = json.loads((model_dir / "config.json").read_text())
        bundles = {}
        for version, tag in (("v1", 1), ("v2", 2)):
            cfg["prai_build"] = tag  # another checkpoint: another bundle digest
            (model_dir / "config.json").write_text(json.dumps(cfg))
            bundles[version] = tmp_path / f"tsuzumi-{version}"
            create_bundle(bundles[version], model=model_dir)

        def model(*args: str, check: bool = True) -> Any:
            return gw.cli("model", *args, "-c", str(gw.config), check=check)

        for version in ("v1", "v2"):
            out = model("register", str(bundles[version]), "--version", version, "--name", "tsuzumi")
            assert f"registered model tsuzumi {version} as tsuzumi@{version}" in out.stdout
        client = openai.OpenAI(base_url=gw.url + "/v1", api_key=gw.key("acme", "chat"), max_retries=0)

        def ask() -> str:
            time.sleep(0.5)  # > routing_refresh_s
            return client.chat.completions.create(model="tsuzumi", messages=[{"role": "user", "content": "x"}]).model

        model("promote", "tsuzumi", "v1")
        assert ask() == "tsuzumi@v1"
        model("promote", "tsuzumi", "v2")
        assert ask() == "tsuzumi@v2"
        model("rollback", "tsuzumi")
        assert ask() == "tsuzumi@v1"
        # A version no engine serves is refused before anything changes.
        engines[1].stop()
        time.sleep(0.2)
        res = model("promote", "tsuzumi", "v2", check=False)
        assert res.returncode == 63 and "Traceback" not in res.stderr, res.stderr
        assert ask() == "tsuzumi@v1"
    finally:
        gw.stop()
        for e in engines:
            e.stop()


# --- found by a user test ------------------------------------------------------------------


def test_a_promotion_that_loses_a_race_leaves_the_winners_version_loaded(kitchen: Kitchen, tmp_path: Path) -> None:
    from prai.gateway.server import load_gateway_config
    from prai.lifecycle.gates import GateSpec
    from prai.lifecycle.promote import PromoteOptions, promote

    k = kitchen
    for v in ("v1", "v2"):
        k.model("register", str(k.bundles[v]), "--version", v, "--only", "kansai")
    k.model("promote", "kansai", "v1")
    gw_cfg = load_gateway_config(k.gw.config).gateway
    engine = open_engine(f"sqlite:///{k.gw.tmp / 'gw.db'}")
    suite = tmp_path / "suite.yaml"
    suite.write_text("name: s\nitems:\n  - id: a\n    prompt: hi\n    assert:\n      - contains: answer\n")

    def meanwhile(msg: str) -> None:
        if msg.startswith("running gates"):  # v2 is loaded; another operator promotes it fully
            k.model("promote", "kansai", "v2")

    with pytest.raises(RegistryError, match="changed by someone else"):
        promote(gw_cfg, engine, "kansai", "v2", actor="slow", progress=meanwhile,
                options=PromoteOptions(canary_percent=50, gates=GateSpec(eval_suite=suite), gate_dir=tmp_path / "g"))
    assert "kansai@v2" in k.stats()["adapters"]  # the winner's current version stays loaded
    engine.dispose()


def test_an_alias_cannot_take_a_base_models_name(kitchen: Kitchen) -> None:
    k = kitchen
    k.model("register", str(k.bundles["v1"]), "--version", "h1", "--only", "kansai", "--name", "base")
    res = k.model("promote", "base", "h1", check=False)
    assert res.returncode == 60 and "base model served by" in res.stderr and "--name" in res.stderr
    assert k.stats()["adapters"] == {}


@pytest.mark.parametrize("kitchen", [["--adapter=kansai=/tmp"]], indirect=True)
def test_rollback_of_a_first_promote_hands_the_name_back_to_the_engine(kitchen: Kitchen) -> None:
    """The engine serves its own `kansai` (--lora-modules); promoting v1 takes the name over,
    rolling back gives it back."""
    k = kitchen
    k.model("register", str(k.bundles["v1"]), "--version", "v1", "--only", "kansai")
    k.model("promote", "kansai", "v1")
    client = openai.OpenAI(base_url=k.gw.url + "/v1", api_key=k.gw.key("acme", "chat"), max_retries=0)
    time.sleep(0.5)
    assert client.chat.completions.create(model="kansai", messages=[{"role": "user", "content": "x"}]).model \
        == "kansai@v1"
    out = k.model("rollback", "kansai")
    assert "the engines' own kansai" in out.stdout and "unloaded kansai@v1" in out.stdout
    time.sleep(0.5)
    assert client.chat.completions.create(model="kansai", messages=[{"role": "user", "content": "x"}]).model \
        == "kansai"


def test_a_wrong_path_is_corrected_by_registering_again(kitchen: Kitchen, tmp_path: Path) -> None:
    k = kitchen
    good = str((k.bundles["v1"] / "adapters" / "kansai").resolve())
    k.model("register", str(k.bundles["v1"]), "--version", "v1", "--only", "kansai", "--path", "/nowhere/kansai")
    k.model("register", str(k.bundles["v1"]), "--version", "v1", "--only", "kansai", "--path", good)
    assert json.loads(k.model("show", "kansai", "--json").stdout)["versions"][0]["path"] == good
    k.model("promote", "kansai", "v1")
    res = k.model("register", str(k.bundles["v1"]), "--version", "v1", "--only", "kansai", "--path", "/else",
                  check=False)
    assert res.returncode == 60 and "takes traffic" in res.stderr
    for bad in ("relative/dir", "/mnt/models/../etc", "/a\nb"):
        res = k.model("register", str(k.bundles["v2"]), "--version", "v2", "--only", "kansai", "--path", bad,
                      check=False)
        assert res.returncode == 2 and "--path" in res.stderr
    res = k.model("register", str(k.bundles["v2"]), "--version", "v2@x", "--only", "kansai", check=False)
    assert res.returncode == 2 and "start with a letter or digit" in res.stderr
    assert [e["action"] for e in json.loads(k.model("history", "kansai", "--json").stdout)] == [
        "register", "update", "promote"]


def test_bad_gate_input_is_refused_before_anything_is_loaded(kitchen: Kitchen, tmp_path: Path) -> None:
    k = kitchen
    for v in ("v1", "v2"):
        k.model("register", str(k.bundles[v]), "--version", v, "--only", "kansai")
    k.model("promote", "kansai", "v1")
    for args in (["--gate-eval", str(tmp_path / "missing.yaml")], ["--gate-bench", "--max-regression", "bogus=5%"]):
        res = k.model("promote", "kansai", "v2", *args, check=False)
        assert res.returncode == 2 and "Traceback" not in res.stderr, res.stderr
    assert [e[:2] for e in k.stats()["events"]] == [["load", "kansai@v1"]]


def test_pinned_versions_that_are_not_loaded_get_a_clear_404(kitchen: Kitchen) -> None:
    k = kitchen
    for v in ("v1", "v2"):
        k.model("register", str(k.bundles[v]), "--version", v, "--only", "kansai")
    k.model("promote", "kansai", "v1")
    time.sleep(0.5)
    client = openai.OpenAI(base_url=k.gw.url + "/v1", api_key=k.gw.key("acme", "chat"), max_retries=0)
    with pytest.raises(openai.NotFoundError) as err:
        client.chat.completions.create(model="kansai@v2", messages=[{"role": "user", "content": "x"}])
    assert "kansai@v2` is registered but not loaded" in str(err.value)
    # The alias's own version lost by an engine restart: 503 naming the fix.
    http_json(k.engine_url + "/v1/unload_lora_adapter", {"lora_name": "kansai@v1"})
    with pytest.raises(openai.InternalServerError) as err5:
        client.chat.completions.create(model="kansai", messages=[{"role": "user", "content": "x"}])
    assert err5.value.status_code == 503 and "prai model promote kansai v1" in str(err5.value)


def test_promote_again_unloads_versions_an_interrupted_promotion_left(kitchen: Kitchen) -> None:
    k = kitchen
    for v in ("v1", "v2"):
        k.model("register", str(k.bundles[v]), "--version", v, "--only", "kansai")
    k.model("promote", "kansai", "v1")
    path = str((k.bundles["v2"] / "adapters" / "kansai").resolve())
    http_json(k.engine_url + "/v1/load_lora_adapter", {"lora_name": "kansai@v2", "lora_path": path})
    out = k.model("promote", "kansai", "v1")
    assert "unloaded kansai@v2" in out.stdout
    assert set(k.stats()["adapters"]) == {"kansai@v1"}


@pytest.mark.parametrize("kitchen", [["--linger-ms=300"]], indirect=True)
def test_a_client_that_leaves_after_done_is_audited_as_answered(kitchen: Kitchen) -> None:
    k = kitchen
    k.model("register", str(k.bundles["v1"]), "--version", "v1", "--only", "kansai")
    k.model("promote", "kansai", "v1")
    time.sleep(0.5)
    client = openai.OpenAI(base_url=k.gw.url + "/v1", api_key=k.gw.key("acme", "chat"), max_retries=0)
    for _ in range(3):
        with client.chat.completions.create(model="kansai", messages=[{"role": "user", "content": "x"}],
                                            stream=True) as stream:
            assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices) == "answer from kansai@v1"
    time.sleep(1.0)
    con = sqlite3.connect(k.gw.tmp / "gw.db")
    statuses = [s for (s,) in con.execute("SELECT status FROM prai_audit WHERE endpoint = 'chat.completions'")]
    assert statuses == [200, 200, 200]
