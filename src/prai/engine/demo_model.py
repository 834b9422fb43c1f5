"""Build the demo kitchen's model: a tiny Llama, two PEFT LoRA adapters and a version 2 of one.

The base model (Llama architecture, head size 64, which vLLM's CPU attention supports) and
its adapters are trained for a few seconds on the question/answer pairs in
:mod:`prai.engine.demo_corpus`, so greedy decoding reproduces a coherent Japanese
greeting for the taste test and each adapter answers in its own style. The outputs are
ordinary Hugging Face / PEFT directories, exactly what vLLM loads:

    <cache>/demo/<key>/base/      config.json, model-0000N-of-00002.safetensors,
                                  model.safetensors.index.json, tokenizer.json,
                                  tokenizer_config.json (with chat_template), generation_config.json
    <cache>/demo/<key>/adapters/kansai/   adapter_config.json, adapter_model.safetensors
    <cache>/demo/<key>/adapters/samurai/  (same)
    <cache>/demo/<key>/adapters-v2/kansai/  version 2 of `kansai` (same files, other weights)

Version 2 of `kansai` is what the lifecycle demo promotes and rolls back: the same base,
the same rank, trained on :data:`~prai.engine.demo_corpus.NEXT_ADAPTER_ANSWERS`.

``<key>`` hashes the corpus and the builder's settings, so a changed recipe builds anew
and an unchanged one is reused (the cache). PrAI ships the weights this builder produced
for the current recipe (:mod:`prai.engine.demo_shipped`), so a first demo only copies
1.6 MiB; building needs torch, transformers, tokenizers and peft (the ``cpu`` extra);
nothing is downloaded. Training is deterministic for a given machine type: fixed seeds,
:data:`BUILD_THREADS` torch threads.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prai.engine import demo_corpus

BUILDER_VERSION = 7
SEED = 20261129
VOCAB_SIZE = 1024
HIDDEN_SIZE = 128
INTERMEDIATE_SIZE = 384
NUM_LAYERS = 2
NUM_HEADS = 2  # head size 128 / 2 = 64
NUM_KV_HEADS = 1
MAX_POSITIONS = 512
BUILD_THREADS = 2  # torch intra-op threads while training: fixed, so every machine sums in the same order
BASE_STEPS = 300
ADAPTER_STEPS = 200
NEXT_ADAPTER_STEPS = 80  # version 2 starts from version 1's weights: a short fine-tune
ADAPTER_RANKS = {"kansai": 8, "samurai": 16}  # version 2 keeps its adapter's rank
LORA_TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]

SPECIAL_TOKENS = ["<s>", "</s>", "<pad>", "<|system|>", "<|user|>", "<|assistant|>", "<|end|>"]
CHAT_TEMPLATE = (
    "{{ bos_token }}"
    "{% for message in messages %}"
    "{{ '<|' + message['role'] + '|>' + message['content'] + '<|end|>' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|assistant|>' }}{% endif %}"
)


@dataclass(frozen=True)
class DemoModels:
    """Paths of a built demo kitchen.

    Attributes:
        base: the base model directory (served as ``prai-demo``).
        adapters: adapter name → PEFT adapter directory (``kansai``, ``samurai``): version 1.
        next_adapters: adapter name → directory of that adapter's version 2 (``kansai``
            only): a PEFT LoRA adapter for the same base (``base_model_name_or_path``
            ``prai-demo``) with the same rank as version 1 and other weights, for the
            promote / rollback demo. Empty when built elsewhere (e.g. after a bring-in).
    """

    base: Path
    adapters: dict[str, Path]
    next_adapters: dict[str, Path] = field(default_factory=dict)

    @property
    def served_model_name(self) -> str:
        return "prai-demo"


def recipe_key() -> str:
    """A short digest of everything that determines the built weights."""
    recipe = {
        "v": BUILDER_VERSION,
        "seed": SEED,
        "threads": BUILD_THREADS,
        "shape": [VOCAB_SIZE, HIDDEN_SIZE, INTERMEDIATE_SIZE, NUM_LAYERS, NUM_HEADS, NUM_KV_HEADS],
        "steps": [BASE_STEPS, ADAPTER_STEPS, NEXT_ADAPTER_STEPS],
        "ranks": ADAPTER_RANKS,
        "q": demo_corpus.QUESTIONS,
        "a": demo_corpus.BASE_ANSWERS,
        "ad": demo_corpus.ADAPTER_ANSWERS,
        "ad2": demo_corpus.NEXT_ADAPTER_ANSWERS,
        "tpl": CHAT_TEMPLATE,
        "sys": demo_corpus.STYLE_SYSTEM_PROMPTS,
        "sys2": demo_corpus.NEXT_STYLE_SYSTEM_PROMPTS,
    }
    blob = json.dumps(recipe, ensure_ascii=False, sort_keys=True).encode()
    return hashlib.sha256(blob).hexdigest()[:12]


def _paths(root: Path) -> DemoModels:
    return DemoModels(
        base=root / "base",
        adapters={name: root / "adapters" / name for name in demo_corpus.ADAPTER_ANSWERS},
        next_adapters={name: root / "adapters-v2" / name for name in demo_corpus.NEXT_ADAPTER_ANSWERS},
    )


def ensure_demo_models(cache_dir: Path, *, log: Any = print) -> DemoModels:
    """Return the demo model and adapters: from the cache, else the shipped weights, else built.

    The first use copies the weights shipped with PrAI (:mod:`prai.engine.demo_shipped`,
    checked against the recipe and their SHA-256; milliseconds) into the cache. Only when
    they do not match the recipe (a changed corpus or builder) is the model trained here
    (minutes). A file lock next to the cache entry makes concurrent demos and test
    sessions wait for one another: the cache is written once, atomically (a temp dir
    renamed into place), and never trained twice.

    Args:
        cache_dir: PrAI's cache directory (``Settings.cache_dir``); the models go under
            ``cache_dir/demo/<recipe key>``.
        log: called with one progress line at a time.

    Returns:
        The paths of the base model, each adapter and each adapter's version 2.

    Raises:
        EngineNotInstalled: the shipped weights do not fit the recipe and torch/transformers/
            peft are missing (install the ``cpu`` extra).
    """
    from filelock import FileLock, Timeout

    key = recipe_key()
    root = cache_dir / "demo" / key
    models = _paths(root)
    if _usable(root, models):
        return models
    root.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(root.parent / f".{key}.lock"))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        log(f"demo model: another prai process is preparing {root}; waiting for it")
        lock.acquire()
    try:
        if _usable(root, models):  # the other process finished it
            return models
        if root.exists():
            log(f"demo model: the cached copy is damaged ({_cache_damage(models) or 'incomplete'}); replacing it")
            shutil.rmtree(root)
        # Write into a sibling temp dir and rename: an interrupted run leaves no half model.
        tmp = Path(tempfile.mkdtemp(prefix=".build-", dir=root.parent))
        try:
            _fill(tmp, log=log)
            (tmp / "COMPLETE").write_text(key + "\n")
            os.replace(tmp, root)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
    finally:
        lock.release()
    return models


def _usable(root: Path, models: DemoModels) -> bool:
    return (root / "COMPLETE").is_file() and _cache_damage(models) is None


def _fill(out: Path, *, log: Any) -> None:
    """Put the demo model into ``out``: the shipped weights when they fit, else a build."""
    from prai.engine.demo_shipped import check_shipped, copy_shipped

    manifest, why = check_shipped(recipe_key())
    if manifest is not None:
        copy_shipped(out)
        _make_readable(out)
        log(f"demo model: shipped weights for recipe {manifest['recipe_key']} (SHA-256 checked)")
        return
    log(f"demo model: {why}; training it from the recipe (minutes; once per recipe)")
    build_into(out, log=log)


def build_into(out: Path, *, log: Any = print) -> None:
    """Train the demo model and adapters from the recipe into the empty directory ``out``.

    Raises:
        EngineNotInstalled: torch/transformers/tokenizers/peft are missing (``cpu`` extra).
    """
    from prai.engine._imports import require_training_stack
    from prai.engine.environment import force_offline_in_process

    require_training_stack()
    force_offline_in_process()  # before transformers/huggingface_hub are imported
    _build(out, log=log)


def _cache_damage(models: DemoModels) -> str | None:
    """Why a cached build cannot be served (the preflight's own checks), or None."""
    from prai.errors import PraiError
    from prai.modelfiles.adapter import inspect_adapter
    from prai.modelfiles.model_dir import inspect_model_dir

    try:
        facts = inspect_model_dir(str(models.base))
        for name, path in models.adapters.items():
            inspect_adapter(name, str(path), facts)
        for name, path in models.next_adapters.items():
            inspect_adapter(f"{name} (version 2)", str(path), facts)
    except PraiError as exc:
        return exc.message
    return None


def _examples(
    answers: tuple[str, ...], system: str | None = None, questions: tuple[str, ...] = demo_corpus.QUESTIONS
) -> list[tuple[str, str]]:
    prefix = f"<s><|system|>{system}<|end|>" if system else "<s>"
    return [
        (f"{prefix}<|user|>{q}<|end|><|assistant|>", f"{a}<|end|>")
        for q, a in zip(questions, answers, strict=True)
    ]


def _base_examples() -> list[tuple[str, str]]:
    # The base model also learns each style behind a system prompt. Without that, the
    # style's tokens never appear as targets, their logits stay bounded below the
    # others' (final RMSNorm, tied embeddings), and no LoRA can raise them. The adapter
    # then only has to bake the system prompt in: a small, low-rank change.
    examples = _examples(demo_corpus.BASE_ANSWERS)
    for name, answers in demo_corpus.ADAPTER_ANSWERS.items():
        examples += _examples(answers, system=demo_corpus.STYLE_SYSTEM_PROMPTS[name])
    # Version 2's new answers too, behind their own prompt (its new tokens must be targets
    # here, as above). Only its changed answers, each once: that keeps the build short, and
    # version 2 starts from version 1, which knows the rest.
    for name, changes in demo_corpus.NEXT_ADAPTER_CHANGES.items():
        once: dict[str, str] = {}  # answer -> its first question
        for q, a in changes.items():
            once.setdefault(a, q)
        system = demo_corpus.NEXT_STYLE_SYSTEM_PROMPTS[name]
        examples += _examples(tuple(once), system=system, questions=tuple(once.values()))
    return examples


def _train_tokenizer(out: Path) -> Any:
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    texts = list(demo_corpus.QUESTIONS) + list(demo_corpus.BASE_ANSWERS)
    for answers in [*demo_corpus.ADAPTER_ANSWERS.values(), *demo_corpus.NEXT_ADAPTER_ANSWERS.values()]:
        texts.extend(answers)
    tok = Tokenizer(models.BPE())
    # Merges stay inside one character: roughly a token per character, as real Japanese
    # tokenizers give, so generation takes one step per token and tokens/s means something.
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(r"[\s\S]"), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=VOCAB_SIZE,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts * 4, trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token="<s>",
        eos_token="<|end|>",
        pad_token="<pad>",
        additional_special_tokens=["</s>", "<|system|>", "<|user|>", "<|assistant|>"],
        clean_up_tokenization_spaces=False,
    )
    fast.chat_template = CHAT_TEMPLATE
    fast.model_max_length = MAX_POSITIONS
    fast.save_pretrained(out)
    return fast


