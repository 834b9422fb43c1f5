"""Limits and budgets: requests/min, tokens/min and concurrency per project and per key,
day and month quotas per tenant, project and key — one store call to admit a request,
one more to settle it.

The store is this process (``memory://``) or Redis (``redis://``, ``rediss://``,
``redis+sentinel://``, ``redis+cluster://``), which every replica shares: a Lua script
checks all limits of a request atomically and charges them only when all pass
(:mod:`._limitstore_redis`); after the answer a second script charges the real usage.

Tokens per minute: the prompt is estimated before the call (:func:`estimate_tokens`, a
deliberately low estimate) and charged; after the call the difference to the upstream's
real usage (prompt + completion) is charged. An over-estimate is not refunded.

Budgets: a request is admitted while the period's usage plus the worst cases of the
requests in flight (their *reservations*: :func:`estimate_tokens_upper` of the prompt plus
``max_tokens`` × choices) stays below the quota; after the answer the reservation becomes
the real usage. So with concurrent requests on any number of replicas a quota is overshot
by at most the last admitted request's tokens (exactly so when requests carry
``max_tokens`` or the project caps it; otherwise in-flight completions are not reserved).
Counters missing in the store are seeded from the audit log (:mod:`.budgets`); every
request is charged to a budget exactly once even when Redis restarts empty
(:mod:`._limitsettle`).

Leases (``ratelimit.lease_s`` > 0; 1 s by default with Redis): each process takes a share of every limit
and budget in one round trip and admits requests from it locally; exact within the
bounds above, see :mod:`._limitlease`.

Store faults: a store that cannot be reached answers 503 (:class:`LimitStoreUnavailable`)
or, with ``ratelimit.fail_open``, lets requests through unlimited; both are counted in
``prai_gateway_limit_store_errors_total``. Settlements that fail are retried in the
background until the store is back.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from prai.config.gateway import GatewayConfig
from prai.errors import BudgetExceeded, ConfigError, LimitStoreUnavailable, RateLimited
from prai.gateway._limitlease import Lease, LeaseBook
from prai.gateway._limitsettle import AuditMarks, SeqSource, SettledLog, resolve
from prai.gateway._limitstore_memory import MemoryStore
from prai.gateway._limittypes import (
    AdmitCall,
    AdmitResult,
    BudgetItem,
    ConcItem,
    Plan,
    RateItem,
    Rejection,
    SettleCall,
    SettleReply,
    gen_key,
)
from prai.gateway.budgets import MICRO, BudgetClock, Period

log = logging.getLogger("prai.gateway.limits")

#: a function (budget item, period) → (tokens, micro-yen, cut) already used (the audit
#: log; ``cut``: its sequence number when read, see :func:`.budgets.seed_usage`); a
#: (tokens, micro-yen) pair counts as cut 0
UsageSource = Callable[[BudgetItem, Period], tuple[int, ...]]


def estimate_tokens(text: str) -> int:
    """A low estimate of the token count of ``text``: ASCII chars/4 + non-ASCII chars."""
    if text.isascii():
        return (len(text) + 3) // 4
    ascii_n = len(text.encode("ascii", "ignore"))  # counted in C, not one character at a time
    return (ascii_n + 3) // 4 + (len(text) - ascii_n)


def estimate_tokens_upper(text: str, parts: int = 1) -> int:
    """A high estimate: UTF-8 bytes (no tokenizer makes more tokens than bytes) plus 16
    tokens of chat-template overhead per message or prompt (``parts``)."""
    return len(text.encode()) + 16 * max(parts, 1)


def window_wait(
    limit: int, period_s: int, start_s: float, prev: float, cur: float, now: float, cost: int
) -> tuple[float, int]:
    """(seconds until ``cost`` more units fit, units remaining now) of a sliding-window
    counter with previous-window count ``prev`` and current ``cur`` (window starting at
    ``start_s``). The previous window slides out linearly; after the roll the current
    one does."""
    used = prev * (period_s - (now - start_s)) / period_s + cur
    remaining = max(0, int(limit - used))
    need = used + cost - limit
    if need <= 0:
        return 0.0, remaining
    to_end = start_s + period_s - now
    if prev > 0 and need <= prev * to_end / period_s:
        return need * period_s / prev, remaining
    allowed = limit - cost
    if allowed < 0:
        return to_end + period_s, remaining
    extra = period_s * (1 - allowed / cur) if cur > allowed else 0.0
    return to_end + extra, remaining


@dataclass
class SoftState:
    """A budget at or past its soft threshold for this request."""

    what: str
    period: Period
    unit: str  # "tokens" or "yen"
    limit: float
    crossed: bool  # this request is the first past the threshold in the period


@dataclass
class Charge:
    """What admission charged; pass it to :meth:`Limiter.settle`.

    Attributes:
        charged_tokens: tokens charged to tokens-per-minute windows (the estimate).
        headers: extra response headers (``x-prai-budget-remaining``).
        soft: budgets past their soft threshold.
    """

    call: AdmitCall
    charged_tokens: int
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    soft: list[SoftState] = field(default_factory=list)
    settled: bool = False
    #: admitted from this process's lease (``call`` is then the lease's), with the
    #: reservation (tokens, micro-yen) it holds in the lease
    lease: Lease | None = None
    reserved: tuple[int, int] = (0, 0)
    rid: str = ""


class Limiter:
    """Limit and budget checks of one gateway process.

    Args:
        cfg: the gateway config (projects, budgets, prices, ``ratelimit`` store).
        usage_source: seeds budget counters the store lacks (default: none → 0).
        seq_source: looks requests up in the audit log (:func:`.budgets.audit_seqs`) for
            settlements across a Redis that lost its state.
        audit_marks: (records journaled, records stored) of this process's audit writer:
            settled usage is kept until stored (:class:`._limitsettle.SettledLog`).
        clock: budget periods and the time of windows (injectable for tests).
        on_store_error: called with ``"refused"`` or ``"admitted"`` when the store
            cannot be reached (metrics).
        stale_after_s: seconds after which a Redis concurrency slot or budget
            reservation of a dead gateway is dropped.
    """

    def __init__(
        self,
        cfg: GatewayConfig,
        *,
        usage_source: UsageSource | None = None,
        seq_source: SeqSource | None = None,
        audit_marks: AuditMarks | None = None,
        clock: BudgetClock | None = None,
        on_store_error: Callable[[str], None] | None = None,
        stale_after_s: float = 900.0,
    ) -> None:
        url = cfg.ratelimit.url
        self.url = url
        self.store: Any
        if url.startswith("memory://"):
            self.store = MemoryStore()
        else:
            from prai.gateway._limitstore_redis import RedisStore

            self.store = RedisStore(url, timeout_s=cfg.ratelimit.timeout_s)
        self.shared = not url.startswith("memory://")
        self.fail_open = cfg.ratelimit.fail_open
        self.cfg_timeout_s = cfg.ratelimit.timeout_s
        self.clock = clock or BudgetClock(cfg.budget_timezone)
        self.usage_source = usage_source
        self.seq_source = seq_source
        self.on_store_error = on_store_error
        self.stale_after_s = stale_after_s
        self._tenants = {t.name: t for t in cfg.tenants}
        self._plans: dict[tuple[str, str, str], Plan] = {}
        self._retry: collections.deque[SettleCall] = collections.deque(maxlen=100_000)
        self._retry_task: asyncio.Task[None] | None = None
        self._last_warning = 0.0
        self._tasks: set[asyncio.Task[None]] = set()
        #: each tenant's generation as last seen in the store
        self._gens: dict[str, str] = {}
        self.settled_log: SettledLog | None = None
        if self.shared and audit_marks is not None:
            self.settled_log = SettledLog(audit_marks)
        self._watch_task: asyncio.Task[None] | None = None
        self._watch_wake: asyncio.Event | None = None
        self.watch_interval_s = 1.0
        #: settlements applied across a generation change (tests, metrics)
        self.resolved = 0
        #: the store failed this process's most recent call to it (readiness says so while
        #: requests get 503); a success clears it, and so does a background check
        self.store_down = False
        self._recheck_task: asyncio.Task[None] | None = None
        self.recheck_interval_s = 1.0
        self.leases: LeaseBook | None = None
        if self.shared and cfg.ratelimit.lease_s > 0:
            self.leases = LeaseBook(
                cfg.ratelimit.lease_s,
                lambda: self.clock.now(),
                self._store_admit,
                self._send_settle,
                stale_after_s,
            )

    # --- plans ----------------------------------------------------------------------

    def plan(self, tenant: str, project: str, key_id: str) -> Plan:
        """The limits of a key of ``tenant``/``project`` (cached)."""
        k = (tenant, project, key_id)
        plan = self._plans.get(k)
        if plan is None:
            plan = self._plans[k] = self._build(tenant, project, key_id)
        return plan

    def _build(self, tenant: str, project: str, key_id: str) -> Plan:
        tcfg = self._tenants[tenant]
        proj = next(p for p in tcfg.projects if p.name == project)
        base = f"prai:{{{tenant}}}:"  # the hash tag: one Cluster slot per tenant
        plan = Plan(tenant)
        scopes = (  # (key scope, what messages name, limits)
            (f"{tenant}/{project}", f"project {tenant}/{project}", proj.limits),
            (f"key:{key_id}", f"key {key_id}", proj.key_limits),
        )
        for kind in ("requests", "tokens"):
            for scope, what, lim in scopes:
                n = lim.requests_per_minute if kind == "requests" else lim.tokens_per_minute
                if n:
                    plan.rates.append(RateItem(scope, what, kind, n, f"{base}rl:{scope}:{kind}:{n}:"))
        # requests before tokens, project before key: the same order of checks as before
        plan.rates.sort(key=lambda r: (r.scope.startswith("key:"), r.kind != "requests"))
        for scope, what, lim in scopes:
            if lim.concurrent_requests:
                plan.concs.append(ConcItem(scope, what, lim.concurrent_requests, f"{base}cc:{scope}"))
        for b, what, prefix, proj_name, kid in (
            (tcfg.budget, f"tenant {tenant}", f"{base}b:t:", None, None),
            (proj.budget, f"project {tenant}/{project}", f"{base}b:p:{project}:", project, None),
            (proj.key_budget, f"key {key_id}", f"{base}b:k:{key_id}:", project, key_id),
        ):
            if b.is_set():
                plan.budgets.append(BudgetItem(what, what, b, prefix, tenant, proj_name, kid))
        return plan

    def applies(self, tenant: str, project: str, key_id: str) -> bool:
        """True when the key's requests go through the store at all."""
        return not self.plan(tenant, project, key_id).empty

    # --- admission ------------------------------------------------------------------

    async def admit(
        self,
        *,
        tenant: str,
        project: str,
        key_id: str,
        rid: str,
        prompt_tokens: int,
        reserve_tokens: int = 0,
        reserve_micro_yen: int = 0,
    ) -> Charge | None:
        """Charge one request (one store round trip; two more when a budget counter must
        be seeded from the audit log). None when no limit applies, or the store is
        unreachable and ``fail_open`` is set.

        Args:
            prompt_tokens: the low prompt estimate charged to tokens-per-minute windows.
            reserve_tokens / reserve_micro_yen: the request's worst case, held against
                budgets until :meth:`settle`.

        Raises:
            RateLimited: a per-minute or concurrency limit (HTTP 429, ``retry-after`` and
                ``x-ratelimit-*`` headers).
            BudgetExceeded: a day or month quota (HTTP 429 ``budget_exceeded``, names the
                period and when it resets).
            LimitStoreUnavailable: the store cannot be reached (HTTP 503), fail closed.
        """
        plan = self.plan(tenant, project, key_id)
        if plan.empty:
            return None
        now = self.clock.now()
        day, month = self.clock.periods(now)
        cost_t = max(prompt_tokens, 1)
        costs = [1 if r.kind == "requests" else cost_t for r in plan.rates]
        reserve_t = reserve_tokens if plan.budgets else 0
        reserve_y = reserve_micro_yen if plan.budgets else 0
        if self.leases is not None:
            lease = self.leases.take(plan, costs, reserve_t, reserve_y, now, day, month)
            if lease is not None:
                return Charge(call=lease.call, charged_tokens=cost_t, lease=lease, reserved=(reserve_t, reserve_y),
                              rid=rid)
        call = AdmitCall(
            plan=plan,
            rid=rid,
            now=now,
            costs=costs,
            reserve_t=reserve_t,
            reserve_y=reserve_y,
            day=day,
            month=month,
            seeds={},
            stale_after_s=self.stale_after_s,
        )
        if self.store_down:  # known down (a hung store would hold every request timeout_s):
            # refused at once until the background check (every recheck_interval_s) sees it back
            self._mark_down()
            self._store_failed(ConnectionError("a recent call failed; checked again every second"))
            return None
        try:
            res = await self._store_admit(call)
        except Exception as exc:  # redis errors, OSError, timeouts: the store is unreachable
            # A call that timed out may still have been applied: give its slots back later.
            self._retry_later(SettleCall(call, now, [0] * len(plan.token_rates), 0, 0))
            self._mark_down()
            self._store_failed(exc)
            return None
        if self.store_down:
            self._store_back()
        if not res.ok:
            assert res.rejection is not None
            raise self._rejection(call, res.rejection)
        charge = Charge(call=call, charged_tokens=cost_t, rid=rid)
        self._budget_state(charge, res)
        return charge

    async def _store_admit(self, call: AdmitCall) -> AdmitResult:
        """Run ``call`` in the store, seeding missing budget counters from the audit log
        (at most two more round trips). Raises what the store raises."""
        tenant = call.plan.tenant
        if call.plan.budgets:
            call.known_gen = self._gens.get(tenant, "-")
        res = await self.store.admit(call)
        for _ in range(2):
            if not res.need_seed:
                break
            call.seeds.update(await self._seeds(call.plan, res.need_seed, call.day, call.month))
            res = await self.store.admit(call)
        if res.gen is not None:
            call.gen = res.gen
            if res.gen != call.known_gen:
                self._saw_gen(tenant, res.gen)
        return res

    def _seed_of(self, b: BudgetItem, period: Period) -> tuple[int, int, int]:
        """(tokens, micro-yen, cut) from the usage source (blocking)."""
        assert self.usage_source is not None
        got = self.usage_source(b, period)
        return (int(got[0]), int(got[1]), int(got[2]) if len(got) > 2 else 0)

    async def _seeds(
        self, plan: Plan, need: list[tuple[int, int]], day: Period, month: Period
    ) -> dict[tuple[int, int], tuple[int, int, int]]:
        out: dict[tuple[int, int], tuple[int, int, int]] = {}
        for i, p in need:
            period = day if p == 0 else month
            if self.usage_source is None:
                out[(i, p)] = (0, 0, 0)
                continue
            try:
                out[(i, p)] = await asyncio.to_thread(self._seed_of, plan.budgets[i], period)
            except Exception as exc:  # the audit store is down: count from zero, say so
                log.warning(
                    "budget of %s for %s %s: the audit store is unreachable (%s); counting "
                    "from zero",
                    plan.budgets[i].what,
                    period.kind,
                    period.label,
                    type(exc).__name__,
                )
                out[(i, p)] = (0, 0, 0)  # a seed of no record: cut 0
        return out

    def _store_failed(self, exc: BaseException) -> None:
        action = "admitted" if self.fail_open else "refused"
        if self.on_store_error is not None:
            self.on_store_error(action)
        self._warn(self._unreachable_line(exc))
        if not self.fail_open:
            raise LimitStoreUnavailable("the gateway's limit store cannot be reached") from None

    def _mark_down(self) -> None:
        """The store failed a call: not ready (fail closed) until a call succeeds again. A
        background check reads the store every second meanwhile, so readiness comes back
        even when no request arrives (a not-ready pod gets no traffic)."""
        self.store_down = True
        if self._recheck_task is None or self._recheck_task.done():
            self._recheck_task = asyncio.get_running_loop().create_task(self._recheck_loop())

    async def _recheck_loop(self) -> None:
        while self.store_down:
            await asyncio.sleep(self.recheck_interval_s)
            with contextlib.suppress(Exception):  # still away: try again
                await self.store.get_many([gen_key("-")])
                self._store_back()

    def _store_back(self) -> None:
        """A store call succeeded: ready again, requests admitted again (one log line)."""
        if self.store_down:
            self.store_down = False
            log.warning("limit store %s reachable again: requests are admitted", self.url.split("@")[-1])

    @property
    def not_ready(self) -> str | None:
        """Why the gateway is not ready because of its limit store (the store failed the most
        recent call and requests get 503), else None (also with ``fail_open``)."""
        if not self.store_down or self.fail_open:
            return None
        return f"the limit store {redacted_url(self.url)} (gateway.ratelimit.url) cannot be reached"

    def _unreachable_line(self, exc: BaseException, also: str = "") -> str:
        """The warning for a failed store call: which store (never its password), why, and
        what requests get meanwhile."""
        why = str(exc) or f"no answer within timeout_s {self.cfg_timeout_s:g} s"
        return (
            f"limit store {self.url.split('@')[-1]} unreachable ({type(exc).__name__}: {why}): {also}requests "
            + ("pass without limits (fail_open)" if self.fail_open else "get 503")
        )

    def _warn(self, message: str) -> None:
        """One warning line at most every 10 s (an outage must not flood the log)."""
        now = time.monotonic()
        if now - self._last_warning > 10.0:
            self._last_warning = now
            log.warning("%s", message)

    def _budget_state(self, charge: Charge, res: AdmitResult) -> None:
        plan = charge.call.plan
        periods = (charge.call.day, charge.call.month)
        in_soft = {"t": False, "y": False}
        for i, p, unit, crossed in res.soft:
            b = plan.budgets[i]
            lim = b.limits[p if unit == "t" else p + 2]
            charge.soft.append(
                SoftState(
                    b.what,
                    periods[p],
                    "tokens" if unit == "t" else "yen",
                    lim if unit == "t" else lim / MICRO,
                    crossed,
                )
            )
            in_soft[unit] = True
        if in_soft["t"] and res.remaining_t is not None:
            charge.headers.append((b"x-prai-budget-remaining", str(max(res.remaining_t, 0)).encode()))
        if in_soft["y"] and res.remaining_y is not None:
            charge.headers.append(
                (b"x-prai-budget-remaining-yen", f"{max(res.remaining_y, 0) / MICRO:.2f}".encode())
            )

    def _rejection(self, call: AdmitCall, rej: Rejection) -> RateLimited:
        plan = call.plan
        if rej.kind == "rate":
            item = plan.rates[rej.index]
            cost = call.costs[rej.index]
            start = int(call.now // item.period_s) * item.period_s
            wait_s, remaining = window_wait(item.limit, item.period_s, start, rej.prev, rej.cur, call.now, cost)
            wait_s = max(wait_s, 0.001)
            exc = RateLimited(
                f"rate limit reached: {item.limit} {item.kind} per minute for {item.what}",
                retry_after_s=wait_s,
            )
            exc.headers = [  # type: ignore[attr-defined]
                (b"retry-after", str(math.ceil(wait_s)).encode()),
                (f"x-ratelimit-limit-{item.kind}".encode(), str(item.limit).encode()),
                (f"x-ratelimit-remaining-{item.kind}".encode(), str(remaining).encode()),
                (f"x-ratelimit-reset-{item.kind}".encode(), f"{wait_s:.3f}s".encode()),
            ]
            return exc
        if rej.kind == "conc":
            c = plan.concs[rej.index]
            exc = RateLimited(
                f"too many concurrent requests: {c.limit} allowed for {c.what}",
                retry_after_s=1.0,
                hint="wait for your running requests to finish, or send fewer at once",
            )
            exc.headers = [(b"retry-after", b"1")]  # type: ignore[attr-defined]
            return exc
        b = plan.budgets[rej.index]
        period = call.day if rej.period == 0 else call.month
        lim = b.limits[rej.period if rej.unit == "t" else rej.period + 2]
        amount = f"{lim} tokens" if rej.unit == "t" else f"¥{lim / MICRO:,.2f}"
        zone = self.clock.timezone
        if rej.used >= lim:
            wait_s = max(period.end_s - call.now, 1.0)
            msg = (
                f"budget exceeded: {amount} per {period.kind} for {b.what} "
                f"({period.kind} {period.label}, {zone}); it resets at {period.end_iso}"
            )
        else:
            wait_s = 1.0
            msg = (
                f"budget nearly exhausted: {amount} per {period.kind} for {b.what} "
                f"({period.kind} {period.label}, {zone}) is held by requests in flight; "
                f"it resets at {period.end_iso}"
            )
        exc = BudgetExceeded(msg, retry_after_s=wait_s)
        exc.period = period.kind  # type: ignore[attr-defined]
        exc.headers = [  # type: ignore[attr-defined]
            (b"retry-after", str(math.ceil(wait_s)).encode()),
            (b"x-prai-budget-period", period.kind.encode()),
            (b"x-prai-budget-reset", period.end_iso.encode()),
        ]
        return exc

    # --- settlement -----------------------------------------------------------------

    async def settle(
        self, charge: Charge, *, real_tokens: int | None, micro_yen: int = 0, wait: bool = False
    ) -> None:
        """Charge the real usage (tokens-per-minute difference, budget usage), free the
        concurrency slots and the budget reservation. One store round trip, which the
        caller does not wait for (with Redis it joins the next pipeline) unless ``wait``.
        Idempotent; never raises (a failure is retried in the background)."""
        if charge.settled:
            return
        charge.settled = True
        if charge.lease is not None:
            assert self.leases is not None
            self.leases.settle(
                charge.lease,
                charged_tokens=charge.charged_tokens,
                real_tokens=real_tokens,
                micro_yen=micro_yen,
                rt=charge.reserved[0],
                ry=charge.reserved[1],
                rid=charge.rid,
            )
            return
        plan = charge.call.plan
        real = real_tokens if real_tokens is not None else 0
        delta = real - charge.charged_tokens if real_tokens is not None else 0
        call = SettleCall(
            admit=charge.call,
            now=self.clock.now(),
            deltas=[max(delta, 0)] * len(plan.token_rates),
            used_t=real if plan.budgets else 0,
            used_y=micro_yen if plan.budgets else 0,
        )
        fut = self._send_settle(call)
        if fut is not None and wait:
            await asyncio.wait([fut])

    def _send_settle(self, call: SettleCall) -> asyncio.Future[Any] | None:
        """Queue ``call`` for the store; a failure is retried in the background."""
        try:
            fut = self.store.settle_soon(call)
        except Exception as exc:
            self._settle_failed(call, exc)
            return None
        if fut is not None:
            fut.add_done_callback(lambda f: self._settle_done(f, call))
        return fut

    def _settle_done(self, fut: asyncio.Future[Any], call: SettleCall) -> None:
        exc = fut.exception() if not fut.cancelled() else asyncio.CancelledError()
        if exc is not None:
            self._settle_failed(call, exc)
            return
        self._store_back()
        reply = SettleReply.from_redis(fut.result(), call.charged_gen)
        if reply is not None and reply.code == 2:  # across a generation change: resolve
            self._spawn(self._settle_across(call, reply))
        elif reply is not None:
            self._applied(call, reply)

    def _applied(self, call: SettleCall, reply: SettleReply) -> None:
        if call.fixes is not None and reply.code == 1:
            self.resolved += 1
        if reply.gen is not None and call.admit.plan.budgets:
            self._saw_gen(call.admit.plan.tenant, reply.gen)
        if self.settled_log is not None:
            self.settled_log.add(call, reply.gen)
            if self._watch_task is None or self._watch_task.done():
                self._watch()

    async def _settle_across(self, call: SettleCall, reply: SettleReply | None) -> None:
        try:
            await self._settle_call(call, reply)
        except Exception as exc:
            self._settle_failed(call, exc)

    async def _settle_call(self, call: SettleCall, reply: SettleReply | None = None) -> None:
        """Apply ``call`` (resolving it against the audit log when the store's generation
        is another one). Raises what the store or the audit database raise."""
        for _ in range(4):
            if reply is None:
                raw = await self.store.settle(call)
                reply = SettleReply.from_redis(raw, call.charged_gen)
                if reply is None:
                    return  # the memory store
            if reply.code != 2:
                self._applied(call, reply)
                return
            await resolve(call, reply, self._seed_of if self.usage_source else None, self.seq_source)
            reply = None
        raise RuntimeError("budget counters kept changing while settling")

    def _settle_failed(self, call: SettleCall, exc: BaseException) -> None:
        self._mark_down()
        self._warn(self._unreachable_line(exc, "settlements are retried in the background; "))
        self._retry_later(call)

    def _retry_later(self, call: SettleCall) -> None:
        self._retry.append(call)
        if self._retry_task is None or self._retry_task.done():
            self._retry_task = asyncio.get_running_loop().create_task(self._retry_loop())

    async def _retry_loop(self) -> None:
        while self._retry:
            await asyncio.sleep(0.5)
            while self._retry:
                call = self._retry[0]
                try:
                    await self._settle_call(call)
                except Exception:
                    break
                self._store_back()
                self._retry.popleft()

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # --- generations ------------------------------------------------------------------

    def _saw_gen(self, tenant: str, gen: str) -> None:
        """The store answered with ``tenant``'s generation: when it changed, Redis lost its
        state — leases taken before are given back, settled usage is checked at once."""
        old = self._gens.get(tenant)
        if old == gen:
            return
        self._gens[tenant] = gen
        if old is not None:
            if self.leases is not None:
                self.leases.retire_tenant(tenant)
            self._watch(now=True)

    def _watch(self, now: bool = False) -> None:
        """Run the settled log's watcher while it holds entries."""
        if self.settled_log is None:
            return
        if self._watch_wake is None:
            self._watch_wake = asyncio.Event()
        if now:
            self._watch_wake.set()
        if self._watch_task is None or self._watch_task.done():
            self._watch_task = asyncio.get_running_loop().create_task(self._watch_loop())

    async def _watch_loop(self) -> None:
        assert self.settled_log is not None and self._watch_wake is not None
        while len(self.settled_log):
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.watch_interval_s):
                    await self._watch_wake.wait()
            self._watch_wake.clear()
            with contextlib.suppress(Exception):  # the store is away: try again later
                await self._sweep()

    async def _sweep(self) -> None:
        """Read each tenant's generation (after the audit writer's stored count): send
        again what was settled in a generation Redis no longer has, forget what is stored."""
        log_ = self.settled_log
        if log_ is None or not len(log_):
            return
        stored = log_.marks()[1]
        tenants = log_.tenants()
        got = await self.store.get_many([gen_key(t) for t in tenants])
        gens = {t: g.decode() if isinstance(g, bytes) else g for t, g in zip(tenants, got, strict=True)}
        for call in log_.sweep(stored, gens):
            self._spawn(self._settle_across(call, None))

    @property
    def unsettled(self) -> int:
        """Settlements waiting for the store to come back."""
        return len(self._retry)

    async def close(self) -> None:
        """Give leases back, send what is queued (bounded by the store's timeout), check the
        settled log once more, stop retrying, close."""
        if self.leases is not None:
            with contextlib.suppress(Exception):
                await self.leases.close(self.cfg_timeout_s)
        with contextlib.suppress(Exception):
            async with asyncio.timeout(self.cfg_timeout_s):
                if self._tasks:
                    await asyncio.wait(set(self._tasks))
                await self._sweep()
                if self._tasks:
                    await asyncio.wait(set(self._tasks))
        for task in [self._watch_task, self._recheck_task, *self._tasks]:
            if task is not None:
                task.cancel()
        if self._retry_task is not None:
            self._retry_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._retry_task
        with contextlib.suppress(Exception):
            await self.store.close()


