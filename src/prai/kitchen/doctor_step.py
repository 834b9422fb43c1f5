"""The doctor step of ``prai demo``: the checklist areas that apply on one machine."""

from __future__ import annotations

from pathlib import Path

from prai.doctor import DoctorPlan, DoctorReport, ModelTarget, run_doctor


def doctor_demo(
    base_url: str,
    model_dir: Path,
    adapters: dict[str, Path],
    served_model_name: str = "prai-demo",
    env: dict[str, str] | None = None,
) -> DoctorReport:
    """The doctor run ``prai demo`` shows: model, offline, lora and endpoint against the
    demo kitchen (storage, images and certs have nothing to check on one machine).

    Args:
        base_url: the demo engine, e.g. ``http://127.0.0.1:8000``.
        model_dir / adapters / served_model_name: what the demo serves.
        env: environment for the checks (default: PrAI's settings).
    """
    if env is None:
        from prai.settings import get_settings

        env = get_settings().environ
    plan = DoctorPlan(
        models=[ModelTarget(name=served_model_name, dir=model_dir, adapters=dict(adapters),
                            source="serve")],
        endpoint=base_url, env=env, kitchen=None,
        timeout_s=60.0,  # a CPU engine on a busy machine may take seconds for a first token
    )
    plan.expected_models = [served_model_name, *adapters]
    return run_doctor(plan, ("model", "offline", "lora", "endpoint"))


__all__ = ["doctor_demo"]
