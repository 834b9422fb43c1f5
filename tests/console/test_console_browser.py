"""The console end to end in headless Chromium (Debian's `chromium` and `chromium-driver`,
driven by Selenium; no browser is downloaded): log in, switch the language, create a key and
use it with the `openai` SDK, watch usage move, revoke it and see the next call refused,
promote and roll back an adapter, run doctor, verify the audit chain.

One browser session for the module. Every request the page makes is recorded (Chromium's
performance log) and must go to the gateway on 127.0.0.1; Chromium runs with its proxy set
to a listener that counts connections, so anything else it tries would be seen there.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import openai
import pytest

from tests.bench.conftest import tiny_tokenizer  # noqa: F401  (the session fixture, reused)
from tests.console._console import (
    METERED_KEY_BUDGET,
    ConsoleKitchen,
    password_of,
    register_adapter_versions,
    wait_until,
)

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
#: Chromium's own background traffic (network time, sign-in, safe browsing, hints), off: the
#: proxy listener must see nothing at all
QUIET = (
    "--disable-breakpad", "--disable-client-side-phishing-detection", "--disable-default-apps",
    "--disable-extensions", "--disable-domain-reliability", "--metrics-recording-only",
    "--no-default-browser-check", "--no-service-autorun", "--password-store=basic", "--use-mock-keychain",
    "--disable-field-trial-config", "--allow-browser-signin=false", "--dns-prefetch-disable",
    "--disable-search-engine-choice-screen",
    "--disable-features=NetworkTimeServiceQuerying,Translate,OptimizationHints,MediaRouter,"
    "AutofillServerCommunication,CertificateTransparencyComponentUpdater,SafeBrowsing,PrivacySandboxSettings4,"
    "InterestFeedContentSuggestions,SignInProfileCreation,PasswordLeakDetection",
)

if not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)):
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail("Debian's chromium and chromium-driver are required in CI (.ci/run installs them)",
                    pytrace=False)
    pytest.skip("Debian's chromium / chromium-driver not installed", allow_module_level=True)

from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions as ec  # noqa: E402
from selenium.webdriver.support.ui import Select, WebDriverWait  # noqa: E402

#: hosts Chromium contacts by itself even with the flags above (update checks, sign-in,
#: network time, the default search engine's preconnect)
CHROMIUM_SERVICES = {
    "update.googleapis.com", "accounts.google.com", "clients2.google.com", "clientservices.googleapis.com",
    "start.duckduckgo.com", "duckduckgo.com", "www.google.com", "safebrowsing.googleapis.com",
    "optimizationguide-pa.googleapis.com", "redirector.gvt1.com", "edgedl.me.gvt1.com", "android.clients.google.com",
    "content-autofill.googleapis.com", "www.googleapis.com", "passwordsleakcheck-pa.googleapis.com",
}


def proxied_host(request_line: str) -> str:
    """The host of ``CONNECT host:443 HTTP/1.1`` or ``GET http://host/path HTTP/1.1``."""
    parts = request_line.split(" ")
    target = parts[1] if len(parts) > 1 else ""
    return (urlsplit(target).hostname if "://" in target else target.rsplit(":", 1)[0]) or request_line


class CountingListener:
    """A TCP listener on 127.0.0.1 that counts and drops every connection (the browser's proxy)."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self.seen: list[str] = []  # first line of each request (CONNECT host:443 ...)
        self._stop = False
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        while not self._stop:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            conn.settimeout(2)
            with contextlib.suppress(OSError):
                self.seen.append(conn.recv(200).split(b"\r\n", 1)[0].decode("latin-1"))
            conn.close()

    def close(self) -> None:
        self._stop = True
        self.sock.close()


class Browser:
    """The driver, the gateway's URL, and every URL the pages requested."""

    def __init__(self, driver: Any, url: str) -> None:
        self.driver, self.url = driver, url
        self.requested: list[str] = []
        self.console_messages: list[str] = []

    def collect(self) -> None:
        for entry in self.driver.get_log("performance"):
            msg = json.loads(entry["message"])["message"]
            if msg.get("method") == "Network.requestWillBeSent":
                self.requested.append(msg["params"]["request"]["url"])
        self.console_messages += [e.get("message", "") for e in self.driver.get_log("browser")]

    def open(self, path: str) -> None:
        self.driver.get(self.url + path)
        self.collect()

    def wait_path(self, path: str) -> None:
        """Wait until the browser shows ``path`` (after a form post and its redirect)."""
        try:
            WebDriverWait(self.driver, 20).until(lambda d: urlsplit(d.current_url).path == path)
        except Exception:
            raise AssertionError(f"expected {path}, at {self.driver.current_url}: "
                                 f"{self.driver.find_element(By.TAG_NAME, 'main').text[:500]}") from None
        self.collect()

    def find(self, css: str) -> Any:
        return WebDriverWait(self.driver, 15).until(ec.presence_of_element_located((By.CSS_SELECTOR, css)))

    def text(self, css: str) -> str:
        return str(self.find(css).text)

    def accept_confirm(self) -> str:
        alert = WebDriverWait(self.driver, 15).until(ec.alert_is_present())
        text = str(alert.text)
        alert.accept()
        return text

    def submit_confirmed(self, css: str) -> str:
        self.find(css).click()
        text = self.accept_confirm()
        self.collect()
        return text


