"""lora: each adapter fits its base model and the engine's LoRA limits (seed §13).

Uses the engine's own preflight (:func:`prai.modelfiles.adapter.inspect_adapter`), so
doctor and ``prai serve`` never disagree: PEFT LoRA config, rank <= ``max_lora_rank``
(vLLM accepts 1, 8, 16, 32, 64, 128, 256, 320, 512), every target module present in the
base model, every ``lora_A``/``lora_B`` shape matching the base module. A recorded
``base_model_name_or_path`` that is neither the served name, the directory name nor one of
``cluster.models[].aliases`` is a WARN (adapters are trained elsewhere; shapes decide).
"""

from __future__ import annotations

from pathlib import Path

from prai.doctor.plan import DoctorPlan
from prai.doctor.report import DoctorReport

AREA = "lora"


def check_lora(plan: DoctorPlan, report: DoctorReport) -> None:
    """Add one check per adapter (plus a WARN when its recorded base model differs)."""
    from prai.errors import PraiError
    from prai.modelfiles.adapter import inspect_adapter, round_up_lora_rank
    from prai.modelfiles.model_dir import inspect_model_dir

    targets = [m for m in plan.models if m.adapters]
    if not targets:
        report.add(AREA, "adapters", "SKIP", "no LoRA adapters configured")
        return
    for m in targets:
        try:
            facts = inspect_model_dir(str(m.dir))
        except PraiError as exc:
            report.add(AREA, f"{m.name} base", "FAIL",
                       f"cannot read the base model: {exc.message}", exc.hint)
            continue
        fitted = []
        for name, path in m.adapters.items():
            try:
                fitted.append(inspect_adapter(name, str(path), facts, max_lora_rank=m.max_lora_rank,
                                              served_model_name=m.name))
            except PraiError as exc:
                report.add(AREA, f"{m.name}/{name}", "FAIL", exc.message, exc.hint)
        if not fitted:
            continue
        try:
            limit = m.max_lora_rank or round_up_lora_rank(max(a.rank for a in fitted))
        except PraiError as exc:
            report.add(AREA, f"{m.name} max_lora_rank", "FAIL", exc.message, exc.hint)
            continue
        how = "" if m.max_lora_rank else " (derived from the largest adapter)"
        for a in fitted:
            label = f"{m.name}/{a.name}"
            report.add(AREA, label, "PASS",
                       f"rank {a.rank} <= max_lora_rank {limit}{how}; targets "
                       f"{', '.join(a.target_modules)} exist with matching shapes",
                       rank=a.rank, max_lora_rank=limit)
            recorded = a.base_model_name
            known = {m.name, m.dir.name, str(m.dir), *m.aliases}
            if recorded and recorded not in known and Path(recorded).name not in known:
                report.add(AREA, f"{label} base", "WARN",
                           f"adapter records base model {recorded!r}, served as {m.name!r}",
                           f"if it is the same model, add {recorded!r} to cluster.models[].aliases; "
                           "else use the adapter trained for this base")


__all__ = ["check_lora"]
