"""Run the checklist: the areas in the seed's order (§14), then the taste test (§11), then
whether the model registry, the rendered manifests and the live endpoint agree (§15)."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from prai.doctor.certs import check_certs
from prai.doctor.endpoint import check_endpoint
from prai.doctor.images import check_images
from prai.doctor.lifecycle import check_lifecycle
from prai.doctor.lora import check_lora
from prai.doctor.model import check_models
from prai.doctor.offline import check_offline
from prai.doctor.plan import DoctorPlan
from prai.doctor.report import AREAS, DoctorReport
from prai.doctor.storage import check_storage
from prai.errors import PraiError, UsageError

CHECKS: dict[str, Callable[[DoctorPlan, DoctorReport], None]] = {
    "storage": check_storage,
    "images": check_images,
    "model": check_models,
    "offline": check_offline,
    "certs": check_certs,
    "lora": check_lora,
    "endpoint": check_endpoint,
    "lifecycle": check_lifecycle,
}


def parse_only(text: str | None) -> list[str]:
    """``storage,model`` -> the areas in checklist order.

    Raises:
        UsageError: an unknown area name.
    """
    if not text:
        return list(AREAS)
    asked = [a.strip() for a in text.split(",") if a.strip()]
    unknown = [a for a in asked if a not in AREAS]
    if unknown:
        raise UsageError(f"--only: unknown area(s) {', '.join(unknown)}",
                         hint=f"choose from {','.join(AREAS)}")
    return [a for a in AREAS if a in asked]


def run_doctor(
    plan: DoctorPlan,
    areas: Iterable[str] = AREAS,
    on_area: Callable[[str], None] | None = None,
) -> DoctorReport:
    """Run the checks of ``areas`` (checklist order) and return the report.

    A check never raises for what it finds: every finding is a PASS/WARN/FAIL entry.
    """
    report = DoctorReport()
    for area in AREAS:
        if area in areas:
            if on_area:
                on_area(area)
            try:
                CHECKS[area](plan, report)
            except PraiError as exc:  # a library refused its input: report it, keep going
                report.add(area, "error", "FAIL", exc.message, exc.hint)
    return report


__all__ = ["CHECKS", "parse_only", "run_doctor"]
