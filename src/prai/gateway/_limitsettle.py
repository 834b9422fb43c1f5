"""Charged exactly once: budget usage across a Redis that lost its state.

Budget counters in Redis are seeded from the audit log when missing. A request's usage
reaches a counter either through that seed (its audit record is in the database when
the seed is read) or through its settlement — never both, never neither:

- **Generation.** Each tenant has a generation key in Redis, set to a fresh token when
  absent. Admission answers with it; a settlement carries the generation it was charged
  in. The same generation means Redis kept its state since the admission: the reservation
  entry, removed on settle, says whether the settlement was applied already (a retry).
- **Cut.** A seed records its *cut*, the audit log's last sequence number when it was
  read: records up to the cut are in the seed. A settlement from another generation asks
  the counters' cuts (:class:`~._limittypes.SettleReply` code 2), looks its requests up in
  the audit log (:func:`resolve`) and adds to each counter only the usage of requests
  whose record is after its cut (or not stored yet); the script checks that neither the
  generation nor a cut moved meanwhile, and leaves a per-request marker (kept a day) so a
  retried settlement is not applied twice. A lease's settlement lists its requests.
- **Settled log.** Usage settled in a generation whose record is not in the database yet
  would be lost if Redis restarted empty before the record is written (the next seed
  misses it). Such settlements are kept (:class:`SettledLog`) until their records are
  stored *and* the generation is seen unchanged afterwards; when the generation changed,
  they are sent again and resolved as above.

The fast path costs nothing extra in round trips: admission stays one script call and a
settlement one more; a settlement across a generation change costs a few audit-log
queries and one more script call.
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Callable
from typing import Any

from prai.gateway._limittypes import BudgetItem, CounterFix, SettleCall, SettleReply
from prai.gateway.budgets import Period

#: (budget item, period) → (tokens, micro-yen, cut) the audit log holds (a seed)
SeedSource = Callable[[BudgetItem, Period], tuple[int, int, int]]
#: rids → (head, {rid: sequence number}) of the stored records (:func:`..budgets.audit_seqs`)
SeqSource = Callable[[list[str]], tuple[int, dict[str, int]]]
#: () → (records journaled, records stored) by this process's audit writer
AuditMarks = Callable[[], tuple[int, int]]


async def resolve(call: SettleCall, reply: SettleReply, seeds: SeedSource | None, seqs: SeqSource | None) -> None:
    """Set ``call.fixes``: for every budget counter, what to add so that each request of
    the settlement is counted once given the counter's cut (a seed is read for counters
    Redis does not have). Blocks on the audit database in a thread.

    Raises:
        sqlalchemy.exc.SQLAlchemyError: the audit database is unreachable (retry later).
    """
    adm = call.admit
    fixes: list[CounterFix] = []
    seeded: dict[int, tuple[int, int, int]] = {}
    for j, cut in enumerate(reply.cuts):
        if cut is None:
            b = adm.plan.budgets[j // 2]
            period = adm.day if j % 2 == 0 else adm.month
            seeded[j] = await asyncio.to_thread(seeds, b, period) if seeds is not None else (0, 0, 0)
    reqs = call.usage_by_request()
    # looked up after the cuts were read: a record not found is after every cut
    found = (await asyncio.to_thread(seqs, [r for r, _, _ in reqs]))[1] if seqs is not None else {}
    for j, cut in enumerate(reply.cuts):
        seed = seeded.get(j)
        c = cut if cut is not None else seed[2] if seed is not None else 0
        add_t = add_y = 0
        for rid, t, y in reqs:
            seq = found.get(rid)
            if seq is None or seq > c:
                add_t += t
                add_y += y
        fixes.append((c, None if seed is None else seed[0], 0 if seed is None else seed[1], add_t, add_y))
    call.fixes = fixes
    call.fixes_gen = reply.gen or ""


def has_usage(call: SettleCall) -> bool:
    """True when ``call`` charges budget usage."""
    if not call.admit.plan.budgets:
        return False
    if call.requests is None:
        return bool(call.used_t or call.used_y)
    return any(t or y for _, t, y in call.requests)


class SettledLog:
    """Settlements applied in Redis whose audit records may not be in the database yet.

    Args:
        marks: this process's audit writer counts (journaled, stored); records are stored
            in the order they are journaled.
        max_entries: bound (oldest dropped first).
    """

    def __init__(self, marks: AuditMarks, max_entries: int = 200_000) -> None:
        self.marks = marks
        self.max_entries = max_entries
        #: (tenant, generation) → (journaled count when settled, call), in journal order
        self._by: dict[tuple[str, str | None], collections.deque[tuple[int, SettleCall]]] = {}
        self._n = 0

    def __len__(self) -> int:
        return self._n

    def add(self, call: SettleCall, gen: str | None) -> None:
        """Keep ``call`` (applied in generation ``gen``) until its records are stored; the
        records are journaled before the settlement (see ``Accounting.answer_ends``)."""
        if not has_usage(call) or self._n >= self.max_entries:
            return  # past the bound: no longer protected against a restart
        key = (call.admit.plan.tenant, gen)
        q = self._by.get(key)
        if q is None:
            q = self._by[key] = collections.deque()
        q.append((self.marks()[0], call))
        self._n += 1

    def tenants(self) -> list[str]:
        return sorted({t for t, _ in self._by})

    def sweep(self, stored: int, gens: dict[str, Any]) -> list[SettleCall]:
        """Drop what is safe, return what must be sent again.

        ``stored`` was read before ``gens`` (tenant → generation now, read afterwards;
        tenants missing from it were not read): a settlement whose records were stored
        while Redis kept its generation is in any later seed; one whose generation is gone
        must be applied again (to the counters that do not hold it).
        """
        again: list[SettleCall] = []
        for key, q in list(self._by.items()):
            tenant, gen = key
            if tenant not in gens:
                continue
            if gens[tenant] != gen:
                again += [resend_of(call, gen) for _, call in q]
                q.clear()
            else:
                while q and q[0][0] <= stored:
                    q.popleft()
            if not q:
                del self._by[key]
        self._n = sum(len(q) for q in self._by.values())
        return again


def resend_of(call: SettleCall, gen: str | None) -> SettleCall:
    """``call``'s budget usage only, as charged in generation ``gen`` (no window
    corrections, refunds or slots: those went to the Redis that is gone)."""
    return SettleCall(
        admit=call.admit,
        now=call.now,
        deltas=[0] * len(call.deltas),
        used_t=call.used_t,
        used_y=call.used_y,
        requests=call.usage_by_request(),
        gen=gen or "-",
    )


__all__ = ["AuditMarks", "SeedSource", "SeqSource", "SettledLog", "has_usage", "resend_of", "resolve"]
