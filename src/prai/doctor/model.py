"""model: the base model where the pod mounts it (seed §7, §14), and whether it fits the GPU.

Checks per model: the directory is present (``ls -lah /mnt/models``); it is complete
(:func:`prai.modelfiles.model_dir.check_model_dir`: config.json, every shard of the safetensors index
intact, tokenizer, chat template); every model file of the bundle manifest is there with
its size (SHA-256 with ``--deep``); the serving UID (group 0, OpenShift's restricted SCC)
can read every file (:func:`prai.bundle.load_dir.check_readable`: as root a real read
test under that UID, else mode bits), with the SELinux label hint; free space on the
volume against the model size × headroom (seed §7 Tips); GPU fit
(:func:`prai.deploy.gpufit.check_gpu_fit`, the same estimate ``prai render`` uses).
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

from prai.doctor.plan import DoctorPlan, ModelTarget
from prai.doctor.report import DoctorReport

AREA = "model"
GIB = 1024**3


# Folders inside a model directory that are not part of the model: Hugging Face's download
# metadata (``hf download --local-dir`` writes ``.cache/huggingface/``) and git's. Matched
# against paths relative to the model directory, so a model kept under ~/.cache is checked.
_NOT_MODEL_DIRS = {".cache", ".git"}


def _files(root: Path) -> list[Path]:
    """Every file of the model directory (recursively), except those under
    :data:`_NOT_MODEL_DIRS` inside it."""
    return sorted(
        p for p in root.rglob("*")
        if p.is_file() and not _NOT_MODEL_DIRS.intersection(p.relative_to(root).parts)
    )


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def check_models(plan: DoctorPlan, report: DoctorReport) -> None:
    """Add the model checks for every model of the plan."""
    if not plan.models:
        report.add(AREA, "model", "SKIP", "no model: pass --model DIR or a kitchen.yaml with models")
        return
    for m in plan.models:
        _check_one(plan, m, report)


def _check_one(plan: DoctorPlan, m: ModelTarget, report: DoctorReport) -> None:
    from prai.modelfiles.model_dir import check_model_dir

    d = m.dir
    if not d.is_dir():
        report.add(AREA, f"{m.name} present", "FAIL", f"{d}: no such directory",
                   "check the mount: `ls -lah /mnt/models` in the pod, the PVC name and "
                   "storageUri path (seed §7 Tips)")
        return
    try:
        files = _files(d)
    except PermissionError as exc:
        report.add(AREA, f"{m.name} present", "FAIL", f"{d}: cannot list ({exc.strerror})",
                   "chmod -R g+rX the model directory (group 0); with SELinux: chcon -R -t "
                   "container_file_t DIR (seed §7)")
        return
    size = sum(p.stat().st_size for p in files)
    report.add(AREA, f"{m.name} present", "PASS", f"{d}: {len(files)} files, {size / GIB:.2f} GiB",
               files=len(files), bytes=size)

    rep = check_model_dir(d)
    if rep.problems:
        more = f" (+{len(rep.problems) - 2} more)" if len(rep.problems) > 2 else ""
        report.add(AREA, f"{m.name} complete", "FAIL", "; ".join(rep.problems[:2]) + more,
                   "copy the model again from the verified bundle (prai bundle load) — 持ち込み",
                   problems=rep.problems)
    else:
        f = rep.facts
        report.add(AREA, f"{m.name} complete", "PASS",
                   f"config.json, {len(f.weight_files)} weight file(s) intact, tokenizer, "
                   f"chat template {'present' if f.has_chat_template else 'not needed'}")
    for w in rep.warnings:
        report.add(AREA, f"{m.name} files", "WARN", w, "convert the weights to safetensors")
    if m.bundle is not None:
        _against_manifest(plan, m, report)
    elif plan.deep:
        report.add(AREA, f"{m.name} hashes", "SKIP",
                   "no bundle manifest to hash against (cluster.models[].bundle)")
    _readable(plan, m, files, report)
    _free_space(m, size, report)
    if m.gpu_memory_bytes:
        _gpu_fit(m, size if rep.ok else None, report)


def _against_manifest(plan: DoctorPlan, m: ModelTarget, report: DoctorReport) -> None:
    from prai.bundle import read_manifest
    from prai.errors import PraiError

    assert m.bundle is not None
    try:
        manifest = read_manifest(m.bundle)
    except PraiError as exc:
        report.add(AREA, f"{m.name} manifest", "FAIL", f"{m.bundle}: {exc.message}", exc.hint)
        return
    root = manifest.model.path if manifest.model else "model"
    entries = [f for f in manifest.files if f.path.startswith(root + "/")]
    bad: list[str] = []
    for e in entries:
        p = m.dir / e.path[len(root) + 1:]
        if not p.is_file():
            bad.append(f"{e.path[len(root) + 1:]} is missing")
        elif p.stat().st_size != e.size:
            bad.append(f"{p.name} is {p.stat().st_size} bytes, the manifest says {e.size}")
        elif plan.deep and _sha256(p) != e.sha256:
            bad.append(f"{p.name} is corrupted (SHA-256 differs from the manifest)")
    how = "sizes and SHA-256" if plan.deep else "sizes"
    if bad:
        more = f" (+{len(bad) - 3} more)" if len(bad) > 3 else ""
        report.add(AREA, f"{m.name} manifest", "FAIL", "; ".join(bad[:3]) + more,
                   f"load the bundle again: prai bundle load {m.bundle} --to {m.dir.parent}",
                   problems=bad)
    else:
        report.add(AREA, f"{m.name} manifest", "PASS",
                   f"{len(entries)} files of {m.bundle.name}'s manifest present, {how} match")


def _readable(plan: DoctorPlan, m: ModelTarget, files: list[Path], report: DoctorReport) -> None:
    from prai.bundle.load_dir import check_readable, selinux_warning

    bad = check_readable(m.dir, files, uid=plan.serving_uid)
    if bad:
        report.add(AREA, f"{m.name} readable", "FAIL",
                   f"UID {plan.serving_uid} (group 0) cannot read: {'; '.join(bad[:2])}"
                   + (f" (+{len(bad) - 2} more)" if len(bad) > 2 else ""),
                   f"chgrp -R 0 {m.dir} && chmod -R g+rX {m.dir} (OpenShift runs a random UID "
                   "in group 0; seed §7)", unreadable=bad)
    else:
        report.add(AREA, f"{m.name} readable", "PASS",
                   f"UID {plan.serving_uid} in group 0 can read all {len(files)} files")
    se = selinux_warning(m.dir)
    if se:
        report.add(AREA, f"{m.name} selinux", "WARN", se,
                   f"chcon -R -t container_file_t {m.dir} (seed §7)")


def _free_space(m: ModelTarget, size: int, report: DoctorReport) -> None:
    usage = shutil.disk_usage(m.dir)
    need = int(size * m.headroom)
    ev = (f"{usage.free / GIB:.2f} GiB free of {usage.total / GIB:.2f} GiB; model "
          f"{size / GIB:.2f} GiB, headroom {m.headroom:.0%} = {need / GIB:.2f} GiB")
    if usage.free < need:
        report.add(AREA, f"{m.name} free space", "WARN", ev,
                   "grow the PVC (model + headroom for updates and unpacking, seed §7 Tips)",
                   free_bytes=usage.free, need_bytes=need)
    else:
        report.add(AREA, f"{m.name} free space", "PASS", ev, free_bytes=usage.free, need_bytes=need)


def _gpu_fit(m: ModelTarget, weight_bytes: int | None, report: DoctorReport) -> None:
    from prai.deploy.gpufit import check_gpu_fit
    from prai.errors import PraiError

    try:
        config = json.loads((m.dir / "config.json").read_text(encoding="utf-8"))
        v = m.vllm
        rank = m.max_lora_rank or _derived_rank(m)
        fit = check_gpu_fit(
            config, max_model_len=v.get("max_model_len", 4096),
            max_num_seqs=v.get("max_num_seqs", 16),
            gpu_memory_bytes=int(m.gpu_memory_bytes or 0),
            gpu_memory_utilization=v.get("gpu_memory_utilization", 0.9),
            dtype=v.get("dtype", "auto"), tensor_parallel_size=v.get("tensor_parallel_size", 1),
            kv_cache_dtype=v.get("kv_cache_dtype", "auto"),
            weight_bytes=_weight_bytes(m.dir) if weight_bytes else None,
            max_loras=(v.get("max_loras") or len(m.adapters)) if m.adapters else 0,
            max_lora_rank=rank if m.adapters else 0,
        )
    except (OSError, ValueError, PraiError) as exc:
        report.add(AREA, f"{m.name} gpu fit", "WARN", f"cannot estimate: {exc}",
                   "check config.json (hidden_size, num_hidden_layers, num_attention_heads)")
        return
    if fit.fits:
        report.add(AREA, f"{m.name} gpu fit", "PASS", fit.explain(), **fit.to_dict())
    else:
        hint = (f"lower vllm.max_model_len to {fit.max_model_len_fit} or max_num_seqs, or add GPUs "
                "(tensor_parallel_size)") if fit.max_model_len_fit else \
            "the weights alone do not fit: more GPUs (tensor_parallel_size) or a quantized model"
        report.add(AREA, f"{m.name} gpu fit", "FAIL", fit.explain(), hint, **fit.to_dict())


def _derived_rank(m: ModelTarget) -> int:
    """The --max-lora-rank vLLM gets when none is set: the largest adapter rank, rounded up
    to a value vLLM accepts (unreadable adapters count 0; the lora area reports them)."""
    from prai.errors import PraiError
    from prai.modelfiles.adapter import round_up_lora_rank

    ranks = [0]
    for path in m.adapters.values():
        try:
            ranks.append(int(json.loads((path / "adapter_config.json").read_text())["r"]))
        except (OSError, ValueError, KeyError, TypeError):
            continue
    try:
        return round_up_lora_rank(max(ranks)) if max(ranks) else 0
    except PraiError:
        return max(ranks)


def _weight_bytes(d: Path) -> int:
    return sum(p.stat().st_size for p in d.glob("*.safetensors"))


__all__ = ["check_models"]
