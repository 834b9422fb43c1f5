"""The admin API's OpenAPI 3.1 document: valid (openapi-spec-validator), complete (every
operation documents its errors in PrAI's envelope), and true (schemathesis fuzzes the live
API as a platform-admin with a bounded number of examples per operation: no server error,
statuses, content types and bodies as documented)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.console._console import ConsoleKitchen

#: operations the fuzzer leaves alone: logging in/out and changing the password would end the
#: session it fuzzes with (they are tested in test_console_api.py)
NOT_FUZZED = "^/admin/session"


@pytest.fixture(scope="module")
def doc(kitchen: ConsoleKitchen) -> dict[str, Any]:
    r = httpx.get(kitchen.url + "/admin/openapi.json", trust_env=False)
    assert r.status_code == 200
    data: dict[str, Any] = r.json()
    return data


def test_the_document_is_valid_openapi_3_1(doc: dict[str, Any]) -> None:
    from openapi_spec_validator import validate
    from openapi_spec_validator.validation.validators import OpenAPIV31SpecValidator

    assert doc["openapi"].startswith("3.1.")
    validate(doc, cls=OpenAPIV31SpecValidator)


def test_every_operation_documents_auth_and_errors(doc: dict[str, Any]) -> None:
    schemes = doc["components"]["securitySchemes"]
    assert schemes["session"] == {"type": "apiKey", "in": "cookie", "name": "prai_console",
                                  "description": schemes["session"]["description"]}
    assert schemes["csrf"]["in"] == "header" and schemes["csrf"]["name"] == "X-CSRF-Token"
    assert "HTTPValidationError" not in doc["components"]["schemas"]
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            where = f"{method.upper()} {path}"
            assert op.get("summary") and op.get("tags"), where
            responses = op["responses"]
            assert "422" not in responses or "ErrorResponse" in str(responses["422"]), where
            errors = [c for c in responses if c.startswith(("4", "5"))]
            if path not in ("/admin/openapi.json",):
                assert "401" in errors or (path == "/admin/session" and method == "post"), where
            for code in errors:
                ref = responses[code]["content"]["application/json"]["schema"]["$ref"]
                assert ref.endswith("/ErrorResponse"), (where, code)
            assert len(op.get("security", [])) <= 1, where  # one requirement: cookie AND token
            security = [k for s in op.get("security", []) for k in s]
            if (path, method) != ("/admin/session", "post"):
                assert "session" in security, where
            if method in ("post", "put", "delete") and (path, method) != ("/admin/session", "post"):
                assert "csrf" in security, where


def test_schemathesis_fuzzes_the_live_api(kitchen: ConsoleKitchen, tmp_path: Path) -> None:
    root = kitchen.client("root")
    token = root.http.cookies["prai_console"]
    key = root.post("/admin/keys", {"tenant": "acme", "project": "chat", "name": "fuzzed"}).json()
    config = tmp_path / "schemathesis.toml"
    # the session cookie and the CSRF token as the document's own security schemes, so the
    # fuzzer knows which requests carry credentials; a real key id for the key operations
    config.write_text(
        f'[auth.openapi.session]\napi_key = "{token}"\n[auth.openapi.csrf]\napi_key = "{root.csrf}"\n'
        f'[parameters]\nkey_id = "{key["id"]}"\n'
    )
    cmd = [
        sys.executable, "-m", "schemathesis.cli", "--config-file", str(config), "run",
        kitchen.url + "/admin/openapi.json",
        "--max-examples", "10", "--seed", "20261130", "--workers", "1", "--no-shrink",
        "--phases", "examples,coverage,fuzzing",
        "--checks", "all",
        # positive_data_acceptance expects every schema-valid body to succeed, but valid
        # shapes still name projects that do not exist or times in the past (400 by design);
        # ignored_auth / use_after_free / ensure_resource_availability /
        # object_level_authorization need stateful links or several users (the role matrix in
        # test_console_api.py covers authorization)
        "--exclude-checks", "positive_data_acceptance,ignored_auth,use_after_free,ensure_resource_availability,"
        "object_level_authorization",
        "--exclude-path-regex", NOT_FUZZED,
        "--request-timeout", "60", "--report", "junit", "--report-dir", str(tmp_path),
    ]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=kitchen.gw.env, cwd=tmp_path)
    out = res.stdout + res.stderr
    assert res.returncode == 0, out[-8000:]
    # the session survived the run (nothing the fuzzer sent logged it out)
    assert root.get("/admin/session").status_code == 200
