-- SPDX-License-Identifier: Apache-2.0
-- A token bucket in a lua_shared_dict, as teams write it with lua-nginx-module
-- (the comparison point of scripts/bench/ratelimit.sh). rate/burst per key.
local dict = ngx.shared.buckets
local rate, burst = 1000000, 1000000
local key = ngx.var.http_x_api_key or ngx.var.remote_addr
local now = ngx.now()
local tokens = dict:get(key .. ":t")
local stamp = dict:get(key .. ":s")
if tokens == nil then
    tokens, stamp = burst, now
end
tokens = math.min(burst, tokens + (now - stamp) * rate)
if tokens < 1 then
    return ngx.exit(429)
end
dict:set(key .. ":t", tokens - 1, 60)
dict:set(key .. ":s", now, 60)
