"""Console test helpers: a kitchen of real processes on loopback (a fake OpenAI upstream, a
fake vLLM with the runtime LoRA API, `prai gateway`), console users made with `prai admin`,
and an admin API client that logs in like a script would (cookie + X-CSRF-Token)."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import openai

HERE = Path(__file__).resolve().parent

from tests.gateway._gwutil import PRAI, REPO_ROOT, FakeUpstream, Gateway, Proc, free_port, wait_http  # noqa: E402

FAKE_VLLM = HERE.parent / "_support" / "fake_openai.py"  # --base: the fake vLLM with runtime LoRA

#: console users of the test kitchen: name -> (role, tenant)
USERS: dict[str, tuple[str, str | None]] = {
    "root": ("platform-admin", None),
    "alice": ("tenant-admin", "acme"),
    "bob": ("tenant-admin", "globex"),
    "audrey": ("auditor", None),
}


def password_of(user: str) -> str:
    """The (test-only) password each user gets (never containing the user name)."""
    return "correct horse battery staple " + hashlib.sha256(user.encode()).hexdigest()[:8]


class AdminClient:
    """The admin API over HTTP as one user (``login`` first)."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.http = httpx.Client(base_url=base_url, timeout=60, trust_env=False)
        self.csrf: str | None = None

    def login(self, user: str, password: str | None = None) -> httpx.Response:
        r = self.http.post("/admin/session", json={"username": user, "password": password or password_of(user)})
        if r.status_code == 200:
            self.csrf = r.json()["csrf_token"]
        return r

    def get(self, path: str, **kw: Any) -> httpx.Response:
        return self.http.get(path, **kw)

    def send(self, method: str, path: str, json: Any = None, *, csrf: bool = True, **kw: Any) -> httpx.Response:
        headers = dict(kw.pop("headers", {}))
        if csrf and self.csrf:
            headers["X-CSRF-Token"] = self.csrf
        return self.http.request(method, path, json=json, headers=headers, **kw)

    def post(self, path: str, json: Any = None, **kw: Any) -> httpx.Response:
        return self.send("POST", path, json, **kw)

    def put(self, path: str, json: Any = None, **kw: Any) -> httpx.Response:
        return self.send("PUT", path, json, **kw)

    def close(self) -> None:
        self.http.close()


