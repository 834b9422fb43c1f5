"""The limit store in Redis: one Lua script admits a request, one more settles it.

Admission (``ADMIT``) checks every limit of a request atomically — requests and tokens
per sliding minute (project and key), concurrency (project and key), and the day and
month budgets of tenant, project and key — and charges them only when all pass: one
round trip. Settlement (``SETTLE``) charges the real token usage, frees the concurrency
slots and turns the budget reservation into usage: one more round trip, at the answer's end.
Both keep each request charged to budgets exactly once across a Redis that restarted empty
(tenant generations, seed cuts, reservation entries, markers: :mod:`._limitsettle`).

Keys: ``prai:{TENANT}:...``. The ``{TENANT}`` hash tag puts every key a request touches
into one Redis Cluster slot (a script may only touch keys of one slot). Sentinel and
Cluster are reached through redis-py's clients (``redis+sentinel://``,
``redis+cluster://``).

Sliding windows follow the ``limits`` library's sliding-window-counter: the previous
minute weighted by the part of it still inside the window, plus the current minute.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from typing import Any
from urllib.parse import urlsplit

from prai.gateway._limittypes import AdmitCall, AdmitResult, SettleCall

# KEYS / ARGV layout: see AdmitCall.redis_args. All arguments travel as one
# space-separated ARGV[1] (redis-py encodes each argument separately: 60 arguments cost
# more client CPU than the script itself), split here into ARGV.
_SPLIT = r"""
local packed = ARGV[1]
local ARGV = {}
for v in string.gmatch(packed, '%S+') do ARGV[#ARGV + 1] = v end
"""
ADMIT = _SPLIT + r"""
local now = tonumber(ARGV[1])
local rid = ARGV[2]
local stale = tonumber(ARGV[3])
local nr, nc, nb = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local slots, lease = tonumber(ARGV[7]), ARGV[8] == '1'
-- the tenant's generation: none means Redis lost its state (or never had any)
local gen = '-'
if nb > 0 then
  gen = redis.call('GET', KEYS[#KEYS])
  if not gen then
    local t = redis.call('TIME')
    gen = t[1] .. '.' .. t[2] .. '.' .. string.sub(rid, -4)
    redis.call('SET', KEYS[#KEYS], gen)
  end
end
-- the generation is sent back (code + 10, last element) only when the caller's differs
local function reply(t)
  if gen ~= ARGV[9] then
    t[1] = t[1] + 10
    t[#t + 1] = gen
  end
  return t
end
local a, k = 10, 1
local rate_keys, rate_cost, rate_ttl = {}, {}, {}
for i = 1, nr do
  local limit, period, cost, start = tonumber(ARGV[a]), tonumber(ARGV[a+1]), tonumber(ARGV[a+2]), tonumber(ARGV[a+3])
  a = a + 4
  local cur = tonumber(redis.call('GET', KEYS[k]) or '0')
  local prev = tonumber(redis.call('GET', KEYS[k+1]) or '0')
  local used = prev * (period - (now - start)) / period + cur
  if used + cost > limit then
    return reply({0, 'rate', i, tostring(prev), tostring(cur)})
  end
  rate_keys[i], rate_cost[i], rate_ttl[i] = KEYS[k], cost, period * 2 + 1
  k = k + 2
end
local conc_keys = {}
for i = 1, nc do
  local limit = tonumber(ARGV[a]); a = a + 1
  redis.call('ZREMRANGEBYSCORE', KEYS[k], '-inf', now - stale)
  if redis.call('ZCARD', KEYS[k]) + slots > limit then
    return reply({0, 'conc', i})
  end
  conc_keys[i] = KEYS[k]
  k = k + 1
end
local need = {}
local budgets = {}
local soft = {}
local rem_t, rem_y = -1, -1
local keep = math.ceil(stale) + 86400
for i = 1, nb do
  local kd, km, kr, kz = KEYS[k], KEYS[k+1], KEYS[k+2], KEYS[k+3]
  k = k + 4
  local lim = {tonumber(ARGV[a]), tonumber(ARGV[a+1]), tonumber(ARGV[a+2]), tonumber(ARGV[a+3])}
  local soft_pct = tonumber(ARGV[a+4])
  local rt, ry = tonumber(ARGV[a+5]), tonumber(ARGV[a+6])
  local seeds = {{ARGV[a+7], ARGV[a+8], ARGV[a+9]}, {ARGV[a+10], ARGV[a+11], ARGV[a+12]}}
  local ttls = {tonumber(ARGV[a+13]), tonumber(ARGV[a+14])}
  a = a + 15
  local hk = {kd, km}
  for p = 1, 2 do
    if redis.call('HEXISTS', hk[p], 's') == 0 then
      if seeds[p][1] ~= '-' then
        redis.call('HINCRBY', hk[p], 't', seeds[p][1])
        redis.call('HINCRBY', hk[p], 'y', seeds[p][2])
        redis.call('HSET', hk[p], 's', 1, 'c', seeds[p][3])
        redis.call('EXPIRE', hk[p], ttls[p])
      else
        need[#need + 1] = i .. ':' .. p
      end
    end
  end
  -- reservations of requests whose gateway died are dropped after `stale` seconds; a
  -- tombstone ('x', kept a day) still lets their settlement charge the usage once
  local gone = redis.call('ZRANGEBYSCORE', kz, '-inf', now)
  for _, m in ipairs(gone) do
    local v = redis.call('HGET', kr, m)
    if v and v ~= 'x' then
      local t, y = string.match(v, '(%-?%d+):(%-?%d+)')
      redis.call('HINCRBY', kr, 't', 0 - tonumber(t))
      redis.call('HINCRBY', kr, 'y', 0 - tonumber(y))
      redis.call('HSET', kr, m, 'x')
      redis.call('ZADD', kz, now + 86400, m)
    else
      redis.call('HDEL', kr, m)
      redis.call('ZREM', kz, m)
    end
  end
  budgets[i] = {kr, kz, rt, ry}
  if #need == 0 then
    local res_t = tonumber(redis.call('HGET', kr, 't') or '0')
    local res_y = tonumber(redis.call('HGET', kr, 'y') or '0')
    for p = 1, 2 do
      local used_t = tonumber(redis.call('HGET', hk[p], 't') or '0')
      local used_y = tonumber(redis.call('HGET', hk[p], 'y') or '0')
      local lt, ly = lim[p], lim[p + 2]
      if lt > 0 and used_t + res_t >= lt then
        return reply({0, 'budget', i, p, 't', tostring(used_t), tostring(res_t)})
      end
      if ly > 0 and used_y + res_y >= ly then
        return reply({0, 'budget', i, p, 'y', tostring(used_y), tostring(res_y)})
      end
      -- a lease never takes a budget past its soft threshold: requests admitted from it
      -- would not see the threshold (near it, every request is admitted here)
      if lease and lt > 0 and (used_t + res_t + rt) * 100 >= lt * soft_pct then
        return reply({0, 'budget', i, p, 't', tostring(used_t), tostring(res_t)})
      end
      if lease and ly > 0 and (used_y + res_y + ry) * 100 >= ly * soft_pct then
        return reply({0, 'budget', i, p, 'y', tostring(used_y), tostring(res_y)})
      end
      if lt > 0 then
        local r = lt - used_t - res_t
        if rem_t < 0 or r < rem_t then rem_t = r end
        if used_t * 100 >= lt * soft_pct then soft[#soft + 1] = {hk[p], 'soft_t', i, p, 't'} end
      end
      if ly > 0 then
        local r = ly - used_y - res_y
        if rem_y < 0 or r < rem_y then rem_y = r end
        if used_y * 100 >= ly * soft_pct then soft[#soft + 1] = {hk[p], 'soft_y', i, p, 'y'} end
      end
    end
  end
end
if #need > 0 then
  return reply({2, unpack(need)})
end
for i = 1, nr do
  redis.call('INCRBY', rate_keys[i], rate_cost[i])
  redis.call('EXPIRE', rate_keys[i], rate_ttl[i])
end
local members = {}
if slots == 1 then
  members = {now, rid}
else
  for j = 1, slots do members[#members + 1] = now; members[#members + 1] = rid .. '#' .. j end
end
for i = 1, nc do
  redis.call('ZADD', conc_keys[i], unpack(members))
  redis.call('EXPIRE', conc_keys[i], math.ceil(stale))
end
-- every admission leaves a reservation entry (also of 0): its presence tells the
-- settlement that it has not been applied yet
for i = 1, nb do
  local b = budgets[i]
  redis.call('HINCRBY', b[1], 't', b[3])
  redis.call('HINCRBY', b[1], 'y', b[4])
  redis.call('HSET', b[1], rid, b[3] .. ':' .. b[4])
  redis.call('ZADD', b[2], now + stale, rid)
  redis.call('EXPIRE', b[1], keep)
  redis.call('EXPIRE', b[2], keep)
end
local out = {1, tostring(rem_t), tostring(rem_y)}
for _, s in ipairs(soft) do
  local crossed = redis.call('HSETNX', s[1], s[2], 1)
  out[#out + 1] = s[3] .. ':' .. s[4] .. ':' .. s[5] .. ':' .. crossed
end
return reply(out)
"""

SETTLE = _SPLIT + r"""
local rid, gen, fixes_gen = ARGV[1], ARGV[2], ARGV[3]
local nr, nc, nb = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local slots, nref = tonumber(ARGV[7]), tonumber(ARGV[8])
local kb = nr + nref + nc + 1      -- first budget key
local ab = 9 + 2 * nr + nref       -- first budget argument
local af = ab + 4 * nb             -- first counter fix (when fixes_gen is not '-')
local cur = '-'
local dup, slow = false, false
local held = {}
if nb > 0 then
  local gk, xk = KEYS[kb + 4 * nb], KEYS[kb + 4 * nb + 1]
  cur = redis.call('GET', gk)
  if not cur then
    local t = redis.call('TIME')
    cur = t[1] .. '.' .. t[2] .. '.' .. string.sub(rid, -4)
    redis.call('SET', gk, cur)
  end
  if redis.call('EXISTS', xk) == 1 then
    dup = true  -- applied across a generation change already: a retry
  elseif fixes_gen == '-' and cur == gen then
    -- same generation as the charge: the reservation entry is there until settled
    dup = true
    for i = 1, nb do
      held[i] = redis.call('HGET', KEYS[kb + 4 * (i - 1) + 2], rid)
      if held[i] then dup = false end
    end
  else
    slow = true
  end
end
if slow then
  -- Redis lost its state since the charge: a counter seeded from the audit log after
  -- that holds the request's usage when its record is at or before the counter's cut
  local any = false
  local cuts = {}
  for i = 1, nb do
    local a = ab + 4 * (i - 1)
    if tonumber(ARGV[a]) > 0 or tonumber(ARGV[a + 1]) > 0 then any = true end
    for p = 1, 2 do
      local hk = KEYS[kb + 4 * (i - 1) + p - 1]
      if redis.call('HEXISTS', hk, 's') == 1 then
        cuts[#cuts + 1] = redis.call('HGET', hk, 'c') or '0'
      else
        cuts[#cuts + 1] = '-'
      end
    end
  end
  if any then
    if fixes_gen ~= cur then
      return {2, cur, unpack(cuts)}
    end
    for j = 1, 2 * nb do
      local f = af + 5 * (j - 1)
      if (cuts[j] == '-' and ARGV[f + 1] == '-') or (cuts[j] ~= '-' and cuts[j] ~= ARGV[f]) then
        return {2, cur, unpack(cuts)}
      end
    end
    for i = 1, nb do
      local ttls = {tonumber(ARGV[ab + 4 * (i - 1) + 2]), tonumber(ARGV[ab + 4 * (i - 1) + 3])}
      for p = 1, 2 do
        local j = 2 * (i - 1) + p
        local f = af + 5 * (j - 1)
        local hk = KEYS[kb + 4 * (i - 1) + p - 1]
        if cuts[j] == '-' then
          redis.call('HINCRBY', hk, 't', ARGV[f + 1])
          redis.call('HINCRBY', hk, 'y', ARGV[f + 2])
          redis.call('HSET', hk, 's', 1, 'c', ARGV[f])
        end
        redis.call('HINCRBY', hk, 't', ARGV[f + 3])
        redis.call('HINCRBY', hk, 'y', ARGV[f + 4])
        redis.call('EXPIRE', hk, ttls[p])
      end
    end
    redis.call('SET', KEYS[kb + 4 * nb + 1], 1, 'EX', 86400)
  end
end
if not dup then
  local a, k = 9, 1
  for i = 1, nr do
    local delta, ttl = tonumber(ARGV[a]), tonumber(ARGV[a+1])
    a = a + 2
    if delta > 0 then
      redis.call('INCRBY', KEYS[k], delta)
      redis.call('EXPIRE', KEYS[k], ttl)
    end
    k = k + 1
  end
  -- a lease's unused units go back to the window it was charged to (if still kept)
  for i = 1, nref do
    local n = tonumber(ARGV[a]); a = a + 1
    local left = tonumber(redis.call('GET', KEYS[k]) or '0')
    if left > 0 then redis.call('DECRBY', KEYS[k], math.min(n, left)) end
    k = k + 1
  end
end
local members = {rid}
if slots > 1 then
  members = {}
  for j = 1, slots do members[j] = rid .. '#' .. j end
end
for i = 1, nc do
  redis.call('ZREM', KEYS[nr + nref + i], unpack(members))
end
for i = 1, nb do
  local k, a = kb + 4 * (i - 1), ab + 4 * (i - 1)
  local kr, kz = KEYS[k + 2], KEYS[k + 3]
  local v = held[i]
  if slow then v = redis.call('HGET', kr, rid) end
  if v and not slow then
    local t, y = tonumber(ARGV[a]), tonumber(ARGV[a + 1])
    local ttls = {tonumber(ARGV[a + 2]), tonumber(ARGV[a + 3])}
    local hk = {KEYS[k], KEYS[k + 1]}
    for p = 1, 2 do
      if t > 0 then redis.call('HINCRBY', hk[p], 't', t) end
      if y > 0 then redis.call('HINCRBY', hk[p], 'y', y) end
      if t > 0 or y > 0 then redis.call('EXPIRE', hk[p], ttls[p]) end
    end
  end
  if v then
    if v ~= 'x' then
      local rt, ry = string.match(v, '(%-?%d+):(%-?%d+)')
      redis.call('HINCRBY', kr, 't', 0 - tonumber(rt))
      redis.call('HINCRBY', kr, 'y', 0 - tonumber(ry))
    end
    redis.call('HDEL', kr, rid)
    redis.call('ZREM', kz, rid)
  end
end
-- in the charge's own generation the answer is a number; else {code, generation}
local code = 1
if dup then code = 3 end
if cur == gen then return code end
return {code, cur}
"""


def _client(url: str, timeout_s: float) -> Any:
    """A redis-py asyncio client for ``redis://``, ``rediss://``, ``redis+sentinel://`` or
    ``redis+cluster://``. Only the connect timeout is a socket option (redis-py's read
    timeout doubled the cost of a call here); calls are bounded with ``asyncio.timeout``."""
    opts: dict[str, Any] = {"socket_connect_timeout": timeout_s}
    if url.startswith("redis+cluster://"):
        from redis.asyncio.cluster import RedisCluster

        return RedisCluster.from_url("redis://" + url[len("redis+cluster://") :], **opts)
    if url.startswith("redis+sentinel://"):
        from redis.asyncio.sentinel import Sentinel

        parts = urlsplit(url)
        hosts = []
        for hp in parts.netloc.split("@")[-1].split(","):
            host, _, port = hp.rpartition(":")
            hosts.append((host or hp, int(port) if port else 26379))
        path = [p for p in parts.path.split("/") if p]
        if not path:
            raise ValueError("redis+sentinel:// needs a service name: redis+sentinel://HOST:26379/SERVICE")
        db = int(path[1]) if len(path) > 1 else 0
        sentinel = Sentinel(hosts, sentinel_kwargs=opts, **opts)
        return sentinel.master_for(path[0], db=db, password=parts.password)
    import redis.asyncio as aioredis

    return aioredis.from_url(url, **opts)


class _AutoPipeline:
    """Script calls issued in the same event-loop iteration go to Redis as one pipeline.

    Each request still waits for exactly one round trip, but 32 concurrent requests cost
    one round trip together instead of 32 (measured on the 2-core VM: 41 µs per call
    pipelined by 32 against 408 µs as separate concurrent calls). A batch goes out on
    the next loop iteration; batches do not wait for each other.
    """

    def __init__(self, client: Any, timeout_s: float) -> None:
        self.client = client
        self.timeout_s = timeout_s
        self._queue: list[tuple[str, str, list[str], list[Any], asyncio.Future[Any]]] = []
        self._tasks: set[asyncio.Task[None]] = set()

    def call(self, sha: str, script: str, keys: list[str], args: list[Any]) -> asyncio.Future[Any]:
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[Any] = loop.create_future()
        if not self._queue:
            loop.call_soon(self._flush_soon)
        self._queue.append((sha, script, keys, args, fut))
        return fut

    def _flush_soon(self) -> None:
        batch, self._queue = self._queue, []
        if batch:
            task = asyncio.get_running_loop().create_task(self._flush(batch))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _flush(self, batch: list[tuple[str, str, list[str], list[Any], asyncio.Future[Any]]]) -> None:
        from redis.exceptions import NoScriptError

        try:
            pipe = self.client.pipeline(transaction=False)
            for sha, _, keys, args, _ in batch:
                pipe.evalsha(sha, len(keys), *keys, *args)
            async with asyncio.timeout(self.timeout_s):
                results = await pipe.execute(raise_on_error=False)
        except BaseException as exc:  # the store is unreachable: every caller learns it
            for *_, fut in batch:
                if not fut.done():
                    fut.set_exception(exc if isinstance(exc, Exception) else ConnectionError("cancelled"))
            if not isinstance(exc, Exception):
                raise
            return
        for (_sha, script, keys, args, fut), res in zip(batch, results, strict=True):
            if fut.done():
                continue
            if isinstance(res, NoScriptError):  # Redis restarted: load the script, run again
                try:
                    res = await self.client.eval(script, len(keys), *keys, *args)
                except Exception as exc:
                    res = exc
            if isinstance(res, Exception):
                fut.set_exception(res)
            else:
                fut.set_result(res)

    async def drain(self, timeout_s: float) -> None:
        self._flush_soon()
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=timeout_s)


def _packed(keys_args: tuple[list[str], list[Any]]) -> tuple[list[str], list[Any]]:
    keys, args = keys_args
    return keys, [" ".join(map(str, args))]


class RedisStore:
    """Counters in Redis, shared by every gateway process using the same URL.

    Args:
        url: see :class:`prai.config.gateway.RateLimitStoreConfig`.
        timeout_s: seconds a call may take; then it raises ``TimeoutError``.

    Errors propagate (``redis.exceptions.RedisError``, ``OSError``, ``TimeoutError``); the
    limiter turns them into its fail-closed / fail-open policy. redis-py reconnects on the
    next call; scripts are loaded again after a Redis restart (``NOSCRIPT``).
    """

    def __init__(self, url: str, *, timeout_s: float = 3.0) -> None:
        self.redis = _client(url, timeout_s)
        self.timeout_s = timeout_s
        self._admit_sha = hashlib.sha1(ADMIT.encode()).hexdigest()
        self._settle_sha = hashlib.sha1(SETTLE.encode()).hexdigest()
        # Cluster clients route each call by its keys' slot: no cross-slot pipelines.
        self._pipe = None if url.startswith("redis+cluster://") else _AutoPipeline(self.redis, timeout_s)

    async def _run(self, sha: str, script: str, keys: list[str], args: list[Any]) -> Any:
        if self._pipe is not None:  # the pipeline bounds each batch with timeout_s
            return await self._pipe.call(sha, script, keys, args)
        async with asyncio.timeout(self.timeout_s):
            from redis.exceptions import NoScriptError

            try:
                return await self.redis.evalsha(sha, len(keys), *keys, *args)
            except NoScriptError:
                return await self.redis.eval(script, len(keys), *keys, *args)

    async def admit(self, call: AdmitCall) -> AdmitResult:
        keys, args = _packed(call.redis_args())
        return AdmitResult.from_redis(await self._run(self._admit_sha, ADMIT, keys, args), call.known_gen)

    async def settle(self, call: SettleCall) -> Any:
        """Run ``SETTLE``; returns its raw answer (see :class:`SettleReply`)."""
        keys, args = _packed(call.redis_args())
        return await self._run(self._settle_sha, SETTLE, keys, args)

    async def get_many(self, keys: list[str]) -> list[Any]:
        """GET each of ``keys`` in one pipeline (keys of any slots; bounded by ``timeout_s``)."""
        async with asyncio.timeout(self.timeout_s):
            pipe = self.redis.pipeline(transaction=False)
            for k in keys:
                pipe.get(k)
            return list(await pipe.execute())

    def settle_soon(self, call: SettleCall) -> asyncio.Future[Any]:
        """Queue the settlement for the next pipeline; the caller does not wait for it."""
        keys, args = _packed(call.redis_args())
        if self._pipe is not None:
            return self._pipe.call(self._settle_sha, SETTLE, keys, args)
        return asyncio.ensure_future(self._run(self._settle_sha, SETTLE, keys, args))

    async def close(self) -> None:
        if self._pipe is not None:
            await self._pipe.drain(self.timeout_s)
        await self.redis.aclose()


class StoreMisconfigured(Exception):
    """The store answered, and refused the URL itself (waiting will not help): its message
    says why, in one line without the URL's password."""


#: server answers to the connection's setup that no retry fixes (message part → meaning)
PERMANENT_ANSWERS = ("DB index is out of range",)


async def probe(url: str, timeout_s: float) -> str | None:
    """None when the store at ``url`` answers PING within ``timeout_s`` seconds, else why not
    (one line; the URL's password is never in it).

    Raises:
        StoreMisconfigured: the server answered with an error no retry fixes (the URL's
            database index is beyond the server's ``databases``).
    """
    from redis.exceptions import ResponseError

    try:
        client = _client(url, timeout_s)
    except Exception as exc:  # a malformed sentinel URL: say why, the gateway refuses later
        return " ".join(str(exc).split()) or type(exc).__name__
    try:
        async with asyncio.timeout(timeout_s):
            await client.ping()
    except TimeoutError:
        return f"no answer within {timeout_s:g} s"
    except ResponseError as exc:
        why = " ".join(str(exc).split()) or type(exc).__name__
        if any(p in why for p in PERMANENT_ANSWERS):
            raise StoreMisconfigured(why) from None
        return why
    except Exception as exc:
        return " ".join(str(exc).split()) or type(exc).__name__
    finally:
        with contextlib.suppress(Exception):
            await client.aclose()
    return None


__all__ = ["ADMIT", "PERMANENT_ANSWERS", "SETTLE", "RedisStore", "StoreMisconfigured", "probe"]
