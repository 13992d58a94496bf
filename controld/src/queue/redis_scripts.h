// SPDX-License-Identifier: Apache-2.0
// The Lua scripts of the Redis backend (redis_backend.h). Each runs
// atomically on the server. Key names are fixed under "levqor:"; the
// scripts touch keys they compute, so they need a single Redis server
// (not Cluster), like the rate limiter's. Constants: thread-safe.
#pragma once

namespace levqor::controld::queue::scripts {

// ARGV: now, idempotency key ('' for none), ttl_s, fingerprint, ids (comma
// separated), deliver ('1'/'0'), instance, then id, type, payload per job.
// Inline jobs (deliver '0') are listed in levqor:inline:<instance> until
// they finish, so a restarted controld finds those its previous process
// left unfinished. levqor:payload_bytes counts the payload bytes stored.
// -> {'ok', added} or {'replay', '<fingerprint> <ids>'}
inline constexpr const char* kEnqueue = R"lua(
local now = ARGV[1]
if ARGV[2] ~= '' then
  local key = 'levqor:idem:' .. ARGV[2]
  local claimed = redis.call('SET', key, ARGV[4] .. ' ' .. ARGV[5], 'NX', 'EX', tonumber(ARGV[3]))
  if not claimed then return {'replay', redis.call('GET', key)} end
end
local added, bytes = 0, 0
for i = 8, #ARGV, 3 do
  local id, jtype, payload = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  local key = 'levqor:job:' .. id
  if redis.call('EXISTS', key) == 0 then
    local sid, state = 'inline', 'running'
    if ARGV[6] == '1' then
      sid = redis.call('XADD', 'levqor:jobs', '*', 'id', id, 'type', jtype, 'payload', payload,
                       'attempt', '1', 'redeliveries', '0')
      state = 'queued'
    else
      redis.call('SADD', 'levqor:inline:' .. ARGV[7], id)
    end
    redis.call('HSET', key, 'type', jtype, 'payload', payload, 'state', state, 'attempts', '0',
               'created_at', now, 'updated_at', now, 'run_at', now, 'sid', sid)
    added = added + 1
    bytes = bytes + #payload
  end
end
if bytes > 0 then redis.call('INCRBY', 'levqor:payload_bytes', bytes) end
return {'ok', tostring(added)}
)lua";

// ARGV: now, retention_s, instance, then per completion: id, sid, kind (s,
// r, d, x), attempt, redeliveries, error, result, and run_at (r) or the
// payload's bytes (s). A job that succeeded loses its payload (the record
// keeps state and result) in the HSET it needs anyway: the hot path gets no
// extra call. -> number of stale ones.
inline constexpr const char* kComplete = R"lua(
local now = ARGV[1]
local retention = tonumber(ARGV[2])
local inline_set = 'levqor:inline:' .. ARGV[3]
local acks = {}
local stale, freed = 0, 0
for i = 4, #ARGV, 8 do
  local id, sid, kind, attempt = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
  local key = 'levqor:job:' .. id
  if sid ~= 'inline' then acks[#acks + 1] = sid end
  if redis.call('HGET', key, 'sid') == sid then
    if sid == 'inline' then redis.call('SREM', inline_set, id) end
    if kind == 's' then
      freed = freed + (tonumber(ARGV[i + 7]) or 0)
      redis.call('HSET', key, 'state', 'succeeded', 'attempts', attempt, 'updated_at', now,
                 'finished_at', now, 'result', ARGV[i + 6], 'sid', '', 'payload', '')
      redis.call('EXPIRE', key, retention)
    elseif kind == 'r' then
      redis.call('HSET', key, 'state', 'retrying', 'attempts', attempt, 'updated_at', now,
                 'run_at', ARGV[i + 7], 'last_error', ARGV[i + 5], 'result', ARGV[i + 6],
                 'sid', 'delayed')
      redis.call('ZADD', 'levqor:delayed', ARGV[i + 7], id)
    elseif kind == 'd' then
      redis.call('HSET', key, 'state', 'dead', 'attempts', attempt, 'updated_at', now,
                 'finished_at', now, 'last_error', ARGV[i + 5], 'result', ARGV[i + 6], 'sid', '')
      redis.call('ZADD', 'levqor:dlq', now, id)
    else
      local h = redis.call('HMGET', key, 'type', 'payload')
      local nsid = redis.call('XADD', 'levqor:jobs', '*', 'id', id, 'type', h[1], 'payload', h[2],
                              'attempt', attempt, 'redeliveries', ARGV[i + 4])
      redis.call('HSET', key, 'sid', nsid, 'updated_at', now)
    end
  else
    stale = stale + 1
  end
end
if #acks > 0 then
  redis.call('XACK', 'levqor:jobs', 'workers', unpack(acks))
  redis.call('XDEL', 'levqor:jobs', unpack(acks))
end
if freed > 0 then redis.call('DECRBY', 'levqor:payload_bytes', freed) end
return stale
)lua";