@pytest.fixture(scope="module")
def proxy() -> Iterator[CountingListener]:
    listener = CountingListener()
    yield listener
    listener.close()


@pytest.fixture(scope="module")
def browser(kitchen: ConsoleKitchen, proxy: CountingListener, tmp_path_factory: pytest.TempPathFactory) -> Iterator[
    Browser
]:
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
                 "--window-size=1280,1000", f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}",
                 f"--proxy-server=http://127.0.0.1:{proxy.port}", "--proxy-bypass-list=127.0.0.1",
                 "--lang=en-US", *QUIET):
        opts.add_argument(flag)
    opts.add_experimental_option("prefs", {"net.network_prediction_options": 2, "signin.allowed": False,
                                           "safebrowsing.enabled": False, "search.suggest_enabled": False,
                                           "credentials_enable_service": False,
                                           "profile.password_manager_enabled": False,
                                           "profile.password_manager_leak_detection": False})
    opts.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
    os.environ.setdefault("SE_OFFLINE", "true")  # Selenium Manager must never download anything
    driver = webdriver.Chrome(options=opts, service=Service(executable_path=CHROMEDRIVER))
    driver.set_page_load_timeout(60)
    driver.execute_cdp_cmd("Browser.grantPermissions", {
        "origin": kitchen.url, "permissions": ["clipboardReadWrite", "clipboardSanitizedWrite"]})
    b = Browser(driver, kitchen.url)
    yield b
    with contextlib.suppress(Exception):
        b.collect()
    driver.quit()


def sdk_chat(kitchen: ConsoleKitchen, key: str, model: str = "fake") -> str:
    client = openai.OpenAI(base_url=kitchen.url + "/v1", api_key=key, max_retries=0, timeout=30)
    r = client.chat.completions.create(model=model, messages=[{"role": "user", "content": "こんにちは"}])
    return r.choices[0].message.content or ""


def test_login_and_switch_language(browser: Browser) -> None:
    browser.open("/console/keys")
    assert browser.driver.current_url.startswith(browser.url + "/console/login?next=")
    assert browser.find("html").get_attribute("lang") == "en"
    browser.find("#lang-ja").click()
    assert browser.find("html").get_attribute("lang") == "ja"
    assert browser.text("h1") == "ログイン"
    browser.find("#username").send_keys("root")
    browser.find("#password").send_keys(password_of("root"))
    browser.find("#login").click()
    browser.wait_path("/console/keys")  # back where the user was going
    assert browser.text("h1") == "APIキー"
    assert "プラットフォーム管理者" in browser.text("#whoami")
    browser.find("#lang-en").click()
    assert browser.text("h1") == "API keys"
    assert browser.find("html").get_attribute("lang") == "en"


def test_create_use_and_revoke_a_key_watching_usage(browser: Browser, kitchen: ConsoleKitchen) -> None:
    browser.open("/console/keys")
    Select(browser.find("#key-project")).select_by_value("acme/chat")
    browser.find("#key-name").send_keys("browser test")
    browser.find("#key-create").click()
    key = browser.text("#new-key")
    assert key.startswith("sk-prai-")
    browser.find("#copy-key").click()
    WebDriverWait(browser.driver, 5).until(lambda d: d.find_element(By.ID, "copy-key").text == "Copied")
    copied = browser.driver.execute_async_script("navigator.clipboard.readText().then(arguments[0])")
    assert copied == key
    browser.open("/console/keys")
    assert key not in browser.driver.page_source  # shown once
    key_id = key.removeprefix("sk-prai-").split("_")[0]

    assert sdk_chat(kitchen, key).startswith("こんにちは")

    def usage_requests() -> int:
        browser.open("/console/usage?since=1h")
        rows = browser.driver.find_elements(By.CSS_SELECTOR, '#usage-totals tr[data-scope="acme/chat"] .requests')
        return int(rows[0].text) if rows else 0

    first = wait_until(usage_requests, timeout_s=15, every_s=0.3)
    assert browser.driver.find_elements(By.CSS_SELECTOR, "#usage-charts svg polyline, #usage-charts svg circle")
    for _ in range(2):
        sdk_chat(kitchen, key)
    wait_until(lambda: usage_requests() >= first + 2, timeout_s=15, every_s=0.3)

    browser.open("/console/keys")
    question = browser.submit_confirmed(f'tr[data-key-id="{key_id}"] button.revoke')
    assert key_id in question
    assert browser.text(f'tr[data-key-id="{key_id}"] .state') == "revoked"

    def refused() -> bool:
        try:
            sdk_chat(kitchen, key)
        except openai.AuthenticationError as exc:
            return "revoked" in str(exc)
        return False

    wait_until(refused, timeout_s=5)


