"""What ``prai bundle verify`` reports: one verdict per file, and the whole report."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from prai.errors import PraiError

from .manifest import Manifest

Status = Literal[
    "ok", "missing", "extra", "corrupted", "truncated", "size_mismatch", "unchecked", "in_base"
]


@dataclass
class FileResult:
    """One file's verdict. Sizes in bytes, digests hex."""

    path: str
    role: str
    name: str
    status: Status
    expected_size: int | None = None
    actual_size: int | None = None
    expected_sha256: str | None = None
    actual_sha256: str | None = None


@dataclass
class VerifyReport:
    """Result of :func:`verify_bundle`.

    Attributes:
        ok: True only when every check passed.
        signature: "absent", "present (not checked: no --key)", or "valid (<key type>)".
        problems: the errors found, most specific first; ``exit_code`` is the first's.
        software_fit: for a bundle carrying PrAI's wheelhouse, why it would not install on
            this machine (empty: it would); None without a wheelhouse. Not a problem:
            verify checks the bundle, the install may happen elsewhere.
    """

    location: str
    kind: str
    root_digest: str | None = None
    signature: str = "absent"
    total_bytes: int = 0
    files: list[FileResult] = field(default_factory=list)
    parts: list[dict[str, Any]] = field(default_factory=list)
    problems: list[PraiError] = field(default_factory=list)
    manifest: Manifest | None = None
    software_fit: list[str] | None = None

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def exit_code(self) -> int:
        return self.problems[0].exit_code if self.problems else 0

    def raise_for_problems(self) -> None:
        """Raise the first problem, its message extended by a count of the others."""
        if not self.problems:
            return
        first = self.problems[0]
        if len(self.problems) > 1:
            extra = "\n".join(str(p) for p in self.problems[1:6])
            more = f"\n(+{len(self.problems) - 6} more)" if len(self.problems) > 6 else ""
            first.message = f"{first.message}\nalso:\n{extra}{more}"
        raise first

    def to_json(self) -> dict[str, Any]:
        """Plain data for ``--json`` (problems as {type, exit_code, message, hint})."""
        return {
            "ok": self.ok,
            "exit_code": self.exit_code,
            "location": self.location,
            "kind": self.kind,
            "root_digest": self.root_digest,
            "signature": self.signature,
            "total_bytes": self.total_bytes,
            "files": [asdict(f) for f in self.files],
            "parts": self.parts,
            "software_fit": self.software_fit,
            "problems": [
                {
                    "type": type(p).__name__,
                    "exit_code": p.exit_code,
                    "message": p.message,
                    "hint": p.hint,
                }
                for p in self.problems
            ],
        }


__all__ = ["FileResult", "Status", "VerifyReport"]
