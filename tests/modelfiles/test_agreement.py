"""`prai serve`'s preflight and `prai bundle create` run the same model-directory check,
so a directory one accepts the other accepts, and one refused is refused by both."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests._support.model_dirs import write_tiny_model


def prai(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "prai.cli.main", *map(str, args)],
                          capture_output=True, text=True, timeout=120)


def test_tekken_only_tokenizer_passes_both(tmp_path: Path) -> None:
    """vLLM loads Mistral's tekken.json as the tokenizer (--tokenizer-mode mistral)."""
    model = write_tiny_model(tmp_path / "mistral-like")
    (model / "tokenizer.json").rename(model / "tekken.json")
    serve = prai("serve", "--model", model, "--preflight-only")
    assert serve.returncode == 0, serve.stderr
    bundle = prai("bundle", "create", "--model", model, "-o", tmp_path / "b")
    assert bundle.returncode == 0, bundle.stderr
    assert (tmp_path / "b" / "model" / "tekken.json").is_file()


def test_no_tokenizer_is_refused_by_both(tmp_path: Path) -> None:
    model = write_tiny_model(tmp_path / "m")
    (model / "tokenizer.json").unlink()
    serve = prai("serve", "--model", model, "--preflight-only")
    bundle = prai("bundle", "create", "--model", model, "-o", tmp_path / "b")
    for r in (serve, bundle):
        assert r.returncode == 4, r.stderr
        assert "no tokenizer files" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "b").exists()


def test_weights_without_an_index_pass_both(tmp_path: Path) -> None:
    """vLLM loads every *.safetensors file when there is no index (not only model.safetensors)."""
    model = write_tiny_model(tmp_path / "m")
    (model / "model.safetensors.index.json").unlink()
    serve = prai("serve", "--model", model, "--preflight-only")
    assert serve.returncode == 0, serve.stderr
    bundle = prai("bundle", "create", "--model", model, "-o", tmp_path / "b", "--json")
    assert bundle.returncode == 0, bundle.stderr
