"""`prai doctor`: the seed's deployment checklist (§14) as an executable preflight.

Areas, in the checklist's order, one module each: storage (§5), images (§6), model (§7),
offline (§8), certs (§10), lora (§13), endpoint (the taste test, §11), lifecycle (§15: the
model registry against the rendered InferenceServices and the live endpoint). Each finding is a
:class:`Check` with PASS / WARN / FAIL, its evidence and one remediation line.

Public surface: :func:`build_plan` (kitchen.yaml + options -> :class:`DoctorPlan`),
:func:`run_doctor` (-> :class:`DoctorReport`),
:func:`render_report`.
"""

from prai.doctor.plan import DoctorPlan, ModelTarget, S3Target, build_plan
from prai.doctor.report import AREAS, Check, DoctorReport, render_report
from prai.doctor.runner import parse_only, run_doctor

__all__ = [
    "AREAS",
    "Check",
    "DoctorPlan",
    "DoctorReport",
    "ModelTarget",
    "S3Target",
    "build_plan",
    "parse_only",
    "render_report",
    "run_doctor",
]
