"""What the limiter asks a limit store: the checks of one request and their keys.

One :class:`Plan` per (tenant, project, key) lists the limits that apply; one
:class:`AdmitCall` per request adds the costs, the window and period keys and the budget
reservation; :class:`SettleCall` carries the real usage after the answer. Both stores
(:mod:`._limitstore_memory`, :mod:`._limitstore_redis`) read the same calls and key names.

Budget keys of a tenant also include its *generation* (``prai:{T}:gen``, a token set when
Redis has none: its absence means Redis lost its state) and, per settled request that
crossed a generation, a marker ``prai:{T}:x:RID`` (see :mod:`._limitsettle`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from prai.config.gateway import BudgetConfig
from prai.gateway.budgets import MICRO, Period


@dataclass(frozen=True)
class RateItem:
    """A sliding-window limit: ``limit`` units (``kind``: requests or tokens) per minute."""

    scope: str
    what: str
    kind: str
    limit: int
    prefix: str  # key prefix; the window index is appended
    period_s: int = 60


@dataclass(frozen=True)
class ConcItem:
    """At most ``limit`` requests of ``scope`` in flight."""

    scope: str
    what: str
    limit: int
    key: str


@dataclass(frozen=True)
class BudgetItem:
    """Day and month quotas of one scope (tenant, project or key).

    ``limits``: (tokens/day, tokens/month, micro-yen/day, micro-yen/month), 0 = none.
    """

    scope: str
    what: str
    cfg: BudgetConfig
    prefix: str
    tenant: str
    project: str | None
    key_id: str | None

    limits: tuple[int, int, int, int] = (0, 0, 0, 0)

    def __post_init__(self) -> None:
        c = self.cfg
        object.__setattr__(
            self,
            "limits",
            (
                c.tokens_per_day or 0,
                c.tokens_per_month or 0,
                round((c.yen_per_day or 0) * MICRO),
                round((c.yen_per_month or 0) * MICRO),
            ),
        )
        object.__setattr__(self, "_keys", {})

    def keys_for(self, day: str, month: str) -> tuple[str, str, str, str]:
        """(day hash, month hash, reservation hash, reservation expiry zset), cached."""
        cache: dict[tuple[str, str], tuple[str, str, str, str]] = self.__dict__["_keys"]
        k = cache.get((day, month))
        if k is None:
            if len(cache) > 4:
                cache.clear()
            p = self.prefix
            k = cache[(day, month)] = (f"{p}d:{day}", f"{p}m:{month}", f"{p}r", f"{p}rz")
        return k


@dataclass
class Plan:
    """The limits of one (tenant, project, key); built once and cached."""

    tenant: str
    rates: list[RateItem] = field(default_factory=list)
    concs: list[ConcItem] = field(default_factory=list)
    budgets: list[BudgetItem] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.rates or self.concs or self.budgets)

    @property
    def token_rates(self) -> list[RateItem]:
        """The tokens-per-minute items of ``rates`` (built once per length of ``rates``)."""
        cached = self.__dict__.get("_token_rates")
        if cached is None or cached[0] != len(self.rates):
            cached = self.__dict__["_token_rates"] = (
                len(self.rates), [r for r in self.rates if r.kind == "tokens"]
            )
        return cached[1]


def window_key(item: RateItem, index: int) -> str:
    return f"{item.prefix}{index}"


def gen_key(tenant: str) -> str:
    """The tenant's generation: set when Redis has none (it lost its state or is new)."""
    return f"prai:{{{tenant}}}:gen"


def marker_key(tenant: str, rid: str) -> str:
    """Set when a settlement that crossed a generation was applied (kept a day)."""
    return f"prai:{{{tenant}}}:x:{rid}"


