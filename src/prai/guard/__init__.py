"""Guardrails for Japanese enterprise data: PII, secret and prompt-injection detectors,
per-tenant policies (allow | mask | block | log), a streaming filter with a hold-back
window, and an FMS/TrustyAI-compatible detector server. No network, no model download.

See docs/guardrails.md.
"""

from prai.guard.scanner import DETECTORS, Finding, Scanner, mask

__all__ = ["DETECTORS", "Finding", "Scanner", "mask"]
