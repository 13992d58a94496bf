#pragma once

// The Lua scripts of the Redis backend (redis_backend.h). Each runs
// atomically on the server. Key names are fixed under "levqor:"; the
// scripts touch keys they compute, so they need a single Redis server
// (not Cluster), like the rate limiter's.
namespace levqor::controld::queue::scripts {

// ARGV: now, idempotency key ('' for none), ttl_s, fingerprint, ids (comma
// separated), deliver ('1'/'0'), then id, type, payload per job.
// -> {'ok', added} or {'replay', '<fingerprint> <ids>'}
inline constexpr const char* kEnqueue = R"lua(
local now = ARGV[1]
if ARGV[2] ~= '' then
  local key = 'levqor:idem:' .. ARGV[2]
  local claimed = redis.call('SET', key, ARGV[4] .. ' ' .. ARGV[5], 'NX', 'EX', tonumber(ARGV[3]))
  if not claimed then return {'replay', redis.call('GET', key)} end
end
local added = 0
for i = 7, #ARGV, 3 do
  local id, jtype, payload = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  local key = 'levqor:job:' .. id
  if redis.call('EXISTS', key) == 0 then
    local sid, state = 'inline', 'running'
    if ARGV[6] == '1' then
      sid = redis.call('XADD', 'levqor:jobs', '*', 'id', id, 'type', jtype, 'payload', payload,
                       'attempt', '1', 'redeliveries', '0')
      state = 'queued'
    end
    redis.call('HSET', key, 'type', jtype, 'payload', payload, 'state', state, 'attempts', '0',
               'created_at', now, 'updated_at', now, 'run_at', now, 'sid', sid)
    added = added + 1
  end
end
return {'ok', tostring(added)}
)lua";

// ARGV: now, retention_s, then per completion: id, sid, kind (s, r, d, x),
// attempt, redeliveries, error, result, run_at. -> number of stale ones.
inline constexpr const char* kComplete = R"lua(
local now = ARGV[1]
local retention = tonumber(ARGV[2])
local acks = {}
local stale = 0
for i = 3, #ARGV, 8 do
  local id, sid, kind, attempt = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
  local key = 'levqor:job:' .. id
  if sid ~= 'inline' then acks[#acks + 1] = sid end
  if redis.call('HGET', key, 'sid') == sid then
    if kind == 's' then
      redis.call('HSET', key, 'state', 'succeeded', 'attempts', attempt, 'updated_at', now,
                 'finished_at', now, 'result', ARGV[i + 6], 'sid', '')
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

// ARGV: now, min idle ms (the visibility timeout), max redeliveries, limit.
// Deliveries idle that long are claimed (XAUTOCLAIM) and added to the
// stream again as new entries, or dead-lettered after max redeliveries.
// -> {reclaimed, dead}
inline constexpr const char* kReclaim = R"lua(
local now = ARGV[1]
local max_redeliveries = tonumber(ARGV[3])
local limit = tonumber(ARGV[4])
local cursor = '0-0'
local reclaimed, dead = 0, 0
local acks = {}
repeat
  local res = redis.call('XAUTOCLAIM', 'levqor:jobs', 'workers', 'levqor-reclaimer', ARGV[2],
                         cursor, 'COUNT', 100)
  cursor = res[1]
  for _, e in ipairs(res[2]) do
    local sid, fields = e[1], e[2]
    acks[#acks + 1] = sid
    if type(fields) == 'table' then
      local f = {}
      for j = 1, #fields, 2 do f[fields[j]] = fields[j + 1] end
      local key = 'levqor:job:' .. f['id']
      if redis.call('HGET', key, 'sid') == sid then
        local red = tonumber(f['redeliveries'] or '0') + 1
        if red >= max_redeliveries then
          redis.call('HSET', key, 'state', 'dead', 'updated_at', now, 'finished_at', now,
                     'last_error', 'delivered ' .. red .. ' times without completing ' ..
                     '(the visibility timeout ran out each time)', 'sid', '')
          redis.call('ZADD', 'levqor:dlq', now, f['id'])
          dead = dead + 1
        else
          local nsid = redis.call('XADD', 'levqor:jobs', '*', 'id', f['id'], 'type', f['type'],
                                  'payload', f['payload'], 'attempt', f['attempt'],
                                  'redeliveries', tostring(red))
          redis.call('HSET', key, 'sid', nsid, 'updated_at', now)
          reclaimed = reclaimed + 1
        end
      end
    end
  end
until cursor == '0-0' or #acks >= limit
if #acks > 0 then
  redis.call('XACK', 'levqor:jobs', 'workers', unpack(acks))
  redis.call('XDEL', 'levqor:jobs', unpack(acks))
end
return {reclaimed, dead}
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