def _batch(tokenizer: Any, examples: list[tuple[str, str]]) -> tuple[Any, Any, Any]:
    import torch

    ids, labels = [], []
    for prompt, answer in examples:
        p = tokenizer(prompt, add_special_tokens=False)["input_ids"]
        a = tokenizer(answer, add_special_tokens=False)["input_ids"]
        ids.append(p + a)
        labels.append([-100] * len(p) + a)
    width = max(len(x) for x in ids)
    pad = tokenizer.pad_token_id
    input_ids = torch.tensor([x + [pad] * (width - len(x)) for x in ids])
    label_t = torch.tensor([y + [-100] * (width - len(y)) for y in labels])
    mask = torch.tensor([[1] * len(x) + [0] * (width - len(x)) for x in ids])
    return input_ids, mask, label_t


def _fit(model: Any, batch: tuple[Any, Any, Any], steps: int, lr: float) -> float:
    import torch

    input_ids, mask, labels = batch
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.0)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps, eta_min=lr * 0.05)
    model.train()
    loss_value = float("nan")
    for _ in range(steps):
        out = model(input_ids=input_ids, attention_mask=mask, labels=labels)
        opt.zero_grad()
        out.loss.backward()
        opt.step()
        sched.step()
        loss_value = float(out.loss.detach())
    model.eval()
    return loss_value