// ARGV: now, limit. Retries whose time has come go back into the stream.
inline constexpr const char* kPromote = R"lua(
local now = ARGV[1]
local due = redis.call('ZRANGEBYSCORE', 'levqor:delayed', '-inf', now, 'LIMIT', 0, tonumber(ARGV[2]))
for _, id in ipairs(due) do
  local key = 'levqor:job:' .. id
  local h = redis.call('HMGET', key, 'type', 'payload', 'attempts', 'sid')
  if h[1] and h[4] == 'delayed' then
    local sid = redis.call('XADD', 'levqor:jobs', '*', 'id', id, 'type', h[1], 'payload', h[2],
                           'attempt', tostring(tonumber(h[3]) + 1), 'redeliveries', '0')
    redis.call('HSET', key, 'sid', sid, 'updated_at', now)
  end
  redis.call('ZREM', 'levqor:delayed', id)
end
return #due
)lua";

// The head of the scripts that deliver a stream entry again (kReclaim,
// kRecover): redeliver(sid, fields) adds the job to the stream again as a
// new entry with one more redelivery, or dead-letters it once it reached
// max_redeliveries; stale entries (the job's current entry is another) and
// entries without an id are only dropped. The caller XACKs and XDELs sid.
// Both take ARGV[1] = now, ARGV[2] = max redeliveries.
inline constexpr const char* kRedeliverFunction = R"lua(
local now = ARGV[1]
local max_redeliveries = tonumber(ARGV[2])
local reclaimed, dead = 0, 0
local function redeliver(sid, fields)
  if type(fields) ~= 'table' then return end
  local f = {}
  for j = 1, #fields - 1, 2 do f[fields[j]] = fields[j + 1] end
  if type(f['id']) ~= 'string' then return end
  local key = 'levqor:job:' .. f['id']
  if redis.call('HGET', key, 'sid') ~= sid then return end
  local red = (tonumber(f['redeliveries'] or '0') or 0) + 1
  if red >= max_redeliveries then
    redis.call('HSET', key, 'state', 'dead', 'updated_at', now, 'finished_at', now,
               'last_error', 'delivered ' .. red .. ' times without completing ' ..
               '(the visibility timeout ran out, or controld was killed, each time)', 'sid', '')
    redis.call('ZADD', 'levqor:dlq', now, f['id'])
    dead = dead + 1
  else
    local nsid = redis.call('XADD', 'levqor:jobs', '*', 'id', f['id'], 'type', f['type'] or '',
                            'payload', f['payload'] or '', 'attempt', f['attempt'] or '1',
                            'redeliveries', tostring(red))
    redis.call('HSET', key, 'sid', nsid, 'updated_at', now)
    reclaimed = reclaimed + 1
  end
end
)lua";

// ARGV: now, max redeliveries, min idle ms (the visibility timeout), limit.
// Deliveries idle that long (of consumers that are gone or hung) are
// claimed (XAUTOCLAIM) and delivered again (redeliver above).
// -> {reclaimed, dead}
inline constexpr const char* kReclaim = R"lua(
local limit = tonumber(ARGV[4])
local cursor = '0-0'
local acks = {}
repeat
  local res = redis.call('XAUTOCLAIM', 'levqor:jobs', 'workers', 'levqor-reclaimer', ARGV[3],
                         cursor, 'COUNT', 100)
  cursor = res[1]
  for _, e in ipairs(res[2]) do
    if type(e) == 'table' then
      acks[#acks + 1] = e[1]
      redeliver(e[1], e[2])
    end
  end
until cursor == '0-0' or #acks >= limit
if #acks > 0 then
  redis.call('XACK', 'levqor:jobs', 'workers', unpack(acks))
  redis.call('XDEL', 'levqor:jobs', unpack(acks))
end
return {reclaimed, dead}
)lua";

