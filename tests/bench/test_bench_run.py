"""A real, short GuideLLM benchmark through `prai bench` against a loopback fake upstream:
base + one adapter + an adapter mix, with an SLO, an API key and the hub made unreachable."""

from __future__ import annotations

import csv
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from prai.bench import BenchOptions, run_bench
from tests.bench.conftest import API_KEY

pytest.importorskip("guidellm", reason="needs the bench extra (GuideLLM)")
pytestmark = pytest.mark.slow

N = 8


@pytest.fixture(scope="module")
def result(fake, tiny_tokenizer, hub_trap, tmp_path_factory: pytest.TempPathFactory) -> Any:
    out = tmp_path_factory.mktemp("bench") / "out"
    env = dict(os.environ)
    env.update(HF_ENDPOINT=hub_trap.url, HTTP_PROXY=hub_trap.url, HTTPS_PROXY=hub_trap.url,
               http_proxy=hub_trap.url, https_proxy=hub_trap.url,
               NO_PROXY="127.0.0.1,localhost", no_proxy="127.0.0.1,localhost",
               HF_HUB_OFFLINE="0", TRANSFORMERS_OFFLINE="0", HF_DATASETS_OFFLINE="0")
    opts = BenchOptions(
        target=fake.url + "/v1", model="prai-demo", tokenizer_dir=tiny_tokenizer, out_dir=out,
        api_key=API_KEY, adapters=["kansai", "broken"], mix={"kansai": 0.5, "samurai": 0.5},
        max_requests=N, data={"kind": "synthetic_text", "prompt_tokens": 24, "output_tokens": 12},
        slo={"ttft_ms": 20.0},
    )
    updates: list[tuple[str, dict[str, str]]] = []
    from prai.bench import Progress

    res = run_bench(opts, env=env, cache_dir=out.parent / "cache", run_timeout_s=240,
                    progress=Progress(on_update=lambda run, f: updates.append((run.name, f))))
    return res, updates


def _row(summary: dict[str, Any], run: str) -> dict[str, Any]:
    return next(r for r in summary["runs"] if r["name"] == run)["benchmarks"][0]


def test_outputs_written_and_guidellm_json_kept(result) -> None:  # type: ignore[no-untyped-def]
    res, _ = result
    out = res.out_dir
    for name in ("summary.json", "summary.csv", "report.html"):
        assert (out / name).is_file()
    for run in ("base", "kansai", "mix"):
        report = json.loads((out / "runs" / run / "benchmarks.json").read_text())
        assert report["metadata"]["guidellm_version"] == res.summary["guidellm_version"]
        metrics = report["benchmarks"][0]["metrics"]
        row = _row(res.summary, run)
        # PrAI's figures are GuideLLM's, read from its JSON (not recomputed).
        ttft = metrics["time_to_first_token_ms"]["successful"]["percentiles"]
        assert row["ttft_p95_ms"] == pytest.approx(ttft["p95"])
        assert row["e2e_p50_ms"] == pytest.approx(metrics["request_latency"]["successful"]["percentiles"]["p50"] * 1000)
    assert [r["name"] for r in res.summary["runs"]] == ["base", "kansai", "broken", "mix"]


def test_every_request_succeeded_and_latencies_are_measured(result) -> None:  # type: ignore[no-untyped-def]
    res, updates = result
    for run in ("base", "kansai", "mix"):
        row = _row(res.summary, run)
        assert row["requests_successful"] == N and row["requests_errored"] == 0
        for key in ("ttft_p50_ms", "ttft_p99_ms", "itl_p50_ms", "tpot_p90_ms", "e2e_p95_ms",
                    "requests_per_s", "output_tokens_per_s", "concurrency_mean"):
            assert row[key] is not None and row[key] > 0, (run, key)
    # kansai's first token is 30 ms late in the fake: the per-adapter runs show it.
    assert _row(res.summary, "kansai")["ttft_p50_ms"] > _row(res.summary, "base")["ttft_p50_ms"] + 15
    assert any(status == "completed" for _, f in updates for status in [f["status"]])


def test_errors_are_counted_not_fatal(result) -> None:  # type: ignore[no-untyped-def]
    res, _ = result
    row = _row(res.summary, "broken")  # the fake answers HTTP 500 for this model
    assert row["requests_errored"] >= 1 and row["requests_successful"] == 0
    assert row["ttft_p50_ms"] is None


def test_slo_goodput(result) -> None:  # type: ignore[no-untyped-def]
    res, _ = result
    base, kansai = _row(res.summary, "base"), _row(res.summary, "kansai")
    assert kansai["slo_attainment"] == 0.0  # TTFT >= 30 ms against a 20 ms objective
    assert base["slo_attainment"] > kansai["slo_attainment"]
    assert base["goodput_per_s"] and base["goodput_per_s"] > 0