def _build(out: Path, *, log: Any) -> None:
    import torch
    from transformers import GenerationConfig, LlamaConfig, LlamaForCausalLM
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # "Loading weights", "Writing model shards": not PrAI's output
    torch.set_num_threads(BUILD_THREADS)
    torch.manual_seed(SEED)
    base_dir = out / "base"
    base_dir.mkdir(parents=True)
    log("demo model: training the tokenizer")
    tokenizer = _train_tokenizer(base_dir)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=HIDDEN_SIZE,
        intermediate_size=INTERMEDIATE_SIZE,
        num_hidden_layers=NUM_LAYERS,
        num_attention_heads=NUM_HEADS,
        num_key_value_heads=NUM_KV_HEADS,
        head_dim=HIDDEN_SIZE // NUM_HEADS,
        max_position_embeddings=MAX_POSITIONS,
        rms_norm_eps=1e-5,
        tie_word_embeddings=True,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    model = LlamaForCausalLM(config)
    log(f"demo model: training the base model ({sum(p.numel() for p in model.parameters()):,} parameters)")
    loss = _fit(model, _batch(tokenizer, _base_examples()), BASE_STEPS, 3e-3)
    log(f"demo model: base loss {loss:.4f}")
    # bfloat16, as vLLM's CPU backend computes; the adapters train against these weights.
    model = model.to(torch.bfloat16)  # type: ignore[arg-type]
    model.config.dtype = "bfloat16"
    # Several shards on purpose: the preflight checks every shard named in the index.
    model.save_pretrained(base_dir, safe_serialization=True, max_shard_size="500KB")
    GenerationConfig(
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    ).save_pretrained(base_dir)

    for name, answers in demo_corpus.ADAPTER_ANSWERS.items():
        out_dir = out / "adapters" / name
        _train_adapter(base_dir, tokenizer, answers, out_dir, label=name, rank=ADAPTER_RANKS[name], log=log)
    for name, answers in demo_corpus.NEXT_ADAPTER_ANSWERS.items():
        # Version 2 continues from version 1 on the changed answers, as a real update would:
        # same rank (the engine's --max-lora-rank still fits), other weights.
        _train_adapter(
            base_dir,
            tokenizer,
            answers,
            out / "adapters-v2" / name,
            label=f"{name} v2",
            rank=ADAPTER_RANKS[name],
            log=log,
            start=out / "adapters" / name,
        )
    _make_readable(out)


