"""Promotion gates from the admin API are `prai model promote`'s: the same refusals (with the
same messages) for bad gate input, the bench gate passing a first promote without running,
and a real GuideLLM comparison of the current and the candidate version (fake vLLM,
`tiny_tokenizer`); every attempt is audited with its gates."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.bench.conftest import tiny_tokenizer  # noqa: F401  (the session fixture, reused)
from tests.console._console import AdminClient, ConsoleKitchen, register_adapter_versions


@pytest.fixture(scope="module")
def root(kitchen: ConsoleKitchen, tmp_path_factory: pytest.TempPathFactory) -> AdminClient:
    register_adapter_versions(kitchen, tmp_path_factory.mktemp("nara"), name="nara")
    return kitchen.client("root")


def cli_error(kitchen: ConsoleKitchen, *args: str) -> tuple[int, str]:
    """Exit code and the one-line message of a refused `prai model promote`."""
    res = kitchen.prai("model", "promote", *args, "-c", str(kitchen.gw.config), check=False)
    assert "Traceback" not in res.stderr
    first = " ".join(res.stderr.split("hint:")[0].split())  # the error, unwrapped
    return res.returncode, first.removeprefix("error: ")


REFUSALS: list[tuple[dict[str, Any], list[str], str]] = [
    ({"gate_bench": True}, ["--gate-bench"], "no tokenizer"),
    ({"gate_bench": True, "max_regression": "bogus=5%", "tokenizer": "TOK"},
     ["--gate-bench", "--max-regression", "bogus=5%", "--tokenizer", "TOK"], "unknown metric 'bogus'"),
    ({"max_regression": "ttft_p95=10%"}, ["--max-regression", "ttft_p95=10%"], "applies to the bench gate"),
    ({"gate_bench": True, "tokenizer": "MISSING"}, ["--gate-bench", "--tokenizer", "MISSING"], "MISSING"),
]


@pytest.mark.parametrize(("body", "args", "words"), REFUSALS, ids=["no-tokenizer", "bad-metric", "no-bench",
                                                                    "missing-tokenizer"])
def test_bad_gate_input_is_refused_as_the_cli_refuses_it(
    kitchen: ConsoleKitchen, root: AdminClient, tiny_tokenizer: Path, tmp_path: Path,  # noqa: F811
    body: dict[str, Any], args: list[str], words: str,
) -> None:
    def fill(v: Any) -> Any:
        if not isinstance(v, str):
            return v
        return v.replace("TOK", str(tiny_tokenizer)).replace("MISSING", str(tmp_path / "no-such-tokenizer"))

    r = root.post("/admin/models/nara/promote", {"version": "v1", **{k: fill(v) for k, v in body.items()}})
    assert r.status_code == 400, r.text
    message = r.json()["error"]["message"]
    code, cli_message = cli_error(kitchen, "nara", "v1", *[fill(a) for a in args])
    assert code in (2, 50) and fill(words) in cli_message and fill(words) in message
    if "no-such-tokenizer" not in cli_message:  # the CLI checks the path itself, first
        # the same words; where the console checks its own input, it names its own field
        assert cli_message.replace("--max-regression", "max_regression") in message.replace(
            "--max-regression", "max_regression")
    assert root.get("/admin/models/nara").json()["alias"]["current"] is None  # nothing switched


@pytest.mark.slow
def test_the_bench_gate_passes_a_first_promote_then_compares_with_guidellm(
    kitchen: ConsoleKitchen, root: AdminClient, tiny_tokenizer: Path  # noqa: F811
) -> None:
    gates = {"gate_bench": True, "tokenizer": str(tiny_tokenizer), "drain_timeout_s": 10}
    r = root.post("/admin/models/nara/promote", {"version": "v1", **gates})
    assert r.status_code == 200, r.text
    [bench] = r.json()["gates"]
    assert bench["gate"] == "bench" and bench["passed"] is True
    assert any("no current version" in n for n in bench["notes"])
    # v2 against v1: GuideLLM runs on both (fake vLLM: equal speed; only TTFT p95 gated, 10x)
    r = root.post("/admin/models/nara/promote", {"version": "v2", "max_regression": "ttft_p95=1000%", **gates},
                  timeout=600)
    assert r.status_code == 200, r.text
    out = r.json()
    [bench] = out["gates"]
    assert bench["passed"] is True and out["state"]["current"] == "v2", bench
    report_dir = Path(bench["report_dir"])
    assert (report_dir / "comparison.json").is_file() and (report_dir / "candidate" / "summary.json").is_file()
    assert report_dir.is_relative_to(kitchen.gw.tmp)  # the console's gate directory (listed under checks)
    recs = root.get("/admin/audit", params={"endpoint": "admin.model.promote", "model": "nara"}).json()["records"]
    done = [x["detail"] for x in recs if x["status"] == 200]
    assert [d["to"] for d in done] == ["v2", "v1"]  # newest first
    assert done[0]["gates"] == {"bench": True} and done[0]["max_regression"] == "ttft_p95=1000%"
    assert done[0]["actor"] == "root" and done[0]["tokenizer"] == str(tiny_tokenizer)
    refused = [x for x in recs if x["status"] == 400]
    assert refused and all(x["detail"]["error"] for x in refused)