def test_revoke_can_be_cancelled(browser: Browser, kitchen: ConsoleKitchen) -> None:
    key = kitchen.api_key("acme", "chat")
    key_id = key.removeprefix("sk-prai-").split("_")[0]
    browser.open("/console/keys")
    browser.find(f'tr[data-key-id="{key_id}"] button.revoke').click()
    WebDriverWait(browser.driver, 5).until(ec.alert_is_present()).dismiss()
    time.sleep(0.3)
    browser.open("/console/keys")
    assert browser.text(f'tr[data-key-id="{key_id}"] .state') == "active"
    assert sdk_chat(kitchen, key).startswith("こんにちは")


def test_promote_and_roll_back_an_adapter(browser: Browser, kitchen: ConsoleKitchen) -> None:
    key = kitchen.api_key("acme", "chat")
    browser.open("/console/models")
    for version in ("v1", "v2"):
        Select(browser.find("#promote-kansai select.version")).select_by_value(version)
        assert "kansai" in browser.submit_confirmed("#promote-kansai button.promote")
        assert f"→ {version}" in browser.text("#model-result")
        assert browser.text("#alias-kansai .current") == version
        assert wait_until(lambda v=version: sdk_chat(kitchen, key, "kansai") == f"answer from kansai@{v}")
    browser.submit_confirmed("#rollback-kansai button.rollback")
    assert "v2 → v1" in browser.text("#model-result")
    assert browser.text("#alias-kansai .current") == "v1"
    assert wait_until(lambda: sdk_chat(kitchen, key, "kansai") == "answer from kansai@v1")


def test_promote_form_offers_the_gates_of_prai_model_promote(
    browser: Browser, kitchen: ConsoleKitchen, tiny_tokenizer: Path, tmp_path: Path  # noqa: F811
) -> None:
    register_adapter_versions(kitchen, tmp_path, name="nara")
    form = "#promote-nara"

    def promote(version: str, *, bench: bool, tokenizer: str = "", max_regression: str = "") -> None:
        browser.open("/console/models")
        Select(browser.find(f"{form} select.version")).select_by_value(version)
        if bench:
            browser.find(f"{form} .gate-bench").click()
        browser.find(f"{form} .tokenizer").send_keys(tokenizer)
        browser.find(f"{form} .max-regression").send_keys(max_regression)
        assert "nara" in browser.submit_confirmed(f"{form} button.promote")

    # the refusals of `prai model promote --gate-bench`, before anything is loaded
    promote("v1", bench=True)
    assert "no tokenizer" in browser.text("#error") and "--tokenizer" in browser.text("#error .hint")
    assert browser.text("#alias-nara .current") == "-"
    promote("v1", bench=True, tokenizer=str(tiny_tokenizer), max_regression="bogus=5%")
    assert "unknown metric 'bogus'" in browser.text("#error")
    promote("v1", bench=False, max_regression="ttft_p95=10%")
    assert "applies to the bench gate" in browser.text("#error")
    assert browser.text("#alias-nara .current") == "-"
    # a first promote has no current version to compare with: the bench gate passes at once
    promote("v1", bench=True, tokenizer=str(tiny_tokenizer), max_regression="ttft_p95=1000%")
    result = browser.text("#model-result")
    assert "→ v1" in result and "gate bench: passed" in result and "no current version" in result
    assert browser.text("#alias-nara .current") == "v1"
    browser.find("#lang-ja").click()
    assert browser.text(f"{form} legend") == "ゲート（prai model promote と同じ）"
    assert "ベンチゲート" in browser.text(f"{form} fieldset.gates")
    browser.find("#lang-en").click()
    assert browser.text(f"{form} legend") == "Gates (as prai model promote)"