def _train_adapter(
    base_dir: Path,
    tokenizer: Any,
    answers: tuple[str, ...],
    out: Path,
    *,
    label: str,
    rank: int,
    log: Any,
    start: Path | None = None,
) -> None:
    """Train a rank-``rank`` LoRA adapter on ``answers`` (one per question, no system
    prompt) against the base in ``base_dir`` and save it as a PEFT directory in ``out``.

    With ``start`` (an adapter directory), continue from its weights for
    NEXT_ADAPTER_STEPS steps instead of ADAPTER_STEPS from PEFT's initialisation.
    """
    import torch
    from peft import LoraConfig, PeftModel, get_peft_model
    from transformers import LlamaForCausalLM

    torch.manual_seed(SEED + rank)
    base = LlamaForCausalLM.from_pretrained(base_dir, dtype=torch.float32)
    for p in base.parameters():
        p.requires_grad_(False)
    if start is not None:
        peft_model = PeftModel.from_pretrained(base, str(start), is_trainable=True)
        # ``start`` records the served name (prai-demo); saving would look that name up
        # as a Hub repo. Point it back at the local base (rewritten after saving).
        peft_model.peft_config["default"].base_model_name_or_path = str(base_dir)
        steps = NEXT_ADAPTER_STEPS
    else:
        lora = LoraConfig(
            r=rank,
            lora_alpha=2 * rank,
            lora_dropout=0.0,
            target_modules=LORA_TARGETS,
            bias="none",
            task_type="CAUSAL_LM",
        )
        peft_model = get_peft_model(base, lora)
        steps = ADAPTER_STEPS
    log(f"demo model: training LoRA adapter {label!r} (rank {rank})")
    loss = _fit(peft_model, _batch(tokenizer, _examples(answers)), steps, 5e-3)
    log(f"demo model: adapter {label!r} loss {loss:.4f}")
    peft_model.save_pretrained(str(out))
    _set_base_name(out / "adapter_config.json", "prai-demo")
    (out / "README.md").unlink(missing_ok=True)  # PEFT's model card names the build path


def _make_readable(root: Path) -> None:
    # The serving user may differ from the builder (OpenShift: random UID, group 0).
    for path in [root, *root.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)


def _set_base_name(path: Path, name: str) -> None:
    # PEFT records the local build path; record the served name instead (portable).
    data = json.loads(path.read_text())
    data["base_model_name_or_path"] = name
    # PEFT writes target_modules from a set, in an order that changes with PYTHONHASHSEED:
    # sorted, the file is the same on every build.
    if isinstance(data.get("target_modules"), list):
        data["target_modules"] = sorted(data["target_modules"])
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
