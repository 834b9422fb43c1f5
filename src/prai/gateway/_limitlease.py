"""Local leases of Redis-shared limits: most requests are admitted without a round trip.

With ``ratelimit.lease_s`` > 0 a gateway process takes a *lease* per (tenant, project,
key): one ``ADMIT`` script call charges, as if for one large request, a sixteenth of every
requests/min and tokens/min limit (:data:`RATE_SHARE`), a sixteenth of every concurrency
limit (at most :data:`MAX_SLOTS` slots) and a reservation of a sixty-fourth of every
budget (:data:`BUDGET_SHARE`). Requests are then admitted in this process while the lease
covers them: their cost in every window, one slot, their budget reservation. A lease
retires when it cannot cover a request a fresh lease would, when its minute window, day
or month ends, or ``lease_s`` seconds after it was taken (the next one is taken at three
quarters of that, so requests rarely wait for Redis at the switch); once its last request has
finished it is given back in one ``SETTLE`` call: unused window units are returned, its
slots freed, its reservation replaced by the real usage of its requests.

Exactness: everything admitted from a lease was charged in Redis before, so the bounds of
request-by-request admission hold unchanged — requests, tokens per minute and concurrency
never pass their limits (tokens per minute are corrected after the answer, as without
leases), and a budget is overshot by at most the last request's tokens. A lease is refused
where it would not fit or would take a budget past its soft threshold; then requests go to
Redis one by one again (exact, with the 429 details and soft-threshold headers) and a new
lease is tried ``lease_s`` later.

The price, all bounded by one lease per process and ``lease_s``:

- another process can be refused while allowance sits unused in a lease;
- token corrections and budget usage reach Redis when the lease is given back;
- when Redis becomes unreachable, requests are still admitted from a lease already held
  (at most ``lease_s`` seconds) before the 503s (or ``fail_open``) start;
- a process that dies without giving its lease back leaves its reservation, which expires
  after ``stale_after_s``; the usage of the lease's finished requests is then missing from
  the Redis counters (the audit log has it, and seeds a counter that is missing);
- when Redis restarts empty, a lease taken before keeps admitting until the process sees
  the new generation (its next Redis call; at most ``lease_s``), without a reservation in
  the new Redis; its requests are still charged exactly once (it lists them per request).
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from prai.gateway._limittypes import AdmitCall, AdmitResult, Plan, SettleCall
from prai.gateway.budgets import Period

RATE_SHARE = 16
BUDGET_SHARE = 64
MAX_SLOTS = 256
#: smallest lease worth a round trip: requests, tokens per minute, slots, budget tokens
MIN_REQUESTS, MIN_TOKENS, MIN_SLOTS, MIN_BUDGET = 4, 64, 2, 64


@dataclass(frozen=True)
class LeaseSize:
    """What one lease of a plan takes: units per rate item, slots, budget tokens and
    micro-yen (0 when no budget limits that unit)."""

    costs: list[int]
    slots: int
    tokens: int
    micro_yen: int


def lease_size(plan: Plan) -> LeaseSize | None:
    """The lease of ``plan``, or None when a limit is too small to share out (below the
    ``MIN_*`` sizes): then every request of the plan goes to Redis."""
    costs = []
    for r in plan.rates:
        n = r.limit // RATE_SHARE
        if n < (MIN_REQUESTS if r.kind == "requests" else MIN_TOKENS):
            return None
        costs.append(n)
    slots = 1
    if plan.concs:
        slots = min(min(c.limit for c in plan.concs) // RATE_SHARE, MAX_SLOTS)
        if slots < MIN_SLOTS:
            return None
    toks = [b.limits[p] for b in plan.budgets for p in (0, 1) if b.limits[p]]
    yens = [b.limits[p] for b in plan.budgets for p in (2, 3) if b.limits[p]]
    tokens = min(toks) // BUDGET_SHARE if toks else 0
    micro_yen = min(yens) // BUDGET_SHARE if yens else 0
    if (toks and tokens < MIN_BUDGET) or (yens and micro_yen < MIN_BUDGET):
        return None
    return LeaseSize(costs, slots, tokens, micro_yen)


class Lease:
    """Allowance held by this process; ``call`` is what Redis charged for it."""

    __slots__ = (
        "call",
        "expires",
        "gone",
        "held_t",
        "held_y",
        "idx",
        "inflight",
        "left",
        "renew_at",
        "requests",
        "retired",
        "size",
        "tok_delta",
        "used_t",
        "used_y",
    )

    def __init__(self, call: AdmitCall, size: LeaseSize, expires: float) -> None:
        self.call = call
        self.size = size
        self.expires = expires
        # the next lease is taken ahead, so requests need not wait for Redis at the switch
        self.renew_at = call.now + (expires - call.now) * 0.75
        rates = call.plan.rates
        self.idx = int(call.now // rates[0].period_s) if rates else 0
        self.left = list(size.costs)
        self.inflight = 0
        self.held_t = self.held_y = 0  # reservations of its requests in flight
        self.used_t = self.used_y = 0  # real usage of its finished requests
        self.tok_delta = 0  # tokens-per-minute corrections of its finished requests
        # (rid, tokens, micro-yen) of its finished requests: given back after Redis lost its
        # state, only those not in the counters' seeds are charged (see _limitsettle)
        self.requests: list[tuple[str, int, int]] = []
        self.retired = False
        self.gone = False  # given back

    def valid(self, now: float, day: Period, month: Period) -> bool:
        rates = self.call.plan.rates
        return (
            not self.retired
            and now < self.expires
            and (not rates or int(now // rates[0].period_s) == self.idx)
            and day.label == self.call.day.label
            and month.label == self.call.month.label
        )

    def covers(self, costs: list[int], rt: int, ry: int) -> bool:
        s = self.size
        if self.call.plan.concs and self.inflight >= s.slots:
            return False
        if s.tokens and self.held_t + self.used_t + rt > s.tokens:
            return False
        if s.micro_yen and self.held_y + self.used_y + ry > s.micro_yen:
            return False
        return all(left >= c for left, c in zip(self.left, costs, strict=True))


class LeaseBook:
    """The leases of one gateway process.

    Args:
        lease_s: seconds a lease is used at most.
        now: the limiter's clock (epoch seconds).
        acquire: runs an ``AdmitCall`` in the store (seeding counters as needed); raises
            when the store cannot be reached.
        give_back: sends a ``SETTLE`` call (retried by the limiter when it fails); returns
            an awaitable that is done when sent, or None.
        stale_after_s: passed on to the lease's ``AdmitCall``.
    """

    def __init__(
        self,
        lease_s: float,
        now: Callable[[], float],
        acquire: Callable[[AdmitCall], Awaitable[AdmitResult]],
        give_back: Callable[[SettleCall], Awaitable[object] | None],
        stale_after_s: float,
    ) -> None:
        self.lease_s = lease_s
        self.now = now
        self._acquire = acquire
        self._give_back = give_back
        self.stale_after_s = stale_after_s
        self._sizes: dict[int, LeaseSize | None] = {}
        self._current: dict[int, Lease] = {}
        self._draining: set[Lease] = set()
        self._busy: dict[int, float] = {}  # plan → no new lease before (epoch s)
        self._tasks: set[asyncio.Task[None]] = set()
        self._sent: list[Awaitable[object]] = []
        #: leases taken and given back (tests, metrics)
        self.taken = self.given_back = 0

    def take(
        self, plan: Plan, costs: list[int], rt: int, ry: int, now: float, day: Period, month: Period
    ) -> Lease | None:
        """Admit one request from the plan's lease; None when it must go to Redis (a new
        lease is then taken in the background when one would cover it)."""
        pid = id(plan)
        lease = self._current.get(pid)
        if lease is not None and lease.valid(now, day, month):
            if lease.covers(costs, rt, ry):
                for i, c in enumerate(costs):
                    lease.left[i] -= c
                lease.inflight += 1
                lease.held_t += rt
                lease.held_y += ry
                if now >= lease.renew_at and now >= self._busy.get(pid, 0.0):
                    self._start(plan, lease.size, now, day, month)
                return lease
            if not self._fits_fresh(lease.size, costs, rt, ry):
                return None  # too large for any lease: this one stays for the next requests
        if lease is not None:
            self._retire(pid, lease)
        if pid not in self._sizes:
            self._sizes[pid] = lease_size(plan)
        size = self._sizes[pid]
        if size is not None and now >= self._busy.get(pid, 0.0) and self._fits_fresh(size, costs, rt, ry):
            self._start(plan, size, now, day, month)
        return None

    def _start(self, plan: Plan, size: LeaseSize, now: float, day: Period, month: Period) -> None:
        """Take a new lease in the background (one at a time per plan)."""
        self._busy[id(plan)] = float("inf")
        task = asyncio.get_running_loop().create_task(self._take_new(plan, size, now, day, month))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    @staticmethod
    def _fits_fresh(size: LeaseSize, costs: list[int], rt: int, ry: int) -> bool:
        return (
            all(c <= n for c, n in zip(costs, size.costs, strict=True))
            and (not size.tokens or rt <= size.tokens)
            and (not size.micro_yen or ry <= size.micro_yen)
        )

    async def _take_new(self, plan: Plan, size: LeaseSize, now: float, day: Period, month: Period) -> None:
        pid = id(plan)
        call = AdmitCall(
            plan=plan,
            rid="L" + uuid.uuid4().hex[:16],
            now=now,
            costs=list(size.costs),
            reserve_t=size.tokens if plan.budgets else 0,
            reserve_y=size.micro_yen if plan.budgets else 0,
            day=day,
            month=month,
            seeds={},
            stale_after_s=self.stale_after_s,
            slots=size.slots,
            lease=True,
        )
        try:
            res = await self._acquire(call)
        except Exception:  # the store is unreachable: requests learn it one by one
            self._busy[pid] = self.now() + self.lease_s
            return
        if not res.ok:  # near a limit or a soft threshold: request by request for a while
            self._busy[pid] = self.now() + self.lease_s
            return
        self._busy.pop(pid, None)
        lease = Lease(call, size, now + self.lease_s)
        self.taken += 1
        old = self._current.get(pid)
        if old is not None:
            self._retire(pid, old)
        self._current[pid] = lease
        asyncio.get_running_loop().call_later(self.lease_s, self._expire, pid, lease)

    def _expire(self, pid: int, lease: Lease) -> None:
        if not lease.retired:
            self._retire(pid, lease)

    def _retire(self, pid: int, lease: Lease) -> None:
        lease.retired = True
        if self._current.get(pid) is lease:
            del self._current[pid]
        if lease.inflight == 0:
            self._send(lease)
        else:
            self._draining.add(lease)

    def retire_tenant(self, tenant: str) -> None:
        """Retire the leases of ``tenant`` (its generation changed: Redis lost what they
        hold); they go back once their requests have finished."""
        for pid, lease in list(self._current.items()):
            if lease.call.plan.tenant == tenant:
                self._retire(pid, lease)

    def settle(self, lease: Lease, *, charged_tokens: int, real_tokens: int | None, micro_yen: int,
               rt: int, ry: int, rid: str = "") -> None:
        """A request admitted from ``lease`` has finished: its real usage stays here until
        the lease is given back."""
        lease.inflight -= 1
        lease.held_t -= rt
        lease.held_y -= ry
        if real_tokens is not None:
            lease.tok_delta += max(real_tokens - charged_tokens, 0)
        if lease.call.plan.budgets:
            lease.used_t += real_tokens or 0
            lease.used_y += micro_yen
            if real_tokens or micro_yen:
                lease.requests.append((rid, real_tokens or 0, micro_yen))
        if lease.retired and lease.inflight == 0:
            self._draining.discard(lease)
            self._send(lease)

    def _send(self, lease: Lease) -> None:
        if lease.gone:
            return
        lease.gone = True
        plan = lease.call.plan
        call = SettleCall(
            admit=lease.call,
            now=self.now(),
            deltas=[lease.tok_delta] * len(plan.token_rates),
            used_t=lease.used_t,
            used_y=lease.used_y,
            refunds=list(lease.left),
            requests=lease.requests,
        )
        self.given_back += 1
        sent = self._give_back(call)
        if sent is not None:
            self._sent = [s for s in self._sent if not (isinstance(s, asyncio.Future) and s.done())]
            self._sent.append(sent)

    async def close(self, timeout_s: float) -> None:
        """Give every lease back (also those with requests still running) and wait for the
        calls to be sent, at most ``timeout_s``."""
        if self._tasks:  # a lease being taken is given back too once it arrives
            await asyncio.wait(set(self._tasks), timeout=timeout_s)
        for t in list(self._tasks):
            t.cancel()
        for pid, lease in list(self._current.items()):
            self._retire(pid, lease)
        for lease in list(self._draining):
            self._draining.discard(lease)
            self._send(lease)
        pending = [asyncio.ensure_future(s) for s in self._sent]
        self._sent = []
        if pending:
            with contextlib.suppress(Exception):
                await asyncio.wait(pending, timeout=timeout_s)


__all__ = ["BUDGET_SHARE", "MAX_SLOTS", "RATE_SHARE", "Lease", "LeaseBook", "LeaseSize", "lease_size"]