// ARGV: now, max redeliveries, 'prefix' or 'name', a consumer name prefix
// ("controld-<instance>-") or one consumer's name, instance ('' for none).
// Every delivery held by the consumers named so is claimed at once, whatever
// its idle time, and delivered again (redeliver above): at the start of a
// controld, what its previous process's workers held (whatever their
// number); when a worker reconnects, what it held (a fetch whose reply was
// lost). With an instance, inline jobs that controld's previous process
// left unfinished are dead (inline jobs run once).
// -> {reclaimed, dead, inline_dead}
inline constexpr const char* kRecover = R"lua(
local by_prefix, pattern = ARGV[3] == 'prefix', ARGV[4]
for _, c in ipairs(redis.call('XINFO', 'CONSUMERS', 'levqor:jobs', 'workers')) do
  local f = {}
  for j = 1, #c - 1, 2 do f[c[j]] = c[j + 1] end
  local name = f['name']
  if type(name) == 'string' and (name == pattern or
                                 (by_prefix and string.sub(name, 1, #pattern) == pattern)) then
    for _ = 1, 1000 do
      local pending = redis.call('XPENDING', 'levqor:jobs', 'workers', '-', '+', 1000, name)
      if #pending == 0 then break end
      local ids = {}
      for i, p in ipairs(pending) do ids[i] = p[1] end
      local claimed = redis.call('XCLAIM', 'levqor:jobs', 'workers', 'levqor-reclaimer', 0,
                                 unpack(ids))
      for _, e in ipairs(claimed) do
        if type(e) == 'table' then redeliver(e[1], e[2]) end
      end
      redis.call('XACK', 'levqor:jobs', 'workers', unpack(ids))
      redis.call('XDEL', 'levqor:jobs', unpack(ids))
    end
  end
end
if ARGV[5] == '' then return {reclaimed, dead, 0} end
local inline_set = 'levqor:inline:' .. ARGV[5]
local inline_dead = 0
for _, id in ipairs(redis.call('SMEMBERS', inline_set)) do
  local key = 'levqor:job:' .. id
  if redis.call('HGET', key, 'sid') == 'inline' then
    redis.call('HSET', key, 'state', 'dead', 'updated_at', now, 'finished_at', now, 'last_error',
               'controld stopped while the job ran inline (NEW_QUEUE_ENABLED=off runs each ' ..
               'job once; not retried)', 'sid', '')
    redis.call('ZADD', 'levqor:dlq', now, id)
    inline_dead = inline_dead + 1
  end
end
redis.call('DEL', inline_set)
return {reclaimed, dead, inline_dead}
)lua";

// ARGV: now, all ('1'/'0'), ids... -> how many went back to the queue.
inline constexpr const char* kRetryDead = R"lua(
local now = ARGV[1]
local ids = {}
if ARGV[2] == '1' then
  ids = redis.call('ZRANGE', 'levqor:dlq', 0, 9999)
else
  for i = 3, #ARGV do ids[#ids + 1] = ARGV[i] end
end
local n = 0
for _, id in ipairs(ids) do
  if redis.call('ZREM', 'levqor:dlq', id) == 1 then
    local key = 'levqor:job:' .. id
    local h = redis.call('HMGET', key, 'type', 'payload')
    if h[1] then
      local sid = redis.call('XADD', 'levqor:jobs', '*', 'id', id, 'type', h[1], 'payload', h[2],
                             'attempt', '1', 'redeliveries', '0')
      redis.call('HSET', key, 'state', 'queued', 'attempts', '0', 'sid', sid, 'updated_at', now,
                 'run_at', now)
      redis.call('HDEL', key, 'finished_at')
      redis.call('PERSIST', key)
      n = n + 1
    end
  end
end
return n
)lua";

// ARGV: min idle ms. Forgets consumers (worker threads of controld
// processes that are gone) that hold nothing and were idle that long; the
// check and the delete are one atomic step, so a pending entry is never
// dropped. -> how many.
inline constexpr const char* kForgetConsumers = R"lua(
local n = 0
for _, c in ipairs(redis.call('XINFO', 'CONSUMERS', 'levqor:jobs', 'workers')) do
  local f = {}
  for j = 1, #c, 2 do f[c[j]] = c[j + 1] end
  if tonumber(f['pending']) == 0 and tonumber(f['idle']) >= tonumber(ARGV[1]) then
    redis.call('XGROUP', 'DELCONSUMER', 'levqor:jobs', 'workers', f['name'])
    n = n + 1
  end
end
return n
)lua";

}  // namespace levqor::controld::queue::scripts
