"""endpoint FAIL paths against a small OpenAI-shaped server of our own on 127.0.0.1, and
the CLI (exit status, --json, --only, the API key never printed)."""

from __future__ import annotations

import http.server
import json
import subprocess
import sys
from pathlib import Path

from prai.doctor import build_plan, run_doctor
from tests.doctor.doctor_util import Pki, checks, fake_engine, http_server, send_json

MODELS = ["tiny", "faq", "legal"]


def _endpoint(url: str, api_key: str | None = None, model: Path | None = None,
              adapters: list[str] | None = None, ca: list[Path] | None = None):  # type: ignore[no-untyped-def]
    plan = build_plan(None, env={}, endpoint=url, api_key=api_key, model=model,
                      served_model_name="tiny" if model else None, adapters=adapters, ca=ca)
    return checks(run_doctor(plan, ["endpoint"]), "endpoint")


def test_all_models_answer(model_dir: Path, tmp_path: Path) -> None:
    with http_server(fake_engine(MODELS)) as url:
        c = _endpoint(url, model=model_dir, adapters=[f"faq={tmp_path}", f"legal={tmp_path}"])
    assert c["health"].status == "PASS"
    assert c["models"].status == "PASS"
    for m in MODELS:
        t = c[f"taste {m}"]
        assert t.status == "PASS" and "まいど" in t.evidence and "TTFT" in t.evidence
        assert t.data["ttft_s"] > 0


def test_adapter_missing_from_models(model_dir: Path, tmp_path: Path) -> None:
    with http_server(fake_engine(["tiny", "faq"])) as url:
        c = _endpoint(url, model=model_dir, adapters=[f"faq={tmp_path}", f"legal={tmp_path}"])
    assert c["models"].status == "FAIL"
    assert "missing legal" in c["models"].evidence
    assert "--lora-modules" in c["models"].remediation
    assert c["taste tiny"].status == "PASS" and "taste legal" not in c


def test_http_500_on_chat() -> None:
    with http_server(fake_engine(["tiny"], chat_status=500)) as url:
        c = _endpoint(url)
    assert c["taste tiny"].status == "FAIL"
    assert "HTTP 500" in c["taste tiny"].evidence and "engine exploded" in c["taste tiny"].evidence
    assert "味見" in c["taste tiny"].remediation


def test_connection_refused() -> None:
    c = _endpoint("http://127.0.0.1:9")
    assert c["route tcp"].status == "FAIL"
    assert "疎通" in c["route tcp"].remediation and "oc logs" in c["route tcp"].remediation
    assert "health" not in c


def test_api_key_through_a_gateway_over_tls(pki: Pki) -> None:
    inner = fake_engine(["tiny"])

    def gateway(req: http.server.BaseHTTPRequestHandler) -> None:
        if req.path != "/health" and req.headers.get("Authorization") != "Bearer sk-secret-123":
            send_json(req, 401, {"error": {"message": "invalid API key"}})
            return
        inner(req)

    with http_server(gateway, tls=pki.good) as url:
        c = _endpoint(url, ca=[pki.ca])
        assert c["route tls"].status == "PASS"
        assert c["models"].status == "FAIL" and "--api-key" in c["models"].remediation
        c = _endpoint(url, api_key="sk-secret-123", ca=[pki.ca])
        assert c["models"].status == "PASS" and "with the API key" in c["models"].evidence
        assert c["taste tiny"].status == "PASS"
        out = subprocess.run(
            [sys.executable, "-m", "prai.cli.main", "doctor", "--endpoint", url, "--ca", str(pki.ca),
             "--api-key", "sk-secret-123", "--only", "endpoint,certs", "--json"],
            capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["ok"] and report["summary"]["FAIL"] == 0
    assert "sk-secret-123" not in out.stdout + out.stderr


def test_cli_exit_status_and_remediation_lines() -> None:
    out = subprocess.run([sys.executable, "-m", "prai.cli.main", "doctor", "--endpoint",
                          "http://127.0.0.1:9", "--only", "endpoint"],
                         capture_output=True, text=True, timeout=120, env={"COLUMNS": "200", "PATH": "/usr/bin"})
    assert out.returncode == 1
    assert "FAIL route tcp" in out.stdout
    assert "→ 疎通" in out.stdout
    assert "not ready: " in out.stdout
    bad = subprocess.run([sys.executable, "-m", "prai.cli.main", "doctor", "--only", "kitchen",
                          "--endpoint", "http://127.0.0.1:9"], capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2
    assert "unknown area(s) kitchen" in bad.stderr and "Traceback" not in bad.stderr