def redacted_url(url: str) -> str:
    """``url`` with its password replaced by ``***`` (for log lines)."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if not parts.password:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def store_warning(cfg: GatewayConfig) -> str | None:
    """The line to print at start when ``gateway.ratelimit.url`` (Redis) does not answer.

    The gateway starts anyway and recovers by itself once the store answers; until then
    every request gets 503 (``fail_open: false``, the default) or passes without limits
    and budgets (``fail_open: true``). Blocks up to ``ratelimit.timeout_s`` seconds; call it
    outside a running event loop.

    Returns:
        None for ``memory://`` or a store that answers PING; else one ``warning: ...`` line
        naming the URL (password masked), the reason and what requests get meanwhile.

    Raises:
        ConfigError: the store answered and refused the URL itself (a database index
            beyond the server's ``databases``): waiting would not help, so the gateway
            does not start.
    """
    url = cfg.ratelimit.url
    if url.startswith("memory://"):
        return None
    from prai.gateway._limitstore_redis import StoreMisconfigured, probe

    try:
        why = asyncio.run(probe(url, cfg.ratelimit.timeout_s))
    except StoreMisconfigured as exc:
        raise ConfigError(
            f"gateway.ratelimit.url {redacted_url(url)}: the Redis server refuses it ({exc})",
            hint="Redis has 16 databases by default, 0-15 (`databases` in redis.conf): use one "
            "of those as the URL's last part, e.g. redis://HOST:6379/0",
        ) from None
    if why is None:
        return None
    meanwhile = (
        "requests pass without limits or budgets until it is reachable (fail_open)"
        if cfg.ratelimit.fail_open
        else "requests get 503 until it is reachable (fail_closed; the gateway recovers by itself)"
    )
    return f"warning: gateway.ratelimit.url {redacted_url(url)} is unreachable ({why}); {meanwhile}"


__all__ = [
    "Charge",
    "Limiter",
    "SoftState",
    "UsageSource",
    "estimate_tokens",
    "estimate_tokens_upper",
    "redacted_url",
    "store_warning",
    "window_wait",
]