@dataclass
class AdmitCall:
    """One admission: every check of ``plan`` with this request's costs.

    Attributes:
        now: epoch seconds (the limiter's clock).
        costs: one cost per ``plan.rates`` item (1 request, or estimated prompt tokens).
        reserve_t / reserve_y: the request's worst case in tokens / micro-yen, held
            against budgets while it runs.
        day / month: the budget periods now.
        seeds: (budget index, 0 = day / 1 = month) → (tokens, micro-yen, cut) used
            before, for counters the store does not have yet; ``cut``: the audit log's
            sequence number the seed was read at (records up to it are in the seed).
        stale_after_s: seconds after which a concurrency slot or reservation of a dead
            gateway is dropped.
        slots: concurrency slots taken (1 for a request; a lease takes several, held as
            members ``rid#1`` … ``rid#N``).
        lease: a lease (:mod:`._limitlease`): budgets also refuse it when it would take
            their usage past the soft threshold.
        gen: the tenant's generation in the store when admitted (set from the answer;
            None until then, or with no budget).
        known_gen: the generation the caller saw last (the store names it only when it
            differs).
    """

    plan: Plan
    rid: str
    now: float
    costs: list[int]
    reserve_t: int
    reserve_y: int
    day: Period
    month: Period
    seeds: dict[tuple[int, int], tuple[int, int, int]]
    stale_after_s: float
    slots: int = 1
    lease: bool = False
    gen: str | None = None
    known_gen: str = "-"

    def budget_keys(self, b: BudgetItem) -> tuple[str, str, str, str]:
        """(day hash, month hash, reservation hash, reservation expiry zset)."""
        return b.keys_for(self.day.label, self.month.label)

    def period_ttls(self) -> tuple[int, int]:
        """Seconds the day / month counters are kept (the period's rest plus one hour)."""
        return (int(self.day.end_s - self.now) + 3600, int(self.month.end_s - self.now) + 3600)

    def redis_args(self) -> tuple[list[str], list[Any]]:
        """KEYS and ARGV of the ``ADMIT`` script."""
        p = self.plan
        keys: list[str] = []
        args: list[Any] = [
            repr(self.now),
            self.rid,
            repr(self.stale_after_s),
            len(p.rates),
            len(p.concs),
            len(p.budgets),
            self.slots,
            1 if self.lease else 0,
            self.known_gen,
        ]
        for item, cost in zip(p.rates, self.costs, strict=True):
            idx = int(self.now // item.period_s)
            keys += [window_key(item, idx), window_key(item, idx - 1)]
            args += [item.limit, item.period_s, cost, idx * item.period_s]
        for c in p.concs:
            keys.append(c.key)
            args.append(c.limit)
        ttl_d, ttl_m = self.period_ttls()
        for i, b in enumerate(p.budgets):
            keys += list(self.budget_keys(b))
            args += [*b.limits, b.cfg.soft_percent, self.reserve_t, self.reserve_y]
            for per in (0, 1):
                seed = self.seeds.get((i, per))
                args += [seed[0], seed[1], seed[2]] if seed is not None else ["-", "-", "-"]
            args += [ttl_d, ttl_m]
        if p.budgets:
            keys.append(gen_key(p.tenant))
        return keys, args


@dataclass
class Rejection:
    """Why a request was refused: ``kind`` rate / conc / budget, the item index (0-based),
    and for budgets the period (0 day, 1 month), unit (``t`` tokens, ``y`` micro-yen),
    usage and reservations; for rates the previous and current window counts."""

    kind: str
    index: int
    period: int = 0
    unit: str = "t"
    used: float = 0.0
    reserved: float = 0.0
    prev: float = 0.0
    cur: float = 0.0


@dataclass
class AdmitResult:
    """A store's answer: admitted (with remaining budget and soft-threshold states),
    refused (``rejection``), or counters to seed first (``need_seed``); ``gen``: the
    tenant's generation in the store (None without budgets, or in memory)."""

    ok: bool
    rejection: Rejection | None = None
    need_seed: list[tuple[int, int]] = field(default_factory=list)
    remaining_t: int | None = None
    remaining_y: int | None = None
    #: (budget index, period, unit, crossed by this request)
    soft: list[tuple[int, int, str, bool]] = field(default_factory=list)
    gen: str | None = None

    @classmethod
    def from_redis(cls, raw: list[Any], known_gen: str = "-") -> AdmitResult:
        """Parse the ``ADMIT`` script's answer: ``{code, ...}``, or ``{code + 10, ...,
        generation}`` when the generation is not ``known_gen``."""
        code = int(raw[0])
        if code >= 10:
            gen = _s(raw[-1])
            res = cls._parse([code - 10, *raw[1:-1]])
        else:
            gen = known_gen
            res = cls._parse(raw)
        res.gen = None if gen == "-" else gen
        return res

    @classmethod
    def _parse(cls, raw: list[Any]) -> AdmitResult:
        s = _s
        code = int(raw[0])
        if code == 2:
            need = []
            for x in raw[1:]:
                i, p = s(x).split(":")
                need.append((int(i) - 1, int(p) - 1))
            return cls(ok=False, need_seed=need)
        if code == 0:
            kind = s(raw[1])
            idx = int(raw[2]) - 1
            if kind == "rate":
                return cls(False, Rejection("rate", idx, prev=float(s(raw[3])), cur=float(s(raw[4]))))
            if kind == "conc":
                return cls(False, Rejection("conc", idx))
            return cls(
                False,
                Rejection(
                    "budget",
                    idx,
                    period=int(raw[3]) - 1,
                    unit=s(raw[4]),
                    used=float(s(raw[5])),
                    reserved=float(s(raw[6])),
                ),
            )
        rem_t, rem_y = int(float(s(raw[1]))), int(float(s(raw[2])))
        soft = []
        for x in raw[3:]:
            i, p, unit, crossed = s(x).split(":")
            soft.append((int(i) - 1, int(p) - 1, unit, crossed == "1"))
        return cls(
            True,
            remaining_t=rem_t if rem_t >= 0 else None,
            remaining_y=rem_y if rem_y >= 0 else None,
            soft=soft,
        )


def _s(v: Any) -> str:
    return v.decode() if isinstance(v, bytes) else str(v)


#: per budget counter (day, month of each budget): (cut, seed tokens, seed micro-yen,
#: tokens to add, micro-yen to add); seed None when the counter was there
CounterFix = tuple[int, int | None, int, int, int]


@dataclass
class SettleCall:
    """After the answer: token corrections for the tokens-per-minute windows (``deltas``,
    one per ``plan.token_rates`` item, charged to the window of ``now``), concurrency
    slots to free, and the real usage (tokens, micro-yen) for every budget.

    A lease given back also returns its unused units (``refunds``, one per
    ``plan.rates`` item, taken back from the window the lease was charged to) and lists
    the usage of each of its requests (``requests``: rid, tokens, micro-yen).

    ``gen`` is the generation the usage was charged in (default: the admission's);
    ``fixes`` / ``fixes_gen``: what to add to each budget counter when the store's
    generation is another one (worked out by :mod:`._limitsettle`)."""

    admit: AdmitCall
    now: float
    deltas: list[int]
    used_t: int
    used_y: int
    refunds: list[int] = field(default_factory=list)
    requests: list[tuple[str, int, int]] | None = None
    gen: str | None = None
    fixes: list[CounterFix] | None = None
    fixes_gen: str = ""

    def usage_by_request(self) -> list[tuple[str, int, int]]:
        """(rid, tokens, micro-yen) of every request this settlement charges."""
        if self.requests is not None:
            return self.requests
        return [(self.admit.rid, self.used_t, self.used_y)]

    @property
    def charged_gen(self) -> str:
        return self.gen or self.admit.gen or "-"

    def redis_args(self) -> tuple[list[str], list[Any]]:
        """KEYS and ARGV of the ``SETTLE`` script."""
        p = self.admit.plan
        toks = p.token_rates
        keys: list[str] = []
        refunds = [(r, n) for r, n in zip(p.rates, self.refunds, strict=False) if n > 0]
        args: list[Any] = [
            self.admit.rid,
            self.charged_gen,
            (self.fixes_gen or "-") if self.fixes is not None else "-",
            len(toks),
            len(p.concs),
            len(p.budgets),
            self.admit.slots,
            len(refunds),
        ]
        for item, delta in zip(toks, self.deltas, strict=True):
            keys.append(window_key(item, int(self.now // item.period_s)))
            args += [delta, item.period_s * 2 + 1]
        for item, n in refunds:
            keys.append(window_key(item, int(self.admit.now // item.period_s)))
            args.append(n)
        keys += [c.key for c in p.concs]
        ttl_d, ttl_m = self.admit.period_ttls()
        for b in p.budgets:
            keys += list(self.admit.budget_keys(b))
            args += [self.used_t, self.used_y, ttl_d, ttl_m]
        if p.budgets:
            keys += [gen_key(p.tenant), marker_key(p.tenant, self.admit.rid)]
            for cut, seed_t, seed_y, add_t, add_y in self.fixes or ():
                args += [cut, "-" if seed_t is None else seed_t, seed_y, add_t, add_y]
        return keys, args


@dataclass
class SettleReply:
    """The ``SETTLE`` script's answer: ``code`` 1 applied, 3 already applied before (a
    retry), 2 the store's generation differs from the settlement's and the counters'
    cuts are needed (``cuts``: per budget counter, None where not seeded); ``gen``: the
    tenant's generation in the store."""

    code: int
    gen: str | None
    cuts: list[int | None] = field(default_factory=list)

    @classmethod
    def from_redis(cls, raw: Any, gen_now: str | None = None) -> SettleReply | None:
        """Parse the ``SETTLE`` script's answer: a number when the store is in the
        settlement's generation (``gen_now``), else ``{code, generation, cuts...}``; None
        from the memory store."""
        if isinstance(raw, int):
            return cls(raw, None if gen_now == "-" else gen_now)
        if not isinstance(raw, list):
            return None
        gen = _s(raw[1])
        cuts = [None if _s(c) == "-" else int(_s(c)) for c in raw[2:]]
        return cls(int(raw[0]), None if gen == "-" else gen, cuts)


__all__ = [
    "AdmitCall",
    "AdmitResult",
    "BudgetItem",
    "ConcItem",
    "CounterFix",
    "Plan",
    "RateItem",
    "Rejection",
    "SettleCall",
    "SettleReply",
    "gen_key",
    "marker_key",
    "window_key",
]