@dataclass
class ConsoleKitchen:
    """The processes and files of one test kitchen."""

    gw: Gateway
    upstream: FakeUpstream
    engine: Proc
    engine_url: str
    reports_dir: Path
    adapter_dirs: dict[str, Path] = field(default_factory=dict)
    clients: list[AdminClient] = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.gw.url

    def prai(self, *args: str, stdin: str | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
        res = subprocess.run([*PRAI, *args], env=self.gw.env, cwd=REPO_ROOT, capture_output=True, text=True,
                             timeout=120, input=stdin)
        if check and res.returncode != 0:
            raise AssertionError(f"prai {' '.join(args)} failed ({res.returncode}): {res.stderr}")
        return res

    def admin_cli(self, *args: str, stdin: str | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
        return self.prai("admin", *args, "-c", str(self.gw.config), stdin=stdin, check=check)

    def client(self, user: str | None = None) -> AdminClient:
        c = AdminClient(self.url)
        self.clients.append(c)
        if user is not None:
            r = c.login(user)
            assert r.status_code == 200, r.text
        return c

    def api_key(self, tenant: str, project: str) -> str:
        """A fresh API key (the library `prai keys create` calls; quicker than the command)."""
        from prai.gateway.auth import create_key

        engine = self.db()
        try:
            return create_key(engine, tenant=tenant, project=project, name="test").key
        finally:
            engine.dispose()

    def db(self) -> Any:
        from prai.db.engine import open_engine

        return open_engine(f"sqlite:///{self.gw.tmp / 'gw.db'}")

    def stop(self) -> None:
        for c in self.clients:
            c.close()
        self.gw.stop()
        self.engine.stop()
        self.upstream.stop()


def register_adapter_versions(kitchen: ConsoleKitchen, tmp: Path, name: str = "kansai") -> None:
    """Register ``name`` v1 and v2 (LoRA adapters of ``base``) straight in the registry."""
    from prai.lifecycle.registry import register_version

    engine = kitchen.db()
    try:
        for v in ("v1", "v2"):
            d = tmp / f"{name}-{v}"
            d.mkdir(parents=True, exist_ok=True)
            (d / "adapter_config.json").write_text("{}")
            kitchen.adapter_dirs[v] = d
            register_version(engine, name=name, version=v, kind="adapter",
                             digest=hashlib.sha256(f"{name}-{v}".encode()).hexdigest(),
                             source_bundle=str(d), actor="test", base="base", path=str(d), rank=4)
    finally:
        engine.dispose()


def write_reports(root: Path) -> None:
    """One bench and one eval output directory, as `prai bench` / `prai eval` write them."""
    bench = root / "bench-2026-11-30"
    bench.mkdir(parents=True, exist_ok=True)
    (bench / "summary.json").write_text(
        '{"format": "prai-bench-summary", "format_version": 1, "created_at": "2026-11-30T10:00:00+00:00", '
        '"runs": [{"name": "base", "rows": [{"ttft_p50_ms": 12.5, "output_tokens_per_s": 80.0}]}]}')
    (bench / "report.html").write_text("<!doctype html><title>bench</title><style>h1{color:#123}</style>"
                                       "<h1>bench report</h1>")
    ev = root / "nested" / "eval-kansai"
    ev.mkdir(parents=True, exist_ok=True)
    (ev / "result.json").write_text(
        '{"format": "prai-eval-result", "format_version": 1, "suite": "kansai", "created_at": '
        '"2026-11-30T11:00:00+00:00", "totals": {"kansai": {"items": 3, "passed": 3}}}')
    (ev / "report.html").write_text("<!doctype html><title>eval</title><h1>eval report</h1>")


#: the budgets of the test kitchen: acme's tenant budget (tokens and yen a month), and
#: acme/metered's project budget and per-key budget (40 tokens a day: the fake upstream
#: answers 10 + 5 tokens, so a key's fourth request is refused)
ACME_BUDGET = {"tokens_per_month": 10_000_000, "yen_per_month": 1000}
METERED_BUDGET = {"tokens_per_day": 100_000}
METERED_KEY_BUDGET = {"tokens_per_day": 40, "soft_percent": 1}
#: yen per million tokens for every model (the cost columns of `prai usage` and yen budgets)
PRICES = {"*": {"prompt_yen_per_million": 1000, "completion_yen_per_million": 2000}}


def start_kitchen(tmp: Path, *, console: dict[str, Any] | None = None) -> ConsoleKitchen:
    """Fake upstream + fake vLLM + `prai gateway` with tenants acme (chat, rag, metered) and
    globex (ops), budgets on acme (:data:`ACME_BUDGET`, ...), prices, and the console users of
    :data:`USERS` (passwords from :func:`password_of`)."""
    upstream = FakeUpstream()
    eport = free_port()
    engine_url = f"http://127.0.0.1:{eport}"
    engine = Proc([sys.executable, str(FAKE_VLLM), str(eport), "--base", "base", "--delay-ms", "20"])
    wait_http(engine_url + "/health", proc=engine.p)
    reports = tmp / "reports"
    write_reports(reports)
    console_cfg = {"reports_dirs": [str(reports)], "login_max_failures": 3, "login_max_failures_per_client": 1000,
                   **(console or {})}
    gw = Gateway(tmp / "gw", {
        "upstreams": [
            {"name": "fake", "base_urls": [upstream.url], "health_interval_s": 0.5},
            {"name": "engine", "base_urls": [engine_url], "health_interval_s": 0.5},
        ],
        "tenants": [
            {"name": "acme", "budget": ACME_BUDGET,
             "projects": [{"name": "chat", "models": ["*"], "limits": {"requests_per_minute": 1000}},
                          {"name": "rag", "models": ["embed"]},
                          {"name": "metered", "models": ["*"], "budget": METERED_BUDGET,
                           "key_budget": METERED_KEY_BUDGET}]},
            {"name": "globex", "projects": [{"name": "ops", "models": ["*"]}]},
        ],
        "prices": PRICES,
        "routing_refresh_s": 0.2,
        "console": console_cfg,
    })
    kitchen = ConsoleKitchen(gw, upstream, engine, engine_url, reports)
    try:
        gw.start()
        from prai.console.users import create_user

        db = kitchen.db()
        try:  # the library `prai admin create-user` calls (test_console_api tests the command itself)
            for user, (role, tenant) in USERS.items():
                create_user(db, user, role=role, tenant=tenant, password=password_of(user), actor="test")
        finally:
            db.dispose()
        register_adapter_versions(kitchen, tmp / "adapters")
    except BaseException:
        kitchen.stop()  # no stray processes when the kitchen cannot start
        raise
    return kitchen


def sdk(kitchen: ConsoleKitchen, key: str) -> openai.OpenAI:
    """The official OpenAI client on the kitchen's gateway, no retries."""
    return openai.OpenAI(base_url=kitchen.url + "/v1", api_key=key, max_retries=0, timeout=30)


def chat(kitchen: ConsoleKitchen, key: str, model: str = "fake") -> str:
    """One chat completion with ``key``; returns the answer's text."""
    r = sdk(kitchen, key).chat.completions.create(model=model, messages=[{"role": "user", "content": "hi"}])
    return r.choices[0].message.content or ""


def wait_until(check: Any, timeout_s: float = 10.0, every_s: float = 0.1) -> Any:
    """Call ``check`` until it returns something truthy; that value (AssertionError on timeout)."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {check}")
        time.sleep(every_s)
