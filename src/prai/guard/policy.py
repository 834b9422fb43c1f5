"""Policies: what each detector's findings do to a prompt or an answer.

Actions (per detector, separately for ``input`` and ``output``): ``allow`` ignores the
finding; ``log`` records it (detector, action, count — never the text); ``mask`` replaces
it with a typed placeholder (［個人番号］); ``block`` rejects the whole text with
:class:`~prai.errors.GuardrailViolation` (HTTP 400, type ``guardrail_violation``) naming
the detector classes, never the matched text.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from prai.config.guard import GuardConfig, GuardPolicyConfig
from prai.errors import ConfigError, GuardrailViolation
from prai.guard._deadline import UNLIMITED, Deadline
from prai.guard.scanner import DETECTORS, Finding, Scanner, mask

Direction = Literal["input", "output"]

#: Stream hold-back (characters) when a policy has deny regexes / masks or blocks
#: injection phrases in answers: the longest phrase the built-in patterns match is shorter.
DENY_REGEX_HOLDBACK_CHARS = 32
INJECTION_HOLDBACK_CHARS = 64

#: Policies available without a ``guard:`` section (a configured one with the same name wins).
BUILTIN_POLICIES: dict[str, GuardPolicyConfig] = {
    "standard": GuardPolicyConfig(
        input={"default": "mask", "secret": "block", "injection": "block", "deny": "block"},
        output={"default": "mask", "injection": "log"},
    ),
    "strict": GuardPolicyConfig(
        input={"default": "block"},
        output={"default": "mask", "secret": "block", "deny": "block", "injection": "log"},
    ),
    "audit": GuardPolicyConfig(input={"default": "log"}, output={"default": "log"}),
}


@dataclass
class Outcome:
    """The result of applying a policy to one text.

    Attributes:
        text: the text to pass on (masked where the policy says so).
        findings: every finding, with its action, in original offsets.
        counts: (detector, action) → number of findings, for the audit record.
        blocked: detector ids whose action is ``block`` (empty = not blocked).
    """

    text: str
    findings: list[tuple[Finding, str]] = field(default_factory=list)
    counts: Counter[tuple[str, str]] = field(default_factory=Counter)
    blocked: list[str] = field(default_factory=list)


class Policy:
    """A compiled policy: its scanner (with the deny lists) and its rules.

    Args:
        name: the policy name (shown in errors and the audit log).
        config: the rules and deny lists.
    Raises:
        ConfigError: a deny regex does not compile.
    """

    def __init__(self, name: str, config: GuardPolicyConfig) -> None:
        self.name = name
        self.config = config
        self._cache: dict[tuple[str, str], str] = {}
        # a detector whose findings are allowed both ways is not run at all (a policy with
        # `pii.person_name: allow` and `pii.address_jp: allow` scans at the structured speed)
        run = [d for d in DETECTORS
               if self.action(d, "input") != "allow" or self.action(d, "output") != "allow"]
        self.scanner = Scanner(config.deny_words, config.deny_regexes, detectors=run)

    def action(self, detector: str, direction: Direction) -> str:
        """The action for ``detector`` on ``direction``: exact id, then group, then default."""
        key = (detector, direction)
        hit = self._cache.get(key)
        if hit is None:
            rules = self.config.input if direction == "input" else self.config.output
            group = detector.split(".", 1)[0]
            hit = rules.get(detector) or rules.get(group) or rules.get("default") or "log"
            self._cache[key] = hit
        return hit

    def apply(self, text: str, direction: Direction, deadline: Deadline = UNLIMITED) -> Outcome:
        """Scan ``text`` and apply the rules (does not raise for a block: see :meth:`enforce`).

        Raises:
            GuardTimeExceeded: ``deadline`` passed while scanning.
        """
        findings = self.scanner.scan(text, deadline)
        out = Outcome(text=text)
        to_mask: list[Finding] = []
        for f in findings:
            act = self.action(f.detector, direction)
            if act == "allow":
                continue
            out.findings.append((f, act))
            out.counts[(f.detector, act)] += 1
            if act == "mask":
                to_mask.append(f)
            elif act == "block" and f.detector not in out.blocked:
                out.blocked.append(f.detector)
        if to_mask:
            out.text = mask(text, to_mask)
        return out

    def enforce(self, text: str, direction: Direction) -> Outcome:
        """:meth:`apply`, raising when a finding's action is ``block``.

        Raises:
            GuardrailViolation: names the detector classes, never the matched text.
        """
        out = self.apply(text, direction)
        if out.blocked:
            raise violation(out.blocked, direction, self.name)
        return out


def violation(detectors: list[str], direction: Direction, policy: str) -> GuardrailViolation:
    """The error for blocked detectors (message names detector ids only)."""
    where = "prompt" if direction == "input" else "answer"
    exc = GuardrailViolation(
        f"the {where} was blocked by guardrail policy {policy!r}: "
        f"detector {', '.join(sorted(set(detectors)))}"
    )
    exc.detectors = sorted(set(detectors))
    return exc


class Guardrails:
    """Every policy of a kitchen (built-in ones plus ``guard.policies``), compiled once.

    Args:
        config: the ``guard:`` section, or None for the built-in policies only.
    """

    def __init__(self, config: GuardConfig | None = None) -> None:
        self.config = config or GuardConfig()
        defs: Mapping[str, GuardPolicyConfig] = {**BUILTIN_POLICIES, **self.config.policies}
        self._defs = dict(defs)
        self._compiled: dict[str, Policy] = {}

    @property
    def names(self) -> list[str]:
        """Policy names, sorted."""
        return sorted(self._defs)

    def policy(self, name: str) -> Policy:
        """The compiled policy ``name``.

        Raises:
            ConfigError: no such policy (the message lists the defined ones).
        """
        p = self._compiled.get(name)
        if p is None:
            if name not in self._defs:
                raise ConfigError(
                    f"guard policy {name!r} is not defined (defined: {', '.join(self.names)})",
                    hint="add it under guard.policies in kitchen.yaml or use a defined name",
                )
            p = self._compiled[name] = Policy(name, self._defs[name])
        return p

    def holdback_chars(self, policy: Policy) -> int:
        """Stream hold-back window for ``policy`` (characters): the configured window,
        raised to what the policy needs to see split phrases whole — the longest deny word,
        32 with deny regexes, 64 when output injection phrases are masked or blocked."""
        own = policy.config.stream_holdback_chars
        base = self.config.stream_holdback_chars if own is None else own
        need = [base, policy.scanner.longest_word]
        if policy.config.deny_regexes:
            need.append(DENY_REGEX_HOLDBACK_CHARS)
        if policy.action("injection.prompt", "output") in ("mask", "block"):
            need.append(INJECTION_HOLDBACK_CHARS)
        return max(need)


__all__ = ["BUILTIN_POLICIES", "Direction", "Guardrails", "Outcome", "Policy", "violation"]
