-- SPDX-License-Identifier: Apache-2.0
-- PROTOTYPE, not used by the module: the rate-limit script with buckets as fields of
-- time-generation hashes (docs/redis-deployments.md 3.4), for scripts/bench/redis_script.sh's
-- A/B only. KEYS: current and previous generation hash; ARGV: decisions, the argument
-- string as the module sends it, then one field name per bucket. Replies as the module's script.
local max, floor, call, tostring = math.max, math.floor, redis.call, tostring
local pack, unpack_s, unpack, rep = struct.pack, struct.unpack, unpack, string.rep
local t = call('TIME')
local now = t[1] * 1000000 + t[2]
local cur, prev, blob = KEYS[1], KEYS[2], ARGV[2]
local fields = ARGV
local gotc = call('HMGET', cur, unpack(ARGV, 3))
local miss, mi, gotp = {}, {}, {}
for i = 1, #ARGV - 2 do
  if not gotc[i] then miss[#miss + 1] = ARGV[i + 2]; mi[#mi + 1] = i end
end
if #miss > 0 then
  local g = call('HMGET', prev, unpack(miss))
  for j = 1, #miss do gotp[mi[j]] = g[j] end
end
local latest, order, w = {}, {}, 0
local out, fmt, before, new_tat, observe, adm, r = {}, {}, {}, {}, {}, {}, {}
local bit = {4, 8, 16, 32, 64, 128, 256, 512}
local k, pos = 0, 1
for d = 1, tonumber(ARGV[1]) do
  local n
  n, pos = unpack_s('B', blob, pos)
  local enforced_ok, observed_ok, flags = 1, 1, 0
  for i = 1, n do
    local iv, burst, cost, o
    iv, burst, cost, o, pos = unpack_s('<dddB', blob, pos)
    local key = fields[k + i + 2]
    local tat = latest[key]
    if not tat then
      local v = gotc[k + i] or gotp[k + i]
      tat = v and unpack_s('<d', v) or 0
    end
    for j = 1, i - 1 do
      if fields[k + j + 2] == key then tat = adm[j] and new_tat[j] or before[j] end
    end
    local nt = max(tat, now) + cost * iv
    local a = nt - now <= burst * iv
    before[i], new_tat[i], observe[i], adm[i] = tat, nt, o, a
    if a then flags = flags + bit[i] elseif o == 1 then observed_ok = 0 else enforced_ok = 0 end
  end
  r[1] = flags + enforced_ok + 2 * observed_ok
  for i = 1, n do
    if enforced_ok == 1 and (observed_ok == 1 or observe[i] ~= 1) then
      local key = fields[k + i + 2]
      if not latest[key] then w = w + 1; order[w] = key end
      latest[key] = new_tat[i]
    end
    local debt = before[i] - now
    r[i + 1] = debt > 0 and debt or 0
  end
  local f = fmt[n]
  if not f then f = '<H' .. rep('d', n); fmt[n] = f end
  out[d] = pack(f, unpack(r, 1, n + 1))
  k = k + n
end
if w > 0 then
  local hv = {}
  for i = 1, w do
    local key = order[i]
    hv[2 * i - 1], hv[2 * i] = key, pack('<d', latest[key])
  end
  call('HSET', cur, unpack(hv))
  call('PEXPIRE', cur, '130000')
end
return table.concat(out)
