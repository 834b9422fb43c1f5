"""endpoint FAIL paths against a small OpenAI-shaped server of our own on 127.0.0.1, and
the CLI (exit status, --json, --only, the API key never printed)."""

from __future__ import annotations

import http.server
import json
import subprocess
import sys
from pathlib import Path

import pytest

from prai.doctor import build_plan, run_doctor
from prai.errors import UsageError
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


def test_hung_endpoint_fails_within_the_timeout() -> None:
    """A server that accepts connections and never answers: FAIL in well under 10 s, with a
    remediation about an engine that accepts but does not answer (not "dropped")."""
    import socket
    import time

    with socket.socket() as srv:
        srv.bind(("127.0.0.1", 0))
        srv.listen(16)  # the kernel accepts; nobody ever reads or answers
        url = f"http://127.0.0.1:{srv.getsockname()[1]}"
        start = time.monotonic()
        c = checks(run_doctor(build_plan(None, env={}, endpoint=url), ["endpoint"]), "endpoint")
        assert time.monotonic() - start < 10 and c["health"].status == "FAIL"  # default: 5 s of silence
        out = subprocess.run([sys.executable, "-m", "prai.cli.main", "doctor", "--endpoint", url,
                              "--only", "endpoint", "--json"], capture_output=True, text=True, timeout=60)
        by = {c["name"]: c for c in json.loads(out.stdout)["checks"]}
        assert out.returncode == 1, out.stderr
        assert by["route tcp"]["status"] == "PASS" and by["health"]["status"] == "FAIL"
        assert "no answer within 5 s" in by["health"]["evidence"]
        assert "accepts connections but did not answer" in by["health"]["remediation"]
        start = time.monotonic()
        plan = build_plan(None, env={}, endpoint=url, timeout_s=1.5)  # configurable (--timeout)
        c = checks(run_doctor(plan, ["endpoint"]), "endpoint")
        assert time.monotonic() - start < 4 and "within 1.5 s" in c["health"].evidence


def _embedding_engine(models: list[str]):  # type: ignore[no-untyped-def]
    """vLLM with --runner pooling: /v1/embeddings only; chat and completions are no routes."""

    def handle(req: http.server.BaseHTTPRequestHandler) -> None:
        if req.path == "/health":
            send_json(req, 200, {})
        elif req.path == "/v1/models":
            send_json(req, 200, {"object": "list", "data": [{"id": m, "object": "model"} for m in models]})
        elif req.path == "/v1/embeddings":
            n = int(req.headers.get("Content-Length", "0"))
            body = json.loads(req.rfile.read(n))
            assert body["model"] in models and body["input"] == "こんにちは"
            send_json(req, 200, {"object": "list", "model": body["model"],
                                 "data": [{"object": "embedding", "index": 0, "embedding": [0.1] * 384}]})
        else:
            send_json(req, 404, {"detail": "Not Found"})  # FastAPI's own 404: the route is absent

    return handle


def test_taste_picks_embeddings_from_the_model_config(tmp_path: Path) -> None:
    model = tmp_path / "minilm"
    model.mkdir()
    (model / "config.json").write_text(json.dumps({"architectures": ["BertModel"], "model_type": "bert"}))
    with http_server(_embedding_engine(["minilm"])) as url:
        plan = build_plan(None, env={}, endpoint=url, model=model, served_model_name="minilm")
        c = checks(run_doctor(plan, ["endpoint"]), "endpoint")
        assert c["taste minilm"].status == "PASS", c["taste minilm"].evidence
        assert c["taste minilm"].data["api"] == "embeddings" and c["taste minilm"].data["dimensions"] == 384
        assert "/v1/embeddings (BertModel is not a text generator)" in c["taste minilm"].evidence
        # Nothing known about the model (only the endpoint): chat is tried, is not served, embeddings answer.
        c = checks(run_doctor(build_plan(None, env={}, endpoint=url), ["endpoint"]), "endpoint")
        assert c["taste minilm"].status == "PASS" and c["taste minilm"].data["api"] == "embeddings"
        assert "not served: chat: POST /v1/chat/completions → HTTP 404" in c["taste minilm"].evidence


