"""The limit store in this process (``memory://``): the Redis scripts' logic over dicts.

Same calls, key names and semantics as :mod:`._limitstore_redis` (one process only, so
no stale-slot expiry is needed: a slot or reservation lives exactly as long as its
request). Expired window and period entries are swept once a minute.
"""

from __future__ import annotations

from prai.gateway._limittypes import AdmitCall, AdmitResult, RateItem, Rejection, SettleCall, window_key


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
        self._wkeys: dict[int, tuple[RateItem, int, str, str, float]] = {}  # id(item) -> its window keys

    def _sweep(self, now: float) -> None:
        self._next_sweep = now + 60.0
        for k in [k for k, t in self._exp.items() if t <= now]:
            del self._exp[k]
            self._n.pop(k, None)
            self._per.pop(k, None)

    async def admit(self, call: AdmitCall) -> AdmitResult:
        return self.admit_now(call)

    def _windows(self, item: RateItem, now: float) -> tuple[str, str, float]:
        """(current window key, previous window key, current window start) of ``item`` at
        ``now``; the keys are built once per window, not on every request."""
        idx = int(now // item.period_s)
        w = self._wkeys.get(id(item))
        if w is None or w[0] is not item or w[1] != idx:
            if len(self._wkeys) > 4096:
                self._wkeys.clear()
            w = self._wkeys[id(item)] = (item, idx, window_key(item, idx), window_key(item, idx - 1),
                                         float(idx * item.period_s))
        return w[2], w[3], w[4]

    def admit_now(self, call: AdmitCall) -> AdmitResult:
        now, plan = call.now, call.plan
        if now >= self._next_sweep:
            self._sweep(now)
        n = self._n
        rate_keys = []
        for i, (item, cost) in enumerate(zip(plan.rates, call.costs, strict=True)):
            cur_k, prev_k, start = self._windows(item, now)
            cur, prev = n.get(cur_k, 0.0), n.get(prev_k, 0.0)
            period = item.period_s
            used = prev * (period - (now - start)) / period + cur
            if used + cost > item.limit:
                return AdmitResult(False, Rejection("rate", i, prev=prev, cur=cur))
            rate_keys.append((cur_k, cost, start + period * 2 + 1))
        conc = self._conc
        for i, c in enumerate(plan.concs):
            slots = conc.get(c.key)
            if slots is not None and len(slots) >= c.limit:
                return AdmitResult(False, Rejection("conc", i))
        need: list[tuple[int, int]] = []
        soft: list[tuple[dict[str, int], str, int, int, str]] = []
        rem_t = rem_y = -1
        per = self._per
        for i, b in enumerate(plan.budgets):
            hashes = []
            keys = call.budget_keys(b)
            for p in (0, 1):
                key = keys[p]
                h = per.get(key)
                if h is None or "s" not in h:
                    seed = call.seeds.get((i, p))
                    if seed is None:
                        need.append((i, p))
                        continue
                    h = per.setdefault(key, {"t": 0, "y": 0})
                    h["t"] += seed[0]
                    h["y"] += seed[1]
                    h["s"] = 1
                    self._exp[key] = now + call.period_ttls()[p]
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
            v = n.get(key)
            if v is None:  # a new window: it is kept until it is no longer the previous one
                n[key] = cost
                self._exp[key] = exp
            else:
                n[key] = v + cost
        for c in plan.concs:
            slots = conc.get(c.key)
            if slots is None:
                conc[c.key] = {call.rid}
            else:
                slots.add(call.rid)
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
        conc = self._conc
        for c in plan.concs:
            slots = conc.get(c.key)
            if slots is not None:
                slots.discard(adm.rid)
                if not slots:
                    del conc[c.key]
        used = call.used_t > 0 or call.used_y > 0
        per, held_by = self._per, self._res
        for b in plan.budgets:
            if used:
                keys = adm.budget_keys(b)
                for p in (0, 1):
                    h = per.get(keys[p])
                    if h is None:
                        h = per[keys[p]] = {"t": 0, "y": 0}
                        self._exp.setdefault(keys[p], adm.now + adm.period_ttls()[p])
                    h["t"] += call.used_t
                    h["y"] += call.used_y
            held = held_by.get(b.prefix)
            if held is not None:
                r = held.pop(adm.rid, None)
                if r is not None:
                    s = self._res_sum[b.prefix]
                    s[0] -= r[0]
                    s[1] -= r[1]

    async def close(self) -> None:
        return None


__all__ = ["MemoryStore"]