def test_adapter_mix_routes_by_weight_and_splits_per_adapter(result, fake) -> None:  # type: ignore[no-untyped-def]
    res, _ = result
    mix = next(r for r in res.summary["runs"] if r["name"] == "mix")
    sent = mix["router_sent"]
    assert set(sent) == {"kansai", "samurai"} and sum(sent.values()) == N
    assert fake.models_seen["samurai"] == sent["samurai"]
    per = mix["per_adapter"][0]
    assert set(per) == {"kansai", "samurai"}
    assert per["kansai"]["requests_successful"] == sent["kansai"]
    assert per["kansai"]["ttft_p50_ms"] > per["samurai"]["ttft_p50_ms"]
    rows = list(csv.DictReader((res.out_dir / "summary.csv").open()))
    assert [r["adapter"] for r in rows if r["run"] == "mix"] == ["", "kansai", "samurai"]
    assert all(r["ttft_p95_ms"] for r in rows if r["run"] != "broken")


def test_closed_network_nothing_reached_and_key_not_written(result, hub_trap) -> None:  # type: ignore[no-untyped-def]
    res, _ = result
    assert hub_trap.connections == 0
    for path in res.out_dir.rglob("*"):
        if path.is_file():
            assert API_KEY not in path.read_text(errors="replace"), path
    scenario = json.loads((res.out_dir / "runs/base/scenario.json").read_text())
    assert scenario["spec"]["tokenizer"]["model"] == str(res.summary["tokenizer"])
    assert scenario["spec"]["backend"]["verify"] is True


def test_html_report_is_self_contained(result) -> None:  # type: ignore[no-untyped-def]
    res, _ = result
    html = (res.out_dir / "report.html").read_text()
    assert "<script" not in html and "<link" not in html and "@import" not in html and "url(" not in html
    assert not re.search(r"(src|href)\s*=", html)
    assert html.count("<svg") >= 6  # CDFs, percentiles, per-adapter comparison
    for title in ("TTFT CDF", "Per-adapter comparison", "mix:kansai"):
        assert title in html


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "prai.cli.main", *args], capture_output=True, text=True,
                          timeout=120)


def test_compare_gate(result, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    res, _ = result
    same = _cli("bench", "compare", str(res.out_dir), str(res.out_dir))
    assert same.returncode == 0, same.stdout + same.stderr
    doctored = json.loads((res.out_dir / "summary.json").read_text())
    for run in doctored["runs"]:
        if run["name"] != "broken":
            run["benchmarks"][0]["ttft_p95_ms"] *= 1.5
            run["benchmarks"][0]["output_tokens_per_s"] *= 0.97
    (tmp_path / "summary.json").write_text(json.dumps(doctored))
    bad = _cli("bench", "compare", str(res.out_dir), str(tmp_path),
               "--max-regression", "ttft_p95=10%,output_tokens_per_s=5%")
    assert bad.returncode == 52, bad.stdout + bad.stderr
    assert "REGRESSION" in bad.stdout and "ttft_p95_ms" in bad.stdout
    assert "error:" in bad.stderr and "Traceback" not in bad.stderr
    loose = _cli("bench", "compare", str(res.out_dir), str(tmp_path), "--max-regression", "ttft_p95=60%")
    assert loose.returncode == 0, loose.stdout + loose.stderr
    report = _cli("bench", "report", str(res.out_dir))
    assert report.returncode == 0 and (res.out_dir / "report.html").stat().st_size > 1000


def _chromium() -> str | None:
    import shutil

    return shutil.which("chromium") or shutil.which("chromium-browser")


def _screenshot(html: Path, png: Path) -> None:
    """Headless Chromium with the network off (own network namespace when root can make one,
    and a dead proxy and a resolver that resolves nothing in any case)."""
    import shutil

    cmd = [_chromium() or "chromium", "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
           "--proxy-server=127.0.0.1:9", "--host-resolver-rules=MAP * ~NOTFOUND", "--hide-scrollbars",
           "--window-size=1280,2600", f"--screenshot={png}", html.as_uri()]
    if shutil.which("unshare") and os.geteuid() == 0:
        cmd = ["unshare", "--net", *cmd]
    subprocess.run(cmd, capture_output=True, timeout=120, check=True)


@pytest.mark.skipif(_chromium() is None and os.environ.get("CI") != "true", reason="Debian's chromium not installed")
def test_report_renders_offline_in_chromium(result, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    image = pytest.importorskip("PIL.Image")
    res, _ = result
    png = tmp_path / "report.png"
    _screenshot(res.out_dir / "report.html", png)
    img = image.open(png).convert("RGB")
    colors = img.getcolors(maxcolors=1 << 20) or []
    def count(rgb: tuple[int, int, int]) -> int:
        return sum(n for n, c in colors if all(abs(a - b) <= 8 for a, b in zip(c, rgb, strict=True)))
    # The plots' series colours are drawn (bars and lines), not an empty page.
    assert count((0x25, 0x63, 0xEB)) > 2000  # first series, blue
    assert count((0xDC, 0x26, 0x26)) > 2000  # second series, red
    assert len(colors) > 50
