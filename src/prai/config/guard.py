"""The ``guard:`` section of kitchen.yaml: named guardrail policies.

A project picks a policy with ``gateway.tenants[].projects[].guard_policy: NAME``; the
same names work with ``prai guard scan --policy NAME``. Built-in policies (``standard``,
``strict``, ``audit``) exist even without a ``guard:`` section; a policy defined here
with the same name replaces the built-in one. Format: docs/guardrails.md.

Example::

    guard:
      stream_holdback_chars: 0
      policies:
        finance:
          input:  {default: mask, injection: block, secret: block}
          output: {default: mask, pii.ip_address: log}
          deny_words: ["社外秘", "Project Falcon"]
          deny_regexes: ["PRJ-[0-9]{4}"]
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from prai.config._base import StrictModel

Action = Literal["allow", "log", "mask", "block"]

#: Detector groups a rule may name instead of one detector id.
DETECTOR_GROUPS = ("pii", "secret", "injection", "deny")
#: Every detector id (prai.guard.scanner.DETECTORS holds the same ids; a test checks it).
DETECTOR_IDS = (
    "pii.my_number", "pii.corporate_number", "pii.phone_jp", "pii.postal_code_jp", "pii.email",
    "pii.payment_card", "pii.bank_account_jp", "pii.ip_address", "pii.drivers_license_jp",
    "pii.passport_jp", "pii.person_name", "pii.address_jp", "secret.aws_access_key",
    "secret.private_key", "secret.bearer_token", "secret.api_token", "secret.credential",
    "injection.prompt", "deny.word", "deny.regex",
)


#: Memory RE2 may use for one compiled deny regex (bytes); larger patterns are refused.
DENY_REGEX_MAX_MEM_BYTES = 8 << 20


def re2_options() -> object:
    """RE2 options for deny regexes: UTF-8, errors returned rather than logged to stderr,
    ``DENY_REGEX_MAX_MEM_BYTES`` of automaton memory."""
    import re2

    opts = re2.Options()
    opts.log_errors = False
    opts.max_mem = DENY_REGEX_MAX_MEM_BYTES
    return opts


def deny_regex_error(pattern: str) -> str | None:
    """Why ``pattern`` cannot be a deny regex, or None when it can.

    Deny regexes run in RE2 (google-re2), whose matching time is linear in the text for
    every pattern: a pattern such as ``(a+)+$`` that backtracks exponentially in Python's
    ``re`` costs nothing special there. RE2 has no back-references and no look-around
    (they need backtracking); such patterns are refused here, at config load, with RE2's
    reason. Syntax: https://github.com/google/re2/wiki/Syntax (a subset of Python's).
    """
    import re

    import re2

    try:
        re.compile(pattern)
    except re.error as exc:
        return f"does not compile: {exc.msg} at position {exc.pos}"
    try:
        re2.compile(pattern, re2_options())
    except re2.error as exc:
        msg = exc.args[0] if exc.args else str(exc)
        if isinstance(msg, bytes):
            msg = msg.decode("utf-8", "replace")
        return (
            f"cannot run in the linear-time regex engine RE2 ({msg}); rewrite it without "
            "back-references or look-around (RE2 syntax)"
        )
    return None


def _check_keys(rules: dict[str, Action]) -> dict[str, Action]:
    for key in rules:
        if key != "default" and key not in DETECTOR_GROUPS and key not in DETECTOR_IDS:
            raise ValueError(
                f"unknown detector {key!r}: use 'default', a group ({', '.join(DETECTOR_GROUPS)})"
                " or a detector id (`prai guard detectors` lists them)"
            )
    return rules


def _log_all() -> dict[str, Action]:
    return {"default": "log"}


class GuardPolicyConfig(StrictModel):
    """One named policy.

    Attributes:
        input / output: action per detector for prompts / answers. Keys: ``default``, a
            group (``pii``, ``secret``, ``injection``, ``deny``) or a detector id
            (``pii.my_number``); the most specific key wins. Actions: ``allow`` (ignore),
            ``log`` (audit only), ``mask`` (typed placeholder such as ［個人番号］),
            ``block`` (HTTP 400 ``guardrail_violation``; in a stream, an error event).
        deny_words: words that must not pass (NFKC, case-insensitive) — detector ``deny.word``.
        deny_regexes: regular expressions (RE2 syntax: linear time, no back-references or
            look-around; refused at load otherwise) on the NFKC text — detector ``deny.regex``.
        stream_holdback_chars: this policy's stream window (characters); None = the
            section's ``stream_holdback_chars``.
    """

    input: dict[str, Action] = Field(default_factory=_log_all)
    output: dict[str, Action] = Field(default_factory=_log_all)
    deny_words: list[str] = Field(default_factory=list)
    deny_regexes: list[str] = Field(default_factory=list)
    stream_holdback_chars: int | None = Field(default=None, ge=0, le=4096)

    @field_validator("input", "output")
    @classmethod
    def _keys(cls, rules: dict[str, Action]) -> dict[str, Action]:
        return _check_keys(rules)

    @field_validator("deny_regexes")
    @classmethod
    def _compiles(cls, patterns: list[str]) -> list[str]:
        for i, p in enumerate(patterns):
            reason = deny_regex_error(p)
            if reason:
                raise ValueError(f"[{i}] {p!r} {reason}")
        return patterns


class GuardConfig(StrictModel):
    """``guard:`` in kitchen.yaml.

    Attributes:
        policies: named policies (see :class:`GuardPolicyConfig`).
        stream_holdback_chars: characters of a streamed answer always held back, so that
            a word split across chunks is seen whole. Numbers, e-mails, keys and other
            tokens still being written are held until they end whatever this says (up to
            ``stream_max_hold_chars``). Raised per policy to the longest deny word, to 32
            with deny regexes and to 64 when the output masks or blocks injection phrases.
            The added time to first token is the time the model needs to write this many
            characters (plus the rest of a token still being written).
        stream_max_hold_chars: upper bound of text held back in one choice (characters);
            an unterminated private-key block longer than this is masked as a whole.
        max_scan_s: seconds the gateway's guard may spend checking one request's prompt;
            past it the request is refused with HTTP 413 (``GuardTimeExceeded``) rather than
            sent on unchecked. Every detector is linear in the text, so this bounds the
            prompt size a worker will scan (about 1 MB/s with names and addresses).
    """

    policies: dict[str, GuardPolicyConfig] = Field(default_factory=dict)
    stream_holdback_chars: int = Field(default=0, ge=0, le=4096)
    stream_max_hold_chars: int = Field(default=8192, ge=64, le=1 << 20)
    max_scan_s: float = Field(default=2.0, gt=0, le=600)


__all__ = [
    "DENY_REGEX_MAX_MEM_BYTES", "DETECTOR_GROUPS", "DETECTOR_IDS", "Action", "GuardConfig",
    "GuardPolicyConfig", "deny_regex_error", "re2_options",
]