def test_usage_page_shows_the_rows_of_prai_usage(browser: Browser, kitchen: ConsoleKitchen) -> None:
    def page_rows() -> dict[str, int]:
        browser.open("/console/usage?since=1h")
        Select(browser.find("#usage-by")).select_by_value("key")
        browser.find("#usage-refresh").click()
        browser.find('#usage-rows[data-by="key"]')
        browser.collect()
        rows = browser.driver.find_elements(By.CSS_SELECTOR, "#usage-rows tr[data-group]")
        return {r.get_attribute("data-group"): int(r.find_element(By.CSS_SELECTOR, ".requests").text) for r in rows}

    def cli_rows() -> dict[str, int]:
        out = kitchen.prai("usage", "--by", "key", "--since", "1h", "--format", "json", "-c", str(kitchen.gw.config))
        return {r["group"]: r["requests"] for r in json.loads(out.stdout)}

    shown = wait_until(lambda: (rows := page_rows()) == cli_rows() and rows, timeout_s=15, every_s=0.5)
    assert len(shown) >= 2
    assert "prai usage --by key --since 1h" in browser.text("#usage-command")


def test_budgets_page_shows_spent_and_remaining(browser: Browser, kitchen: ConsoleKitchen) -> None:
    key = kitchen.api_key("acme", "metered")
    key_id = key.removeprefix("sk-prai-").split("_")[0]
    answered = 0
    with pytest.raises(openai.RateLimitError, match="budget exceeded"):
        for _ in range(10):
            sdk_chat(kitchen, key)
            answered += 1
    assert answered == 3  # 15 tokens each, 40 a day: the fourth is refused
    row = f'#budgets tr[data-budget="key {key_id}"][data-period="day"]'

    def spent() -> str:
        browser.open("/console/budgets")
        return browser.text(f"{row} .spent")

    wait_until(lambda: spent() == "45", timeout_s=15, every_s=0.3)
    assert browser.text(f"{row} .limit") == str(METERED_KEY_BUDGET["tokens_per_day"])
    assert browser.text(f"{row} .remaining") == "0"
    assert browser.text(f"{row} .state") == "exhausted: requests refused"
    assert "source of truth" in browser.text("#budgets-source")
    assert "Asia/Tokyo" in browser.text("#budget-periods")
    browser.find("#lang-ja").click()
    assert browser.text("h1") == "予算"
    assert browser.text(f"{row} .state") == "上限到達：リクエストは拒否されます"
    browser.find("#lang-en").click()
    assert browser.text("h1") == "Budgets"


def test_audit_checks_tenants_and_api_pages(browser: Browser) -> None:
    browser.open("/console/audit?endpoint=admin.")
    rows = browser.driver.find_elements(By.CSS_SELECTOR, "#audit-records tr[data-endpoint]")
    endpoints = {r.get_attribute("data-endpoint") for r in rows}
    assert {"admin.session.login", "admin.key.create", "admin.key.revoke", "admin.model.promote",
            "admin.model.rollback"} <= endpoints
    browser.find("#verify").click()
    browser.collect()
    assert "intact" in browser.text("#chain-status")
    assert browser.find("#export-csv").get_attribute("href").startswith(browser.url + "/admin/audit/export")
    browser.open("/console/checks")
    assert len(browser.driver.find_elements(By.CSS_SELECTOR, "#reports tr[data-report]")) == 2
    browser.find('#doctor-form input[value="lifecycle"]').click()
    browser.find("#doctor-run").click()
    browser.collect()
    assert browser.find("#doctor-checks tbody tr")
    browser.open("/console/tenants")
    assert "source of truth" in browser.text("#source-of-truth")
    browser.open("/console/api")
    assert "/admin/keys" in browser.text("#api-ops")
    browser.open("/console/")
    assert int(browser.text("#active-keys")) >= 1


def test_the_console_reaches_nothing_but_the_gateway(browser: Browser, proxy: CountingListener) -> None:
    browser.collect()
    assert len(browser.requested) > 20
    web = [u for u in browser.requested if urlsplit(u).scheme in ("http", "https", "ws", "wss")]
    assert {urlsplit(u).netloc for u in web} == {urlsplit(browser.url).netloc}, web
    # the rest is the browser's own new-tab page before the first navigation (chrome://...)
    internal = {urlsplit(u).scheme for u in browser.requested if u not in web}
    assert internal <= {"data", "chrome", "chrome-untrusted", "about", "blob"}, internal
    assert any(u.endswith("/console/static/console.js") for u in browser.requested)
    # Whatever Chromium does on its own (updates, sign-in, network time; not the console's
    # pages, whose every request is in the performance log above) went to the counting proxy
    # and no further; it must be Chromium's own services, never a CDN or a font service.
    hosts = {proxied_host(line) for line in proxy.seen}
    assert hosts <= CHROMIUM_SERVICES, hosts - CHROMIUM_SERVICES
    blocked = [m for m in browser.console_messages if "Content Security Policy" in m or "Refused to" in m]
    assert not blocked, blocked


def test_logout(browser: Browser) -> None:
    browser.open("/console/")
    browser.find("#logout").click()
    browser.wait_path("/console/login")
    browser.open("/console/keys")
    assert "/console/login" in browser.driver.current_url


