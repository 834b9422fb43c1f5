"""The demo weights shipped with PrAI (prai/engine/demo_weights): they fit the recipe, are
copied (not trained) on first use, are written once when several processes ask at the same
time, and still come from the builder.

The full rebuild (minutes on two idle cores, tens of minutes on a busy machine) runs with
PRAI_TEST_REBUILD_DEMO=1; every run retrains the tokenizer (a second) and compares it
bit for bit.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from prai.engine import demo_corpus, demo_model
from prai.engine.demo_model import ensure_demo_models, recipe_key
from prai.engine.demo_shipped import SHIPPED_DIR, check_shipped, read_manifest


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_shipped_weights_fit_the_recipe() -> None:
    manifest, why = check_shipped(recipe_key())
    assert manifest is not None, why
    assert manifest["recipe_key"] == recipe_key()
    size = sum(e["size"] for e in manifest["files"].values())
    assert size < 2 * 2**20, f"{size} bytes: the shipped demo weights should stay small"
    for d in ("base", "adapters/kansai", "adapters/samurai", "adapters-v2/kansai"):
        assert any(p.startswith(d + "/") for p in manifest["files"]), d


def test_first_use_copies_the_shipped_weights(tmp_path: Path) -> None:
    lines: list[str] = []
    start = time.monotonic()
    models = ensure_demo_models(tmp_path, log=lines.append)
    took = time.monotonic() - start
    assert took < 5, f"{took:.1f} s: the first use must copy, not train"
    assert any("shipped weights for recipe" in line for line in lines), lines
    for rel in read_manifest()["files"]:  # type: ignore[index]
        assert _sha(models.base.parent / rel) == _sha(SHIPPED_DIR / rel), rel
    assert oct((models.base / "config.json").stat().st_mode & 0o777) == "0o644"
    again: list[str] = []
    assert ensure_demo_models(tmp_path, log=again.append) == models and again == []  # the cache


def test_concurrent_first_uses_write_the_cache_once(tmp_path: Path) -> None:
    """Four processes ask for the demo model in one empty cache at the same moment: one
    copies it, the others wait for it (a file lock) or find it done; nobody trains."""
    code = (
        "import sys; from pathlib import Path; from prai.engine.demo_model import ensure_demo_models;"
        "m = ensure_demo_models(Path(sys.argv[1]), log=lambda l: print(l, flush=True)); print('OK', m.base)"
    )
    procs = [subprocess.Popen([sys.executable, "-c", code, str(tmp_path)], stdout=subprocess.PIPE, text=True)
             for _ in range(4)]
    outs = [p.communicate(timeout=120)[0] for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    text = "".join(outs)
    assert text.count("shipped weights for recipe") == 1, text
    assert "training" not in text
    assert text.count("OK ") == 4
    leftovers = [p.name for p in (tmp_path / "demo").iterdir() if p.name.startswith(".build-")]
    assert leftovers == []


def test_a_changed_recipe_does_not_get_the_shipped_weights(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(demo_corpus, "BASE_ANSWERS", ("違う答え",) * len(demo_corpus.QUESTIONS))
    manifest, why = check_shipped(recipe_key())
    assert manifest is None and "recipe" in why


def test_a_damaged_shipped_file_is_not_used(tmp_path: Path) -> None:
    copy = tmp_path / "demo_weights"
    shutil.copytree(SHIPPED_DIR, copy)
    shard = copy / "base" / "model-00002-of-00002.safetensors"
    data = bytearray(shard.read_bytes())
    data[-1] ^= 0xFF
    shard.write_bytes(bytes(data))
    manifest, why = check_shipped(recipe_key(), copy)
    assert manifest is None and "SHA-256" in why and "model-00002" in why


def test_the_builder_reproduces_the_shipped_tokenizer(tmp_path: Path) -> None:
    pytest.importorskip("transformers", reason="the builder needs the `cpu` extra")
    demo_model._train_tokenizer(tmp_path)
    assert _sha(tmp_path / "tokenizer.json") == _sha(SHIPPED_DIR / "base" / "tokenizer.json")


@pytest.mark.slow
@pytest.mark.skipif(os.environ.get("PRAI_TEST_REBUILD_DEMO") != "1",
                    reason="the full rebuild takes minutes: PRAI_TEST_REBUILD_DEMO=1 runs it")
def test_the_builder_reproduces_the_shipped_weights(tmp_path: Path) -> None:
    """Bit for bit on a machine like the one that built them (fixed seeds, BUILD_THREADS
    threads); else (another CPU's kernels sum in another order) the same greedy answers."""
    pytest.importorskip("peft", reason="the builder needs the `cpu` extra")
    out = tmp_path / "build"
    demo_model.build_into(out, log=lambda line: None)
    files = read_manifest()["files"]  # type: ignore[index]
    differ = [rel for rel in files if _sha(out / rel) != _sha(SHIPPED_DIR / rel)]
    if not differ:
        print("demo weights: the rebuild is bit-exact")
        return
    assert not [d for d in differ if not d.endswith(".safetensors")], differ  # configs, tokenizer: exact
    print(f"demo weights: {len(differ)} weight file(s) differ in bits; comparing greedy answers")
    assert _greedy_answers(out) == _greedy_answers(SHIPPED_DIR)


def _greedy_answers(root: Path) -> dict[str, list[str]]:
    """Greedy answers (transformers + peft, CPU) of the base model, each adapter and v2 to
    every question of the corpus."""
    import torch
    from peft import PeftModel
    from transformers import AutoTokenizer, LlamaForCausalLM

    tok = AutoTokenizer.from_pretrained(root / "base")
    answers: dict[str, list[str]] = {}
    variants = {"base": None, **{f"adapters/{n}": n for n in demo_corpus.ADAPTER_ANSWERS},
                **{f"adapters-v2/{n}": n for n in demo_corpus.NEXT_ADAPTER_ANSWERS}}
    for rel in variants:
        model = LlamaForCausalLM.from_pretrained(root / "base", dtype=torch.bfloat16)
        if rel != "base":
            model = PeftModel.from_pretrained(model, str(root / rel))
        got = []
        for q in demo_corpus.QUESTIONS:
            ids = tok.apply_chat_template([{"role": "user", "content": q}], add_generation_prompt=True,
                                          return_tensors="pt")
            ids = ids["input_ids"] if not isinstance(ids, torch.Tensor) else ids
            gen = model.generate(ids, max_new_tokens=64, do_sample=False)
            got.append(tok.decode(gen[0][ids.shape[1]:], skip_special_tokens=True))
        answers[rel] = got
    return answers