def test_served_model_name_alone_picks_the_model_to_taste(tmp_path: Path) -> None:
    """`prai doctor --endpoint URL --served-model-name minilm` (no model directory): only
    minilm is listed and tasted, not every model the gateway lists for the key."""
    with http_server(_embedding_engine(["minilm", "other"])) as url:
        plan = build_plan(None, env={}, endpoint=url, served_model_name="minilm")
        c = checks(run_doctor(plan, ["endpoint"]), "endpoint")
        assert c["models"].status == "PASS"
        assert c["taste minilm"].status == "PASS" and c["taste minilm"].data["api"] == "embeddings"
        assert "taste other" not in c
        plan = build_plan(None, env={}, endpoint=url, served_model_name="nope")
        c = checks(run_doctor(plan, ["endpoint"]), "endpoint")
        assert c["models"].status == "FAIL" and "missing nope" in c["models"].evidence
    kitchen = tmp_path / "kitchen.yaml"
    kitchen.write_text(json.dumps({"gateway": {
        "upstreams": [{"name": "e", "base_urls": ["http://127.0.0.1:9"], "models": ["a", "b"],
                       "serve": {"model": str(tmp_path), "served_model_name": "a"}}],
        "tenants": [{"name": "t", "projects": [{"name": "p", "models": ["*"]}]}]}}))
    with pytest.raises(UsageError, match="--served-model-name without --model"):
        build_plan(kitchen, env={}, served_model_name="b")


def test_taste_uses_completions_without_a_chat_template(tmp_path: Path) -> None:
    model = tmp_path / "base-lm"
    model.mkdir()
    (model / "config.json").write_text(json.dumps({"architectures": ["LlamaForCausalLM"]}))

    def engine(req: http.server.BaseHTTPRequestHandler) -> None:
        if req.path == "/v1/completions":
            n = int(req.headers.get("Content-Length", "0"))
            assert json.loads(req.rfile.read(n))["prompt"] == "こんにちは"
            data = (b'data: {"choices": [{"index": 0, "text": "\\u3053\\u3093"}]}\n\n'
                    b'data: {"choices": [], "usage": {"completion_tokens": 1}}\n\ndata: [DONE]\n\n')
            req.send_response(200)
            req.send_header("Content-Type", "text/event-stream")
            req.send_header("Content-Length", str(len(data)))
            req.end_headers()
            req.wfile.write(data)
        else:
            fake_engine(["base-lm"])(req)

    with http_server(engine) as url:
        plan = build_plan(None, env={}, endpoint=url, model=model, served_model_name="base-lm")
        c = checks(run_doctor(plan, ["endpoint"]), "endpoint")
    t = c["taste base-lm"]
    assert t.status == "PASS" and t.data["api"] == "completions" and "こん" in t.evidence
    assert "without a chat template" in t.evidence


def test_gateway_only_kitchen_tastes_its_upstreams(tmp_path: Path) -> None:
    """A kitchen.yaml with only a gateway: section is checked through its upstreams."""
    from tests.doctor.doctor_util import write_kitchen

    with http_server(fake_engine(["tiny", "faq"])) as up_url:
        k = write_kitchen(tmp_path / "kitchen.yaml", {"gateway": {
            "upstreams": [{"name": "engines", "base_urls": [up_url], "models": ["tiny", "faq"]}],
            "tenants": [{"name": "acme", "projects": [{"name": "chat", "models": ["*"]}]}],
        }})
        out = subprocess.run([sys.executable, "-m", "prai.cli.main", "doctor", str(k), "--only", "endpoint",
                              "--json"], capture_output=True, text=True, timeout=120)
    report = json.loads(out.stdout)
    by = {c["name"]: c for c in report["checks"]}
    assert out.returncode == 0, report
    assert by["upstream engines health"]["status"] == "PASS"
    assert by["upstream engines taste faq"]["status"] == "PASS"
    assert report["verdict"] == "ready"


def test_nothing_checked_is_no_verdict(tmp_path: Path) -> None:
    """Every check skipped: "nothing checked", exit 8 — never "ready"."""
    from tests.doctor.doctor_util import write_kitchen

    k = write_kitchen(tmp_path / "kitchen.yaml", {"doctor": {"serving_uid": 1000}})
    out = subprocess.run([sys.executable, "-m", "prai.cli.main", "doctor", str(k)],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 8, out.stdout + out.stderr
    assert "nothing checked: 0 passed" in out.stdout and "\nready:" not in out.stdout
    assert "every check was skipped" in out.stdout
