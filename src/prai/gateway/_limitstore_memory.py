"""The limit store in this process (``memory://``): the Redis scripts' logic over dicts.

Same calls, key names and semantics as :mod:`._limitstore_redis` (one process only, so
no stale-slot expiry is needed: a slot or reservation lives exactly as long as its
request). Expired window and period entries are swept once a minute.
"""

from __future__ import annotations

from prai.gateway._limittypes import AdmitCall, AdmitResult, Rejection, SettleCall, window_key


class MemoryStore:
    """Counters in dicts; every call is synchronous and atomic (one event loop)."""

    def __init__(self) -> None:
        self._n: dict[str, float] = {}  # window counters
        self._exp: dict[str, float] = {}  # key -> expiry (epoch s) for windows and periods
        self._conc: dict[str, set[str]] = {}
        self._per: dict[str, dict[str, int]] = {}  # period hashes: t, y, s, soft_t, soft_y
        self._res: dict[str, dict[str, tuple[int, int]]] = {}  # reservations by rid
        self._res_sum: dict[str, list[int]] = {}
        self._next_sweep = 0.0

    def _sweep(self, now: float) -> None:
        self._next_sweep = now + 60.0
        for k in [k for k, t in self._exp.items() if t <= now]:
            del self._exp[k]
            self._n.pop(k, None)
            self._per.pop(k, None)

    async def admit(self, call: AdmitCall) -> AdmitResult:
        return self.admit_now(call)

    def admit_now(self, call: AdmitCall) -> AdmitResult:
        now, plan = call.now, call.plan
        if now >= self._next_sweep:
            self._sweep(now)
        n = self._n
        rate_keys = []
        for i, (item, cost) in enumerate(zip(plan.rates, call.costs, strict=True)):
            idx = int(now // item.period_s)
            cur_k = window_key(item, idx)
            cur, prev = n.get(cur_k, 0.0), n.get(window_key(item, idx - 1), 0.0)
            start = idx * item.period_s
            used = prev * (item.period_s - (now - start)) / item.period_s + cur
            if used + cost > item.limit:
                return AdmitResult(False, Rejection("rate", i, prev=prev, cur=cur))
            rate_keys.append((cur_k, cost, now + item.period_s * 2 + 1))
        for i, c in enumerate(plan.concs):
            if len(self._conc.get(c.key, ())) >= c.limit:
                return AdmitResult(False, Rejection("conc", i))
        need: list[tuple[int, int]] = []
        soft: list[tuple[dict[str, int], str, int, int, str]] = []
        rem_t = rem_y = -1
        ttls = call.period_ttls()
        for i, b in enumerate(plan.budgets):
            hashes = []
            for p, key in enumerate(call.budget_keys(b)[:2]):
                h = self._per.get(key)
                if h is None or "s" not in h:
                    seed = call.seeds.get((i, p))
                    if seed is None:
                        need.append((i, p))
                        continue
                    h = self._per.setdefault(key, {"t": 0, "y": 0})
                    h["t"] += seed[0]
                    h["y"] += seed[1]
                    h["s"] = 1
                    self._exp[key] = now + ttls[p]
                hashes.append(h)
            if need:
                continue
            res = self._res_sum.get(b.prefix, [0, 0])
            lim = b.limits
            for p, h in enumerate(hashes):
                used_t, used_y = h["t"], h["y"]
                lt, ly = lim[p], lim[p + 2]
                if lt and used_t + res[0] >= lt:
                    return AdmitResult(False, Rejection("budget", i, p, "t", used_t, res[0]))
                if ly and used_y + res[1] >= ly:
                    return AdmitResult(False, Rejection("budget", i, p, "y", used_y, res[1]))
                if lt:
                    r = lt - used_t - res[0]
                    rem_t = r if rem_t < 0 or r < rem_t else rem_t
                    if used_t * 100 >= lt * b.cfg.soft_percent:
                        soft.append((h, "soft_t", i, p, "t"))
                if ly:
                    r = ly - used_y - res[1]
                    rem_y = r if rem_y < 0 or r < rem_y else rem_y
                    if used_y * 100 >= ly * b.cfg.soft_percent:
                        soft.append((h, "soft_y", i, p, "y"))
        if need:
            return AdmitResult(False, need_seed=need)
        for key, cost, exp in rate_keys:
            n[key] = n.get(key, 0.0) + cost
            self._exp[key] = exp
        for c in plan.concs:
            self._conc.setdefault(c.key, set()).add(call.rid)
        if call.reserve_t or call.reserve_y:
            for b in plan.budgets:
                self._res.setdefault(b.prefix, {})[call.rid] = (call.reserve_t, call.reserve_y)
                s = self._res_sum.setdefault(b.prefix, [0, 0])
                s[0] += call.reserve_t
                s[1] += call.reserve_y
        crossed = []
        for h, flag, i, p, unit in soft:
            first = flag not in h
            h[flag] = 1
            crossed.append((i, p, unit, first))
        return AdmitResult(
            True,
            remaining_t=rem_t if rem_t >= 0 else None,
            remaining_y=rem_y if rem_y >= 0 else None,
            soft=crossed,
        )

    async def settle(self, call: SettleCall) -> None:
        self.settle_now(call)

    def settle_soon(self, call: SettleCall) -> None:
        """Settle now (in memory there is nothing to wait for); returns None."""
        self.settle_now(call)

    def settle_now(self, call: SettleCall) -> None:
        adm = call.admit
        plan = adm.plan
        for item, delta in zip(plan.token_rates, call.deltas, strict=True):
            if delta > 0:
                key = window_key(item, int(call.now // item.period_s))
                self._n[key] = self._n.get(key, 0.0) + delta
                self._exp[key] = call.now + item.period_s * 2 + 1
        for c in plan.concs:
            slots = self._conc.get(c.key)
            if slots is not None:
                slots.discard(adm.rid)
                if not slots:
                    del self._conc[c.key]
        ttls = adm.period_ttls()
        for b in plan.budgets:
            for p, key in enumerate(adm.budget_keys(b)[:2]):
                if call.used_t > 0 or call.used_y > 0:
                    h = self._per.setdefault(key, {"t": 0, "y": 0})
                    h["t"] += call.used_t
                    h["y"] += call.used_y
                    self._exp.setdefault(key, adm.now + ttls[p])
            held = self._res.get(b.prefix)
            if held is not None:
                r = held.pop(adm.rid, None)
                if r is not None:
                    s = self._res_sum[b.prefix]
                    s[0] -= r[0]
                    s[1] -= r[1]

    async def close(self) -> None:
        return None


__all__ = ["MemoryStore"]
