"""The doctor's verdicts: one :class:`Check` per finding, gathered in a :class:`DoctorReport`.

Every check carries a status (PASS / WARN / FAIL / SKIP), the evidence it saw (a path,
an address, a status code, a size) and, unless it passed, ONE remediation line in the
seed's tone (English, with the seed's Japanese term where it has one: 疎通, 証明書, 味見).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Status = Literal["PASS", "WARN", "FAIL", "SKIP"]
NOTHING_CHECKED_EXIT = 8  # every check skipped: no verdict (docs/doctor.md, exit codes)
AREAS = ("storage", "images", "model", "offline", "certs", "lora", "endpoint", "lifecycle")


@dataclass
class Check:
    """One finding.

    Attributes:
        area: one of :data:`AREAS`.
        name: short id inside the area (``dns``, ``tls``, ``bucket``…).
        status: PASS, WARN, FAIL, or SKIP (not applicable / not configured).
        evidence: what was observed, one line.
        remediation: what to do, one line (empty for PASS).
        data: measured values for ``--json`` (TTFT in seconds, sizes in bytes…).
    """

    area: str
    name: str
    status: Status
    evidence: str
    remediation: str = ""
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class DoctorReport:
    """All checks of one run, in the order they ran."""

    checks: list[Check] = field(default_factory=list)

    def add(
        self,
        area: str,
        name: str,
        status: Status,
        evidence: str,
        remediation: str = "",
        **data: Any,
    ) -> Check:
        """Append a check and return it."""
        c = Check(area, name, status, evidence, remediation, data)
        self.checks.append(c)
        return c

    def count(self, status: Status) -> int:
        return sum(1 for c in self.checks if c.status == status)

    @property
    def checked(self) -> int:
        """Checks that looked at something (PASS, WARN or FAIL; SKIPs do not count)."""
        return len(self.checks) - self.count("SKIP")

    @property
    def ok(self) -> bool:
        """True when something was checked and nothing failed (warnings allowed)."""
        return self.count("FAIL") == 0 and self.checked > 0

    @property
    def exit_code(self) -> int:
        """0 ready; 1 a check failed; :data:`NOTHING_CHECKED_EXIT` (8) when every check
        was skipped (nothing was looked at, so there is no verdict)."""
        if self.count("FAIL"):
            return 1
        return 0 if self.checked else NOTHING_CHECKED_EXIT

    @property
    def verdict(self) -> str:
        """``ready``, ``not ready`` or ``nothing checked``."""
        if self.count("FAIL"):
            return "not ready"
        return "ready" if self.checked else "nothing checked"

    def failed(self) -> list[Check]:
        return [c for c in self.checks if c.status == "FAIL"]

    def to_json(self) -> dict[str, Any]:
        """Plain data for ``--json``: summary counts and every check."""
        return {
            "ok": self.ok,
            "verdict": self.verdict,
            "exit_code": self.exit_code,
            "summary": {s: self.count(s) for s in ("PASS", "WARN", "FAIL", "SKIP")},
            "checks": [asdict(c) for c in self.checks],
        }


_STYLE = {"PASS": "green", "WARN": "yellow", "FAIL": "bold red", "SKIP": "dim"}


def render_report(report: DoctorReport, console: Any) -> None:
    """Print the report with rich: one line per check, its remediation below it."""
    from rich.markup import escape

    area = None
    for c in report.checks:
        if c.area != area:
            area = c.area
            console.print(f"\n[bold]{area}[/]")
        console.print(
            f"  [{_STYLE[c.status]}]{c.status:<4}[/] {escape(c.name)}: {escape(c.evidence)}"
        )
        if c.remediation and c.status != "PASS":
            console.print(f"       → {escape(c.remediation)}", style="cyan")
    s = {k: sum(1 for c in report.checks if c.status == k) for k in ("PASS", "WARN", "FAIL", "SKIP")}
    style = {"ready": "green", "not ready": "bold red"}.get(report.verdict, "bold yellow")
    console.print(
        f"\n[{style}]{report.verdict}[/]: {s['PASS']} passed, {s['WARN']} warnings, {s['FAIL']} failed, "
        f"{s['SKIP']} skipped"
    )
    if not report.checked:
        console.print(
            "       → every check was skipped: give doctor something to look at (a kitchen.yaml with "
            "cluster: or gateway: upstreams, --model DIR, --endpoint URL, --ca FILE)",
            style="cyan",
        )


__all__ = ["AREAS", "NOTHING_CHECKED_EXIT", "Check", "DoctorReport", "Status", "render_report"]
